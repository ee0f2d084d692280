import { readFileSync, writeSync } from 'node:fs';
import type { Command as CommanderCommand } from 'commander';
import type * as CliCommands from './cli-commands.ts';
import type { Io, Outcome } from './cli-commands.ts';
import { nowMs } from './clock.ts';
import { configPath, loadConfig, loadConfigFrom } from './config/load.ts';
import type { HookConfig } from './config/schema.ts';
import { type CommandExitCode, EXIT, errorLine, exitCodeOf, HookError, hookError } from './errors.ts';
import { EVENT_USAGE, parseEvent } from './event.ts';
import { appendToLog, DEFAULT_LOG_FILE, deferredFileLogger, memoryLogger, runId } from './log.ts';
import { runHook } from './pipeline/run.ts';
import { resultReport, resultText } from './report.ts';
import { createRunner } from './runner.ts';
import { systemDeps } from './system.ts';

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
export async function main(argv: readonly string[], io: Io = realIo): Promise<CommandExitCode> {
  const hook = hookCall(argv);
  if (hook)
    return finish(io, async () => ({
      outcome: await hookCommand(hook.operands, hook.opts, io),
      json: Boolean(hook.opts.json),
    }));
  return commandLine(argv, io);
}

interface HookOptions {
  config?: string;
  dryRun?: boolean;
  json?: boolean;
  assumeCurrent?: boolean;
}

const ROLES: ReadonlySet<string> = new Set(['leader', 'observer']);

/**
 * Sentinel's call: operands whose second is a role (seven of them, or parseEvent says what is wrong),
 * among the hook's own options. Master names are the user's, so a master named check or notify is
 * still a hook call: this is decided before any command name is looked at. Undefined for anything
 * else, an option the hook does not take included: commander parses that.
 */
export function hookCall(argv: readonly string[]): { operands: string[]; opts: HookOptions } | undefined {
  const operands: string[] = [];
  const opts: HookOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      operands.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '--dry-run') opts.dryRun = true;
    else if (arg === '--json') opts.json = true;
    else if (arg === '--assume-current') opts.assumeCurrent = true;
    else if (arg.startsWith('--config=')) opts.config = arg.slice('--config='.length);
    else if (arg === '--config') {
      if (i + 1 >= argv.length) return undefined;
      opts.config = argv[++i]!;
    } else if (/^-[nc]/.test(arg)) {
      // Short options as commander reads them: -n, -c FILE, -cFILE, -nc FILE.
      for (let j = 1; j < arg.length; j++) {
        if (arg[j] === 'n') opts.dryRun = true;
        else if (arg[j] === 'c') {
          if (j + 1 < arg.length) opts.config = arg.slice(j + 1);
          else if (i + 1 < argv.length) opts.config = argv[++i]!;
          else return undefined;
          break;
        } else return undefined;
      }
    } else if (arg.startsWith('-') && arg !== '-') return undefined;
    else operands.push(arg);
  }
  return ROLES.has(operands[1] ?? '') ? { operands, opts } : undefined;
}

/** The one place where an outcome, or an error, becomes output and an exit code. */
async function finish(io: Io, run: () => Promise<{ outcome: Outcome; json: boolean }>): Promise<CommandExitCode> {
  try {
    const { outcome, json } = await run();
    if (json && outcome.json !== undefined) io.out(JSON.stringify(outcome.json, null, 2));
    else if (outcome.text !== undefined) io.out(outcome.text);
    return outcome.exitCode;
  } catch (err) {
    const shown = err instanceof HookError ? err.shown : undefined;
    io.err(`sentinel-hook: ${errorLine(err)}${shown ? `\n${shown}` : ''}`);
    return exitCodeOf(err);
  }
}

/** Everything but a hook call: the commands, help, --version. commander and the specs load only here. */
async function commandLine(argv: readonly string[], io: Io): Promise<CommandExitCode> {
  const [commander, commands] = await Promise.all([import('commander'), import('./cli-commands.ts')]);
  let done: { outcome: Outcome; json: boolean } | undefined;
  const program = commandProgram(commander, commands, io, (d) => {
    done = d;
  });

  return finish(io, async () => {
    try {
      await program.parseAsync([...argv], { from: 'user' });
    } catch (err) {
      if (!(err instanceof commander.CommanderError)) throw err;
      // commander has printed its message already.
      const shown =
        err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version';
      return { outcome: { exitCode: shown ? EXIT.ok : EXIT.never }, json: false };
    }
    return done ?? { outcome: { exitCode: EXIT.ok }, json: false };
  });
}

/**
 * The commander program: the hook's own options, then one command per spec. What `--help` prints comes
 * from here, and so do docs/reference/commands.md and the man page (scripts/docs.mjs builds it too).
 */
export function commandProgram(
  { Command }: { Command: typeof CommanderCommand },
  { COMMANDS, unknownCommand, versionText }: Pick<typeof CliCommands, 'COMMANDS' | 'unknownCommand' | 'versionText'>,
  io: Io,
  settle: (done: { outcome: Outcome; json: boolean }) => void,
): CommanderCommand {
  const program = new Command('sentinel-hook')
    .description('Failover hook for Redis Sentinel: client-reconfig-script and notification-script')
    .usage(`[--config FILE] [--dry-run] [--json] ${EVENT_USAGE}`)
    .version(versionText(), '-V, --version', 'print the version, the Node it runs on and where it is installed')
    .option('-c, --config <file>', 'config file (default: $SENTINEL_HOOK_CONFIG, else /etc/sentinel-hook/config.yaml)')
    .option('-n, --dry-run', 'observe and print the plan; change nothing')
    .option('--json', 'machine-readable output')
    .option(
      '--assume-current',
      'with --dry-run: plan the event even if the Sentinels call it stale (what a failover to that address would do now)',
    )
    .argument('[operands...]', EVENT_USAGE)
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError(false)
    // The hook's options stop at a command's name: after it, only that command's own options are
    // known, and anything else is an error rather than a hook option silently taken and ignored.
    .enablePositionalOptions()
    // commander leaves it out when the program has an action of its own (the hook).
    .helpCommand(true)
    .action(async (operands: string[], opts: HookOptions) => {
      // Seven operands, or none, are a hook call gone wrong: parseEvent says how. Else a word that is no command.
      if (operands.length > 0 && operands.length !== 7) throw unknownCommand(operands[0]!);
      settle({ outcome: await hookCommand(operands, opts, io), json: Boolean(opts.json) });
    });

  // Before the command name they are still the hook's: no command has a dry-run or JSON output, and
  // `notify` taking --dry-run and ignoring it would really run the notify entries.
  program.hook('preSubcommand', (_hook, command) => {
    const { dryRun, json, assumeCurrent } = program.opts<HookOptions>();
    const flag = dryRun ? '--dry-run' : json ? '--json' : assumeCurrent ? '--assume-current' : undefined;
    if (flag) throw hookError('option-not-for-command', { command: command.name(), flag });
  });

  for (const spec of COMMANDS) {
    const command = program.command(spec.name).description(spec.description);
    for (const [syntax, description] of spec.args ?? []) command.argument(syntax, description);
    for (const o of spec.options ?? []) {
      if (o.required) command.requiredOption(o.flags, o.description);
      else if (o.default !== undefined) command.option(o.flags, o.description, o.default);
      else command.option(o.flags, o.description);
    }
    spec.configure?.(command);
    command.action(async (...received: unknown[]) => {
      const opts = command.opts<{ config?: string; json?: boolean }>();
      const path = configPath(opts.config ?? program.opts<HookOptions>().config, io.env);
      const args = received.slice(0, spec.args?.length ?? 0);
      const outcome = await spec.run({
        args,
        opts,
        configPath: path,
        loadConfig: () => loadConfig(path, currentUid()),
        io,
      });
      settle({ outcome, json: Boolean(opts.json) });
    });
  }
  return program;
}

/**
 * A plugin's privileged helper, run as root under sudo by a script of the install (see
 * bin/sentinel-hook.cjs): an entry of its own, so that no argv of the hook's, whatever a master is
 * named, can become a helper call. What the caller may choose (an address) comes on stdin.
 */
export async function helperMain(name: string, args: readonly string[], io: Io = realIo): Promise<CommandExitCode> {
  return finish(io, async () => {
    const { actionPlugins } = await import('./actions/index.ts');
    const helper = actionPlugins.map((p) => p.helpers).find((h) => h !== undefined && Object.hasOwn(h, name))?.[name];
    if (!helper) throw hookError('helper-unknown', { name });
    return {
      outcome: { exitCode: EXIT.ok, text: JSON.stringify(await helper(args, readFileSync(0, 'utf8'))) },
      json: false,
    };
  });
}

function currentUid(): number {
  return process.getuid?.() ?? 0;
}

async function hookCommand(operands: string[], opts: HookOptions, io: Io): Promise<Outcome> {
  const event = parseEvent(operands);
  // A drill only: a real call that skipped the staleness check could undo a newer failover.
  if (opts.assumeCurrent && !opts.dryRun) throw hookError('assume-current-without-dry-run');
  const path = configPath(opts.config, io.env);
  let config: HookConfig;
  let compiled: true | string;
  try {
    ({ config, compiled } = await loadConfigFrom(path, currentUid()));
  } catch (err) {
    // A dry-run changes nothing, the default log included.
    if (!opts.dryRun) recordEarlyFailure(err, event.master);
    throw err;
  }
  const run = runId();
  const logger = opts.dryRun
    ? memoryLogger()
    : deferredFileLogger(
        () => ({ file: config.log.file ?? DEFAULT_LOG_FILE, level: config.log.level, tty: io.isTty }),
        { run, master: event.master },
      );
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
  // startupMs: how long the process took to get here (Node itself, loading the bundle, config, logger);
  // compiled: true, or why the config was parsed (see config/compiled.ts).
  logger.info(
    { event, dryRun: Boolean(opts.dryRun), config: path, compiled, startupMs: Math.round(nowMs()) },
    'hook start',
  );
  const started = nowMs();
  try {
    const result = await runHook(event, config, systemDeps(logger, runner), {
      dryRun: Boolean(opts.dryRun),
      assumeCurrent: Boolean(opts.assumeCurrent),
    });
    logger.info({ exitCode: result.exitCode, outcome: result.outcome, ms: Math.round(nowMs() - started) }, 'hook end');
    await settleLog();
    if (opts.json) return { exitCode: result.exitCode, json: resultReport(event, result) };
    if (opts.dryRun || io.isTty || result.exitCode !== EXIT.ok)
      return { exitCode: result.exitCode, text: resultText(event, result).join('\n') };
    return { exitCode: result.exitCode };
  } catch (err) {
    logger.error({ error: errorLine(err), exitCode: exitCodeOf(err), ms: Math.round(nowMs() - started) }, 'hook end');
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
  appendToLog(
    DEFAULT_LOG_FILE,
    `${JSON.stringify({ level: 50, time: new Date().toISOString(), master, msg: err.line(), exitCode: err.exitCode })}\n`,
  );
}
