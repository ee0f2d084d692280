import { sleep } from './run.ts';

export class WaitTimeout extends Error {
  constructor(
    readonly what: string,
    readonly attempts: number,
    readonly ms: number,
    readonly last: unknown,
  ) {
    super(
      `timed out waiting for ${what} (${attempts} attempts, ${ms} ms)${last === undefined ? '' : `; last seen: ${describe(last)}`}`,
    );
    this.name = 'WaitTimeout';
  }
}

function describe(value: unknown): string {
  if (value instanceof Error) return value.message;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

export interface WaitOptions {
  /** Give up after this long. Required: no wait in the lab is unbounded. */
  timeoutMs: number;
  /** Pause between probes; default 100 ms. */
  intervalMs?: number;
  /** Give up after this many probes too; default enough for timeoutMs at intervalMs (plus one). */
  maxAttempts?: number;
}

/**
 * Probe until it returns something other than undefined, bounded both in attempts and in time.
 * A probe that throws counts as "not yet" (the thing may still be starting); its error is reported on timeout.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  opts: WaitOptions,
): Promise<T> {
  const interval = opts.intervalMs ?? 100;
  const maxAttempts = opts.maxAttempts ?? Math.ceil(opts.timeoutMs / Math.max(1, interval)) + 1;
  const started = performance.now();
  let last: unknown;
  let attempts = 0;
  while (attempts < maxAttempts) {
    attempts++;
    try {
      const value = await probe();
      if (value !== undefined) return value;
      last = undefined;
    } catch (err) {
      last = err;
    }
    const elapsed = performance.now() - started;
    if (elapsed >= opts.timeoutMs) break;
    await sleep(Math.min(interval, opts.timeoutMs - elapsed));
  }
  throw new WaitTimeout(what, attempts, Math.round(performance.now() - started), last);
}

/** waitFor for a boolean condition. */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean> | boolean,
  opts: WaitOptions,
): Promise<void> {
  await waitFor(what, async () => ((await probe()) ? true : undefined), opts);
}
