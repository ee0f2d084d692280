import { existsSync, readFileSync } from 'node:fs';
import type { LabProcess } from './lab.ts';
import { waitFor, waitUntil } from './wait.ts';

export interface WriterOptions {
  /** Address to write through (the VIP by default). */
  host: string;
  port: number;
  key: string;
  /** A new attempt (new connection) every intervalMs. */
  intervalMs: number;
  /** One attempt's limit: connect + SET + INFO. */
  attemptTimeoutMs: number;
  /** The writer exits by itself after this long, or after maxAttempts. */
  durationMs: number;
  maxAttempts: number;
}

/** One attempt, as writer.mjs reports it. `server` is the lab host whose redis-server acknowledged. */
export interface WriteAttempt {
  seq: number;
  sent: number;
  at: number;
  ok: boolean;
  server?: string;
  err?: string;
}

/** Handle on a writer.mjs process running in an app host's namespace. */
export class Writer {
  constructor(
    readonly proc: LabProcess,
    readonly file: string,
    readonly options: WriterOptions,
  ) {}

  attempts(): WriteAttempt[] {
    if (!existsSync(this.file)) return [];
    const out: WriteAttempt[] = [];
    for (const line of readFileSync(this.file, 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        out.push(JSON.parse(line) as WriteAttempt);
      } catch {
        // a line being written right now
      }
    }
    return out.sort((a, b) => a.at - b.at);
  }

  /** First acknowledged write at or after `since`, optionally by a given server. */
  firstAck(since: number, server?: string): WriteAttempt | undefined {
    return this.attempts().find((a) => a.ok && a.at >= since && (server === undefined || a.server === server));
  }

  /** Last acknowledged write before `before` (by any server). */
  lastAckBefore(before: number): WriteAttempt | undefined {
    return this.attempts()
      .filter((a) => a.ok && a.at < before)
      .at(-1);
  }

  waitAck(what: string, since: number, opts: { server?: string; timeoutMs: number }): Promise<WriteAttempt> {
    return waitFor(
      `${what}: a write through ${this.options.host} acknowledged${opts.server ? ` by ${opts.server}` : ''}`,
      () => this.firstAck(since, opts.server),
      {
        timeoutMs: opts.timeoutMs,
        intervalMs: 20,
      },
    );
  }

  /** Stop it (SIGTERM by pid) and wait until it has exited (bounded). */
  async stop(timeoutMs = 3000): Promise<void> {
    if (this.proc.exitedAt === undefined) {
      try {
        process.kill(this.proc.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
    await waitUntil('the writer to exit', () => this.proc.exitedAt !== undefined, { timeoutMs, intervalMs: 20 });
  }
}
