import { accessSync, constants, readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import type { Capabilities } from './actions/plugin.ts';
import type { Logger } from './log.ts';
import type { PipelineDeps } from './pipeline/deps.ts';
import { type CommandRunner, createRunner, whichSystem } from './runner.ts';
import { canonicalIp } from './values.ts';

/** This host's addresses as the kernel reports them (in a network namespace: that namespace's). */
export function localAddresses(): Set<string> {
  const set = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) set.add(canonicalIp(info.address.replace(/%.*$/, '')));
  }
  return set;
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The real system, for the CLI; `runner` is the command's own (it stops it on SIGTERM). */
export function systemDeps(logger: Logger, runner: CommandRunner = createRunner()): PipelineDeps {
  return {
    runner,
    logger,
    env: process.env,
    uid: process.getuid?.() ?? 0,
    localAddresses,
    resolve: (host, signal) => resolveHost(host, runner, signal),
    which: (program) => whichSystem(program, isExecutable),
    readFile: (path) => {
      try {
        return readFileSync(path);
      } catch {
        return undefined;
      }
    },
    capabilities: processCapabilities(),
  };
}

const CAP_NET_ADMIN = 12n;
const CAP_NET_RAW = 13n;

/**
 * Which of the two capabilities the programs we start will have, from /proc/self/status: in our
 * effective set, and handed on through execve, which for a user other than root takes the ambient
 * set (systemd's AmbientCapabilities, setpriv --ambient-caps); root's children get them anyway.
 * A capability in our effective set alone (file capabilities on node) would not reach `ip`.
 */
export function capabilitiesFrom(status: string, euid: number): Capabilities {
  const set = (name: string): bigint => {
    const hex = new RegExp(`^${name}:\\s*([0-9a-f]+)$`, 'm').exec(status)?.[1];
    return hex ? BigInt(`0x${hex}`) : 0n;
  };
  const effective = set('CapEff');
  const handedOn = euid === 0 ? effective : effective & set('CapAmb');
  const has = (bit: bigint) => ((handedOn >> bit) & 1n) === 1n;
  return { netAdmin: has(CAP_NET_ADMIN), netRaw: has(CAP_NET_RAW) };
}

let ownCapabilities: Capabilities | undefined;

/** Decided once per process: capabilities do not change under us. */
export function processCapabilities(): Capabilities {
  if (!ownCapabilities) {
    let status = '';
    try {
      status = readFileSync('/proc/self/status', 'utf8');
    } catch {
      // no /proc: nothing known, sudo as configured
    }
    ownCapabilities = capabilitiesFrom(status, process.geteuid?.() ?? 0);
  }
  return ownCapabilities;
}

/** Without a deadline of its own (the notify path), a lookup still ends. */
const LOOKUP_TIMEOUT_MS = 10_000;

/**
 * A host name's addresses as getaddrinfo sees them (/etc/hosts, then DNS, per nsswitch.conf), asked
 * through `getent ahosts` in a child process: a lookup inside Node runs on a libuv thread that
 * cannot be cancelled, and keeps the process alive until the resolver gives up (timeout × attempts
 * × nameservers × search domains: past Sentinel's SIGKILL with Debian's defaults), long after our
 * deadline. A child is killed at the deadline like any other command. Without getent, dns.lookup.
 */
export async function resolveHost(
  host: string,
  runner: CommandRunner,
  signal?: AbortSignal,
  timeoutMs = LOOKUP_TIMEOUT_MS,
): Promise<string[]> {
  const getent = whichSystem('getent', isExecutable);
  if (!getent) {
    // getBuiltinModule, not import(): the bundle runs inside vm.Script, where import() has no loader.
    const { lookup } = process.getBuiltinModule('node:dns').promises;
    return (await lookup(host, { all: true })).map((a) => a.address);
  }
  const r = await runner.run([getent, 'ahosts', '--', host], { timeoutMs, ...(signal ? { signal } : {}) });
  if (r.exitCode === 0)
    return [
      ...new Set(
        r.stdout
          .split('\n')
          .map((line) => line.split(/\s+/)[0]!)
          .filter(Boolean),
      ),
    ];
  if (r.exitCode === 2) throw new Error(`no such host (getaddrinfo: not found)`);
  if (r.timedOut)
    throw new Error(signal?.aborted ? "no answer before the run's deadline" : `no answer within ${timeoutMs} ms`);
  throw new Error(
    `${getent} ahosts failed: ${r.spawnError ?? (r.exitCode === undefined ? `killed by ${r.signal}` : `exit ${r.exitCode}`)}${r.stderr ? `: ${r.stderr.split('\n').at(-1)}` : ''}`,
  );
}
