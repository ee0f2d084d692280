// This host as the pipeline sees it: name lookups bounded by the run's deadline, the read-only view
// handed to the plugins, and the questions a guard asks of the kernel.
import type { HostView } from '../actions/plugin.ts';
import { hookError } from '../errors.ts';
import { canonicalIp, isIpAddress } from '../values.ts';
import type { PipelineDeps } from './deps.ts';

/**
 * Settles as `work` does, or rejects with `late()` as soon as `signal` aborts, whichever comes first;
 * leaves no listener behind. What `work` still holds is its own business: it gets the same signal.
 */
function beforeDeadline<T>(work: Promise<T>, signal: AbortSignal, late: () => Error): Promise<T> {
  if (signal.aborted) {
    work.catch(() => {});
    return Promise.reject(late());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(late());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

export async function resolveAll(host: string, deps: PipelineDeps, signal: AbortSignal): Promise<string[]> {
  if (isIpAddress(host)) return [canonicalIp(host)];
  try {
    const addresses = await beforeDeadline(
      deps.resolve(host, signal),
      signal,
      () => new Error("no answer before the run's deadline"),
    );
    if (addresses.length === 0) throw new Error('no addresses');
    return addresses.map(canonicalIp);
  } catch (err) {
    throw hookError('dns-unresolved', { host, detail: (err as Error).message });
  }
}

/** The host, read-only, as plugins see it: commands end at the run's deadline. */
export function hostView(deps: PipelineDeps, signal: AbortSignal): HostView {
  return {
    localAddresses: deps.localAddresses(),
    read: (argv, opts) => deps.runner.run(argv, { timeoutMs: opts?.timeoutMs ?? 5000, signal }),
    which: deps.which,
    readFile: deps.readFile,
    ...(deps.capabilities ? { capabilities: deps.capabilities } : {}),
    logger: deps.logger,
    signal,
  };
}

/**
 * Is `address` on this host now? The kernel's interface list first (no process); an address missing
 * there is confirmed with `ip -j addr`, since that list leaves out interfaces without carrier (a
 * blip must not cost a burst its packets). When `ip` cannot tell, the address counts as here: a
 * failed read never silences a burst on its own.
 */
export function addressCheck(
  deps: Pick<PipelineDeps, 'localAddresses' | 'which' | 'runner'>,
  signal: AbortSignal,
): (address: string) => Promise<boolean> {
  return async (address) => {
    if (deps.localAddresses().has(address)) return true;
    const ip = deps.which('ip');
    if (!ip) return true;
    const r = await deps.runner.run([ip, '-j', 'addr', 'show'], { timeoutMs: 2000, signal });
    if (r.exitCode !== 0) return true;
    try {
      const links = JSON.parse(r.stdout) as { addr_info?: { local?: string }[] }[];
      return links.some((l) => l.addr_info?.some((a) => a.local !== undefined && canonicalIp(a.local) === address));
    } catch {
      return true;
    }
  };
}

/** What majorityNamesThisHost needs: ask (tests' fake or the real one) and "is that name this host". */
export function sentinelAsk(deps: PipelineDeps, signal: AbortSignal) {
  const lookups = new Map<string, Promise<boolean>>();
  return {
    env: deps.env,
    ...(deps.askSentinel ? { ask: deps.askSentinel } : {}),
    resolve: deps.resolve,
    // A name that does not resolve (in time) is not this host; each name is looked up once.
    isThisHost: (host: string) => {
      let answer = lookups.get(host);
      if (!answer) {
        answer = resolveAll(host, deps, signal).then(
          (addresses) => {
            const local = deps.localAddresses();
            return addresses.some((a) => local.has(a));
          },
          () => false,
        );
        lookups.set(host, answer);
      }
      return answer;
    },
  };
}
