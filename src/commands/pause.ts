import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { loadConfig } from '../config/load.ts';
import type { HookConfig } from '../config/schema.ts';
import { prepareLockDir } from '../lock.ts';
import { pauseFile } from '../watch.ts';

/** `pause` / `resume`: the switch is a file in the lock directory, which every process serving the masters here reads. */
export async function pauseCommand(path: string, on: boolean, reason?: string): Promise<string> {
  const uid = process.getuid?.() ?? 0;
  const config = await loadConfig(path, uid);
  const file = pauseFile(config);
  if (!on) {
    rmSync(file, { force: true });
    return `resumed: watch and reconcile act again (${file} removed)`;
  }
  prepareLockDir(config.lockDir, uid);
  // Printable text only: it is shown in logs and on terminals.
  const why = (reason ?? 'no reason given').replace(/[\x00-\x1f\x7f]/g, ' ').slice(0, 200);
  writeFileSync(file, `${new Date().toISOString()} by ${userInfo().username}: ${why}\n`, { mode: 0o644 });
  return `paused: watch and reconcile change nothing until "sentinel-hook resume" (${file})`;
}

/** What the pause file says, or undefined when not paused. */
export function pausedBecause(config: HookConfig): string | undefined {
  try {
    statSync(pauseFile(config));
    return readFileSync(pauseFile(config), 'utf8').trim().slice(0, 300) || 'paused';
  } catch {
    return undefined;
  }
}
