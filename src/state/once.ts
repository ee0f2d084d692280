import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { knownSentinels, sameSentinels } from './epoch.ts';
import { readSmallFile, writeSmallFile } from './files.ts';

function donePath(dir: string, master: string, action: string): string {
  return join(dir, `${encodeURIComponent(master)}.${action}.done`);
}

/**
 * Non-convergent actions (exec) run at most once per failover, per master and config epoch of one set
 * of Sentinels, whichever process gets there first (the hook, reconcile, watch): the record is a file
 * per action. A rebuilt set of Sentinels (new ids, epochs from 0 again) starts new failovers. The ids
 * sit in a file of their own beside it, so that the record itself stays a bare epoch: what a process
 * of the previous version (watch, until its restart) reads during an upgrade.
 */
export function onceDone(dir: string, master: string, action: string, epoch: number, ids?: readonly string[]): boolean {
  const path = donePath(dir, master, action);
  const text = readSmallFile(path);
  if (text === undefined || !/^\d+\n?$/.test(text) || Number(text) < epoch) return false;
  const recorded = readSmallFile(`${path}.ids`, 1024)?.trim();
  return sameSentinels(recorded ? recorded.split(',') : undefined, ids);
}

export function markOnce(dir: string, master: string, action: string, epoch: number, ids?: readonly string[]): void {
  if (onceDone(dir, master, action, epoch, ids)) return;
  const path = donePath(dir, master, action);
  const known = knownSentinels(readSmallFile(`${path}.ids`, 1024)?.trim().split(',').filter(Boolean), ids);
  // The ids first: a reader that sees the new epoch sees its Sentinels too.
  if (known.length) writeSmallFile(`${path}.ids`, `${known.join(',')}\n`);
  else rmSync(`${path}.ids`, { force: true });
  writeSmallFile(path, `${epoch}\n`);
}
