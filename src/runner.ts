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
let stopping = false;

/**
 * End every child process group still running (SIGTERM from an operator): SIGTERM first, SIGKILL after
 * a grace. SIGKILL alone would reach sudo but not what it runs as root: sudo relays TERM, it cannot
 * relay KILL, and we may not signal a root process ourselves.
 */
export async function killAllChildren(): Promise<void> {
  // From now on nothing new starts: a child spawned during the grace would get no TERM, only KILL.
  stopping = true;
  if (liveGroups.size === 0) return;
  for (const pgid of liveGroups) killGroup(pgid, 'SIGTERM');
  await new Promise((r) => setTimeout(r, TERM_GRACE_MS));
  for (const pgid of liveGroups) killGroup(pgid, 'SIGKILL');
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

const MAX_OUTPUT = 4 * 1024 * 1024;
/** After our child exits, how long its output may still take to drain. */
const PIPE_GRACE_MS = 200;
/** Between SIGTERM and SIGKILL on timeout. */
const TERM_GRACE_MS = 200;

/**
 * Each child leads its own process group so that a timeout kills what it started too
 * (ssh, rsync, a shell's children): Sentinel's own SIGKILL would reach only our pid.
 *
 * node:child_process rather than execa: loading execa cost 12-17 ms per run here (25+ with three
 * hooks starting at once in the lab), on the path between Sentinel's call and the VIP being
 * added, and this runner needs none of what it adds beyond spawn.
 */
export function createRunner(): CommandRunner {
  return {
    run(argv, opts) {
      const [file, ...args] = argv;
      if (!file) throw new Error('empty argv');
      const started = performance.now();
      if (stopping) return Promise.resolve({ exitCode: undefined, signal: undefined, stdout: '', stderr: '', durationMs: 0, timedOut: false, spawnError: 'not started: the run is being terminated' });
      const { spawn } = process.getBuiltinModule('node:child_process');
      return new Promise<CommandResult>((resolve) => {
        let timedOut = false;
        let spawnError: string | undefined;
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        const child = spawn(file, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
        const pid = child.pid;
        if (pid !== undefined) liveGroups.add(pid);
        const kill = () => {
          if (pid !== undefined) killGroup(pid, 'SIGKILL');
        };
        // A process that left our group (setsid, a daemon) can hold the pipes open forever: once
        // our child is gone or its time is up, stop waiting for them.
        let lastResort: NodeJS.Timeout | undefined;
        const stopWaiting = (exitCode: number | null, signal: NodeJS.Signals | null) => {
          lastResort ??= setTimeout(() => {
            child.stdout?.destroy();
            child.stderr?.destroy();
            finish(exitCode, signal);
          }, PIPE_GRACE_MS);
        };
        // sudo relays SIGTERM to the command it runs as root, which our SIGKILL could not reach.
        const end = () => {
          timedOut = true;
          if (pid !== undefined) killGroup(pid, 'SIGTERM');
          setTimeout(kill, TERM_GRACE_MS).unref();
          stopWaiting(null, 'SIGKILL');
        };
        const collect = (into: Buffer[]) => {
          let size = 0;
          return (chunk: Buffer) => {
            if (size >= MAX_OUTPUT) return;
            into.push(chunk);
            size += chunk.length;
          };
        };
        child.stdout?.on('data', collect(out));
        child.stderr?.on('data', collect(err));
        const timer = setTimeout(end, Math.max(1, opts.timeoutMs));
        const onAbort = end;
        opts.signal?.addEventListener('abort', onAbort, { once: true });
        if (opts.signal?.aborted) onAbort();
        let settled = false;
        const finish = (exitCode: number | null, signal: NodeJS.Signals | null) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          clearTimeout(lastResort);
          opts.signal?.removeEventListener('abort', onAbort);
          kill();
          if (pid !== undefined) liveGroups.delete(pid);
          const text = (chunks: Buffer[]) => Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
          resolve({
            exitCode: spawnError || exitCode === null ? undefined : exitCode,
            signal: signal ?? undefined,
            stdout: text(out),
            stderr: text(err),
            durationMs: Math.round(performance.now() - started),
            timedOut,
            spawnError,
          });
        };
        child.on('error', (e: NodeJS.ErrnoException) => {
          spawnError = e.code ?? e.message;
          if (pid === undefined) finish(null, null);
        });
        // What the child left running in its group goes with it (the README says so).
        child.on('exit', (code, signal) => {
          kill();
          stopWaiting(code, signal);
        });
        child.on('close', finish);
      });
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
