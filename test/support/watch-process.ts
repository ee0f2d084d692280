// `sentinel-hook watch` (the built CLI) as a child process of a test: its output kept, its JSON log lines
// parsed, waits that fail with the tail of what it said, and a bounded stop. One place, so that every
// watch test reads the process the same way and none can leave it running.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { waitFor } from '../lab/wait.ts';

export const BIN = resolve(import.meta.dirname, '../../bin/sentinel-hook.cjs');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface WatchProcess {
  child: ChildProcess;
  /** All it wrote so far, stdout and stderr interleaved as they arrived. */
  text(): string;
  /** Its JSON log lines so far (anything else it printed is left out). */
  log(): Record<string, unknown>[];
  exited: Promise<Exit>;
  /** Waits until `ok()`; a time-out fails with the tail of watch's output. */
  until(what: string, ok: () => boolean, timeoutMs?: number, intervalMs?: number): Promise<void>;
  /** SIGTERM, then the exit within `timeoutMs` (a test fails rather than hangs on a watch that stays). */
  stop(timeoutMs?: number): Promise<Exit>;
  /** SIGKILL if it still runs: for t.after, so that a failed test leaves nothing behind. */
  kill(): void;
}

export function startWatch(
  config: string,
  args: string[] = [],
  opts: { nodeArgs?: string[]; env?: NodeJS.ProcessEnv } = {},
): WatchProcess {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), BIN, 'watch', '--config', config, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.env ? { env: opts.env } : {}),
  });
  const out: string[] = [];
  child.stdout!.on('data', (b: Buffer) => out.push(b.toString()));
  child.stderr!.on('data', (b: Buffer) => out.push(b.toString()));
  const exited = new Promise<Exit>((ok) => child.on('exit', (code, signal) => ok({ code, signal })));
  const text = () => out.join('');
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    text,
    exited,
    log: () =>
      text()
        .split('\n')
        .flatMap((line) => {
          try {
            return [JSON.parse(line) as Record<string, unknown>];
          } catch {
            return [];
          }
        }),
    until: async (what, ok, timeoutMs = 20_000, intervalMs = 25) => {
      await waitFor(what, () => (ok() ? true : undefined), { timeoutMs, intervalMs }).catch((err: Error) => {
        throw new Error(`${err.message}\nwatch said:\n${text().slice(-4000)}`);
      });
    },
    stop: async (timeoutMs = 20_000) => {
      if (running()) child.kill('SIGTERM');
      const timer = new Promise<'still running'>((ok) => setTimeout(ok, timeoutMs, 'still running').unref());
      const result = await Promise.race([exited, timer]);
      assert.notEqual(result, 'still running', `watch did not end within ${timeoutMs} ms of SIGTERM:\n${text()}`);
      return result as Exit;
    },
    kill: () => {
      if (running()) child.kill('SIGKILL');
    },
  };
}
