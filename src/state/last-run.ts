// What the last run for each master did, and whether `watch` is alive: written by the pipeline and by
// watch, read by `status` (and whoever looks). Records of this host's own, JSON, replaced whole.
import { join } from 'node:path';
import { readSmallFile, writeSmallFile } from './files.ts';

const MAX_BYTES = 4096;

export interface LastRun {
  /** ISO time the run ended. */
  at: string;
  run: string;
  intent: string;
  outcome: string;
  exitCode: number;
  /** The master address and config epoch it acted on, when known. */
  master?: { ip: string; port: number; epoch?: number };
  ms: number;
  /** Why it ended so, in one line, when it did not simply succeed. */
  reason?: string;
}

export interface Heartbeat {
  pid: number;
  /** ISO time watch started. */
  started: string;
  /** ISO time of this record: refreshed every interval. */
  at: string;
  /** That interval: a record older than a few of them is a watch that stopped (absent in older records). */
  intervalMs?: number;
  lastReconcile?: { at: string; outcomes: Record<string, string> };
}

function lastRunPath(dir: string, master: string): string {
  return join(dir, `${encodeURIComponent(master)}.last-run.json`);
}

const HEARTBEAT = 'watch.heartbeat.json';

function readJson<T>(path: string): T | undefined {
  const text = readSmallFile(path, MAX_BYTES);
  if (!text) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/** Cut to fit: a record that cannot be read back whole is worse than a shorter reason. */
function fit(record: LastRun): string {
  const text = `${JSON.stringify(record)}\n`;
  if (Buffer.byteLength(text) <= MAX_BYTES) return text;
  return `${JSON.stringify({ ...record, reason: `${(record.reason ?? '').slice(0, 1000)}…` })}\n`;
}

export function writeLastRun(dir: string, master: string, record: LastRun): void {
  writeSmallFile(lastRunPath(dir, master), fit(record));
}

export function readLastRun(dir: string, master: string): LastRun | undefined {
  return readJson<LastRun>(lastRunPath(dir, master));
}

export function writeHeartbeat(dir: string, beat: Heartbeat): void {
  const text = `${JSON.stringify(beat)}\n`;
  // Too many masters to list: the record says watch is alive all the same.
  const { lastReconcile, ...alive } = beat;
  writeSmallFile(
    join(dir, HEARTBEAT),
    Buffer.byteLength(text) <= MAX_BYTES
      ? text
      : `${JSON.stringify({ ...alive, lastReconcile: lastReconcile && { at: lastReconcile.at, outcomes: {} } })}\n`,
  );
}

/**
 * Is the watch that wrote `beat` still running: its record younger than three of its intervals (and a
 * few seconds for a slow reconcile)? The unit's ProtectProc=invisible hides the process from other users.
 */
export function heartbeatAlive(beat: Heartbeat, nowMs: number): boolean {
  return nowMs - Date.parse(beat.at) < 3 * (beat.intervalMs ?? 10_000) + 5000;
}

export function readHeartbeat(dir: string): Heartbeat | undefined {
  return readJson<Heartbeat>(join(dir, HEARTBEAT));
}
