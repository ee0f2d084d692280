import { readFileSync } from 'node:fs';
import { hookError } from '../../errors.ts';
import { hostKeyPolicy, parseKnownHosts } from './knownhosts.ts';
import { loadSsh2 } from './ssh.ts';
import type { PushTarget } from './target.ts';
import type { PushWork } from './types.ts';

// The host-key types ssh2 (transport ssh) can verify: its SUPPORTED_SERVER_HOST_KEY, by key type.
const SSH2_KEY_TYPES = new Set([
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
  'ssh-dss',
]);

/** What a push reads once per run: the key itself (never logged) and the trusted host keys. */
export interface PushCredentials {
  privateKey: Buffer;
  knownHostsText: string;
}

/**
 * What no retry can fix in a push, found before the first connection so the run exits 2 with the
 * fix instead of failing every target ten times over hours: a key or known_hosts file that cannot be
 * read, a key that is encrypted (nobody is there to type the passphrase) or not a key, and, for
 * transport ssh, a target whose only recorded host keys are of a type ssh2 cannot check (OpenSSH,
 * behind transport rsync, can). Throws a ConfigError; else returns what it read, for the push.
 * ssh2 is loaded for transport ssh only (which loads it to push anyway): ~30 ms a rsync push need not pay.
 */
export async function checkPushCredentials(
  push: Pick<PushWork, 'transport' | 'identityFile' | 'knownHostsFile'>,
  targets: readonly PushTarget[],
): Promise<PushCredentials> {
  const read = (field: 'identityFile' | 'knownHostsFile', path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw hookError('push-credential-unreadable', {
        field,
        path,
        errno: (err as NodeJS.ErrnoException).code ?? (err as Error).message,
      });
    }
  };
  const privateKey = read('identityFile', push.identityFile);
  const knownHostsText = read('knownHostsFile', push.knownHostsFile).toString('utf8');
  const encrypted = hookError('identity-encrypted', { path: push.identityFile });
  if (isEncryptedKey(privateKey)) throw encrypted;
  if (push.transport !== 'ssh') return { privateKey, knownHostsText };
  const parsed = (await loadSsh2()).utils.parseKey(privateKey);
  if (parsed instanceof Error) {
    if (/passphrase|encrypted/i.test(parsed.message)) throw encrypted;
    // OpenSSH (transport rsync) reads some keys ssh2 does not (FIDO keys): only ssh2's own verdict is final, and only here.
    throw hookError('identity-unusable', { path: push.identityFile, detail: parsed.message });
  }
  const recorded = parseKnownHosts(knownHostsText);
  for (const target of targets) {
    const keys = hostKeyPolicy(recorded, target.host, target.port).keys.filter((k) => !k.revoked);
    if (keys.length > 0 && !keys.some((k) => SSH2_KEY_TYPES.has(k.keyType))) {
      throw hookError('known-hosts-unusable', {
        file: push.knownHostsFile,
        types: [...new Set(keys.map((k) => k.keyType))],
        target: target.label,
        lines: keys.map((k) => k.line),
        host: target.host,
      });
    }
  }
  return { privateKey, knownHostsText };
}

const OPENSSH_MAGIC = Buffer.from('openssh-key-v1\0', 'latin1');

/**
 * Whether a private key file says it is encrypted, from its text alone: PEM's "Proc-Type: 4,ENCRYPTED"
 * header, PKCS#8's ENCRYPTED PRIVATE KEY, or an OpenSSH key whose cipher name (the first string after
 * the "openssh-key-v1" magic, in the base64 body) is not "none". Undecided (a key it cannot read) is false.
 */
export function isEncryptedKey(key: Buffer): boolean {
  const text = key.toString('latin1');
  if (/^-----BEGIN ENCRYPTED PRIVATE KEY-----/m.test(text) || /^Proc-Type:[ \t]*4,[ \t]*ENCRYPTED/m.test(text))
    return true;
  const body = /^-----BEGIN OPENSSH PRIVATE KEY-----\r?\n([\s\S]*?)^-----END OPENSSH PRIVATE KEY-----/m.exec(text)?.[1];
  if (!body) return false;
  const bytes = Buffer.from(body.replace(/\s+/g, ''), 'base64');
  const at = OPENSSH_MAGIC.length;
  if (bytes.length < at + 4 || !bytes.subarray(0, at).equals(OPENSSH_MAGIC)) return false;
  const length = bytes.readUInt32BE(at);
  if (at + 4 + length > bytes.length) return false;
  return bytes.subarray(at + 4, at + 4 + length).toString('latin1') !== 'none';
}
