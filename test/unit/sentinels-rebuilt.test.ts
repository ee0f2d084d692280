// State that never wedges: the records keyed by a config epoch (the epoch acted on, exec's
// once-per-failover) never make the host ignore a rebuilt set of Sentinels (new ids, epochs from 0
// again), and an older answer from the same Sentinels is refused only while a failover could still be
// under way (the master's failover-timeout). The guard keeps its purpose inside that window.
// Fakes: Sentinels that answer what the test says (with their ids), a runner that fails on any
// command it was not told to expect.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { forgetCommand } from '../../src/commands/forget.ts';
import { validateConfig } from '../../src/config/load.ts';
import { parseEvent } from '../../src/event.ts';
import { reconcileMaster, runHook } from '../../src/pipeline/run.ts';
import type { AskSentinel } from '../../src/sentinel/client.ts';
import { readActedEpoch, recordActedEpoch } from '../../src/state/epoch.ts';
import { markOnce } from '../../src/state/once.ts';
import { pausedBecause } from '../../src/state/pause.ts';
import { prepareStateDir } from '../../src/state/state-dir.ts';
import { FakeRunner, fakeDeps } from '../support/fakes.ts';

const SENTINELS = ['192.168.0.1:26379', '192.168.0.2:26379', '192.168.0.3:26379'];
const OLD_IDS = ['a'.repeat(40), 'b'.repeat(40), 'c'.repeat(40)];
const NEW_IDS = ['d'.repeat(40), 'e'.repeat(40), 'f'.repeat(40)];
const ME = '192.168.0.3';
const OTHER = '192.168.0.9';
const MOVE = '/bin/move-it';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'sh-rebuilt-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** An exec that runs in reconciles too: what it is run with shows what the host followed. */
function config(dir: string, extra: Record<string, unknown> = {}) {
  return validateConfig(
    {
      lockDir: dir,
      sentinels: { addresses: SENTINELS, settle: 0 },
      masters: { mymaster: [{ type: 'exec', run: [MOVE, '{toIp}'], reconcile: true }] },
      ...extra,
    },
    'test.yaml',
  );
}

/** Every Sentinel names `ip` at `epoch`, each with its id and the master's failover-timeout. */
function sentinelsSay(ip: string, epoch: number, ids: readonly string[], failoverTimeout = 180_000): AskSentinel {
  return async (address) => {
    const i = SENTINELS.indexOf(address);
    return { address, master: { ip, port: 6379 }, epoch, id: ids[i]!, failoverTimeout };
  };
}

const opts = () => ({ dryRun: false, announce: false, signal: AbortSignal.timeout(20_000), remainingMs: () => 20_000 });

test('rebuilt Sentinels (all new ids, epochs from 0 again) below the epoch acted on: the host follows them at once, says so, and records their epoch', async (t) => {
  const dir = tempDir(t);
  recordActedEpoch(dir, 'mymaster', { epoch: 2, ip: ME, port: 6379, ids: OLD_IDS });
  // exec already ran for epoch 2 of the old Sentinels: it must still run for epoch 1 of the new ones.
  markOnce(dir, 'mymaster', 'exec#0', 2, OLD_IDS);
  const runner = new FakeRunner([{ argv: [MOVE, OTHER] }]);
  const deps = fakeDeps({ runner, askSentinel: sentinelsSay(OTHER, 1, NEW_IDS), addresses: [ME] });
  const r = await reconcileMaster('mymaster', config(dir), deps, opts());
  assert.equal(r.outcome, 'converged', r.reason);
  assert.deepEqual(runner.unused(), []);
  assert.deepEqual(readActedEpoch(dir, 'mymaster'), { epoch: 1, ip: OTHER, port: 6379, ids: NEW_IDS });
  const said = deps.logger.records.filter((rec) => rec.code === 'sentinels-rebuilt');
  assert.equal(said.length, 1);
  assert.equal(said[0]!.level, 'warn');
  assert.match(String(said[0]!.msg), /the Sentinels were rebuilt: the 3 that answered all have new ids/);
  // Followed from now on: the next failover of the new Sentinels (epoch 2, as the old record's) acts too.
  const next = new FakeRunner([{ argv: [MOVE, ME] }]);
  const again = await reconcileMaster(
    'mymaster',
    config(dir),
    fakeDeps({ runner: next, askSentinel: sentinelsSay(ME, 2, NEW_IDS), addresses: [ME] }),
    opts(),
  );
  assert.equal(again.outcome, 'converged');
  assert.deepEqual(next.unused(), []);
});

test('rebuilt Sentinels at the same epoch as the record, naming another address: followed (reconcile), and the hook runs exec for their failover', async (t) => {
  const dir = tempDir(t);
  recordActedEpoch(dir, 'mymaster', { epoch: 1, ip: ME, port: 6379, ids: OLD_IDS });
  markOnce(dir, 'mymaster', 'exec#0', 1, OLD_IDS);
  const ask = sentinelsSay(OTHER, 1, NEW_IDS);
  const hookRunner = new FakeRunner([{ argv: [MOVE, OTHER] }]);
  const event = parseEvent(['mymaster', 'observer', 'start', ME, '6379', OTHER, '6379']);
  const hook = await runHook(event, config(dir), fakeDeps({ runner: hookRunner, askSentinel: ask, addresses: [ME] }), {
    dryRun: false,
  });
  assert.equal(hook.exitCode, 0);
  assert.deepEqual(hookRunner.unused(), [], 'exec ran: epoch 1 of the new Sentinels is a new failover');
  assert.deepEqual(readActedEpoch(dir, 'mymaster'), { epoch: 1, ip: OTHER, port: 6379, ids: NEW_IDS });
  // And it is done for them now: a reconcile of the same failover runs nothing.
  const quiet = await reconcileMaster(
    'mymaster',
    config(dir),
    fakeDeps({ runner: new FakeRunner([]), askSentinel: ask, addresses: [ME] }),
    opts(),
  );
  assert.equal(quiet.outcome, 'nothing-to-do');
});

test('the same Sentinels answering an older epoch: refused while a failover could be under way, followed once that outlasts the failover-timeout', async (t) => {
  const dir = tempDir(t);
  recordActedEpoch(dir, 'mymaster', { epoch: 8, ip: ME, port: 6379, ids: OLD_IDS });
  const ask = sentinelsSay(OTHER, 7, OLD_IDS, 300);
  const refused = await reconcileMaster(
    'mymaster',
    config(dir),
    fakeDeps({ runner: new FakeRunner([]), askSentinel: ask, addresses: [ME] }),
    opts(),
  );
  assert.equal(refused.outcome, 'older-epoch');
  assert.equal(refused.code, 'epoch-older');
  assert.equal(refused.exitCode, 1);
  // One id in common is the same set of Sentinels (one replaced): still refused.
  const partly = await reconcileMaster(
    'mymaster',
    config(dir),
    fakeDeps({
      runner: new FakeRunner([]),
      askSentinel: sentinelsSay(OTHER, 7, [OLD_IDS[0]!, ...NEW_IDS.slice(1)], 300),
      addresses: [ME],
    }),
    opts(),
  );
  assert.equal(partly.outcome, 'older-epoch');
  // No failover lasts longer than its failover-timeout (300 ms here): after it, the answer is the truth.
  await new Promise((r) => setTimeout(r, 450));
  const runner = new FakeRunner([{ argv: [MOVE, OTHER] }]);
  const deps = fakeDeps({ runner, askSentinel: ask, addresses: [ME] });
  const followed = await reconcileMaster('mymaster', config(dir), deps, opts());
  assert.equal(followed.outcome, 'converged', followed.reason);
  assert.ok(deps.logger.records.some((rec) => rec.code === 'epoch-older-outlasted' && rec.level === 'warn'));
  assert.equal(readActedEpoch(dir, 'mymaster')?.epoch, 7);
});

test('one foreign Sentinel (another deployment, a new id) beside the known ones is no rebuild: the older answer is still refused', async (t) => {
  const dir = tempDir(t);
  recordActedEpoch(dir, 'mymaster', { epoch: 8, ip: ME, port: 6379, ids: OLD_IDS });
  // The known two name epoch 7 (a failover under way); the foreign one says epoch 1 with an id never seen.
  const ask: AskSentinel = async (address) =>
    address === SENTINELS[0]
      ? { address, master: { ip: OTHER, port: 6379 }, epoch: 1, id: NEW_IDS[0]! }
      : { address, master: { ip: OTHER, port: 6379 }, epoch: 7, id: OLD_IDS[SENTINELS.indexOf(address)]! };
  const r = await reconcileMaster(
    'mymaster',
    config(dir),
    fakeDeps({ runner: new FakeRunner([]), askSentinel: ask, addresses: [ME] }),
    opts(),
  );
  assert.equal(r.outcome, 'older-epoch');
  assert.equal(readActedEpoch(dir, 'mymaster')?.epoch, 8);
});

test('forget: the records of one master go (a way out for the operator); the next reconcile follows the Sentinels as on a new host', async (t) => {
  const dir = tempDir(t);
  recordActedEpoch(dir, 'mymaster', { epoch: 8, ip: ME, port: 6379 });
  markOnce(dir, 'mymaster', 'exec#0', 8);
  recordActedEpoch(dir, 'other', { epoch: 3, ip: ME, port: 6379 });
  const path = join(dir, 'config.json');
  writeFileSync(
    path,
    JSON.stringify({
      lockDir: dir,
      sentinels: { addresses: SENTINELS },
      masters: { mymaster: [{ type: 'exec', run: [MOVE] }], other: [{ type: 'exec', run: [MOVE] }] },
    }),
    { mode: 0o600 },
  );
  const text = await forgetCommand(path, 'mymaster');
  assert.match(text, /^forgot master mymaster on this host: 2 record\(s\) removed$/m);
  assert.equal(readActedEpoch(dir, 'mymaster'), undefined);
  assert.equal(existsSync(join(dir, 'mymaster.exec#0.done')), false);
  assert.equal(readActedEpoch(dir, 'other')?.epoch, 3, "another master's records stay");
  await assert.rejects(forgetCommand(path, 'nosuch'), /no master "nosuch" in the config/);
});

test('the pause and the records live in the state directory: a reboot (the runtime directory wiped) keeps the host paused; records an older version left in the lock directory move over', async (t) => {
  const dir = tempDir(t);
  const lockDir = join(dir, 'run');
  const stateDir = join(dir, 'lib');
  mkdirSync(lockDir, { mode: 0o700 });
  // What an older version left on /run: a pause and an epoch record.
  writeFileSync(join(lockDir, 'paused'), 'yesterday by root: kernel upgrade\n', { mode: 0o644 });
  writeFileSync(join(lockDir, 'mymaster.epoch'), '5 192.168.0.2 6379\n', { mode: 0o644 });
  assert.equal(prepareStateDir(stateDir, lockDir, process.getuid?.() ?? 0), undefined);
  assert.equal(readFileSync(join(stateDir, 'paused'), 'utf8'), 'yesterday by root: kernel upgrade\n');
  assert.equal(readActedEpoch(stateDir, 'mymaster')?.epoch, 5);
  assert.equal(existsSync(join(lockDir, 'paused')), false);
  // A reboot empties /run: the pause is still there, and a reconcile there only plans.
  rmSync(lockDir, { recursive: true, force: true });
  mkdirSync(lockDir, { mode: 0o700 });
  assert.match(pausedBecause(stateDir) ?? '', /kernel upgrade/);
  const cfg = config(lockDir, { stateDir });
  const r = await reconcileMaster(
    'mymaster',
    cfg,
    fakeDeps({ runner: new FakeRunner([]), askSentinel: sentinelsSay(OTHER, 6, OLD_IDS), addresses: [ME] }),
    opts(),
  );
  assert.equal(r.outcome, 'dry-run');
  assert.match(r.paused ?? '', /kernel upgrade/);
  assert.equal(readActedEpoch(stateDir, 'mymaster')?.epoch, 5, 'nothing recorded while paused');
});

test('a stale Sentinel call on a paused host plans its convergence and changes nothing (the state intent is pausable)', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'paused'), 'maintenance\n', { mode: 0o644 });
  // The event names ME; the Sentinels name OTHER: stale. Converging would run the exec for OTHER.
  const event = parseEvent(['mymaster', 'leader', 'start', OTHER, '6379', ME, '6379']);
  const runner = new FakeRunner([]);
  const r = await runHook(
    event,
    config(dir),
    fakeDeps({ runner, askSentinel: sentinelsSay(OTHER, 4, OLD_IDS), addresses: [ME] }),
    { dryRun: false },
  );
  assert.equal(r.outcome, 'stale');
  assert.equal(r.converged?.outcome, 'dry-run');
  assert.match(r.paused ?? '', /maintenance/);
  assert.deepEqual(runner.calls, []);
});

test('one failover seen by two members of the group (watch confirmed by one Sentinel, the hook by another): exec runs once', async (t) => {
  const dir = tempDir(t);
  // What watch's start reconcile learnt: the three Sentinels' ids, at epoch 0.
  recordActedEpoch(dir, 'mymaster', { epoch: 0, ip: ME, port: 6379, ids: OLD_IDS });
  // watch's fast path: the announcing Sentinel alone confirms epoch 1.
  const byWatch = new FakeRunner([{ argv: [MOVE, OTHER] }]);
  const one = { address: SENTINELS[0]!, master: { ip: OTHER, port: 6379 }, epoch: 1, id: OLD_IDS[0]! };
  const watched = await reconcileMaster('mymaster', config(dir), fakeDeps({ runner: byWatch, addresses: [ME] }), {
    ...opts(),
    announce: true,
    claim: true,
    decision: { clear: true, state: { ip: OTHER, port: 6379, epoch: 1, ids: [OLD_IDS[0]!] }, answers: [one] },
  });
  assert.equal(watched.outcome, 'converged');
  assert.deepEqual(byWatch.unused(), []);
  // The hook's question is confirmed first by the second Sentinel (the others are not waited for).
  const ask: AskSentinel = async (address) =>
    address === SENTINELS[1]
      ? { address, master: { ip: OTHER, port: 6379 }, epoch: 1, id: OLD_IDS[1]! }
      : { address, error: 'not waited for: another Sentinel confirmed' };
  const byHook = new FakeRunner([]);
  const event = parseEvent(['mymaster', 'observer', 'start', ME, '6379', OTHER, '6379']);
  const hook = await runHook(event, config(dir), fakeDeps({ runner: byHook, askSentinel: ask, addresses: [ME] }), {
    dryRun: false,
  });
  assert.equal(hook.exitCode, 0);
  assert.deepEqual(byHook.calls, [], 'exec did not run a second time for the same failover');
  assert.match(hook.plans[0]!.note ?? '', /already ran on this host for this failover/);
});
