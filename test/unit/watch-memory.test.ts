// watch keeps no memory per event: 10,000 +switch-master messages from a fake Sentinel (real TCP on
// loopback, real pub/sub framing) through the whole pipeline (dedupe, epoch, generation, lock, plan,
// apply with a fake runner, records), heapUsed after a forced GC at 1k, 5k and 10k events within 5%.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { validateConfig } from '../../src/config/load.ts';
import type { Logger } from '../../src/log.ts';
import type { CommandResult } from '../../src/runner.ts';
import type { AskSentinel } from '../../src/sentinel/client.ts';
import { Watcher } from '../../src/watch/watcher.ts';
import { fakeDeps } from '../support/fakes.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {}, child: () => quiet };

function bulk(s: string): string {
  return `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
}

test('10,000 failover events through watch: heapUsed after GC at 1k, 5k and 10k events within 5%', {
  timeout: 300_000,
}, async (t) => {
  const lockDir = mkdtempSync(join(tmpdir(), 'sh-watch-mem-'));
  t.after(() => rmSync(lockDir, { recursive: true, force: true }));
  let client: Socket | undefined;
  const subscribed = new Promise<void>((resolve) => {
    const server = createServer((socket) => {
      client = socket;
      socket.on('data', (chunk: Buffer) => {
        // One confirmation per channel the SUBSCRIBE names, as Redis sends them.
        const channels = chunk.toString().match(/[+-][a-z-]+/g) ?? [];
        socket.write(channels.map((c, i) => `*3\r\n${bulk('subscribe')}${bulk(c)}:${i + 1}\r\n`).join(''));
        resolve();
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      start(port);
    });
    t.after(() => {
      client?.destroy();
      server.close();
    });
  });
  let epoch = 0;
  let current = '10.0.0.1';
  const ask: AskSentinel = async (address) => ({ address, master: { ip: current, port: 6379 }, epoch });
  let ran = 0;
  const runner = {
    run: async (): Promise<CommandResult> => {
      ran++;
      return {
        exitCode: 0,
        signal: undefined,
        stdout: '',
        stderr: '',
        durationMs: 0,
        timedOut: false,
        spawnError: undefined,
      };
    },
  };
  let watcher: Watcher | undefined;
  const start = (port: number) => {
    const config = validateConfig(
      {
        lockDir,
        sentinels: { addresses: [`127.0.0.1:${port}`] },
        masters: { mymaster: [{ type: 'exec', run: ['/bin/true', '{toIp}'], reconcile: true }] },
      },
      'test.yaml',
    );
    watcher = new Watcher(
      config,
      { ...fakeDeps({ runner, askSentinel: ask, addresses: ['10.0.0.9'] }), logger: quiet },
      quiet,
      { intervalMs: 3_600_000 },
    );
    watcher.start();
  };
  t.after(() => watcher?.stop());
  await subscribed;
  // The start reconcile (epoch 0) has run its exec once.
  for (let i = 0; i < 2000 && ran < 1; i++) await new Promise((r) => setTimeout(r, 5));
  const heap: Record<number, number> = {};
  for (let n = 1; n <= 10_000; n++) {
    epoch = n;
    // A -> B -> A …: every event a new failover (never a duplicate), each acted on once.
    current = n % 2 ? '10.0.0.2' : '10.0.0.1';
    const before = ran;
    client!.write(
      `*3\r\n${bulk('message')}${bulk('+switch-master')}${bulk(`mymaster 10.0.0.${n % 2 ? 1 : 2} 6379 ${current} 6379`)}`,
    );
    for (let i = 0; i < 4000 && ran === before; i++) await new Promise((r) => setImmediate(r));
    assert.equal(ran, before + 1, `event ${n} did not run its action once`);
    if (n === 1000 || n === 5000 || n === 10_000) {
      // Let the last run's lock and generation go, then measure.
      await new Promise((r) => setTimeout(r, 50));
      gc();
      gc();
      heap[n] = process.memoryUsage().heapUsed;
    }
  }
  assert.equal(watcher!.stats.events, 10_000);
  assert.equal(watcher!.stats.duplicates, 0);
  const [a, b, c] = [heap[1000]!, heap[5000]!, heap[10_000]!];
  t.diagnostic(
    `heapUsed after GC: 1k ${(a / 1e6).toFixed(2)} MB, 5k ${(b / 1e6).toFixed(2)} MB, 10k ${(c / 1e6).toFixed(2)} MB`,
  );
  // A leak is growth: a heap that shrinks after the first thousand (Node 24 does: 16.5 → 15.4 MB, as V8
  // flushes code compiled for the first events) is none.
  const growth = Math.max(b / a, c / a, c / b);
  assert.ok(growth <= 1.05, `heapUsed grew by ${((growth - 1) * 100).toFixed(1)}% between 1k and 10k events`);
});
