// The marker record this action owns beside each name: `_sentinel-hook.<name>` TXT, holding the config
// epoch, the master it acted on and the Sentinels that said so. An update replaces the name's addresses and its marker together,
// on condition that the marker is still what this run saw: so an older run that lost a race, or a
// retry hours late, fails that condition in the server itself instead of writing an older address.
import type { AddressType } from './message.ts';

export const MARKER_LABEL = '_sentinel-hook';
const FORMAT = 'sentinel-hook=1';

export function markerName(name: string): string {
  return `${MARKER_LABEL}.${name}`;
}

/** What a marker says. */
export interface Marker {
  /** Absent: written by a run that did not know it. */
  epoch?: number;
  /** Without an epoch: the epoch of the marker it replaced, which it is newer than. */
  after?: number;
  master?: string;
  /** The master as Sentinel named it, ip:port. */
  to?: string;
  /** Short ids (SENTINEL MYID's first ID_CHARS) of the Sentinels, a majority of them, that named the master. */
  sentinels?: string[];
  /** When it was written, seconds since the epoch. */
  at?: number;
}

/**
 * A prefix of each id: a TXT string holds 255 bytes, 40-hex ids of 7 Sentinels do not fit, and 12 hex
 * digits tell one set of Sentinels from another (a chance collision of two random ids is 1 in 2^48).
 */
const ID_CHARS = 12;

export interface MarkerFacts {
  epoch: number | undefined;
  /** See Marker.after. */
  after?: number | undefined;
  master: string;
  to: string;
  /** Desired.sentinels: full ids, written short. */
  sentinels?: readonly string[] | undefined;
  at: number;
}

export function markerStrings(f: MarkerFacts): string[] {
  const order = f.epoch === undefined && f.after !== undefined ? [`after=${f.after}`] : [];
  // A TXT string holds 255 bytes; only `to` (a host name under announce-hostnames) can be longer, and it
  // is there for people.
  const who = f.sentinels?.length ? [`sentinels=${f.sentinels.map((id) => id.slice(0, ID_CHARS)).join(',')}`] : [];
  return [FORMAT, `epoch=${f.epoch ?? 'none'}`, ...order, `master=${f.master}`, `to=${f.to}`, ...who, `at=${f.at}`].map(
    (x) => x.slice(0, 255),
  );
}

/** The marker's TXT strings read back; undefined when they are not a marker of this format. */
export function parseMarker(strings: readonly string[]): Marker | undefined {
  if (strings[0] !== FORMAT) return undefined;
  const fields = new Map(
    strings.slice(1).flatMap((s) => {
      const eq = s.indexOf('=');
      return eq > 0 ? [[s.slice(0, eq), s.slice(eq + 1)] as const] : [];
    }),
  );
  const int = (v: string | undefined) => (v !== undefined && /^\d{1,15}$/.test(v) ? Number(v) : undefined);
  const epoch = int(fields.get('epoch'));
  const after = int(fields.get('after'));
  const at = int(fields.get('at'));
  const master = fields.get('master');
  const to = fields.get('to');
  const sentinels = fields
    .get('sentinels')
    ?.split(',')
    .filter((id) => /^[0-9a-f]{1,40}$/.test(id));
  return {
    ...(epoch !== undefined ? { epoch } : {}),
    ...(epoch === undefined && after !== undefined ? { after } : {}),
    ...(master ? { master } : {}),
    ...(to ? { to } : {}),
    ...(sentinels?.length ? { sentinels } : {}),
    ...(at !== undefined ? { at } : {}),
  };
}

/** One name as the server holds it. */
export interface NameState {
  name: string;
  addresses: { type: AddressType; address: string; ttl: number }[];
  /** The marker's records exactly as held (strings as latin1 text): the update's prerequisite. */
  markerRecords: string[][];
}

/** The marker a name's records say, the newest epoch when there are several (hand-made) records. */
export function markerOf(state: NameState): Marker | undefined {
  const markers = state.markerRecords.map(parseMarker).filter((m): m is Marker => m !== undefined);
  return markers.sort((a, b) => (b.epoch ?? -1) - (a.epoch ?? -1))[0];
}

export interface Want {
  epoch: number | undefined;
  /** Canonical address text by record type. */
  addresses: { type: AddressType; address: string }[];
  /** A majority of the Sentinels decided it (reconcile, watch), not one Sentinel's call. */
  fromState: boolean;
  /** Desired.sentinels. */
  sentinels?: readonly string[] | undefined;
}

export type Verdict =
  | { kind: 'update'; warning?: string }
  | { kind: 'nothing'; why: string }
  | { kind: 'newer'; epoch: number; why: string };

const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);

/** Where a marker stands in the order of failovers: its epoch, or just after the one it replaced. */
function orderOf(m: Marker | undefined): number | undefined {
  return m?.epoch ?? (m?.after === undefined ? undefined : m.after + 0.5);
}

/**
 * The epoch a run that does not know its own writes as `after`: the newest the markers hold. A run
 * without an epoch acts because the core found its master current (or there are no Sentinels to ask);
 * its marker keeps every run at that epoch or older from writing after it.
 */
export function floorOf(states: readonly NameState[]): number | undefined {
  const orders = states.map((s) => orderOf(markerOf(s))).filter((o): o is number => o !== undefined);
  return orders.length ? Math.floor(Math.max(...orders)) : undefined;
}

/**
 * Whether to write, from what the server holds. Never back to an older epoch: a marker at a newer one
 * means a newer failover moved the names already, unless the Sentinels that wrote it are gone. A rebuilt
 * set of Sentinels starts its epochs again from 0: their ids tell at once (none shared with the marker's),
 * and where either side lacks them (an ACL without MYID, a run one Sentinel confirmed) time does: a
 * failover is over within its failover-timeout, so a majority answer that stays older than a marker
 * written longer than `rebuiltAfterMs` ago is the truth (the rule the core applies to its own records).
 */
export function decide(states: readonly NameState[], want: Want, nowSeconds: number, rebuiltAfterMs: number): Verdict {
  const key = (x: { type: string; address: string }) => `${x.type} ${x.address}`;
  const wanted = want.addresses.map(key);
  const list = states.map((s) => s.name).join(', ');
  let newest: { order: number; marker: Marker; name: string } | undefined;
  for (const s of states) {
    const m = markerOf(s);
    const order = orderOf(m);
    if (m && order !== undefined && (!newest || order > newest.order)) newest = { order, marker: m, name: s.name };
  }
  const allSet = states.every((s) => sameSet(s.addresses.map(key), wanted));
  if (want.epoch === undefined) {
    // Nothing orders this run against the markers: the core decided its master is current.
    return allSet && states.every((s) => markerOf(s) !== undefined)
      ? { kind: 'nothing', why: `${list} already point at the master` }
      : { kind: 'update' };
  }
  if (allSet && states.every((s) => markerOf(s)?.epoch === want.epoch))
    return { kind: 'nothing', why: `${list} already point at the master at config epoch ${want.epoch}` };
  if (newest && newest.order > want.epoch) {
    const theirs = newest.marker.sentinels;
    const ours = want.sentinels?.map((id) => id.slice(0, ID_CHARS));
    // Each a majority of its configured Sentinels: two of one group share an id, so none shared is a rebuilt set.
    if (theirs?.length && ours?.length && !theirs.some((id) => ours.includes(id)))
      return {
        kind: 'update',
        warning: `the marker of ${newest.name} holds config epoch ${newest.marker.epoch ?? `after ${newest.marker.after}`}, newer than the Sentinels' ${want.epoch}, from other Sentinels (${theirs.join(',')}; now ${ours.join(',')}): the Sentinels were rebuilt (their epochs started again), so it is replaced`,
      };
    const ageMs = newest.marker.at === undefined ? 0 : (nowSeconds - newest.marker.at) * 1000;
    const shown = newest.marker.epoch ?? `after ${newest.marker.after}`;
    if (want.fromState && ageMs > rebuiltAfterMs)
      return {
        kind: 'update',
        warning: `the marker of ${newest.name} holds config epoch ${shown}, newer than the Sentinels' ${want.epoch}, written ${Math.round(ageMs / 1000)} s ago: the Sentinels were rebuilt (their epochs started again), so it is replaced`,
      };
    return {
      kind: 'newer',
      epoch: Math.floor(newest.order),
      why: `a newer failover already moved the name (marker of ${newest.name}: config epoch ${shown}${newest.marker.to ? `, ${newest.marker.to}` : ''}; this run: ${want.epoch})`,
    };
  }
  return { kind: 'update' };
}
