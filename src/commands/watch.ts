import { readFileSync } from 'node:fs';
import { holdSecretFiles } from '../config/common.ts';
import { loadConfig } from '../config/load.ts';
import type { HookConfig } from '../config/schema.ts';
import { COMMAND_EXIT, codeOf, EXIT, errorLine, errorOf, hookError } from '../errors.ts';
import { type Failure, failure } from '../failures.ts';
import { runId, stdoutLogger } from '../log.ts';
import { hostView } from '../pipeline/host.ts';
import { readConfigSecrets } from '../pipeline/secrets.ts';
import { createRunner } from '../runner.ts';
import { loadNodeTls } from '../sentinel/resp.ts';
import { type Connector, tlsConnector } from '../sentinel/subscribe.ts';
import { prepareLockDir } from '../state/lock.ts';
import { systemDeps } from '../system.ts';
import { ownPrivilegeFrom, unprivilegedEntries } from '../watch/privilege.ts';
import { startWatchdog } from '../watch/watchdog.ts';
import { DEFAULT_INTERVAL_MS, Watcher } from '../watch/watcher.ts';

export interface WatchCommandOptions {
  intervalMs?: number;
}

/**
 * `sentinel-hook watch`: runs until SIGTERM or SIGINT (then stops listening, lets work in progress
 * end, and leaves the VIP where it is: stopping the service must not move traffic). SIGHUP reloads
 * the config; a bad one is logged and the running one kept.
 */
export async function watchCommand(path: string, opts: WatchCommandOptions): Promise<number> {
  const uid = process.getuid?.() ?? 0;
  const { config, secretFiles, connector } = await prepareConfig(path, uid, process.env);
  const bindings = { run: runId(), watch: true };
  const log = stdoutLogger(config.log.level, bindings);
  const runner = createRunner();
  // Every run of the pipeline withholds the config's secrets before it starts a process.
  const deps = systemDeps(log, runner);
  holdSecretFiles(deps.env, secretFiles);
  // Restarting cannot give it a privilege: a watch that could never act stays failed, said in one line.
  const unprivileged = await privilegeFailure(config, deps);
  if (unprivileged) {
    log.error({ code: unprivileged.code, exitCode: COMMAND_EXIT.unprivileged }, unprivileged.line());
    return COMMAND_EXIT.unprivileged;
  }
  const intervalMs = opts.intervalMs ?? DEFAULT_INTERVAL_MS;
  let lockDirGone = (_dir: string) => {};
  let stateDir = config.stateDir;
  // Only when configured: the client library loads in watch alone, never on the hook's path.
  const served = config.metrics?.listen
    ? await (await import('../watch/metrics.ts')).startMetrics(config.metrics.listen, () => stateDir, log)
    : undefined;
  const watcher = new Watcher(config, deps, log, {
    intervalMs,
    ...(connector ? { connector } : {}),
    ...(served ? { metrics: served.metrics } : {}),
    onLockDirGone: (dir) => lockDirGone(dir),
  });
  // A wedged main loop (issue 15 §5.1 was one) ignores SIGTERM and every failover: killed, it is restarted.
  const watchdog = startWatchdog({
    fields: bindings,
    onFailure: (err) => log.error({ error: err.message }, 'watchdog thread ended; watch goes on without one'),
  });
  let resolveExit: (code: number) => void = () => {};
  const exited = new Promise<number>((resolve) => {
    resolveExit = resolve;
  });
  let stopping = false;
  const stop = (signal: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping; the VIP stays where it is');
    process.off('SIGHUP', reload);
    // Work in progress ends first (a command halfway is let finish); its children are ended after.
    void watcher
      .stop()
      .then(() => runner.stop())
      .then(() => served?.close())
      // Only now: a shutdown that wedges is killed too (systemd's stop timeout would take 90 s).
      .then(() => watchdog.stop())
      .then(() => {
        log.info({ stats: watcher.stats, exitCode }, 'watch end');
        resolveExit(exitCode);
      });
  };
  const reload = () => {
    prepareConfig(path, uid, deps.env)
      .then(async (next) => {
        const unprivileged = await privilegeFailure(next.config, deps);
        if (unprivileged) throw errorOf(unprivileged);
        holdSecretFiles(deps.env, next.secretFiles);
        if (JSON.stringify(next.config.metrics?.listen) !== JSON.stringify(config.metrics?.listen))
          log.warn({ listen: next.config.metrics?.listen }, 'metrics.listen changed: takes effect at the next restart');
        stateDir = next.config.stateDir;
        watcher.reload(next.config, next.connector);
        log.info({ config: path }, 'config reloaded');
      })
      // Whatever fails, and wherever: a reload never ends the service (issue 15 §5.2 did, exit 2).
      .catch((err: unknown) =>
        log.error({ error: errorLine(err), code: codeOf(err) }, 'config reload refused; keeping the running config'),
      );
  };
  // Removed by hand while watch ran: every run would fail on its lock until a restart. Exit 1: the unit
  // restarts watch, and its RuntimeDirectory= makes the directory again first.
  lockDirGone = (dir) => {
    if (stopping) return;
    const gone = failure('lock-dir-gone', { dir });
    log.error({ code: gone.code, lockDir: dir }, gone.line());
    stop('lock directory gone', EXIT.retry);
  };
  // Before "watch start" is said: a SIGTERM from then on (systemd stopping a unit that has just started, a
  // test that waits for the line) is a clean stop, not node's default death by the signal.
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', reload);
  log.info(
    {
      config: path,
      masters: Object.keys(config.masters),
      sentinels: config.sentinels!.addresses,
      intervalMs,
      watchdogMs: watchdog.limitMs,
    },
    'watch start',
  );
  watcher.start();
  return exited;
}

/** Why this process could never act on `config` (see watch/privilege.ts), or undefined. */
async function privilegeFailure(config: HookConfig, deps: ReturnType<typeof systemDeps>): Promise<Failure | undefined> {
  let status = '';
  try {
    status = readFileSync('/proc/self/status', 'utf8');
  } catch {
    return undefined; // no /proc: nothing known, the first run tells
  }
  const own = ownPrivilegeFrom(status, process.geteuid?.() ?? 0);
  const problems = await unprivilegedEntries(config, own, hostView(deps, AbortSignal.timeout(10_000)));
  return problems.length ? failure('watch-unprivileged', { problems }) : undefined;
}

/** A config watch can run on, and what it needs read or made before the first run uses it. */
interface PreparedConfig {
  config: HookConfig;
  /** Its secret files' contents, held for its runs (holdSecretFiles). */
  secretFiles: Map<string, string>;
  /** TLS to the Sentinels, from the certificate files as they are now; absent: plain TCP. */
  connector: Connector | undefined;
}

/**
 * Everything a config needs, done before it is used: the config, its secrets, its TLS files and its
 * lock directory. Any of them failing refuses the whole config: at start the command fails (exit 2
 * for the config and the files it names), on SIGHUP the running config stays, with what it read.
 */
async function prepareConfig(path: string, uid: number, env: NodeJS.ProcessEnv): Promise<PreparedConfig> {
  const config = await loadConfig(path, uid);
  if (!config.sentinels) throw hookError('sentinels-required', { by: 'watch' });
  const secretFiles = readConfigSecrets(config, env);
  const connector = await connectorFor(config);
  // The locks, generations and records every process serving these masters here shares.
  prepareLockDir(config.lockDir, uid);
  return { config, secretFiles, connector };
}

/** TLS to the Sentinels when configured (the files checked first: a bad one is exit 2 before anything starts). */
async function connectorFor(config: HookConfig): Promise<Connector | undefined> {
  const tls = config.sentinels?.tls;
  if (!tls) return undefined;
  const { loadSentinelTls } = await import('../sentinel/tls.ts');
  const loaded = await loadSentinelTls(tls);
  return tlsConnector(await loadNodeTls(), { secureContext: loaded.context, servername: loaded.servername });
}
