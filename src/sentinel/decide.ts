import { type Failure, type FailureCode, failure } from '../failures.ts';
import { nopermFailures, type SentinelAnswer } from './client.ts';

/** What the Sentinels say a master is now, when they say it clearly. */
export interface MasterState {
  ip: string;
  port: number;
  /** Sentinel's config epoch of the master: it grows with every failover. */
  epoch: number;
  /** SENTINEL MYID of the Sentinels that said so, where they told it: epochs order only their own failovers. */
  ids?: string[];
  /** The master's failover-timeout (ms), the largest the Sentinels reported: no failover is under way longer. */
  failoverTimeout?: number;
}

/** Sentinel's own default failover-timeout, for Sentinels that do not report one. */
export const DEFAULT_FAILOVER_TIMEOUT_MS = 180_000;

/** The identities and the failover-timeout among `answers`, for a state. */
export function whoAnswered(answers: readonly SentinelAnswer[]): Pick<MasterState, 'ids' | 'failoverTimeout'> {
  const ids = [...new Set(answers.flatMap((a) => ('id' in a && a.id ? [a.id] : [])))].sort();
  const timeouts = answers.flatMap((a) =>
    'failoverTimeout' in a && a.failoverTimeout !== undefined ? [a.failoverTimeout] : [],
  );
  return { ...(ids.length ? { ids } : {}), ...(timeouts.length ? { failoverTimeout: Math.max(...timeouts) } : {}) };
}

export type Decision =
  | { clear: true; state: MasterState; answers: SentinelAnswer[] }
  /**
   * `code`: sentinels-unsure, sentinel-noperm (too few answers because our ACL user may not ask for the
   * epoch) or sentinels-disagree (failures.ts); `reason` is its message.
   */
  | { clear: false; reason: string; code: FailureCode; answers: SentinelAnswer[] };

/**
 * "Do no harm": act only on a clear answer. A majority of the configured Sentinels (not of those
 * answering) must answer, and the newest config epoch among the answers must name one address. The
 * newest epoch wins over the majority: between the leader's promotion and the others' switch, the
 * leader alone names the new master at the new epoch while the rest still name the old one.
 */
export function decideMaster(answers: readonly SentinelAnswer[], configured: number): Decision {
  const all = [...answers];
  const needed = Math.floor(configured / 2) + 1;
  const known = answers.flatMap((a) =>
    'master' in a && typeof a.epoch === 'number'
      ? [{ address: a.address, ip: a.master.ip, port: a.master.port, epoch: a.epoch }]
      : [],
  );
  if (known.length < needed) {
    const unsure = failure('sentinels-unsure', { answered: known.length, configured, needed });
    // Sentinels that answered but may not tell us the epoch look like Sentinels that said nothing:
    // say what our ACL user lacks, or the operator looks for a network problem that is not there.
    const counted = new Set(known.map((k) => k.address));
    const refused = nopermFailures(answers.filter((a) => !counted.has(a.address)));
    if (refused.length === 0) return unclear(unsure, all);
    return {
      clear: false,
      reason: `${unsure.message}: ${refused.map((f) => f.line()).join('; ')}`,
      code: 'sentinel-noperm',
      answers: all,
    };
  }
  const newest = Math.max(...known.map((k) => k.epoch));
  const named = [...new Set(known.filter((k) => k.epoch === newest).map((k) => `${k.ip}:${k.port}`))];
  if (named.length !== 1) return unclear(failure('sentinels-disagree', { epoch: newest, named }), all);
  const top = known.find((k) => k.epoch === newest)!;
  return { clear: true, state: { ip: top.ip, port: top.port, epoch: newest, ...whoAnswered(answers) }, answers: all };
}

function unclear(why: Failure, answers: SentinelAnswer[]): Decision {
  return { clear: false, reason: why.message, code: why.code, answers };
}
