// What the push's parts share (the fan-out, its two transports, the runner, the report's table):
// shapes only, in their own module, so that none of them imports another for a type.

/** What one successful attempt did to one target. */
export interface AttemptOutcome {
  status: 'changed' | 'unchanged';
  /** How the file was replaced: rename (atomic) or in-place (rename impossible there). */
  method?: 'rename' | 'in-place';
  note?: string;
}

/** A failure that the same attempt a second later would meet again (host key, authentication, no file): not retried in this run. */
export class PermanentTargetError extends Error {}

/** Nothing written, on purpose: a newer event has taken over (the message says which way). Not a failure, never retried. */
export class NotWritten extends Error {}

/**
 * Asked right before a target's file is written: why this run may no longer write, if it may not. The
 * leader of the next failover may be another host that has pushed the newer address already.
 */
export type WriteGate = () => Promise<string | undefined>;

/**
 * What one target's attempts in this run share. `afterOwed`: this run changed the file and its
 * `after` has not succeeded since — a retry that finds the file right must run it all the same, and
 * the target is not done (the run exits 1) until it has.
 */
export interface TargetState {
  afterOwed: boolean;
}

/** One row of the per-target table: the log, the CLI table and --json all show these. */
export interface TargetResult {
  target: string;
  /** skipped: not written, because this run's event is no longer the one to act on (see NotWritten). */
  status: 'changed' | 'unchanged' | 'failed' | 'skipped';
  /** Why it failed; or how it was written. */
  reason?: string;
  method?: 'rename' | 'in-place';
  attempts: number;
  ms: number;
}
