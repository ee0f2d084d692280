import { join } from 'node:path';
import { sameSentinels } from './epoch.ts';
import { readSmallFile, writeSmallFile } from './files.ts';

function donePath(dir: string, master: string, action: string): string {
  return join(dir, `${encodeURIComponent(master)}.${action}.done`);
}

/**
 * Non-convergent actions (exec) run at most once per failover, per master and config epoch of one set
 * of Sentinels, whichever process gets there first (the hook, reconcile, watch): the record is a file
 * per action. A rebuilt set of Sentinels (new ids, epochs from 0 again) starts new failovers.
 */
export function onceDone(dir: string, master: string, action: string, epoch: number, ids?: readonly string[]): boolean {
  const m = /^(\d+)(?: ([0-9a-f,]+))?\n?$/.exec(readSmallFile(donePath(dir, master, action), 1024) ?? '');
  return m !== null && Number(m[1]) >= epoch && sameSentinels(m[2]?.split(','), ids);
}

export function markOnce(dir: string, master: string, action: string, epoch: number, ids?: readonly string[]): void {
  if (onceDone(dir, master, action, epoch, ids)) return;
  const tail = ids?.length ? ` ${[...new Set(ids)].sort().join(',')}` : '';
  writeSmallFile(donePath(dir, master, action), `${epoch}${tail}\n`);
}
