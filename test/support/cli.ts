// The built CLI run once by a test, with nothing of the runner's environment but PATH, and killed if it
// outlives 30 s (a test fails rather than hangs on a run that never ends).
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

export const BIN = resolve(import.meta.dirname, '../../bin/sentinel-hook.cjs');

export function cli(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH! },
    timeout: 30_000,
    killSignal: 'SIGKILL',
  });
}
