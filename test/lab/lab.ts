import { type ChildProcess, spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { reachablePath } from '../support/checkout.ts';
import {
  type HookRun,
  readHookLog,
  readScriptLog,
  readSentinelLog,
  readWatchLog,
  type SentinelLogEvent,
  type SwitchMaster,
  switchMasters,
  type WatchLogEntry,
} from './logs.ts';
import { ensurePackages, LAB_PACKAGES } from './packages.ts';
import {
  cleanEnv,
  LabCommandError,
  type RunOptions,
  type RunResult,
  run,
  runOk,
  runSync,
  SYSTEM_PATH,
  sleep,
  sleepSync,
} from './run.ts';
import { waitFor, waitUntil } from './wait.ts';
import { Writer, type WriterOptions } from './writer.ts';

/** The checkout this file belongs to, computed at run time (CI clones elsewhere). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLIENT_RECONFIG_HOOK = join(REPO_ROOT, 'hooks', 'client-reconfig');
/** The notification-script for reannounce alone: only -sdown starts Node (see the file). */
export const REANNOUNCE_HOOK = join(REPO_ROOT, 'hooks', 'reannounce');

export const MASTER_NAME = 'mymaster';
export const REDIS_PORT = 6379;
export const SENTINEL_PORT = 26379;
/** The lab's subnet exists only inside its namespaces; the root namespace never sees it. */
export const SUBNET_PREFIX = '10.77.0';
export const DEFAULT_VIP = `${SUBNET_PREFIX}.100/24`;
const REDIS_HOSTS = ['r1', 'r2', 'r3'] as const;
const LAB_USER = 'redis';

export interface LabHostFiles {
  /** Root-owned, mode 644: the hook config Sentinel's SENTINEL_HOOK_CONFIG points at. */
  hookConfig: string;
  sentinelConf: string;
  sentinelLog: string;
  /** sentinel-hook's pino JSON log (log.file in the hook config). */
  hookLog: string;
  /** The bench shell script's own start/end lines (SEED_LOG). */
  scriptLog: string;
  /** `sentinel-hook watch`'s stdout (JSON lines), when the lab runs it on this host. */
  watchLog: string;
  redisConf: string;
  redisLog: string;
}

export interface LabHost {
  name: string;
  kind: 'redis' | 'app';
  /** Network namespace name (unique per lab instance). */
  ns: string;
  ip: string;
  mac: string;
  /** The host's own interface (inside its namespace). */
  dev: 'eth0';
  /** Its veth peer in the switch namespace; down = cable pulled. */
  switchPort: string;
  /** Per-host directory, root-owned; `run` below it belongs to the lab user (Sentinel rewrites its config). */
  dir: string;
  runDir: string;
  files: LabHostFiles;
}

/** What every Sentinel runs as its client-reconfig-script. */
export type LabHook =
  | {
      kind: 'sentinel-hook';
      /** The actions for `masters.mymaster` of this host's config (log.file and lockDir are filled in per host). */
      actions: (host: LabHost, lab: Lab) => unknown[];
      /** More top-level config keys (deadline, sentinels …). */
      extraConfig?: (host: LabHost, lab: Lab) => Record<string, unknown>;
      /** Install `sentinel-hook sudoers --user redis --config <r1's config>` in /etc/sudoers.d for the lab's life. */
      sudoers?: boolean;
      /** Also Sentinel's notification-script (hooks/reannounce, the same config). */
      notify?: boolean;
      /**
       * Sentinel's client-reconfig-script (default true). False: the Sentinels run no hook at all, and only
       * `sentinel-hook watch` (LabOptions.watch, lab.startWatch) acts on this config.
       */
      clientReconfig?: boolean;
      /** log.level of the config (default info). watch logs each reconcile's outcome at debug ("in line"). */
      logLevel?: 'debug' | 'info';
    }
  | {
      kind: 'script';
      /** Absolute path of an executable script (in this checkout, or with all path components readable by the lab user). */
      path: string;
      /** Environment for each host's Sentinel (the script inherits it). */
      env?: (host: LabHost, lab: Lab) => Record<string, string>;
      /** sudoers rules for the script, installed for the lab's life (e.g. exact `ip addr` lines). */
      sudoers?: string;
    };

export interface LabOptions {
  /** App hosts (clients), named a1, a2 …; default 1. */
  appHosts?: number;
  /** Default: sentinel-hook with one exec action (/bin/true), i.e. its log records every call. */
  hook?: LabHook;
  /** Put this address on the initial master at start, as seed 000's operator does once by hand. */
  vip?: string | undefined;
  /**
   * Sentinel's down-after-milliseconds (default 2000) and failover-timeout (default 5000).
   * Not 1000: Sentinel pings every min(down-after, 1000) ms and, after a switch, re-creates its link to
   * the new master; with down-after equal to the ping period the lab saw a freshly promoted master flagged
   * +sdown at +1006 ms and failed over a second time (stale "down" votes made it +odown at once).
   */
  downAfterMs?: number;
  failoverTimeoutMs?: number;
  /** Namespace name prefix; the pid and a counter follow. Default "shl". */
  prefix?: string;
  /** Progress lines (default: silent). */
  log?: (line: string) => void;
  /** Skip the Debian package check (it costs ~50 ms when everything is installed). */
  skipPackages?: boolean;
  /**
   * Sentinel's loglevel (default notice). `debug` adds `+script-child <pid>` / `-script-child <pid> <signal> <exit>`:
   * when Sentinel forked each hook run and when it ended, which is what a hook's own log cannot show.
   */
  sentinelLogLevel?: 'debug' | 'verbose' | 'notice' | 'warning';
  /** Start `sentinel-hook watch` on every Redis host (lab.startWatch) once the Sentinels agree. Needs `sentinels` in the hook config. */
  watch?: WatchOptions;
}

export interface WatchOptions {
  /** watch's --interval, ms. */
  intervalMs: number;
}

export interface LabProcess {
  pid: number;
  /** When the lab started it (epoch ms). */
  startedAt: number;
  host: string;
  what: string;
  child: ChildProcess;
  /** Set when it exited (epoch ms). */
  exitedAt?: number;
  exitCode?: number | null;
}

const liveLabs = new Set<Lab>();
let handlersInstalled = false;
let labCounter = 0;

/**
 * Teardown must run when a test fails, when the process ends normally, and on SIGINT/SIGTERM/SIGHUP.
 * Everything in teardown is synchronous so it also works from an 'exit' handler.
 */
function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => {
    for (const lab of [...liveLabs]) lab.teardownSync();
  });
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    process.on(signal, () => {
      for (const lab of [...liveLabs]) lab.teardownSync();
      process.exit(code);
    });
  }
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** A Redis Sentinel lab built from network namespaces on this machine. See test/lab/README.md. */
export class Lab {
  readonly id: string;
  readonly dir: string;
  readonly switchNs: string;
  readonly hosts = new Map<string, LabHost>();
  readonly vip: string | undefined;
  readonly processes: LabProcess[] = [];
  readonly namespaces: string[] = [];
  /** Host name of the master the lab started with. */
  readonly initialMaster = 'r1';
  /** sudoers drop-ins installed for this lab (removed at teardown); the first is the hook's. */
  readonly sudoersFiles: string[] = [];
  get sudoersFile(): string | undefined {
    return this.sudoersFiles[0];
  }
  private readonly opts: Required<Pick<LabOptions, 'appHosts' | 'downAfterMs' | 'failoverTimeoutMs'>> & LabOptions;
  private readonly redisPids = new Map<string, LabProcess>();
  private readonly sentinelPids = new Map<string, LabProcess>();
  private readonly watchPids = new Map<string, LabProcess>();
  private tornDown = false;
  private readonly say: (line: string) => void;

  private constructor(opts: LabOptions) {
    this.opts = { appHosts: 1, downAfterMs: 2000, failoverTimeoutMs: 5000, ...opts };
    this.say = opts.log ?? (() => {});
    this.id = `${opts.prefix ?? 'shl'}${process.pid}${labCounter++ ? `x${labCounter - 1}` : ''}`;
    this.switchNs = `${this.id}-sw`;
    this.vip = opts.vip;
    this.dir = mkdtempSync(join(tmpdir(), `sentinel-hook-lab-${this.id}-`));
    chmodSync(this.dir, 0o755);
  }

  /** Build and start everything; on any failure, tear down what was built and rethrow. */
  static async start(opts: LabOptions = {}): Promise<Lab> {
    if (!isRoot()) throw new Error('the Sentinel lab needs root (network namespaces, sudoers); run as root');
    if (!opts.skipPackages) await ensurePackages([...LAB_PACKAGES], opts.log);
    const lab = new Lab(opts);
    installHandlers();
    liveLabs.add(lab);
    try {
      await lab.build();
      return lab;
    } catch (err) {
      lab.teardownSync({ keepDir: true });
      if (err instanceof Error) err.message = `${err.message} (lab logs kept in ${lab.dir})`;
      throw err;
    }
  }

  // ---------------------------------------------------------------- hosts and lookups

  host(name: string): LabHost {
    const host = this.hosts.get(name);
    if (!host) throw new Error(`no lab host ${name}; hosts: ${[...this.hosts.keys()].join(' ')}`);
    return host;
  }

  get redisHosts(): LabHost[] {
    return [...this.hosts.values()].filter((h) => h.kind === 'redis');
  }

  get appHosts(): LabHost[] {
    return [...this.hosts.values()].filter((h) => h.kind === 'app');
  }

  hostByIp(ip: string): LabHost | undefined {
    return [...this.hosts.values()].find((h) => h.ip === ip);
  }

  hostByMac(mac: string): LabHost | undefined {
    return [...this.hosts.values()].find((h) => h.mac.toLowerCase() === mac.toLowerCase());
  }

  /** The VIP without its prefix length. */
  get vipIp(): string {
    if (!this.vip) throw new Error('this lab has no VIP (LabOptions.vip)');
    return this.vip.split('/')[0]!;
  }

  // ---------------------------------------------------------------- commands in a host's namespace

  /** `ip netns exec <ns> argv…` as root; bounded by opts.timeoutMs (default 15 s). */
  exec(host: string, argv: readonly string[], opts?: RunOptions): Promise<RunResult> {
    return run(['ip', 'netns', 'exec', this.host(host).ns, ...argv], opts);
  }

  async execOk(host: string, argv: readonly string[], opts?: RunOptions): Promise<string> {
    const r = await this.exec(host, argv, opts);
    if (r.code !== 0) throw new LabCommandError(r);
    return r.stdout;
  }

  /** `ip -n <ns> …`: iproute2 enters the namespace itself (cheaper than ip netns exec). */
  ip(host: string, args: readonly string[], opts?: RunOptions): Promise<string> {
    return runOk(['ip', '-n', this.host(host).ns, ...args], opts);
  }

  /** redis-cli from `from`'s namespace to ip:port; stdout trimmed. Throws on a non-zero exit. */
  async redisCli(
    from: string,
    target: { ip: string; port?: number },
    args: readonly string[],
    opts?: RunOptions,
  ): Promise<string> {
    const out = await this.execOk(
      from,
      ['redis-cli', '--no-auth-warning', '-h', target.ip, '-p', String(target.port ?? REDIS_PORT), ...args],
      {
        timeoutMs: 5000,
        ...opts,
      },
    );
    return out.trim();
  }

  /** A Sentinel command on `host`'s Sentinel, from its own namespace. */
  sentinelCli(host: string, args: readonly string[], opts?: RunOptions): Promise<string> {
    return this.redisCli(host, { ip: this.host(host).ip, port: SENTINEL_PORT }, args, opts);
  }

  /**
   * Start a long-running process inside a host's namespace, tracked by pid and killed at teardown.
   * `user` switches to that user with setpriv (the pid stays the program's: ip netns exec and setpriv both exec).
   */
  spawn(
    host: string,
    argv: readonly string[],
    opts: { what: string; user?: string; env?: Record<string, string>; logFile: string },
  ): LabProcess {
    const h = this.host(host);
    const prefix = ['ip', 'netns', 'exec', h.ns];
    const asUser = opts.user ? ['setpriv', `--reuid=${opts.user}`, `--regid=${opts.user}`, '--init-groups'] : [];
    const fd = openSync(opts.logFile, 'a');
    try {
      const child = spawn(prefix[0]!, [...prefix.slice(1), ...asUser, ...argv], {
        env: opts.env ?? cleanEnv(),
        stdio: ['ignore', fd, fd],
        // Own process group: a Ctrl-C at the terminal reaches the test, whose handler tears down in order.
        detached: true,
      });
      if (child.pid === undefined) throw new Error(`could not start ${argv.join(' ')} in ${h.ns}`);
      const proc: LabProcess = { pid: child.pid, startedAt: Date.now(), host, what: opts.what, child };
      child.on('exit', (code) => {
        proc.exitedAt = Date.now();
        proc.exitCode = code;
      });
      child.unref();
      this.processes.push(proc);
      return proc;
    } finally {
      closeSync(fd);
    }
  }

  // ---------------------------------------------------------------- building

  private async build(): Promise<void> {
    this.say(`lab ${this.id}: building namespaces in ${this.dir}`);
    await this.addNamespace(this.switchNs);
    await runOk(['ip', '-n', this.switchNs, 'link', 'add', 'br0', 'type', 'bridge']);
    await runOk(['ip', '-n', this.switchNs, 'link', 'set', 'br0', 'up']);

    const names = [...REDIS_HOSTS, ...Array.from({ length: this.opts.appHosts }, (_, i) => `a${i + 1}`)];
    for (const [index, name] of names.entries()) {
      const kind = name.startsWith('r') ? 'redis' : 'app';
      const octet = kind === 'redis' ? 10 + Number(name.slice(1)) : 20 + Number(name.slice(1));
      if (octet > 99) throw new Error('too many app hosts (at most 79)');
      const ns = `${this.id}-${name}`;
      const dir = join(this.dir, 'hosts', name);
      const runDir = join(dir, 'run');
      mkdirSync(runDir, { recursive: true });
      chmodSync(dir, 0o755);
      if (kind === 'redis') this.chownToLabUser(runDir);
      const host: LabHost = {
        name,
        kind,
        ns,
        ip: `${SUBNET_PREFIX}.${octet}`,
        mac: '',
        dev: 'eth0',
        switchPort: `p${index}-${name}`,
        dir,
        runDir,
        files: {
          hookConfig: join(dir, 'hook-config.json'),
          sentinelConf: join(runDir, 'sentinel.conf'),
          sentinelLog: join(runDir, 'sentinel.log'),
          hookLog: join(runDir, 'hook.log'),
          scriptLog: join(runDir, 'script.log'),
          watchLog: join(runDir, 'watch.log'),
          redisConf: join(dir, 'redis.conf'),
          redisLog: join(runDir, 'redis.log'),
        },
      };
      this.hosts.set(name, host);
      await this.addNamespace(ns);
      // What docs/design.md asks of every host that may hold the VIP (see arpAnnounceWarning in the vip
      // action): without it, an old master that rejoins after a cut-off can send an ARP request from
      // the VIP before its hook removes it and leave an app host pointing at a MAC that no longer
      // answers for the VIP (seen here about once in three cut-off runs). Per namespace, like any net.* sysctl.
      if (kind === 'redis')
        await runOk(['ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv4.conf.all.arp_announce=2']);
      // Created inside the switch namespace with its peer put straight into the host's: no name ever
      // appears in the root namespace, so two labs cannot collide there.
      await runOk([
        'ip',
        '-n',
        this.switchNs,
        'link',
        'add',
        host.switchPort,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        ns,
      ]);
      await runOk(['ip', '-n', this.switchNs, 'link', 'set', host.switchPort, 'master', 'br0']);
      await runOk(['ip', '-n', this.switchNs, 'link', 'set', host.switchPort, 'up']);
      await runOk(['ip', '-n', ns, 'addr', 'add', `${host.ip}/24`, 'dev', 'eth0']);
      await runOk(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
      const link = JSON.parse(await runOk(['ip', '-n', ns, '-j', 'link', 'show', 'eth0'])) as { address: string }[];
      host.mac = link[0]!.address;
    }

    await this.startRedisServers();
    if (this.vip) {
      // Seed 000: "the first time only, add the VIP by hand" on the master.
      await this.ip(this.initialMaster, ['addr', 'add', this.vip, 'dev', 'eth0']);
    }
    await this.writeHookConfigs();
    await this.startSentinels();
    this.say(
      `lab ${this.id}: up (master ${this.initialMaster} ${this.host(this.initialMaster).ip}${this.vip ? `, VIP ${this.vip}` : ''})`,
    );
  }

  private async addNamespace(ns: string): Promise<void> {
    await runOk(['ip', 'netns', 'add', ns]);
    this.namespaces.push(ns);
    await runOk(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
  }

  private chownToLabUser(path: string): void {
    const { uid, gid } = labUserIds();
    chownSync(path, uid, gid);
  }

  private redisConfig(host: LabHost): string {
    const data = join(host.runDir, 'redis-data');
    mkdirSync(data, { recursive: true });
    this.chownToLabUser(data);
    return [
      // Bound to every address of the namespace, so that the VIP, whichever host holds it, is served.
      'bind 0.0.0.0',
      `port ${REDIS_PORT}`,
      'protected-mode no',
      'daemonize no',
      `logfile ${host.files.redisLog}`,
      `dir ${data}`,
      'save ""',
      'appendonly no',
      'repl-diskless-sync yes',
      'repl-diskless-sync-delay 0',
      ...(host.name === this.initialMaster ? [] : [`replicaof ${this.host(this.initialMaster).ip} ${REDIS_PORT}`]),
      '',
    ].join('\n');
  }

  private async startRedisServers(): Promise<void> {
    for (const host of this.redisHosts) {
      writeFileSync(host.files.redisConf, this.redisConfig(host), { mode: 0o644 });
      this.startRedis(host.name);
    }
    for (const host of this.redisHosts)
      await this.waitRedisReady(host.name, host.name === this.initialMaster ? 'master' : 'replica');
  }

  /** Start (or restart) a host's redis-server as the lab user; `replicaOf` overrides its config's role. */
  startRedis(name: string, opts: { replicaOf?: string } = {}): LabProcess {
    const host = this.host(name);
    const extra = opts.replicaOf ? ['--replicaof', opts.replicaOf, String(REDIS_PORT)] : [];
    const proc = this.spawn(name, ['redis-server', host.files.redisConf, ...extra], {
      what: 'redis-server',
      user: LAB_USER,
      logFile: join(host.runDir, 'redis.stdout'),
    });
    this.redisPids.set(name, proc);
    return proc;
  }

  /** Wait until a host's redis-server answers, and (replica) has its link to the master up. */
  async waitRedisReady(name: string, role: 'master' | 'replica', timeoutMs = 15_000): Promise<void> {
    const host = this.host(name);
    await waitUntil(
      `redis-server on ${name} to be a ${role}`,
      async () => {
        const info = await this.redisCli(name, { ip: host.ip }, ['INFO', 'replication'], { timeoutMs: 2000 });
        if (role === 'master') return /role:master/.test(info);
        return /role:slave/.test(info) && /master_link_status:up/.test(info);
      },
      { timeoutMs, intervalMs: 100 },
    );
  }

  private hookConfigFor(host: LabHost): Record<string, unknown> | undefined {
    const hook = this.opts.hook ?? recorderHook();
    if (hook.kind !== 'sentinel-hook') return undefined;
    const lockDir = join(host.runDir, 'lock');
    mkdirSync(lockDir, { recursive: true, mode: 0o700 });
    this.chownToLabUser(lockDir);
    // As an install has it: the log belongs to Sentinel's user, and root's manual runs append to it.
    writeFileSync(host.files.hookLog, '', { flag: 'a', mode: 0o640 });
    this.chownToLabUser(host.files.hookLog);
    return {
      deadline: '30s',
      log: { file: host.files.hookLog, level: hook.logLevel ?? 'info' },
      // One machine, three "hosts": the default lock dir would be shared between them.
      lockDir,
      ...(hook.extraConfig?.(host, this) ?? {}),
      masters: { [MASTER_NAME]: hook.actions(host, this) },
    };
  }

  private async writeHookConfigs(): Promise<void> {
    const hook = this.opts.hook ?? recorderHook();
    for (const host of this.redisHosts) {
      const config = this.hookConfigFor(host);
      if (!config) continue;
      // Root-owned, 644: sentinel-hook refuses a config its user could rewrite.
      writeFileSync(host.files.hookConfig, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o644 });
      chmodSync(host.files.hookConfig, 0o644);
    }
    if (hook.kind === 'sentinel-hook' && hook.sudoers) {
      const text = await runOk(
        [
          process.execPath,
          cliPath(),
          'sudoers',
          '--user',
          LAB_USER,
          '--config',
          this.host(this.initialMaster).files.hookConfig,
        ],
        {
          timeoutMs: 20_000,
        },
      );
      await this.installSudoers(text);
    } else if (hook.kind === 'script' && hook.sudoers) {
      await this.installSudoers(hook.sudoers);
    }
  }

  /** A sudoers drop-in, validated with visudo before it goes live, removed at teardown. `suffix`: [a-z0-9-] only. */
  async installSudoers(text: string, suffix = ''): Promise<string> {
    if (!/^[a-z0-9-]*$/.test(suffix)) throw new Error(`sudoers suffix ${suffix}: letters, digits and "-" only`);
    // sudo ignores files in sudoers.d whose names contain a dot: keep the name plain.
    const target = `/etc/sudoers.d/sentinel-hook-lab-${this.id}${suffix ? `-${suffix}` : ''}`;
    const staging = join(this.dir, `sudoers${suffix}`);
    writeFileSync(staging, text.endsWith('\n') ? text : `${text}\n`, { mode: 0o440 });
    await runOk(['visudo', '-cf', staging]);
    writeFileSync(`${target}-tmp`, readFileSync(staging), { mode: 0o440 });
    this.sudoersFiles.push(target);
    renameSync(`${target}-tmp`, target);
    return target;
  }

  private sentinelConfig(host: LabHost): string {
    const hook = this.opts.hook ?? recorderHook();
    // Sentinel runs as redis, which may not reach this checkout (a clone in /root): see test/support/checkout.ts.
    const script = reachablePath(hook.kind === 'script' ? hook.path : CLIENT_RECONFIG_HOOK);
    const master = this.host(this.initialMaster);
    const data = join(host.runDir, 'sentinel-data');
    mkdirSync(data, { recursive: true });
    this.chownToLabUser(data);
    return [
      `port ${SENTINEL_PORT}`,
      `bind ${host.ip}`,
      'daemonize no',
      `logfile ${host.files.sentinelLog}`,
      `loglevel ${this.opts.sentinelLogLevel ?? 'notice'}`,
      `dir ${data}`,
      `sentinel monitor ${MASTER_NAME} ${master.ip} ${REDIS_PORT} 2`,
      `sentinel down-after-milliseconds ${MASTER_NAME} ${this.opts.downAfterMs}`,
      `sentinel failover-timeout ${MASTER_NAME} ${this.opts.failoverTimeoutMs}`,
      `sentinel parallel-syncs ${MASTER_NAME} 2`,
      ...(hook.kind === 'sentinel-hook' && hook.clientReconfig === false
        ? []
        : [`sentinel client-reconfig-script ${MASTER_NAME} ${script}`]),
      ...(hook.kind === 'sentinel-hook' && hook.notify
        ? [`sentinel notification-script ${MASTER_NAME} ${reachablePath(REANNOUNCE_HOOK)}`]
        : []),
      '',
    ].join('\n');
  }

  private sentinelEnv(host: LabHost): Record<string, string> {
    const hook = this.opts.hook ?? recorderHook();
    return {
      // Sentinel under an init system has a bare environment; the hook wrapper must cope with it.
      PATH: '/usr/bin:/bin',
      HOME: host.runDir,
      // Sentinel logs local time; UTC makes its log lines comparable with everything else.
      TZ: 'UTC',
      LANG: 'C',
      ...(hook.kind === 'sentinel-hook' ? { SENTINEL_HOOK_CONFIG: host.files.hookConfig } : {}),
      ...(hook.kind === 'script' ? (hook.env?.(host, this) ?? {}) : {}),
    };
  }

  private async startSentinels(): Promise<void> {
    for (const host of this.redisHosts) {
      writeFileSync(host.files.sentinelConf, this.sentinelConfig(host), { mode: 0o644 });
      this.chownToLabUser(host.files.sentinelConf);
      this.startSentinel(host.name);
    }
    await this.waitSentinelsAgree(this.initialMaster, { timeoutMs: 30_000, replicas: 2 });
    if (this.opts.watch) {
      for (const host of this.redisHosts) this.startWatch(host.name, this.opts.watch);
      await Promise.all(this.redisHosts.map((h) => this.waitWatchReady(h.name)));
    }
  }

  /** Start (or restart, after killSentinel) a host's Sentinel as the lab user, from the config it keeps rewriting. */
  startSentinel(name: string): LabProcess {
    const host = this.host(name);
    const proc = this.spawn(name, ['redis-sentinel', host.files.sentinelConf], {
      what: 'redis-sentinel',
      user: LAB_USER,
      env: this.sentinelEnv(host),
      logFile: join(host.runDir, 'sentinel.stdout'),
    });
    this.sentinelPids.set(name, proc);
    return proc;
  }

  /** SIGKILL a host's Sentinel (by its recorded pid); returns the epoch ms of the kill. */
  killSentinel(name: string): number {
    const proc = this.sentinelPids.get(name);
    if (!proc || proc.exitedAt !== undefined) throw new Error(`redis-sentinel on ${name} is not running`);
    const at = Date.now();
    process.kill(proc.pid, 'SIGKILL');
    return at;
  }

  // ---------------------------------------------------------------- sentinel-hook watch

  /**
   * Start `sentinel-hook watch --config <host's hook config> --interval <ms>ms` in a host's namespace, as
   * a service would run it: as the lab user with CAP_NET_ADMIN and CAP_NET_RAW only (inheritable and
   * ambient, so ip and arping get them; the bounding set cut to those two) and no-new-privileges (sudo
   * cannot raise anything), a bare environment, stdout (its JSON lines) to `files.watchLog`.
   * setpriv and ip netns exec both exec: the recorded pid is watch's own (SIGTERM at stopWatch and teardown).
   */
  startWatch(name: string, opts: WatchOptions): LabProcess {
    const host = this.host(name);
    if (!existsSync(host.files.hookConfig))
      throw new Error(`no hook config on ${name}: watch needs a sentinel-hook LabHook (with sentinels)`);
    const running = this.watchPids.get(name);
    if (running && running.exitedAt === undefined)
      throw new Error(`watch already runs on ${name} (pid ${running.pid})`);
    const caps = '+net_admin,+net_raw';
    const argv = [
      'setpriv',
      `--reuid=${LAB_USER}`,
      `--regid=${LAB_USER}`,
      '--init-groups',
      `--inh-caps=-all,${caps}`,
      `--ambient-caps=${caps}`,
      `--bounding-set=-all,${caps}`,
      '--nnp',
      process.execPath,
      reachablePath(cliPath()),
      'watch',
      '--config',
      host.files.hookConfig,
      '--interval',
      `${opts.intervalMs}ms`,
    ];
    const proc = this.spawn(name, argv, {
      what: 'sentinel-hook watch',
      env: { PATH: '/usr/bin:/bin', HOME: host.runDir, TZ: 'UTC', LANG: 'C' },
      logFile: host.files.watchLog,
    });
    this.watchPids.set(name, proc);
    return proc;
  }

  /** Until watch on `name` has subscribed to every Sentinel and finished its start reconcile. */
  async waitWatchReady(name: string, timeoutMs = 20_000): Promise<void> {
    const proc = this.watchPids.get(name);
    const sentinels = this.redisHosts.length;
    await waitUntil(
      `watch on ${name} to subscribe to ${sentinels} Sentinels and reconcile`,
      () => {
        if (proc?.exitedAt !== undefined)
          throw new Error(
            `watch on ${name} exited ${proc?.exitCode}: ${readFileSync(this.host(name).files.watchLog, 'utf8').slice(-2000)}`,
          );
        const log = this.watchLog(name, proc?.startedAt ?? 0);
        const subscribed = new Set(log.filter((e) => e.msg === 'subscribed').map((e) => e.rec.sentinel)).size;
        return subscribed >= sentinels && log.some((e) => e.rec.why === 'start' && typeof e.rec.outcome === 'string');
      },
      { timeoutMs, intervalMs: 50 },
    );
  }

  /** SIGTERM watch on `name` (by pid) and wait for it to exit (SIGKILL after timeoutMs); its exit code. */
  async stopWatch(name: string, timeoutMs = 10_000): Promise<number | null | undefined> {
    const proc = this.watchPids.get(name);
    if (!proc || proc.exitedAt !== undefined) return proc?.exitCode;
    signalPid(proc.pid, 'SIGTERM');
    try {
      await waitUntil(`watch on ${name} to exit after SIGTERM`, () => proc.exitedAt !== undefined, {
        timeoutMs,
        intervalMs: 20,
      });
    } catch (err) {
      signalPid(proc.pid, 'SIGKILL');
      throw err;
    }
    return proc.exitCode;
  }

  /** The running watch process on `name`, if any. */
  watchProcess(name: string): LabProcess | undefined {
    const proc = this.watchPids.get(name);
    return proc?.exitedAt === undefined ? proc : undefined;
  }

  /** watch's JSON lines on `name` since `since` (epoch ms), oldest first. */
  watchLog(name: string, since = 0): WatchLogEntry[] {
    return readWatchLog(this.host(name).files.watchLog).filter((e) => e.at >= since);
  }

  // ---------------------------------------------------------------- Sentinel's view

  /** `SENTINEL MASTER mymaster` as a record. */
  async sentinelMasterInfo(host: string): Promise<Record<string, string>> {
    const lines = (await this.sentinelCli(host, ['SENTINEL', 'MASTER', MASTER_NAME])).split('\n');
    const info: Record<string, string> = {};
    for (let i = 0; i + 1 < lines.length; i += 2) info[lines[i]!] = lines[i + 1]!;
    return info;
  }

  /** The master each reachable Sentinel names (host name; undefined when it did not answer). */
  async mastersBySentinel(): Promise<Record<string, string | undefined>> {
    const out: Record<string, string | undefined> = {};
    await Promise.all(
      this.redisHosts.map(async (h) => {
        try {
          const [ip] = (await this.sentinelCli(h.name, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME])).split(
            '\n',
          );
          out[h.name] = ip ? (this.hostByIp(ip)?.name ?? ip) : undefined;
        } catch {
          out[h.name] = undefined;
        }
      }),
    );
    return out;
  }

  /**
   * Wait until every Sentinel in `sentinels` (default: all) names `master`, sees the others, and
   * (optionally) counts `replicas` healthy replicas.
   */
  async waitSentinelsAgree(
    master: string,
    opts: { timeoutMs: number; replicas?: number; sentinels?: string[] },
  ): Promise<void> {
    const who = opts.sentinels ?? this.redisHosts.map((h) => h.name);
    const ip = this.host(master).ip;
    await waitFor(
      `Sentinels ${who.join(',')} to agree on master ${master}${opts.replicas !== undefined ? ` with ${opts.replicas} replicas` : ''}`,
      async () => {
        const seen: Record<string, unknown> = {};
        let ok = true;
        for (const name of who) {
          const info = await this.sentinelMasterInfo(name);
          seen[name] = {
            ip: info.ip,
            flags: info.flags,
            slaves: info['num-slaves'],
            others: info['num-other-sentinels'],
          };
          if (info.ip !== ip || info.flags !== 'master' || Number(info['num-other-sentinels']) < who.length - 1)
            ok = false;
          if (opts.replicas !== undefined) {
            const replicas = await this.healthyReplicas(name);
            seen[name] = { ...(seen[name] as object), healthy: replicas };
            if (replicas.length < opts.replicas) ok = false;
          }
        }
        if (!ok) throw new Error(JSON.stringify(seen));
        return true;
      },
      { timeoutMs: opts.timeoutMs, intervalMs: 200 },
    );
  }

  /** Replicas a Sentinel considers usable (not down, link up). */
  async healthyReplicas(sentinel: string): Promise<string[]> {
    const out = await this.sentinelCli(sentinel, ['SENTINEL', 'REPLICAS', MASTER_NAME]);
    // redis-cli prints nested arrays flat, one value per line: key, value, key, value …, one replica after another.
    const lines = out.split('\n');
    const replicas: Record<string, string>[] = [];
    let current: Record<string, string> | undefined;
    for (let i = 0; i + 1 < lines.length; i += 2) {
      if (lines[i] === 'name') {
        current = {};
        replicas.push(current);
      }
      if (current) current[lines[i]!] = lines[i + 1]!;
    }
    return replicas
      .filter((r) => r.flags === 'slave' && r['master-link-status'] === 'ok')
      .map((r) => this.hostByIp(r.ip ?? '')?.name ?? r.ip ?? '?');
  }

  /** Wait until all `sentinels` (default: every Sentinel) name a master other than `notMaster`; returns it. */
  async waitNewMaster(notMaster: string, opts: { timeoutMs: number; sentinels?: string[] }): Promise<string> {
    const who = opts.sentinels ?? this.redisHosts.map((h) => h.name);
    return waitFor(
      `Sentinels ${who.join(',')} to name a master other than ${notMaster}`,
      async () => {
        const masters = await this.mastersBySentinel();
        const named = who.map((s) => masters[s]);
        const first = named[0];
        if (first && first !== notMaster && named.every((m) => m === first)) return first;
        throw new Error(JSON.stringify(masters));
      },
      { timeoutMs: opts.timeoutMs, intervalMs: 100 },
    );
  }

  // ---------------------------------------------------------------- failures

  /** SIGKILL a host's redis-server (by the pid the lab recorded); returns the epoch ms of the kill. */
  /** SIGSTOP a host's Sentinel: it keeps its sockets but answers nothing (a hung Sentinel). */
  pauseSentinel(name: string): void {
    const proc = this.sentinelPids.get(name);
    if (proc) signalPid(proc.pid, 'SIGSTOP');
  }

  resumeSentinel(name: string): void {
    const proc = this.sentinelPids.get(name);
    if (proc) signalPid(proc.pid, 'SIGCONT');
  }

  killRedis(name: string): number {
    const proc = this.redisPids.get(name);
    if (!proc || proc.exitedAt !== undefined) throw new Error(`redis-server on ${name} is not running`);
    const at = Date.now();
    process.kill(proc.pid, 'SIGKILL');
    return at;
  }

  /** Wait until the recorded redis-server of `name` has exited. */
  async waitRedisExited(name: string, timeoutMs = 5000): Promise<void> {
    const proc = this.redisPids.get(name);
    if (!proc) return;
    await waitUntil(`redis-server on ${name} to exit`, () => proc.exitedAt !== undefined, {
      timeoutMs,
      intervalMs: 20,
    });
  }

  /** Pull a host's cable: its switch port goes down (the host keeps its addresses, as a real one would). */
  async cutLink(name: string): Promise<number> {
    await runOk(['ip', '-n', this.switchNs, 'link', 'set', this.host(name).switchPort, 'down']);
    return Date.now();
  }

  async restoreLink(name: string): Promise<number> {
    await runOk(['ip', '-n', this.switchNs, 'link', 'set', this.host(name).switchPort, 'up']);
    return Date.now();
  }

  // ---------------------------------------------------------------- addresses and neighbours

  /** Hosts whose eth0 carries `address` (default: the VIP), as the kernel reports (`ip -j addr`). */
  async holders(address = this.vipIp): Promise<string[]> {
    const out: string[] = [];
    await Promise.all(
      [...this.hosts.values()].map(async (h) => {
        const ifaces = JSON.parse(await this.ip(h.name, ['-j', 'addr', 'show', 'dev', 'eth0'])) as {
          addr_info?: { local: string }[];
        }[];
        if (ifaces.some((i) => (i.addr_info ?? []).some((a) => a.local === address))) out.push(h.name);
      }),
    );
    return out.sort();
  }

  /** The neighbour entry `host` holds for `address` (default: the VIP): MAC, state, and whose MAC it is. */
  async neighbour(
    host: string,
    address = this.vipIp,
  ): Promise<{ mac: string | undefined; state: string[]; owner: string | undefined }> {
    const entries = JSON.parse(await this.ip(host, ['-j', 'neigh', 'show', 'to', address, 'dev', 'eth0'])) as {
      dst: string;
      lladdr?: string;
      state?: string[];
    }[];
    const entry = entries.find((e) => e.dst === address);
    const mac = entry?.lladdr;
    return { mac, state: entry?.state ?? [], owner: mac ? this.hostByMac(mac)?.name : undefined };
  }

  /**
   * Poll who holds `address` (default: the VIP) every intervalMs until stopped or timeoutMs, recording each
   * change with its time: when the VIP appeared and left where. Bounded in time and count.
   */
  trackHolders(opts: { intervalMs?: number; timeoutMs: number; address?: string }): {
    stop(): Promise<{ at: number; holders: string[] }[]>;
  } {
    const changes: { at: number; holders: string[] }[] = [];
    const interval = opts.intervalMs ?? 20;
    const maxPolls = Math.ceil(opts.timeoutMs / interval) + 1;
    let stopped = false;
    const started = Date.now();
    const loop = (async () => {
      for (let i = 0; i < maxPolls && !stopped && Date.now() - started < opts.timeoutMs; i++) {
        const at = Date.now();
        const holders = await this.holders(opts.address).catch(() => undefined);
        const last = changes.at(-1);
        if (holders && (!last || last.holders.join() !== holders.join())) changes.push({ at, holders });
        await sleep(interval);
      }
    })();
    return {
      stop: async () => {
        stopped = true;
        await loop;
        return changes;
      },
    };
  }

  // ---------------------------------------------------------------- clients

  /** One write through `target` (default: the VIP) from an app host's namespace; true when acknowledged. */
  async write(from: string, key: string, value: string, target = this.vipIp): Promise<boolean> {
    const r = await this.exec(from, ['redis-cli', '-h', target, '-p', String(REDIS_PORT), 'SET', key, value], {
      timeoutMs: 5000,
    });
    return r.code === 0 && r.stdout.trim() === 'OK';
  }

  /** A background writer on an app host: a new connection every intervalMs, each result logged (see writer.ts). */
  startWriter(from: string, opts: Partial<WriterOptions> = {}): Writer {
    const options: WriterOptions = {
      host: opts.host ?? this.vipIp,
      port: REDIS_PORT,
      key: 'lab:probe',
      intervalMs: 10,
      attemptTimeoutMs: 200,
      durationMs: 60_000,
      maxAttempts: 20_000,
      ...opts,
    };
    const file = join(this.dir, `writer-${from}-${this.processes.length}.jsonl`);
    const proc = this.spawn(
      from,
      [process.execPath, join(REPO_ROOT, 'test', 'lab', 'writer.mjs'), JSON.stringify(options)],
      { what: 'writer', logFile: file },
    );
    return new Writer(proc, file, options);
  }

  // ---------------------------------------------------------------- logs

  sentinelLog(host: string): SentinelLogEvent[] {
    return readSentinelLog(this.host(host).files.sentinelLog);
  }

  /** Every Sentinel's +switch-master lines, with the Sentinel's host name, oldest first. */
  switchMasterEvents(since = 0): (SwitchMaster & { sentinel: string })[] {
    return this.redisHosts
      .flatMap((h) => switchMasters(this.sentinelLog(h.name)).map((e) => ({ ...e, sentinel: h.name })))
      .filter((e) => e.at >= since)
      .sort((a, b) => a.at - b.at);
  }

  /** Every run on `host`, hook and notify alike, read once (sentinel-hook's JSON log, or the bench script's start/end lines). */
  private runs(host: string): HookRun[] {
    const h = this.host(host);
    return (this.opts.hook ?? recorderHook()).kind === 'script'
      ? readScriptLog(h.files.scriptLog)
      : readHookLog(h.files.hookLog);
  }

  /** Runs of the hook (the client-reconfig-script) on `host`. */
  hookRuns(host: string, since = 0): HookRun[] {
    return this.runs(host).filter((r) => r.kind === 'hook' && r.start >= since);
  }

  /** Runs of `sentinel-hook notify` (Sentinel's notification-script) on `host`, when the hook sets `notify`. */
  notifyRuns(host: string, since = 0): HookRun[] {
    return this.runs(host).filter((r) => r.kind === 'notify' && r.start >= since);
  }

  /**
   * Wait until no hook or notify run on any Redis host is open (a started run without its end), and
   * no Sentinel that answers is running a script: a hook Sentinel has forked logs its start only once
   * Node is up, a few hundred ms later. A queued retry is not waited for (Sentinel holds it 30 s).
   */
  async waitHooksIdle(timeoutMs: number): Promise<void> {
    await waitUntil(
      'every hook run to end',
      async () => {
        if (!this.redisHosts.every((h) => this.runs(h.name).every((r) => r.end !== undefined))) return false;
        const running = await Promise.all(this.redisHosts.map((h) => this.sentinelRunningScripts(h.name)));
        return running.every((n) => n === 0);
      },
      { timeoutMs, intervalMs: 100 },
    );
  }

  /** `sentinel_running_scripts` from a Sentinel's INFO; 0 when it does not answer (down, or its host cut off). */
  private async sentinelRunningScripts(host: string): Promise<number> {
    try {
      const info = await this.sentinelCli(host, ['INFO', 'sentinel'], { timeoutMs: 1000 });
      return Number(/^sentinel_running_scripts:(\d+)/m.exec(info)?.[1] ?? 0);
    } catch {
      return 0;
    }
  }

  // ---------------------------------------------------------------- sshd (app hosts, for push-style actions)

  /**
   * Start sshd in a host's namespace, listening on its lab address only, with its own host key and
   * the given authorized_keys file for every user (e.g. root). Returns the host key's public line.
   */
  async startSshd(
    name: string,
    opts: { authorizedKeysFile: string; port?: number },
  ): Promise<{ proc: LabProcess; hostKeyPub: string; port: number }> {
    const host = this.host(name);
    const port = opts.port ?? 22;
    const sshDir = join(host.dir, 'sshd');
    mkdirSync(sshDir, { recursive: true, mode: 0o700 });
    const key = join(sshDir, 'ssh_host_ed25519_key');
    if (!existsSync(key)) await runOk(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', `${name}.lab`, '-f', key]);
    const conf = join(sshDir, 'sshd_config');
    writeFileSync(
      conf,
      [
        `ListenAddress ${host.ip}:${port}`,
        `HostKey ${key}`,
        `AuthorizedKeysFile ${opts.authorizedKeysFile}`,
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'PermitRootLogin prohibit-password',
        `PidFile ${join(sshDir, 'sshd.pid')}`,
        'StrictModes no',
        // A push reads and writes over SFTP (transport ssh), as status and doctor do.
        'Subsystem sftp internal-sftp',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    // Debian's sshd needs its privilege-separation directory.
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    const log = join(sshDir, 'sshd.log');
    const proc = this.spawn(name, ['/usr/sbin/sshd', '-D', '-e', '-f', conf], { what: 'sshd', logFile: log });
    await waitUntil(
      `sshd on ${name} to listen`,
      () => existsSync(log) && /Server listening/.test(readFileSync(log, 'utf8')),
      {
        timeoutMs: 10_000,
        intervalMs: 50,
      },
    );
    return { proc, hostKeyPub: readFileSync(`${key}.pub`, 'utf8').trim(), port };
  }

  // ---------------------------------------------------------------- teardown

  /**
   * Kill every process the lab started, by pid (SIGTERM, then SIGKILL after 3 s), then whatever is still
   * inside the lab's namespaces (hook runs Sentinel started, their arping), by pid from `ip netns pids`;
   * delete every namespace, the sudoers drop-in, and (unless keepDir) the log directory. Idempotent.
   */
  teardownSync(opts: { keepDir?: boolean } = {}): void {
    if (this.tornDown) return;
    this.tornDown = true;
    liveLabs.delete(this);
    const alive = (pid: number) => isAlive(pid);
    const running = this.processes.filter((p) => p.exitedAt === undefined && alive(p.pid));
    for (const p of running) signalPid(p.pid, 'SIGTERM');
    for (let i = 0; i < 60 && running.some((p) => alive(p.pid)); i++) sleepSync(50);
    for (const p of running) if (alive(p.pid)) signalPid(p.pid, 'SIGKILL');
    for (const ns of this.namespaces) {
      const r = runSync(['ip', 'netns', 'pids', ns]);
      for (const pid of r.stdout.split(/\s+/).filter(Boolean).map(Number)) {
        if (Number.isInteger(pid) && pid > 1 && pid !== process.pid) signalPid(pid, 'SIGKILL');
      }
    }
    for (const ns of [...this.namespaces].reverse()) runSync(['ip', 'netns', 'del', ns]);
    for (const file of this.sudoersFiles) {
      try {
        unlinkSync(file);
      } catch {
        // already gone
      }
    }
    const keep = opts.keepDir || process.env.SENTINEL_HOOK_LAB_KEEP === '1';
    if (!keep) rmSync(this.dir, { recursive: true, force: true });
  }

  async teardown(opts: { keepDir?: boolean } = {}): Promise<void> {
    this.teardownSync(opts);
  }

  /** Namespaces of this lab that still exist (for tests of teardown itself). */
  static async existingNamespaces(prefix: string): Promise<string[]> {
    const out = await runOk(['ip', '-j', 'netns', 'list']).catch(() => '[]');
    const list = (out.trim() ? JSON.parse(out) : []) as { name: string }[];
    return list.map((n) => n.name).filter((n) => n.startsWith(prefix));
  }
}

/** The default hook: sentinel-hook with one exec action that succeeds; its JSON log records every call. */
export function recorderHook(): LabHook {
  return { kind: 'sentinel-hook', actions: () => [{ type: 'exec', run: ['/bin/true', '{role}', '{toIp}'] }] };
}

/** sentinel-hook's vip action for the lab VIP, with sudo and the sudoers drop-in generated from the config. */
export function vipHook(
  opts: {
    vip?: string;
    arp?: Record<string, string | number>;
    reannounce?: boolean;
    sentinels?: boolean;
    /** The vip action's `release.noQuorumFor` (quorum loss, acted on by watch), e.g. "5s". */
    release?: string;
    /** More actions after the vip one (e.g. an exec that records each run). */
    more?: (host: LabHost, lab: Lab) => unknown[];
  } = {},
): LabHook & { kind: 'sentinel-hook' } {
  return {
    kind: 'sentinel-hook',
    sudoers: true,
    // reannounce: Sentinels' notification-script runs `sentinel-hook notify`, which asks all three Sentinels.
    ...(opts.reannounce ? { notify: true } : {}),
    // sentinels: the stale-event guard and reconcile ask all three.
    ...(opts.reannounce || opts.sentinels ? { extraConfig: (_host: LabHost, lab: Lab) => labSentinels(lab) } : {}),
    actions: (host, lab) => [
      {
        type: 'vip',
        address: opts.vip ?? DEFAULT_VIP,
        interface: 'eth0',
        privilege: 'sudo',
        ...(opts.arp ? { arp: opts.arp } : {}),
        ...(opts.release ? { release: { noQuorumFor: opts.release } } : {}),
      },
      ...(opts.more?.(host, lab) ?? []),
    ],
  };
}

/**
 * The vip action for `sentinel-hook watch` alone: `sentinels` in every host's config, no
 * client-reconfig-script, and no sudoers rule (watch runs with CAP_NET_ADMIN and CAP_NET_RAW, which
 * the vip action uses instead of sudo). Pair it with LabOptions.watch or lab.startWatch. Logged at
 * debug: every reconcile's outcome is in watch's log.
 */
export function watchHook(
  opts: Omit<Parameters<typeof vipHook>[0] & object, 'sentinels' | 'reannounce'> = {},
): LabHook {
  return { ...vipHook({ ...opts, sentinels: true }), sudoers: false, clientReconfig: false, logLevel: 'debug' };
}

/** The hook config's `sentinels`: all three lab Sentinels (the stale-event guard, reannounce). */
export function labSentinels(lab: Lab): { sentinels: { addresses: string[] } } {
  return { sentinels: { addresses: lab.redisHosts.map((h) => `${h.ip}:${SENTINEL_PORT}`) } };
}

/**
 * A hook config shipped in examples/ (YAML), as every lab Sentinel's: its `masters.mymaster` actions and
 * top-level keys, with log.file and lockDir set per host by the lab. It must speak the lab's addresses.
 */
export function exampleHook(path: string): LabHook {
  const {
    masters,
    log: _log,
    lockDir: _lockDir,
    ...top
  } = parseYaml(readFileSync(path, 'utf8')) as {
    masters?: Record<string, unknown[]>;
    log?: unknown;
    lockDir?: unknown;
    sentinels?: unknown;
  };
  const actions = masters?.[MASTER_NAME];
  if (!actions) throw new Error(`${path}: no masters.${MASTER_NAME} (the lab's master name)`);
  const text = JSON.stringify(actions);
  if (!text.includes(`"${DEFAULT_VIP}"`) && /"type":"vip"/.test(text))
    throw new Error(`${path}: its vip address is not the lab's ${DEFAULT_VIP}`);
  return {
    kind: 'sentinel-hook',
    sudoers: /"privilege":"sudo"/.test(text) || /"type":"vip"/.test(text),
    notify: top.sentinels !== undefined,
    actions: () => actions,
    extraConfig: () => top,
  };
}

/** The CLI entry of this checkout, from package.json's "bin" (its file name has changed before). */
export function cliPath(): string {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
    bin?: string | Record<string, string>;
  };
  const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.['sentinel-hook'];
  if (!bin) throw new Error('package.json has no bin entry for sentinel-hook');
  return join(REPO_ROOT, bin);
}

function labUserIds(): { uid: number; gid: number } {
  const passwd = readFileSync('/etc/passwd', 'utf8');
  const line = passwd.split('\n').find((l) => l.startsWith(`${LAB_USER}:`));
  if (!line) throw new Error(`user ${LAB_USER} not found (install redis-server, which creates it)`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Alive and not a zombie (a child Node has not reaped yet still answers kill 0). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export { SYSTEM_PATH };
