import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The pause switch: while this file exists in the lock directory, watch and reconcile change nothing. */
export function pauseFile(lockDir: string): string {
  return join(lockDir, 'paused');
}

/** What the pause file says, or undefined when not paused. */
export function pausedBecause(lockDir: string): string | undefined {
  const file = pauseFile(lockDir);
  try {
    statSync(file);
    return readFileSync(file, 'utf8').trim().slice(0, 300) || 'paused';
  } catch {
    return undefined;
  }
}

export function writePause(lockDir: string, text: string): void {
  writeFileSync(pauseFile(lockDir), text, { mode: 0o644 });
}

export function removePause(lockDir: string): void {
  rmSync(pauseFile(lockDir), { force: true });
}
