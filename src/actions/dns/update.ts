// Observe, update, read back: what a run of the dns action does on the wire, one function each.
import type { Failure } from '../../failures.ts';
import { failure } from '../../failures.ts';
import { canonicalIp } from '../../values.ts';
import type { ApplyContext, TaskOutcome } from '../plugin.ts';
import { type Answer, askServers, type Conversation, queriesFor } from './client.ts';
import { decide, floorOf, type MarkerFacts, markerName, markerStrings, type NameState, type Want } from './marker.ts';
import {
  type AddressType,
  answersOf,
  encodeUpdate,
  RCODE,
  RCODE_NAMES,
  type UpdateMessage,
  type UpdateRecord,
} from './message.ts';
import type { DnsTarget } from './schema.ts';
import type { Endpoint } from './transport.ts';

export { encodeUpdate };

/** What the servers hold for the names now, and who said it. */
export interface Observed {
  server: Endpoint;
  names: NameState[];
}

function statesFrom(answers: Answer[], t: DnsTarget): NameState[] {
  let i = 0;
  return t.names.map((name) => {
    const addresses = t.records.flatMap((type) =>
      answersOf(answers[i++]!.message, name, type).records.map((r) => ({
        type,
        address: typeof r.data === 'string' ? canonicalIp(r.data) : '',
        ttl: r.ttl,
      })),
    );
    const markerRecords = answersOf(answers[i++]!.message, markerName(name), 'TXT').records.map((r) =>
      (r.data as Buffer[]).map((b) => b.toString('latin1')),
    );
    return { name, addresses, markerRecords };
  });
}

/** Ask the servers in order for every name's records and its marker, all from one server. */
export async function observeNames(c: Conversation, t: DnsTarget, first?: Endpoint): Promise<Observed | Failure> {
  const queries = (id: () => number) =>
    t.names.flatMap((n) => [...queriesFor([n], t.records)(id), ...queriesFor([markerName(n)], ['TXT'])(id)]);
  const got = await askServers(c, queries, { update: false, ...(first ? { first } : {}) });
  if (!('answers' in got)) return got;
  return { server: got.answers[0]!.server, names: statesFrom(got.answers, t) };
}

/** The one update: every name's address RRsets and marker replaced, on condition the markers are as seen. */
export function updateFor(
  t: DnsTarget,
  states: readonly NameState[],
  want: Want,
  marker: MarkerFacts,
  id: number,
): UpdateMessage {
  const text = markerStrings(marker).map((s) => Buffer.from(s, 'latin1'));
  return {
    id,
    zone: t.zone,
    prerequisites: states.flatMap((s): UpdateRecord[] =>
      s.markerRecords.length === 0
        ? [{ kind: 'absent' as const, name: markerName(s.name), type: 'TXT' as const }]
        : s.markerRecords.map((r) => ({
            kind: 'exact' as const,
            name: markerName(s.name),
            type: 'TXT' as const,
            ttl: 0,
            data: r.map((x) => Buffer.from(x, 'latin1')),
          })),
    ),
    updates: states.flatMap((s) => [
      ...t.records.map((type) => ({ kind: 'delete' as const, name: s.name, type })),
      ...want.addresses.map((a) => ({
        kind: 'add' as const,
        name: s.name,
        type: a.type,
        ttl: t.ttlSeconds,
        data: a.address,
      })),
      { kind: 'delete' as const, name: markerName(s.name), type: 'TXT' as const },
      { kind: 'add' as const, name: markerName(s.name), type: 'TXT' as const, ttl: t.ttlSeconds, data: text },
    ]),
  };
}

/** Everything the update step needs, as data: what a dry-run shows is what it acts on. */
export interface UpdateWork {
  target: DnsTarget;
  want: Want;
  master: string;
  /** The master as Sentinel named it, ip:port, for the marker. */
  to: string;
  observed: Observed;
}

/** What this run's marker says, but for the time it is written. */
export function markerFacts(
  work: Pick<UpdateWork, 'want' | 'master' | 'to'>,
  states: readonly NameState[],
): Omit<MarkerFacts, 'at'> {
  const after = work.want.epoch === undefined ? floorOf(states) : undefined;
  return {
    epoch: work.want.epoch,
    ...(after === undefined ? {} : { after }),
    master: work.master,
    to: work.to,
    ...(work.want.sentinels ? { sentinels: work.want.sentinels } : {}),
  };
}

/** How many times the markers may change under one run before it gives up (and Sentinel retries). */
const TRIES = 3;

function addressesText(states: readonly NameState[], server: string): string {
  return states
    .map((s) => `${s.name} ${s.addresses.map((a) => a.address).join(', ') || '(none)'}`)
    .join('; ')
    .concat(` on ${server}`);
}

function failed(f: Failure): TaskOutcome {
  // The catalogue's exit-2 entries are what no retry can fix (the key, the zone, the clock).
  return { ok: false, summary: f.line(), code: f.code, ...(f.exitCode === 2 ? { permanent: true } : {}) };
}

/**
 * Send the update; when its prerequisite failed (another run changed a marker since we looked), look
 * again and decide again: a newer epoch there ends the run (exit 0), an older one is replaced. Then read
 * the names back from the server that took it.
 */
export async function runUpdate(work: UpdateWork, c: Conversation, apply: ApplyContext): Promise<TaskOutcome> {
  const t = work.target;
  let observed = work.observed;
  let warning: string | undefined;
  for (let tries = 0; tries < TRIES; tries++) {
    const verdict = decide(observed.names, work.want, c.now(), t.rebuiltAfterMs);
    if (verdict.kind !== 'update') return { ok: true, summary: verdict.why };
    warning = verdict.warning ?? warning;
    const refused = apply.superseded?.() ?? (await apply.stillCurrent?.());
    if (refused) return { ok: true, summary: `not sent: ${refused}` };
    const marker = { ...markerFacts(work, observed.names), at: c.now() };
    const sent = await askServers(c, (id) => [encodeUpdate(updateFor(t, observed.names, work.want, marker, id()))], {
      update: true,
      first: observed.server,
    });
    if (!('answers' in sent)) return failed(sent);
    const answer = sent.answers[0]!;
    if (answer.rcode === RCODE.NOERROR) return readBack(work, observed, answer.server, c, warning);
    if (answer.rcode !== RCODE.YXRRSET && answer.rcode !== RCODE.NXRRSET)
      return failed(
        failure('dns-unanswered', { detail: `${answer.server.label}: ${RCODE_NAMES[answer.rcode] ?? answer.rcode}` }),
      );
    apply.logger.info(
      { server: answer.server.label, rcode: RCODE_NAMES[answer.rcode] },
      'a marker changed since this run looked: looking again',
    );
    const again = await observeNames(c, t, answer.server);
    if (!('names' in again)) return failed(again);
    observed = again;
  }
  return failed(failure('dns-update-contended', { names: t.names.join(', '), tries: TRIES }));
}

async function readBack(
  work: UpdateWork,
  before: Observed,
  server: Endpoint,
  c: Conversation,
  warning: string | undefined,
): Promise<TaskOutcome> {
  const t = work.target;
  // From the server that took the update only: another (a secondary) may not have it yet.
  const after = await observeNames({ ...c, servers: [] }, t, server);
  if (!('names' in after)) return failed(after);
  const want = work.want.addresses.map((a) => a.address).sort();
  for (const s of after.names) {
    const got = s.addresses.map((a) => a.address).sort();
    if (got.join() !== want.join())
      return failed(
        failure('dns-readback-mismatch', {
          server: after.server.label,
          name: s.name,
          got: got.join(', ') || 'no address',
          want: want.join(', '),
        }),
      );
  }
  const newTtl = Math.max(...after.names.flatMap((s) => s.addresses.map((a) => a.ttl)));
  const oldTtl = Math.max(0, ...before.names.flatMap((s) => s.addresses.map((a) => a.ttl)));
  return {
    ok: true,
    summary: `${addressesText(after.names, after.server.label)} (TTL ${newTtl} s); ${oldTtl ? `resolvers may give the old address for up to ${oldTtl} s more (its TTL)` : 'no old address was published'}${warning ? `; ${warning}` : ''}`,
    detail: {
      server: after.server.label,
      names: after.names.map((s) => ({ name: s.name, addresses: s.addresses })),
      epoch: work.want.epoch ?? null,
      oldTtlSeconds: oldTtl,
    },
  };
}

/** The master's addresses by the record types this entry owns. */
export function wantedAddresses(
  addresses: readonly string[],
  records: readonly AddressType[],
): { type: AddressType; address: string }[] {
  return addresses.flatMap((address) => {
    const type: AddressType = address.includes(':') ? 'AAAA' : 'A';
    return records.includes(type) ? [{ type, address }] : [];
  });
}
