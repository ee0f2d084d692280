export interface CommandResult {
  /** undefined when the program could not start or was killed by a signal. */
  exitCode: number | undefined;
  signal: string | undefined;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
  /** Set when the program could not be started at all (ENOENT, EACCES). */
  spawnError: string | undefined;
}

export interface RunOptions {
  timeoutMs: number;
  env?: Record<string, string>;
  /** Aborted at the whole-run deadline: the child's process group is killed. */
  signal?: AbortSignal;
}

/** The one way this program starts another one: an argv array, never a shell. */
export interface CommandRunner {
  run(argv: readonly string[], opts: RunOptions): Promise<CommandResult>;
}

const liveGroups = new Set<number>();

/** Kill every child process group still running (our own deadline, SIGTERM from an operator). */
export function killAllChildren(): void {
  for (const pgid of liveGroups) killGroup(pgid, 'SIGKILL');
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

/**
 * Each child leads its own process group so that a timeout kills what it started too
 * (ssh, rsync, a shell's children): Sentinel's own SIGKILL would reach only our pid.
 */
export function createRunner(): CommandRunner {
  return {
    async run(argv, opts) {
      const { execa } = await import('execa');
      const [file, ...args] = argv;
      if (!file) throw new Error('empty argv');
      const started = performance.now();
      let timedOut = false;
      const child = execa(file, args, {
        detached: true,
        reject: false,
        stdin: 'ignore',
        env: opts.env ?? {},
        extendEnv: true,
        stripFinalNewline: true,
        maxBuffer: 4 * 1024 * 1024,
      });
      const pid = child.pid;
      if (pid !== undefined) liveGroups.add(pid);
      const kill = () => {
        if (pid !== undefined) killGroup(pid, 'SIGKILL');
      };
      const timer = setTimeout(() => {
        timedOut = true;
        kill();
      }, Math.max(1, opts.timeoutMs));
      const onAbort = () => {
        timedOut = true;
        kill();
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      if (opts.signal?.aborted) onAbort();
      try {
        const result = await child;
        const cause = (result as { cause?: { code?: string } }).cause;
        const spawnError = result.exitCode === undefined && !result.signal && cause?.code ? `${cause.code}` : undefined;
        return {
          exitCode: result.exitCode,
          signal: result.signal,
          stdout: String(result.stdout ?? ''),
          stderr: String(result.stderr ?? ''),
          durationMs: Math.round(performance.now() - started),
          timedOut,
          spawnError,
        };
      } finally {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        // A child may have left grandchildren in its group after it exited: they go with it.
        kill();
        if (pid !== undefined) liveGroups.delete(pid);
      }
    },
  };
}

const SYSTEM_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** Absolute path of a program in the system directories; Sentinel's environment may have no PATH at all. */
export function whichSystem(program: string, exists: (path: string) => boolean): string | undefined {
  if (program.startsWith('/')) return exists(program) ? program : undefined;
  for (const dir of SYSTEM_DIRS) {
    const path = `${dir}/${program}`;
    if (exists(path)) return path;
  }
  return undefined;
}
