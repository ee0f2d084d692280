import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname } from 'node:path';
import * as z from 'zod/mini';
import { about, duration, lazySchema, privilege, when } from '../../config/common.ts';
import { ConfigError, errorLine, errorOf } from '../../errors.ts';
import { failure } from '../../failures.ts';
import { isAbsolutePath, isHostname } from '../../values.ts';
import type { ActionPlugin, StatusPart } from '../plugin.ts';
import { editHosts, lookupHosts } from './edit.ts';
import { resolveHostsFile } from './localfile.ts';
import type { TargetObservation } from './observe.ts';
import { helperPath, helperRuns, hostsWrite, hostsWriteArgv } from './privileged.ts';
import { targetResults, targetTable } from './table.ts';
import { parsePushTarget } from './target.ts';
import type { HostsWork, LocalFileState, PrivilegedWrite } from './types.ts';

/**
 * Paths reach ssh's and rsync's command lines (rsync's -e is a string it splits on blanks, and a
 * ':' in rsync's source makes it a remote spec): plain characters only.
 */
const plainPath = lazySchema(() =>
  z.string().check(
    // No '%' either: ssh expands %d, %u, %h … in -i and UserKnownHostsFile.
    z.regex(
      /^\/[A-Za-z0-9._@+=,/-]*$/,
      'expected an absolute path of letters, digits and . _ @ + = , / - (no blanks, quotes, colons or %)',
    ),
    z.refine(isAbsolutePath, 'expected an absolute path without ".."'),
  ),
);

const hostName = lazySchema(() =>
  z
    .string()
    .check(z.refine((n) => isHostname(n) && !n.endsWith('.'), 'expected a host name such as redis-master.example.com')),
);

const pushTarget = lazySchema(() =>
  z
    .string()
    .check(
      z.refine(
        (t) => parsePushTarget(t) !== undefined,
        'expected host, host:port, IPv6 or [IPv6]:port (a host name or IP address, port 1-65535)',
      ),
    ),
);

const pushSchema = lazySchema(() =>
  z.strictObject({
    targets: about(
      'the app servers: host, host:port or [IPv6]:port',
      z.array(pushTarget()).check(
        z.minLength(1, 'expected at least one target'),
        z.refine((t) => new Set(t).size === t.length, 'a target is listed twice'),
      ),
    ),
    user: about(
      'the login on every target',
      z
        .string()
        .check(
          z.regex(
            /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/,
            'expected a login name (letters, digits, _ . -; not starting with - or a digit)',
          ),
        ),
    ),
    identityFile: about(
      'the private key, unencrypted: nobody is there to type a passphrase during a failover',
      plainPath().clone(),
    ),
    knownHostsFile: about(
      'the only host keys trusted (hashed entries are fine); an unknown or changed key is refused',
      plainPath().clone(),
    ),
    remotePath: about('the file edited on each target', z._default(plainPath(), '/etc/hosts')),
    transport: about(
      "ssh: edit each target's own file (it keeps its own entries); rsync: copy `file` whole",
      z._default(z.enum(['ssh', 'rsync']), 'ssh'),
    ),
    concurrency: about(
      'targets worked on at once',
      z._default(z.int().check(z.gte(1, 'expected at least 1'), z.lte(256, 'expected at most 256')), 16),
    ),
    timeout: about('per target and attempt', z._default(duration({ min: 100, max: 58_000 }), 5000)),
    retries: about(
      "further attempts per target, within the run's deadline",
      z._default(z.int().check(z.gte(0, 'expected 0 or more'), z.lte(10, 'expected at most 10')), 2),
    ),
    after: about(
      'argv run on a target after its file changed (e.g. flush nscd): the program as an absolute path (the remote ' +
        'PATH is unknown), each argument quoted for the remote shell',
      z.optional(
        z.tuple([plainPath()], z.string().check(z.refine((s) => !s.includes('\0'), 'NUL byte in an argument'))),
      ),
    ),
  }),
);

export const hostsSchema = lazySchema(() =>
  z
    .strictObject({
      type: z.literal('hosts'),
      names: about(
        'the names that must point at the current master',
        z.array(hostName()).check(
          z.minLength(1, 'expected at least one name'),
          z.refine((n) => new Set(n.map((x) => x.toLowerCase())).size === n.length, 'a name is listed twice'),
        ),
      ),
      file: about(
        "this host's own hosts file, rewritten too (and what transport rsync copies whole)",
        z.optional(plainPath()),
      ),
      privilege: about(
        "how `file` is written: none, as the hook's own user (the file's mode must let it); sudo, as root through " +
          "`sudo -n` and the install's sentinel-hook-hosts-write, which writes only these names in this file",
        z._default(z.enum(privilege().options, { error: 'expected "sudo" or "none"' }), 'none'),
      ),
      push: about('the app servers whose hosts file is edited too, over SSH', z.optional(pushSchema())),
      when: when(),
    })
    .check(
      z.superRefine((a, ctx) => {
        if (!a.file && !a.push)
          ctx.issues.push({
            code: 'custom',
            input: a,
            message: 'nothing to do: set "file" (this host) or "push" (app servers), or both',
            path: ['file'],
          });
        if (a.privilege === 'sudo' && !a.file)
          ctx.issues.push({
            code: 'custom',
            input: a,
            message: 'privilege applies to "file" (this host): set "file", or leave privilege out',
            path: ['privilege'],
          });
        if (a.push?.transport === 'rsync' && !a.file) {
          ctx.issues.push({
            code: 'custom',
            input: a,
            message: 'transport rsync copies "file" whole: set "file" too, or use transport ssh',
            path: ['push', 'transport'],
          });
        }
      }),
    ),
);
export type HostsAction = z.output<ReturnType<typeof hostsSchema>>;

/** What the local file would become; computed at plan time for dry-run, again at apply time. */
type LocalState = { kind: 'change' } | { kind: 'same' } | { kind: 'unreadable'; reason: string };

function describeLocal(local: LocalState): LocalFileState {
  return local.kind === 'unreadable'
    ? `unreadable (${local.reason})`
    : local.kind === 'same'
      ? 'already correct'
      : 'will change';
}

/**
 * What a run of this action does, as data (see HostsWork). `local`: the local file's state when the
 * caller has read it already. The programs rsync runs are looked up now, as the run would.
 */
export function hostsWork(
  a: HostsAction,
  address: string,
  which: (program: string) => string | undefined,
  local?: LocalState,
): HostsWork {
  const push = a.push;
  const file = a.file;
  const privileged = file && a.privilege === 'sudo' ? privilegedWrite(file, a.names, which) : undefined;
  return {
    names: a.names,
    address,
    ...(file
      ? {
          local: {
            file,
            state: describeLocal(local ?? localState(readLocal(file), a.names, address)),
            ...(privileged ? { privileged } : {}),
          },
        }
      : {}),
    ...(push
      ? {
          push: {
            transport: push.transport,
            user: push.user,
            identityFile: push.identityFile,
            knownHostsFile: push.knownHostsFile,
            ...(push.transport === 'rsync'
              ? { source: file!, programs: { rsync: which('rsync') ?? null, ssh: which('ssh') ?? null } }
              : {}),
            ...(push.after ? { after: push.after } : {}),
            concurrency: push.concurrency,
            timeoutMs: push.timeout,
            retries: push.retries,
            targets: push.targets.map((t) => ({
              ...parsePushTarget(t)!,
              transport: push.transport,
              remotePath: push.remotePath,
            })),
          },
        }
      : {}),
  };
}

/** `sudo -n` and the install's helper, as a run starts them; what is missing otherwise. */
function privilegedWrite(
  file: string,
  names: readonly string[],
  which: (program: string) => string | undefined,
): PrivilegedWrite {
  const sudo = which('sudo');
  if (!sudo) return { missing: 'sudo not found in the system directories (install sudo)' };
  const helper = helperPath();
  if (!helper)
    return {
      missing: 'cannot find bin/sentinel-hook-hosts-write: run sentinel-hook as <install>/bin/sentinel-hook.cjs',
    };
  return { argv: [sudo, '-n', ...hostsWriteArgv(helper, file, names)] };
}

/**
 * Why this process could not write `file` itself (privilege: none), if it could not: neither the
 * file nor its directory (a rename replaces it there) lets it. Unreadable or missing files are
 * reported as such elsewhere.
 */
function notWritable(file: string): string | undefined {
  let real: string;
  try {
    real = resolveHostsFile(file);
  } catch {
    return undefined;
  }
  const may = (path: string, mode: number) => {
    try {
      accessSync(path, mode);
      return true;
    } catch {
      return false;
    }
  };
  if (may(real, constants.W_OK)) return undefined;
  const dir = dirname(real);
  const uid = process.getuid?.() ?? 0;
  // In a sticky directory (/tmp) only the file's or the directory's owner may rename over the file.
  const dirStat = statSync(dir);
  const sticky = (dirStat.mode & 0o1000) !== 0 && dirStat.uid !== uid && statSync(real).uid !== uid;
  if (may(dir, constants.W_OK | constants.X_OK) && !sticky) return undefined;
  let user = `uid ${uid}`;
  try {
    user = `${userInfo().username} (uid ${uid})`;
  } catch {
    // no passwd entry: the uid alone
  }
  return (
    `${file} is not writable by ${user}, so the run will fail on it (EACCES): set privilege: sudo on this action and install ` +
    `the rules of "sentinel-hook sudoers", or let that user write the file`
  );
}

/** The local file as this process can read it now. */
type LocalText = { file: string; text: string } | { file: string; unreadable: string };

function readLocal(file: string): LocalText {
  try {
    // An unsafe symlink is a config problem: refused here, before anything runs (exit 2).
    return { file, text: readFileSync(resolveHostsFile(file), 'latin1') };
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    return { file, unreadable: (err as NodeJS.ErrnoException).code ?? (err as Error).message };
  }
}

function localState(local: LocalText, names: readonly string[], address: string): LocalState {
  if ('unreadable' in local) return { kind: 'unreadable', reason: local.unreadable };
  return editHosts(local.text, names, address) === local.text ? { kind: 'same' } : { kind: 'change' };
}

/**
 * What the names point at: in this host's file (read as a run reads it). The push's targets are read
 * in the same SSH session that writes them, on a real run: no extra round trip on the failover path.
 */
export interface HostsObservation {
  local?: LocalText;
  /** With scope.remote: each push target's file. */
  remote?: TargetObservation[];
}

export const hostsAction: ActionPlugin<HostsAction, HostsObservation> = {
  type: 'hosts',
  get schema() {
    return hostsSchema();
  },
  convergent: true,
  runsWithSudo: (a) => a.privilege === 'sudo',
  claims(a) {
    // A name is owned per file it is written in: one name in two files is two entries, which may point
    // at different masters (a file per application). Names are case-insensitive, as the resolver reads them.
    const names = a.names.map((n) => n.toLowerCase());
    const local = a.file ? names.map((n) => `hosts name ${n} in ${a.file}`) : [];
    const push = a.push;
    if (!push) return local;
    const remote = push.targets.flatMap((text) => {
      const t = parsePushTarget(text)!;
      const where = `${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`;
      return names.map((n) => `hosts name ${n} in ${push.remotePath} on ${where}`);
    });
    return [...local, ...remote];
  },
  async observe(a, host, scope) {
    const local = a.file ? { local: readLocal(a.file) } : {};
    if (!scope.remote || !a.push) return local;
    // ssh2 and the key files load only when asked to look at the targets.
    return { ...local, remote: await (await import('./observe.ts')).observeTargets(a, host.signal) };
  },
  describe(a, o) {
    const lines: string[] = [];
    const pointsAt = (text: string) =>
      a.names.map((name) => `${name} -> ${lookupHosts(text, name).join(', ') || '(not listed)'}`).join(', ');
    if (o.local)
      lines.push(
        'unreadable' in o.local
          ? `${o.local.file}: unreadable (${o.local.unreadable})`
          : `${o.local.file}: ${pointsAt(o.local.text)}`,
      );
    for (const t of o.remote ?? [])
      lines.push(
        'unknown' in t
          ? `${t.target}: cannot tell (${t.unknown})`
          : `${t.target}: ${a.names.map((n) => `${n} -> ${t.names[n]?.join(', ') || '(not listed)'}`).join(', ')}`,
      );
    return lines;
  },
  status(a, desired, o) {
    const address = desired.target?.addresses[0];
    const parts: StatusPart[] = [];
    const pointsAt = (names: Record<string, string[]>) =>
      a.names.map((n) => `${n} -> ${names[n]?.join(', ') || '(not listed)'}`).join(', ');
    if (o.local) {
      const file = o.local.file;
      if ('unreadable' in o.local)
        parts.push({ what: file, state: 'unknown', seen: `unreadable (${o.local.unreadable})` });
      else {
        const text = o.local.text;
        const seen = pointsAt(Object.fromEntries(a.names.map((n) => [n, lookupHosts(text, n)])));
        const state = !address
          ? 'unknown'
          : localState(o.local, a.names, address).kind === 'same'
            ? 'consistent'
            : 'inconsistent';
        parts.push({ what: file, state, seen });
      }
    }
    for (const t of o.remote ?? [])
      parts.push(
        'unknown' in t
          ? { what: `${t.target}`, state: 'unknown', seen: `${a.push!.remotePath}: cannot tell (${t.unknown})` }
          : {
              what: `${t.target}`,
              // Exactly the master's address: a second line for a name is one a client may pick.
              state:
                address && a.names.every((n) => t.names[n]?.length === 1 && t.names[n]![0] === address)
                  ? 'consistent'
                  : 'inconsistent',
              seen: `${a.push!.remotePath}: ${pointsAt(t.names)}`,
            },
      );
    return parts;
  },
  async doctor(a, host) {
    if (!a.push) return [];
    return (await import('./doctor.ts')).pushChecks(a, host);
  },
  // bin/sentinel-hook-hosts-write starts it, as root, for privilege: sudo (see privileged.ts).
  helpers: { 'hosts-write': hostsWrite },
  resultLines(detail) {
    const targets = targetResults(detail);
    return targets && targetTable(targets);
  },
  async sandbox(a, host, where) {
    // transport ssh runs in-process (ssh2); rsync starts rsync, which starts ssh.
    const programs: string[] = [];
    if (a.push?.transport === 'rsync') {
      for (const name of ['rsync', 'ssh']) {
        const path = host.which(name);
        if (!path)
          throw errorOf(
            failure('setup-program-missing', {
              program: name,
              install: name === 'ssh' ? 'openssh-client' : 'rsync',
            }).within(where),
          );
        programs.push(path);
      }
    }
    const privileged = a.file && a.privilege === 'sudo';
    if (privileged) {
      const sudo = host.which('sudo');
      if (!sudo) throw errorOf(failure('setup-program-missing', { program: 'sudo', install: 'sudo' }).within(where));
      const helper = helperPath();
      if (!helper) throw errorOf(failure('helper-missing', {}).within(where));
      // The helper is a shell script that starts node through env (see bin/sentinel-hook-hosts-write).
      programs.push(sudo, helper, '/usr/bin/env');
    }
    return {
      programs,
      addressFamilies: [],
      capabilities: [],
      // ProtectSystem=strict: even root (through sudo) writes only what ReadWritePaths lists.
      writablePaths: a.file ? [a.file] : [],
      needsSudo: Boolean(privileged),
      ...(a.file && !privileged
        ? {
            notes: [
              `${a.file} is written as the service's user: the file's own mode must let that user write it (or set privilege: sudo)`,
            ],
          }
        : {}),
    };
  },
  async privilegedCommands(a, _host, where) {
    if (!a.file || a.privilege !== 'sudo') return { lines: [] };
    const helper = helperPath();
    if (!helper) throw errorOf(failure('helper-missing', { command: 'sudoers' }).within(where));
    return { lines: [hostsWriteArgv(helper, a.file, a.names)], rootOnly: helperRuns(helper) };
  },
  summarize(a) {
    const where = [
      a.file ? `${a.file} here` : '',
      a.push
        ? `${a.push.remotePath} on ${a.push.targets.length} target(s) over ${a.push.transport} as ${a.push.user}`
        : '',
    ]
      .filter(Boolean)
      .join(' and ');
    return `point ${a.names.join(', ')} at the new master in ${where}`;
  },
  async preflight(a) {
    const problems: string[] = [];
    if (a.file) {
      try {
        const local = localState(readLocal(a.file), a.names, '127.0.0.1');
        // Under privilege: sudo the helper reads it as root: only a missing file is a problem then.
        if (local.kind === 'unreadable' && (a.privilege === 'none' || local.reason !== 'EACCES'))
          problems.push(`${a.file} unreadable (${local.reason})`);
        else if (a.privilege === 'none') {
          const why = notWritable(a.file);
          if (why) problems.push(why);
        }
      } catch (err) {
        problems.push(errorLine(err));
      }
    }
    if (a.push) {
      const targets = a.push.targets.map((t) => parsePushTarget(t)!);
      await (await import('./credentials.ts'))
        .checkPushCredentials(a.push, targets)
        .catch((err: unknown) => problems.push(errorLine(err)));
    }
    return problems;
  },
  async plan(a, desired, observed, ctx) {
    // A name cannot point at nobody: what it names stays until a master is known again.
    if (!desired.target)
      return { action: 'hosts', note: 'no master to point the names at: left as they are', steps: [] };
    // Under announce-hostnames the to-ip is a name; a hosts file needs the address it resolves to.
    const address = desired.target.addresses[0]!;
    const local = observed.local ? localState(observed.local, a.names, address) : undefined;
    if (!a.push && local?.kind === 'same')
      return { action: 'hosts', note: `${a.file} already points ${a.names.join(', ')} at ${address}`, steps: [] };
    const work = hostsWork(a, address, ctx.which, local);
    // A dry-run refuses what no retry can fix now (exit 2). A real run finds it when the push step
    // runs: the actions before it (the VIP) must not wait for, or be stopped by, a push problem.
    if (work.push && ctx.showOnly)
      await (await import('./credentials.ts')).checkPushCredentials(work.push, work.push.targets);
    const parts = [
      a.file && local?.kind !== 'same' ? a.file : '',
      work.push ? `${work.push.targets.length} target(s) over ${work.push.transport}` : '',
    ].filter(Boolean);
    // The text dry-run shows warnings, not step details: a file the run will fail on must be seen there.
    const warnings = [
      ...(local?.kind === 'unreadable' && (a.privilege === 'none' || local.reason !== 'EACCES')
        ? [`${a.file} unreadable (${local.reason}): the run will fail on it`]
        : a.file && a.privilege === 'none' && local?.kind === 'change' && notWritable(a.file)
          ? [notWritable(a.file)!]
          : []),
      // Observed for a dry-run: a target that cannot be read now is one the push will fail on as things stand.
      ...(observed.remote ?? []).flatMap((t) =>
        'unknown' in t ? [`target ${t.target}: cannot read ${a.push!.remotePath} now (${t.unknown})`] : [],
      ),
    ];
    const remoteNow = observed.remote?.flatMap((t) => ('names' in t ? [{ target: t.target, names: t.names }] : []));
    return {
      action: 'hosts',
      ...(warnings.length ? { warnings } : {}),
      steps: [
        {
          kind: 'task',
          description: `point ${a.names.join(', ')} at ${address} in ${parts.join(' and ')}`,
          // Everything the run does, as data: what a dry-run shows is what runHosts acts on (and, for a
          // dry-run, what each target's file says now).
          detail: remoteNow ? { ...work, targetsNow: remoteNow } : work,
          // The push machinery (ssh2, fs writes) loads only when a run really applies this step.
          run: async (apply) => (await import('./run.ts')).runHosts(work, apply),
        },
      ],
    };
  },
};
