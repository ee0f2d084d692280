// Issue 15 §5.1, end to end: `sentinel-hook watch` (the built CLI) subscribed to two fake Sentinels
// on 127.0.0.1, one of which sends a pub/sub message whose bulk length is "$x" on its first two
// subscriptions. Before the fix the process spun at full CPU: no interval reconcile, the failover
// announced by the other Sentinel ignored, SIGTERM ignored. Now: that connection is dropped and
// made again (one line each time, naming the Sentinel and what was wrong), the interval reconcile
// goes on, the failover is acted on, SIGTERM ends it with exit 0. The watchdog is running.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type FakeMaster, fakeSentinel } from '../support/fake-sentinel.ts';
import { startWatch, type WatchProcess } from '../support/watch-process.ts';

test('watch: "$x" from one Sentinel costs its connection only; the interval reconcile, the other Sentinel and SIGTERM still work', {
  timeout: 90_000,
}, async (t) => {
  let master: FakeMaster = { ip: '127.0.0.1', port: 6379, epoch: 0 };
  const garbling = await fakeSentinel({
    master: () => master,
    afterSubscribe: (socket, n) => {
      if (n <= 2)
        socket.write(
          '*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n$x\r\nmymaster 127.0.0.1 6379 127.0.0.1 6380\r\n',
        );
    },
  });
  const healthy = await fakeSentinel({ master: () => master });
  const dir = mkdtempSync(join(tmpdir(), 'sh-watch-resp-'));
  let watch: WatchProcess | undefined;
  t.after(async () => {
    watch?.kill();
    await Promise.all([garbling.close(), healthy.close()]);
    rmSync(dir, { recursive: true, force: true });
  });
  const acted = join(dir, 'acted');
  const config = join(dir, 'config.yaml');
  // As tmpfiles.d would: watch run as root does not make its lock directory.
  mkdirSync(join(dir, 'lock'), { mode: 0o700 });
  writeFileSync(
    config,
    [
      'log: { level: debug }',
      `lockDir: ${join(dir, 'lock')}`,
      'sentinels:',
      `  addresses: ["${garbling.address}", "${healthy.address}"]`,
      '  timeout: 1s',
      'masters:',
      '  mymaster:',
      '    - type: exec',
      `      run: [/bin/sh, -c, 'echo "$0" >> ${acted}', "{toIp}:{toPort}"]`,
      '      reconcile: true',
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  const w = startWatch(config, ['--interval', '1s']);
  watch = w;
  const { log, until } = w;
  const lines = () => (existsSync(acted) ? readFileSync(acted, 'utf8').trim().split('\n').filter(Boolean) : []);

  await until('the start reconcile', () => lines().length === 1);
  assert.deepEqual(lines(), ['127.0.0.1:6379']);
  const start = log().find((l) => l.msg === 'watch start');
  assert.equal(start?.watchdogMs, 30_000, 'the watchdog runs');

  const losses = () =>
    log().filter((l) => l.msg === 'Sentinel connection lost; retrying' && l.sentinel === garbling.address);
  await until(
    'two losses of the garbling Sentinel, and a third subscription to it',
    () => garbling.subscribers.length >= 3 && losses().length >= 2,
  );
  for (const lost of losses()) assert.equal(lost.reason, 'protocol error: bulk length "x" is not a number');
  assert.equal(
    log().filter((l) => l.msg === 'Sentinel connection lost; retrying' && l.sentinel === healthy.address).length,
    0,
  );

  // The event loop is free: the interval reconcile goes on.
  const intervals = () => log().filter((l) => l.why === 'interval').length;
  const before = intervals();
  await until('two more interval reconciles', () => intervals() >= before + 2, 10_000);

  // A failover announced by the other Sentinel is acted on.
  master = { ip: '127.0.0.1', port: 6380, epoch: 1 };
  healthy.publish('+switch-master', 'mymaster 127.0.0.1 6379 127.0.0.1 6380');
  await until('the failover acted on', () => lines().length === 2);
  assert.deepEqual(lines(), ['127.0.0.1:6379', '127.0.0.1:6380']);

  assert.deepEqual(await w.stop(15_000), { code: 0, signal: null }, w.text().slice(-2000));
  assert.ok(log().some((l) => l.msg === 'watch end'));
  assert.ok(!log().some((l) => /watchdog/.test(String(l.msg))), 'no word from the watchdog');
});
