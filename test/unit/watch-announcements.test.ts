// watch's fast path against fake Sentinels on loopback (real TCP, real pub/sub framing, the real
// client): which announcement of a failover it acts on, and when. Issue 15 §5.5: a slow announcing
// Sentinel must not hold the failover up to the next interval; the others' announcements of it count.
// The action is an exec with reconcile: true, run by a runner that notes when it ran with which address.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { validateConfig } from '../../src/config/load.ts';
import type { Logger } from '../../src/log.ts';
import type { CommandResult } from '../../src/runner.ts';
import { readActedEpoch } from '../../src/state/epoch.ts';
import { onceDone } from '../../src/state/once.ts';
import { Watcher } from '../../src/watch/watcher.ts';
import { type FakeMaster, type FakePeer, type FakeSentinel, fakeSentinel } from '../support/fake-sentinel.ts';
import { fakeDeps } from '../support/fakes.ts';

const MOVE = '/bin/move-it';
const OLD: FakeMaster = { ip: '10.0.0.1', port: 6379, epoch: 7 };
const NEW: FakeMaster = { ip: '10.0.0.2', port: 6379, epoch: 8 };
const PROMOTED = 'slave 10.0.0.2:6379 10.0.0.2 6379 @ mymaster 10.0.0.1 6379';
const SWITCHED = 'mymaster 10.0.0.1 6379 10.0.0.2 6379';

const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {}, child: () => quiet };

/** A fake Sentinel whose master, reply delay and known Sentinels the test changes as it goes. */
interface Scripted {
  sentinel: FakeSentinel;
  says: FakeMaster;
  delayMs: number;
  id: string;
  /** SENTINEL SENTINELS; undefined: refused, as to an ACL user without it. */
  peers: FakePeer[] | undefined;
}

/** `n` Sentinels with ids; with `group`, each knows the others (SENTINEL SENTINELS), as one deployment's do. */
async function sentinels(t: TestContext, n: number, group = false): Promise<Scripted[]> {
  const all: Scripted[] = [];
  for (let i = 0; i < n; i++) {
    const s: Scripted = {
      sentinel: undefined as unknown as FakeSentinel,
      says: OLD,
      delayMs: 0,
      id: String(i + 1).repeat(40),
      peers: undefined,
    };
    s.sentinel = await fakeSentinel({
      id: s.id,
      master: () => s.says,
      delayMs: () => s.delayMs,
      ...(group ? { peers: () => s.peers ?? [] } : {}),
    });
    all.push(s);
  }
  if (group) for (const s of all) s.peers = all.filter((o) => o !== s).map((o) => ({ ...addressOf(o), runid: o.id }));
  t.after(() => Promise.all(all.map((s) => s.sentinel.close())));
  return all;
}

function addressOf(s: Scripted): { ip: string; port: number } {
  const [ip, port] = s.sentinel.address.split(':');
  return { ip: ip!, port: Number(port) };
}

/** A watcher on `scripted`, by default its interval far beyond the test: only the fast path can act in time. */
function watch(t: TestContext, scripted: Scripted[], timeout = '500ms', intervalMs = 3_600_000) {
  const stateDir = mkdtempSync(join(tmpdir(), 'sh-watch-ann-'));
  const runs: { ip: string; at: number }[] = [];
  const runner = {
    run: async (argv: readonly string[]): Promise<CommandResult> => {
      assert.equal(argv[0], MOVE);
      runs.push({ ip: argv[1]!, at: performance.now() });
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
  const config = validateConfig(
    {
      lockDir: stateDir,
      sentinels: { addresses: scripted.map((s) => s.sentinel.address), timeout },
      masters: { mymaster: [{ type: 'exec', run: [MOVE, '{toIp}'], reconcile: true }] },
    },
    'test.yaml',
  );
  const watcher = new Watcher(config, { ...fakeDeps({ runner, addresses: ['10.0.0.9'] }), logger: quiet }, quiet, {
    intervalMs,
  });
  t.after(async () => {
    await watcher.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });
  watcher.start();
  return { watcher, runs, stateDir };
}

async function until(what: string, ok: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!ok() && performance.now() < end) await new Promise((r) => setTimeout(r, 10));
  assert.ok(ok(), what);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Started, subscribed to every Sentinel, and in line with the old master (exec ran once for it). */
async function ready(scripted: Scripted[], runs: { ip: string }[]): Promise<void> {
  await until('subscribed to every Sentinel', () => scripted.every((s) => s.sentinel.subscribers.length > 0));
  await until('the start reconcile ran the exec for the old master', () => runs.some((r) => r.ip === OLD.ip));
  // The reconciles that every subscription started are over.
  await sleep(300);
}

test("a slow leader: its +promoted-slave cannot be confirmed, and the others' +switch-master seconds later is acted on at once, not dropped as a duplicate", async (t) => {
  const [leader, second, third] = await sentinels(t, 3);
  const { watcher, runs } = watch(t, [leader!, second!, third!]);
  await ready([leader!, second!, third!], runs);

  // The leader promoted the replica, but answers nobody in time.
  leader!.says = NEW;
  leader!.delayMs = 5000;
  leader!.sentinel.publish('+promoted-slave', PROMOTED);
  // The confirmation times out; the reconcile that follows finds the others still on the old master.
  await sleep(1500);
  assert.deepEqual(
    runs.map((r) => r.ip),
    [OLD.ip],
  );
  second!.says = NEW;
  third!.says = NEW;
  const switched = performance.now();
  second!.sentinel.publish('+switch-master', SWITCHED);
  third!.sentinel.publish('+switch-master', SWITCHED);
  await until("the others' +switch-master acted on", () => runs.some((r) => r.ip === NEW.ip), 2000);
  const acted = runs.find((r) => r.ip === NEW.ip)!.at - switched;
  t.diagnostic(`acted ${acted.toFixed(0)} ms after the others' +switch-master`);
  await sleep(700);
  assert.deepEqual(
    runs.map((r) => r.ip),
    [OLD.ip, NEW.ip],
    'once for the failover',
  );
  assert.ok(watcher.stats.duplicates >= 1, 'the third announcement was a duplicate of the acted one');
});

test("a slow leader: the others' +switch-master while its confirmation is pending is confirmed with them, without waiting for its timeout", async (t) => {
  const [leader, second, third] = await sentinels(t, 3);
  const { runs } = watch(t, [leader!, second!, third!], '800ms');
  await ready([leader!, second!, third!], runs);

  leader!.says = NEW;
  leader!.delayMs = 5000;
  leader!.sentinel.publish('+promoted-slave', PROMOTED);
  // The others switch about 65 ms after the leader's promotion (lab, redis 7.0).
  await sleep(65);
  second!.says = NEW;
  third!.says = NEW;
  const switched = performance.now();
  second!.sentinel.publish('+switch-master', SWITCHED);
  third!.sentinel.publish('+switch-master', SWITCHED);
  await until('the failover acted on', () => runs.some((r) => r.ip === NEW.ip), 3000);
  const acted = runs.find((r) => r.ip === NEW.ip)!.at - switched;
  t.diagnostic(`acted ${acted.toFixed(0)} ms after the others' +switch-master`);
  assert.ok(
    acted < 600,
    `acted ${acted.toFixed(0)} ms after the others' +switch-master: it waited for the leader's 800 ms timeout`,
  );
  await sleep(1500);
  assert.deepEqual(
    runs.map((r) => r.ip),
    [OLD.ip, NEW.ip],
    'once for the failover',
  );
});

test("a Sentinel of another deployment among the configured ones (its mymaster at epoch 99): neither its answers nor its +switch-master move anything, and the record keeps the group's epoch", async (t) => {
  const scripted = await sentinels(t, 3, true);
  const [first, second, foreign] = scripted as [Scripted, Scripted, Scripted];
  // The first two are one deployment's; the third, configured by mistake, knows Sentinels of its own only.
  first.peers = [{ ...addressOf(second), runid: second.id }];
  second.peers = [{ ...addressOf(first), runid: first.id }];
  foreign.peers = [{ ip: '10.9.9.1', port: 26379, runid: 'e'.repeat(40) }];
  first.says = second.says = { ...OLD, epoch: 8 };
  foreign.says = { ip: '10.9.9.9', port: 6379, epoch: 99 };
  const { watcher, runs, stateDir } = watch(t, scripted);
  await until('subscribed to every Sentinel', () => scripted.every((s) => s.sentinel.subscribers.length > 0));
  await until('the start reconcile ran the exec', () => runs.length > 0);
  await sleep(300);
  assert.deepEqual(
    runs.map((r) => r.ip),
    [OLD.ip],
    'the start reconcile follows the two of the group',
  );
  foreign.sentinel.publish('+switch-master', 'mymaster 10.9.9.8 6379 10.9.9.9 6379');
  await sleep(800);
  assert.deepEqual(
    runs.map((r) => r.ip),
    [OLD.ip],
    'its announcement moved nothing',
  );
  assert.equal(watcher.stats.foreign, 1, 'ignored as not of the group');
  assert.deepEqual(readActedEpoch(stateDir, 'mymaster'), {
    epoch: 8,
    ip: OLD.ip,
    port: OLD.port,
    ids: [first.id, second.id],
  });
});

test('the leader of the group alone at the new epoch: its +promoted-slave is acted on at once; the epoch is recorded once a majority names it', async (t) => {
  const [leader, second, third] = await sentinels(t, 3, true);
  const { runs, stateDir } = watch(t, [leader!, second!, third!], '500ms', 1000);
  await ready([leader!, second!, third!], runs);
  assert.equal(readActedEpoch(stateDir, 'mymaster')?.epoch, OLD.epoch);
  leader!.says = NEW;
  leader!.sentinel.publish('+promoted-slave', PROMOTED);
  await until('the promotion acted on', () => runs.some((r) => r.ip === NEW.ip), 500);
  assert.equal(readActedEpoch(stateDir, 'mymaster')?.epoch, OLD.epoch, 'one Sentinel is no majority');
  second!.says = NEW;
  third!.says = NEW;
  await until('recorded by the next interval reconcile', () => readActedEpoch(stateDir, 'mymaster')?.epoch === 8, 3000);
  assert.deepEqual(
    runs.map((r) => r.ip),
    [OLD.ip, NEW.ip],
  );
});

test('the fast path marks exec done for the Sentinels the leader knows, not for the leader alone: a hook confirmed by another of them finds it done', async (t) => {
  const [leader, second, third] = await sentinels(t, 3, true);
  const { runs, stateDir } = watch(t, [leader!, second!, third!]);
  await ready([leader!, second!, third!], runs);
  leader!.says = NEW;
  leader!.sentinel.publish('+promoted-slave', PROMOTED);
  await until('the promotion acted on', () => runs.some((r) => r.ip === NEW.ip), 2000);
  // The hook that the second Sentinel runs a moment later: its freshness question is confirmed by that
  // Sentinel alone (the round ends at the first answer naming the to-ip).
  assert.ok(onceDone(stateDir, 'mymaster', 'exec#0', NEW.epoch, [second!.id]), 'exec done for this failover');
  // A rebuilt set of Sentinels (new ids, the same epoch again) is still another failover.
  assert.ok(!onceDone(stateDir, 'mymaster', 'exec#0', NEW.epoch, ['d'.repeat(40)]));
});

/** Steps the wall clock (Date.now) by `ms` from now on, as an NTP step or an operator would. */
function stepWallClock(t: TestContext): (ms: number) => void {
  const real = Date.now;
  let offset = 0;
  Date.now = () => real() + offset;
  t.after(() => {
    Date.now = real;
  });
  return (ms) => {
    offset += ms;
  };
}

test("the duplicate window is timed by a monotonic clock: a wall clock stepped 31 s forward does not make the others' announcement of the failover just acted on a new one", async (t) => {
  const step = stepWallClock(t);
  const [leader, second, third] = await sentinels(t, 3);
  const { watcher, runs } = watch(t, [leader!, second!, third!]);
  await ready([leader!, second!, third!], runs);
  leader!.says = NEW;
  leader!.sentinel.publish('+promoted-slave', PROMOTED);
  await until('the promotion acted on', () => runs.some((r) => r.ip === NEW.ip), 2000);
  step(31_000);
  second!.says = NEW;
  third!.says = NEW;
  second!.sentinel.publish('+switch-master', SWITCHED);
  third!.sentinel.publish('+switch-master', SWITCHED);
  await sleep(800);
  assert.deepEqual(
    runs.map((r) => r.ip),
    [OLD.ip, NEW.ip],
    'once for the failover',
  );
  assert.equal(watcher.stats.duplicates, 2);
});

test('noQuorumFor is timed by a monotonic clock: a wall clock stepped an hour forward does not release the VIP after one unanswered check', async (t) => {
  const step = stepWallClock(t);
  const stateDir = mkdtempSync(join(tmpdir(), 'sh-watch-quorum-'));
  const config = validateConfig(
    {
      lockDir: stateDir,
      sentinels: { addresses: ['192.168.0.1:26379', '192.168.0.2:26379', '192.168.0.3:26379'], timeout: '100ms' },
      masters: {
        mymaster: [{ type: 'vip', address: '10.0.0.100/24', interface: 'eth0', release: { noQuorumFor: '3s' } }],
      },
    },
    'test.yaml',
  );
  // No Sentinel answers, and no subscription ever connects (nothing listens there): no majority.
  const deps = fakeDeps({ askSentinel: async (address) => ({ address, error: 'no answer within 100 ms' }) });
  const watcher = new Watcher(config, { ...deps, logger: quiet }, quiet, {
    intervalMs: 3_600_000,
    connector: (_host, _port, _ready) => {
      const socket = new Socket();
      queueMicrotask(() => socket.destroy(new Error('refused in this test')));
      return socket;
    },
  });
  t.after(async () => {
    await watcher.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });
  watcher.start();
  // The first check (every 750 ms with noQuorumFor 3 s) finds no majority and starts counting.
  await sleep(1000);
  step(3_600_000);
  await sleep(1600);
  assert.equal(watcher.stats.releases, 0, 'released 2.6 s into a 3 s noQuorumFor');
  await until('released once noQuorumFor has passed', () => watcher.stats.releases > 0, 3000);
});
