// Metrics: the config's metrics section, each master's gauges after a run, the textfile's text, and
// watch's /metrics endpoint served on loopback.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { validateConfig } from '../../src/config/load.ts';
import { memoryLogger } from '../../src/log.ts';
import { gaugesAfter, gaugeText, readTextfile, writeTextfile } from '../../src/pipeline/gauges.ts';
import type { RunResult } from '../../src/pipeline/run.ts';
import { writeLastRun } from '../../src/state/last-run.ts';
import { startMetrics } from '../../src/watch/metrics.ts';

const exec = { type: 'exec', run: ['/bin/true'] };

function result(over: Partial<RunResult>): RunResult {
  return {
    master: 'mymaster',
    intent: 'state',
    outcome: 'converged',
    exitCode: 0,
    answers: [],
    plans: [],
    steps: [],
    ...over,
  };
}

test('metrics.listen: host:port, [v6]:port, or a port alone on loopback; anything else refused with an example', () => {
  const listen = (value: unknown) => validateConfig({ metrics: { listen: value }, masters: { m: [exec] } }, 'c.yaml');
  assert.deepEqual(listen('127.0.0.1:9469').metrics?.listen, { host: '127.0.0.1', port: 9469 });
  assert.deepEqual(listen('9469').metrics?.listen, { host: '127.0.0.1', port: 9469 });
  assert.throws(
    () => listen(9469),
    /metrics\.listen: expected an IP address and port .*or a port alone \("9469", loopback\)/,
  );
  assert.deepEqual(listen('[::1]:9469').metrics?.listen, { host: '::1', port: 9469 });
  assert.throws(
    () => listen('localhost:9469'),
    /metrics\.listen: expected an IP address and port such as "127\.0\.0\.1:9469"/,
  );
  assert.throws(() => listen('127.0.0.1:99999'), /metrics\.listen/);
  assert.throws(
    () => validateConfig({ metrics: { textfile: 'relative' }, masters: { m: [exec] } }, 'c.yaml'),
    /metrics\.textfile: expected an absolute path/,
  );
});

test('gauges after a run: consistent, held and the epoch from what the run decided; a superseded run keeps what was', () => {
  const converged = gaugesAfter(
    result({ holder: 'this-host', state: { ip: '10.0.0.2', port: 6379, epoch: 7 } as RunResult['state'] }),
  );
  assert.deepEqual(converged, { consistent: 1, vipHeld: 1, epoch: 7 });
  const elsewhere = gaugesAfter(result({ outcome: 'nothing-to-do', holder: 'other-host' }), converged);
  assert.deepEqual(elsewhere, { consistent: 1, vipHeld: 0, epoch: 7 });
  // A failed run says the host is not as it should be; who holds the VIP it cannot tell.
  assert.deepEqual(gaugesAfter(result({ outcome: 'failed', exitCode: 1, holder: 'other-host' }), converged), {
    consistent: 0,
    vipHeld: 1,
    epoch: 7,
  });
  assert.deepEqual(gaugesAfter(result({ outcome: 'unsure' }), converged).consistent, 0);
  assert.deepEqual(gaugesAfter(result({ outcome: 'superseded' }), elsewhere), elsewhere);
  // Paused with work pending: not in line, and it says so.
  const pending = result({
    outcome: 'dry-run',
    paused: 'maintenance',
    plans: [
      { action: 'vip', steps: [{ kind: 'task', description: 'x', run: async () => ({ ok: true, summary: '' }) }] },
    ],
  });
  assert.equal(gaugesAfter(pending, converged).consistent, 0);
});

test('the textfile: the text format node_exporter reads, replaced whole, read back by the next run', () => {
  const dir = mkdtempSync(join(tmpdir(), `sh-metrics-${process.pid}-`));
  try {
    writeTextfile(dir, 'my"master', {
      consistent: 1,
      vipHeld: 0,
      epoch: 12,
      lastRunSeconds: 1700000000.5,
      lastRunSuccess: 1,
    });
    const file = join(dir, 'sentinel_hook_my_22master.prom');
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^# HELP sentinel_hook_consistent .+\n# TYPE sentinel_hook_consistent gauge\n/);
    assert.match(text, /\nsentinel_hook_consistent\{master="my\\"master"\} 1\n/);
    assert.match(text, /\nsentinel_hook_vip_held\{master="my\\"master"\} 0\n/);
    assert.match(text, /\nsentinel_hook_master_epoch\{master="my\\"master"\} 12\n/);
    assert.match(text, /\nsentinel_hook_last_run_timestamp_seconds\{master="my\\"master"\} 1700000000\.5\n/);
    assert.deepEqual(
      readTextfile(dir, 'my"master', (p) => readFileSync(p, 'utf8')),
      { consistent: 1, vipHeld: 0, epoch: 12, lastRunSeconds: 1700000000.5, lastRunSuccess: 1 },
    );
    assert.equal(gaugeText(new Map()), '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("watch's /metrics on loopback: every metric the issue lists, with the values the watcher reported", async () => {
  const dir = mkdtempSync(join(tmpdir(), `sh-metrics-${process.pid}-`));
  const log = memoryLogger();
  const served = await startMetrics({ host: '127.0.0.1', port: 0 }, () => dir, log);
  try {
    assert.ok(served.address, JSON.stringify(log.records));
    const { metrics } = served;
    metrics.configured(['mymaster'], ['127.0.0.1:26379', '127.0.0.1:26380']);
    metrics.sentinel('127.0.0.1:26379', true);
    metrics.event('+switch-master');
    metrics.event('+switch-master');
    metrics.ran(
      'mymaster',
      result({ holder: 'this-host', state: { ip: '10.0.0.2', port: 6379, epoch: 3 } as RunResult['state'] }),
      true,
    );
    metrics.reconcileFailed('other');
    metrics.applied(0.3);
    writeLastRun(dir, 'mymaster', {
      at: '2026-01-01T00:00:00.000Z',
      run: 'r',
      intent: 'state',
      outcome: 'failed',
      exitCode: 1,
      ms: 5,
    });
    const res = await fetch(`http://127.0.0.1:${served.address.port}/metrics`);
    assert.equal(res.status, 200);
    const text = await res.text();
    for (const line of [
      'sentinel_hook_up 1',
      'sentinel_hook_consistent{master="mymaster"} 1',
      'sentinel_hook_vip_held{master="mymaster"} 1',
      'sentinel_hook_master_epoch{master="mymaster"} 3',
      'sentinel_hook_last_run_timestamp_seconds{master="mymaster"} 1767225600',
      'sentinel_hook_last_run_success{master="mymaster"} 0',
      'sentinel_hook_events_total{kind="+switch-master"} 2',
      'sentinel_hook_reconcile_total{outcome="converged"} 1',
      'sentinel_hook_reconcile_total{outcome="error"} 1',
      'sentinel_hook_sentinel_connected{sentinel="127.0.0.1:26379"} 1',
      'sentinel_hook_sentinel_connected{sentinel="127.0.0.1:26380"} 0',
      'sentinel_hook_event_to_applied_seconds_bucket{le="0.5"} 1',
      'sentinel_hook_event_to_applied_seconds_count 1',
    ])
      assert.ok(text.split('\n').includes(line), `${line} in:\n${text}`);
    // A master no longer configured is not reported.
    assert.doesNotMatch(text, /master="other"/);
    assert.equal((await fetch(`http://127.0.0.1:${served.address.port}/`)).status, 404);
  } finally {
    await served.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a port already taken: logged with the fix, and watch goes on (no address, close still works)', async () => {
  const first = await startMetrics({ host: '127.0.0.1', port: 0 }, () => '/nonexistent', memoryLogger());
  const log = memoryLogger();
  try {
    const second = await startMetrics({ host: '127.0.0.1', port: first.address!.port }, () => '/nonexistent', log);
    assert.equal(second.address, undefined);
    const error = log.records.find((r) => r.code === 'metrics-listen-failed');
    assert.match(
      String(error?.msg),
      /cannot serve metrics on 127\.0\.0\.1:\d+ \(EADDRINUSE\); watch goes on without them/,
    );
    await second.close();
  } finally {
    await first.close();
  }
});
