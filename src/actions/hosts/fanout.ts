import { nowMs } from '../../clock.ts';
import { delay } from '../../launch.ts';
import { type AttemptOutcome, NotWritten, PermanentTargetError, type TargetResult, type TargetState } from './types.ts';

export interface FanOutLimits {
  concurrency: number;
  /** Per attempt, per target. */
  timeoutMs: number;
  /** Further attempts after a failure that a retry may fix. */
  retries: number;
  remainingMs(): number;
  signal: AbortSignal;
}

/** Pause between attempts: short, the whole run has under a minute. */
const RETRY_PAUSE_MS = 200;
/** An attempt with less time than this left cannot even finish a key exchange: do not start it. */
const MIN_ATTEMPT_MS = 100;

/**
 * Run `attempt` for every target, at most `concurrency` at once. Each target is retried on its own
 * (never more than `retries` times, never past the run's deadline); one target's failure never
 * stops or delays the others. Results come back in the order of `targets`.
 */
export async function fanOut<T extends { label: string }>(
  targets: readonly T[],
  limits: FanOutLimits,
  attempt: (target: T, timeoutMs: number, state: TargetState, signal: AbortSignal) => Promise<AttemptOutcome>,
  onResult?: (result: TargetResult) => void,
): Promise<TargetResult[]> {
  const results: TargetResult[] = new Array(targets.length);
  let next = 0;
  // Each target in progress has its own controller, so its commands and pauses listen there; the
  // run's signal carries one listener for the whole fan-out, removed at its end (one per target made
  // Node warn of a leak past ten, and a long-lived process would keep them). AbortSignal.any would
  // keep every target's signal in the run signal's dependants instead.
  const live = new Set<AbortController>();
  const abortAll = () => {
    for (const c of live) c.abort();
  };
  limits.signal.addEventListener('abort', abortAll, { once: true });
  const worker = async () => {
    // Each worker takes the next target until none is left: bounded by targets.length.
    while (next < targets.length) {
      const index = next++;
      const own = new AbortController();
      if (limits.signal.aborted) own.abort();
      live.add(own);
      try {
        const result = await tryTarget(targets[index]!, limits, own.signal, attempt);
        results[index] = result;
        onResult?.(result);
      } finally {
        live.delete(own);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(limits.concurrency, targets.length)) }, worker));
  } finally {
    limits.signal.removeEventListener('abort', abortAll);
  }
  return results;
}

async function tryTarget<T extends { label: string }>(
  target: T,
  limits: FanOutLimits,
  signal: AbortSignal,
  attempt: (target: T, timeoutMs: number, state: TargetState, signal: AbortSignal) => Promise<AttemptOutcome>,
): Promise<TargetResult> {
  const state: TargetState = { afterOwed: false };
  const started = nowMs();
  const took = () => Math.round(nowMs() - started);
  let lastError = 'not attempted: the run deadline had passed';
  let attempts = 0;
  for (let i = 0; i <= limits.retries; i++) {
    // Whole milliseconds: the figure ends up in messages ("timed out after … ms").
    const timeoutMs = Math.floor(Math.min(limits.timeoutMs, limits.remainingMs()));
    if (signal.aborted || timeoutMs < MIN_ATTEMPT_MS) break;
    attempts++;
    try {
      const outcome = await attempt(target, timeoutMs, state, signal);
      // Never let a later "unchanged" stand for an earlier failed "after".
      if (state.afterOwed)
        throw new Error('the file changed in this run, but its "after" has not succeeded since (still owed)');
      return {
        target: target.label,
        status: outcome.status,
        attempts,
        ms: took(),
        ...(outcome.method ? { method: outcome.method } : {}),
        ...(outcome.note ? { reason: outcome.note } : {}),
      };
    } catch (err) {
      if (err instanceof NotWritten)
        return { target: target.label, status: 'skipped', reason: err.message, attempts, ms: took() };
      lastError = (err as Error).message;
      if (err instanceof PermanentTargetError) break;
    }
    if (i < limits.retries) await delay(Math.min(RETRY_PAUSE_MS * (i + 1), limits.remainingMs()), signal);
  }
  return { target: target.label, status: 'failed', reason: lastError, attempts, ms: took() };
}
