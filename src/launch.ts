// How an action's commands start and fail, shared by the applier (apply.ts) and the actions' own
// tasks (a burst of ARP, a probe, a push's pause between attempts): below both, so that no action
// imports the applier.
import { accessSync, constants, existsSync } from 'node:fs';
import type { ApplyContext } from './actions/plugin.ts';
import { type Failure, failure } from './failures.ts';
import { type CommandResult, type RunOptions, whichSystem } from './runner.ts';

/** How a privileged command line is started: "sudo -n" + argv, the form the sudoers rules pin. */
export interface Launcher {
  privileged: boolean;
  /** Absolute path of sudo; undefined when privileged and sudo is missing. */
  sudo: string | undefined;
}

/**
 * Run one argv the way every step runs: with "sudo -n" in front when privileged (the form the
 * sudoers rules pin), its timeout clamped to what is left of the run. A Failure when it cannot start.
 */
export async function runArgv(
  argv: readonly string[],
  o: Launcher & { timeoutMs: number; env?: Record<string, string>; stop?: RunOptions['stop'] },
  ctx: Pick<ApplyContext, 'runner' | 'signal' | 'remainingMs'>,
): Promise<{ result: CommandResult; timeoutMs: number } | Failure> {
  if (o.privileged && !o.sudo) return sudoUnavailable();
  const timeoutMs = Math.max(1, Math.min(o.timeoutMs, ctx.remainingMs()));
  const result = await ctx.runner.run(o.privileged ? [o.sudo!, '-n', ...argv] : argv, {
    timeoutMs,
    signal: ctx.signal,
    ...(o.env ? { env: o.env } : {}),
    ...(o.stop ? { stop: o.stop } : {}),
  });
  return { result, timeoutMs };
}

/**
 * Why there is no sudo to start a privileged command. The lookup wants an executable sudo, and
 * access(2) refuses X_OK on a noexec mount, which is how systemd's NoExecPaths= works: a sudo that is
 * there but may not be run is not "missing", and installing it would change nothing.
 * `unexecutable`: where a sudo is that exists but may not be executed, if there is one.
 */
export function sudoUnavailable(unexecutable: () => string | undefined = unexecutableSudo): Failure {
  const path = unexecutable();
  return path ? failure('sudo-not-executable', { path }) : failure('sudo-missing');
}

function unexecutableSudo(): string | undefined {
  const path = whichSystem('sudo', existsSync);
  if (!path) return undefined;
  try {
    accessSync(path, constants.X_OK);
    // Executable after all: whoever looked it up did not see it (or a test said so).
    return undefined;
  } catch {
    return path;
  }
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

/** sudo's own words when NoNewPrivileges stops it (sudo 1.9: its first line; the second is only a container hint). */
const NO_NEW_PRIVILEGES = /^.*"no new privileges" flag is set.*$/im;
const SUDO_REFUSED = /a password is required|not allowed to execute|may not run sudo/;

/** Why a command did not succeed; `argv` is the step's own, without the sudo prefix. */
export function commandFailure(
  argv: readonly string[],
  r: {
    exitCode: number | undefined;
    signal: string | undefined;
    stderr: string;
    timedOut: boolean;
    spawnError: string | undefined;
    error?: string;
  },
  privileged: boolean,
  timeoutMs?: number,
): Failure {
  const command = argv.join(' ');
  if (r.spawnError)
    return failure('spawn-failed', { program: privileged ? 'sudo' : (argv[0] ?? ''), reason: r.spawnError });
  if (r.error) return failure('output-too-large', { command, detail: r.error });
  if (r.timedOut) return failure('command-timeout', { command, afterMs: timeoutMs });
  const lastLine = r.stderr.trim().split('\n').at(-1) ?? '';
  if (privileged && SUDO_REFUSED.test(r.stderr)) return failure('sudo-refused', { command, said: lastLine });
  const how = r.exitCode !== undefined ? `exited ${r.exitCode}` : `killed by ${r.signal}`;
  const unprivileged = privileged ? NO_NEW_PRIVILEGES.exec(r.stderr)?.[0] : undefined;
  if (unprivileged)
    return failure('sudo-no-new-privileges', { command, how, said: unprivileged.trim().replace(/\.$/, '') });
  return failure('command-failed', { command, how, said: lastLine });
}
