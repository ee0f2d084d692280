import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** One host key line of an OpenSSH known_hosts file. */
export interface KnownHostKey {
  /** "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa", … */
  keyType: string;
  /** The key in SSH wire format, as the server sends it during key exchange. */
  blob: Buffer;
  /** @revoked: a key that must be refused even if it matches. */
  revoked: boolean;
  line: number;
  matches(hostPattern: string): boolean;
}

/** The name OpenSSH looks up: the bare host on port 22, "[host]:port" on any other port. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/**
 * Parse known_hosts text. Hashed names (`|1|salt|hmac`, HashKnownHosts yes), comma lists, `*`/`?`
 * wildcards and `!` negations are understood; `@cert-authority` lines are skipped (we do not
 * speak certificates, and must not mistake a CA key for a host key), and so are lines with a marker
 * OpenSSH does not know (`@REVOKED`, `@revoke`): it ignores them too.
 */
export function parseKnownHosts(text: string): KnownHostKey[] {
  const keys: KnownHostKey[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const parts = line.split(/\s+/);
    // As OpenSSH's check_markers(): exactly "@revoked" or "@cert-authority" (case matters), at most
    // one; a line with any other marker is ignored — never trusted with the marker cut off.
    let marker: string | undefined;
    if (parts[0]!.startsWith('@')) marker = parts.shift();
    if (marker !== undefined && marker !== '@revoked') return;
    if (parts[0]?.startsWith('@')) return;
    const [hosts, keyType, base64] = parts;
    if (!hosts || !keyType || !base64) return;
    const blob = Buffer.from(base64, 'base64');
    if (blob.length === 0) return;
    const patterns = hosts.split(',');
    keys.push({
      keyType,
      blob,
      revoked: marker === '@revoked',
      line: index + 1,
      matches: (name) => matchHostList(patterns, name),
    });
  });
  return keys;
}

function matchHostList(patterns: readonly string[], name: string): boolean {
  let matched = false;
  for (const pattern of patterns) {
    if (pattern.startsWith('|1|')) {
      if (matchHashed(pattern, name)) matched = true;
      continue;
    }
    const negated = pattern.startsWith('!');
    const glob = negated ? pattern.slice(1) : pattern;
    if (globMatch(glob.toLowerCase(), name.toLowerCase())) {
      // A negated match wins over any positive one, as in OpenSSH's match_hostname().
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`, what `ssh-keygen -H` writes. */
function matchHashed(pattern: string, name: string): boolean {
  const [, , salt64, hash64] = pattern.split('|');
  if (!salt64 || !hash64) return false;
  const expected = Buffer.from(hash64, 'base64');
  const actual = createHmac('sha1', Buffer.from(salt64, 'base64')).update(name).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

function globMatch(glob: string, text: string): boolean {
  if (!/[*?]/.test(glob)) return glob === text;
  const re = new RegExp(
    `^${glob
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return re.test(text);
}

/** The entries for one host, and how to judge the key a server presents. */
export interface HostKeyPolicy {
  name: string;
  keys: KnownHostKey[];
  /** Host key algorithms to offer, so that the server presents a key type we have on record. */
  algorithms: string[];
}

export function hostKeyPolicy(all: readonly KnownHostKey[], host: string, port: number): HostKeyPolicy {
  // OpenSSH lowercases the host name before looking it up; hashed entries (ssh-keyscan -H,
  // HashKnownHosts) hold the HMAC of that lowercased name, so the case must match before hashing.
  const name = knownHostsName(host.toLowerCase(), port);
  const keys = all.filter((k) => k.matches(name));
  const algorithms = [
    ...new Set(keys.filter((k) => !k.revoked).flatMap((k) => ALGORITHMS_FOR_KEY[k.keyType] ?? [k.keyType])),
  ];
  return { name, keys, algorithms };
}

// An RSA key is offered under three signature algorithms; the others carry their key type's name.
const ALGORITHMS_FOR_KEY: Record<string, string[]> = {
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

export type HostKeyVerdict = { ok: true } | { ok: false; reason: string };

/** The presented key must equal a recorded, unrevoked key of this host: no trust on first use, ever. */
export function judgeHostKey(policy: HostKeyPolicy, presented: Buffer, knownHostsFile: string): HostKeyVerdict {
  const fingerprint = fingerprintOf(presented);
  if (policy.keys.some((k) => k.revoked && k.blob.equals(presented))) {
    return {
      ok: false,
      reason: `host key ${fingerprint} of ${policy.name} is marked @revoked in ${knownHostsFile}; refused`,
    };
  }
  if (policy.keys.some((k) => !k.revoked && k.blob.equals(presented))) return { ok: true };
  if (policy.keys.length === 0) return { ok: false, reason: unknownHostReason(policy.name, knownHostsFile) };
  return {
    ok: false,
    reason: `host key of ${policy.name} CHANGED: it presented ${fingerprint}, ${knownHostsFile} has another (line ${policy.keys.map((k) => k.line).join(', ')}); nothing written — if the server was really reinstalled, verify the new key out of band and replace that line`,
  };
}

export function unknownHostReason(name: string, knownHostsFile: string): string {
  return `no host key for ${name} in ${knownHostsFile}; refused (add it: ssh-keyscan, then check the fingerprint against the server's own "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub")`;
}

/** OpenSSH's "SHA256:…" fingerprint, so the message can be compared with ssh-keygen -l. */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}
