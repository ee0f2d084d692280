import { spawn, spawnSync } from 'node:child_process';

/** What one finished command left behind. */
export interface RunResult {
  argv: readonly string[];
  /** null when killed by a signal (our timeout included). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  ms: number;
}

export interface RunOptions {
  /** Hard limit; the child gets SIGKILL after it. Default 15 s: no lab command may hang a test. */
  timeoutMs?: number;
  /** Replaces the environment (default: a small clean one with a system PATH). */
  env?: NodeJS.ProcessEnv;
  input?: string;
  cwd?: string;
}

export const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: SYSTEM_PATH, LANG: 'C', LC_ALL: 'C', TZ: 'UTC', ...extra };
}

export class LabCommandError extends Error {
  constructor(readonly result: RunResult) {
    const how = result.timedOut
      ? `timed out after ${result.ms} ms`
      : result.code !== null
        ? `exited ${result.code}`
        : `killed by ${result.signal}`;
    const stderr = result.stderr.trim().split('\n').slice(-3).join(' | ');
    super(`${result.argv.join(' ')} ${how}${stderr ? `: ${stderr}` : ''}`);
    this.name = 'LabCommandError';
  }
}

/** Run an argv array (never a shell string) to completion, bounded by a timeout. Never throws for a non-zero exit. */
export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = argv;
  if (!file) throw new Error('run: empty argv');
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(file, args, {
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      env: opts.env ?? cleanEnv(),
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({
        argv,
        code: 127,
        signal: null,
        stdout,
        stderr: `${stderr}${err.message}`,
        timedOut,
        ms: Math.round(performance.now() - started),
      });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ argv, code, signal, stdout, stderr, timedOut, ms: Math.round(performance.now() - started) });
    });
  });
}

/** Run and insist on exit 0; returns stdout. */
export async function runOk(argv: readonly string[], opts: RunOptions = {}): Promise<string> {
  const result = await run(argv, opts);
  if (result.code !== 0) throw new LabCommandError(result);
  return result.stdout;
}

/** Synchronous variant, for teardown from signal and exit handlers (no event loop to rely on there). */
export function runSync(
  argv: readonly string[],
  timeoutMs = 10_000,
): { code: number | null; stdout: string; stderr: string } {
  const [file, ...args] = argv;
  const r = spawnSync(file!, args, { env: cleanEnv(), timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? r.error?.message ?? '' };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Blocking sleep for synchronous teardown. */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
