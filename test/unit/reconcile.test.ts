// reconcile: what the Sentinels say each master is (address and config epoch), a clear answer or
// nothing, never back to an older epoch, then the hook's own planners with that master as the
// target. And the pipeline under it running several events in one process. Fakes: Sentinels that
// answer what the test says, a runner that fails on any command it was not told to expect.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { validateConfig } from '../../src/config/load.ts';
import { parseEvent } from '../../src/event.ts';
import { reconcileMaster, runHook } from '../../src/pipeline/run.ts';
import type { CommandResult, RunOptions } from '../../src/runner.ts';
import type { AskSentinel, SentinelAnswer } from '../../src/sentinel/client.ts';
import { decideMaster } from '../../src/sentinel/decide.ts';
import { readActedEpoch, recordActedEpoch } from '../../src/state/epoch.ts';
import { addressesFollowingIp, type Expectation, FakeRunner, fakeDeps } from '../support/fakes.ts';
import { addrJson, IPUTILS_V } from './vip-samples.ts';

const IP = '/usr/sbin/ip';
const ARPING = '/usr/bin/arping';
const SUDO = '/usr/bin/sudo';
const PROGRAMS = { ip: IP, arping: ARPING, sudo: SUDO };
const SENTINELS = ['192.168.0.1:26379', '192.168.0.2:26379', '192.168.0.3:26379'];
const ME = '192.168.0.3';
const VIP = '192.168.0.4';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'sh-reconcile-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function config(
  lockDir: string,
  actions: unknown[] = [
    { type: 'vip', address: `${VIP}/24`, interface: 'eth0', arp: { count: 1, interval: '10ms', repeatAfter: 0 } },
  ],
) {
  return validateConfig(
    { lockDir, sentinels: { addresses: SENTINELS, settle: 0 }, masters: { mymaster: actions } },
    'test.yaml',
  );
}

/** Each Sentinel's answer: [ip, epoch], or undefined for one that does not answer. */
function sentinelsSay(answers: ([string, number] | undefined)[]): AskSentinel {
  return async (address) => {
    const a = answers[SENTINELS.indexOf(address)];
    return a ? { address, master: { ip: a[0], port: 6379 }, epoch: a[1] } : { address, error: 'connect ECONNREFUSED' };
  };
}

const withVip = addrJson([
  {
    ifname: 'eth0',
    addrs: [
      { family: 'inet', local: ME, prefixlen: 24 },
      { family: 'inet', local: VIP, prefixlen: 24 },
    ],
  },
]);
const sudo = (argv: string[], times = 1): Expectation => ({ argv: [SUDO, '-n', ...argv], times });
const opts = (over: Partial<Parameters<typeof reconcileMaster>[3]> = {}) => ({
  dryRun: false,
  announce: false,
  signal: AbortSignal.timeout(20_000),
  remainingMs: () => 20_000,
  ...over,
});

const answer = (address: string, ip: string, epoch: number): SentinelAnswer => ({
  address,
  master: { ip, port: 6379 },
  epoch,
});

test('decideMaster: a majority of the configured Sentinels must answer, and the newest epoch must name one master', () => {
  const a = answer('s1', '10.0.0.1', 5);
  const b = answer('s2', '10.0.0.1', 5);
  const c = answer('s3', '10.0.0.2', 6);
  const down: SentinelAnswer = { address: 's3', error: 'timeout' };
  assert.deepEqual(decideMaster([a, b, down], 3), {
    clear: true,
    state: { ip: '10.0.0.1', port: 6379, epoch: 5 },
    answers: [a, b, down],
  });
  // Between the leader's promotion and the others' switch: the newest epoch wins, not the majority.
  assert.equal((decideMaster([a, b, c], 3) as { state: { ip: string } }).state.ip, '10.0.0.2');
  assert.match(
    (decideMaster([a, down, { address: 's2', error: 'x' }], 3) as { reason: string }).reason,
    /1 of 3 Sentinels answered .* 2 needed/,
  );
  assert.match(
    (decideMaster([answer('s1', '10.0.0.1', 6), b, c], 3) as { reason: string }).reason,
    /at config epoch 6 name different masters/,
  );
  // An answer without its epoch (an old Sentinel) does not count.
  assert.equal(decideMaster([{ address: 's1', master: { ip: '10.0.0.1', port: 6379 } }, b, down], 3).clear, false);
});

test('a host that missed a failover and still holds the VIP: reconcile removes it and records the epoch; run again: nothing to do', async (t) => {
  const lockDir = tempDir(t);
  const runner = new FakeRunner([
    { argv: [IP, '-j', '-4', 'addr', 'show'], result: { stdout: withVip } },
    sudo([IP, 'addr', 'del', `${VIP}/24`, 'dev', 'eth0']),
  ]);
  const deps = fakeDeps({
    runner,
    programs: PROGRAMS,
    askSentinel: sentinelsSay([['192.168.0.2', 4], ['192.168.0.2', 4], undefined]),
    localAddresses: addressesFollowingIp(runner, [ME, VIP]),
  });
  const first = await reconcileMaster('mymaster', config(lockDir), deps, opts());
  assert.equal(first.outcome, 'converged', first.reason);
  assert.equal(first.exitCode, 0);
  assert.deepEqual(runner.unused(), []);
  assert.ok(!deps.localAddresses().has(VIP));
  assert.deepEqual(readActedEpoch(lockDir, 'mymaster'), { epoch: 4, ip: '192.168.0.2', port: 6379 });
  const again = new FakeRunner([
    {
      argv: [IP, '-j', '-4', 'addr', 'show'],
      result: { stdout: addrJson([{ ifname: 'eth0', addrs: [{ family: 'inet', local: ME, prefixlen: 24 }] }]) },
    },
  ]);
  const second = await reconcileMaster(
    'mymaster',
    config(lockDir),
    { ...deps, runner: again, localAddresses: () => new Set([ME]) },
    opts(),
  );
  assert.equal(second.outcome, 'nothing-to-do');
  assert.deepEqual(again.unused(), []);
});

test('the new master holding its VIP already: nothing to do, no ARP (a refresh only with announce); missing it: added and announced', async (t) => {
  const lockDir = tempDir(t);
  const ask = sentinelsSay([
    [ME, 2],
    [ME, 2],
    [ME, 2],
  ]);
  const held = new FakeRunner([{ argv: [IP, '-j', '-4', 'addr', 'show'], result: { stdout: withVip } }]);
  const quiet = await reconcileMaster(
    'mymaster',
    config(lockDir),
    fakeDeps({ runner: held, programs: PROGRAMS, askSentinel: ask, addresses: [ME, VIP] }),
    opts(),
  );
  assert.equal(quiet.outcome, 'nothing-to-do');
  assert.deepEqual(held.unused(), []);
  const refresh = new FakeRunner([
    { argv: [ARPING, '-V'], result: { stdout: IPUTILS_V } },
    { argv: [IP, '-j', '-4', 'addr', 'show'], result: { stdout: withVip } },
    sudo([ARPING, '-q', '-U', '-c', '1', '-I', 'eth0', VIP]),
    sudo([ARPING, '-q', '-A', '-c', '1', '-I', 'eth0', VIP]),
  ]);
  const announced = await reconcileMaster(
    'mymaster',
    config(lockDir),
    fakeDeps({ runner: refresh, programs: PROGRAMS, askSentinel: ask, addresses: [ME, VIP] }),
    opts({ announce: true }),
  );
  assert.equal(announced.outcome, 'converged', JSON.stringify(announced.steps));
  assert.deepEqual(refresh.unused(), []);
  const missing = new FakeRunner([
    { argv: [ARPING, '-V'], result: { stdout: IPUTILS_V } },
    sudo([IP, 'addr', 'add', `${VIP}/24`, 'dev', 'eth0']),
    sudo([ARPING, '-q', '-U', '-c', '1', '-I', 'eth0', VIP]),
    sudo([ARPING, '-q', '-A', '-c', '1', '-I', 'eth0', VIP]),
  ]);
  const added = await reconcileMaster(
    'mymaster',
    config(tempDir(t)),
    fakeDeps({
      runner: missing,
      programs: PROGRAMS,
      askSentinel: ask,
      localAddresses: addressesFollowingIp(missing, [ME]),
    }),
    opts(),
  );
  assert.equal(added.outcome, 'converged');
  assert.deepEqual(missing.unused(), []);
});

test('no clear answer (too few answer, or the newest epoch names two masters): nothing runs, exit 1, and it says what each said', async (t) => {
  for (const answers of [
    [['192.168.0.2', 4], undefined, undefined],
    [
      ['192.168.0.2', 5],
      ['192.168.0.1', 5],
      ['192.168.0.2', 4],
    ],
  ] as ([string, number] | undefined)[][]) {
    const runner = new FakeRunner([]);
    const r = await reconcileMaster(
      'mymaster',
      config(tempDir(t)),
      fakeDeps({ runner, programs: PROGRAMS, askSentinel: sentinelsSay(answers), addresses: [ME, VIP] }),
      opts(),
    );
    assert.equal(r.outcome, 'unsure');
    assert.equal(r.exitCode, 1);
    assert.equal(r.answers.length, 3);
    assert.equal(runner.calls.length, 0);
  }
});

test('never back to an older epoch: after this host acted on epoch 8, a majority still naming epoch 7 changes nothing (a failover under way)', async (t) => {
  const lockDir = tempDir(t);
  recordActedEpoch(lockDir, 'mymaster', { epoch: 8, ip: ME, port: 6379 });
  const runner = new FakeRunner([]);
  const r = await reconcileMaster(
    'mymaster',
    config(lockDir),
    fakeDeps({
      runner,
      programs: PROGRAMS,
      askSentinel: sentinelsSay([['192.168.0.1', 7], ['192.168.0.1', 7], undefined]),
      addresses: [ME, VIP],
    }),
    opts(),
  );
  assert.equal(r.outcome, 'older-epoch');
  assert.equal(r.exitCode, 1);
  assert.match(r.reason ?? '', /config epoch 7.*older than epoch 8/);
  assert.equal(runner.calls.length, 0, 'the VIP was not touched');
  assert.equal(readActedEpoch(lockDir, 'mymaster')?.epoch, 8);
});

test('exec: not run by reconcile unless it opts in; then once per failover, whichever process of the host runs first (the hook skips it)', async (t) => {
  const lockDir = tempDir(t);
  const actions = [
    { type: 'exec', run: ['/bin/notify-team', '{toIp}'] },
    { type: 'exec', run: ['/bin/move-cloud-ip', '{toIp}'], reconcile: true },
  ];
  const ask = sentinelsSay([
    ['192.168.0.2', 9],
    ['192.168.0.2', 9],
    ['192.168.0.2', 9],
  ]);
  const runner = new FakeRunner([{ argv: ['/bin/move-cloud-ip', '192.168.0.2'] }]);
  const first = await reconcileMaster(
    'mymaster',
    config(lockDir, actions),
    fakeDeps({ runner, askSentinel: ask, addresses: [ME] }),
    opts(),
  );
  assert.equal(first.outcome, 'converged');
  assert.match(first.plans[0]!.note ?? '', /only with "reconcile: true"/);
  assert.deepEqual(runner.unused(), []);
  const second = await reconcileMaster(
    'mymaster',
    config(lockDir, actions),
    fakeDeps({ runner: new FakeRunner([]), askSentinel: ask, addresses: [ME] }),
    opts(),
  );
  assert.equal(second.outcome, 'nothing-to-do');
  assert.match(second.plans[1]!.note ?? '', /already ran on this host for this failover \(config epoch 9\)/);
  // The hook's call for that same failover (epoch 9) runs the first exec, not the one already done.
  const hookRunner = new FakeRunner([{ argv: ['/bin/notify-team', '192.168.0.2'] }]);
  const event = parseEvent(['mymaster', 'observer', 'start', ME, '6379', '192.168.0.2', '6379']);
  const hook = await runHook(
    event,
    config(lockDir, actions),
    fakeDeps({ runner: hookRunner, askSentinel: ask, addresses: [ME] }),
    { dryRun: false },
  );
  assert.equal(hook.exitCode, 0);
  assert.deepEqual(hookRunner.unused(), []);
  assert.equal(hookRunner.calls.length, 1);
});

test('the pipeline in one process: events for two masters run in parallel, two for one master one after the other', async (t) => {
  const lockDir = tempDir(t);
  const cfg = validateConfig(
    {
      lockDir,
      masters: {
        m1: [{ type: 'exec', run: ['/bin/work', '{master}'] }],
        m2: [{ type: 'exec', run: ['/bin/work', '{master}'] }],
      },
    },
    'test.yaml',
  );
  const spans: { master: string; from: number; to: number }[] = [];
  const t0 = performance.now();
  const runner = {
    run: async (argv: readonly string[], _o: RunOptions): Promise<CommandResult> => {
      const from = performance.now() - t0;
      await new Promise((r) => setTimeout(r, 150));
      spans.push({ master: argv[1]!, from, to: performance.now() - t0 });
      return {
        exitCode: 0,
        signal: undefined,
        stdout: '',
        stderr: '',
        durationMs: 150,
        timedOut: false,
        spawnError: undefined,
      };
    },
  };
  const deps = fakeDeps({ runner, addresses: ['10.0.0.2'] });
  const ev = (master: string, to: string) => parseEvent([master, 'leader', 'start', '10.0.0.1', '6379', to, '6379']);
  const results = await Promise.all([
    runHook(ev('m1', '10.0.0.2'), cfg, deps, { dryRun: false }),
    runHook(ev('m2', '10.0.0.2'), cfg, deps, { dryRun: false }),
  ]);
  assert.deepEqual(
    results.map((r) => r.exitCode),
    [0, 0],
  );
  const [a, b] = [spans.find((s) => s.master === 'm1')!, spans.find((s) => s.master === 'm2')!];
  assert.ok(a.from < b.to && b.from < a.to, `two masters must overlap: ${JSON.stringify(spans)}`);
  spans.length = 0;
  const same = await Promise.all([
    runHook(ev('m1', '10.0.0.2'), cfg, deps, { dryRun: false }),
    runHook(ev('m1', '10.0.0.3'), cfg, deps, { dryRun: false }),
  ]);
  assert.deepEqual(
    same.map((r) => r.exitCode),
    [0, 0],
  );
  const ordered = [...spans].sort((x, y) => x.from - y.from);
  for (let i = 1; i < ordered.length; i++)
    assert.ok(ordered[i]!.from >= ordered[i - 1]!.to, `one master's runs must not overlap: ${JSON.stringify(spans)}`);
});

// Issue 15 §5.8: a dry-run or a paused reconcile that finds the host wrong must not exit 0, or no
// monitor can tell "right" from "would change"; nor 1 or 2, which say the run itself went wrong.
test('exit code over the masters: 4 when a dry-run or a paused run found work it did not do, 0 when it found none; a failure or a stop outranks it', async (t) => {
  const { reconcileExitCode } = await import('../../src/commands/reconcile.ts');
  const { writePause } = await import('../../src/state/pause.ts');
  const lockDir = tempDir(t);
  // This host still holds the VIP; the Sentinels name another host: a run would remove it.
  const wrongHere = () => {
    const runner = new FakeRunner([{ argv: [IP, '-j', '-4', 'addr', 'show'], result: { stdout: withVip } }]);
    return fakeDeps({
      runner,
      programs: PROGRAMS,
      askSentinel: sentinelsSay([['192.168.0.2', 4], ['192.168.0.2', 4], undefined]),
      addresses: [ME, VIP],
    });
  };
  const rightHere = () => {
    const runner = new FakeRunner([
      {
        argv: [IP, '-j', '-4', 'addr', 'show'],
        result: { stdout: addrJson([{ ifname: 'eth0', addrs: [{ family: 'inet', local: ME, prefixlen: 24 }] }]) },
      },
    ]);
    return fakeDeps({
      runner,
      programs: PROGRAMS,
      askSentinel: sentinelsSay([['192.168.0.2', 4], ['192.168.0.2', 4], undefined]),
      addresses: [ME],
    });
  };
  const wouldChange = await reconcileMaster('mymaster', config(lockDir), wrongHere(), opts({ dryRun: true }));
  assert.equal(wouldChange.outcome, 'dry-run');
  assert.equal(reconcileExitCode([wouldChange], false), 4);
  const inLine = await reconcileMaster('mymaster', config(lockDir), rightHere(), opts({ dryRun: true }));
  assert.equal(reconcileExitCode([inLine], false), 0);
  assert.equal(reconcileExitCode([inLine, wouldChange], false), 4);

  writePause(lockDir, 'test: maintenance');
  const paused = await reconcileMaster('mymaster', config(lockDir), wrongHere(), opts());
  assert.match(paused.paused ?? '', /maintenance/);
  assert.equal(reconcileExitCode([paused], false), 4);
  const pausedInLine = await reconcileMaster('mymaster', config(lockDir), rightHere(), opts());
  assert.equal(reconcileExitCode([pausedInLine], false), 0);

  // The run itself went wrong: that is what the exit code says (1 retry, 2 never), "would change" or not.
  const failed = { ...inLine, outcome: 'failed' as const, exitCode: 1 as const };
  const refused = { ...inLine, outcome: 'failed' as const, exitCode: 2 as const };
  assert.equal(reconcileExitCode([wouldChange, failed], false), 1);
  assert.equal(reconcileExitCode([wouldChange, refused], false), 2);
  // Stopped by a signal halfway: what is left is for a later run.
  assert.equal(reconcileExitCode([wouldChange], true), 1);
  assert.equal(reconcileExitCode([inLine], true), 1);
});

// Issue 15 §3: at boot a peer is often still down (after a power cut, say). The boot reconcile
// (`reconcile --boot`, the unit's) must not fail its unit for that: an unclear answer, or one older
// than this host acted on, is exit 0 with one warning line (watch, starting too, converges once the
// Sentinels agree). A run that went wrong keeps its exit code.
test('reconcile --boot: unsure, older-epoch and a pause exit 0 with one warning line; a failed step keeps 1, a config error 2, a stop 1', async (t) => {
  const { bootWarning, reconcileExitCode } = await import('../../src/commands/reconcile.ts');
  const unsure = await reconcileMaster(
    'mymaster',
    config(tempDir(t)),
    fakeDeps({
      runner: new FakeRunner([]),
      programs: PROGRAMS,
      askSentinel: sentinelsSay([[ME, 4], undefined, undefined]),
      addresses: [ME],
    }),
    opts(),
  );
  assert.equal(unsure.outcome, 'unsure');
  const acted = tempDir(t);
  recordActedEpoch(acted, 'mymaster', { epoch: 8, ip: ME, port: 6379 });
  const older = await reconcileMaster(
    'mymaster',
    config(acted),
    fakeDeps({
      runner: new FakeRunner([]),
      programs: PROGRAMS,
      askSentinel: sentinelsSay([['192.168.0.1', 7], ['192.168.0.1', 7], undefined]),
      addresses: [ME],
    }),
    opts(),
  );
  assert.equal(older.outcome, 'older-epoch');
  const refusing = new FakeRunner([
    { argv: [ARPING, '-V'], result: { stdout: IPUTILS_V } },
    {
      ...sudo([IP, 'addr', 'add', `${VIP}/24`, 'dev', 'eth0']),
      result: { exitCode: 1, stderr: 'sudo: a password is required' },
    },
  ]);
  const failed = await reconcileMaster(
    'mymaster',
    config(tempDir(t)),
    fakeDeps({
      runner: refusing,
      programs: PROGRAMS,
      askSentinel: sentinelsSay([[ME, 4], [ME, 4], undefined]),
      localAddresses: addressesFollowingIp(refusing, [ME]),
    }),
    opts(),
  );
  assert.equal(failed.outcome, 'failed');
  assert.equal(failed.exitCode, 1);

  // By hand, as before: 1 for each.
  assert.equal(reconcileExitCode([unsure], false), 1);
  assert.equal(reconcileExitCode([older], false), 1);
  assert.equal(bootWarning([unsure, older], false), undefined);
  // At boot: 0, and one line naming each master left as it was, and why.
  assert.equal(reconcileExitCode([unsure], false, true), 0);
  assert.equal(reconcileExitCode([unsure, older], false, true), 0);
  const warning = bootWarning([unsure, older], true) ?? '';
  assert.equal(warning.split('\n').length, 1, warning);
  assert.match(
    warning,
    /mymaster: 1 of 3 Sentinels answered.*mymaster: the Sentinels' newest answer .* older than epoch 8/,
  );
  assert.match(warning, /watch converges/);
  // What went wrong keeps its code, at boot too.
  assert.equal(reconcileExitCode([unsure, failed], false, true), 1);
  assert.equal(reconcileExitCode([unsure, { ...failed, exitCode: 2 }], false, true), 2);
  assert.equal(reconcileExitCode([unsure], true, true), 1);
  assert.equal(bootWarning([failed], true), undefined);
  // A pause kept across the reboot, with the host out of line: 4 by hand, at boot 0 and said so.
  const { writePause } = await import('../../src/state/pause.ts');
  const pausedDir = tempDir(t);
  writePause(pausedDir, 'test: maintenance');
  const paused = await reconcileMaster(
    'mymaster',
    config(pausedDir),
    fakeDeps({
      runner: new FakeRunner([{ argv: [ARPING, '-V'], result: { stdout: IPUTILS_V } }]),
      programs: PROGRAMS,
      askSentinel: sentinelsSay([[ME, 4], [ME, 4], undefined]),
      addresses: [ME],
    }),
    opts(),
  );
  assert.equal(reconcileExitCode([paused], false), 4);
  assert.equal(reconcileExitCode([paused], false, true), 0);
  assert.match(bootWarning([paused], true) ?? '', /mymaster: paused \(.*test: maintenance\)/);
});
