// What each push target's file says now, read the way a push reads it (known host keys only, the
// push's key and timeout, SFTP), with nothing written: for status and dry-run. A real push reads and
// writes in one session instead (no extra round trip on the failover path).
import { errorLine } from '../../errors.ts';
import { checkPushCredentials } from './credentials.ts';
import { lookupHosts } from './edit.ts';
import type { HostsAction } from './index.ts';
import { parseKnownHosts } from './knownhosts.ts';
import { pushOverSsh } from './ssh.ts';
import { parsePushTarget } from './target.ts';

export type TargetObservation =
  | { target: string; names: Record<string, string[]> }
  /** Could not be read: why (a host that does not answer, a refused key, an unknown host key). */
  | { target: string; unknown: string };

export async function observeTargets(
  a: HostsAction,
  signal: AbortSignal,
  mode: true | 'probe' = true,
): Promise<TargetObservation[]> {
  const push = a.push;
  if (!push) return [];
  const targets = push.targets.map((t) => ({ ...parsePushTarget(t)!, remotePath: push.remotePath }));
  let credentials: Awaited<ReturnType<typeof checkPushCredentials>>;
  try {
    credentials = await checkPushCredentials(push, targets);
  } catch (err) {
    return targets.map((t) => ({ target: t.label, unknown: errorLine(err) }));
  }
  const settings = {
    user: push.user,
    privateKey: credentials.privateKey,
    knownHosts: parseKnownHosts(credentials.knownHostsText),
    knownHostsFile: push.knownHostsFile,
    names: a.names,
    address: '',
    after: undefined,
    observeOnly: mode,
  };
  const results: TargetObservation[] = new Array(targets.length);
  let next = 0;
  // The push's own concurrency: as many connections at once as a failover would open.
  const worker = async () => {
    while (next < targets.length) {
      const i = next++;
      const t = targets[i]!;
      try {
        const r = await pushOverSsh(t, { ...settings, remotePath: t.remotePath }, push.timeout, signal);
        const text = r.observed ?? '';
        results[i] = { target: t.label, names: Object.fromEntries(a.names.map((n) => [n, lookupHosts(text, n)])) };
      } catch (err) {
        results[i] = { target: t.label, unknown: errorLine(err) };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(push.concurrency, targets.length) }, worker));
  return results;
}
