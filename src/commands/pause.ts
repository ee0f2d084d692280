import { userInfo } from 'node:os';
import { loadConfig } from '../config/load.ts';
import { hookError } from '../errors.ts';
import { prepareLockDir } from '../state/lock.ts';
import { pauseFile, removePause, writePause } from '../state/pause.ts';
import { prepareStateDir } from '../state/state-dir.ts';

/** `pause` / `resume`: the switch is a file in the state directory, which every process serving the masters here reads. */
export async function pauseCommand(path: string, on: boolean, reason?: string): Promise<string> {
  const uid = process.getuid?.() ?? 0;
  const config = await loadConfig(path, uid);
  const file = pauseFile(config.stateDir);
  // No stateDir of its own: the pause goes in the lock directory, which root must not create (see prepareLockDir).
  if (config.stateDir === config.lockDir) prepareLockDir(config.lockDir, uid);
  const problem = prepareStateDir(config.stateDir, config.lockDir, uid);
  if (problem) throw hookError('state-dir-unusable', { dir: config.stateDir, problem });
  if (!on) {
    removePause(config.stateDir);
    return `resumed: watch and reconcile act again (${file} removed)`;
  }
  // Printable text only: it is shown in logs and on terminals.
  const why = (reason ?? 'no reason given').replace(/[\x00-\x1f\x7f]/g, ' ').slice(0, 200);
  writePause(config.stateDir, `${new Date().toISOString()} by ${userInfo().username}: ${why}\n`);
  // In the state directory: a reboot during the maintenance keeps it (the boot reconcile and watch stay paused).
  return `paused: watch and reconcile change nothing until "sentinel-hook resume", across reboots too (${file})`;
}
