// What Sentinel's own unit would do to the hook it starts, read from the unit files (no systemctl: it
// needs a running systemd and D-Bus) and, when readable, from the running Sentinel's /proc status.
import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { SandboxNeeds } from '../actions/plugin.ts';

/** systemd's system unit directories, highest precedence first. */
export const UNIT_DIRS = [
  '/etc/systemd/system',
  '/run/systemd/system',
  '/usr/lib/systemd/system',
  '/lib/systemd/system',
];
export const SENTINEL_UNITS = ['redis-sentinel.service', 'sentinel.service'];

export interface UnitSettings {
  /** The unit file and its drop-ins, in the order systemd applies them. */
  files: string[];
  /** [Service] settings: every assignment, an empty one clearing what came before (as systemd does for lists). */
  service: Map<string, string[]>;
}

/** Where the file really is: NoExecPaths applies to the mount the inode lives on (/bin/sh is dash in /usr/bin). */
export function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The unit's file (the first directory that has it wins) and its drop-ins from every directory, by file name. */
export function readUnit(name: string, dirs: readonly string[] = UNIT_DIRS): UnitSettings | undefined {
  const main = dirs.map((d) => join(d, name)).find((p) => readText(p) !== undefined);
  if (!main) return undefined;
  const dropIns = new Map<string, string>();
  for (const dir of [...dirs].reverse()) {
    let names: string[] = [];
    try {
      names = readdirSync(join(dir, `${name}.d`)).filter((n) => n.endsWith('.conf'));
    } catch {
      // no drop-in directory here
    }
    // A drop-in of the same name in a directory of higher precedence replaces this one.
    for (const n of names) dropIns.set(n, join(dir, `${name}.d`, n));
  }
  const files = [main, ...[...dropIns.keys()].sort().map((n) => dropIns.get(n)!)];
  const service = new Map<string, string[]>();
  for (const file of files) {
    let section = '';
    for (const raw of (readText(file) ?? '').split('\n')) {
      const line = raw.trim();
      if (!line || line.startsWith('#') || line.startsWith(';')) continue;
      if (line.startsWith('[')) {
        section = line;
        continue;
      }
      const eq = line.indexOf('=');
      if (section !== '[Service]' || eq < 0) continue;
      const key = line.slice(0, eq).trim();
      const value = line.slice(eq + 1).trim();
      service.set(key, value === '' ? [] : [...(service.get(key) ?? []), value]);
    }
  }
  return { files, service };
}

function last(s: UnitSettings, key: string): string | undefined {
  return s.service.get(key)?.at(-1);
}

function isTrue(value: string | undefined): boolean {
  return value !== undefined && /^(1|yes|true|on)$/i.test(value);
}

/** Every word of a list setting, "-" and "+" prefixes dropped. */
function words(s: UnitSettings, key: string): string[] {
  return (s.service.get(key) ?? [])
    .flatMap((v) => v.split(/\s+/))
    .filter(Boolean)
    .map((w) => w.replace(/^[-+]+/, ''));
}

function under(path: string, dirs: readonly string[]): boolean {
  return dirs.some((d) => d === '/' || path === d || path.startsWith(`${d.replace(/\/$/, '')}/`));
}

export interface HookSetup {
  /** The install directory (hooks/client-reconfig is executed from it) and node, when known. */
  installDir?: string;
  node?: string;
  /** What hooks/client-reconfig itself runs: sh and readlink. */
  programs?: string[];
  /** Paths the hook writes: log directory, lock directory, local hosts files. */
  writable: string[];
}

/** The names under which systemd 252's tables (systemd-analyze syscall-filter) hold pkey_alloc: not @system-service. */
const PKEY_ALLOC = ['pkey_alloc', '@pkey', '@known'];

/**
 * The filter (as its first assignment) when it would kill node at start, else undefined: node calls
 * pkey_alloc, and a filter that does not allow it kills the process unless SystemCallErrorNumber (or the
 * entry's own ":errno") names an errno. The first assignment makes an allow-list (or, with "~", a
 * deny-list); each later one adds to it or ("~") takes from it, so the last one naming pkey_alloc (or a
 * group holding it) decides. An empty assignment has reset the list already (readUnit).
 */
function killsNode(s: UnitSettings): string | undefined {
  const filter = s.service.get('SystemCallFilter') ?? [];
  if (!filter.length) return undefined;
  let allowed = filter[0]!.startsWith('~');
  let action: string | undefined;
  for (const value of filter) {
    const deny = value.startsWith('~');
    for (const word of value.replace(/^~/, '').split(/\s+/)) {
      // A deny-list entry may carry its own action (name:EPERM, name:kill), ahead of SystemCallErrorNumber.
      const [name, own] = word.split(':');
      if (!PKEY_ALLOC.includes(name!)) continue;
      allowed = !deny;
      action = deny ? own : undefined;
    }
  }
  if (allowed) return undefined;
  // Unset, empty (reset) or "kill": the process is killed.
  const verdict = action ?? last(s, 'SystemCallErrorNumber');
  return verdict === undefined || verdict === 'kill' ? `SystemCallFilter=${filter[0]}` : undefined;
}

/**
 * Why the hook could not run under these settings: one short reason per setting, empty when it could.
 * Of the system call filter only node's first need is judged: pkey_alloc, which systemd 252's
 * @system-service lacks. The rest would need systemd's group tables; with SystemCallErrorNumber set, a
 * call outside the filter fails (node copes) rather than killing the hook.
 */
export function hookBlockers(s: UnitSettings, needs: Required<SandboxNeeds>, setup: HookSetup): string[] {
  const reasons: string[] = [];
  const noExec = words(s, 'NoExecPaths');
  if (noExec.length) {
    const exec = words(s, 'ExecPaths');
    const wanted = [setup.installDir, setup.node, ...(setup.programs ?? []), ...needs.programs]
      .filter((p): p is string => p !== undefined)
      .map(realPath);
    const blocked = wanted.filter((p) => under(p, noExec) && !under(p, exec));
    if (blocked.length) reasons.push(`NoExecPaths=${noExec.join(' ')} without ${blocked.join(' ')} in ExecPaths`);
  }
  const jitless = (s.service.get('Environment') ?? []).some((e) => /(^|\s)"?SENTINEL_HOOK_JITLESS=1/.test(e));
  if (isTrue(last(s, 'MemoryDenyWriteExecute')) && !jitless) reasons.push('MemoryDenyWriteExecute=true (node aborts)');
  if (needs.needsSudo && isTrue(last(s, 'NoNewPrivileges'))) reasons.push('NoNewPrivileges=true with sudo actions');
  const filter = killsNode(s);
  if (filter)
    reasons.push(
      `${filter} without SystemCallErrorNumber=EPERM (node is killed by SIGSYS at start: it calls pkey_alloc)`,
    );
  const families = s.service.get('RestrictAddressFamilies');
  if (families?.length) {
    const allowed = words(s, 'RestrictAddressFamilies');
    const missing = allowed[0]?.startsWith('~') ? [] : needs.addressFamilies.filter((f) => !allowed.includes(f));
    if (missing.length) reasons.push(`RestrictAddressFamilies without ${missing.join(' ')}`);
  }
  if (needs.capabilities.length) {
    const ambient = words(s, 'AmbientCapabilities');
    const missing = needs.capabilities.filter((c) => !ambient.includes(c));
    if (missing.length && !needs.needsSudo) reasons.push(`no ${missing.join(' ')} in AmbientCapabilities`);
    if (isTrue(last(s, 'PrivateUsers'))) reasons.push('PrivateUsers=true (capabilities do not reach the network)');
  }
  if (/^(strict|full|true|yes)$/i.test(last(s, 'ProtectSystem') ?? '')) {
    const rw = [...words(s, 'ReadWritePaths'), ...words(s, 'ReadWriteDirectories')];
    const strict = /^strict$/i.test(last(s, 'ProtectSystem') ?? '');
    // full/true make only /usr, /boot, /efi (and /etc for full) read-only.
    const readOnly = (p: string) =>
      strict || under(p, ['/usr', '/boot', '/efi', ...(/^full$/i.test(last(s, 'ProtectSystem')!) ? ['/etc'] : [])]);
    const blocked = setup.writable.filter((p) => readOnly(p) && !under(p, rw));
    if (blocked.length)
      reasons.push(`ProtectSystem=${last(s, 'ProtectSystem')} without ${blocked.join(' ')} in ReadWritePaths`);
  }
  return reasons;
}

/** A running Sentinel as /proc shows it. */
export interface RunningSentinel {
  pid: number;
  uid: number;
  noNewPrivs: boolean;
  capEff: bigint;
  seccomp: number;
  /** Its environment, when readable (root): what the hook it starts inherits, exactly. */
  env?: Record<string, string>;
}

function netns(proc: string, pid: string): string | undefined {
  try {
    return readlinkSync(join(proc, pid, 'ns', 'net'));
  } catch {
    return undefined;
  }
}

/**
 * The running Sentinel's user, NoNewPrivs, CapEff, Seccomp and environment from /proc, when a process
 * named redis-sentinel is found and readable: the one in this network namespace when there is one (a
 * host may run other Sentinels in containers, whose hooks are not ours), else the first found.
 */
export function runningSentinel(proc = '/proc'): RunningSentinel | undefined {
  let pids: string[] = [];
  try {
    pids = readdirSync(proc).filter((n) => /^\d+$/.test(n));
  } catch {
    return undefined;
  }
  const own = netns(proc, 'self');
  const found = pids.filter((pid) => readText(join(proc, pid, 'comm'))?.trim() === 'redis-sentinel');
  const ordered = own ? [...found.filter((pid) => netns(proc, pid) === own), ...found] : found;
  for (const pid of ordered) {
    const status = readText(join(proc, pid, 'status'));
    if (!status) continue;
    const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(status)?.[1];
    const environ = readText(join(proc, pid, 'environ'));
    const env = environ
      ? Object.fromEntries(
          environ
            .split('\0')
            .filter((e) => e.includes('='))
            .map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
        )
      : undefined;
    return {
      pid: Number(pid),
      uid: Number(field('Uid') ?? -1),
      noNewPrivs: field('NoNewPrivs') === '1',
      capEff: BigInt(`0x${field('CapEff') ?? '0'}`),
      seccomp: Number(field('Seccomp') ?? 0),
      ...(env ? { env } : {}),
    };
  }
  return undefined;
}

const CAP_BITS: Record<string, bigint> = { CAP_NET_ADMIN: 12n, CAP_NET_RAW: 13n };

/** What the running process shows that the unit files may not (a drop-in not yet loaded by a restart). */
export function processBlockers(
  p: NonNullable<ReturnType<typeof runningSentinel>>,
  needs: Required<SandboxNeeds>,
): string[] {
  const reasons: string[] = [];
  if (needs.needsSudo && p.noNewPrivs) reasons.push(`the running Sentinel (pid ${p.pid}) has NoNewPrivs set`);
  const missing = needs.capabilities.filter(
    (c) => CAP_BITS[c] !== undefined && ((p.capEff >> CAP_BITS[c]!) & 1n) === 0n,
  );
  if (missing.length && !needs.needsSudo)
    reasons.push(
      `the running Sentinel (pid ${p.pid}) lacks ${missing.join(' ')}${p.seccomp === 2 ? ' (and runs under a seccomp filter)' : ''}`,
    );
  return reasons;
}
