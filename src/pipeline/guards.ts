// Which guard applies to which intent, in one table, and the one place that builds what the applier
// checks before each step, burst and write. Every command reaches the host through these.
import type { ApplyContext } from '../actions/plugin.ts';
import { nowMs } from '../clock.ts';
import type { HookConfig } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import { acquireLock } from '../state/lock.ts';
import type { PipelineDeps } from './deps.ts';
import { addressCheck, sentinelAsk } from './host.ts';

/** What a run is for. Commands choose one; the pipeline does the rest. */
export type IntentKind = 'event' | 'state' | 'release' | 'reannounce' | 'notify';

export interface Guards {
  /**
   * claim: this run is the newest for the master here, older runs stop their pending changes; follow:
   * stop as soon as a newer run claims (work that is no failover of its own); none for a dry-run.
   */
  generation: 'claim' | 'follow';
  /** One run per master per host: wait for the master's lock. */
  lock: boolean;
  /** Ask the Sentinels whether the Sentinel call is still current before acting (a late retry is stale). */
  freshness: boolean;
  /** Never act on a config epoch older than this host acted on (a failover under way looks like that). */
  epochFloor: boolean;
  /** `pause` turns the run into a dry-run (maintenance): the Sentinel's own call is not paused. */
  pausable: boolean;
  /** Before each remote write (a push): do the Sentinels still name this run's master? */
  stillCurrent: boolean;
  /** Before a delayed burst: a majority of the Sentinels name this host master (sentinel/holder.ts). */
  mayAnnounce: boolean;
  /** Record what this host now matches (the acted epoch, exec's once-per-failover). */
  record: boolean;
}

export const GUARDS: Record<IntentKind, Guards> = {
  //           generation          lock   freshness epochFloor pausable stillCurrent mayAnnounce record
  event: {
    generation: 'claim',
    lock: true,
    freshness: true,
    epochFloor: false,
    pausable: false,
    stillCurrent: true,
    mayAnnounce: true,
    record: true,
  },
  state: {
    generation: 'follow',
    lock: true,
    freshness: false,
    epochFloor: true,
    pausable: true,
    stillCurrent: true,
    mayAnnounce: true,
    record: true,
  },
  release: {
    generation: 'follow',
    lock: true,
    freshness: false,
    epochFloor: false,
    pausable: true,
    stillCurrent: false,
    mayAnnounce: false,
    record: false,
  },
  reannounce: {
    generation: 'follow',
    lock: false,
    freshness: false,
    epochFloor: false,
    pausable: false,
    stillCurrent: false,
    mayAnnounce: true,
    record: false,
  },
  // notify's own entries: the user's alerting, not the master's state: they run to the end whatever happens.
  notify: {
    generation: 'follow',
    lock: false,
    freshness: false,
    epochFloor: false,
    pausable: false,
    stillCurrent: false,
    mayAnnounce: false,
    record: false,
  },
};

/**
 * The one rule for every announcement after a failover's first burst (a delayed burst, a re-announce,
 * whoever runs it: hook, reconcile, watch, notify): a majority of the configured Sentinels name this
 * host master (sentinel/holder.ts). Why not, when they do not.
 */
export function announceGuard(
  master: string,
  sentinels: NonNullable<HookConfig['sentinels']>,
  deps: PipelineDeps,
  signal: AbortSignal,
  log: Logger,
): () => Promise<string | undefined> {
  return async () => {
    const { majorityNamesThisHost } = await import('../sentinel/holder.ts');
    const verdict = await majorityNamesThisHost(master, sentinels, sentinelAsk(deps, signal), signal);
    log.info(
      { votes: verdict.votes, needed: verdict.needed, answers: verdict.answers },
      'do the Sentinels name this host master (before announcing again)',
    );
    return verdict.thisHost
      ? undefined
      : `${verdict.votes} of ${sentinels.addresses.length} Sentinels name this host master, ${verdict.needed} needed`;
  };
}

const CURRENT_REUSE_MS = 250;

/**
 * Do the Sentinels still name `target` master? Asked before each remote write, since another host may
 * have pushed a newer failover's address there already. One question serves concurrent pushes for a
 * moment. Why not, when they do not.
 */
export function stillCurrentGuard(
  target: { master: string; toIp: string; toPort: number },
  addresses: readonly string[],
  sentinels: NonNullable<HookConfig['sentinels']>,
  deps: PipelineDeps,
  signal: AbortSignal,
  log: Logger,
): () => Promise<string | undefined> {
  let recent: { at: number; answer: Promise<string | undefined> } | undefined;
  return () => {
    if (recent && nowMs() - recent.at < CURRENT_REUSE_MS) return recent.answer;
    const answer = (async () => {
      const { checkFreshness } = await import('../sentinel/client.ts');
      const f = await checkFreshness(target, addresses, { ...sentinels, settle: 0 }, deps.env, {
        ...(deps.askSentinel ? { ask: deps.askSentinel } : {}),
        resolve: (host, s) => deps.resolve(host, s),
        signal,
      });
      if (f.verdict !== 'stale') return undefined;
      log.warn(
        { answers: f.answers },
        `the run went stale: no Sentinel names ${target.toIp}:${target.toPort} master any more`,
      );
      return `no Sentinel names ${target.toIp}:${target.toPort} master any more (a newer failover)`;
    })();
    recent = { at: nowMs(), answer };
    return answer;
  };
}

export interface ApplySetup {
  guards: Guards;
  master: string;
  lockDir: string;
  signal: AbortSignal;
  /** The deadline alone: what ends a command already running (see ApplyContext.commandSignal). */
  commandSignal: AbortSignal;
  /** See ApplyContext.stopSignal. */
  stopSignal?: AbortSignal;
  remainingMs(): number;
  log: Logger;
  superseded?: () => string | undefined;
  /** The master this run acts for, for stillCurrent; absent for release and re-announce. */
  target?: { ip: string; port: number; addresses: readonly string[] };
}

/** The one place an apply context is built: the intent's guards, wired to this run. */
export function applyContext(config: HookConfig, deps: PipelineDeps, s: ApplySetup): ApplyContext {
  const sentinels = config.sentinels;
  return {
    runner: deps.runner,
    signal: s.signal,
    logger: s.log,
    remainingMs: s.remainingMs,
    ...(s.guards.lock
      ? {
          lock: (resource, waitMs) =>
            acquireLock(s.lockDir, resource, Math.min(waitMs, s.remainingMs()), s.signal, resource),
        }
      : {}),
    ...(s.superseded ? { superseded: s.superseded, commandSignal: s.commandSignal } : {}),
    ...(s.stopSignal ? { stopSignal: s.stopSignal } : {}),
    holdsAddress: addressCheck(deps, s.signal),
    ...(sentinels && s.guards.mayAnnounce
      ? { mayAnnounce: announceGuard(s.master, sentinels, deps, s.signal, s.log) }
      : {}),
    ...(sentinels && s.guards.stillCurrent && s.target
      ? {
          stillCurrent: stillCurrentGuard(
            { master: s.master, toIp: s.target.ip, toPort: s.target.port },
            s.target.addresses,
            sentinels,
            deps,
            s.signal,
            s.log,
          ),
        }
      : {}),
  };
}
