// A push to many targets must not pile listeners onto the run's abort signal: Node warns past ten
// (MaxListenersExceededWarning) and a long-lived process (watch) would leak them. 200 targets over
// transport rsync with `after`, 20 at once, through the real runner: /bin/true stands in for rsync
// and ssh (exit 0, nothing itemized: every target "unchanged", and its `after` connection runs too).

import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type HostsAction, hostsWork } from '../../src/actions/hosts/index.ts';
import { runHosts } from '../../src/actions/hosts/run.ts';
import { validateConfig } from '../../src/config/load.ts';
import { memoryLogger } from '../../src/log.ts';
import { createRunner } from '../../src/runner.ts';

test('200 rsync targets with after, 20 at once: no MaxListenersExceededWarning, and no listener left on the run signal', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sh-listeners-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'hosts');
  writeFileSync(file, '10.0.0.2 redis-master\n');
  for (const f of ['id', 'known_hosts']) writeFileSync(join(dir, f), '', { mode: 0o600 });
  const hosts = Array.from({ length: 200 }, (_, i) => `app${i}`);
  const config = validateConfig(
    {
      masters: {
        m: [
          {
            type: 'hosts',
            names: ['redis-master'],
            file,
            push: {
              transport: 'rsync',
              targets: hosts,
              concurrency: 20,
              user: 'deploy',
              identityFile: join(dir, 'id'),
              knownHostsFile: join(dir, 'known_hosts'),
              after: ['/bin/true'],
            },
          },
        ],
      },
    },
    'test.yaml',
  );
  const action = config.masters.m![0]! as HostsAction;
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const run = new AbortController();
  let most = 0;
  const sampler = setInterval(() => (most = Math.max(most, getEventListeners(run.signal, 'abort').length)), 1);
  const outcome = await runHosts(
    hostsWork(action, '10.0.0.2', () => '/bin/true'),
    {
      runner: createRunner(),
      signal: run.signal,
      logger: memoryLogger(),
      remainingMs: () => 60_000,
    },
  );
  clearInterval(sampler);
  // Warnings are emitted on the next tick.
  await new Promise((r) => setImmediate(r));
  assert.equal(outcome.ok, true, outcome.summary);
  assert.match(outcome.summary, /201 unchanged, 0 failed/);
  assert.deepEqual(
    warnings.filter((w) => /MaxListeners/.test(w)),
    [],
  );
  assert.ok(most <= 1, `the run's signal carried ${most} abort listeners at once`);
  assert.equal(getEventListeners(run.signal, 'abort').length, 0);
});
