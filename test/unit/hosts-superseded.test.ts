// The hosts action never writes for an event that is no longer the one to act on: not the local file
// once a newer event for the master started on this host, not a target once the Sentinels name
// another master (the leader of the next failover may be another host that has pushed already).
// Each remote write asks right before it writes. Fakes: a runner that fails on any command it was not told about.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type HostsAction, hostsWork } from '../../src/actions/hosts/index.ts';
import { runHosts } from '../../src/actions/hosts/run.ts';
import type { TargetResult } from '../../src/actions/hosts/types.ts';
import type { ApplyContext } from '../../src/actions/plugin.ts';
import { validateConfig } from '../../src/config/load.ts';
import { memoryLogger } from '../../src/log.ts';
import { FakeRunner } from '../support/fakes.ts';

const which = (p: string) => `/usr/bin/${p}`;

function setup(t: { after(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'sh-hosts-superseded-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'hosts');
  writeFileSync(file, '127.0.0.1 localhost\n10.0.0.1 redis-master\n');
  for (const f of ['id', 'known_hosts']) writeFileSync(join(dir, f), '', { mode: 0o600 });
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
              targets: ['app1', 'app2'],
              user: 'deploy',
              identityFile: join(dir, 'id'),
              knownHostsFile: join(dir, 'known_hosts'),
            },
          },
        ],
      },
    },
    'test.yaml',
  );
  const action = config.masters.m![0]! as HostsAction;
  // What the planner hands the run: the action's work as data.
  return { file, work: hostsWork(action, '10.0.0.2', which) };
}

function ctx(runner: FakeRunner, over: Partial<ApplyContext>): ApplyContext {
  return { runner, signal: new AbortController().signal, logger: memoryLogger(), remainingMs: () => 10_000, ...over };
}

test('superseded on this host: the local file keeps its content and no target is sent to; not a failure', async (t) => {
  const { file, work } = setup(t);
  const outcome = await runHosts(
    work,
    ctx(new FakeRunner([]), { superseded: () => 'a newer event for this master started on this host' }),
  );
  assert.equal(outcome.ok, true, outcome.summary);
  assert.equal(readFileSync(file, 'utf8'), '127.0.0.1 localhost\n10.0.0.1 redis-master\n');
  const rows = (outcome.detail as { targets: TargetResult[] }).targets;
  assert.deepEqual(
    rows.map((r) => r.status),
    ['skipped', 'skipped', 'skipped'],
  );
  assert.match(outcome.summary, /3 not written \(superseded\), 0 failed/);
});

test('the Sentinels name another master by the time of the push: the local file is written, no rsync starts (the fake would throw)', async (t) => {
  const { file, work } = setup(t);
  let asked = 0;
  const outcome = await runHosts(
    work,
    ctx(new FakeRunner([]), {
      stillCurrent: async () => {
        asked++;
        return 'no Sentinel names the to-ip as master any more (a newer failover)';
      },
    }),
  );
  assert.equal(outcome.ok, true, outcome.summary);
  assert.match(readFileSync(file, 'utf8'), /^10\.0\.0\.2 redis-master$/m);
  const rows = (outcome.detail as { targets: TargetResult[] }).targets;
  assert.deepEqual(
    rows.map((r) => `${r.target} ${r.status}`),
    [`local:${file} changed`, 'app1 skipped', 'app2 skipped'],
  );
  assert.equal(asked, 2, 'asked once per target, right before its write');
});
