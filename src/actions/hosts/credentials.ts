import { readFileSync } from 'node:fs';
import { ConfigError } from '../../errors.ts';
import type { HostsAction } from './index.ts';
import { hostKeyPolicy, parseKnownHosts } from './knownhosts.ts';
import { loadSsh2 } from './ssh.ts';
import type { PushTarget } from './target.ts';

// The host-key types ssh2 (transport ssh) can verify: its SUPPORTED_SERVER_HOST_KEY, by key type.
const SSH2_KEY_TYPES = new Set(['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'ssh-rsa', 'ssh-dss']);

/**
 * What no retry can fix in a push, found before the first connection so the run exits 2 with the
 * fix instead of failing every target ten times over hours: a key or known_hosts file that cannot be
 * read, a key that is encrypted (nobody is there to type the passphrase) or not a key, and, for
 * transport ssh, a target whose only recorded host keys are of a type ssh2 cannot check (OpenSSH,
 * behind transport rsync, can).
 */
export async function checkPushCredentials(push: NonNullable<HostsAction['push']>, targets: readonly PushTarget[]): Promise<void> {
  const read = (field: string, path: string, fix: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ConfigError(`cannot read ${field} ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, fix);
    }
  };
  const key = read('identityFile', push.identityFile, 'it must exist and be readable by the user Sentinel runs as');
  const knownHosts = read('knownHostsFile', push.knownHostsFile, "write the targets' host keys there (ssh-keyscan, then verify)");
  const parsed = (await loadSsh2()).utils.parseKey(key);
  if (parsed instanceof Error) {
    if (/passphrase|encrypted/i.test(parsed.message)) {
      throw new ConfigError(`identityFile ${push.identityFile} is encrypted: nobody is there to type a passphrase during a failover`, `remove it: ssh-keygen -p -N '' -f ${push.identityFile}`);
    }
    // OpenSSH (transport rsync) reads some keys ssh2 does not (FIDO keys): only ssh2's own verdict is final there.
    if (push.transport === 'ssh') {
      throw new ConfigError(`identityFile ${push.identityFile} is not a private key the ssh transport can use (${parsed.message})`, 'generate one: ssh-keygen -t ed25519 -N "" -f FILE, and install its .pub on the targets');
    }
  }
  if (push.transport !== 'ssh') return;
  const recorded = parseKnownHosts(knownHosts.toString('utf8'));
  for (const target of targets) {
    const keys = hostKeyPolicy(recorded, target.host, target.port).keys.filter((k) => !k.revoked);
    if (keys.length > 0 && !keys.some((k) => SSH2_KEY_TYPES.has(k.keyType))) {
      throw new ConfigError(
        `knownHostsFile ${push.knownHostsFile} has only ${[...new Set(keys.map((k) => k.keyType))].join(', ')} host keys for ${target.label} (line ${keys.map((k) => k.line).join(', ')}), which the ssh transport cannot check`,
        `add its ed25519, ecdsa or rsa key (ssh-keyscan -t ed25519 ${target.host}, then verify the fingerprint), or use transport rsync`,
      );
    }
  }
}
