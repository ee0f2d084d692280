import { type Failure, type FailureCode, failure } from '../failures.ts';
import { canonicalIp } from '../values.ts';
import { nopermFailures, type SentinelAnswer, type SentinelPeer, splitAddress } from './client.ts';

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

/**
 * How many of `answers` name `state`'s master at its epoch: an epoch is recorded once a majority of the
 * configured Sentinels confirm it, not when the leader alone does (watch's fast path).
 */
export function confirmations(answers: readonly SentinelAnswer[], state: MasterState): number {
  return answers.filter(
    (a) =>
      'master' in a &&
      !a.foreign &&
      a.epoch === state.epoch &&
      a.master.ip === state.ip &&
      a.master.port === state.port,
  ).length;
}

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

/** Does `peer` (from SENTINEL SENTINELS) stand for `other`, by run id or by the address it is configured at? */
function isPeer(peer: SentinelPeer, other: SentinelAnswer): boolean {
  if (peer.id && 'id' in other && other.id) return peer.id === other.id;
  const { host, port } = splitAddress(other.address);
  return peer.port === port && canonicalIp(peer.ip) === canonicalIp(host);
}

/**
 * The configured Sentinels that are not of the group the others form, by address. `answers`: one per
 * configured Sentinel, errors included (they are still known by address), with what each told of the
 * others (`peers`, SENTINEL SENTINELS). One whose known Sentinels, with itself, make a majority of the
 * configured ones is of the group; so is any that one of those names (its own list may be unreadable,
 * or not yet hold a rebuilt Sentinel's new id). A Sentinel configured by mistake (another deployment's,
 * for a master of the same name) names none of ours, and none of ours names it. When no Sentinel can be
 * shown to be of the group (none lets us read its list, or they announce other addresses and refuse
 * MYID), nobody is ruled out: as before, every answer counts.
 */
export function foreignSentinels(answers: readonly SentinelAnswer[], configured: number): Set<string> {
  const needed = Math.floor(configured / 2) + 1;
  const names = (a: SentinelAnswer, other: SentinelAnswer) =>
    'peers' in a && a.peers !== undefined && a.address !== other.address && a.peers.some((p) => isPeer(p, other));
  const core = answers.filter(
    (a) => 'peers' in a && a.peers && 1 + answers.filter((other) => names(a, other)).length >= needed,
  );
  if (core.length === 0) return new Set();
  const group = new Set(core.map((a) => a.address));
  for (const a of answers) if (core.some((c) => names(c, a))) group.add(a.address);
  return new Set(answers.filter((a) => !group.has(a.address)).map((a) => a.address));
}

/**
 * "Do no harm": act only on a clear answer. A majority of the configured Sentinels (not of those
 * answering) must answer, and the newest config epoch among the answers must name one address. The
 * newest epoch wins over the majority: between the leader's promotion and the others' switch, the
 * leader alone names the new master at the new epoch while the rest still name the old one. Only the
 * Sentinels of the group count (see foreignSentinels): one configured by mistake, at a higher epoch of
 * its own deployment, would otherwise win against all of them. The answers come back with those marked.
 */
export function decideMaster(answers: readonly SentinelAnswer[], configured: number): Decision {
  const foreign = foreignSentinels(answers, configured);
  const all = answers.map(
    (a): SentinelAnswer => ('master' in a && foreign.has(a.address) ? { ...a, foreign: true } : a),
  );
  const counted = answers.filter((a) => !foreign.has(a.address));
  const needed = Math.floor(configured / 2) + 1;
  const known = counted.flatMap((a) =>
    'master' in a && typeof a.epoch === 'number'
      ? [{ address: a.address, ip: a.master.ip, port: a.master.port, epoch: a.epoch }]
      : [],
  );
  if (known.length < needed) {
    const unsure = failure('sentinels-unsure', { answered: known.length, configured, needed });
    // Sentinels that answered but may not tell us the epoch look like Sentinels that said nothing:
    // say what our ACL user lacks, or the operator looks for a network problem that is not there.
    const gave = new Set(known.map((k) => k.address));
    const refused = nopermFailures(answers.filter((a) => !gave.has(a.address)));
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
  return { clear: true, state: { ip: top.ip, port: top.port, epoch: newest, ...whoAnswered(counted) }, answers: all };
}

function unclear(why: Failure, answers: SentinelAnswer[]): Decision {
  return { clear: false, reason: why.message, code: why.code, answers };
}
