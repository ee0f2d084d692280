import * as z from 'zod/mini';
import { about, absolutePath, duration, lazySchema, when } from '../../config/common.ts';
import { canonicalIp, ipVersion, isHostname } from '../../values.ts';
import { markerName } from './marker.ts';

/** A DNS server as the config names it. */
export interface ServerSpec {
  label: string;
  host: string;
  port: number;
}

/** `host`, `host:port`, `[v6]:port`, or a bare IPv6 address; port 53 when none is given. */
export function parseServer(text: string): ServerSpec | undefined {
  let host: string;
  let port = 53;
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text);
  if (bracketed) {
    host = bracketed[1]!;
    if (ipVersion(host) !== 6) return undefined;
    if (bracketed[2]) port = Number(bracketed[2]);
  } else if (ipVersion(text) === 6) {
    host = text;
  } else {
    const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(text);
    if (!m) return undefined;
    host = m[1]!.replace(/\.$/, '');
    if (m[2]) port = Number(m[2]);
    if (ipVersion(host) !== 4 && !isHostname(host)) return undefined;
  }
  if (port < 1 || port > 65535) return undefined;
  const address = ipVersion(host) ? canonicalIp(host) : host.toLowerCase();
  return { label: `${address.includes(':') ? `[${address}]` : address}:${port}`, host: address, port };
}

/** A name as DNS compares it: lower case, with the root's dot. */
export function fqdn(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower : `${lower}.`;
}

export function isInZone(name: string, zone: string): boolean {
  const n = fqdn(name);
  const z = fqdn(zone);
  return n === z || n.endsWith(`.${z}`);
}

const dnsName = lazySchema(() =>
  z
    .string()
    .check(
      z.refine(
        (n) => isHostname(n) || /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?$/.test(n),
        'expected a DNS name such as redis.example.internal.',
      ),
    ),
);

const server = lazySchema(() =>
  z
    .string()
    .check(
      z.refine(
        (s) => parseServer(s) !== undefined,
        'expected host, host:port, IPv6 or [IPv6]:port (port 53 when none)',
      ),
    ),
);

const oneOrMore = <T extends z.ZodMiniType<string>>(item: T, what: string, same: (x: string) => string) =>
  z.union([
    item,
    z.array(item).check(
      z.minLength(1, `expected at least one ${what}`),
      z.refine((list) => new Set(list.map(same)).size === list.length, `a ${what} is listed twice`),
    ),
  ]);

export const dnsSchema = lazySchema(() =>
  z
    .strictObject({
      type: z.literal('dns'),
      server: about(
        "the zone's primary, host[:port] (port 53); a list is tried in order when one does not answer",
        oneOrMore(server(), 'server', (s) => parseServer(s)?.label ?? s),
      ),
      zone: about('the zone the names are in, as its SOA names it (example.internal.)', dnsName().clone()),
      name: about(
        'the name (or a list: all move in the same update) pointed at the master: A and/or AAAA records, never a CNAME',
        oneOrMore(dnsName(), 'name', fqdn),
      ),
      ttl: about(
        'TTL of the records written, whole seconds: how long resolvers may keep the old answer',
        z._default(
          duration({ min: 0, max: 86_400_000 }).check(
            z.refine((ms: number) => ms % 1000 === 0, 'expected whole seconds, e.g. "5s" (a TTL is whole seconds)'),
          ),
          5000,
        ),
      ),
      key: about(
        "the TSIG key file as tsig-keygen writes it: root:<Sentinel's group>, mode 0640 or tighter",
        absolutePath().clone(),
      ),
      records: about(
        "the record types this entry owns for the names: each gets the master's addresses of its family",
        z._default(
          z.array(z.enum(['A', 'AAAA'])).check(
            z.minLength(1, 'expected A, AAAA or both'),
            z.refine((r) => new Set(r).size === r.length, 'a record type is listed twice'),
          ),
          ['A', 'AAAA'],
        ),
      ),
      timeout: about(
        'how long one server has to answer one message before the next server is asked',
        z._default(duration({ min: 100, max: 10_000 }), 2000),
      ),
      // Sentinel's default failover-timeout is 3 minutes.
      rebuiltAfter: about(
        "a marker newer than the Sentinels' majority answer and older than this was left by Sentinels since " +
          'rebuilt (their epochs start again from 0): a reconcile replaces it',
        z._default(duration({ min: 1000, max: 86_400_000 }), 180_000),
      ),
      when: about(
        'default: the leader only, one update per failover; given here, it replaces that default whole',
        z._default(when(), { role: 'leader', host: 'any' }),
      ),
    })
    .check(
      z.superRefine((a, ctx) => {
        for (const [i, n] of listOf(a.name).entries()) {
          const path = Array.isArray(a.name) ? ['name', i] : ['name'];
          if (!isInZone(n, a.zone))
            ctx.issues.push({ code: 'custom', input: n, path, message: `${n} is not inside zone ${fqdn(a.zone)}` });
          else if (fqdn(markerName(n)).length > 254)
            ctx.issues.push({
              code: 'custom',
              input: n,
              path,
              message: `${n} is too long for its marker ${markerName(fqdn(n))} (253 characters at most)`,
            });
        }
      }),
    ),
);
export type DnsAction = z.output<ReturnType<typeof dnsSchema>>;

export function listOf<T>(x: T | readonly T[]): T[] {
  return Array.isArray(x) ? [...x] : [x as T];
}

/** The entry with its lists as lists and its names as DNS compares them. */
export interface DnsTarget {
  servers: ServerSpec[];
  zone: string;
  names: string[];
  ttlSeconds: number;
  key: string;
  records: ('A' | 'AAAA')[];
  timeoutMs: number;
  rebuiltAfterMs: number;
}

export function targetOf(a: DnsAction): DnsTarget {
  return {
    servers: listOf(a.server).map((s) => parseServer(s)!),
    zone: fqdn(a.zone),
    names: listOf(a.name).map(fqdn),
    ttlSeconds: a.ttl / 1000,
    key: a.key,
    records: a.records,
    timeoutMs: a.timeout,
    rebuiltAfterMs: a.rebuiltAfter,
  };
}
