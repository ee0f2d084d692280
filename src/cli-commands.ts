// The CLI's commands, one spec each: what commander registers, and what each runs. Loaded only when
// the arguments are not a hook call (see cli.ts), and each command's own module only when it runs.
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import type { HookConfig } from './config/schema.ts';
import { COMMAND_EXIT, type CommandExitCode, EXIT, type ExitCode, type HookError, hookError } from './errors.ts';
import { EVENT_USAGE } from './event.ts';
import { memoryLogger } from './log.ts';
import { systemDeps } from './system.ts';
import { editDistance } from './values.ts';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  isTty: boolean;
}

/** What a command ends with; the CLI prints it (text, or json under --json) and exits with exitCode. */
export interface Outcome {
  exitCode: CommandExitCode;
  text?: string;
  json?: unknown;
}

export interface CommandContext<O> {
  /** The command's arguments in the order of its `args`; a variadic one is an array. */
  args: readonly unknown[];
  opts: O;
  /** From --config (given to the command or before it), else $SENTINEL_HOOK_CONFIG, else the default. */
  configPath: string;
  loadConfig(): Promise<HookConfig>;
  io: Io;
}

export interface OptionSpec {
  /** commander's syntax: '-u, --user <name>'. */
  flags: string;
  description: string;
  default?: string;
  required?: boolean;
}

export interface CommandSpec<O = Record<string, unknown>> {
  name: string;
  description: string;
  /** commander's syntax and a description: ['<event-type>', 'e.g. +switch-master']. */
  args?: readonly (readonly [string, string])[];
  options?: readonly OptionSpec[];
  /** What commander needs beyond arguments and options (notify's own error line). */
  configure?(command: Command): void;
  run(ctx: CommandContext<O>): Promise<Outcome>;
}

/** A spec typed by its own options, kept in the one list with the others. */
function command<O>(spec: CommandSpec<O>): CommandSpec {
  return spec as unknown as CommandSpec;
}

const CONFIG: OptionSpec = { flags: '-c, --config <file>', description: 'config file' };

/** The host, read-only, as the planner sees it: sudoers and systemd rules must match what a run executes. */
function readOnlyHost() {
  const { runner, which, readFile } = systemDeps(memoryLogger());
  return {
    runner,
    which,
    host: {
      read: (argv: string[], o?: { timeoutMs?: number }) => runner.run(argv, { timeoutMs: o?.timeoutMs ?? 5000 }),
      which,
      readFile,
    },
  };
}

export const COMMANDS: readonly CommandSpec[] = [
  command<{ config?: string }>({
    name: 'check',
    description: 'validate the config and print what it would do for each master',
    options: [CONFIG],
    async run({ configPath }) {
      const [{ checkCommand }, { hostView }, { compileConfig, configReport, problemText, readConfigFile }] =
        await Promise.all([import('./commands/check.ts'), import('./pipeline/host.ts'), import('./config/load.ts')]);
      const uid = process.getuid?.() ?? 0;
      // Every problem at once, in file order, with its line: a run stops at the first.
      const report = await configReport(readConfigFile(configPath, uid), configPath);
      if (report.problems.length > 0) {
        const count = report.problems.length;
        return {
          exitCode: EXIT.never,
          text: [
            `config ${configPath}: ${count} problem${count === 1 ? '' : 's'}`,
            ...report.problems.map((p) => `  ${problemText(p)}`),
          ].join('\n'),
        };
      }
      const { config, compiled } = await compileConfig(configPath, uid);
      // Started some other way (tests): the ExecPaths check leaves the install out.
      const install = installedAt();
      const { text, problems } = await checkCommand(
        config,
        hostView(systemDeps(memoryLogger()), new AbortController().signal),
        {
          ...(install ? { installDir: install } : {}),
          node: process.execPath,
          nodeVersion: process.versions.node,
        },
      );
      const warnings = report.warnings.map((w) => `warning: ${problemText(w)}`);
      const kept =
        'path' in compiled
          ? `failover path: the config as checked, kept in ${compiled.path}`
          : `failover path: parses the config on every run (${compiled.why})`;
      return { exitCode: problems.length > 0 ? EXIT.never : EXIT.ok, text: [...warnings, text, kept].join('\n') };
    },
  }),
  command({
    name: 'schema',
    description: 'print the JSON Schema of the config file (for editors)',
    async run() {
      const { schemaCommand } = await import('./commands/check.ts');
      return { exitCode: EXIT.ok, text: schemaCommand() };
    },
  }),
  command<{ user: string; check?: boolean }>({
    name: 'sudoers',
    description: 'print a sudoers drop-in allowing exactly the commands this config runs with privilege: sudo',
    options: [
      { flags: '-u, --user <name>', description: 'the user Sentinel runs as, e.g. redis', required: true },
      CONFIG,
      { flags: '--check', description: 'also validate the output with visudo -cf' },
    ],
    async run({ opts, configPath, loadConfig, io }) {
      const { sudoersText, checkSudoers, rootOnlyProgram } = await import('./commands/sudoers.ts');
      const config = await loadConfig();
      const { runner, which, host } = readOnlyHost();
      const text = await sudoersText(config, { user: opts.user, configPath, checkProgram: rootOnlyProgram }, host);
      if (opts.check) io.err(await checkSudoers(text, runner, which));
      return { exitCode: EXIT.ok, text };
    },
  }),
  command<{ user: string; watch?: boolean; hook?: boolean }>({
    name: 'systemd',
    description:
      'print the systemd units (--watch, the default) or the drop-in for redis-sentinel.service (--hook) this config needs',
    options: [
      CONFIG,
      { flags: '-u, --user <name>', description: 'the user the services run as', default: 'redis' },
      {
        flags: '--watch',
        description: 'the recommended setup: watch and reconcile units of their own; Sentinel keeps its sandbox',
      },
      { flags: '--hook', description: "a drop-in widening Sentinel's own unit so that it can run the hook" },
    ],
    async run({ opts, configPath, loadConfig }) {
      if (opts.watch && opts.hook) throw hookError('systemd-mode-conflict');
      const { systemdFiles, systemdText } = await import('./systemd/units.ts');
      const config = await loadConfig();
      const { host } = readOnlyHost();
      const files = await systemdFiles(
        config,
        {
          mode: opts.hook ? 'hook' : 'watch',
          user: opts.user,
          configPath: resolve(configPath),
          installDir: installDir(),
          node: process.execPath,
        },
        host,
      );
      return { exitCode: EXIT.ok, text: systemdText(files) };
    },
  }),
  command<{ master?: string; dryRun?: boolean; json?: boolean; announce?: boolean; boot?: boolean; logTo?: string }>({
    name: 'reconcile',
    description: 'bring this host in line with what the Sentinels say each master is now (needs "sentinels")',
    options: [
      CONFIG,
      { flags: '-m, --master <name>', description: 'only this master' },
      { flags: '-n, --dry-run', description: 'ask and plan; change nothing' },
      { flags: '--json', description: 'machine-readable output' },
      { flags: '--announce', description: "send a VIP's neighbour updates again even where it already is" },
      {
        flags: '--boot',
        description: "the boot unit's run: an unclear answer from the Sentinels (or a pause) exits 0 with a warning",
      },
      { flags: '--log-to <where>', description: 'file (log.file, the default) or journal (JSON lines on stdout)' },
    ],
    async run({ opts, configPath, io }) {
      const { reconcileCommand } = await import('./commands/reconcile.ts');
      if (opts.logTo !== undefined && opts.logTo !== 'file' && opts.logTo !== 'journal')
        throw hookError('option-invalid', {
          option: '--log-to',
          value: JSON.stringify(opts.logTo),
          expected: 'expected file or journal',
          command: 'reconcile',
        });
      const options = {
        dryRun: Boolean(opts.dryRun),
        json: Boolean(opts.json),
        announce: Boolean(opts.announce),
        boot: Boolean(opts.boot),
        logTo: opts.logTo === 'journal' ? ('journal' as const) : ('file' as const),
      };
      return reconcileCommand(
        configPath,
        opts.master !== undefined ? { ...options, master: opts.master } : options,
        io,
      );
    },
  }),
  command<{ master?: string; json?: boolean; grace: string }>({
    name: 'status',
    description:
      'show, per master, what the Sentinels say, what each action observes and whether it matches (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN: a monitoring plugin)',
    options: [
      CONFIG,
      { flags: '-m, --master <name>', description: 'only this master' },
      { flags: '--json', description: 'machine-readable output' },
      {
        flags: '--grace <duration>',
        description: 'an inconsistency younger than this (by the records) is a WARNING, not CRITICAL',
        default: '30s',
      },
    ],
    async run({ opts, loadConfig }) {
      const [{ parseDuration }, { statusCommand }] = await Promise.all([
        import('./values.ts'),
        import('./commands/status.ts'),
      ]);
      try {
        const graceMs = parseDuration(opts.grace);
        if (graceMs === undefined)
          throw hookError('option-invalid', {
            option: '--grace',
            value: JSON.stringify(opts.grace),
            expected: 'expected a duration such as 30s',
            command: 'status',
          });
        return await statusCommand(await loadConfig(), systemDeps(memoryLogger()), {
          graceMs,
          ...(opts.master !== undefined ? { master: opts.master } : {}),
        });
      } catch (err) {
        // A bad option, a config this user may not read, a master not in it: a monitor's UNKNOWN (the
        // monitoring-plugin convention), not the hook's exit 2.
        const { errorLine } = await import('./errors.ts');
        const line = `UNKNOWN: ${errorLine(err)}`;
        return { exitCode: COMMAND_EXIT.unknown, text: line, json: { exitCode: COMMAND_EXIT.unknown, status: line } };
      }
    },
  }),
  command<{ json?: boolean; user?: string; sentinelConf?: string }>({
    name: 'doctor',
    description:
      'check now, live, everything the next failover needs on this host, one line per check with its fix (exit 0 all pass, 1 any fail)',
    options: [
      CONFIG,
      { flags: '--json', description: 'machine-readable output' },
      { flags: '-u, --user <name>', description: 'the user Sentinel runs as, when no running Sentinel or unit says' },
      {
        flags: '--sentinel-conf <file>',
        description: "Sentinel's config (default: its unit's, else /etc/redis/sentinel.conf)",
      },
    ],
    async run({ opts, configPath }) {
      const [{ checkCommand }, { doctorChecks, doctorReport, doctorText }, { hostView }, { loadConfigFrom }] =
        await Promise.all([
          import('./commands/check.ts'),
          import('./commands/doctor.ts'),
          import('./pipeline/host.ts'),
          import('./config/load.ts'),
        ]);
      const loaded = await loadConfigFrom(configPath, process.getuid?.() ?? 0).catch((err: unknown) => err as Error);
      if (loaded instanceof Error) {
        const { errorLine } = await import('./errors.ts');
        const report = doctorReport([
          { check: 'config', result: 'fail', detail: errorLine(loaded), fix: 'see "sentinel-hook check"' },
        ]);
        return { exitCode: report.exitCode, text: doctorText(report), json: report };
      }
      const { config, compiled } = loaded;
      const deps = systemDeps(memoryLogger());
      const install = installedAt();
      // The static half, reused: its problems fail here, its warnings (Sentinel's unit sandbox) warn.
      const { problems, warnings } = await checkCommand(config, hostView(deps, new AbortController().signal), {
        ...(install ? { installDir: install } : {}),
        node: process.execPath,
        nodeVersion: process.versions.node,
      });
      const checks = await doctorChecks(config, deps, {
        configPath: resolve(configPath),
        staticCheck: { problems, warnings },
        ...(opts.user ? { user: opts.user } : {}),
        ...(opts.sentinelConf ? { sentinelConf: opts.sentinelConf } : {}),
        ...(install ? { installDir: install, hookPath: `${install}/hooks/client-reconfig` } : {}),
      });
      // A run parses a config `check` has not compiled: it works, ~10 ms later on the failover path.
      checks.push(
        compiled === true
          ? { check: 'config compiled', result: 'pass', detail: 'runs read the config as check compiled it' }
          : {
              check: 'config compiled',
              result: 'warn',
              detail: `every run parses the config (${compiled.replace(/: run sentinel-hook check$/, '')})`,
              fix: `sentinel-hook check --config ${configPath}`,
            },
      );
      const report = doctorReport(checks);
      return { exitCode: report.exitCode, text: doctorText(report), json: report };
    },
  }),
  command<{ interval?: string }>({
    name: 'watch',
    description:
      'keep this host in line with the Sentinels: subscribe to them, act on failovers in-process, reconcile every interval (needs "sentinels")',
    options: [CONFIG, { flags: '--interval <duration>', description: 'reconcile every … (default 10s)' }],
    async run({ opts, configPath }) {
      const { parseDuration } = await import('./values.ts');
      const intervalMs = opts.interval === undefined ? undefined : parseDuration(opts.interval);
      const invalid = (value: string, expected: string) =>
        hookError('option-invalid', { option: '--interval', value, expected, command: 'watch' });
      if (intervalMs !== undefined && (intervalMs < 1000 || intervalMs > 3_600_000))
        throw invalid(opts.interval!, 'expected 1s to 1h');
      if (opts.interval !== undefined && intervalMs === undefined)
        throw invalid(JSON.stringify(opts.interval), 'expected a duration such as 10s');
      const { watchCommand } = await import('./commands/watch.ts');
      return { exitCode: (await watchCommand(configPath, intervalMs !== undefined ? { intervalMs } : {})) as ExitCode };
    },
  }),
  command<{ master?: string; last: string; json?: boolean }>({
    name: 'log',
    description:
      'the last runs, from the hook log (and the journal of the watch and reconcile units), as a timeline: event, decision, each step with its time, outcome',
    options: [
      CONFIG,
      { flags: '-m, --master <name>', description: 'only this master' },
      { flags: '--last <n>', description: 'how many runs', default: '10' },
      { flags: '--json', description: 'the runs and their records, machine-readable' },
    ],
    async run({ opts, loadConfig }) {
      const last = Number(opts.last);
      if (!Number.isInteger(last) || last < 1 || last > 10_000)
        throw hookError('option-invalid', {
          option: '--last',
          value: JSON.stringify(opts.last),
          expected: 'expected a whole number from 1 to 10000',
          command: 'log',
        });
      const { logCommand, readTail } = await import('./commands/log.ts');
      const config = await loadConfig();
      const { runner, which } = systemDeps(memoryLogger());
      const { text, json } = await logCommand(
        config,
        { last, ...(opts.master !== undefined ? { master: opts.master } : {}) },
        { readFile: (file) => readTail(file), runner, which },
      );
      return { exitCode: EXIT.ok, text, json };
    },
  }),
  command<{ config?: string; master: string }>({
    name: 'forget',
    description:
      "drop this host's records for a master (epoch acted on, once-per-failover, last run): it follows the Sentinels as new",
    options: [CONFIG, { flags: '-m, --master <name>', description: 'the master whose records go', required: true }],
    async run({ opts, configPath }) {
      const { forgetCommand } = await import('./commands/forget.ts');
      return { exitCode: EXIT.ok, text: await forgetCommand(configPath, opts.master) };
    },
  }),
  command<{ reason?: string }>({
    name: 'pause',
    description: 'maintenance: watch and reconcile log what they would do and change nothing, until resume',
    options: [CONFIG, { flags: '--reason <text>', description: 'why (shown by reconcile and watch)' }],
    async run({ opts, configPath }) {
      const { pauseCommand } = await import('./commands/pause.ts');
      return { exitCode: EXIT.ok, text: await pauseCommand(configPath, true, opts.reason) };
    },
  }),
  command({
    name: 'resume',
    description: 'end a pause',
    options: [CONFIG],
    async run({ configPath }) {
      const { pauseCommand } = await import('./commands/pause.ts');
      return { exitCode: EXIT.ok, text: await pauseCommand(configPath, false) };
    },
  }),
  command({
    name: 'notify',
    description: "Sentinel's notification-script: log the event and run the configured notify actions",
    args: [
      ['<event-type>', 'e.g. +switch-master'],
      ['<description...>', "Sentinel's event description"],
    ],
    options: [CONFIG],
    configure(cmd) {
      cmd.configureOutput({
        // Typed by hand, "notify -sdown …" reads as an option: say how to pass it.
        outputError: (text, write) => {
          const flag = /^error: unknown option '(-[a-z][a-z-]+)'/.exec(text)?.[1];
          write(
            flag
              ? `${text.trimEnd()} (an event type starting with "-" goes after "--": sentinel-hook notify -- ${flag} '<description>')\n`
              : text,
          );
        },
      });
    },
    async run({ args, configPath, io }) {
      const [eventType, description] = args as [string, string[]];
      const { notifyCommand } = await import('./commands/notify.ts');
      return { exitCode: await notifyCommand(eventType, description.join(' '), configPath, io) };
    },
  }),
];

/** A word where a command's name was expected, and not the start of a hook call. */
export function unknownCommand(word: string): HookError {
  const names = COMMANDS.map((c) => c.name);
  const near =
    names.find((n) => word.length >= 3 && n.startsWith(word)) ??
    names.find((n) => editDistance(word, n) <= Math.min(2, n.length >> 1));
  return hookError('command-unknown', { word: word.replace(/[\x00-\x1f\x7f]/g, '?'), near, names, usage: EVENT_USAGE });
}

/** Set by scripts/build.mjs (esbuild define) from package.json; absent when run from source. */
declare const SENTINEL_HOOK_VERSION: string | undefined;

/** `--version`: which build, on which Node, from which install: what a bug report needs first. */
export function versionText(): string {
  const version = typeof SENTINEL_HOOK_VERSION === 'string' ? SENTINEL_HOOK_VERSION : 'unbuilt (run from source)';
  const install = installedAt() ?? `unknown (started as ${JSON.stringify(process.argv[1] ?? '')})`;
  return [`sentinel-hook ${version}`, `node ${process.version} (${process.execPath})`, `installed in ${install}`].join(
    '\n',
  );
}

/** The install this CLI runs from (bin/sentinel-hook.cjs is argv[1]), if it was started that way. */
function installedAt(): string | undefined {
  const bin = process.argv[1] ? resolve(process.argv[1]) : '';
  return bin.endsWith('/bin/sentinel-hook.cjs') && existsSync(bin) ? dirname(dirname(bin)) : undefined;
}

/** The install, for what the units start: refused when unknown rather than guessed. */
function installDir(): string {
  const install = installedAt();
  if (!install) throw hookError('install-unknown', { startedAs: process.argv[1] });
  return install;
}
