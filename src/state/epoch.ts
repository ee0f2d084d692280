import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readSmallFile, writeSmallFile } from './files.ts';

/** The master this host last brought itself in line with, at which config epoch, told by which Sentinels. */
export interface ActedState {
  ip: string;
  port: number;
  epoch: number;
  /** SENTINEL MYID of the Sentinels that answered; empty when unknown (an old record, an ACL without MYID). */
  ids?: readonly string[];
}

function epochPath(dir: string, master: string): string {
  return join(dir, `${encodeURIComponent(master)}.epoch`);
}

/**
 * Epochs count failovers of one set of Sentinels: the same ids. Rebuilt Sentinels (a fresh
 * sentinel.conf, new hosts) have new ids and start again from 0, so an epoch says "older" only between
 * answers of Sentinels that share an identity. Unknown ids share with any: an old record still guards.
 */
export function sameSentinels(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (!a?.length || !b?.length) return true;
  return a.some((id) => b.includes(id));
}

/**
 * The ids of one set of Sentinels, as far as this host has heard them: `now` (who answered this time,
 * often one Sentinel: the one that confirmed first) joined with what a record already knows of the
 * same set. Without it, a record made from one Sentinel's answer would look like another set of
 * Sentinels to a run confirmed by another member of the group.
 */
export function knownSentinels(recorded: readonly string[] | undefined, now: readonly string[] | undefined): string[] {
  if (!now?.length) return [...(recorded ?? [])];
  if (!recorded?.length || !sameSentinels(recorded, now)) return [...new Set(now)].sort();
  return [...new Set([...recorded, ...now])].sort();
}

/**
 * The newest config epoch this host has acted on for a master, and the master it named: every process
 * serving the master here (hook, reconcile, watch) reads and writes it. A later answer naming an older
 * epoch of the same Sentinels is a failover still under way, never a reason to go back (see olderSince).
 */
export function readActedEpoch(dir: string, master: string): ActedState | undefined {
  const path = epochPath(dir, master);
  const text = readSmallFile(path);
  const m = text ? /^(\d+) (\S+) (\d+)\n?$/.exec(text) : null;
  if (!m) return undefined;
  // The ids beside it, in a file of their own: the record stays what the previous version reads.
  const ids = readSmallFile(`${path}.ids`, 1024)?.trim();
  return { epoch: Number(m[1]), ip: m[2]!, port: Number(m[3]), ...(ids ? { ids: ids.split(',') } : {}) };
}

/**
 * When the record was last written (ms since the epoch): each run that finds this host in line writes it
 * again, so this is the last time this host was known to match it. For `status`'s grace period.
 */
export function actedEpochWrittenAt(dir: string, master: string): number | undefined {
  try {
    return statSync(epochPath(dir, master)).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * Record that this host now matches `state` (by rename: a reader sees the old record or the new one).
 * Never lowered for the same Sentinels (two processes may record at once, and the newer failover must
 * win), unless `replace`: the caller found the old record void (rebuilt Sentinels, or an older answer
 * that outlasted any failover).
 */
export function recordActedEpoch(dir: string, master: string, state: ActedState, replace = false): void {
  const before = readActedEpoch(dir, master);
  if (!replace && before && before.epoch > state.epoch && sameSentinels(before.ids, state.ids)) return;
  // One answer names one Sentinel; the group's other ids, learnt from earlier answers, stay known.
  if (!replace && before) state = { ...state, ids: knownSentinels(before.ids, state.ids) };
  const path = epochPath(dir, master);
  // The ids first: a reader that sees the new epoch sees the Sentinels that told it.
  if (state.ids?.length) writeSmallFile(`${path}.ids`, `${[...new Set(state.ids)].sort().join(',')}\n`);
  else rmSync(`${path}.ids`, { force: true });
  writeSmallFile(path, `${state.epoch} ${state.ip} ${state.port}\n`);
}

function olderPath(dir: string, master: string): string {
  return join(dir, `${encodeURIComponent(master)}.older`);
}

/** This boot's identity: an age kept on disk counts only within one boot (uptime restarts at 0). */
function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

/** Milliseconds since boot: monotonic, unlike the wall clock (or a file's mtime), which may be stepped. */
function uptimeMs(): number {
  try {
    return Math.round(Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1000);
  } catch {
    return Math.round(performance.timeOrigin + performance.now());
  }
}

/**
 * For how long (ms) the Sentinels have answered `epoch` while this host acted on a newer one: the
 * first such answer starts the count (kept on disk with the boot id, so that every process serving
 * the master counts from it). A failover is never under way for longer than the master's
 * failover-timeout, so past that the answer is the truth, not a failover in progress.
 */
export function olderSince(dir: string, master: string, epoch: number, acted: number): number {
  const path = olderPath(dir, master);
  const now = uptimeMs();
  const boot = bootId();
  const m = /^(\S+) (\d+) (\d+) (\d+)\n?$/.exec(readSmallFile(path) ?? '');
  if (m && m[1] === boot && Number(m[3]) === epoch && Number(m[4]) === acted) return Math.max(0, now - Number(m[2]));
  try {
    writeSmallFile(path, `${boot} ${now} ${epoch} ${acted}\n`);
  } catch {
    // no record: every process counts from its own first look, which only makes the wait longer
  }
  return 0;
}

/** The answers are no longer older: the count starts again at the next older one. */
export function clearOlder(dir: string, master: string): void {
  rmSync(olderPath(dir, master), { force: true });
}
