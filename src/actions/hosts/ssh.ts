import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { Client, ClientChannel, SFTPWrapper, Stats } from 'ssh2';
import { editHosts } from './edit.ts';
import { hostKeyPolicy, judgeHostKey, type KnownHostKey, unknownHostReason } from './knownhosts.ts';
import { BACKUP_SUFFIX, padTo } from './localfile.ts';
import { type PushTarget, remoteCommand } from './target.ts';
import { type AttemptOutcome, NotWritten, PermanentTargetError, type TargetState, type WriteGate } from './types.ts';

export interface SshPushSettings {
  user: string;
  /** The private key itself: read once per run, never logged. */
  privateKey: Buffer;
  knownHosts: readonly KnownHostKey[];
  knownHostsFile: string;
  remotePath: string;
  names: readonly string[];
  address: string;
  after: readonly string[] | undefined;
  beforeWrite?: WriteGate;
  /**
   * Read the file and stop there (status, dry-run): the same connection rules, nothing written.
   * 'probe' (doctor): also create a file beside it and remove it again, which is what a push needs.
   */
  observeOnly?: boolean | 'probe';
}

type Ssh2 = typeof import('ssh2');
let ssh2Module: Promise<Ssh2> | undefined;

/**
 * ssh2 is loaded only when a push happens: the hook's start-up time is on the failover path.
 * In the CommonJS bundle (run from a vm.Script for its code cache) a dynamic import() has no
 * loader behind it on Node 20, so require() it there; under tsx (tests) it is an ES module.
 */
export function loadSsh2(): Promise<Ssh2> {
  ssh2Module ??=
    typeof require === 'function'
      ? Promise.resolve(require('ssh2') as Ssh2)
      : import('ssh2').then((mod) => ((mod as { default?: Ssh2 }).default ?? mod) as Ssh2);
  return ssh2Module;
}

// SFTP status codes (draft-ietf-secsh-filexfer-02): the ones that no retry will fix.
const SFTP_NO_SUCH_FILE = 2;
const SFTP_PERMISSION_DENIED = 3;
/** sftp-server's answer for every errno it has no code for: EBUSY and EXDEV (a rename onto a bind mount or across file systems) among them. */
const SFTP_FAILURE = 4;

/** The file can be overwritten but not replaced by rename there: the one case for writing it in place. */
class RenameImpossible extends Error {}

/**
 * One attempt at one target: connect (host key checked against known_hosts before anything is
 * sent), read its own hosts file over SFTP, apply the pure edit, and when it changed write it back
 * atomically and run `after`. Bounded by `timeoutMs` and the run's signal; the connection is
 * destroyed on either, which leaves the remote file old or new (see writeRemote).
 */
export async function pushOverSsh(
  target: PushTarget,
  settings: SshPushSettings,
  timeoutMs: number,
  signal: AbortSignal,
  state: TargetState = { afterOwed: false },
): Promise<AttemptOutcome> {
  const policy = hostKeyPolicy(settings.knownHosts, target.host, target.port);
  if (policy.keys.length === 0) throw new PermanentTargetError(unknownHostReason(policy.name, settings.knownHostsFile));
  const { Client } = await loadSsh2();
  const client: Client = new Client();
  let phase = 'connecting';
  let hostKeyRefusal: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      client.destroy();
      reject(new Error(`timed out after ${timeoutMs} ms while ${phase}`));
    }, timeoutMs);
    onAbort = () => {
      client.destroy();
      reject(new Error(`stopped at the run deadline while ${phase}`));
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  stop.catch(() => undefined);

  const work = async (): Promise<AttemptOutcome> => {
    await new Promise<void>((resolve, reject) => {
      client.once('ready', resolve);
      client.once('error', (err: Error & { level?: string }) => {
        if (hostKeyRefusal) return reject(new PermanentTargetError(hostKeyRefusal));
        if (err.level === 'client-authentication') {
          return reject(
            new PermanentTargetError(
              `${settings.user}@${policy.name} refused our key (authentication failed): add the public key of identityFile to that user's authorized_keys`,
            ),
          );
        }
        reject(new Error(`cannot connect: ${err.message}`));
      });
      client.connect({
        host: target.host,
        port: target.port,
        username: settings.user,
        privateKey: settings.privateKey,
        readyTimeout: timeoutMs,
        // Never trust on first use: the key must already be in knownHostsFile, or nothing is sent.
        hostVerifier: (key: Buffer) => {
          const verdict = judgeHostKey(policy, key, settings.knownHostsFile);
          if (!verdict.ok) hostKeyRefusal = verdict.reason;
          return verdict.ok;
        },
        algorithms: { serverHostKey: policy.algorithms as never },
        // Only the key we were given: no agent, no password, no keyboard-interactive.
        agent: undefined,
        tryKeyboard: false,
      });
      // No Nagle. Without ssh2's optional native crypto addon (an install may not build it), its
      // AES-GCM and chacha20 ciphers write every packet as several socket writes (length,
      // ciphertext, tag). Nagle holds back the last one until the server ACKs, and the server
      // delays that ACK by ~40 ms, so every SFTP round trip costs 40 ms and a push takes over a
      // second. Set before the socket connects: Node applies it once it does.
      client.setNoDelay(true);
    });
    phase = 'opening SFTP';
    const sftp = await new Promise<SFTPWrapper>((resolve, reject) =>
      client.sftp((err, s) => (err ? reject(err) : resolve(s))),
    );
    phase = `reading ${settings.remotePath}`;
    const pending = `${settings.remotePath}${AFTER_PENDING_SUFFIX}`;
    const afterOwed = settings.after
      ? sftpCall<Stats>((cb) => sftp.stat(pending, cb)).then(
          () => true,
          () => false,
        )
      : Promise.resolve(false);
    const [attrs, before] = await Promise.all([
      sftpCall<Stats>((cb) => sftp.stat(settings.remotePath, cb)),
      sftpCall<Buffer>((cb) => sftp.readFile(settings.remotePath, cb)),
    ]).catch((err: Error & { code?: number }) => {
      if (err.code === SFTP_NO_SUCH_FILE)
        throw new PermanentTargetError(
          `${settings.remotePath} does not exist there (create it, or set push.remotePath)`,
        );
      if (err.code === SFTP_PERMISSION_DENIED)
        throw new PermanentTargetError(`${settings.user} may not read ${settings.remotePath} there`);
      throw err;
    });
    // latin1 maps bytes to characters one to one: the file comes back byte for byte whatever its encoding.
    const oldText = before.toString('latin1');
    if (settings.observeOnly === 'probe') {
      phase = `creating a file beside ${settings.remotePath}`;
      const beside = `${settings.remotePath}.sentinel-hook.doctor-${randomBytes(4).toString('hex')}`;
      const handle = await sftpCall<Buffer>((cb) => sftp.open(beside, 'wx', { mode: 0o600 }, cb)).catch(
        (err: Error & { code?: number }) => {
          throw new PermanentTargetError(
            err.code === SFTP_PERMISSION_DENIED
              ? `${settings.user} may not create a file in ${posix.dirname(settings.remotePath)} there (a push writes a temp file beside ${settings.remotePath}, then renames it)`
              : `cannot create a file beside ${settings.remotePath}: ${err.message}`,
          );
        },
      );
      await sftpDone((cb) => sftp.close(handle, cb)).catch(() => undefined);
      phase = `removing ${beside}`;
      await sftpDone((cb) => sftp.unlink(beside, cb));
      return {
        status: 'unchanged',
        observed: oldText,
        note: `created and removed a file beside ${settings.remotePath}`,
      };
    }
    if (settings.observeOnly) return { status: 'unchanged', observed: oldText };
    const newText = editHosts(oldText, settings.names, settings.address);
    let markerProblem: string | undefined;
    const runAfter = async (after: readonly string[]) => {
      phase = 'running after';
      const code = await execRemote(client, remoteCommand(after));
      if (code !== 0) {
        const owedHow = markerProblem
          ? `no marker ${pending} (${markerProblem}): only a retry within this run knows it is owed`
          : 'a retry runs it again';
        throw new Error(`file changed, but "after" exited ${code} (${owedHow})`);
      }
      state.afterOwed = false;
      await sftpDone((cb) => sftp.unlink(pending, cb)).catch(() => undefined);
    };
    if (newText === oldText) {
      // Correct already, but this run (an earlier attempt) or an earlier run changed it and its
      // "after" failed or was killed: owe it still.
      if (settings.after && state.afterOwed && !(await afterOwed))
        markerProblem = 'it could not be created earlier in this run';
      if (settings.after && (state.afterOwed || (await afterOwed))) await runAfter(settings.after);
      return { status: 'unchanged' };
    }
    const refused = await settings.beforeWrite?.();
    if (refused) throw new NotWritten(`not written: ${refused}`);
    phase = `writing ${settings.remotePath}`;
    // "after" is owed from here on until it succeeds: in this run (a retry would find the file right
    // and skip it), and across runs through the marker. The marker's open goes out before any write
    // of the file, and sftp-server handles requests in order, so it exists before the file changes.
    if (settings.after) state.afterOwed = true;
    const marker = settings.after
      ? sftpCall<Buffer>((cb) => sftp.open(pending, 'w', { mode: 0o600 }, cb)).then(
          (h) => sftpDone((cb) => sftp.close(h, cb)).catch(() => undefined),
          (err: Error) => {
            markerProblem = `it could not be created: ${err.message}`;
          },
        )
      : undefined;
    const method = await writeRemote(sftp, settings.remotePath, before, Buffer.from(newText, 'latin1'), attrs);
    await marker;
    if (settings.after) await runAfter(settings.after);
    return { status: 'changed', method };
  };

  try {
    return await Promise.race([work(), stop]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
    client.end();
  }
}

function sftpCall<T>(start: (cb: (err: Error | undefined | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => start((err, value) => (err ? reject(err) : resolve(value))));
}

function sftpDone(start: (cb: (err: Error | undefined | null) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => start((err) => (err ? reject(err) : resolve())));
}

const CHUNK = 32 * 1024;

async function writeHandle(sftp: SFTPWrapper, handle: Buffer, data: Buffer): Promise<void> {
  // SFTP requests carry their own offset, so the chunks can all be in flight at once.
  const writes: Promise<void>[] = [];
  for (let offset = 0; offset < data.length; offset += CHUNK) {
    const length = Math.min(CHUNK, data.length - offset);
    writes.push(sftpDone((cb) => sftp.write(handle, data, offset, length, offset, cb)));
  }
  await Promise.all(writes);
}

async function fsyncHandle(sftp: SFTPWrapper, handle: Buffer): Promise<void> {
  try {
    await sftpDone((cb) => sftp.ext_openssh_fsync(handle, cb));
  } catch {
    // Servers without fsync@openssh.com: the rename is still atomic, only less durable across a power cut.
  }
}

/**
 * Replace the remote file so that it always holds the old or the new content: write a temp file
 * beside it, fsync, set the old mode (and owner, when we may), then posix-rename@openssh.com over
 * it — a plain SFTP rename refuses to overwrite. Where that is impossible (directory not writable,
 * owner not settable, a bind-mounted file) overwrite in place instead: the new bytes first (padded
 * to the old length when shorter), then the length, so the file is never empty nor new text plus
 * an old tail. Any other failure fails the attempt. The old content is kept as `<file>.sentinel-hook.bak`.
 */
async function writeRemote(
  sftp: SFTPWrapper,
  path: string,
  before: Buffer,
  after: Buffer,
  attrs: Stats,
): Promise<'rename' | 'in-place'> {
  const mode = attrs.mode & 0o7777;
  const dir = posix.dirname(path);
  const base = posix.basename(path);
  await removeStaleTemps(sftp, dir, base);
  await replaceViaTemp(sftp, `${path}${BACKUP_SUFFIX}`, before, mode, attrs).catch(() => undefined);
  const temp = posix.join(dir, `.${base}.sentinel-hook.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeTempFile(sftp, temp, after, mode, attrs);
    await sftpDone((cb) => sftp.ext_openssh_rename(temp, path, cb)).catch((err: Error & { code?: number }) => {
      // The temp file is complete, so a refused rename is the mount or the directory, not room:
      // EBUSY/EXDEV arrive as FAILURE, EPERM/EACCES as PERMISSION_DENIED. A server without
      // posix-rename cannot replace a file at all (ssh2 refuses before sending: no status code).
      if (
        err.code === SFTP_FAILURE ||
        err.code === SFTP_PERMISSION_DENIED ||
        (err.code === undefined && /does not support/.test(err.message))
      )
        throw new RenameImpossible(err.message);
      throw err;
    });
    return 'rename';
  } catch (err) {
    await sftpDone((cb) => sftp.unlink(temp, cb)).catch(() => undefined);
    // Anything else (no room for the temp file, a dropped connection, a timeout) is no reason to
    // overwrite the file in place: fail this attempt and leave the file as it was.
    if (!(err instanceof RenameImpossible)) throw err;
  }
  const handle = await sftpCall<Buffer>((cb) => sftp.open(path, 'r+', cb));
  try {
    // Shorter new content goes out padded to the old length first (see padTo in localfile.ts), and
    // is on disk before the cut: a kill in between leaves a valid file, not new text + old tail.
    const current = await sftpCall<Stats>((cb) => sftp.fstat(handle, cb));
    const padded = padTo(after, current.size ?? 0);
    await writeHandle(sftp, handle, padded);
    if (padded.length > after.length) {
      await fsyncHandle(sftp, handle);
      await sftpDone((cb) => sftp.fsetstat(handle, { size: after.length }, cb));
    }
    await fsyncHandle(sftp, handle);
  } finally {
    await sftpDone((cb) => sftp.close(handle, cb)).catch(() => undefined);
  }
  return 'in-place';
}

/** Beside the remote file while its "after" command is owed (see runAfter). */
export const AFTER_PENDING_SUFFIX = '.sentinel-hook.after-pending';

/** Older than any run can last (deadline at most 58 s), with room for clock skew between hosts. */
export const STALE_TEMP_S = 120;

/**
 * Temp files that a run killed mid-write (Sentinel's SIGKILL, a timeout) left beside the file.
 * Only ours, by name, and only old ones: a fresh one may belong to a run still writing.
 */
async function removeStaleTemps(sftp: SFTPWrapper, dir: string, base: string): Promise<void> {
  const entries = await sftpCall<{ filename: string; attrs: Stats }[]>((cb) => sftp.readdir(dir, cb)).catch(() => []);
  const ours = new RegExp(
    `^(?:\\.${escapeRegExp(base)}\\.sentinel-hook|${escapeRegExp(base)}\\.sentinel-hook\\.bak)\\.[0-9a-f]{8}\\.tmp$`,
  );
  const now = Date.now() / 1000;
  const stale = entries.filter((e) => ours.test(e.filename) && now - e.attrs.mtime > STALE_TEMP_S);
  await Promise.all(
    stale.map((e) => sftpDone((cb) => sftp.unlink(posix.join(dir, e.filename), cb)).catch(() => undefined)),
  );
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function replaceViaTemp(
  sftp: SFTPWrapper,
  path: string,
  data: Buffer,
  mode: number,
  attrs: Stats,
): Promise<void> {
  const temp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeTempFile(sftp, temp, data, mode, attrs);
    await sftpDone((cb) => sftp.ext_openssh_rename(temp, path, cb));
  } catch (err) {
    await sftpDone((cb) => sftp.unlink(temp, cb)).catch(() => undefined);
    throw err;
  }
}

async function writeTempFile(sftp: SFTPWrapper, temp: string, data: Buffer, mode: number, attrs: Stats): Promise<void> {
  // 'wx': O_EXCL, so a file planted under the temp name is never written through.
  const handle = await sftpCall<Buffer>((cb) => sftp.open(temp, 'wx', { mode: 0o600 }, cb)).catch(
    (err: Error & { code?: number }) => {
      // The directory is not ours to write: no temp file, so no rename; the file itself may be writable.
      throw err.code === SFTP_PERMISSION_DENIED ? new RenameImpossible(err.message) : err;
    },
  );
  try {
    await writeHandle(sftp, handle, data);
    const mine = await sftpCall<Stats>((cb) => sftp.fstat(handle, cb));
    if (mine.uid !== attrs.uid || mine.gid !== attrs.gid) {
      // Fails unless we are root there: then rename would change the owner, so fall back to in-place.
      await sftpDone((cb) => sftp.fsetstat(handle, { uid: attrs.uid, gid: attrs.gid }, cb)).catch(
        (err: Error & { code?: number }) => {
          throw err.code === SFTP_PERMISSION_DENIED ? new RenameImpossible(err.message) : err;
        },
      );
    }
    await sftpDone((cb) => sftp.fsetstat(handle, { mode }, cb));
    await fsyncHandle(sftp, handle);
  } finally {
    await sftpDone((cb) => sftp.close(handle, cb)).catch(() => undefined);
  }
}

function execRemote(client: Client, command: string): Promise<number> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err: Error | undefined, channel: ClientChannel) => {
      if (err) return reject(err);
      let code = -1;
      channel.on('exit', (c: number | null) => {
        code = c ?? -1;
      });
      channel.on('close', () => resolve(code));
      // Output is not needed; draining keeps the window open so the command can finish.
      channel.resume();
      channel.stderr.resume();
    });
  });
}
