import { type Failure, failure } from '../../failures.ts';
import { canonicalIp, ipVersion } from '../../values.ts';

/** The configured VIP: canonical address text, prefix length, family. */
export interface Vip {
  ip: string;
  prefix: number;
  family: 4 | 6;
  /** "10.0.0.100/24": what `ip addr add/del` receives. */
  cidr: string;
}

/** Parse "10.0.0.100/24" or "fd00::100/64"; a failure saying what is wrong otherwise. */
export function parseVip(text: string): Vip | Failure {
  const problem = (words: string) => failure('vip-address-invalid', { problem: words });
  const m = /^([0-9A-Fa-f:.]+)\/(\d{1,3})$/.exec(text);
  if (!m) return problem('expected an address with its prefix length, e.g. 10.0.0.100/24 or fd00::100/64');
  const version = ipVersion(m[1]!);
  if (version === 0) return problem(`${m[1]} is not an IPv4 or IPv6 address`);
  const prefix = Number(m[2]);
  const max = version === 4 ? 32 : 128;
  if (prefix < 1 || prefix > max)
    return problem(`prefix length /${prefix} is out of range for IPv${version} (1-${max})`);
  const ip = canonicalIp(m[1]!);
  if (version === 6 && ipVersion(ip) === 4)
    return problem(`${m[1]} is an IPv4-mapped IPv6 address; write the IPv4 address instead`);
  if (version === 4 && prefix <= 30) {
    // The kernel accepts them, but neighbours treat these as the subnet itself or its broadcast.
    const hostBits = toBigInt(ip, 4) & ((1n << BigInt(32 - prefix)) - 1n);
    if (hostBits === 0n) return problem(`${ip} is the network address of ${ip}/${prefix}, not a host address`);
    if (hostBits === (1n << BigInt(32 - prefix)) - 1n)
      return problem(`${ip} is the broadcast address of ${ip}/${prefix}, not a host address`);
  }
  const bad = version === 4 ? /^(0\.|127\.|22[4-9]\.|2[3-5]\d\.)/.test(ip) : /^(::1?$|ff)/.test(ip);
  if (bad) return problem(`${ip} is not a unicast host address (loopback, multicast or unspecified)`);
  return { ip, prefix, family: version, cidr: `${ip}/${prefix}` };
}

export function toBigInt(ip: string, family: 4 | 6): bigint {
  if (family === 4) return ip.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
  let text = ip;
  const v4Tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4Tail) {
    const n = toBigInt(v4Tail[1]!, 4);
    text = `${text.slice(0, -v4Tail[1]!.length)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups =
    tail === undefined
      ? headGroups
      : [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
}

/** Does dst ("10.0.0.0/24", "10.0.0.7" for a host route) cover the VIP? Returns the prefix length when it does. */
export function routeCovers(dst: string, vip: Vip): number | undefined {
  const [net, len] = dst.split('/');
  if (!net || ipVersion(net) !== vip.family) return undefined;
  const bits = vip.family === 4 ? 32 : 128;
  const prefix = len === undefined ? bits : Number(len);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) return undefined;
  const shift = BigInt(bits - prefix);
  return toBigInt(canonicalIp(net), vip.family) >> shift === toBigInt(vip.ip, vip.family) >> shift ? prefix : undefined;
}

/** Where the VIP is configured on this host, as `ip -j addr show` reports it. */
export interface HeldAddress {
  dev: string;
  prefixlen: number;
  /** IPv6: duplicate address detection still running (the address cannot be bound yet). */
  tentative: boolean;
  /** IPv6: duplicate address detection found another holder; the kernel will not use it. */
  dadfailed: boolean;
}

interface IpAddrJson {
  ifname?: string;
  addr_info?: { family?: string; local?: string; prefixlen?: number; tentative?: boolean; dadfailed?: boolean }[];
}

/** Parse `ip -j addr show` output; throws on anything that is not its JSON. */
export function findVip(json: string, vip: Vip): HeldAddress[] {
  const links = JSON.parse(json) as IpAddrJson[];
  if (!Array.isArray(links)) throw new Error('expected a JSON array');
  const held: HeldAddress[] = [];
  for (const link of links) {
    for (const a of link.addr_info ?? []) {
      if (!link.ifname || !a.local || a.family !== (vip.family === 4 ? 'inet' : 'inet6')) continue;
      if (canonicalIp(a.local) !== vip.ip) continue;
      held.push({
        dev: link.ifname,
        prefixlen: a.prefixlen ?? -1,
        tentative: Boolean(a.tentative),
        dadfailed: Boolean(a.dadfailed),
      });
    }
  }
  return held;
}

interface IpRouteJson {
  dst?: string;
  dev?: string;
  type?: string;
}

/**
 * The interface of the most specific connected route covering the VIP (`ip -j route show`).
 * Not `ip route get`: once the VIP is local, that answers "local … dev lo".
 * The default route never counts: a gratuitous ARP only helps on the VIP's own subnet.
 */
export function routeInterface(json: string, vip: Vip): string | undefined {
  const routes = JSON.parse(json) as IpRouteJson[];
  if (!Array.isArray(routes)) throw new Error('expected a JSON array');
  let best: { dev: string; prefix: number } | undefined;
  for (const r of routes) {
    if (!r.dst || !r.dev || r.dst === 'default' || (r.type && r.type !== 'unicast')) continue;
    const prefix = routeCovers(r.dst, vip);
    if (prefix !== undefined && (!best || prefix > best.prefix)) best = { dev: r.dev, prefix };
  }
  return best?.dev;
}
