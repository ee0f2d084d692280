import { type Failure, type FailureCode, failure } from '../failures.ts';
import type { SentinelAnswer } from './client.ts';

/** What the Sentinels say a master is now, when they say it clearly. */
export interface MasterState {
  ip: string;
  port: number;
  /** Sentinel's config epoch of the master: it grows with every failover. */
  epoch: number;
}

export type Decision =
  | { clear: true; state: MasterState; answers: SentinelAnswer[] }
  /** `code`: sentinels-unsure or sentinels-disagree (failures.ts); `reason` is its message. */
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
  if (known.length < needed)
    return unclear(failure('sentinels-unsure', { answered: known.length, configured, needed }), all);
  const newest = Math.max(...known.map((k) => k.epoch));
  const named = [...new Set(known.filter((k) => k.epoch === newest).map((k) => `${k.ip}:${k.port}`))];
  if (named.length !== 1) return unclear(failure('sentinels-disagree', { epoch: newest, named }), all);
  const top = known.find((k) => k.epoch === newest)!;
  return { clear: true, state: { ip: top.ip, port: top.port, epoch: newest }, answers: all };
}

function unclear(why: Failure, answers: SentinelAnswer[]): Decision {
  return { clear: false, reason: why.message, code: why.code, answers };
}
