// An operator's SIGTERM to a hook run whose command runs as root through sudo: the root command must
// end too. SIGKILL to its process group reaches sudo but not what sudo started (sudo relays TERM, not
// KILL, and redis may not signal a root process): before the fix, `sleep` went on as an orphan of init.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { waitFor, waitUntil } from '../lab/wait.ts';
import { reachablePath } from '../support/checkout.ts';
import { BIN, createNetns, installSudoers, type Netns, preflight, teardown, USER, writeConfig } from './vip-netns.ts';

// An argv no other process on this machine is likely to have.
const SLEEP = ['/usr/bin/sleep', '37.25'];

let env: Netns;
let config: string;
const strays: number[] = [];

before(() => {
  preflight();
  env = createNetns('shterm');
  config = writeConfig(env, [{ type: 'exec', run: SLEEP, privilege: 'sudo', timeout: '25s' }]);
  installSudoers(env, config);
});

after(() => {
  for (const pid of strays) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  if (env) teardown(env);
});

function pidsRunning(argv: string[]): number[] {
  const want = `${argv.join('\0')}\0`;
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'latin1') === want) found.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

test('SIGTERM to the hook while sudo runs its command as root: exit 1, and the root command is gone too', async () => {
  assert.deepEqual(pidsRunning(SLEEP), [], 'precondition: no such sleep running');
  // setpriv execs (runuser would fork): the pid we signal is the hook's own.
  const hook = spawn(
    'ip',
    [
      'netns',
      'exec',
      env.ns,
      'setpriv',
      `--reuid=${USER}`,
      `--regid=${USER}`,
      '--init-groups',
      '/usr/bin/env',
      '-i',
      process.execPath,
      reachablePath(BIN),
      '--config',
      config,
      'mymaster',
      'leader',
      'start',
      '10.213.7.1',
      '6379',
      '10.213.7.5',
      '6379',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  hook.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => hook.once('close', (code) => resolve(code)));
  const root = await waitFor(
    'sleep to run as root under sudo',
    () => pidsRunning(SLEEP).find((p) => /^Uid:\s+0\s/m.test(readFileSync(`/proc/${p}/status`, 'utf8'))),
    { timeoutMs: 15_000, intervalMs: 50 },
  );
  strays.push(root);
  hook.kill('SIGTERM');
  const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 10_000))]);
  assert.equal(code, 1, `hook exit (stderr: ${stderr})`);
  await waitUntil('the root sleep to end', () => pidsRunning(SLEEP).length === 0, { timeoutMs: 5000, intervalMs: 50 });
});
