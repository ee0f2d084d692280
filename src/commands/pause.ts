import { userInfo } from 'node:os';
import { loadConfig } from '../config/load.ts';
import { prepareLockDir } from '../state/lock.ts';
import { pauseFile, removePause, writePause } from '../state/pause.ts';

/** `pause` / `resume`: the switch is a file in the lock directory, which every process serving the masters here reads. */
export async function pauseCommand(path: string, on: boolean, reason?: string): Promise<string> {
  const uid = process.getuid?.() ?? 0;
  const config = await loadConfig(path, uid);
  const file = pauseFile(config.lockDir);
  if (!on) {
    removePause(config.lockDir);
    return `resumed: watch and reconcile act again (${file} removed)`;
  }
  prepareLockDir(config.lockDir, uid);
  // Printable text only: it is shown in logs and on terminals.
  const why = (reason ?? 'no reason given').replace(/[\x00-\x1f\x7f]/g, ' ').slice(0, 200);
  writePause(config.lockDir, `${new Date().toISOString()} by ${userInfo().username}: ${why}\n`);
  return `paused: watch and reconcile change nothing until "sentinel-hook resume" (${file})`;
}
