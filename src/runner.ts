import { accessSync, constants } from 'node:fs';
import { nowMs } from './clock.ts';
export interface CommandResult {
  /** undefined when the program could not start, was killed by a signal, or failed otherwise (see `error`). */
  exitCode: number | undefined;
  signal: string | undefined;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
  /** Set when the program could not be started at all (ENOENT, EACCES). */
  spawnError: string | undefined;
  /** Why the command failed whatever its exit status, one line (its output went over the cap). */
  error?: string;
}

export interface RunOptions {
  timeoutMs: number;
  env?: Record<string, string>;
  /** Aborted at the whole-run deadline: the child's process group is killed (TERM, KILL 200 ms later). */
  signal?: AbortSignal;
  /**
   * A gentler end than `signal`'s: TERM to the group when `stop.signal` aborts, KILL only `graceMs` later,
   * so that a script can clean up (a run superseded by a newer one). `signal` during that grace still
   * kills at its own short grace.
   */
  stop?: { signal: AbortSignal; graceMs: number };
  /** Written to the child's stdin (a value sudoers cannot pin in the argv); otherwise stdin is closed. */
  input?: string;
}

/** The one way this program starts another one: an argv array, never a shell. */
export interface CommandRunner {
  run(argv: readonly string[], opts: RunOptions): Promise<CommandResult>;
}

/** A runner with a lifetime: a command (hook, reconcile, a service) owns one and stops it on SIGTERM. */
export interface Runner extends CommandRunner {
  /**
   * End every child this runner started that is still running: SIGTERM first, SIGKILL after a grace.
   * SIGKILL alone would reach sudo but not what it runs as root: sudo relays TERM, it cannot relay
   * KILL, and we may not signal a root process ourselves. From then on the runner starts nothing:
   * a child spawned during the grace would get no TERM, only KILL.
   */
  stop(): Promise<void>;
}

const MAX_OUTPUT = 4 * 1024 * 1024;
/** After our child exits, how long its output may still take to drain. */
const PIPE_GRACE_MS = 200;
/** Between SIGTERM and SIGKILL on timeout, abort and stop. */
const TERM_GRACE_MS = 200;

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

type Execa = typeof import('execa').execa;
let execaLoading: Promise<Execa> | undefined;

/**
 * execa, loaded on the first command: a dry-run starts none and must not pay for it (the bundle
 * keeps it in a file of its own, dist/execa.cjs, with its own code cache; see scripts/build.mjs).
 */
function loadExeca(): Promise<Execa> {
  execaLoading ??= import('execa').then(
    (mod) => ((mod as { default?: { execa?: Execa } }).default?.execa ?? mod.execa) as Execa,
  );
  return execaLoading;
}

function notStarted(reason: string): CommandResult {
  return {
    exitCode: undefined,
    signal: undefined,
    stdout: '',
    stderr: '',
    durationMs: 0,
    timedOut: false,
    spawnError: reason,
  };
}

const text = (bytes: Uint8Array | string | undefined): string =>
  (typeof bytes === 'string' ? bytes : Buffer.from(bytes ?? new Uint8Array()).toString('utf8')).replace(/\r?\n$/, '');

/**
 * Children start through execa (its cancelSignal, TERM-then-KILL, output cap, error messages), plus
 * what it does not do. Each child leads its own process group so that a timeout kills what it
 * started too (ssh, rsync, a shell's children): Sentinel's own SIGKILL would reach only our pid, and
 * execa's kill only the child's. `baseEnv` is read at each start, so a variable removed from it
 * (the Sentinel password, see withholdSecret) reaches no later child.
 */
export function createRunner(baseEnv: NodeJS.ProcessEnv = process.env): Runner {
  const liveGroups = new Set<number>();
  let stopping = false;
  return {
    async stop() {
      stopping = true;
      if (liveGroups.size === 0) return;
      for (const pgid of liveGroups) killGroup(pgid, 'SIGTERM');
      await new Promise((r) => setTimeout(r, TERM_GRACE_MS));
      for (const pgid of liveGroups) killGroup(pgid, 'SIGKILL');
    },
    async run(argv, opts) {
      const [file, ...args] = argv;
      if (!file) throw new Error('empty argv');
      const started = nowMs();
      if (stopping) return notStarted('not started: the run is being terminated');
      const execa = await loadExeca();
      // Asked again: stop() may have come while execa loaded.
      if (stopping) return notStarted('not started: the run is being terminated');
      let timedOut = false;
      const cancel = new AbortController();
      const child = execa(file, args, {
        cancelSignal: cancel.signal,
        // sudo relays SIGTERM to the command it runs as root, which a SIGKILL could not reach.
        killSignal: 'SIGTERM',
        // Never before our own KILL (below), which comes sooner when the deadline cuts a stop's grace short.
        forceKillAfterDelay: Math.max(TERM_GRACE_MS, opts.stop?.graceMs ?? 0),
        maxBuffer: MAX_OUTPUT,
        encoding: 'buffer',
        stripFinalNewline: false,
        ...(opts.input === undefined ? { stdin: 'ignore' as const } : { input: opts.input }),
        env: { ...baseEnv, ...opts.env },
        extendEnv: false,
        // execa always changes into its cwd (default: ours), which fails with EACCES when we may not
        // enter our own working directory (started as redis from a directory only root may enter).
        // Children then start in / rather than not at all; otherwise where we are, as spawn would.
        cwd: workingDirectory(),
        detached: true,
        reject: false,
      });
      const pid = child.pid;
      if (pid !== undefined) liveGroups.add(pid);
      // A process that left our group (setsid, a daemon) can hold the pipes open forever: once our
      // child is gone or its time is up, stop waiting for them.
      let letGo: NodeJS.Timeout | undefined;
      let letGoAt = Number.POSITIVE_INFINITY;
      const stopWaiting = (afterMs: number) => {
        if (nowMs() + afterMs >= letGoAt) return;
        letGoAt = nowMs() + afterMs;
        clearTimeout(letGo);
        letGo = setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
        }, afterMs);
      };
      // TERM once, KILL after `graceMs`; asked again with a shorter grace (the deadline during a stop's
      // grace), the KILL comes sooner, never later.
      let killAt = Number.POSITIVE_INFINITY;
      let kill: NodeJS.Timeout | undefined;
      const endWithin = (graceMs: number) => {
        if (nowMs() + graceMs >= killAt) return;
        const first = killAt === Number.POSITIVE_INFINITY;
        killAt = nowMs() + graceMs;
        timedOut = true;
        if (first && pid !== undefined) killGroup(pid, 'SIGTERM');
        clearTimeout(kill);
        kill = setTimeout(() => pid !== undefined && killGroup(pid, 'SIGKILL'), graceMs);
        kill.unref();
        if (first) cancel.abort();
        stopWaiting(graceMs + PIPE_GRACE_MS);
      };
      const end = () => endWithin(TERM_GRACE_MS);
      const stop = () => endWithin(opts.stop!.graceMs);
      const timer = setTimeout(end, Math.max(1, opts.timeoutMs));
      opts.signal?.addEventListener('abort', end, { once: true });
      opts.stop?.signal.addEventListener('abort', stop, { once: true });
      if (opts.stop?.signal.aborted) stop();
      if (opts.signal?.aborted) end();
      // What the child left running in its group goes with it (docs/reference/exit-codes.md says so).
      child.once('exit', () => {
        if (pid !== undefined) killGroup(pid, 'SIGKILL');
        stopWaiting(PIPE_GRACE_MS);
      });
      try {
        const r = await child;
        const spawnError =
          pid === undefined ? (r.shortMessage ?? r.message ?? 'could not start').split('\n')[0] : undefined;
        const error = r.isMaxBuffer ? `output over ${MAX_OUTPUT / 1024 / 1024} MiB` : undefined;
        return {
          exitCode: spawnError || error ? undefined : r.exitCode,
          signal: r.signal,
          stdout: text(r.stdout),
          stderr: text(r.stderr),
          durationMs: Math.round(nowMs() - started),
          timedOut,
          spawnError,
          ...(error ? { error } : {}),
        };
      } finally {
        clearTimeout(timer);
        clearTimeout(letGo);
        clearTimeout(kill);
        opts.signal?.removeEventListener('abort', end);
        opts.stop?.signal.removeEventListener('abort', stop);
        if (pid !== undefined) {
          killGroup(pid, 'SIGKILL');
          liveGroups.delete(pid);
        }
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

let cwd: string | undefined;
/** Our working directory if we may enter it, else /: decided once per process. */
function workingDirectory(): string {
  if (cwd === undefined) {
    try {
      cwd = process.cwd();
      accessSync(cwd, constants.X_OK);
    } catch {
      cwd = '/';
    }
  }
  return cwd;
}
