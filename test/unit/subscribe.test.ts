// Watch's subscriptions to the Sentinels, against fake Sentinels on 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SentinelSubscription } from '../../src/sentinel/subscribe.ts';
import { waitFor } from '../lab/wait.ts';
import { fakeSentinel } from '../support/fake-sentinel.ts';

test('one AUTH and one SUBSCRIBE per connection (a net socket emits "ready" on its own as well)', { timeout: 30_000 }, async (t) => {
  const sentinel = await fakeSentinel();
  t.after(() => sentinel.close());
  let subscribed = 0;
  const subscription = new SentinelSubscription(sentinel.address, ['+switch-master', '+promoted-slave'], () => ['AUTH', 'secret'], {
    message: () => {},
    subscribed: () => subscribed++,
    lost: () => {},
  });
  subscription.start();
  t.after(() => subscription.stop());
  await waitFor('subscribed', () => (subscribed ? true : undefined), { timeoutMs: 5000, intervalMs: 20 });
  // Anything sent twice would have been read by now.
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(subscribed, 1);
  assert.equal(sentinel.subscribers.length, 1, 'SUBSCRIBE sent once');
  assert.deepEqual(sentinel.seen, [['AUTH', 'secret']]);
});
