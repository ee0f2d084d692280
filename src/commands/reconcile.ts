import { resultLines } from '../actions/index.ts';
import { nowMs } from '../clock.ts';
import { loadConfig } from '../config/load.ts';
import type { HookConfig } from '../config/schema.ts';
import {
  COMMAND_EXIT,
  type CommandExitCode,
  EXIT,
  type ExitCode,
  errorLine,
  exitCodeOf,
  hookError,
} from '../errors.ts';
import { DEFAULT_LOG_FILE, deferredFileLogger, type Logger, memoryLogger, runId, stdoutLogger } from '../log.ts';
import { describeStep, type ReconcileResult, reconcileMaster } from '../pipeline/run.ts';
import { planText } from '../report.ts';
import { createRunner } from '../runner.ts';
import { prepareLockDir } from '../state/lock.ts';
import { pausedBecause } from '../state/pause.ts';
import { systemDeps } from '../system.ts';

export interface ReconcileCommandOptions {
  master?: string;
  dryRun: boolean;
  json: boolean;
  announce: boolean;
  /** The boot unit's run: a host that cannot be put in line yet for a normal reason is no failure (see bootWarning). */
  boot?: boolean;
  /** Where the log goes: log.file (a run by hand), or JSON lines on stdout for the journal (a unit's run). */
  logTo?: LogDestination;
}

export type LogDestination = 'file' | 'journal';

/**
 * `sentinel-hook reconcile`: bring this host in line with what the Sentinels say each master is now.
 * Masters in parallel, under one deadline. Exit 0 when every master matches (or now does), 1 when
 * one is unsure or a step failed (nothing was guessed), 2 for a problem no retry fixes, 4 when it
 * only planned (--dry-run, or paused) and the host does not match. With --boot, unsure, older-epoch
 * and paused are 0 with one warning line.
 */
export async function reconcileCommand(
  path: string,
  givenOpts: ReconcileCommandOptions,
  io: { err(t: string): void; isTty: boolean },
): Promise<{ exitCode: CommandExitCode; text: string; json: unknown }> {
  const config = await loadConfig(path, process.getuid?.() ?? 0);
  if (!config.sentinels) throw hookError('sentinels-required', { by: 'reconcile' });
  // Paused for maintenance: the pipeline only plans (and says so); the log stays untouched as for a dry-run.
  const paused = pausedBecause(config.stateDir);
  const opts = paused ? { ...givenOpts, dryRun: true } : givenOpts;
  if (!opts.dryRun) prepareLockDir(config.lockDir, process.getuid?.() ?? 0);
  const masters = mastersToReconcile(config, opts.master);
  if (masters.length === 0)
    throw hookError('master-not-in-config', { master: opts.master, known: Object.keys(config.masters) });
  // A unit's run logs to the journal: its ProtectSystem=strict keeps log.file read-only (EROFS).
  const fileLog =
    opts.dryRun || opts.logTo === 'journal'
      ? undefined
      : deferredFileLogger(
          () => ({ file: config.log.file ?? DEFAULT_LOG_FILE, level: config.log.level, tty: io.isTty }),
          { run: runId(), reconcile: true },
        );
  const logger: Logger =
    fileLog ?? (opts.dryRun ? memoryLogger() : stdoutLogger(config.log.level, { run: runId(), reconcile: true }));
  const runner = createRunner();
  // The pipeline withholds every secret of the config before anything starts a process.
  const deps = systemDeps(logger, runner);
  const started = nowMs();
  // An operator's SIGTERM ends the run as its deadline would: every master's work stops, the children
  // get TERM then KILL, and the command still ends through its own return (no process.exit here).
  const terminated = new AbortController();
  const deadline = AbortSignal.any([AbortSignal.timeout(config.deadline), terminated.signal]);
  const remainingMs = () => (terminated.signal.aborted ? 0 : Math.max(0, config.deadline - (nowMs() - started)));
  let stopping: Promise<void> | undefined;
  const stop = () => {
    terminated.abort();
    stopping ??= runner
      .stop()
      .then(() => logger.error({ exitCode: EXIT.retry }, 'terminated by a signal; children killed'));
  };
  process.once('SIGTERM', stop).once('SIGINT', stop);
  try {
    logger.info({ masters, dryRun: opts.dryRun, announce: opts.announce, config: path }, 'reconcile start');
    const results = await Promise.all(
      masters.map((master) =>
        reconcileMaster(master, config, deps, {
          dryRun: opts.dryRun,
          announce: opts.announce,
          signal: deadline,
          remainingMs,
        }).catch(
          (err: unknown): ReconcileResult => ({
            master,
            intent: 'state',
            outcome: 'failed',
            exitCode: exitCodeOf(err),
            reason: errorLine(err),
            answers: [],
            plans: [],
            steps: [],
          }),
        ),
      ),
    );
    await stopping;
    const boot = Boolean(opts.boot);
    const exitCode = reconcileExitCode(results, terminated.signal.aborted, boot);
    const warning = bootWarning(results, boot);
    if (warning) logger.warn({ outcomes: Object.fromEntries(results.map((r) => [r.master, r.outcome])) }, warning);
    logger.info(
      {
        exitCode,
        outcomes: Object.fromEntries(results.map((r) => [r.master, r.outcome])),
        ms: Math.round(nowMs() - started),
      },
      'reconcile end',
    );
    if (fileLog) {
      const { warning } = await fileLog.ready();
      if (warning) io.err(`sentinel-hook: ${warning}`);
    }
    return {
      exitCode,
      text: [
        ...(paused ? [`PAUSED (${paused}): nothing changed; this is what reconcile would do`] : []),
        ...reconcileText(results, exitCode),
      ].join('\n'),
      json: reconcileJson(results, exitCode, paused),
    };
  } finally {
    process.off('SIGTERM', stop).off('SIGINT', stop);
    await fileLog?.close();
  }
}

/** A plan with steps that was only shown: a host not in line. */
function wouldChange(r: ReconcileResult): boolean {
  return r.outcome === 'dry-run' && r.plans.some((p) => p.steps.length > 0);
}

/**
 * What the boot run leaves to watch without failing its unit: the Sentinels' answer unclear (a peer still
 * down after a power cut is the common case), older than this host acted on (a failover under way), or
 * a pause kept across the reboot. Anything else that went wrong is a failure at boot too.
 */
function leftToWatch(r: ReconcileResult): boolean {
  return r.outcome === 'unsure' || r.outcome === 'older-epoch' || (r.paused !== undefined && wouldChange(r));
}

/**
 * One exit code for every master's result. A run that went wrong says so first (the worst of 1 and 2);
 * then "would change": a plan with steps that was only shown is a host not in line, which a monitor
 * running `reconcile --dry-run` must see. At boot (`boot`), what leftToWatch names counts as done.
 */
export function reconcileExitCode(
  results: readonly ReconcileResult[],
  terminated: boolean,
  boot = false,
): CommandExitCode {
  const counted = boot ? results.filter((r) => !leftToWatch(r)) : results;
  const worst = Math.max(EXIT.ok, ...counted.map((r) => r.exitCode)) as ExitCode;
  // Stopped halfway: what is left undone is for a later run, whatever the masters' own outcomes.
  if (terminated && worst === EXIT.ok) return EXIT.retry;
  if (worst !== EXIT.ok) return worst;
  return counted.some(wouldChange) ? COMMAND_EXIT.wouldChange : EXIT.ok;
}

/**
 * The boot run's one warning line for the masters it left as they were (see leftToWatch), or undefined.
 * watch starts at boot too and converges them once the Sentinels agree (or the pause ends).
 */
export function bootWarning(results: readonly ReconcileResult[], boot: boolean): string | undefined {
  const left = boot ? results.filter(leftToWatch) : [];
  if (left.length === 0) return undefined;
  const why = left.map((r) => `${r.master}: ${r.paused ? `paused (${r.paused.trim()})` : (r.reason ?? r.outcome)}`);
  return `boot: left as it is, not a failure (${why.join('; ')}); exit 0: watch converges once the Sentinels agree`;
}

function answerLine(a: ReconcileResult['answers'][number]): string {
  if ('master' in a) {
    const refused = a.noperm?.length ? `refused ${a.noperm.map((n) => n.command).join(', ')} (NOPERM)` : '';
    const epoch = a.epoch !== undefined ? `config epoch ${a.epoch}${refused ? `; ${refused}` : ''}` : '';
    const said = epoch || (refused && `no config epoch: ${refused}`);
    return `  ${a.address}: ${a.master.ip}:${a.master.port}${said ? ` (${said})` : ''}`;
  }
  return `  ${a.address}: ${'refused' in a ? 'REFUSED: ' : 'no answer: '}${a.error}`;
}

export function reconcileText(results: readonly ReconcileResult[], exitCode: CommandExitCode): string[] {
  const lines: string[] = [];
  for (const r of results) {
    lines.push(
      `master ${r.master}: ${r.outcome}${r.state ? ` (${r.state.ip}:${r.state.port}, config epoch ${r.state.epoch})` : ''}${r.reason ? ` - ${r.reason}` : ''}`,
    );
    lines.push(...r.answers.map(answerLine));
    lines.push(...planText(r.plans).map((l) => `  ${l}`));
    for (const step of r.steps) {
      lines.push(
        `  ${step.ok ? 'ok    ' : 'FAILED'} ${step.action}: ${step.description} (${step.durationMs} ms)${step.ok ? (step.summary ? ` - ${step.summary}` : '') : ` - ${step.error}`}`,
      );
      lines.push(...resultLines(step.detail).map((l) => `  ${l}`));
    }
  }
  lines.push(
    `exit ${exitCode}${exitCode === COMMAND_EXIT.wouldChange ? ' (would change: planned above, not applied)' : ''}`,
  );
  return lines;
}

export function reconcileJson(
  results: readonly ReconcileResult[],
  exitCode: CommandExitCode,
  paused?: string,
): unknown {
  return {
    exitCode,
    ...(paused ? { paused } : {}),
    masters: results.map((r) => ({
      master: r.master,
      outcome: r.outcome,
      exitCode: r.exitCode,
      reason: r.reason,
      state: r.state,
      answers: r.answers,
      plans: r.plans.map((p) => ({
        action: p.action,
        note: p.note,
        warnings: p.warnings,
        steps: p.steps.map(describeStep),
      })),
      steps: r.steps,
    })),
  };
}

/** The masters a reconcile covers: one (checked against the config), or all. */
function mastersToReconcile(config: HookConfig, only: string | undefined): string[] {
  if (only === undefined) return Object.keys(config.masters);
  return Object.hasOwn(config.masters, only) ? [only] : [];
}
