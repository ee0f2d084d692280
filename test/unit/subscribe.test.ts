// Watch's subscriptions to the Sentinels, against fake Sentinels on 127.0.0.1.
//
// Issue 15 §5.1: a Sentinel (or a proxy in front of one) that sends a malformed pub/sub message wedged
// watch's event loop for good. A protocol error must cost that one connection: it is dropped, said
// once with the Sentinel's address, and made again with the backoff, while another Sentinel's
// subscription goes on. Those subscriptions run in a child (a wedge there cannot hang this test).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SentinelSubscription } from '../../src/sentinel/subscribe.ts';
import { waitFor } from '../lab/wait.ts';
import { fakeSentinel, type ProbeEvent, startProbe } from '../support/fake-sentinel.ts';

test('one AUTH and one SUBSCRIBE per connection (a net socket emits "ready" on its own as well)', {
  timeout: 30_000,
}, async (t) => {
  const sentinel = await fakeSentinel();
  t.after(() => sentinel.close());
  let subscribed = 0;
  const subscription = new SentinelSubscription(
    sentinel.address,
    ['+switch-master', '+promoted-slave'],
    () => ['AUTH', 'secret'],
    {
      message: () => {},
      subscribed: () => subscribed++,
      lost: () => {},
    },
  );
  subscription.start();
  t.after(() => subscription.stop());
  await waitFor('subscribed', () => (subscribed ? true : undefined), { timeoutMs: 5000, intervalMs: 20 });
  // Anything sent twice would have been read by now.
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(subscribed, 1);
  assert.equal(sentinel.subscribers.length, 1, 'SUBSCRIBE sent once');
  assert.deepEqual(sentinel.seen, [['AUTH', 'secret']]);
});

const MESSAGE = 'mymaster 10.0.0.1 6379 10.0.0.2 6379';

test('"$x" and then a 100 MB bulk from one Sentinel: that connection is dropped and made again with the backoff; the other Sentinel is still heard', {
  timeout: 60_000,
}, async (t) => {
  const garbling = await fakeSentinel({
    afterSubscribe: (socket, n) => {
      if (n === 1) socket.write(`*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n$x\r\n${MESSAGE}\r\n`);
      // Its header alone says it is too big: refused before a 100 MB buffer is ever built.
      if (n === 2) socket.write(`*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n$104857600\r\n${'a'.repeat(1 << 20)}`);
    },
  });
  const healthy = await fakeSentinel();
  t.after(() => Promise.all([garbling.close(), healthy.close()]));
  const probe = startProbe(t, 'resp-probe.ts', ['subscribe', garbling.address, healthy.address]);
  const of = (event: string, sentinel: string) =>
    probe.events.filter((e: ProbeEvent) => e.event === event && e.sentinel === sentinel);
  const wait = (what: string, ok: () => boolean) =>
    waitFor(what, () => (ok() ? true : undefined), { timeoutMs: 10_000, intervalMs: 20 }).catch((err: Error) => {
      throw new Error(`${err.message}\nprobe said:\n${probe.output()}`);
    });

  await wait(
    'both subscribed, the garbling one three times (two losses)',
    () => of('subscribed', garbling.address).length >= 3 && of('subscribed', healthy.address).length >= 1,
  );
  const lost = of('lost', garbling.address);
  assert.equal(lost.length, 2);
  assert.match(String(lost[0]!.reason), /protocol error: bulk length "x" is not a number/);
  assert.match(String(lost[1]!.reason), /protocol error: .*104857600 bytes.*limit of 65536 bytes/);
  // A subscription confirmed just before the garbage does not restart the backoff from its minimum:
  // a peer that garbles every connection is not reconnected to (and every master reconciled) 5 times a second.
  assert.deepEqual(
    lost.map((e) => e.retryInMs),
    [200, 400],
  );

  healthy.publish('+switch-master', MESSAGE);
  await wait('the healthy Sentinel heard', () => of('message', healthy.address).length === 1);
  assert.deepEqual(of('message', healthy.address)[0], {
    event: 'message',
    sentinel: healthy.address,
    channel: '+switch-master',
    message: MESSAGE,
  });
  assert.equal(of('lost', healthy.address).length, 0);
  assert.equal(of('message', garbling.address).length, 0, 'nothing made up from the malformed messages');
});

test('over TLS: AUTH and SUBSCRIBE once, after the handshake, and messages heard; a certificate that does not verify is a lost connection', {
  timeout: 60_000,
}, async (t) => {
  const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const tls = await import('node:tls');
  const { issueCert, makeTestCa } = await import('../support/loopback-redis.ts');
  const { tlsConnector } = await import('../../src/sentinel/subscribe.ts');
  const dir = mkdtempSync(join(tmpdir(), 'sh-subscribe-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ca = makeTestCa(dir, 'ca');
  const other = makeTestCa(dir, 'other');
  const sentinel = await fakeSentinel({ tls: issueCert(ca, dir, 'sentinel', ['IP:127.0.0.1']) });
  t.after(() => sentinel.close());
  const connector = (caFile: string) =>
    tlsConnector(tls, { secureContext: tls.createSecureContext({ ca: readFileSync(caFile) }) });
  const events: string[] = [];
  const on = {
    message: (m: { message: string }) => events.push(`message ${m.message}`),
    subscribed: () => events.push('subscribed'),
    lost: (_: string, reason: string) => events.push(`lost ${reason}`),
  };
  const good = new SentinelSubscription(
    sentinel.address,
    ['+switch-master'],
    () => ['AUTH', 'secret'],
    on,
    connector(ca.cert),
  );
  good.start();
  t.after(() => good.stop());
  await waitFor('subscribed over TLS', () => (events.includes('subscribed') ? true : undefined), {
    timeoutMs: 5000,
    intervalMs: 20,
  });
  sentinel.publish('+switch-master', 'mymaster 10.0.0.1 6379 10.0.0.2 6379');
  await waitFor('the message', () => (events.length >= 2 ? true : undefined), { timeoutMs: 5000, intervalMs: 20 });
  assert.deepEqual(events, ['subscribed', 'message mymaster 10.0.0.1 6379 10.0.0.2 6379']);
  assert.equal(sentinel.subscribers.length, 1, 'SUBSCRIBE sent once');
  assert.deepEqual(sentinel.seen, [['AUTH', 'secret']]);
  good.stop();

  events.length = 0;
  const untrusted = new SentinelSubscription(
    sentinel.address,
    ['+switch-master'],
    () => undefined,
    on,
    connector(other.cert),
  );
  untrusted.start();
  t.after(() => untrusted.stop());
  await waitFor('lost', () => (events.length ? true : undefined), { timeoutMs: 5000, intervalMs: 20 });
  untrusted.stop();
  assert.match(events[0]!, /^lost .*(certificate|verify)/i);
  assert.equal(sentinel.subscribers.length, 1, 'nothing sent to a Sentinel whose certificate did not verify');
});
