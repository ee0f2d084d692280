// Issue 15 §5.6: one wrongly configured Sentinel address (another deployment's `mymaster`, at a far
// higher epoch) must not decide for the two agreeing Sentinels of the real group, nor leave a record
// that refuses the truth later. A Sentinel belongs with the configured ones when the Sentinels it
// knows (SENTINEL SENTINELS, by run id or address) and itself make a majority of them, or when one that
// does names it. An epoch is recorded only once a majority of the Sentinels confirms it.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { validateConfig } from '../../src/config/load.ts';
import { reconcileMaster } from '../../src/pipeline/run.ts';
import { type AskSentinel, askSentinel, type SentinelAnswer } from '../../src/sentinel/client.ts';
import { decideMaster } from '../../src/sentinel/decide.ts';
import { readActedEpoch, recordActedEpoch } from '../../src/state/epoch.ts';
import { fakeSentinel } from '../support/fake-sentinel.ts';
import { FakeRunner, fakeDeps } from '../support/fakes.ts';

const A = '192.168.0.1:26379';
const B = '192.168.0.2:26379';
const F = '172.16.5.5:26379';
const ID = { a: 'a'.repeat(40), b: 'b'.repeat(40), c: 'c'.repeat(40), f: 'f'.repeat(40), g: '9'.repeat(40) };
const M = '192.168.0.11';
const X = '172.16.5.11';

function peer(address: string, runid: string) {
  const [ip, port] = address.split(':');
  return { ip: ip!, port: Number(port), id: runid };
}

/** The real group: A and B know each other (and a third, C, that is not configured here). */
const a: SentinelAnswer = {
  address: A,
  master: { ip: M, port: 6379 },
  epoch: 8,
  id: ID.a,
  peers: [peer(B, ID.b), peer('192.168.0.3:26379', ID.c)],
};
const b: SentinelAnswer = {
  address: B,
  master: { ip: M, port: 6379 },
  epoch: 8,
  id: ID.b,
  peers: [peer(A, ID.a), peer('192.168.0.3:26379', ID.c)],
};
/** Another deployment's Sentinel for a master of the same name, at a far higher epoch. */
const f: SentinelAnswer = {
  address: F,
  master: { ip: X, port: 6379 },
  epoch: 99,
  id: ID.f,
  peers: [peer('172.16.5.6:26379', ID.g)],
};

test('decideMaster: a Sentinel of another group, at a higher epoch, does not count; the two of the group decide', () => {
  const d = decideMaster([a, b, f], 3);
  assert.ok(d.clear, 'clear');
  assert.deepEqual(d.state, { ip: M, port: 6379, epoch: 8, ids: [ID.a, ID.b] });
  assert.equal((d.answers.find((x) => x.address === F) as { foreign?: boolean }).foreign, true);
  // Without the other two it is no majority of its own.
  assert.equal(decideMaster([a, { address: B, error: 'timeout' }, f], 3).clear, false);
});

test('decideMaster: the legitimate case still wins, right after a promotion the leader alone names the new master at the new epoch', () => {
  const leader: SentinelAnswer = {
    address: F.replace('172.16.5.5', '192.168.0.3'),
    master: { ip: '192.168.0.12', port: 6379 },
    epoch: 9,
    id: ID.c,
    peers: [peer(A, ID.a), peer(B, ID.b)],
  };
  const d = decideMaster([a, b, leader], 3);
  assert.ok(d.clear);
  assert.equal(d.state.ip, '192.168.0.12');
  assert.equal(d.state.epoch, 9);
  // Named by the group, though its own list of the others could not be read (an ACL without SENTINEL
  // SENTINELS): still one of them.
  const { peers: _, ...unlisted } = leader as Extract<SentinelAnswer, { peers?: unknown }>;
  assert.equal((decideMaster([a, b, unlisted], 3) as { state: { epoch: number } }).state.epoch, 9);
  // Known by its address only (it refuses MYID too).
  const { id: _id, ...anonymous } = unlisted as Extract<SentinelAnswer, { id?: unknown }>;
  assert.equal((decideMaster([a, b, anonymous], 3) as { state: { epoch: number } }).state.epoch, 9);
  // A run id decides over an address: a Sentinel with another id where the group knows one is not it.
  assert.equal(decideMaster([a, b, { ...unlisted, id: 'd'.repeat(40) }], 3).clear, true);
  assert.equal(
    (decideMaster([a, b, { ...unlisted, id: 'd'.repeat(40) }], 3) as { state: { epoch: number } }).state.epoch,
    8,
  );
});

test('decideMaster: when no Sentinel can be told to be of the group (no SENTINEL SENTINELS anywhere), every answer counts, as before', () => {
  const strip = (x: SentinelAnswer) => {
    const { peers: _, ...rest } = x as Extract<SentinelAnswer, { peers?: unknown }>;
    return rest;
  };
  const d = decideMaster([strip(a), strip(b), strip(f)], 3);
  assert.ok(d.clear);
  assert.equal(d.state.epoch, 99);
});

test('askSentinel with peers: the Sentinels it knows, from SENTINEL SENTINELS in the same round trip; none when it refuses it', async (t) => {
  const knowing = await fakeSentinel({
    id: ID.a,
    master: () => ({ ip: M, port: 6379, epoch: 8 }),
    peers: () => [{ ip: '192.168.0.2', port: 26379, runid: ID.b }],
  });
  const refusing = await fakeSentinel({ master: () => ({ ip: M, port: 6379, epoch: 8 }) });
  t.after(() => Promise.all([knowing.close(), refusing.close()]));
  const cfg = { addresses: [knowing.address, refusing.address], timeout: 1000, settle: 0 };
  const one = await askSentinel(knowing.address, 'mymaster', cfg, undefined, { epoch: true, peers: true });
  assert.deepEqual(one, {
    address: knowing.address,
    master: { ip: M, port: 6379 },
    epoch: 8,
    id: ID.a,
    peers: [{ ip: '192.168.0.2', port: 26379, id: ID.b }],
  });
  assert.equal(knowing.seen.length, 4, 'MYID, MASTER, SENTINELS and the address, in one connection');
  const two = await askSentinel(refusing.address, 'mymaster', cfg, undefined, { epoch: true, peers: true });
  assert.deepEqual(two, { address: refusing.address, master: { ip: M, port: 6379 }, epoch: 8 });
});

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'sh-group-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const MOVE = '/bin/move-it';
const config = (dir: string) =>
  validateConfig(
    {
      lockDir: dir,
      sentinels: { addresses: [A, B, '192.168.0.3:26379'], settle: 0 },
      masters: { mymaster: [{ type: 'exec', run: [MOVE, '{toIp}'], reconcile: true }] },
    },
    'test.yaml',
  );
const opts = () => ({ dryRun: false, announce: false, signal: AbortSignal.timeout(20_000), remainingMs: () => 20_000 });

test('an epoch one Sentinel confirmed is acted on but not recorded; recorded once a majority names it', async (t) => {
  const dir = tempDir(t);
  recordActedEpoch(dir, 'mymaster', { epoch: 8, ip: M, port: 6379, ids: [ID.a, ID.b, ID.c] });
  // watch's fast path: the leader's confirmed +promoted-slave, one answer.
  const leader: SentinelAnswer = { address: '192.168.0.3:26379', master: { ip: X, port: 6379 }, epoch: 9, id: ID.c };
  const state = { ip: X, port: 6379, epoch: 9, ids: [ID.c] };
  const runner = new FakeRunner([{ argv: [MOVE, X] }]);
  const r = await reconcileMaster('mymaster', config(dir), fakeDeps({ runner, addresses: [M] }), {
    ...opts(),
    announce: true,
    claim: true,
    decision: { clear: true, state, answers: [leader] },
  });
  assert.equal(r.outcome, 'converged', r.reason);
  assert.deepEqual(runner.unused(), []);
  assert.equal(readActedEpoch(dir, 'mymaster')?.epoch, 8, 'one Sentinel is no majority: not recorded');
  // The others have switched: three answers at 9, nothing left to do (exec ran once for this failover).
  const all: AskSentinel = async (address) => ({
    address,
    master: { ip: X, port: 6379 },
    epoch: 9,
    id: [ID.a, ID.b, ID.c][[A, B, '192.168.0.3:26379'].indexOf(address)]!,
  });
  const again = await reconcileMaster(
    'mymaster',
    config(dir),
    fakeDeps({ runner: new FakeRunner([]), askSentinel: all, addresses: [M] }),
    opts(),
  );
  assert.equal(again.outcome, 'nothing-to-do', again.reason);
  assert.deepEqual(readActedEpoch(dir, 'mymaster'), { epoch: 9, ip: X, port: 6379, ids: [ID.a, ID.b, ID.c] });
});

// Issue 15 leftover: the fast path records no epoch floor until a majority names the epoch (§5.6). Inside
// that gap a run could go back only if it heard the Sentinels not yet switched and NOT the leader (a
// member's newest epoch wins over the majority, see decideMaster): the leader silent in the ~65 ms to 1 s
// before the others switch. Left open on purpose (see the note): recording one Sentinel's word is what
// §5.6 forbids. What a move back could not undo is kept all the same: exec's once-per-failover record,
// written by the fast path, stops an exec for the older epoch; observe-based actions (vip) would move back
// and forward again at the next run once a majority names the epoch. This test pins that behaviour.
test('inside the gap (acted on the leader alone, not recorded), a run hearing only the two not yet switched runs no exec again; once they switched the floor is recorded and the same stale answer refused', async (t) => {
  const dir = tempDir(t);
  recordActedEpoch(dir, 'mymaster', { epoch: 8, ip: M, port: 6379, ids: [ID.a, ID.b, ID.c] });
  const leader: SentinelAnswer = { address: '192.168.0.3:26379', master: { ip: X, port: 6379 }, epoch: 9, id: ID.c };
  const fast = await reconcileMaster(
    'mymaster',
    config(dir),
    fakeDeps({ runner: new FakeRunner([{ argv: [MOVE, X] }]), addresses: [M] }),
    {
      ...opts(),
      announce: true,
      claim: true,
      decision: { clear: true, state: { ip: X, port: 6379, epoch: 9, ids: [ID.c] }, answers: [leader] },
    },
  );
  assert.equal(fast.outcome, 'converged', fast.reason);
  assert.equal(readActedEpoch(dir, 'mymaster')?.epoch, 8, 'no floor yet');
  // The leader silent for this one run; A and B still name M at 8. FakeRunner([]): any exec fails the test.
  const notYet: AskSentinel = async (address) =>
    address === '192.168.0.3:26379'
      ? Promise.reject(new Error('timeout'))
      : { address, master: { ip: M, port: 6379 }, epoch: 8, id: address === A ? ID.a : ID.b };
  const r1 = await reconcileMaster(
    'mymaster',
    config(dir),
    fakeDeps({ runner: new FakeRunner([]), askSentinel: notYet, addresses: [M] }),
    opts(),
  );
  assert.equal(r1.outcome, 'nothing-to-do', r1.reason);
  // They switched: a majority names X at 9. Nothing to run again, and now the floor is 9.
  const switched: AskSentinel = async (address) => ({
    address,
    master: { ip: X, port: 6379 },
    epoch: 9,
    id: [ID.a, ID.b, ID.c][[A, B, '192.168.0.3:26379'].indexOf(address)]!,
  });
  const r2 = await reconcileMaster(
    'mymaster',
    config(dir),
    fakeDeps({ runner: new FakeRunner([]), askSentinel: switched, addresses: [M] }),
    opts(),
  );
  assert.equal(r2.outcome, 'nothing-to-do', r2.reason);
  assert.equal(readActedEpoch(dir, 'mymaster')?.epoch, 9);
  const r3 = await reconcileMaster(
    'mymaster',
    config(dir),
    fakeDeps({ runner: new FakeRunner([]), askSentinel: notYet, addresses: [M] }),
    opts(),
  );
  assert.equal(r3.outcome, 'older-epoch', r3.reason);
});
