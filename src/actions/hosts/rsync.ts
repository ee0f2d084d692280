import type { CommandResult, CommandRunner } from '../../runner.ts';
import { BACKUP_SUFFIX } from './localfile.ts';
import { type PushTarget, remoteCommand, rsyncDestination, shellQuote } from './target.ts';
import { type AttemptOutcome, NotWritten, PermanentTargetError, type TargetState, type WriteGate } from './types.ts';

export interface RsyncSettings {
  rsync: string;
  ssh: string;
  user: string;
  identityFile: string;
  knownHostsFile: string;
  /** The local file copied whole (seed 001's way). */
  file: string;
  remotePath: string;
  after: readonly string[] | undefined;
  beforeWrite?: WriteGate;
}

/**
 * The ssh command line rsync runs, as one string (rsync's -e takes a string and splits it on blanks).
 * Every path in it was validated as a plain absolute path without blanks or quotes. The host-key
 * rules are ours, not the user's ~/.ssh/config: only knownHostsFile is trusted, an unknown or changed
 * key fails, nothing prompts.
 */
export function sshOptions(
  s: Pick<RsyncSettings, 'identityFile' | 'knownHostsFile'>,
  port: number,
  connectTimeoutMs: number,
): string[] {
  return [
    '-F',
    '/dev/null',
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `UserKnownHostsFile=${s.knownHostsFile}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    `ConnectTimeout=${Math.max(1, Math.ceil(connectTimeoutMs / 1000))}`,
    '-i',
    s.identityFile,
    '-p',
    String(port),
  ];
}

export function rsyncArgv(s: RsyncSettings, target: PushTarget, timeoutMs: number): string[] {
  return [
    s.rsync,
    // --checksum: a target that already holds the file costs a read, not a copy.
    '--checksum',
    '--itemize-changes',
    '--backup',
    `--suffix=${BACKUP_SUFFIX}`,
    `--timeout=${Math.max(1, Math.ceil(timeoutMs / 1000))}`,
    '-e',
    [s.ssh, ...sshOptions(s, target.port, timeoutMs)].join(' '),
    '--',
    s.file,
    rsyncDestination(s.user, target, s.remotePath),
  ];
}

/** ssh running one remote shell command (see afterScript), with the same host-key rules as rsync's. */
export function afterArgv(s: RsyncSettings, target: PushTarget, timeoutMs: number, command: string): string[] {
  return [s.ssh, ...sshOptions(s, target.port, timeoutMs), '--', `${s.user}@${target.host}`, command];
}

/** Beside the remote file: the checksum (`cksum`) of the content that `after` last succeeded for. */
export const AFTER_DONE_SUFFIX = '.sentinel-hook.after-done';

/**
 * The remote shell command that runs `after`. What is owed is read off the target itself, so that a
 * run killed between the copy and this second connection loses nothing: rsync's backup
 * (`<remotePath>.sentinel-hook.bak`, made by the copy that changed the file) says we changed it once,
 * and `<remotePath>.sentinel-hook.after-done` holds the checksum of the content `after` last succeeded
 * for. `after` runs when the file changed in this run (`owed`, which also covers a file rsync created)
 * or when there is a backup and the file's checksum is not the one recorded; on success the
 * checksum is recorded. The exit status is `after`'s.
 */
export function afterScript(s: Pick<RsyncSettings, 'remotePath'>, after: readonly string[], owed: boolean): string {
  const file = shellQuote(s.remotePath);
  const done = shellQuote(`${s.remotePath}${AFTER_DONE_SUFFIX}`);
  const backup = shellQuote(`${s.remotePath}${BACKUP_SUFFIX}`);
  // A subshell for the record: a failed redirection would end a POSIX shell; a record that cannot
  // be written only means `after` runs again next time.
  const runAndRecord = `${remoteCommand(after)} || exit; (umask 022; printf '%s\\n' "$sum" > ${done}) 2>/dev/null; exit 0`;
  const due = owed ? 'true' : `[ -e ${backup} ] && [ "$sum" != "$(cat ${done} 2>/dev/null)" ]`;
  return `sum=$(cksum < ${file}) || exit 1; if ${due}; then ${runAndRecord}; fi`;
}

/** ssh's own words for a refused host key: no retry in this run will change them. */
function hostKeyFailure(stderr: string): string | undefined {
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/.test(stderr)) return 'host key CHANGED';
  if (/No \S+ host key is known|Host key verification failed/.test(stderr)) return 'host key unknown or changed';
  return undefined;
}

export async function pushOverRsync(
  runner: CommandRunner,
  target: PushTarget,
  s: RsyncSettings,
  timeoutMs: number,
  signal: AbortSignal,
  state: TargetState = { afterOwed: false },
): Promise<AttemptOutcome> {
  const refused = await s.beforeWrite?.();
  if (refused) throw new NotWritten(`not sent: ${refused}`);
  const result = await runner.run(rsyncArgv(s, target, timeoutMs), { timeoutMs, signal });
  if (result.exitCode !== 0) throw classify('rsync', result, s.knownHostsFile, timeoutMs);
  // Itemized "<f…" means the file was sent; nothing itemized means it was already identical.
  const changed = /^[<>]f/m.test(result.stdout);
  const outcome: AttemptOutcome = changed ? { status: 'changed', method: 'rename' } : { status: 'unchanged' };
  if (!s.after) return outcome;
  // Owed from the change until it succeeds: a retry in this run finds the file identical and must
  // run it all the same; the target's own record carries it to the next run (see afterScript). With
  // `after` set, a target already right costs this second connection too (to read that record).
  if (changed) state.afterOwed = true;
  const owed = state.afterOwed;
  const r = await runner.run(afterArgv(s, target, timeoutMs, afterScript(s, s.after, owed)), { timeoutMs, signal });
  if (r.exitCode !== 0) {
    const what = r.exitCode === undefined ? 'did not finish' : `exited ${r.exitCode}`;
    throw new Error(
      owed
        ? `file changed, but "after" ${what} (owed: a retry runs it again)`
        : `"after" owed by an earlier run's change ${what} (a retry runs it again)`,
    );
  }
  state.afterOwed = false;
  return outcome;
}

function classify(program: string, r: CommandResult, knownHostsFile: string, timeoutMs: number): Error {
  if (r.spawnError) return new PermanentTargetError(`${program} could not start (${r.spawnError}); install it`);
  if (r.timedOut) return new Error(`${program} timed out after ${timeoutMs} ms`);
  const hostKey = hostKeyFailure(r.stderr);
  if (hostKey)
    return new PermanentTargetError(
      `${hostKey} (checked against ${knownHostsFile}); refused, nothing written — verify the server's key out of band and fix that file`,
    );
  if (/Permission denied \(publickey/.test(r.stderr))
    return new PermanentTargetError(
      'authentication failed: add the public key of identityFile to authorized_keys there',
    );
  const last = r.stderr.trim().split('\n').at(-1) ?? '';
  return new Error(`${program} exited ${r.exitCode ?? r.signal}${last ? `: ${last}` : ''}`);
}
