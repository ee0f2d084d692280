// How an action's commands start and fail, shared by the applier (apply.ts) and the actions' own
// tasks (a burst of ARP, a probe, a push's pause between attempts): below both, so that no action
// imports the applier.
import type { ApplyContext } from './actions/plugin.ts';
import type { CommandResult } from './runner.ts';

/** How a privileged command line is started: "sudo -n" + argv, the form the sudoers rules pin. */
export interface Launcher {
  privileged: boolean;
  /** Absolute path of sudo; undefined when privileged and sudo is missing. */
  sudo: string | undefined;
}

export const NO_SUDO = 'sudo not found (install sudo), or set privilege: none and run Sentinel as root or with CAP_NET_ADMIN and CAP_NET_RAW';

/**
 * Run one argv the way every step runs: with "sudo -n" in front when privileged (the form the
 * sudoers rules pin), its timeout clamped to what is left of the run. A string when it cannot start.
 */
export async function runArgv(
  argv: readonly string[],
  o: Launcher & { timeoutMs: number; env?: Record<string, string> },
  ctx: Pick<ApplyContext, 'runner' | 'signal' | 'remainingMs'>,
): Promise<{ result: CommandResult; timeoutMs: number } | string> {
  if (o.privileged && !o.sudo) return NO_SUDO;
  const timeoutMs = Math.max(1, Math.min(o.timeoutMs, ctx.remainingMs()));
  const result = await ctx.runner.run(o.privileged ? [o.sudo!, '-n', ...argv] : argv, { timeoutMs, signal: ctx.signal, ...(o.env ? { env: o.env } : {}) });
  return { result, timeoutMs };
}

/** Wait `ms`, or less if the run's deadline comes first. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** One line for a command that did not succeed; `argv` is the step's own, without the sudo prefix. */
export function describeFailure(
  argv: readonly string[],
  r: { exitCode: number | undefined; signal: string | undefined; stderr: string; timedOut: boolean; spawnError: string | undefined; error?: string },
  privileged: boolean,
  timeoutMs?: number,
): string {
  const shown = argv.join(' ');
  if (r.spawnError) return `${privileged ? 'sudo' : argv[0]} could not start (${r.spawnError})`;
  if (r.error) return `${shown} failed: ${r.error}`;
  if (r.timedOut) return `${shown} killed${timeoutMs ? ` after ${Math.round(timeoutMs)} ms` : ''} (step timeout or run deadline)`;
  const lastLine = r.stderr.trim().split('\n').at(-1) ?? '';
  if (privileged && /a password is required|not allowed to execute|may not run sudo/.test(r.stderr)) {
    return `sudo refused ${shown}: ${lastLine} (install the rules from "sentinel-hook sudoers --user USER")`;
  }
  const how = r.exitCode !== undefined ? `exited ${r.exitCode}` : `killed by ${r.signal}`;
  return `${shown} ${how}${lastLine ? `: ${lastLine}` : ''}`;
}
