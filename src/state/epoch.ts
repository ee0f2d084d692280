import { join } from 'node:path';
import { readSmallFile, writeSmallFile } from './files.ts';

/** The master this host last brought itself in line with, at which config epoch. */
export interface ActedState {
  ip: string;
  port: number;
  epoch: number;
}

function epochPath(lockDir: string, master: string): string {
  return join(lockDir, `${encodeURIComponent(master)}.epoch`);
}

/**
 * The newest config epoch this host has acted on for a master, and the master it named: kept next to
 * the lock, where every process serving the master here (hook, reconcile, watch) reads and writes it.
 * A later answer naming an older epoch is a failover still under way, never a reason to go back.
 */
export function readActedEpoch(lockDir: string, master: string): ActedState | undefined {
  const text = readSmallFile(epochPath(lockDir, master));
  const m = text ? /^(\d+) (\S+) (\d+)\n?$/.exec(text) : null;
  return m ? { epoch: Number(m[1]), ip: m[2]!, port: Number(m[3]) } : undefined;
}

/** Record that this host now matches `state` (written by rename: a reader sees the old record or the new one). */
export function recordActedEpoch(lockDir: string, master: string, state: ActedState): void {
  const before = readActedEpoch(lockDir, master);
  // Never lower it: two processes may record at once, and the newer failover must win.
  if (before && before.epoch > state.epoch) return;
  writeSmallFile(epochPath(lockDir, master), `${state.epoch} ${state.ip} ${state.port}\n`);
}
