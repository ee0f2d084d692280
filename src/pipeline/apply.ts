import type { ActionPlan, ApplyContext, Step } from '../actions/plugin.ts';
import { nowMs } from '../clock.ts';
import { codeOf } from '../errors.ts';
import { Failure, type FailureCode, failure } from '../failures.ts';
import { commandFailure, delay, runArgv } from '../launch.ts';

export interface StepOutcome {
  action: string;
  description: string;
  ok: boolean;
  durationMs: number;
  /** Why it failed, one line. */
  error?: string;
  /** Why it failed, as the catalogue's code (failures.ts) where one is known: match this, not `error`. */
  code?: FailureCode;
  /** The task's own summary or result (per-target results of a push, say). */
  summary?: string;
  detail?: unknown;
  /** Left out, or stopped and not counted as failed, because a newer event for the master started on this host. */
  superseded?: string;
  /** Failed in a way no retry can fix (or skipped after such a failure): see TaskOutcome. */
  permanent?: boolean;
}

/**
 * How long a command step marked `onSuperseded: 'stop'` has between TERM and KILL once a newer run for
 * its master supersedes this one. Long enough for a well-behaved script's TERM trap (remove a temp
 * file, release its own lock, log a line, end its children; milliseconds, ten times the 200 ms a
 * timeout gives) and for sudo to relay TERM to what it runs as root; short against the newer run,
 * which waits that long at most for the master's lock out of its own deadline (45 s by default; an
 * exec's own timeout is 10 s by default): it keeps its budget.
 */
export const SUPERSEDED_STOP_GRACE_MS = 2000;

export interface ApplyOptions {
  /** Absolute path of sudo, when some step is privileged. */
  sudo: string | undefined;
  /** A step succeeded: the first one puts the failover's first change in place (a VIP added); watch times it. */
  onStepDone?: () => void;
}

/**
 * Apply plans in config order. Within an action, steps run one after another and the first failure
 * skips the rest of that action (no ARP for an address that was not added); other actions go on.
 * A step with deferMs starts that long after its predecessor, in the background, while later
 * actions proceed; everything is awaited before returning, all under the run's deadline signal.
 */
export async function applyPlans(
  plans: readonly ActionPlan[],
  ctx: ApplyContext,
  opts: ApplyOptions,
): Promise<StepOutcome[]> {
  const outcomes: StepOutcome[] = [];
  const background: Promise<void>[] = [];
  for (const plan of plans) {
    const log = ctx.logger.child({ action: plan.action });
    const runChain = async (steps: readonly Step[], startIndex: number): Promise<void> => {
      for (let i = startIndex; i < steps.length; i++) {
        const step = steps[i]!;
        if (step.deferMs && i > startIndex) {
          background.push(delay(step.deferMs, ctx.signal).then(() => runChain(steps, i)));
          return;
        }
        const outcome = await applyStep(plan.action, step, ctx, opts);
        outcomes.push(outcome);
        if (outcome.superseded) {
          log.info({ step: step.description, reason: outcome.superseded }, 'step not done: superseded');
          return;
        }
        if (outcome.ok) {
          log.info({ step: step.description, ms: outcome.durationMs, result: outcome.summary }, 'step done');
          opts.onStepDone?.();
        } else log.error({ step: step.description, ms: outcome.durationMs, error: outcome.error }, 'step failed');
        if (!outcome.ok) {
          for (const skipped of steps.slice(i + 1)) {
            // A retry would skip it again for the same reason: it is as permanent as that failure.
            outcomes.push({
              action: plan.action,
              description: skipped.description,
              ok: false,
              durationMs: 0,
              error: 'skipped: an earlier step of this action failed',
              ...(outcome.permanent ? { permanent: true } : {}),
            });
          }
          return;
        }
      }
    };
    await runChain(plan.steps, 0);
  }
  await Promise.all(background);
  return outcomes;
}

async function applyStep(action: string, step: Step, ctx: ApplyContext, opts: ApplyOptions): Promise<StepOutcome> {
  const outcome = await applyStepOnce(action, step, ctx, opts);
  // A step killed or refused because a newer event overtook this run did what it should: stop.
  const superseded = outcome.ok ? undefined : ctx.superseded?.();
  return superseded ? { ...outcome, ok: true, superseded } : outcome;
}

async function applyStepOnce(action: string, step: Step, ctx: ApplyContext, opts: ApplyOptions): Promise<StepOutcome> {
  const base = { action, description: step.description };
  const started = nowMs();
  const took = () => Math.round(nowMs() - started);
  const superseded = ctx.superseded?.();
  if (superseded) return { ...base, ok: true, durationMs: 0, superseded };
  if (ctx.signal.aborted) return { ...base, ...failed(failure('deadline-passed')), durationMs: 0 };
  if (step.kind === 'task') {
    try {
      const result = await step.run(ctx);
      return {
        ...base,
        ok: result.ok,
        durationMs: took(),
        summary: result.summary,
        ...(result.ok
          ? {}
          : {
              error: result.summary,
              ...(result.code ? { code: result.code } : {}),
              ...(result.permanent ? { permanent: true } : {}),
            }),
        detail: result.detail,
      };
    } catch (err) {
      const code = codeOf(err);
      return { ...base, ok: false, durationMs: took(), error: (err as Error).message, ...(code ? { code } : {}) };
    }
  }
  // Once superseded, a step its plugin lets stop ends (TERM, KILL after the grace) and frees the newer
  // run; any other runs on to its end or the deadline (see CommandStep.onSuperseded).
  const stop =
    step.onSuperseded === 'stop' && ctx.commandSignal
      ? { stop: { signal: ctx.stopSignal ?? ctx.signal, graceMs: SUPERSEDED_STOP_GRACE_MS } }
      : {};
  const ran = await runArgv(
    step.argv,
    {
      privileged: step.privileged,
      sudo: opts.sudo,
      timeoutMs: step.timeoutMs,
      ...(step.env ? { env: step.env } : {}),
      ...stop,
    },
    ctx.commandSignal ? { ...ctx, signal: ctx.commandSignal } : ctx,
  );
  if (ran instanceof Failure) return { ...base, ...failed(ran), durationMs: 0 };
  const { result, timeoutMs } = ran;
  const ok =
    !result.timedOut &&
    (result.exitCode === 0 || (result.exitCode !== undefined && (step.okExitCodes ?? []).includes(result.exitCode)));
  if (ok) return { ...base, ok, durationMs: result.durationMs };
  return {
    ...base,
    ...failed(commandFailure(step.argv, result, step.privileged, timeoutMs)),
    durationMs: result.durationMs,
  };
}

function failed(f: Failure): Pick<StepOutcome, 'ok' | 'error' | 'code'> {
  return { ok: false, error: f.line(), code: f.code };
}
