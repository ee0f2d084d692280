import { existsSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Command, CommanderError } from 'commander';
import { configPath, loadConfig } from './config/load.ts';
import type { HookConfig } from './config/schema.ts';
import { EXIT, HookError, UsageError, errorLine, exitCodeOf, type ExitCode } from './errors.ts';
import { EVENT_USAGE, parseEvent } from './event.ts';
import { appendToLog, DEFAULT_LOG_FILE, deferredFileLogger, memoryLogger, runId } from './log.ts';
import { hostView } from './pipeline/host.ts';
import { runHook } from './pipeline/run.ts';
import { resultJson, resultText } from './report.ts';
import { createRunner } from './runner.ts';
import { systemDeps } from './system.ts';

interface Io {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  isTty: boolean;
}

/**
 * Straight to the file descriptors: creating process.stdout/stderr streams loads node:stream and
 * friends, milliseconds of every cold start for a few lines of output.
 */
function writeLine(fd: 1 | 2, text: string): void {
  const line = text.endsWith('\n') ? text : `${text}\n`;
  try {
    writeSync(fd, line);
  } catch {
    // EAGAIN on a non-blocking pipe: let the stream queue it.
    (fd === 1 ? process.stdout : process.stderr).write(line);
  }
}

const realIo: Io = {
  out: (t) => writeLine(1, t),
  err: (t) => writeLine(2, t),
  env: process.env,
  // Asked only when needed: node:tty loads node:net, milliseconds a dry-run does not need to pay.
  get isTty() {
    return process.getBuiltinModule('node:tty').isatty(2);
  },
};

/** Parse argv, run one command, and return the exit code Sentinel needs. The only place that knows about exit codes. */
export async function main(argv: readonly string[], io: Io = realIo): Promise<ExitCode> {
  let exitCode: ExitCode = EXIT.ok;
  const fail = (err: unknown) => {
    io.err(`sentinel-hook: ${errorLine(err)}`);
    exitCode = exitCodeOf(err);
  };
  const program = new Command('sentinel-hook')
    .description('Failover hook for Redis Sentinel: client-reconfig-script and notification-script')
    .usage(`[--config FILE] [--dry-run] [--json] ${EVENT_USAGE}`)
    .option('-c, --config <file>', 'config file (default: $SENTINEL_HOOK_CONFIG, else /etc/sentinel-hook/config.yaml)')
    .option('-n, --dry-run', 'observe and print the plan; change nothing')
    .option('--json', 'machine-readable output')
    .argument('[operands...]', EVENT_USAGE)
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError(false)
    // The hook's options stop at a command's name: after it, only that command's own options are
    // known, and anything else is an error rather than a hook option silently taken and ignored.
    .enablePositionalOptions()
    .action(async (operands: string[], opts: { config?: string; dryRun?: boolean; json?: boolean }) => {
      try {
        exitCode = await hookCommand(operands, opts, io);
      } catch (err) {
        fail(err);
      }
    });

  // Before the command name they are still the hook's: no command has a dry-run or JSON output, and
  // `notify` taking --dry-run and ignoring it would really run the notify entries.
  program.hook('preSubcommand', (_hook, command) => {
    const { dryRun, json } = program.opts<{ dryRun?: boolean; json?: boolean }>();
    const flag = dryRun ? '--dry-run' : json ? '--json' : undefined;
    if (flag)
      throw new UsageError(
        `${command.name()} does not take ${flag}`,
        `${flag} is for the hook call with 7 operands; run "sentinel-hook ${command.name()} --help" for what it takes`,
      );
  });

  program
    .command('check')
    .description('validate the config and print what it would do for each master')
    .option('-c, --config <file>', 'config file')
    .action(async (opts: { config?: string }) => {
      try {
        const { checkCommand } = await import('./commands/check.ts');
        const config = await loadConfig(configPath(opts.config ?? program.opts().config, io.env), currentUid());
        let install: string | undefined;
        try {
          install = installDir();
        } catch {
          // started some other way (tests): the ExecPaths check leaves the install out
        }
        const { text, problems } = await checkCommand(config, hostView(systemDeps(memoryLogger()), new AbortController().signal), {
          ...(install ? { installDir: install } : {}),
          node: process.execPath,
        });
        io.out(text);
        if (problems.length > 0) exitCode = EXIT.never;
      } catch (err) {
        fail(err);
      }
    });

  program
    .command('schema')
    .description('print the JSON Schema of the config file (for editors)')
    .action(async () => {
      const { schemaCommand } = await import('./commands/check.ts');
      io.out(schemaCommand());
    });

  program
    .command('sudoers')
    .description('print a sudoers drop-in allowing exactly the commands this config runs with privilege: sudo')
    .requiredOption('-u, --user <name>', 'the user Sentinel runs as, e.g. redis')
    .option('-c, --config <file>', 'config file')
    .option('--check', 'also validate the output with visudo -cf')
    .action(async (opts: { user: string; config?: string; check?: boolean }) => {
      try {
        const { sudoersText, checkSudoers, rootOnlyProgram } = await import('./commands/sudoers.ts');
        const path = configPath(opts.config ?? program.opts().config, io.env);
        const config = await loadConfig(path, currentUid());
        // The same view of the host the planner gets, so the rules match what a run will execute.
        const { runner, which, readFile } = systemDeps(memoryLogger());
        const host = { read: (argv: string[], o?: { timeoutMs?: number }) => runner.run(argv, { timeoutMs: o?.timeoutMs ?? 5000 }), which, readFile };
        const text = await sudoersText(config, { user: opts.user, configPath: path, checkProgram: rootOnlyProgram }, host);
        if (opts.check) io.err(await checkSudoers(text, runner, which));
        io.out(text);
      } catch (err) {
        fail(err);
      }
    });

  program
    .command('systemd')
    .description('print the systemd units (--watch, the default) or the drop-in for redis-sentinel.service (--hook) this config needs')
    .option('-c, --config <file>', 'config file')
    .option('-u, --user <name>', 'the user the services run as', 'redis')
    .option('--watch', 'the recommended setup: watch and reconcile units of their own; Sentinel keeps its sandbox')
    .option('--hook', "a drop-in widening Sentinel's own unit so that it can run the hook")
    .action(async (opts: { config?: string; user: string; watch?: boolean; hook?: boolean }) => {
      try {
        if (opts.watch && opts.hook) throw new UsageError('--watch and --hook exclude each other', 'choose one setup (--watch is recommended)');
        const { systemdFiles, systemdText } = await import('./systemd/units.ts');
        const path = configPath(opts.config ?? program.opts().config, io.env);
        const config = await loadConfig(path, currentUid());
        const { runner, which, readFile } = systemDeps(memoryLogger());
        const host = { read: (argv: string[], o?: { timeoutMs?: number }) => runner.run(argv, { timeoutMs: o?.timeoutMs ?? 5000 }), which, readFile };
        const files = await systemdFiles(
          config,
          { mode: opts.hook ? 'hook' : 'watch', user: opts.user, configPath: resolve(path), installDir: installDir(), node: process.execPath },
          host,
        );
        io.out(systemdText(files));
      } catch (err) {
        fail(err);
      }
    });

  program
    .command('reconcile')
    .description('bring this host in line with what the Sentinels say each master is now (needs "sentinels")')
    .option('-c, --config <file>', 'config file')
    .option('-m, --master <name>', 'only this master')
    .option('-n, --dry-run', 'ask and plan; change nothing')
    .option('--json', 'machine-readable output')
    .option('--announce', "send a VIP's neighbour updates again even where it already is")
    .action(async (opts: { config?: string; master?: string; dryRun?: boolean; json?: boolean; announce?: boolean }) => {
      try {
        const { reconcileCommand } = await import('./commands/reconcile.ts');
        exitCode = await reconcileCommand(
          configPath(opts.config ?? program.opts().config, io.env),
          {
            ...(opts.master !== undefined ? { master: opts.master } : {}),
            dryRun: Boolean(opts.dryRun),
            json: Boolean(opts.json),
            announce: Boolean(opts.announce),
          },
          io,
        );
      } catch (err) {
        fail(err);
      }
    });

  program
    .command('watch')
    .description('keep this host in line with the Sentinels: subscribe to them, act on failovers in-process, reconcile every interval (needs "sentinels")')
    .option('-c, --config <file>', 'config file')
    .option('--interval <duration>', 'reconcile every … (default 10s)')
    .action(async (opts: { config?: string; interval?: string }) => {
      try {
        const { parseDuration } = await import('./values.ts');
        const intervalMs = opts.interval === undefined ? undefined : parseDuration(opts.interval);
        if (intervalMs !== undefined && (intervalMs < 1000 || intervalMs > 3_600_000)) throw new UsageError(`--interval ${opts.interval}: expected 1s to 1h`);
        if (opts.interval !== undefined && intervalMs === undefined)
          throw new UsageError(`--interval ${JSON.stringify(opts.interval)}: expected a duration such as 10s`);
        const { watchCommand } = await import('./commands/watch.ts');
        exitCode = (await watchCommand(configPath(opts.config ?? program.opts().config, io.env), {
          ...(intervalMs !== undefined ? { intervalMs } : {}),
        })) as ExitCode;
      } catch (err) {
        fail(err);
      }
    });

  program
    .command('pause')
    .description('maintenance: watch and reconcile log what they would do and change nothing, until resume')
    .option('-c, --config <file>', 'config file')
    .option('--reason <text>', 'why (shown by reconcile and watch)')
    .action(async (opts: { config?: string; reason?: string }) => {
      try {
        const { pauseCommand } = await import('./commands/pause.ts');
        io.out(await pauseCommand(configPath(opts.config ?? program.opts().config, io.env), true, opts.reason));
      } catch (err) {
        fail(err);
      }
    });

  program
    .command('resume')
    .description('end a pause')
    .option('-c, --config <file>', 'config file')
    .action(async (opts: { config?: string }) => {
      try {
        const { pauseCommand } = await import('./commands/pause.ts');
        io.out(await pauseCommand(configPath(opts.config ?? program.opts().config, io.env), false));
      } catch (err) {
        fail(err);
      }
    });

  program
    .command('notify')
    .description("Sentinel's notification-script: log the event and run the configured notify actions")
    .argument('<event-type>', 'e.g. +switch-master')
    .argument('<description...>', "Sentinel's event description")
    .option('-c, --config <file>', 'config file')
    .configureOutput({
      // Typed by hand, "notify -sdown …" reads as an option: say how to pass it.
      outputError: (text, write) => {
        const flag = /^error: unknown option '(-[a-z][a-z-]+)'/.exec(text)?.[1];
        write(flag ? `${text.trimEnd()} (an event type starting with "-" goes after "--": sentinel-hook notify -- ${flag} '<description>')\n` : text);
      },
    })
    .action(async (eventType: string, description: string[], opts: { config?: string }) => {
      try {
        const { notifyCommand } = await import('./commands/notify.ts');
        exitCode = await notifyCommand(eventType, description.join(' '), configPath(opts.config ?? program.opts().config, io.env), io);
      } catch (err) {
        fail(err);
      }
    });

  program
    // Not for people: bin/sentinel-hook-hosts-write runs it as root under sudo (hosts, privilege: sudo).
    .command('hosts-write', { hidden: true })
    .argument('<file>')
    .argument('<names...>')
    .action(async (file: string, names: string[]) => {
      try {
        const { hostsWrite } = await import('./actions/hosts/privileged.ts');
        const { readFileSync } = await import('node:fs');
        io.out(JSON.stringify(hostsWrite([file, ...names], readFileSync(0, 'utf8'))));
      } catch (err) {
        fail(err);
      }
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version' ? EXIT.ok : EXIT.never;
    }
    fail(err);
  }
  return exitCode;
}

/** The install this CLI runs from (bin/sentinel-hook.cjs is argv[1]): what the units start. */
function installDir(): string {
  const bin = process.argv[1] ? resolve(process.argv[1]) : '';
  if (!bin.endsWith('/bin/sentinel-hook.cjs') || !existsSync(bin)) {
    throw new UsageError(
      `cannot tell where sentinel-hook is installed (started as ${JSON.stringify(process.argv[1])})`,
      'run it as /path/to/sentinel-hook/bin/sentinel-hook.cjs systemd',
    );
  }
  return dirname(dirname(bin));
}

function currentUid(): number {
  return process.getuid?.() ?? 0;
}

async function hookCommand(operands: string[], opts: { config?: string; dryRun?: boolean; json?: boolean }, io: Io): Promise<ExitCode> {
  const event = parseEvent(operands);
  const path = configPath(opts.config, io.env);
  let config: HookConfig;
  try {
    config = await loadConfig(path, currentUid());
  } catch (err) {
    // A dry-run changes nothing, the default log included.
    if (!opts.dryRun) recordEarlyFailure(err, event.master);
    throw err;
  }
  const run = runId();
  const logger = opts.dryRun
    ? memoryLogger()
    : deferredFileLogger(() => ({ file: config.log.file ?? DEFAULT_LOG_FILE, level: config.log.level, tty: io.isTty }), { run, master: event.master });
  const settleLog = async () => {
    if (!('ready' in logger)) return;
    const { warning } = await logger.ready();
    if (warning) io.err(`sentinel-hook: ${warning}`);
  };
  const runner = createRunner();
  const stop = () => {
    void runner.stop().finally(() => {
      logger.error({ exitCode: EXIT.retry }, 'terminated by a signal; children killed');
      if ('flushSync' in logger) logger.flushSync();
      process.exit(EXIT.retry);
    });
  };
  process.once('SIGTERM', stop).once('SIGINT', stop);
  // startupMs: how long the process took to get here (Node itself, loading the bundle, config, logger).
  logger.info({ event, dryRun: Boolean(opts.dryRun), config: path, startupMs: Math.round(performance.now()) }, 'hook start');
  const started = performance.now();
  try {
    const result = await runHook(event, config, systemDeps(logger, runner), { dryRun: Boolean(opts.dryRun) });
    logger.info({ exitCode: result.exitCode, outcome: result.outcome, ms: Math.round(performance.now() - started) }, 'hook end');
    await settleLog();
    if (opts.json) io.out(resultJson(event, result));
    else if (opts.dryRun || io.isTty || result.exitCode !== EXIT.ok) io.out(resultText(event, result).join('\n'));
    return result.exitCode;
  } catch (err) {
    logger.error({ error: errorLine(err), exitCode: exitCodeOf(err), ms: Math.round(performance.now() - started) }, 'hook end');
    await settleLog();
    throw err;
  } finally {
    process.off('SIGTERM', stop).off('SIGINT', stop);
    if ('close' in logger) await logger.close();
  }
}

/**
 * With no readable config we have no log file of our own, and Sentinel discards stderr:
 * leave one JSON line in the default log so the operator is not blind. Best effort.
 */
function recordEarlyFailure(err: unknown, master: string): void {
  if (!(err instanceof HookError)) return;
  appendToLog(DEFAULT_LOG_FILE, `${JSON.stringify({ level: 50, time: new Date().toISOString(), master, msg: err.line(), exitCode: err.exitCode })}\n`);
}
