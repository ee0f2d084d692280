// Booted Debian 12 hosts for the integration tests: systemd as PID 1 in each, Debian's own redis-server and
// redis-sentinel with their stock units, no Node. One root is debootstrapped per package list and kept in
// /var/tmp (several test files, and several runs, share it; a lock keeps two builds from racing), then
// copied per host (cp --reflink=auto -a). Each host is `systemd-nspawn --boot` in a network namespace of
// its own, on a bridge in a namespace of its own; an app namespace on the same bridge writes through the
// VIP. Nothing is configured in this machine's own network namespace. Needs root.
//
// What it takes, found the hard way (issue 16 §5): with a namespace given by path nspawn drops
// CAP_NET_ADMIN and mounts /proc/sys read-only, hence `--capability=CAP_NET_ADMIN` and
// SYSTEMD_NSPAWN_API_VFS_WRITABLE=network; `--register=no --keep-unit` because this machine need not run
// systemd (no system bus, no machined); `systemctl reboot` inside ends the nspawn process, so reboot()
// waits for that and boots the copy again. Copies of one root would share Sentinel's generated
// `sentinel myid` once it has one: every copy has that line deleted.

import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { LabCommandError, type RunOptions, type RunResult, run, runOk, runSync, sleep, sleepSync } from '../lab/run.ts';
import { waitFor } from '../lab/wait.ts';

export const DEBIAN_SUITE = 'bookworm';
export const DEBIAN_MIRROR = process.env.SENTINEL_HOOK_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
/**
 * What every host has: systemd as init, Redis and Sentinel from Debian, the tools the vip action runs, and
 * what the package's maintainer scripts and `Depends:` need (so that `dpkg -i` needs no network: the hosts
 * have none but the bridge). No Node.
 */
export const DEBIAN_PACKAGES = [
  'systemd',
  'systemd-sysv',
  'dbus',
  'iproute2',
  'iputils-arping',
  'redis-server',
  'redis-sentinel',
  'redis-tools',
  'sudo',
  'procps',
  'logrotate',
  'adduser',
] as const;
/** Changed when the post-debootstrap edits of the cached root change: part of the cache key. */
const ROOT_LAYOUT = 2;
const CACHE_BASE = '/var/tmp/sentinel-hook-debian-roots';

export const MASTER_NAME = 'mymaster';
export const REDIS_PORT = 6379;
export const SENTINEL_PORT = 26379;
/** Only ever configured inside the namespaces made here. */
export const SUBNET = '10.16.0';
export const VIP = `${SUBNET}.4`;
export const VIP_CIDR = `${VIP}/24`;
const APP_IP = `${SUBNET}.100`;
const INNER_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

type Say = (line: string) => void;

// ---------------------------------------------------------------- the cached root

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function cacheKey(packages: readonly string[]): string {
  const what = JSON.stringify({
    suite: DEBIAN_SUITE,
    mirror: DEBIAN_MIRROR,
    packages: [...packages].sort(),
    ROOT_LAYOUT,
  });
  return createHash('sha256').update(what).digest('hex').slice(0, 16);
}

/** Edits made once to the cached root, before any copy boots. */
function prepareRoot(root: string): void {
  // Timers that would reach for the network or the disk in the middle of a test.
  for (const unit of [
    'apt-daily.timer',
    'apt-daily-upgrade.timer',
    'dpkg-db-backup.timer',
    'e2scrub_all.timer',
    'fstrim.timer',
    'e2scrub_reap.service',
  ]) {
    rmSync(join(root, 'etc/systemd/system/timers.target.wants', unit), { force: true });
    rmSync(join(root, 'etc/systemd/system/multi-user.target.wants', unit), { force: true });
  }
  // Half the tree, which every copy would otherwise carry: downloaded .debs, package lists (nothing is
  // installed from the network inside: the hosts have none), translations, documentation.
  for (const dir of ['var/cache/apt', 'var/lib/apt/lists', 'usr/share/locale', 'usr/share/doc', 'usr/share/man']) {
    rmSync(join(root, dir), { recursive: true, force: true });
    mkdirSync(join(root, dir), { mode: 0o755 });
  }
  mkdirSync(join(root, 'var/lib/apt/lists/partial'), { mode: 0o700 });
  mkdirSync(join(root, 'var/cache/apt/archives/partial'), { recursive: true, mode: 0o700 });
  // A copy gets its own; an empty file makes systemd generate one at boot.
  writeFileSync(join(root, 'etc/machine-id'), '');
  // Debian's units start Redis and Sentinel at boot with the stock config; each copy is configured first.
}

export interface RootBuild {
  root: string;
  /** ms spent in debootstrap by this process; 0 when the cached root was used. */
  builtMs: number;
  /** ms spent waiting for another process's build. */
  waitedMs: number;
}

/**
 * `<base>/<key>`, made by `build` unless it is there already. Concurrent callers (the test files of one run,
 * other engineers' runs at the same time) build it once: `build` fills `<base>/<key>.building-<pid>`, renamed
 * into place when it succeeds; a lock directory holds the builder's pid, and a dead builder's lock and
 * half-made directory are removed. Resolves true when this process built it. Bounded: 25 minutes.
 */
export async function onceLocked(
  base: string,
  key: string,
  say: Say,
  build: (building: string) => Promise<void>,
): Promise<boolean> {
  const dir = join(base, key);
  const ready = join(dir, 'ready');
  const lock = join(base, `${key}.lock`);
  mkdirSync(base, { recursive: true, mode: 0o755 });
  const deadline = Date.now() + 25 * 60_000;
  for (let i = 0; i < 3000 && Date.now() < deadline; i++) {
    if (existsSync(ready)) return false;
    try {
      mkdirSync(lock);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let owner = Number.NaN;
      try {
        owner = Number.parseInt(readFileSync(join(lock, 'pid'), 'utf8'), 10);
      } catch {
        // made a moment ago, its pid not yet written
      }
      if (Number.isInteger(owner) && !pidAlive(owner)) {
        say(`${lock}: removing the lock of dead builder ${owner}`);
        rmSync(lock, { recursive: true, force: true });
      } else if (!Number.isInteger(owner) && Date.now() - statSync(lock).mtimeMs > 10_000) {
        rmSync(lock, { recursive: true, force: true });
      } else {
        await sleep(1000);
      }
      continue;
    }
    writeFileSync(join(lock, 'pid'), String(process.pid));
    try {
      if (existsSync(ready)) return false;
      for (const name of readdirSync(base)) {
        const m = /\.building-(\d+)$/.exec(name);
        if (name.startsWith(`${key}.`) && m && !pidAlive(Number(m[1])))
          rmSync(join(base, name), { recursive: true, force: true });
      }
      const building = `${dir}.building-${process.pid}`;
      rmSync(building, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(building, { mode: 0o755 });
      await build(building);
      writeFileSync(join(building, 'ready'), `${new Date().toISOString()}\n`);
      renameSync(building, dir);
      return true;
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
  throw new Error(`${dir}: not ready after 25 min (another build holds ${lock}?)`);
}

/** The cached root for `packages`, debootstrapped now if there is none (see onceLocked). */
export async function debianRoot(
  packages: readonly string[] = DEBIAN_PACKAGES,
  say: Say = () => {},
): Promise<RootBuild> {
  const key = cacheKey(packages);
  const started = performance.now();
  let builtMs = 0;
  const built = await onceLocked(CACHE_BASE, key, say, async (building) => {
    say(`debian root: debootstrap ${DEBIAN_SUITE} (${packages.join(',')}) into ${building}`);
    const result = await run(
      [
        'debootstrap',
        '--variant=minbase',
        `--include=${packages.join(',')}`,
        DEBIAN_SUITE,
        join(building, 'root'),
        DEBIAN_MIRROR,
      ],
      { timeoutMs: 15 * 60_000 },
    );
    writeFileSync(join(building, 'debootstrap.log'), `${result.stdout}\n${result.stderr}`);
    if (result.code !== 0) throw new LabCommandError(result);
    builtMs = Math.round(performance.now() - started);
    prepareRoot(join(building, 'root'));
    say(`debian root: debootstrap took ${builtMs} ms`);
  });
  const waitedMs = built ? 0 : Math.round(performance.now() - started);
  return { root: join(CACHE_BASE, key, 'root'), builtMs, waitedMs };
}

// ---------------------------------------------------------------- one booted host

export class DebianHost {
  /** The nspawn process while the host is up. */
  private nspawn: ChildProcess | undefined;
  private nspawnExited: Promise<void> = Promise.resolve();
  /** The container's PID 1 as this machine sees it. */
  initPid = 0;
  boots = 0;

  constructor(
    readonly name: string,
    readonly index: number,
    readonly ip: string,
    readonly netns: string,
    readonly machine: string,
    /** The copy this host boots from: a path here is the same file inside the host. */
    readonly root: string,
    private readonly logDir: string,
    private readonly say: Say,
  ) {}

  get running(): boolean {
    return this.nspawn !== undefined && this.nspawn.exitCode === null && this.nspawn.signalCode === null;
  }

  get nspawnPid(): number | undefined {
    return this.nspawn?.pid;
  }

  /** A path inside the host, as a path on this machine (the copy is the host's root file system). */
  path(inside: string): string {
    return join(this.root, inside);
  }

  /** Boot (nspawn), find its init and wait until systemd says the system is up; returns ms to up. */
  async boot(): Promise<number> {
    if (this.running) throw new Error(`${this.name} is already running`);
    const started = performance.now();
    this.boots++;
    const out = openSync(join(this.logDir, `${this.name}.console.${this.boots}.log`), 'a');
    const child = spawn(
      'systemd-nspawn',
      [
        '--boot',
        `--network-namespace-path=/run/netns/${this.netns}`,
        '--register=no',
        '--keep-unit',
        `--machine=${this.machine}`,
        '--capability=CAP_NET_ADMIN',
        '--console=read-only',
        '-D',
        this.root,
      ],
      {
        env: { PATH: INNER_PATH, LANG: 'C', SYSTEMD_NSPAWN_API_VFS_WRITABLE: 'network' },
        stdio: ['ignore', out, out],
      },
    );
    closeSync(out);
    this.nspawn = child;
    this.nspawnExited = new Promise((resolve) => child.once('exit', () => resolve()));
    const pid = child.pid;
    if (pid === undefined) throw new Error(`${this.name}: systemd-nspawn did not start`);
    this.initPid = await waitFor(
      `${this.name}: the container's systemd (child of nspawn ${pid})`,
      () => {
        if (!this.running) throw new Error(`systemd-nspawn exited ${child.exitCode ?? child.signalCode}`);
        for (const task of readdirSync(`/proc/${pid}/task`)) {
          for (const c of readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(/\s+/).filter(Boolean)) {
            if (readFileSync(`/proc/${c}/comm`, 'utf8').trim() === 'systemd') return Number(c);
          }
        }
        return undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    // is-system-running --wait blocks until start-up is over; degraded (a unit failed) is reported, not fatal.
    // systemctl needs the manager's socket, which appears a moment after init starts.
    await waitFor(
      `${this.name}: systemd's private socket`,
      () => (existsSync(`/proc/${this.initPid}/root/run/systemd/private`) ? true : undefined),
      { timeoutMs: 60_000, intervalMs: 100 },
    );
    const state = await this.exec(['systemctl', 'is-system-running', '--wait'], { timeoutMs: 180_000 });
    const said = state.stdout.trim();
    if (said !== 'running') {
      const failed = await this.exec(['systemctl', '--failed', '--no-legend', '--plain']);
      if (said !== 'degraded')
        throw new Error(`${this.name}: system ${said || state.stderr.trim()}; failed: ${failed.stdout.trim()}`);
      this.say(`${this.name}: booted degraded; failed units: ${failed.stdout.trim().replace(/\n/g, '; ')}`);
    }
    const ms = Math.round(performance.now() - started);
    this.say(`${this.name}: booted (init ${this.initPid}, nspawn ${pid}) in ${ms} ms`);
    return ms;
  }

  /** argv inside the host (all its namespaces, a clean root environment), bounded (default 30 s). */
  exec(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    if (!this.running || this.initPid === 0) throw new Error(`${this.name} is not running`);
    return run(
      [
        'nsenter',
        '-t',
        String(this.initPid),
        '-a',
        'env',
        '-i',
        `PATH=${INNER_PATH}`,
        'LANG=C.UTF-8',
        'HOME=/root',
        'TERM=dumb',
        ...argv,
      ],
      { timeoutMs: 30_000, ...opts },
    );
  }

  async execOk(argv: readonly string[], opts: RunOptions = {}): Promise<string> {
    const r = await this.exec(argv, opts);
    if (r.code !== 0) throw new LabCommandError(r);
    return r.stdout;
  }

  /** Write a file inside the running host (also under /run, which only the host sees), then set its mode. */
  async writeFile(path: string, content: string, mode = '0644'): Promise<void> {
    await this.execOk(['install', '-d', '-m', '0755', path.replace(/\/[^/]+$/, '') || '/']);
    await this.execOk(['tee', path], { input: content });
    await this.execOk(['chmod', mode, path]);
  }

  /** Addresses on the host's eth0 (`ip -o addr` in its network namespace), without prefix lengths. */
  async addresses(): Promise<string[]> {
    const out = await runOk(['ip', '-n', this.netns, '-o', '-4', 'addr', 'show', 'dev', 'eth0']);
    return [...out.matchAll(/\binet (\S+)\//g)].map((m) => m[1]!);
  }

  redisCli(args: readonly string[], port = REDIS_PORT, opts: RunOptions = {}): Promise<string> {
    return this.execOk(['redis-cli', '--no-auth-warning', '-p', String(port), ...args], {
      timeoutMs: 10_000,
      ...opts,
    }).then((s) => s.trim());
  }

  sentinel(args: readonly string[], opts: RunOptions = {}): Promise<string> {
    return this.redisCli(args, SENTINEL_PORT, opts);
  }

  /** `SENTINEL MASTER mymaster` as a field map. */
  async sentinelMaster(): Promise<Record<string, string>> {
    const lines = (await this.sentinel(['SENTINEL', 'MASTER', MASTER_NAME])).split('\n');
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < lines.length; i += 2) fields[lines[i]!] = lines[i + 1]!;
    return fields;
  }

  /** What systemctl says about a unit: ActiveState/SubState/UnitFileState/NRestarts, and MainPID. */
  async unit(name: string): Promise<Record<string, string>> {
    const out = await this.execOk([
      'systemctl',
      'show',
      name,
      '--property=ActiveState,SubState,UnitFileState,LoadState,NRestarts,MainPID,Result,ExecMainStatus',
    ]);
    return Object.fromEntries(
      out
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
  }

  async journal(units: readonly string[], lines = 60): Promise<string> {
    const r = await this.exec([
      'journalctl',
      '--no-pager',
      '-o',
      'short-precise',
      '-n',
      String(lines),
      ...units.flatMap((u) => ['-u', u]),
    ]);
    return r.stdout;
  }

  /**
   * `systemctl reboot` inside: the nspawn process ends (exit 133), then the host is booted again. In between
   * the namespace is reset as a reboot resets a NIC: no address but the host's own, no neighbours (a VIP the
   * host held does not survive its reboot). Returns ms from the reboot command to systemd up again.
   */
  async reboot(): Promise<number> {
    const started = performance.now();
    // The command may itself be killed as the container goes down: its result says nothing.
    await this.exec(['systemctl', 'reboot'], { timeoutMs: 30_000 });
    await this.waitForExit(90_000);
    await resetInterface(this.netns, `${this.ip}/24`);
    await this.boot();
    return Math.round(performance.now() - started);
  }

  private async waitForExit(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([this.nspawnExited.then(() => true), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM to nspawn (it asks init for an orderly poweroff), then a forced poweroff inside, then SIGKILL. */
  async stop(): Promise<void> {
    if (!this.running) return;
    const child = this.nspawn!;
    child.kill('SIGTERM');
    if (await this.waitForExit(30_000)) return;
    this.say(`${this.name}: nspawn ${child.pid} still running 30 s after SIGTERM; poweroff --force inside`);
    await this.exec(['systemctl', 'poweroff', '--force', '--force'], { timeoutMs: 5000 }).catch(() => undefined);
    if (await this.waitForExit(10_000)) return;
    this.killSync();
    await this.waitForExit(10_000);
  }

  /**
   * For exit handlers: SIGKILL the container's init (its whole PID namespace goes with it) and nspawn, only
   * while nspawn runs (a pid of a host that is down may belong to someone else by now). True if it killed.
   */
  killSync(): boolean {
    if (!this.running) return false;
    for (const pid of [this.initPid, this.nspawn?.pid]) {
      if (!pid) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    return true;
  }
}

async function resetInterface(netns: string, cidr: string): Promise<void> {
  await runOk(['ip', '-n', netns, 'addr', 'flush', 'dev', 'eth0']);
  await runOk(['ip', '-n', netns, 'neigh', 'flush', 'all']);
  await runOk(['ip', '-n', netns, 'addr', 'add', cidr, 'dev', 'eth0']);
}

// ---------------------------------------------------------------- the cluster

export interface DebianClusterOptions {
  hosts?: number;
  /** Sentinel's down-after-milliseconds (Debian's default is 30000; a test does not wait that long). */
  downAfterMs?: number;
  failoverTimeoutMs?: number;
  log?: Say;
  /** Called for each host's copy before its first boot (files under host.path()). */
  prepare?: (host: DebianHost) => void | Promise<void>;
  packages?: readonly string[];
}

export interface ClusterTimings {
  root: RootBuild;
  copyMs: number;
  bootMs: number;
  convergeMs: number;
}

let clusterCounter = 0;
const liveClusters = new Set<DebianCluster>();
let handlersInstalled = false;

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => {
    for (const c of liveClusters) c.teardownSync();
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const c of liveClusters) c.teardownSync();
      process.kill(process.pid, signal);
    });
  }
}

/**
 * What a test process killed outright (SIGKILL: no exit handler ran) left behind: containers still booted
 * from its copies, its namespaces, its directory. Found by the dead pid in their names; the containers'
 * processes by their root directory (/proc/PID/root) lying in that directory, and killed by pid.
 */
async function sweepStale(say: Say): Promise<void> {
  const stale = readdirSync('/var/tmp')
    .map((name) => ({ name, m: /^sentinel-hook-booted-(shd(\d+)(?:x\d+)?)$/.exec(name) }))
    .filter((e) => e.m && Number(e.m[2]) !== process.pid && !pidAlive(Number(e.m[2])));
  if (stale.length === 0) return;
  const roots = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  for (const { name, m } of stale) {
    const dir = join('/var/tmp', name);
    for (const pid of roots) {
      let root = '';
      try {
        root = readlinkSync(`/proc/${pid}/root`);
      } catch {
        continue;
      }
      if (root.startsWith(`${dir}/`)) {
        say(`stale booted host: killing pid ${pid} (root ${root})`);
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    }
    const namespaces = (await runOk(['ip', 'netns', 'list']))
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter((n) => n.startsWith(`${m![1]}-`));
    for (const ns of namespaces) await run(['ip', 'netns', 'del', ns]);
    await sleep(500);
    rmSync(dir, { recursive: true, force: true });
    say(`stale booted hosts of dead pid ${m![2]}: removed ${dir} and ${namespaces.length} namespaces`);
  }
}

/** Three (by default) booted Debian hosts with replication and Sentinels configured, redis1 the master. */
export class DebianCluster {
  readonly id: string;
  readonly dir: string;
  readonly switchNs: string;
  readonly appNs: string;
  readonly hosts: DebianHost[] = [];
  readonly namespaces: string[] = [];
  timings: ClusterTimings | undefined;
  private tornDown = false;

  private constructor(readonly say: Say) {
    this.id = `shd${process.pid}${clusterCounter++ ? `x${clusterCounter - 1}` : ''}`;
    this.dir = join('/var/tmp', `sentinel-hook-booted-${this.id}`);
    this.switchNs = `${this.id}-sw`;
    this.appNs = `${this.id}-app`;
  }

  static async start(opts: DebianClusterOptions = {}): Promise<DebianCluster> {
    if (process.getuid?.() !== 0) throw new Error('booted Debian hosts need root (debootstrap, nspawn, namespaces)');
    const say = opts.log ?? (() => {});
    await sweepStale(say);
    const root = await debianRoot(opts.packages ?? DEBIAN_PACKAGES, say);
    const cluster = new DebianCluster(say);
    installHandlers();
    liveClusters.add(cluster);
    try {
      await cluster.build(root, opts);
      return cluster;
    } catch (err) {
      await cluster.teardown({ keepDir: true });
      if (err instanceof Error) err.message = `${err.message} (logs kept in ${cluster.dir})`;
      throw err;
    }
  }

  host(name: string): DebianHost {
    const h = this.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`no host ${name}`);
    return h;
  }

  hostByIp(ip: string): DebianHost | undefined {
    return this.hosts.find((h) => h.ip === ip);
  }

  private async addNetns(name: string): Promise<void> {
    await runOk(['ip', 'netns', 'add', name]);
    this.namespaces.push(name);
    await runOk(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
  }

  /** A namespace on the bridge with `cidr` on its eth0. */
  private async plug(netns: string, port: string, cidr: string): Promise<void> {
    await runOk([
      'ip',
      '-n',
      this.switchNs,
      'link',
      'add',
      port,
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      netns,
    ]);
    await runOk(['ip', '-n', this.switchNs, 'link', 'set', port, 'master', 'br0', 'up']);
    await runOk(['ip', '-n', netns, 'addr', 'add', cidr, 'dev', 'eth0']);
    await runOk(['ip', '-n', netns, 'link', 'set', 'eth0', 'up']);
  }

  private async build(rootBuild: RootBuild, opts: DebianClusterOptions): Promise<void> {
    const count = opts.hosts ?? 3;
    mkdirSync(this.dir, { mode: 0o700 });
    const logDir = join(this.dir, 'logs');
    mkdirSync(logDir);
    await this.addNetns(this.switchNs);
    await runOk(['ip', '-n', this.switchNs, 'link', 'add', 'br0', 'type', 'bridge']);
    await runOk(['ip', '-n', this.switchNs, 'link', 'set', 'br0', 'up']);
    await this.addNetns(this.appNs);
    await this.plug(this.appNs, 'app', `${APP_IP}/24`);

    const copyStarted = performance.now();
    for (let i = 1; i <= count; i++) {
      const name = `redis${i}`;
      const netns = `${this.id}-${name}`;
      await this.addNetns(netns);
      await this.plug(netns, `p${i}`, `${SUBNET}.${i}/24`);
      const root = join(this.dir, name);
      await runOk(['cp', '--reflink=auto', '-a', rootBuild.root, root], { timeoutMs: 300_000 });
      this.hosts.push(new DebianHost(name, i, `${SUBNET}.${i}`, netns, `${this.id}-${name}`, root, logDir, this.say));
    }
    const copyMs = Math.round(performance.now() - copyStarted);
    for (const host of this.hosts) {
      this.configure(host, opts);
      await opts.prepare?.(host);
    }
    const bootStarted = performance.now();
    // One after the other: three systemd start-ups at once on two cores only make each one slower.
    for (const host of this.hosts) await host.boot();
    const bootMs = Math.round(performance.now() - bootStarted);
    const convergeStarted = performance.now();
    await this.waitConverged(this.hosts[0]!, 120_000);
    const convergeMs = Math.round(performance.now() - convergeStarted);
    this.timings = { root: rootBuild, copyMs, bootMs, convergeMs };
    this.say(
      `cluster ${this.id}: root ${rootBuild.builtMs ? `built in ${rootBuild.builtMs} ms` : `cached (waited ${rootBuild.waitedMs} ms)`}, copies ${copyMs} ms, boots ${bootMs} ms, Sentinels agreed ${convergeMs} ms later`,
    );
  }

  /** Per copy: its identity, replication from redis1, Sentinel watching redis1 with the test's timings. */
  private configure(host: DebianHost, opts: DebianClusterOptions): void {
    const etc = (p: string) => host.path(join('etc', p));
    writeFileSync(etc('hostname'), `${host.name}\n`);
    writeFileSync(etc('machine-id'), `${createHash('md5').update(`${this.id}-${host.name}`).digest('hex')}\n`);
    const hostsLines = this.hosts.map((h) => `${h.ip} ${h.name}`).join('\n');
    writeFileSync(etc('hosts'), `127.0.0.1 localhost\n127.0.1.1 ${host.name}\n${hostsLines}\n`);

    // bind all (a list of addresses would not include the VIP, which arrives later); no password in the
    // test, so protected mode must go; redis2 and redis3 replicate redis1.
    const master = this.hosts[0]!;
    let redisConf = readFileSync(etc('redis/redis.conf'), 'utf8');
    redisConf = redisConf.replace(/^bind .*$/m, 'bind * -::*').replace(/^protected-mode yes$/m, 'protected-mode no');
    if (host !== master) redisConf += `\nreplicaof ${master.ip} ${REDIS_PORT}\n`;
    writeFileSync(etc('redis/redis.conf'), redisConf);

    let sentinelConf = readFileSync(etc('redis/sentinel.conf'), 'utf8');
    sentinelConf = sentinelConf
      .replace(/^sentinel myid .*\n/gm, '')
      .replace(/^sentinel monitor mymaster .*$/m, `sentinel monitor ${MASTER_NAME} ${master.ip} ${REDIS_PORT} 2`)
      .replace(
        /^sentinel down-after-milliseconds mymaster .*$/m,
        `sentinel down-after-milliseconds ${MASTER_NAME} ${opts.downAfterMs ?? 3000}`,
      )
      .replace(
        /^sentinel failover-timeout mymaster .*$/m,
        `sentinel failover-timeout ${MASTER_NAME} ${opts.failoverTimeoutMs ?? 15000}`,
      );
    if (!sentinelConf.includes(`sentinel monitor ${MASTER_NAME} ${master.ip}`))
      throw new Error(`${host.name}: sentinel.conf has no monitor line to rewrite`);
    writeFileSync(etc('redis/sentinel.conf'), sentinelConf);
  }

  /**
   * Every Sentinel names `master`, sees the other replicas and the other Sentinels, and the master has every
   * replica connected (bounded).
   */
  async waitConverged(
    master: DebianHost,
    timeoutMs = 60_000,
    hosts: readonly DebianHost[] = this.hosts,
  ): Promise<void> {
    const others = hosts.length - 1;
    await waitFor(
      `Sentinels on ${hosts.map((h) => h.name).join(',')} to agree on ${master.name} with ${others} replicas`,
      async () => {
        const seen: string[] = [];
        for (const h of hosts) {
          const m = await h.sentinelMaster();
          seen.push(
            `${h.name}: ${m.ip} flags=${m.flags} slaves=${m['num-slaves']} sentinels=${m['num-other-sentinels']}`,
          );
          if (
            m.ip !== master.ip ||
            m.flags !== 'master' ||
            m['num-slaves'] !== String(others) ||
            m['num-other-sentinels'] !== String(others)
          )
            throw new Error(seen.join('; '));
        }
        const info = await master.redisCli(['INFO', 'replication']);
        if (!info.includes(`connected_slaves:${others}`))
          throw new Error(`${master.name}: ${info.replace(/\r?\n/g, ' ')}`);
        return true;
      },
      { timeoutMs, intervalMs: 500 },
    );
  }

  /** The master every Sentinel names (undefined while they disagree). */
  async masterByAllSentinels(hosts: readonly DebianHost[] = this.hosts): Promise<DebianHost | undefined> {
    const named = new Set<string>();
    for (const h of hosts) {
      const r = await h.sentinel(['SENTINEL', 'get-master-addr-by-name', MASTER_NAME]);
      named.add(r.split('\n')[0]!);
    }
    return named.size === 1 ? this.hostByIp([...named][0]!) : undefined;
  }

  /** Hosts whose eth0 holds the VIP right now. */
  async vipHolders(): Promise<string[]> {
    const holders: string[] = [];
    for (const h of this.hosts) if ((await h.addresses()).includes(VIP)) holders.push(h.name);
    return holders;
  }

  /** redis-cli from the app namespace to the VIP. */
  appRedis(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return run(
      [
        'ip',
        'netns',
        'exec',
        this.appNs,
        'redis-cli',
        '--no-auth-warning',
        '-h',
        VIP,
        '-p',
        String(REDIS_PORT),
        ...args,
      ],
      {
        timeoutMs: 3000,
        ...opts,
      },
    );
  }

  /** One write through the VIP from the app namespace; the run_id of the server that took it, if it did. */
  async writeThroughVip(key: string, value: string): Promise<string | undefined> {
    const set = await this.appRedis(['SET', key, value]);
    if (set.code !== 0 || set.stdout.trim() !== 'OK') return undefined;
    const info = await this.appRedis(['INFO', 'server']);
    return /run_id:(\w+)/.exec(info.stdout)?.[1];
  }

  /**
   * Writes from the app namespace through the VIP are acknowledged by `master`'s redis-server (bounded wait;
   * a write every 200 ms). Returns ms until the first such write.
   */
  async waitForWritesTo(master: DebianHost, timeoutMs: number, key = 'booted:probe'): Promise<number> {
    const started = performance.now();
    const runId = /run_id:(\w+)/.exec(await master.redisCli(['INFO', 'server']))?.[1];
    let n = 0;
    await waitFor(
      `writes through ${VIP} acknowledged by ${master.name} (run_id ${runId})`,
      async () => {
        const by = await this.writeThroughVip(key, String(++n));
        if (by !== runId) throw new Error(`write ${n} ${by ? `taken by run_id ${by}` : 'not acknowledged'}`);
        return true;
      },
      { timeoutMs, intervalMs: 200 },
    );
    const value = await master.redisCli(['GET', key]);
    if (value !== String(n)) throw new Error(`${master.name} holds ${key}=${value}, not the acknowledged ${n}`);
    return Math.round(performance.now() - started);
  }

  async teardown(opts: { keepDir?: boolean } = {}): Promise<void> {
    if (this.tornDown) return;
    await Promise.all(this.hosts.map((h) => h.stop().catch((err) => this.say(`${h.name}: stop: ${err}`))));
    this.teardownSync(opts);
  }

  /** Synchronous, for exit handlers too: kill what still runs, remove namespaces and the copies. */
  teardownSync(opts: { keepDir?: boolean } = {}): void {
    if (this.tornDown) return;
    this.tornDown = true;
    liveClusters.delete(this);
    const killed = this.hosts.filter((h) => h.killSync());
    for (let i = 0; i < 50 && killed.some((h) => pidAlive(h.initPid)); i++) sleepSync(100);
    for (const ns of this.namespaces.reverse()) runSync(['ip', 'netns', 'del', ns]);
    for (const h of this.hosts) rmSync(h.root, { recursive: true, force: true });
    if (!opts.keepDir) rmSync(this.dir, { recursive: true, force: true });
  }

  /** Namespaces of this cluster that still exist (teardown must leave none). */
  async existingNamespaces(): Promise<string[]> {
    const out = await runOk(['ip', 'netns', 'list']);
    return out
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter((n) => n.startsWith(`${this.id}-`));
  }
}

/** Every Sentinel names a master other than `not` (bounded). */
export async function waitNewMaster(cluster: DebianCluster, not: DebianHost, timeoutMs: number): Promise<DebianHost> {
  return waitFor(
    `every Sentinel to name a master other than ${not.name}`,
    async () => {
      const m = await cluster.masterByAllSentinels();
      return m && m !== not ? m : undefined;
    },
    { timeoutMs, intervalMs: 250 },
  );
}

/**
 * A crash the host cannot repair: Debian's unit restarts redis-server 100 ms after it dies (Restart=always),
 * far inside any down-after-milliseconds, so a plain SIGKILL is never a failover. A runtime drop-in with
 * Restart=no, then SIGKILL to the main process: the process dies as in a crash (no shutdown, no save) and
 * stays dead until repairRedis removes the drop-in. Masking would refuse the restart too, but leaves the
 * unit masked where a later `systemctl start` must first undo it.
 */
export async function crashRedis(host: DebianHost): Promise<void> {
  await host.writeFile('/run/systemd/system/redis-server.service.d/crash.conf', '[Service]\nRestart=no\n');
  await host.execOk(['systemctl', 'daemon-reload']);
  await host.execOk(['systemctl', 'kill', '--kill-whom=main', '--signal=SIGKILL', 'redis-server.service']);
}

export async function repairRedis(host: DebianHost): Promise<void> {
  await host.execOk(['rm', '-f', '/run/systemd/system/redis-server.service.d/crash.conf']);
  await host.execOk(['systemctl', 'daemon-reload']);
  await host.execOk(['systemctl', 'start', 'redis-server.service']);
}
