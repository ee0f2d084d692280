// A newer event for a master supersedes an older run on the same host (issue: double failover). The
// older run's pending work (its second ARP burst above all) must never announce an address this host
// no longer should hold, must not hold the newer run back, and ends with exit 0. Fakes: a runner that
// fails on any command it was not told to expect, a host whose addresses follow the fake `ip addr`.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { validateConfig } from '../../src/config/load.ts';
import { parseEvent } from '../../src/event.ts';
import { runHook } from '../../src/pipeline/run.ts';
import type { CommandResult, CommandRunner, RunOptions } from '../../src/runner.ts';
import type { AskSentinel } from '../../src/sentinel/client.ts';
import { claimGeneration, observeGeneration } from '../../src/state/generation.ts';
import { addressesFollowingIp, type Expectation, FakeRunner, fakeDeps } from '../support/fakes.ts';
import { addrJson, IPUTILS_V } from './vip-samples.ts';

const IP = '/usr/sbin/ip';
const ARPING = '/usr/bin/arping';
const SUDO = '/usr/bin/sudo';
const PROGRAMS = { ip: IP, arping: ARPING, sudo: SUDO };
// This host is n3 (192.168.0.3). First event: n1 -> n3 (this host becomes master); second: n3 -> n2.
const ME = '192.168.0.3';
const VIP = '192.168.0.4';
const toMe = parseEvent(['mymaster', 'leader', 'start', '192.168.0.1', '6379', ME, '6379']);
const awayFromMe = parseEvent(['mymaster', 'observer', 'start', ME, '6379', '192.168.0.2', '6379']);
const SENTINELS = ['192.168.0.1:26379', '192.168.0.2:26379', '192.168.0.3:26379'];

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'sh-supersede-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function config(lockDir: string, arp: Record<string, unknown>, top: Record<string, unknown> = {}) {
  return validateConfig(
    { lockDir, ...top, masters: { mymaster: [{ type: 'vip', address: `${VIP}/24`, interface: 'eth0', arp }] } },
    'test.yaml',
  );
}

const withoutVip = addrJson([{ ifname: 'eth0', addrs: [{ family: 'inet', local: ME, prefixlen: 24 }] }]);
const withVip = addrJson([
  {
    ifname: 'eth0',
    addrs: [
      { family: 'inet', local: ME, prefixlen: 24 },
      { family: 'inet', local: VIP, prefixlen: 24 },
    ],
  },
]);
const sudo = (argv: string[], result: Expectation['result'] = {}, times = 1): Expectation => ({
  argv: [SUDO, '-n', ...argv],
  result,
  times,
});
const garp = (mode: '-U' | '-A', times: number, result: Expectation['result'] = {}) =>
  sudo([ARPING, '-q', mode, '-c', '1', '-I', 'eth0', VIP], result, times);
const add = sudo([IP, 'addr', 'add', `${VIP}/24`, 'dev', 'eth0']);
const del = sudo([IP, 'addr', 'del', `${VIP}/24`, 'dev', 'eth0']);
/** What a burst runs to confirm that an address missing from the interface list is really gone. */
const confirm = (stdout: string, times = 1): Expectation => ({
  argv: [IP, '-j', 'addr', 'show'],
  result: { stdout },
  times,
});

/** Every call with the time it started, relative to `t0`. */
class TimedRunner implements CommandRunner {
  readonly log: { at: number; argv: string[] }[] = [];
  constructor(
    private readonly inner: CommandRunner,
    private readonly t0 = performance.now(),
  ) {}
  run(argv: readonly string[], opts: RunOptions): Promise<CommandResult> {
    this.log.push({ at: performance.now() - this.t0, argv: [...argv] });
    return this.inner.run(argv, opts);
  }
}

test('a newer event starts while the older run waits for its second burst: the older run stops at once, sends nothing more, exits 0', async (t) => {
  const lockDir = tempDir(t);
  // One fake host shared by both runs: the older one adds the VIP, the newer one removes it.
  const runner = new FakeRunner([
    { argv: [ARPING, '-V'], result: { stdout: IPUTILS_V } },
    add,
    garp('-U', 1),
    garp('-A', 1),
    { argv: [IP, '-j', '-4', 'addr', 'show'], result: { stdout: withVip } },
    del,
  ]);
  const timed = new TimedRunner(runner);
  const deps = fakeDeps({
    runner: timed,
    programs: PROGRAMS,
    localAddresses: addressesFollowingIp(runner, ['127.0.0.1', ME]),
  });
  const cfg = config(lockDir, { count: 1, interval: '10ms', repeatAfter: '3s' });
  const older = runHook(toMe, cfg, deps, { dryRun: false });
  // The first burst is done once both of its shots ran.
  for (let i = 0; i < 200 && runner.calls.filter((c) => c.argv.includes(ARPING)).length < 2; i++)
    await new Promise((r) => setTimeout(r, 5));
  const newerStart = performance.now();
  const newer = await runHook(awayFromMe, cfg, deps, { dryRun: false });
  const newerMs = performance.now() - newerStart;
  const old = await older;

  assert.equal(newer.exitCode, 0);
  assert.equal(newer.outcome, 'applied');
  assert.deepEqual(runner.unused(), [], 'the newer run removed the VIP');
  // What the user cares about: the VIP is gone from this host and the older run sent nothing after that.
  assert.ok(!deps.localAddresses().has(VIP));
  const removedAt = timed.log.findIndex((c) => c.argv.includes('del'));
  assert.deepEqual(timed.log.slice(removedAt + 1), [], 'nothing ran after the VIP was removed');
  assert.equal(old.exitCode, 0, 'a superseded run is not a failure: Sentinel must not retry it');
  assert.equal(old.outcome, 'superseded');
  // Not held back by the pending burst (3 s): the newer run took the lock as soon as the older let go.
  assert.ok(newerMs < 1500, `the newer run took ${Math.round(newerMs)} ms; the older run's pending burst held it back`);
  assert.ok(
    deps.logger.records.some((r) =>
      /superseded: a newer event for this master started on this host/.test(String(r.msg)),
    ),
  );
});

test('the address disappears during a burst (removed by hand, a network restart): the remaining shots are left out, exit 0', async (t) => {
  const lockDir = tempDir(t);
  // Once gone, ip confirms it: once for the rest of the first burst, once before the second.
  const runner = new FakeRunner([
    { argv: [ARPING, '-V'], result: { stdout: IPUTILS_V } },
    add,
    garp('-U', 1),
    garp('-A', 1),
    confirm(withoutVip, 2),
  ]);
  let removed = false;
  const base = addressesFollowingIp(runner, ['127.0.0.1', ME]);
  const deps = fakeDeps({
    runner: {
      run: async (argv, opts) => {
        const r = await runner.run(argv, opts);
        // Gone after the first shot pair.
        if (argv.includes('-q')) removed = runner.calls.filter((c) => c.argv.includes('-q')).length >= 2;
        return r;
      },
    },
    programs: PROGRAMS,
    localAddresses: () => {
      const s = base();
      if (removed) s.delete(VIP);
      return s;
    },
  });
  const result = await runHook(toMe, config(lockDir, { count: 3, interval: '20ms', repeatAfter: '30ms' }), deps, {
    dryRun: false,
  });
  assert.equal(result.exitCode, 0, result.steps.map((s) => s.error).join('; '));
  assert.deepEqual(runner.unused(), []);
  assert.equal(
    runner.calls.filter((c) => c.argv.includes(ARPING) && c.argv.includes('-q')).length,
    2,
    'only the shots before the address went',
  );
  assert.match(
    result.steps.find((s) => s.description.startsWith('send gratuitous'))!.summary!,
    /stopped after 2 of 6 .*no longer on this host/,
  );
  assert.match(
    result.steps.find((s) => s.description.startsWith('send them again'))!.summary!,
    /not sent: 192\.168\.0\.4 is no longer on this host/,
  );
});

test('iputils arping exits 2 (Cannot assign requested address) because the address went meanwhile: not a failure, exit 0', async (t) => {
  const lockDir = tempDir(t);
  let gone = false;
  // The reply shot (-A) finds the address gone before it starts: the fake would throw if it ran.
  const runner = new FakeRunner([
    { argv: [ARPING, '-V'], result: { stdout: IPUTILS_V } },
    add,
    garp('-U', 1, { exitCode: 2, stderr: 'arping: bind: Cannot assign requested address' }),
    confirm(withoutVip),
  ]);
  const base = addressesFollowingIp(runner, ['127.0.0.1', ME]);
  const deps = fakeDeps({
    runner: {
      run: async (argv, opts) => {
        // The address goes while the shots run (between the check and the send).
        if (argv.includes('-q')) gone = true;
        return runner.run(argv, opts);
      },
    },
    programs: PROGRAMS,
    localAddresses: () => {
      const s = base();
      if (gone) s.delete(VIP);
      return s;
    },
  });
  const result = await runHook(toMe, config(lockDir, { count: 1, interval: '10ms', repeatAfter: 0 }), deps, {
    dryRun: false,
  });
  assert.equal(result.exitCode, 0, result.steps.map((s) => s.error).join('; '));
  assert.deepEqual(runner.unused(), []);
});

test('with sentinels: the second burst is left out when a majority of them no longer name this host master (a newer failover elsewhere)', async (t) => {
  const lockDir = tempDir(t);
  let secondFailover = false;
  const ask: AskSentinel = async (address) => ({
    address,
    master: { ip: secondFailover ? '192.168.0.2' : ME, port: 6379 },
  });
  const runner = new FakeRunner([
    { argv: [ARPING, '-V'], result: { stdout: IPUTILS_V } },
    add,
    garp('-U', 1),
    garp('-A', 1),
  ]);
  const deps = fakeDeps({
    runner: {
      run: async (argv, opts) => {
        const r = await runner.run(argv, opts);
        if (argv.includes('-A')) secondFailover = true;
        return r;
      },
    },
    programs: PROGRAMS,
    askSentinel: ask,
    localAddresses: addressesFollowingIp(runner, ['127.0.0.1', ME]),
  });
  const result = await runHook(
    toMe,
    config(
      lockDir,
      { count: 1, interval: '10ms', repeatAfter: '50ms' },
      { sentinels: { addresses: SENTINELS, settle: 0 } },
    ),
    deps,
    { dryRun: false },
  );
  assert.equal(result.exitCode, 0, result.steps.map((s) => s.error).join('; '));
  assert.deepEqual(
    runner.unused(),
    [],
    'the first burst went out, the second did not (the fake throws on a fourth arping)',
  );
  assert.match(
    result.steps.find((s) => s.description.startsWith('send them again'))!.summary!,
    /not sent: 0 of 3 Sentinels name this host master, 2 needed/,
  );
});

test('with sentinels still naming this host: the second burst goes out', async (t) => {
  const lockDir = tempDir(t);
  const ask: AskSentinel = async (address) => ({ address, master: { ip: ME, port: 6379 } });
  const runner = new FakeRunner([
    { argv: [ARPING, '-V'], result: { stdout: IPUTILS_V } },
    add,
    garp('-U', 2),
    garp('-A', 2),
  ]);
  const deps = fakeDeps({
    runner,
    programs: PROGRAMS,
    askSentinel: ask,
    localAddresses: addressesFollowingIp(runner, ['127.0.0.1', ME]),
  });
  const result = await runHook(
    toMe,
    config(
      lockDir,
      { count: 1, interval: '10ms', repeatAfter: '50ms' },
      { sentinels: { addresses: SENTINELS, settle: 0 } },
    ),
    deps,
    { dryRun: false },
  );
  assert.equal(result.exitCode, 0, result.steps.map((s) => s.error).join('; '));
  assert.deepEqual(runner.unused(), []);
});

test('a run waiting for the lock is superseded by a third event: it gives up at once with exit 0, not at its deadline with exit 1', async (t) => {
  const lockDir = tempDir(t);
  // The lock is held by a live owner (this process, another run): the waiter would wait its whole deadline.
  const { acquireLock } = await import('../../src/state/lock.ts');
  const held = await acquireLock(lockDir, 'mymaster', 1000);
  t.after(() => held.release());
  const deps = fakeDeps({ runner: new FakeRunner([]), programs: PROGRAMS, addresses: ['127.0.0.1', ME] });
  const started = performance.now();
  const waiting = runHook(
    awayFromMe,
    config(lockDir, { count: 1, interval: '10ms', repeatAfter: 0 }, { deadline: '20s' }),
    deps,
    { dryRun: false },
  );
  await new Promise((r) => setTimeout(r, 100));
  claimGeneration(lockDir, 'mymaster').stop();
  const result = await waiting;
  assert.equal(result.exitCode, 0);
  assert.equal(result.outcome, 'superseded');
  assert.ok(performance.now() - started < 5000);
});

test('generations: the newest run is the one on file, visible to another observer; a missing file supersedes nobody', (t) => {
  const lockDir = tempDir(t);
  const watcher = observeGeneration(lockDir, 'mymaster');
  assert.equal(watcher.superseded(), undefined, 'no generation yet: nothing to stop');
  const first = claimGeneration(lockDir, 'mymaster');
  assert.match(watcher.superseded() ?? '', /newer event/);
  assert.equal(first.superseded(), undefined);
  const second = claimGeneration(lockDir, 'mymaster');
  assert.match(first.superseded() ?? '', /newer event/);
  assert.ok(first.signal.aborted);
  assert.equal(second.superseded(), undefined);
  // Another master's generation is its own.
  const other = claimGeneration(lockDir, 'other');
  assert.equal(second.superseded(), undefined);
  assert.ok(existsSync(join(lockDir, 'mymaster.gen')));
  assert.notEqual(
    readFileSync(join(lockDir, 'mymaster.gen'), 'utf8'),
    readFileSync(join(lockDir, 'other.gen'), 'utf8'),
  );
  for (const g of [watcher, first, second, other]) g.stop();
});

test('with sentinels: a late retry of an overtaken event, arriving while the newer run waits for its second burst, is found stale first and stops nothing', async (t) => {
  const lockDir = tempDir(t);
  // The Sentinels name this host (the newer event n1 -> n3); the retry is of an older event that made 192.0.2.9 master.
  const ask: AskSentinel = async (address) => ({ address, master: { ip: ME, port: 6379 }, epoch: 3 });
  // The retry, stale, converges to what the Sentinels say once the newer run is done: the VIP is here
  // already (one look with ip), so nothing more.
  const runner = new FakeRunner([
    { argv: [ARPING, '-V'], result: { stdout: IPUTILS_V } },
    add,
    garp('-U', 2),
    garp('-A', 2),
    { argv: [IP, '-j', '-4', 'addr', 'show'], result: { stdout: withVip } },
  ]);
  const deps = fakeDeps({
    runner,
    programs: PROGRAMS,
    askSentinel: ask,
    localAddresses: addressesFollowingIp(runner, ['127.0.0.1', ME]),
  });
  const cfg = config(
    lockDir,
    { count: 1, interval: '10ms', repeatAfter: '400ms' },
    { sentinels: { addresses: SENTINELS, settle: 0 } },
  );
  const newer = runHook(toMe, cfg, deps, { dryRun: false });
  for (let i = 0; i < 200 && runner.calls.filter((c) => c.argv.includes('-q')).length < 2; i++)
    await new Promise((r) => setTimeout(r, 5));
  const lateRetry = parseEvent(['mymaster', 'observer', 'start', ME, '6379', '192.0.2.9', '6379']);
  const retry = await runHook(lateRetry, cfg, deps, { dryRun: false });
  const current = await newer;
  assert.equal(retry.outcome, 'stale');
  assert.equal(retry.exitCode, 0, JSON.stringify(retry.converged));
  assert.equal(retry.converged?.outcome, 'nothing-to-do');
  assert.equal(current.outcome, 'applied', 'the current event was not stopped by the stale retry');
  assert.deepEqual(runner.unused(), [], 'both bursts of the current event went out');
});

test("a FIFO or a link planted at the generation path (root shares the directory of Sentinel's user) is never waited on or followed", async (t) => {
  const lockDir = tempDir(t);
  const { spawnSync } = await import('node:child_process');
  const { symlinkSync, writeFileSync } = await import('node:fs');
  assert.equal(spawnSync('mkfifo', [join(lockDir, 'mymaster.gen')]).status, 0);
  const started = performance.now();
  const watcher = observeGeneration(lockDir, 'mymaster');
  assert.equal(watcher.superseded(), undefined, 'a FIFO is no generation');
  watcher.stop();
  const secret = join(lockDir, 'elsewhere');
  writeFileSync(secret, 'not a token\n');
  symlinkSync(secret, join(lockDir, 'other.gen'));
  const other = observeGeneration(lockDir, 'other');
  assert.equal(other.superseded(), undefined, 'a link is not followed');
  other.stop();
  // A run claims over either (rename replaces the entry itself).
  const claimed = claimGeneration(lockDir, 'mymaster');
  assert.equal(claimed.superseded(), undefined);
  claimed.stop();
  assert.ok(performance.now() - started < 2000, 'nothing blocked on the FIFO');
});

test('the interface list leaves out an interface without carrier: ip confirms the address is still there, and the burst goes on', async (t) => {
  const lockDir = tempDir(t);
  // os.networkInterfaces() never lists the VIP (a carrier blip); `ip -j addr` does.
  const runner = new FakeRunner([
    { argv: [ARPING, '-V'], result: { stdout: IPUTILS_V } },
    add,
    garp('-U', 2),
    garp('-A', 2),
    confirm(withVip, 3),
  ]);
  const deps = fakeDeps({ runner, programs: PROGRAMS, addresses: ['127.0.0.1', ME] });
  const result = await runHook(toMe, config(lockDir, { count: 2, interval: '20ms', repeatAfter: 0 }), deps, {
    dryRun: false,
  });
  assert.equal(result.exitCode, 0, result.steps.map((s) => s.error).join('; '));
  assert.deepEqual(runner.unused(), [], 'every shot went out');
  assert.match(
    result.steps.find((s) => s.description.startsWith('send gratuitous'))!.summary!,
    /4 packet-sending runs done/,
  );
});
