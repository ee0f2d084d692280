// Sentinels rebuilt the way configuration management does it (stopped, sentinel.conf written afresh,
// started: a new SENTINEL MYID, config epochs from 0 again), against a real redis-sentinel on loopback,
// after this host acted on a higher epoch: reconcile, watch and the hook each follow the rebuilt
// Sentinel's next failover instead of ignoring it for good. The action is an exec with reconcile: true
// that appends "{toIp}:{toPort}" to a file: what it was last run with is what the host followed.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { readActedEpoch } from '../../src/state/epoch.ts';
import { waitFor } from '../lab/index.ts';
import { LoopbackSentinel } from '../support/loopback-redis.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/sentinel-hook.cjs');

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : [];
}

test('rebuilt Sentinels: reconcile, watch and the hook follow their failovers although this host acted on a higher epoch', {
  timeout: 300_000,
}, async (t) => {
  const sentinel = new LoopbackSentinel();
  const dir = mkdtempSync(join(tmpdir(), 'sh-rebuilt-'));
  let watch: ChildProcess | undefined;
  t.after(() => {
    if (watch && watch.exitCode === null) watch.kill('SIGKILL');
    sentinel.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await sentinel.start();
  const master = sentinel.masterName;
  const lockDir = join(dir, 'run');
  const stateDir = join(dir, 'lib');
  mkdirSync(lockDir, { mode: 0o700 });
  const out = join(dir, 'acted');
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    [
      `lockDir: ${lockDir}`,
      `stateDir: ${stateDir}`,
      `log: { file: ${join(dir, 'hook.log')} }`,
      'sentinels:',
      `  addresses: ["127.0.0.1:${sentinel.sentinelPort}"]`,
      '  settle: 0',
      'masters:',
      `  ${master}:`,
      '    - type: exec',
      `      run: [/bin/sh, -c, 'echo "$0" >> ${out}', "{toIp}:{toPort}"]`,
      '      reconcile: true',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const reconcile = () =>
    spawnSync(process.execPath, [BIN, 'reconcile', '--config', config], { encoding: 'utf8', timeout: 60_000 });
  const last = () => lines(out).at(-1);

  // Two failovers followed: this host acted on config epoch 2.
  for (let i = 0; i < 2; i++) {
    const port = await sentinel.failover();
    const r = reconcile();
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.equal(last(), `127.0.0.1:${port}`);
  }
  assert.equal(readActedEpoch(stateDir, master)?.epoch, 2);

  // 1. reconcile: the Sentinel rebuilt, then its first failover (epoch 1, below the record).
  await sentinel.rebuildSentinel();
  const first = await sentinel.failover();
  const r1 = reconcile();
  assert.equal(r1.status, 0, `reconcile after the rebuild: ${r1.stdout}${r1.stderr}`);
  assert.match(r1.stdout, /converged/);
  assert.equal(last(), `127.0.0.1:${first}`);
  assert.equal(readActedEpoch(stateDir, master)?.epoch, 1);
  assert.match(readFileSync(join(dir, 'hook.log'), 'utf8'), /the Sentinels were rebuilt/);

  // 2. watch, running across a rebuild: the rebuilt Sentinel's next failover is acted on (not "already acted").
  watch = spawn(process.execPath, [BIN, 'watch', '--config', config, '--interval', '60s'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const said: string[] = [];
  watch.stdout!.on('data', (b: Buffer) => said.push(b.toString()));
  await waitFor('watch subscribed', () => (said.join('').includes('"msg":"subscribed"') ? true : undefined), {
    timeoutMs: 15_000,
    intervalMs: 50,
  });
  await sentinel.rebuildSentinel();
  const second = await sentinel.failover();
  await waitFor(
    "watch acted on the rebuilt Sentinel's failover",
    () => (last() === `127.0.0.1:${second}` ? true : undefined),
    {
      timeoutMs: 20_000,
      intervalMs: 100,
    },
  );
  watch.kill('SIGTERM');
  await new Promise((r) => watch!.once('exit', r));

  // 3. the hook: rebuilt again, its failover at epoch 1 (as the record's, other Sentinel): exec runs for it.
  const acted = readActedEpoch(stateDir, master)!;
  await sentinel.rebuildSentinel();
  const from = (await sentinel.currentMasterPort())!;
  const third = await sentinel.failover();
  const before = lines(out).length;
  const hook = spawnSync(
    join(ROOT, 'hooks/client-reconfig'),
    ['--config', config, master, 'leader', 'start', '127.0.0.1', String(from), '127.0.0.1', String(third)],
    { encoding: 'utf8', timeout: 60_000, env: { ...process.env, SENTINEL_HOOK_NODE: process.execPath } },
  );
  assert.equal(hook.status, 0, hook.stdout + hook.stderr);
  assert.equal(
    lines(out).length,
    before + 1,
    `exec ran for the new failover (record was epoch ${acted.epoch}): ${readFileSync(join(dir, 'hook.log'), 'utf8').split('\n').slice(-8).join('\n')}`,
  );
  assert.equal(last(), `127.0.0.1:${third}`);
});
