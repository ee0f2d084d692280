import * as fs from 'node:fs';
import { dirname, join } from 'node:path';
import { pluginFor } from '../actions/index.ts';
import type { DoctorCheck } from '../actions/plugin.ts';
import type { HookConfig } from '../config/schema.ts';
import { errorLine } from '../errors.ts';
import { DEFAULT_LOG_FILE } from '../log.ts';
import type { PipelineDeps } from '../pipeline/deps.ts';
import { hostView } from '../pipeline/host.ts';
import { askMasterState } from '../pipeline/run.ts';
import { configSecrets } from '../pipeline/secrets.ts';
import { nopermFailures, type SentinelAnswer } from '../sentinel/client.ts';
import { decideMaster } from '../sentinel/decide.ts';
import { type Heartbeat, heartbeatAlive, readHeartbeat } from '../state/last-run.ts';
import {
  type RunningSentinel,
  readUnit,
  runningSentinel,
  SENTINEL_UNITS,
  UNIT_DIRS,
} from '../systemd/sentinel-unit.ts';
import { WATCH_UNIT } from '../systemd/units.ts';
import { formatDuration, isLoopbackHost } from '../values.ts';

/**
 * `sentinel-hook doctor`: everything the next failover needs, checked now on this host, live, with
 * probes that change nothing; one line per check with its fix. `check` is the static half (config,
 * programs, files) and is handed in here, not repeated.
 */

/** Where Sentinel's own environment is unknown: systemd's default PATH for a service (also what Sentinel's exec gets). */
export const SYSTEMD_DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** End of life of each Node major (the project's own dates, from nodejs.org's schedule). */
const NODE_EOL: Record<number, string> = {
  18: '2025-04-30',
  20: '2026-04-30',
  22: '2027-04-30',
  24: '2028-04-30',
  26: '2029-04-30',
};

/** A Node version past its end of life on `now`, as a warning line; undefined when it is supported. */
export function runtimeEol(version: string, now: Date): string | undefined {
  const major = Number(/^v?(\d+)\./.exec(version)?.[1]);
  if (!Number.isInteger(major)) return `cannot read a Node version from ${JSON.stringify(version)}`;
  // Odd majors live six months and never become LTS; before 18, long gone.
  const eol = NODE_EOL[major];
  if (eol === undefined && major > 26) return undefined;
  if (eol === undefined || now.getTime() > Date.parse(`${eol}T23:59:59Z`))
    return `Node ${version} is past its end of life${eol ? ` (${eol})` : ''}: no security fixes; install Node 22 or newer (24 or 26 LTS)`;
  return undefined;
}

/** What sentinel.conf says that a failover depends on. */
export interface SentinelConf {
  monitors: Map<string, { host: string; port: number }>;
  scripts: Map<string, string>;
  myid?: string;
}

/** The lines of sentinel.conf that matter here (Sentinel rewrites the file; its syntax is simple words). */
export function parseSentinelConf(text: string): SentinelConf {
  const conf: SentinelConf = { monitors: new Map(), scripts: new Map() };
  for (const raw of text.split('\n')) {
    const words = raw.trim().split(/\s+/);
    if (words[0]?.toLowerCase() !== 'sentinel') continue;
    const [, key, name, a, b] = words.map((w) => w.replace(/^"(.*)"$/, '$1'));
    if (key === 'monitor' && name && a && b) conf.monitors.set(name, { host: a, port: Number(b) });
    else if (key === 'client-reconfig-script' && name && a) conf.scripts.set(name, a);
    else if (key === 'myid' && name) conf.myid = name;
  }
  return conf;
}

/**
 * sentinel.conf against this config: every master monitored, none at a loopback address (Debian's
 * packaged default monitors 127.0.0.1: every host would find itself master and claim the VIP), and the
 * hook wired for each one, unless watch acts on this host instead.
 */
export function sentinelConfChecks(
  conf: SentinelConf,
  path: string,
  masters: readonly string[],
  o: { isThisHook(script: string): boolean; watch: boolean },
): DoctorCheck[] {
  const checks: DoctorCheck[] = [];
  for (const master of masters) {
    const check = `sentinel.conf: ${master}`;
    const monitor = conf.monitors.get(master);
    if (!monitor) {
      checks.push({
        check,
        result: 'fail',
        detail: `${path} monitors no master named ${master}`,
        fix: `add "sentinel monitor ${master} <master's address> 6379 <quorum>" (or fix the name in the config)`,
      });
      continue;
    }
    if (isLoopbackHost(monitor.host)) {
      checks.push({
        check,
        result: 'fail',
        detail: `monitors ${master} at ${monitor.host}:${monitor.port}, a loopback address (Debian's default): every host would name itself master and claim the VIP`,
        fix: `monitor the master's real address: "sentinel monitor ${master} <its IP> ${monitor.port} <quorum>" on every Sentinel`,
      });
      continue;
    }
    const script = conf.scripts.get(master);
    if (script && o.isThisHook(script))
      checks.push({ check, result: 'pass', detail: `monitors ${monitor.host}:${monitor.port}; runs ${script}` });
    else if (script)
      checks.push({
        check,
        result: 'fail',
        detail: `client-reconfig-script for ${master} is ${script}, not this install's hook`,
        fix: 'point it at hooks/client-reconfig of this install (with Sentinel stopped: deny-scripts-reconfig keeps SENTINEL SET from changing it)',
      });
    else
      checks.push(
        o.watch
          ? { check, result: 'pass', detail: `monitors ${monitor.host}:${monitor.port}; no hook: watch acts here` }
          : {
              check,
              result: 'fail',
              detail: `no client-reconfig-script for ${master}, and watch does not run here: nothing acts on a failover`,
              fix: `run watch (sentinel-hook systemd --watch), or add "sentinel client-reconfig-script ${master} <install>/hooks/client-reconfig"`,
            },
      );
  }
  return checks;
}

/**
 * What the Sentinels say, checked: each answers, they agree on the master, no two share an id (hosts
 * cloned from one image keep one `sentinel myid`: the Sentinels never see each other, and no failover
 * ever gets a majority), and our ACL user may ask what a run asks.
 */
export function sentinelChecks(master: string, answers: readonly SentinelAnswer[], configured: number): DoctorCheck[] {
  const checks: DoctorCheck[] = [];
  for (const a of answers) {
    const check = `sentinel ${a.address} (${master})`;
    if ('master' in a)
      checks.push({
        check,
        result: a.foreign ? 'fail' : 'pass',
        detail: a.foreign
          ? `answers ${a.master.ip}:${a.master.port}, but none of the other configured Sentinels knows it: another deployment's`
          : `answers ${a.master.ip}:${a.master.port}${a.epoch !== undefined ? `, config epoch ${a.epoch}` : ''}${a.id ? `, id ${a.id.slice(0, 8)}` : ''}`,
        ...(a.foreign ? { fix: 'remove it from sentinels.addresses, or fix its sentinel monitor line' } : {}),
      });
    else
      checks.push({
        check,
        result: 'fail',
        detail: a.error,
        fix:
          'refused' in a
            ? (a.fix ?? 'fix sentinels.username/password to match the Sentinel')
            : 'start that Sentinel, or fix sentinels.addresses',
      });
  }
  const decision = decideMaster(answers, configured);
  checks.push(
    decision.clear
      ? {
          check: `sentinels agree (${master})`,
          result: 'pass',
          detail: `master ${decision.state.ip}:${decision.state.port} at config epoch ${decision.state.epoch}`,
        }
      : {
          check: `sentinels agree (${master})`,
          result: 'fail',
          detail: decision.reason,
          fix: 'a failover needs a majority of the configured Sentinels answering: see the lines above',
        },
  );
  const byId = new Map<string, string[]>();
  for (const a of answers) if ('id' in a && a.id) byId.set(a.id, [...(byId.get(a.id) ?? []), a.address]);
  const shared = [...byId.entries()].filter(([, addresses]) => addresses.length > 1);
  checks.push(
    shared.length
      ? {
          check: `sentinel ids (${master})`,
          result: 'fail',
          detail: shared.map(([id, at]) => `${at.join(' and ')} share id ${id}`).join('; '),
          fix: 'on each clone: stop redis-sentinel, delete the "sentinel myid" line from sentinel.conf, start it (it makes a new id)',
        }
      : byId.size
        ? { check: `sentinel ids (${master})`, result: 'pass', detail: `${byId.size} distinct` }
        : { check: `sentinel ids (${master})`, result: 'skip', detail: 'no Sentinel told its id (SENTINEL MYID)' },
  );
  const refused = nopermFailures(answers);
  checks.push(
    ...(refused.length
      ? refused.map(
          (f): DoctorCheck => ({ check: `sentinel ACL (${master})`, result: 'fail', detail: f.message, fix: f.fix }),
        )
      : [
          {
            check: `sentinel ACL (${master})`,
            result: 'pass' as const,
            detail: 'every command a run sends was allowed',
          },
        ]),
  );
  return checks;
}

/**
 * watch, from its heartbeat record: running, and its reconciles recent. `hookWired`: whether Sentinel
 * runs the hook (undefined: sentinel.conf could not be read, so a missing watch is only a warning).
 * Absent where the hook is wired is the hook setup as the runbook makes it: one actor, no warning.
 */
export function watchChecks(beat: Heartbeat | undefined, nowMs: number, hookWired: boolean | undefined): DoctorCheck[] {
  if (!beat)
    return [
      hookWired === true
        ? {
            check: 'watch',
            result: 'pass',
            detail:
              'not running: Sentinel runs the hook here (the hook setup); a host whose Sentinel was down during a failover is put right by the boot-time reconcile or "sentinel-hook reconcile"',
          }
        : hookWired === undefined
          ? {
              check: 'watch',
              result: 'warn',
              detail:
                'not running here, and sentinel.conf could not be read to see whether Sentinel runs the hook: a host that misses a failover stays wrong until someone runs reconcile',
              fix: 'install the units from "sentinel-hook systemd --watch"',
            }
          : {
              check: 'watch',
              result: 'fail',
              detail: 'not running here, and no Sentinel runs the hook: nothing acts on a failover',
              fix: 'start sentinel-hook-watch (units from "sentinel-hook systemd --watch")',
            },
    ];
  const age = nowMs - Date.parse(beat.at);
  if (!heartbeatAlive(beat, nowMs))
    return [
      {
        check: 'watch',
        result: 'fail',
        detail: `its heartbeat is ${formatDuration(Math.round(age / 1000) * 1000)} old (pid ${beat.pid}): it stopped`,
        fix: 'systemctl status sentinel-hook-watch; journalctl -u sentinel-hook-watch',
      },
    ];
  const checks: DoctorCheck[] = [
    { check: 'watch', result: 'pass', detail: `alive (pid ${beat.pid}, heartbeat ${Math.round(age / 1000)} s ago)` },
  ];
  const last = beat.lastReconcile;
  const failed = last ? Object.entries(last.outcomes).filter(([, o]) => o === 'failed' || o === 'unsure') : [];
  checks.push(
    !last
      ? { check: 'watch reconcile', result: 'warn', detail: 'no reconcile recorded yet' }
      : failed.length
        ? {
            check: 'watch reconcile',
            result: 'fail',
            detail: `last reconcile: ${failed.map(([m, o]) => `${m} ${o}`).join(', ')}`,
            fix: 'sentinel-hook status says why; journalctl -u sentinel-hook-watch -p warning',
          }
        : {
            check: 'watch reconcile',
            result: 'pass',
            detail: `last ${Math.round((nowMs - Date.parse(last.at)) / 1000)} s ago: ${Object.entries(last.outcomes)
              .map(([m, o]) => `${m} ${o}`)
              .join(', ')}`,
          },
  );
  return checks;
}

/**
 * watch on (running, or enabled: it starts at the next boot) while Sentinel runs this install's hook for
 * some master: every failover acted on twice. They share the lock and the records and so converge, but
 * the later run supersedes the earlier (an exec cut short), both announce, and the operator reads two
 * logs for one failover; the runbook's setups have one actor each. A warning: it still moves the VIP.
 */
export function hookBesideWatchChecks(
  hookMasters: readonly string[],
  watch: { running: boolean; enabled: boolean },
): DoctorCheck[] {
  if (hookMasters.length === 0 || (!watch.running && !watch.enabled)) return [];
  const state = [watch.running && 'running', watch.enabled && 'enabled'].filter(Boolean).join(' and ');
  return [
    {
      check: 'one actor',
      result: 'warn',
      detail: `${WATCH_UNIT} is ${state} while sentinel.conf runs this hook for ${hookMasters.join(', ')}: two actors on every failover`,
      fix: `hook setup: systemctl disable --now ${WATCH_UNIT}; watch setup: remove the client-reconfig-script line (with Sentinel stopped)`,
    },
  ];
}

/** Whether a unit is enabled: a link to it in some target's .wants/ (or .requires/) in the unit directories. */
export function unitEnabled(unit: string, dirs: readonly string[] = UNIT_DIRS): boolean {
  for (const dir of dirs) {
    let entries: string[];
    try {
      entries = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const e of entries)
      if (/\.(wants|requires)$/.test(e) && fs.lstatSync(join(dir, e, unit), { throwIfNoEntry: false })) return true;
  }
  return false;
}

export interface DoctorOptions {
  configPath: string;
  /** The user Sentinel runs as, when not found from the running Sentinel or its unit. */
  user?: string;
  /** sentinel.conf, when not /etc/redis/sentinel.conf nor named by the unit's ExecStart. */
  sentinelConf?: string;
  /** The hook Sentinel runs, to start as it would: its path in sentinel.conf, else this. */
  hookPath?: string;
  /** This install's directory, to tell our hook from another script. */
  installDir?: string;
  /** What `check` (the static half) found: problems fail, warnings warn. */
  staticCheck: { problems: string[]; warnings: string[] };
  unitDirs?: readonly string[];
  proc?: string;
  now?: () => number;
}

export interface DoctorReport {
  exitCode: 0 | 1;
  checks: DoctorCheck[];
}

/** The user and group names of a uid, from the passwd database. */
async function passwdEntry(
  deps: PipelineDeps,
  key: string,
): Promise<{ name: string; uid: number; gid: number } | undefined> {
  const getent = deps.which('getent');
  if (!getent) return undefined;
  const r = await deps.runner.run([getent, 'passwd', key], { timeoutMs: 3000 });
  const f = r.exitCode === 0 ? r.stdout.trim().split(':') : [];
  return f.length >= 4 ? { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]) } : undefined;
}

/** Run argv as `user` (root only: setpriv with the user's groups), or as ourselves when we are that user. */
function asUser(
  deps: PipelineDeps,
  user: { name: string; uid: number; gid: number },
): ((argv: string[]) => Promise<{ ok: boolean; out: string }>) | undefined {
  const setpriv = deps.which('setpriv');
  if (deps.uid !== user.uid && (deps.uid !== 0 || !setpriv)) return undefined;
  return async (argv) => {
    const full =
      deps.uid === user.uid
        ? argv
        : [setpriv!, `--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', '--', ...argv];
    const r = await deps.runner.run(full, { timeoutMs: 10_000 });
    return { ok: r.exitCode === 0, out: `${r.stdout}${r.stderr}`.trim() };
  };
}

/** Everything doctor checks, in the order a failover needs them. */
export async function doctorChecks(config: HookConfig, deps: PipelineDeps, o: DoctorOptions): Promise<DoctorCheck[]> {
  const now = o.now ?? Date.now;
  const proc = o.proc ?? '/proc';
  const checks: DoctorCheck[] = [];
  const root = deps.uid === 0;

  // 1. The static check: config, ownership chain, programs, files.
  checks.push(
    ...(o.staticCheck.problems.length
      ? o.staticCheck.problems.map(
          (p): DoctorCheck => ({ check: 'config', result: 'fail', detail: p, fix: 'see "sentinel-hook check"' }),
        )
      : [{ check: 'config', result: 'pass' as const, detail: `${o.configPath}: valid; programs and files found` }]),
  );

  // 2. The user Sentinel runs as: the running Sentinel's, else its unit's User=, else --user.
  const sentinel = runningSentinel(proc);
  const unitName = SENTINEL_UNITS.find((n) => readUnit(n, o.unitDirs ?? UNIT_DIRS));
  const unit = unitName ? readUnit(unitName, o.unitDirs ?? UNIT_DIRS) : undefined;
  const unitUser = unit?.service.get('User')?.at(-1);
  const userKey = sentinel ? String(sentinel.uid) : (unitUser ?? o.user);
  const user = userKey ? await passwdEntry(deps, userKey) : undefined;
  const from = sentinel
    ? `the running Sentinel, pid ${sentinel.pid}`
    : unitUser
      ? `${unitName}'s User=`
      : o.user
        ? '--user'
        : undefined;
  if (!user)
    checks.push({
      check: 'sentinel user',
      result: 'fail',
      detail: userKey
        ? `user ${userKey} (${from}) is unknown to getent passwd`
        : 'no running Sentinel, no unit, no --user',
      fix: 'pass --user NAME (the user redis-sentinel runs as)',
    });
  else checks.push({ check: 'sentinel user', result: 'pass', detail: `${user.name} (${from})` });

  // 3. What that user must reach: run the hook, read the config and secrets, write the log and state.
  const conf = readSentinelConf(o, unit);
  const firstScript = conf.parsed
    ? Object.keys(config.masters)
        .map((m) => conf.parsed!.scripts.get(m))
        .find(Boolean)
    : undefined;
  const hook = firstScript ?? o.hookPath;
  const bareEnv = sentinel?.env ?? { ...(unit ? unitEnvironment(unit) : {}) };
  const path = bareEnv.PATH ?? SYSTEMD_DEFAULT_PATH;
  const run = user ? asUser(deps, user) : undefined;
  if (user && !run)
    checks.push({
      check: `as ${user.name}`,
      result: 'skip',
      detail: `cannot act as ${user.name} from here`,
      fix: 'run doctor as root',
    });
  if (user && run) {
    const test = async (what: string, flag: string, file: string, fix: string) => {
      const r = await run(['test', flag, file]);
      checks.push(
        r.ok
          ? { check: `${user.name} ${what}`, result: 'pass', detail: file }
          : { check: `${user.name} ${what}`, result: 'fail', detail: `${user.name} cannot ${what} ${file}`, fix },
      );
    };
    await test('reads the config', '-r', o.configPath, `chgrp ${user.name} ${o.configPath}; chmod 640 ${o.configPath}`);
    for (const ref of configSecrets(config))
      if ('file' in ref)
        await test('reads the secret', '-r', ref.file, `chown root:${user.name} ${ref.file}; chmod 640 ${ref.file}`);
    const logDir = dirname(config.log.file ?? DEFAULT_LOG_FILE);
    for (const dir of [...new Set([logDir, config.lockDir, config.stateDir])]) {
      const probe = join(dir, `.sentinel-hook-doctor-${process.pid}`);
      const made = await run(['touch', probe]);
      const removed = made.ok ? await run(['rm', '-f', probe]) : made;
      checks.push(
        made.ok && removed.ok
          ? { check: `${user.name} writes ${dir}`, result: 'pass', detail: 'created and removed a file there' }
          : {
              check: `${user.name} writes ${dir}`,
              result: 'fail',
              detail: made.out || `cannot create a file in ${dir}`,
              fix: `install -d -o ${user.name} -m 750 ${dir}`,
            },
      );
    }
  }

  // 4. The runtime, found as Sentinel finds it: its bare environment, the hook's own shebang or wrapper.
  if (hook) {
    const env = deps.which('env') ?? '/usr/bin/env';
    const argv = [env, '-i', `PATH=${path}`, hook, '--version'];
    const r = run
      ? await run(argv)
      : await deps.runner
          .run(argv, { timeoutMs: 10_000 })
          .then((x) => ({ ok: x.exitCode === 0, out: `${x.stdout}${x.stderr}`.trim() }));
    const node = /^node (v\S+) \((.*)\)$/m.exec(r.out);
    if (!r.ok || !node)
      checks.push({
        check: 'runtime',
        result: 'fail',
        detail: `${hook} --version with Sentinel's environment (PATH=${path})${run ? ` as ${user!.name}` : ''} failed: ${r.out.split('\n')[0] || 'no output'}`,
        fix: 'install Node 22 or newer where that PATH finds it (e.g. /usr/bin/node), or set SENTINEL_HOOK_NODE in the unit',
      });
    else {
      checks.push({ check: 'runtime', result: 'pass', detail: `${hook} runs on node ${node[1]} (${node[2]})` });
      const eol = runtimeEol(node[1]!, new Date(now()));
      if (eol)
        checks.push({
          check: 'runtime support',
          result: 'warn',
          detail: eol,
          fix: 'upgrade Node (see the install guide)',
        });
    }
  }

  // 5. sentinel.conf wiring and Debian's 127.0.0.1 trap.
  const beat = readHeartbeat(config.lockDir);
  const watchAlive = beat !== undefined && heartbeatAlive(beat, now());
  const isThisHook = (script: string) => {
    const real = realpath(script);
    if (o.installDir && real.startsWith(`${realpath(o.installDir)}/`)) return true;
    return /sentinel-hook/.test(deps.readFile(real)?.toString('latin1') ?? '');
  };
  if (conf.parsed) {
    checks.push(
      ...sentinelConfChecks(conf.parsed, conf.path, Object.keys(config.masters), { isThisHook, watch: watchAlive }),
    );
  } else
    checks.push({
      check: 'sentinel.conf',
      result: 'skip',
      detail: `${conf.path}: ${conf.why}`,
      fix: conf.why.includes('EACCES') ? 'run doctor as root' : 'pass --sentinel-conf FILE',
    });
  // Unknown when sentinel.conf could not be read.
  const hookWired = conf.parsed ? Boolean(firstScript) : undefined;
  if (conf.parsed) {
    const hookMasters = Object.keys(config.masters).filter((m) => {
      const script = conf.parsed!.scripts.get(m);
      return script !== undefined && isThisHook(script);
    });
    checks.push(
      ...hookBesideWatchChecks(hookMasters, {
        running: watchAlive,
        enabled: unitEnabled(WATCH_UNIT, o.unitDirs ?? UNIT_DIRS),
      }),
    );
  }

  // 6. Privilege: sudo allows every planned argv for that user, and Sentinel may use sudo; or watch has the capabilities.
  checks.push(...(await privilegeChecks(config, deps, user, sentinel, beat, watchAlive, hookWired)));

  // 7. Sentinel's unit sandbox (what check detects).
  for (const w of o.staticCheck.warnings) {
    const fix = /; (run .*|set .*)$/.exec(w)?.[1];
    checks.push({
      check: /^\S+\.service /.test(w) ? "Sentinel's unit sandbox" : 'check',
      result: 'warn',
      detail: fix ? w.slice(0, -fix.length - 2) : w,
      ...(fix ? { fix } : {}),
    });
  }

  // 8. The Sentinels: each answers, they agree, distinct ids, ACL.
  const signal = AbortSignal.timeout(config.deadline);
  if (config.sentinels)
    for (const master of Object.keys(config.masters)) {
      try {
        const answers = await askMasterState(master, config, deps, signal);
        checks.push(...sentinelChecks(master, answers, config.sentinels.addresses.length));
      } catch (err) {
        checks.push({
          check: `sentinels (${master})`,
          result: 'fail',
          detail: errorLine(err),
          fix: 'see sentinels in the config',
        });
      }
    }
  else
    checks.push({
      check: 'sentinels',
      result: 'warn',
      detail: 'no "sentinels" in the config: no stale-event guard, no reconcile, no watch',
      fix: 'list every Sentinel under sentinels.addresses',
    });

  // 9. watch, and what it needs of the Sentinels beyond a run's questions: their pub/sub channels.
  checks.push(...watchChecks(beat, now(), hookWired));
  if (config.sentinels && (beat || hookWired === false)) checks.push(...(await subscriptionChecks(config, deps)));

  // 10. Each action's own checks (interfaces, arping, push targets, DNS servers).
  const host = {
    ...hostView(deps, signal),
    root,
    ...(user ? { user: user.name } : {}),
    ...(run ? { readableByUser: async (path: string) => (await run(['test', '-r', path])).ok } : {}),
  };
  for (const [master, actions] of Object.entries(config.masters))
    for (const [i, action] of actions.entries()) {
      const plugin = pluginFor(action);
      if (!plugin.doctor) continue;
      const found = await plugin
        .doctor(action, host)
        .catch((err: unknown): DoctorCheck[] => [{ check: `${action.type}`, result: 'fail', detail: errorLine(err) }]);
      for (const c of found) checks.push({ ...c, check: `masters.${master}[${i}] ${c.check}` });
    }
  return checks;
}

function realpath(path: string): string {
  try {
    return fs.realpathSync(path);
  } catch {
    return path;
  }
}

/** The unit's Environment= assignments (the last of each variable wins). */
function unitEnvironment(unit: NonNullable<ReturnType<typeof readUnit>>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of unit.service.get('Environment') ?? [])
    for (const m of line.matchAll(/"([^"=]+)=([^"]*)"|(\S+?)=(\S*)/g)) env[(m[1] ?? m[3])!] = (m[2] ?? m[4])!;
  return env;
}

/** sentinel.conf: --sentinel-conf, else the file the unit's ExecStart names, else Debian's. */
function readSentinelConf(
  o: DoctorOptions,
  unit: ReturnType<typeof readUnit>,
): { path: string; parsed?: SentinelConf; why: string } {
  const fromUnit = unit?.service
    .get('ExecStart')
    ?.at(-1)
    ?.split(/\s+/)
    .find((w) => w.endsWith('.conf'));
  const path = o.sentinelConf ?? fromUnit ?? '/etc/redis/sentinel.conf';
  try {
    return { path, parsed: parseSentinelConf(fs.readFileSync(path, 'utf8')), why: '' };
  } catch (err) {
    return { path, why: `unreadable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
  }
}

/**
 * watch's subscription, tried once per Sentinel as watch makes it (AUTH, then SUBSCRIBE to its channels),
 * and closed at the first verdict: an ACL without +subscribe or the channels leaves watch deaf to failovers.
 */
async function subscriptionChecks(config: HookConfig, deps: PipelineDeps): Promise<DoctorCheck[]> {
  const sentinels = config.sentinels!;
  if (sentinels.tls)
    return [{ check: 'sentinel pub/sub', result: 'skip', detail: 'not probed over TLS (watch logs a refusal)' }];
  const [{ SentinelSubscription }, { CHANNELS }, { readSecret }] = await Promise.all([
    import('../sentinel/subscribe.ts'),
    import('../watch/watcher.ts'),
    import('../sentinel/client.ts'),
  ]);
  let password: string | undefined;
  try {
    password = sentinels.password ? readSecret(sentinels.password, deps.env) : undefined;
  } catch (err) {
    return [{ check: 'sentinel pub/sub', result: 'fail', detail: errorLine(err) }];
  }
  const auth = () =>
    password === undefined
      ? undefined
      : sentinels.username
        ? ['AUTH', sentinels.username, password]
        : ['AUTH', password];
  return Promise.all(
    sentinels.addresses.map(
      (address) =>
        new Promise<DoctorCheck>((resolve) => {
          const check = `sentinel ${address} pub/sub`;
          let sub: InstanceType<typeof SentinelSubscription> | undefined;
          const done = (c: DoctorCheck) => {
            sub?.stop();
            clearTimeout(timer);
            resolve(c);
          };
          const timer = setTimeout(
            () => done({ check, result: 'fail', detail: 'no subscription confirmed within 6 s' }),
            6000,
          );
          sub = new SentinelSubscription(address, CHANNELS, auth, {
            message: () => {},
            subscribed: () => done({ check, result: 'pass', detail: `subscribed to ${CHANNELS.join(' ')}` }),
            lost: (_s, reason) =>
              done({
                check,
                result: 'fail',
                detail: reason,
                ...(/NOPERM/.test(reason)
                  ? {}
                  : { fix: 'start that Sentinel, or fix sentinels.addresses and credentials' }),
              }),
          });
          sub.start();
        }),
    ),
  );
}

const CAP_NET_ADMIN = 12n;
const CAP_NET_RAW = 13n;

async function privilegeChecks(
  config: HookConfig,
  deps: PipelineDeps,
  user: { name: string; uid: number } | undefined,
  sentinel: RunningSentinel | undefined,
  beat: Heartbeat | undefined,
  watchAlive: boolean,
  hookWired: boolean | undefined,
): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const entries = Object.entries(config.masters).flatMap(([master, actions]) =>
    actions.map((a, i) => ({ a, where: `masters.${master}[${i}]` })),
  );
  const withSudo = entries.filter(({ a }) => pluginFor(a).runsWithSudo?.(a) === true);
  if (withSudo.length === 0)
    return [{ check: 'privilege', result: 'pass', detail: 'no entry runs anything with sudo' }];
  // watch under its unit runs ip and arping with its ambient capabilities: no sudo there.
  const watchStatus = beat && watchAlive ? deps.readFile(`/proc/${beat.pid}/status`)?.toString() : undefined;
  if (watchStatus) {
    const capEff = BigInt(`0x${/^CapEff:\s*(\S+)/m.exec(watchStatus)?.[1] ?? '0'}`);
    const has = ((capEff >> CAP_NET_ADMIN) & 1n) === 1n && ((capEff >> CAP_NET_RAW) & 1n) === 1n;
    checks.push(
      has
        ? {
            check: 'watch capabilities',
            result: 'pass',
            detail: `watch (pid ${beat!.pid}) has CAP_NET_ADMIN and CAP_NET_RAW`,
          }
        : {
            check: 'watch capabilities',
            result: hookWired === false ? 'fail' : 'warn',
            detail: `watch (pid ${beat!.pid}) lacks CAP_NET_ADMIN or CAP_NET_RAW: it goes through sudo like the hook`,
            fix: 'install the watch unit from "sentinel-hook systemd --watch" (AmbientCapabilities)',
          },
    );
  }
  if (hookWired === false && watchStatus) return checks;
  if (sentinel?.noNewPrivs)
    checks.push({
      check: 'sentinel may use sudo',
      result: 'fail',
      detail: `the running Sentinel (pid ${sentinel.pid}) has NoNewPrivs set: sudo cannot raise privileges for its hook`,
      fix: 'run watch instead (sentinel-hook systemd --watch), or install the drop-in from "sentinel-hook systemd --hook"',
    });
  if (!user) return checks;
  const sudo = deps.which('sudo');
  if (!sudo)
    return [...checks, { check: 'sudo', result: 'fail', detail: 'sudo is not installed', fix: 'apt-get install sudo' }];
  const host = {
    read: (argv: string[], opts?: { timeoutMs?: number }) =>
      deps.runner.run(argv, { timeoutMs: opts?.timeoutMs ?? 5000 }),
    which: deps.which,
    readFile: deps.readFile,
  };
  for (const { a, where } of withSudo) {
    let lines: string[][];
    try {
      lines = (await pluginFor(a).privilegedCommands?.(a, host, where))?.lines ?? [];
    } catch (err) {
      checks.push({ check: `sudo ${where}`, result: 'fail', detail: errorLine(err) });
      continue;
    }
    for (const argv of lines) {
      const check = `sudo ${where}: ${argv.join(' ')}`;
      // root asks for the user (-U); the user itself asks for itself. -n: never a prompt.
      const r =
        deps.uid === 0
          ? await deps.runner.run([sudo, '-n', '-l', '-U', user.name, ...argv], { timeoutMs: 5000 })
          : deps.uid === user.uid
            ? await deps.runner.run([sudo, '-n', '-l', ...argv], { timeoutMs: 5000 })
            : undefined;
      if (!r) {
        checks.push({ check, result: 'skip', detail: `cannot ask sudo for ${user.name}`, fix: 'run doctor as root' });
        continue;
      }
      checks.push(
        r.exitCode === 0
          ? { check, result: 'pass', detail: `allowed for ${user.name}` }
          : {
              check,
              result: 'fail',
              detail: `sudo does not allow ${user.name} to run it without a password`,
              fix: `sentinel-hook sudoers --user ${user.name} --check > /etc/sudoers.d/sentinel-hook (the generated rules cover every planned command line)`,
            },
      );
    }
  }
  return checks;
}

const MARK: Record<DoctorCheck['result'], string> = { pass: 'PASS', fail: 'FAIL', warn: 'WARN', skip: 'SKIP' };

export function doctorReport(checks: DoctorCheck[]): DoctorReport {
  return { exitCode: checks.some((c) => c.result === 'fail') ? 1 : 0, checks };
}

export function doctorText(report: DoctorReport): string {
  const lines: string[] = [];
  for (const c of report.checks) {
    lines.push(`${MARK[c.result]}  ${c.check}: ${c.detail}`);
    if (c.fix && c.result !== 'pass') lines.push(`      fix: ${c.fix}`);
  }
  const count = (r: DoctorCheck['result']) => report.checks.filter((c) => c.result === r).length;
  lines.push(
    `doctor: ${report.checks.length} checks, ${count('fail')} failed, ${count('warn')} warning(s), ${count('skip')} skipped: exit ${report.exitCode}`,
  );
  return lines.join('\n');
}
