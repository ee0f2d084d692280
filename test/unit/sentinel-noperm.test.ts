// Issue 15 §5.3: an ACL user allowed only `SENTINEL get-master-addr-by-name`. The hook worked, but
// reconcile said "0 of 3 Sentinels answered" while printing each Sentinel's address, and watch never
// acted: the refused SENTINEL MASTER (and MYID) replies were dropped without a word. A NOPERM is said
// as such: which command, which Sentinel, which ACL rule to add for which user. Fake Sentinels on
// 127.0.0.1 that answer with Redis 7.0's own words; the rule is built from what we sent, never from
// what a peer wrote.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reconcileText } from '../../src/commands/reconcile.ts';
import { validateConfig } from '../../src/config/load.ts';
import { parseEvent } from '../../src/event.ts';
import { reconcileMaster, runHook } from '../../src/pipeline/run.ts';
import { type AskSentinel, askSentinel, checkFreshness, type SentinelAnswer } from '../../src/sentinel/client.ts';
import { decideMaster } from '../../src/sentinel/decide.ts';
import { SentinelSubscription } from '../../src/sentinel/subscribe.ts';
import { waitFor } from '../lab/wait.ts';
import { FakeRunner, fakeDeps } from '../support/fakes.ts';
import { scriptedSentinel } from '../support/loopback-redis.ts';

const bulk = (s: string) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
const ADDRESS = `*2\r\n${bulk('127.0.0.1')}${bulk('6380')}`;
const MASTER_INFO = `*4\r\n${bulk('config-epoch')}${bulk('7')}${bulk('failover-timeout')}${bulk('5000')}`;
const MYID = bulk('0123456789abcdef0123456789abcdef01234567');
const noperm = (acl: string) => `-NOPERM this user has no permissions to run the '${acl}' command\r\n`;

/** A Sentinel whose ACL user may run only the commands named in `allowed` (Redis's ACL names). */
function sentinelAllowing(allowed: readonly string[]) {
  return scriptedSentinel((c) => {
    if (c[0] === 'AUTH') return '+OK\r\n';
    const acl = `${c[0]!.toLowerCase()}|${c[1]!.toLowerCase()}`;
    if (!allowed.includes(acl)) return noperm(acl);
    if (acl === 'sentinel|myid') return MYID;
    if (acl === 'sentinel|master') return MASTER_INFO;
    return ADDRESS;
  });
}

const cfg = (addresses: string[]) => ({ addresses, username: 'hook', timeout: 1000, settle: 0 });

test('SENTINEL MASTER and MYID refused: the answer still names the master, and carries what was refused and the rule to add', async (t) => {
  const s = await sentinelAllowing(['sentinel|get-master-addr-by-name']);
  t.after(() => s.close());
  const answer = await askSentinel(s.address, 'mymaster', cfg([s.address]), 'pw', { epoch: true });
  assert.ok('master' in answer, JSON.stringify(answer));
  assert.deepEqual(answer.master, { ip: '127.0.0.1', port: 6380 });
  assert.equal(answer.epoch, undefined);
  assert.deepEqual(answer.noperm, [
    { command: 'SENTINEL MYID', rule: '+sentinel|myid', user: 'hook' },
    { command: 'SENTINEL MASTER', rule: '+sentinel|master', user: 'hook' },
  ]);
  // Allowed everything it needs: nothing refused, nothing said.
  const all = await sentinelAllowing(['sentinel|get-master-addr-by-name', 'sentinel|master', 'sentinel|myid']);
  t.after(() => all.close());
  const fine = await askSentinel(all.address, 'mymaster', cfg([all.address]), 'pw', { epoch: true });
  assert.ok('master' in fine && fine.epoch === 7 && !('noperm' in fine), JSON.stringify(fine));
});

test('no username, or no password sent: the user named is "default"; the rule comes from what we sent, not from what the peer wrote', async (t) => {
  const s = await scriptedSentinel((c) =>
    c[0] === 'AUTH'
      ? '+OK\r\n'
      : c[1] === 'get-master-addr-by-name'
        ? ADDRESS
        : "-NOPERM no permissions to run the 'flushall' command\r\n",
  );
  t.after(() => s.close());
  const answer = await askSentinel(s.address, 'mymaster', { ...cfg([s.address]), username: undefined }, 'pw', {
    epoch: true,
  });
  assert.ok('master' in answer);
  assert.deepEqual(
    answer.noperm?.map((n) => [n.rule, n.user]),
    [
      ['+sentinel|myid', 'default'],
      ['+sentinel|master', 'default'],
    ],
  );
  const unauthenticated = await askSentinel(s.address, 'mymaster', cfg([s.address]), undefined, { epoch: true });
  assert.ok('master' in unauthenticated);
  assert.equal(unauthenticated.noperm?.[0]?.user, 'default', 'without a password no AUTH is sent: we are default');
  // A peer that answers NOPERM to AUTH itself: a refusal, and no rule built from AUTH's arguments (the password).
  const hostile = await scriptedSentinel(() => '-NOPERM no\r\n');
  t.after(() => hostile.close());
  const refused = await askSentinel(
    hostile.address,
    'mymaster',
    { ...cfg([hostile.address]), username: undefined },
    'pw-7f3e',
    {
      epoch: true,
    },
  );
  assert.ok('refused' in refused && !refused.noperm, JSON.stringify(refused));
  assert.doesNotMatch(JSON.stringify(refused), /pw-7f3e/);
});

test('decideMaster: answers that lack the epoch because SENTINEL MASTER was refused make the reason say so, for which Sentinels, and what to add', () => {
  const refused = (address: string): SentinelAnswer => ({
    address,
    master: { ip: '10.0.0.1', port: 6379 },
    noperm: [{ command: 'SENTINEL MASTER', rule: '+sentinel|master', user: 'hook' }],
  });
  const decision = decideMaster([refused('s1:26379'), refused('s2:26379'), refused('s3:26379')], 3);
  assert.equal(decision.clear, false);
  assert.ok(!decision.clear);
  assert.equal(decision.code, 'sentinel-noperm');
  assert.match(decision.reason, /^0 of 3 Sentinels answered with the master and its epoch, 2 needed: /);
  assert.match(
    decision.reason,
    /Sentinels s1:26379, s2:26379, s3:26379 refused SENTINEL MASTER \(NOPERM\): add \+sentinel\|master for user hook/,
  );
  assert.match(decision.reason, /ACL SETUSER hook \+sentinel\|master/);
  // Enough Sentinels gave the epoch: a refused MYID elsewhere does not make the answer unclear.
  const ok: SentinelAnswer = {
    address: 's1:26379',
    master: { ip: '10.0.0.1', port: 6379 },
    epoch: 3,
    noperm: [{ command: 'SENTINEL MYID', rule: '+sentinel|myid', user: 'hook' }],
  };
  assert.equal(decideMaster([ok, { ...ok, address: 's2:26379' }, refused('s3:26379')], 3).clear, true);
});

test('reconcile against Sentinels that refuse SENTINEL MASTER: unsure, nothing runs, and the text names the refusal on every answer', async (t) => {
  const sentinels = await Promise.all([0, 1, 2].map(() => sentinelAllowing(['sentinel|get-master-addr-by-name'])));
  t.after(() => Promise.all(sentinels.map((s) => s.close())));
  const addresses = sentinels.map((s) => s.address);
  const config = validateConfig(
    {
      lockDir: '/nonexistent-lock-dir',
      sentinels: { addresses, username: 'hook', password: { env: 'SH_TEST_PW' }, settle: 0 },
      masters: { mymaster: [{ type: 'exec', run: ['/bin/true'], reconcile: true }] },
    },
    'test.yaml',
  );
  const runner = new FakeRunner([]);
  const r = await reconcileMaster('mymaster', config, fakeDeps({ runner, env: { SH_TEST_PW: 'pw' } }), {
    dryRun: true,
    announce: false,
    signal: AbortSignal.timeout(10_000),
    remainingMs: () => 10_000,
  });
  assert.equal(r.outcome, 'unsure');
  assert.equal(r.code, 'sentinel-noperm');
  assert.equal(runner.calls.length, 0);
  const text = reconcileText([r], 1).join('\n');
  assert.match(text, /refused SENTINEL MASTER \(NOPERM\): add \+sentinel\|master for user hook/);
  for (const address of addresses)
    assert.match(
      text,
      new RegExp(
        `  ${address}: 127\\.0\\.0\\.1:6380 \\(no config epoch: refused SENTINEL MYID, SENTINEL MASTER, SENTINEL SENTINELS \\(NOPERM\\)\\)`,
      ),
    );
});

test('the hook: SENTINEL MASTER refused still confirms the event, and the log says what to add; get-master-addr-by-name refused by all: exit 2 naming the rule', async (t) => {
  const s = await sentinelAllowing(['sentinel|get-master-addr-by-name', 'sentinel|myid']);
  t.after(() => s.close());
  const event = parseEvent(['mymaster', 'leader', 'start', '127.0.0.1', '6379', '127.0.0.1', '6380']);
  const config = validateConfig(
    {
      lockDir: '/nonexistent-lock-dir',
      sentinels: { addresses: [s.address], username: 'hook', password: { env: 'SH_TEST_PW' }, settle: 0 },
      masters: { mymaster: [{ type: 'exec', run: ['/bin/true'] }] },
    },
    'test.yaml',
  );
  const deps = fakeDeps({ env: { SH_TEST_PW: 'pw' } });
  const r = await runHook(event, config, deps, { dryRun: true });
  assert.equal(r.outcome, 'dry-run');
  assert.equal(r.freshness?.verdict, 'current');
  assert.ok(
    deps.logger.records.some(
      (l) =>
        l.level === 'warn' &&
        /Sentinel 127\.0\.0\.1:\d+ refused SENTINEL MASTER \(NOPERM\): add \+sentinel\|master for user hook/.test(
          String(l.msg),
        ),
    ),
    JSON.stringify(deps.logger.records),
  );

  const none = await sentinelAllowing([]);
  t.after(() => none.close());
  await assert.rejects(
    checkFreshness(
      event,
      ['127.0.0.1'],
      cfg([none.address]),
      { P: 'pw' },
      {
        ask: ((address, master, c, _pw, opts) => askSentinel(address, master, c, 'pw', opts)) as AskSentinel,
      },
    ),
    (err: Error & { exitCode?: number }) => {
      assert.equal(err.exitCode, 2);
      assert.match(
        err.message,
        /Sentinel 127\.0\.0\.1:\d+ refused SENTINEL get-master-addr-by-name \(NOPERM\): add \+sentinel\|get-master-addr-by-name for user hook/,
      );
      return true;
    },
  );
});

test('watch: a subscription refused (NOPERM) says which command and channels, and the rule to add, not only "refused: NOPERM"', {
  timeout: 20_000,
}, async (t) => {
  const s = await scriptedSentinel((c) =>
    c[0] === 'AUTH' ? '+OK\r\n' : '-NOPERM this user has no permissions to access one of the channels\r\n',
  );
  t.after(() => s.close());
  const reasons: string[] = [];
  const subscription = new SentinelSubscription(
    s.address,
    ['+promoted-slave', '+switch-master'],
    () => ['AUTH', 'hook', 'pw'],
    { message: () => {}, subscribed: () => {}, lost: (_s, reason) => reasons.push(reason) },
  );
  subscription.start();
  t.after(() => subscription.stop());
  await waitFor('the refusal', () => (reasons.length ? true : undefined), { timeoutMs: 5000, intervalMs: 20 });
  assert.match(
    reasons[0]!,
    new RegExp(
      `^Sentinel ${s.address} refused SUBSCRIBE \\+promoted-slave \\+switch-master \\(NOPERM\\): add \\+subscribe &\\+promoted-slave &\\+switch-master for user hook`,
    ),
  );
});
