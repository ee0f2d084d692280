/** Duration text: "200ms", "5s", "1m", "1.5s" (the config also takes a bare number of milliseconds, see duration()). */
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m)$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000 } as const;

export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]);
}

export function formatDuration(ms: number): string {
  if (ms % 60_000 === 0 && ms >= 60_000) return `${ms / 60_000}m`;
  if (ms % 1000 === 0 && ms >= 1000) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** RFC 1123 host name; also refuses a leading '-', so it can never read as an option. */
const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

export function isHostname(text: string): boolean {
  // An all-numeric last label ("999.1.1.1") is a mistyped address, never a name (no TLD is numeric).
  return HOSTNAME.test(text) && !/(^|\.)\d+\.?$/.test(text);
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** 4, 6 or 0, like net.isIP; node:net itself costs several ms of a cold start, and we only need this. */
export function ipVersion(text: string): 4 | 6 | 0 {
  if (IPV4.test(text)) return 4;
  if (!/^[0-9A-Fa-f:.]{2,45}$/.test(text) || !text.includes(':')) return 0;
  if ((text.match(/::/g) ?? []).length > 1 || /:::/.test(text)) return 0;
  const groups = text.split(':');
  const tail = groups.at(-1)!;
  const v4Tail = tail.includes('.');
  if (v4Tail && !IPV4.test(tail)) return 0;
  const hexGroups = v4Tail ? groups.slice(0, -1) : groups;
  if (!hexGroups.every((g) => /^[0-9A-Fa-f]{0,4}$/.test(g))) return 0;
  const count = hexGroups.filter((g) => g !== '').length + (v4Tail ? 2 : 0);
  const compressed = text.includes('::');
  if (compressed ? count > 7 : count !== 8) return 0;
  // A single ':' at either end is not an address (":1::", "1::2:").
  if ((text.startsWith(':') && !text.startsWith('::')) || (text.endsWith(':') && !text.endsWith('::'))) return 0;
  return 6;
}

export function isIpAddress(text: string): boolean {
  return ipVersion(text) !== 0;
}

/** Interface names as the kernel accepts them (IFNAMSIZ 16, no '/', no whitespace), plus an optional ':label'. */
export function isInterfaceName(text: string): boolean {
  return /^[A-Za-z0-9_.@-]{1,15}$/.test(text) && !text.startsWith('-') && text !== '.' && text !== '..';
}

export function isAbsolutePath(text: string): boolean {
  return text.startsWith('/') && !text.includes('\0') && !text.split('/').includes('..');
}

/** Canonical text of an IP so that "::FFFF:10.0.0.1" and "10.0.0.1", or "fe80::0:1" and "fe80::1", compare equal. */
export function canonicalIp(text: string): string {
  const bare = text.replace(/^\[|\]$/g, '');
  if (ipVersion(bare) !== 6) return bare.toLowerCase();
  // WHATWG URL parsing applies RFC 5952 (lower case, longest zero run compressed).
  const host = new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (!mapped) return host;
  const hi = parseInt(mapped[1]!, 16);
  const lo = parseInt(mapped[2]!, 16);
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
}

/** 127.0.0.0/8, ::1 (and v4-mapped 127.x), or "localhost": an address that is every host's own. */
export function isLoopbackHost(text: string): boolean {
  if (/^localhost\.?$/i.test(text)) return true;
  if (!isIpAddress(text)) return false;
  const ip = canonicalIp(text);
  return ip === '::1' || /^(::ffff:)?127\./.test(ip);
}

/** Edits (insert, delete, replace, swap two neighbours) from a to b: a typo is one or two. */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}
