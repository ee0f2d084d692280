// The conversation with the zone's servers: signed queries and updates, tried server by server, and
// every answer sorted into done / this server failed (ask the next) / refused for all (exit 2).

import { randomInt } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { Failure, failure } from '../../failures.ts';
import { ipVersion } from '../../values.ts';
import type { TsigKey } from './key.ts';
import { type AddressType, encodeQuery, RCODE, RCODE_NAMES, readHeader } from './message.ts';
import type { ServerSpec } from './schema.ts';
import { type Endpoint, exchange, TransportError } from './transport.ts';
import { sign, TSIG_ERROR, TSIG_ERROR_NAMES, verify } from './tsig.ts';

export interface Conversation {
  servers: readonly ServerSpec[];
  zone: string;
  key: TsigKey;
  timeoutMs: number;
  signal: AbortSignal;
  /** Seconds since the epoch (TSIG's clock). */
  now(): number;
}

/** A signed answer we checked: its bytes, its rcode, and who gave it. */
export interface Answer {
  message: Buffer;
  rcode: number;
  server: Endpoint;
}

const UNTRUSTED = {
  malformed: 'that does not parse',
  unsigned: 'not signed',
  'bad-mac': 'with a wrong MAC',
  'other-key': 'signed with another key',
  'bad-time': 'signed at a time too far from ours',
} as const;

/** Why one server gave no usable answer: the next one is asked. */
type Skip = { skip: string };

/** Where a configured server is: its address, or each address its name has now, in the resolver's order. */
async function endpointsOf(s: ServerSpec, c: Conversation): Promise<Endpoint[] | Skip> {
  if (ipVersion(s.host)) return [{ address: s.host, port: s.port, label: s.label }];
  // Looked up at each run (its address may have moved too), within the server's timeout: getaddrinfo
  // cannot be stopped, so it is raced, not aborted.
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Skip>((r) => {
    timer = setTimeout(() => r({ skip: `${s.label}: ${s.host} not resolved within ${c.timeoutMs} ms` }), c.timeoutMs);
  });
  const found = lookup(s.host, { all: true, verbatim: true }).then(
    (list): Endpoint[] =>
      list.map((a) => ({ address: a.address, port: s.port, label: `${s.label} (${a.address})`, server: s.label })),
    (err: NodeJS.ErrnoException): Skip => ({ skip: `${s.label}: cannot resolve ${s.host} (${err.code ?? err})` }),
  );
  try {
    return await Promise.race([found, late]);
  } finally {
    clearTimeout(timer);
  }
}

function zoneRefusal(server: string, c: Conversation, rcode: number, update: boolean): Failure {
  const said = RCODE_NAMES[rcode] ?? `rcode ${rcode}`;
  const fix =
    rcode === RCODE.REFUSED
      ? update
        ? `point "server" at the zone's primary (a secondary refuses updates), and let key ${c.key.name} update the names and their markers there: update-policy { grant ${c.key.name} name NAME A AAAA; grant ${c.key.name} name _sentinel-hook.NAME TXT; }; in zone ${c.zone}`
        : `correct "zone" if the server has no zone ${c.zone}; else point "server" at the zone's primary, or let it answer this host (allow-query)`
      : rcode === RCODE.NOTIMP
        ? 'this server takes no updates for the zone (a secondary?): point "server" at the primary'
        : rcode === RCODE.NOTZONE
          ? `a name is outside zone ${c.zone}: correct "zone" or "name"`
          : `the server is not authoritative for zone ${c.zone}: correct "zone", or point "server" at its primary`;
  return failure('dns-zone-refused', { server, zone: c.zone, asked: update ? 'update' : 'query', said, fix });
}

/**
 * One server's answer to `request`, sorted: an Answer we may act on, a Failure that holds for every
 * server (the key, the zone, the clock), or a reason to ask the next server.
 */
async function askOne(
  to: Endpoint,
  request: Buffer,
  c: Conversation,
  update: boolean,
): Promise<Answer | Failure | Skip> {
  const signed = sign(request, c.key, c.now());
  let message: Buffer;
  try {
    message = await exchange(to, signed.message, { timeoutMs: c.timeoutMs, signal: c.signal });
  } catch (err) {
    if (err instanceof TransportError) return { skip: err.message };
    throw err;
  }
  let rcode: number;
  let verdict: ReturnType<typeof verify>;
  try {
    rcode = readHeader(message).rcode;
    verdict = verify(message, c.key, c.now(), signed.mac);
  } catch (err) {
    return { skip: `${to.label}: an answer that does not parse (${(err as Error).message})` };
  }
  const tsigError = verdict.record?.error ?? 0;
  if (tsigError === TSIG_ERROR.BADTIME) {
    // The server's own clock is in "other data" (RFC 8945 5.2.3), six bytes.
    const other = verdict.record!.other;
    const serverTime = other.length === 6 ? other.readUInt16BE(0) * 2 ** 32 + other.readUInt32BE(2) : undefined;
    return failure('dns-clock-skew', {
      server: to.label,
      skewSeconds: serverTime === undefined ? undefined : c.now() - serverTime,
    });
  }
  if (tsigError !== 0)
    return failure('dns-key-rejected', {
      server: to.label,
      key: c.key.name,
      said: TSIG_ERROR_NAMES[tsigError] ?? `TSIG error ${tsigError}`,
    });
  if (rcode === RCODE.NOTAUTH && verdict.ok === false && verdict.why === 'unsigned')
    // BIND answers a key it does not know this way when it cannot even say which (RFC 8945 5.2).
    return zoneRefusal(to.label, c, rcode, update);
  if (!verdict.ok) {
    // Refusals come unsigned from some servers; they end the run anyway, so nothing is trusted from them.
    if ([RCODE.REFUSED, RCODE.NOTAUTH, RCODE.NOTZONE, RCODE.NOTIMP].includes(rcode as 5))
      return zoneRefusal(to.label, c, rcode, update);
    if (verdict.why === 'bad-time') return failure('dns-clock-skew', { server: to.label, skewSeconds: undefined });
    return {
      skip: `${to.label}: ${RCODE_NAMES[rcode] ?? rcode} answer ${UNTRUSTED[verdict.why]}: not trusted`,
    };
  }
  if ([RCODE.REFUSED, RCODE.NOTAUTH, RCODE.NOTZONE, RCODE.NOTIMP].includes(rcode as 5))
    return zoneRefusal(to.label, c, rcode, update);
  if (rcode === RCODE.SERVFAIL || rcode === RCODE.FORMERR || rcode > RCODE.NOTZONE)
    return { skip: `${to.label}: ${RCODE_NAMES[rcode] ?? `rcode ${rcode}`}` };
  if (!update && !readHeader(message).authoritative) return zoneRefusal(to.label, c, RCODE.NOTAUTH, update);
  return { message, rcode, server: to };
}

/**
 * Ask the servers in order until one answers `build`'s messages (one message, or several sent at once
 * to the same server). `first`: the server to ask before the others (the one an update went to).
 */
export async function askServers(
  c: Conversation,
  requests: (id: () => number) => Buffer[],
  o: { update: boolean; first?: Endpoint },
): Promise<{ answers: Answer[] } | Failure> {
  const skipped: string[] = [];
  const specs = o.first
    ? [o.first, ...c.servers.filter((s) => s.label !== (o.first!.server ?? o.first!.label))]
    : [...c.servers];
  for (const spec of specs) {
    const endpoints = 'address' in spec ? [spec] : await endpointsOf(spec, c);
    if ('skip' in endpoints) {
      skipped.push(endpoints.skip);
      continue;
    }
    for (const to of endpoints) {
      if (c.signal.aborted) {
        skipped.push("the run's deadline passed");
        break;
      }
      const got = await Promise.all(requests(() => randomInt(0, 65536)).map((r) => askOne(to, r, c, o.update)));
      const refused = got.find((g): g is Failure => g instanceof Failure);
      if (refused) return refused;
      const skip = got.find((g): g is Skip => 'skip' in g);
      if (skip) {
        skipped.push(skip.skip);
        continue;
      }
      return { answers: got as Answer[] };
    }
  }
  return failure('dns-unanswered', { detail: skipped.join('; ') || 'no server configured' });
}

export function queriesFor(names: readonly string[], types: readonly (AddressType | 'TXT')[]) {
  return (id: () => number) => names.flatMap((n) => types.map((t) => encodeQuery(id(), n, t)));
}
