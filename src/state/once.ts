import { join } from 'node:path';
import { readSmallFile, writeSmallFile } from './files.ts';

function donePath(lockDir: string, master: string, action: string): string {
  return join(lockDir, `${encodeURIComponent(master)}.${action}.done`);
}

/**
 * Non-convergent actions (exec) run at most once per failover, per master and config epoch, whichever
 * process gets there first (the hook, reconcile, watch): the record is a file per action next to the lock.
 */
export function onceDone(lockDir: string, master: string, action: string, epoch: number): boolean {
  const text = readSmallFile(donePath(lockDir, master, action));
  return text !== undefined && Number(text.trim()) >= epoch;
}

export function markOnce(lockDir: string, master: string, action: string, epoch: number): void {
  if (onceDone(lockDir, master, action, epoch)) return;
  writeSmallFile(donePath(lockDir, master, action), `${epoch}\n`);
}
