// watch's reload hands the Watcher the connector made from the TLS files as they are then (issue 15
// §5.10): a rotated CA must reach the pub/sub sockets without a restart. A Sentinel stand-in on
// loopback that only counts connections; the connectors are plain TCP, told apart by who made them.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { validateConfig } from '../../src/config/load.ts';
import type { Logger } from '../../src/log.ts';
import type { AskSentinel } from '../../src/sentinel/client.ts';
import type { Connector } from '../../src/sentinel/subscribe.ts';
import { Watcher } from '../../src/watch/watcher.ts';
import { fakeDeps } from '../support/fakes.ts';

const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {}, child: () => quiet };

test('reload: the subscriptions are made anew with the connector it is given, the old one no longer used', async (t) => {
  const lockDir = mkdtempSync(join(tmpdir(), 'sh-watch-reload-'));
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as { port: number };
  let watcher: Watcher | undefined;
  t.after(async () => {
    await watcher?.stop();
    for (const s of sockets) s.destroy();
    server.close();
    rmSync(lockDir, { recursive: true, force: true });
  });
  const made: string[] = [];
  const connector =
    (name: string): Connector =>
    (host, p, ready) => {
      made.push(name);
      return connect({ host, port: p }, ready);
    };
  const config = validateConfig(
    {
      lockDir,
      sentinels: { addresses: [`127.0.0.1:${port}`] },
      masters: { mymaster: [{ type: 'exec', run: ['/bin/true'] }] },
    },
    'test.yaml',
  );
  // No Sentinel answers the state questions: every reconcile is unsure and changes nothing.
  const ask: AskSentinel = async (address) => ({ address, error: 'not asked in this test' });
  watcher = new Watcher(config, { ...fakeDeps({ askSentinel: ask }), logger: quiet }, quiet, {
    intervalMs: 3_600_000,
    connector: connector('old CA'),
  });
  watcher.start();
  const until = async (what: string, ok: () => boolean) => {
    for (let i = 0; i < 400 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(ok(), what);
  };
  await until('a subscription through the first connector', () => made.length > 0);
  watcher.reload(config, connector('new CA'));
  await until('a subscription through the new connector', () => made.includes('new CA'));
  // The stopped subscription makes no socket of its own after the reload, retries included.
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(made[0], 'old CA');
  assert.deepEqual(made.slice(made.indexOf('new CA')), ['new CA']);
});
