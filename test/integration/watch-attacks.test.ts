// Issue 15 §6, three more attacks on `sentinel-hook watch` (the built CLI) with fake Sentinels on
// 127.0.0.1: 200 masters failing over at once while one master's action is slow; pub/sub messages of
// 1 MB and 100 MB; a SIGHUP in the middle of an action, and a master removed from the config while
// watch runs. The action is an exec with reconcile: true that appends "{master} {toIp}:{toPort}" to a
// file: what it ran for, and when, is what the host did.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { type FakeMaster, type FakeSentinel, fakeSentinel } from '../support/fake-sentinel.ts';
import { startWatch, type WatchProcess } from '../support/watch-process.ts';

interface Watch extends WatchProcess {
  dir: string;
  config: string;
  acted: string;
  lines(): string[];
}

function configText(dir: string, sentinels: FakeSentinel[], masters: Record<string, string[]>): string {
  return [
    'log: { level: info }',
    `lockDir: ${join(dir, 'lock')}`,
    'deadline: 20s',
    'sentinels:',
    `  addresses: [${sentinels.map((s) => `"${s.address}"`).join(', ')}]`,
    '  timeout: 1s',
    'masters:',
    ...Object.entries(masters).flatMap(([name, run]) => [
      `  ${name}:`,
      '    - type: exec',
      `      run: ${JSON.stringify(run)}`,
      '      reconcile: true',
    ]),
    '',
  ].join('\n');
}

/** The exec line: appends "{master} {toIp}:{toPort}" to `acted`, after `sleep` seconds. */
function appendRun(acted: string, sleep = 0): string[] {
  return ['/bin/sh', '-c', `${sleep ? `sleep ${sleep}; ` : ''}echo "$0 $1" >> ${acted}`, '{master}', '{toIp}:{toPort}'];
}

async function startWatchOn(
  t: TestContext,
  sentinels: FakeSentinel[],
  masters: (acted: string) => Record<string, string[]>,
): Promise<Watch> {
  const dir = mkdtempSync(join(tmpdir(), 'sh-watch-attack-'));
  let watch: WatchProcess | undefined;
  // Registered first: a set-up step that throws must not leave the fake Sentinels listening (the test
  // file would never end).
  t.after(async () => {
    watch?.kill();
    await Promise.all(sentinels.map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  });
  // Made beforehand, as tmpfiles.d or the unit's RuntimeDirectory= does: watch run as root makes none.
  mkdirSync(join(dir, 'lock'), { mode: 0o700 });
  const acted = join(dir, 'acted');
  const config = join(dir, 'config.yaml');
  writeFileSync(config, configText(dir, sentinels, masters(acted)), { mode: 0o644 });
  watch = startWatch(config, ['--interval', '30s']);
  const lines = () => (existsSync(acted) ? readFileSync(acted, 'utf8').trim().split('\n').filter(Boolean) : []);
  return Object.assign(watch, { dir, config, acted, lines });
}

async function stop(w: Watch): Promise<void> {
  assert.deepEqual(await w.stop(), { code: 0, signal: null }, w.text().slice(-2000));
}

test("200 masters fail over at once while one master's action takes 8 s: the other 199 are acted on without waiting for it", {
  timeout: 180_000,
}, async (t) => {
  const names = Array.from({ length: 200 }, (_, i) => `m${String(i).padStart(3, '0')}`);
  const epochs = new Map<string, FakeMaster>(names.map((n) => [n, { ip: '127.0.0.1', port: 7000, epoch: 0 }]));
  const sentinel = await fakeSentinel({
    master: (name) => epochs.get(name) ?? { ip: '127.0.0.1', port: 7000, epoch: 0 },
  });
  const w = await startWatchOn(t, [sentinel], (acted) =>
    Object.fromEntries(names.map((n) => [n, appendRun(acted, n === 'm000' ? 8 : 0)])),
  );
  // The start reconcile runs every master's exec once (a failover this host never acted on).
  await w.until('the start reconcile of all 200 masters', () => w.lines().length === 200, 60_000);
  await w.until('subscribed', () => sentinel.subscribers.length > 0);

  const published = performance.now();
  for (const n of names) epochs.set(n, { ip: '127.0.0.1', port: 7001, epoch: 1 });
  for (const n of names) sentinel.publish('+switch-master', `${n} 127.0.0.1 7000 127.0.0.1 7001`);
  const moved = (n: string) => w.lines().includes(`${n} 127.0.0.1:7001`);
  const others = names.slice(1);
  await w.until('the 199 fast masters acted on', () => others.every(moved), 30_000);
  const othersMs = performance.now() - published;
  // The slow one is still sleeping: nothing waited for it.
  assert.equal(moved('m000'), false, 'm000 is still in its 8 s action');
  await w.until('the slow master acted on too', () => moved('m000'), 30_000);
  const slowMs = performance.now() - published;
  t.diagnostic(
    `200 masters: the other 199 acted on within ${Math.round(othersMs)} ms of the publishes; the slow one after ${Math.round(slowMs)} ms`,
  );
  assert.ok(othersMs < slowMs, `${othersMs} < ${slowMs}`);
  // Each failover acted on once.
  for (const n of names) assert.equal(w.lines().filter((l) => l === `${n} 127.0.0.1:7001`).length, 1, n);
  await stop(w);
});

test('pub/sub messages of 1 MB and 100 MB cost that connection only; a failover after them is acted on', {
  timeout: 90_000,
}, async (t) => {
  let master: FakeMaster = { ip: '127.0.0.1', port: 6379, epoch: 0 };
  const huge = await fakeSentinel({
    master: () => master,
    afterSubscribe: (socket, n) => {
      if (n === 1) {
        const body = 'x'.repeat(1024 * 1024);
        socket.write(`*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n$${body.length}\r\n${body}\r\n`);
      } else if (n === 2) {
        // Only the header of a 100 MB bulk and its first megabyte: it must be refused at the header.
        socket.write(
          `*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n$${100 * 1024 * 1024}\r\n${'y'.repeat(1024 * 1024)}`,
        );
      }
    },
  });
  const w = await startWatchOn(t, [huge], (acted) => ({ mymaster: appendRun(acted) }));
  await w.until('the start reconcile', () => w.lines().length === 1);
  const losses = () => w.log().filter((l) => l.msg === 'Sentinel connection lost; retrying');
  await w.until(
    'both big messages refused, and a third subscription',
    () => losses().length >= 2 && huge.subscribers.length >= 3,
    30_000,
  );
  for (const l of losses().slice(0, 2))
    assert.match(String(l.reason), /too large|larger than|limit/i, String(l.reason));
  master = { ip: '127.0.0.1', port: 6380, epoch: 1 };
  huge.publish('+switch-master', 'mymaster 127.0.0.1 6379 127.0.0.1 6380');
  await w.until('the failover acted on', () => w.lines().includes('mymaster 127.0.0.1:6380'));
  await stop(w);
});

test('a SIGHUP in the middle of an action: the action ends once, the new config applies after; a master removed by a reload is no longer acted on', {
  timeout: 90_000,
}, async (t) => {
  const masters = new Map<string, FakeMaster>([
    ['m1', { ip: '127.0.0.1', port: 6379, epoch: 0 }],
    ['m2', { ip: '127.0.0.1', port: 6379, epoch: 0 }],
  ]);
  const sentinel = await fakeSentinel({
    master: (name) => masters.get(name) ?? { ip: '127.0.0.1', port: 6379, epoch: 0 },
  });
  const w = await startWatchOn(t, [sentinel], (acted) => ({ m1: appendRun(acted, 2), m2: appendRun(acted) }));
  await w.until('the start reconcile of both', () => w.lines().length === 2, 20_000);
  await w.until('subscribed', () => sentinel.subscribers.length > 0);

  // m1's action takes 2 s; the reload comes 0.5 s into it and drops m2 from the config.
  masters.set('m1', { ip: '127.0.0.1', port: 6380, epoch: 1 });
  sentinel.publish('+switch-master', 'm1 127.0.0.1 6379 127.0.0.1 6380');
  await w.until('m1 acting', () => w.log().some((l) => l.msg === 'plan' && l.master === 'm1' && l.intent === 'state'));
  await new Promise((r) => setTimeout(r, 500));
  writeFileSync(w.config, configText(w.dir, [sentinel], { m1: appendRun(w.acted, 2) }), { mode: 0o644 });
  w.child.kill('SIGHUP');
  await w.until('reloaded', () => w.log().some((l) => l.msg === 'config reloaded'));
  await w.until('m1 acted on once', () => w.lines().includes('m1 127.0.0.1:6380'), 20_000);

  // m2 is gone from the config: its failover is not acted on; m1's next one still is.
  masters.set('m2', { ip: '127.0.0.1', port: 6380, epoch: 1 });
  sentinel.publish('+switch-master', 'm2 127.0.0.1 6379 127.0.0.1 6380');
  masters.set('m1', { ip: '127.0.0.1', port: 6379, epoch: 2 });
  sentinel.publish('+switch-master', 'm1 127.0.0.1 6380 127.0.0.1 6379');
  await w.until(
    "m1's next failover acted on",
    () => w.lines().filter((l) => l === 'm1 127.0.0.1:6379').length === 2,
    20_000,
  );
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(w.lines().filter((l) => l === 'm1 127.0.0.1:6380').length, 1, 'the action cut by the reload ran once');
  assert.equal(
    w.lines().some((l) => l.startsWith('m2 127.0.0.1:6380')),
    false,
    'm2 left the config: not acted on',
  );
  assert.equal(w.child.exitCode, null, 'still running');
  await stop(w);
});
