import { join } from 'node:path';
import { processStart, readSmallFile, writeSmallFile } from './files.ts';

/**
 * Which event for a master started last on this host: `<lockDir>/<master>.gen` holds the token of
 * the newest run. A run writes its token there as it starts, before it waits for the master's lock,
 * and from then on every change it makes first checks that the token is still its own. A newer event
 * thus stops an older run's pending work (its second ARP burst, a push still retrying) at once,
 * instead of waiting behind it, and the older run never announces or writes what the newer one has
 * undone. A file, not something in memory: hook runs are separate processes, and so will be `watch`.
 */
export interface Generation {
  /** Why this run must make no further change (a newer event for this master started here), if it must. */
  superseded(): string | undefined;
  /** Aborted within POLL_MS of a newer run's start. */
  readonly signal: AbortSignal;
  stop(): void;
  /**
   * The config epoch the newest run claimed for (undefined: unknown, or none claimed since): a run
   * overtaken by one for the same failover (watch taking over the hook's) need not stop what it started.
   */
  claimantEpoch(): number | undefined;
}

/** How often a run looks for a newer one: a newer event waits at most this long for the older run to let go. */
export const POLL_MS = 10;

let counter = 0;

function genPath(dir: string, master: string): string {
  return join(dir, `${encodeURIComponent(master)}.gen`);
}

/** Undefined when gone (a reboot emptied /run: no newer run wrote one) or not a plain file. */
function read(path: string): string | undefined {
  return readSmallFile(path);
}

function follow(path: string, mine: string | undefined): Generation {
  const controller = new AbortController();
  let reason: string | undefined;
  const check = (): string | undefined => {
    if (reason) return reason;
    const now = read(path);
    if (now !== undefined && now !== mine) {
      reason = 'a newer event for this master started on this host';
      controller.abort(new Error(reason));
      clearInterval(timer);
    }
    return reason;
  };
  const timer = setInterval(check, POLL_MS);
  // Never what keeps a finished run alive.
  timer.unref();
  const claimantEpoch = () => {
    const field = read(path)?.trim().split(' ')[4];
    return field !== undefined && /^\d+$/.test(field) ? Number(field) : undefined;
  };
  return { superseded: check, signal: controller.signal, stop: () => clearInterval(timer), claimantEpoch };
}

/**
 * Start a new generation for `master`: this run is now the newest, and every older run still going
 * stops its changes. Written by rename, so a reader sees the old token or the new one, never half.
 */
export function claimGeneration(dir: string, master: string, epoch?: number): Generation {
  const path = genPath(dir, master);
  const start = processStart(process.pid) ?? '';
  const token = `${process.pid} ${start} ${Date.now()} ${counter++}${epoch === undefined ? '' : ` ${epoch}`}\n`;
  writeSmallFile(path, token);
  return follow(path, token);
}

/**
 * Follow `master`'s generation without starting one: for work that is not a failover event of its
 * own (a re-announce after -sdown), which must stop as soon as one starts.
 */
export function observeGeneration(dir: string, master: string): Generation {
  const path = genPath(dir, master);
  return follow(path, read(path));
}
