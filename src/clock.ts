/**
 * Milliseconds since this process started, on a clock that only moves forward: what performance.now()
 * gives, without touching the `performance` global, whose first use loads node:perf_hooks and its
 * helpers (about 1 ms of a cold start, on Sentinel's failover path). watch keeps performance.now().
 */
export function nowMs(): number {
  return process.uptime() * 1000;
}
