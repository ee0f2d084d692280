// doctor's checks of a push: each target, connected to the way a push connects (the key, known host
// keys only, the push's timeout), must let the push's user create and remove a file beside the remote
// file. The remote file itself is read, never changed.
import type { DoctorCheck, DoctorHost } from '../plugin.ts';
import type { HostsAction } from './index.ts';
import { observeTargets } from './observe.ts';

/** The fix for why a target failed, when the reason does not carry one already. */
function fixFor(reason: string, target: string): string | undefined {
  if (/timed out|cannot connect|ECONNREFUSED|EHOSTUNREACH|ENETUNREACH/.test(reason))
    return `start sshd on ${target} and make sure this host can reach it (a push to it would fail the same way)`;
  if (/known_hosts|host key/i.test(reason))
    return "add the target's host key to push.knownHostsFile (ssh-keyscan, checked against the target itself)";
  return undefined;
}

export async function pushChecks(a: HostsAction, host: DoctorHost): Promise<DoctorCheck[]> {
  const push = a.push!;
  // The push runs as Sentinel's user: its key and known_hosts must be readable by that user, not only by root.
  const files: DoctorCheck[] = [];
  for (const [field, path] of [
    ['identityFile', push.identityFile],
    ['knownHostsFile', push.knownHostsFile],
  ] as const) {
    const readable = await host.readableByUser?.(path);
    if (readable === false)
      files.push({
        check: `push ${field}`,
        result: 'fail',
        detail: `${host.user} cannot read ${path}`,
        fix: `chown ${host.user} ${path}${field === 'identityFile' ? `; chmod 600 ${path}` : ''}`,
      });
    else if (readable) files.push({ check: `push ${field}`, result: 'pass', detail: `${host.user} reads ${path}` });
  }
  const seen = await observeTargets(a, host.signal, 'probe');
  return [
    ...files,
    ...seen.map((t): DoctorCheck => {
      const check = `push target ${t.target}`;
      if ('unknown' in t) {
        const fix = fixFor(t.unknown, t.target);
        return { check, result: 'fail', detail: t.unknown, ...(fix ? { fix } : {}) };
      }
      return {
        check,
        result: 'pass',
        detail: `${push.user} logs in with identityFile, host key known; a file was created and removed beside ${push.remotePath}`,
      };
    }),
  ];
}
