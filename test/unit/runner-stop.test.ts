// runner.stop() (an operator's SIGTERM): every running child gets TERM before KILL, and nothing new
// starts meanwhile; a child spawned in the grace would get KILL only (under sudo: an orphaned root
// command). Stopping is per runner: another runner in the same process (another pipeline) goes on.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createRunner } from '../../src/runner.ts';
import { waitUntil } from '../lab/wait.ts';

test('after stop() starts, a running child gets TERM first, and a command asked for meanwhile never starts', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sh-stop-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const runner = createRunner();
  const signal = new AbortController().signal;
  const seen = join(dir, 'seen');
  const marker = join(dir, 'second-ran');
  const ready = `${seen}.ready`;
  const first = runner.run(
    ['/bin/sh', '-c', `trap 'echo TERM >> "$0"; exit 0' TERM; : > "$0.ready"; while :; do sleep 0.05; done`, seen],
    {
      timeoutMs: 10_000,
      signal,
    },
  );
  await waitUntil('the child to set its TERM trap', () => existsSync(ready), { timeoutMs: 5000, intervalMs: 20 });
  const stopping = runner.stop();
  const second = await runner.run(['/usr/bin/touch', marker], { timeoutMs: 5000, signal });
  await stopping;
  const firstResult = await first;
  assert.equal(readFileSync(seen, 'utf8'), 'TERM\n', 'the running child got TERM');
  assert.equal(firstResult.exitCode, 0, 'it ended on its TERM trap, before any KILL');
  assert.match(second.spawnError ?? '', /not started: the run is being terminated/);
  assert.throws(() => readFileSync(marker), /ENOENT/, 'the second command must not have run');
});

test("stopping one runner leaves another runner's children and new commands alone", async () => {
  const stopped = createRunner();
  const other = createRunner();
  const running = other.run(['/bin/sh', '-c', 'sleep 0.3; echo still here'], { timeoutMs: 10_000 });
  await stopped.stop();
  const later = await other.run(['/bin/echo', 'started after'], { timeoutMs: 5000 });
  assert.equal((await running).stdout, 'still here');
  assert.equal(later.stdout, 'started after');
  assert.match(
    (await stopped.run(['/bin/true'], { timeoutMs: 5000 })).spawnError ?? '',
    /not started: the run is being terminated/,
  );
});
