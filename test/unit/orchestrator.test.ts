import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { expand } from '../../src/actions/exec/index.ts';
import { validateConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/errors.ts';
import { parseEvent } from '../../src/event.ts';
import { runHook } from '../../src/pipeline/run.ts';
import { FakeRunner, fakeDeps } from '../support/fakes.ts';

const lockDir = mkdtempSync(join(tmpdir(), 'sh-orch-'));
test.after(() => rmSync(lockDir, { recursive: true, force: true }));

const leaderEvent = parseEvent(['mymaster', 'leader', 'start', '10.0.0.1', '6379', '10.0.0.2', '6380']);
const observerEvent = parseEvent(['mymaster', 'observer', 'start', '10.0.0.1', '6379', '10.0.0.2', '6380']);

function config(actions: unknown[], extra: Record<string, unknown> = {}) {
  return validateConfig({ lockDir, masters: { mymaster: actions }, ...extra }, 'test.yaml');
}

const ENV = {
  SENTINEL_HOOK_MASTER: 'mymaster',
  SENTINEL_HOOK_ROLE: 'leader',
  SENTINEL_HOOK_STATE: 'start',
  SENTINEL_HOOK_FROM_IP: '10.0.0.1',
  SENTINEL_HOOK_FROM_PORT: '6379',
  SENTINEL_HOOK_TO_IP: '10.0.0.2',
  SENTINEL_HOOK_TO_PORT: '6380',
};

test('placeholders fill whole arguments and never split them', () => {
  const values = {
    master: 'm',
    toIp: '10.0.0.2',
    toPort: '6380',
    fromIp: 'a b',
    role: 'leader',
    state: 's',
    fromPort: '1',
  };
  assert.deepEqual(
    expand(['/bin/x', '{master}', '{toIp}:{toPort}', 'from={fromIp}', '{toIp}{toIp}', 'literal'], values),
    ['/bin/x', 'm', '10.0.0.2:6380', 'from=a b', '10.0.0.210.0.0.2', 'literal'],
  );
});

test('exec runs the expanded argv with the event in SENTINEL_HOOK_* and exits 0', async () => {
  const runner = new FakeRunner([{ argv: ['/usr/local/bin/notify-team', 'mymaster', '10.0.0.2:6380'] }]);
  const result = await runHook(
    leaderEvent,
    config([{ type: 'exec', run: ['notify-team', '{master}', '{toIp}:{toPort}'], timeout: '3s' }]),
    fakeDeps({ runner, programs: { 'notify-team': '/usr/local/bin/notify-team' } }),
    { dryRun: false },
  );
  assert.equal(result.exitCode, 0);
  assert.equal(result.outcome, 'applied');
  assert.deepEqual(runner.unused(), []);
  assert.deepEqual(runner.calls[0]!.opts.env, ENV);
  assert.equal(runner.calls[0]!.opts.timeoutMs, 3000);
});

test('dry-run plans the same steps and runs nothing', async () => {
  const runner = new FakeRunner([]);
  const result = await runHook(
    leaderEvent,
    config([{ type: 'exec', run: ['/bin/echo', '{toIp}'] }]),
    fakeDeps({ runner }),
    { dryRun: true },
  );
  assert.equal(result.exitCode, 0);
  assert.equal(result.outcome, 'dry-run');
  const step = result.plans[0]!.steps[0]!;
  assert.equal(step.kind === 'command' && step.argv.join(' '), '/bin/echo 10.0.0.2');
  assert.equal(runner.calls.length, 0);
});

test("a child's own exit code never leaks: exit 7 becomes 1 (retry), and the next action still runs", async () => {
  const runner = new FakeRunner([
    { argv: ['/bin/false-ish'], result: { exitCode: 7, stderr: 'boom\nlast words' } },
    { argv: ['/bin/echo', 'after'] },
  ]);
  const result = await runHook(
    leaderEvent,
    config([
      { type: 'exec', run: ['/bin/false-ish'] },
      { type: 'exec', run: ['/bin/echo', 'after'] },
    ]),
    fakeDeps({ runner }),
    { dryRun: false },
  );
  assert.equal(result.exitCode, 1);
  assert.equal(result.outcome, 'failed');
  assert.deepEqual(
    result.steps.map((s) => s.ok),
    [false, true],
  );
  assert.match(result.steps[0]!.error!, /\/bin\/false-ish exited 7: last words/);
  assert.deepEqual(runner.unused(), []);
});

test('exit 2 from a child also becomes 1: Sentinel must not drop the event because a command failed', async () => {
  const runner = new FakeRunner([{ argv: ['/bin/two'], result: { exitCode: 2 } }]);
  const result = await runHook(leaderEvent, config([{ type: 'exec', run: ['/bin/two'] }]), fakeDeps({ runner }), {
    dryRun: false,
  });
  assert.equal(result.exitCode, 1);
});

test('a program that is not installed: exit 2 before anything runs', async () => {
  const runner = new FakeRunner([]);
  await assert.rejects(
    runHook(
      leaderEvent,
      config([
        { type: 'exec', run: ['/bin/echo', 'first'] },
        { type: 'exec', run: ['notify-team'] },
      ]),
      fakeDeps({ runner }),
      { dryRun: false },
    ),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.exitCode === 2 &&
      /program notify-team not found.*absolute path/.test(err.line()),
  );
  assert.equal(runner.calls.length, 0, 'nothing half-done');
});

test('when.role: leader-only actions are skipped on observers, and say why', async () => {
  const runner = new FakeRunner([{ argv: ['/bin/echo', 'all'] }]);
  const result = await runHook(
    observerEvent,
    config([
      { type: 'exec', run: ['/bin/echo', 'all'] },
      { type: 'exec', run: ['/bin/echo', 'leader'], when: { role: 'leader' } },
    ]),
    fakeDeps({ runner }),
    { dryRun: false },
  );
  assert.equal(result.exitCode, 0);
  assert.match(result.plans[1]!.note!, /skipped: when\.role is leader, this run is observer/);
  assert.deepEqual(runner.unused(), []);
});

test('when.host: new-master runs only where the to-ip is a local address; old-master where the from-ip is', async () => {
  const actions = [
    { type: 'exec', run: ['/bin/echo', 'new'], when: { host: 'new-master' } },
    { type: 'exec', run: ['/bin/echo', 'old'], when: { host: 'old-master' } },
  ];
  const onNew = new FakeRunner([{ argv: ['/bin/echo', 'new'] }]);
  await runHook(leaderEvent, config(actions), fakeDeps({ runner: onNew, addresses: ['127.0.0.1', '10.0.0.2'] }), {
    dryRun: false,
  });
  assert.deepEqual(onNew.unused(), []);
  const onOld = new FakeRunner([{ argv: ['/bin/echo', 'old'] }]);
  await runHook(leaderEvent, config(actions), fakeDeps({ runner: onOld, addresses: ['10.0.0.1'] }), { dryRun: false });
  assert.deepEqual(onOld.unused(), []);
  const elsewhere = new FakeRunner([]);
  const r = await runHook(leaderEvent, config(actions), fakeDeps({ runner: elsewhere, addresses: ['10.9.9.9'] }), {
    dryRun: false,
  });
  assert.equal(r.outcome, 'nothing-to-do');
  assert.equal(r.exitCode, 0);
});

test('host names from announce-hostnames are resolved to decide which host is the new master', async () => {
  const event = parseEvent(['mymaster', 'leader', 'start', 'redis-1.lab', '6379', 'redis-2.lab', '6379']);
  const runner = new FakeRunner([{ argv: ['/bin/echo', 'redis-2.lab'] }]);
  const deps = fakeDeps({
    runner,
    addresses: ['10.0.0.2'],
    resolve: async (h: string) => ({ 'redis-1.lab': ['10.0.0.1'], 'redis-2.lab': ['10.0.0.2'] })[h] ?? [],
  });
  const r = await runHook(
    event,
    config([{ type: 'exec', run: ['/bin/echo', '{toIp}'], when: { host: 'new-master' } }]),
    deps,
    { dryRun: false },
  );
  assert.equal(r.exitCode, 0);
  assert.deepEqual(runner.unused(), []);
});

test('a host name that does not resolve: exit 1 (DNS may come back), nothing run', async () => {
  const event = parseEvent(['mymaster', 'leader', 'start', 'redis-1.lab', '6379', 'redis-2.lab', '6379']);
  const runner = new FakeRunner([]);
  const deps = fakeDeps({
    runner,
    resolve: async () => {
      throw new Error('getaddrinfo ENOTFOUND');
    },
  });
  await assert.rejects(
    runHook(event, config([{ type: 'exec', run: ['/bin/true'] }]), deps, { dryRun: false }),
    (err: unknown) =>
      (err as { exitCode: number }).exitCode === 1 && /cannot resolve redis-2\.lab/.test((err as Error).message),
  );
  assert.equal(runner.calls.length, 0);
});

test('sudo privilege prefixes exactly "sudo -n"; no sudo installed is a failed step (exit 1)', async () => {
  const runner = new FakeRunner([{ argv: ['/usr/bin/sudo', '-n', '/usr/sbin/thing', 'mymaster'] }]);
  const action = [{ type: 'exec', run: ['/usr/sbin/thing', '{master}'], privilege: 'sudo' }];
  const ok = await runHook(leaderEvent, config(action), fakeDeps({ runner, programs: { sudo: '/usr/bin/sudo' } }), {
    dryRun: false,
  });
  assert.equal(ok.exitCode, 0);
  assert.deepEqual(runner.unused(), []);
  const none = await runHook(leaderEvent, config(action), fakeDeps({ runner: new FakeRunner([]) }), { dryRun: false });
  assert.equal(none.exitCode, 1);
  assert.match(none.steps[0]!.error!, /sudo not found/);
});

test('sudo refusing (no rule) is reported with the fix', async () => {
  const runner = new FakeRunner([
    {
      argv: ['/usr/bin/sudo', '-n', '/usr/sbin/thing'],
      result: { exitCode: 1, stderr: 'sudo: a password is required' },
    },
  ]);
  const r = await runHook(
    leaderEvent,
    config([{ type: 'exec', run: ['/usr/sbin/thing'], privilege: 'sudo' }]),
    fakeDeps({ runner, programs: { sudo: '/usr/bin/sudo' } }),
    { dryRun: false },
  );
  assert.equal(r.exitCode, 1);
  assert.match(
    r.steps[0]!.error!,
    /sudo refused \/usr\/sbin\/thing: sudo: a password is required \(install the rules from "sentinel-hook sudoers --user USER"\)/,
  );
});

test('a step that times out is reported as killed, exit 1', async () => {
  const runner = new FakeRunner([
    { argv: ['/bin/slow'], result: { exitCode: undefined, signal: 'SIGKILL', timedOut: true } },
  ]);
  const r = await runHook(
    leaderEvent,
    config([{ type: 'exec', run: ['/bin/slow'], timeout: '1s' }]),
    fakeDeps({ runner }),
    { dryRun: false },
  );
  assert.equal(r.exitCode, 1);
  assert.match(r.steps[0]!.error!, /\/bin\/slow killed after 1000 ms/);
});

// The deadline covers DNS and the Sentinels too. Bounds are generous (a loaded 2-core machine):
// what matters is that a lookup or a Sentinel that never answers cannot hold the run past it.
const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
const never = <T>() => new Promise<T>(() => {});
const hostEvent = parseEvent(['mymaster', 'leader', 'start', 'redis-1.lab', '6379', 'redis-2.lab', '6379']);

test('a DNS lookup that never answers ends at the deadline: exit 1, one clear line, nothing run, the lookup told to stop', async () => {
  const runner = new FakeRunner([]);
  const signals: (AbortSignal | undefined)[] = [];
  const deps = fakeDeps({
    runner,
    resolve: (_host: string, signal?: AbortSignal) => {
      signals.push(signal);
      return never<string[]>();
    },
  });
  const before = timers();
  const started = performance.now();
  await assert.rejects(
    runHook(hostEvent, config([{ type: 'exec', run: ['/bin/true'] }], { deadline: '1s' }), deps, { dryRun: false }),
    (err: unknown) => {
      assert.equal((err as { exitCode: number }).exitCode, 1);
      assert.match(
        (err as ConfigError).line(),
        /^cannot resolve redis-2\.lab: no answer before the run's deadline \(check DNS or \/etc\/hosts/,
      );
      return true;
    },
  );
  const took = performance.now() - started;
  assert.ok(took >= 900 && took < 3000, `ended at the deadline (${Math.round(took)} ms)`);
  assert.equal(runner.calls.length, 0);
  assert.ok(
    signals.length > 0 && signals.every((s) => s?.aborted),
    'every lookup got the deadline signal, aborted now',
  );
  assert.equal(timers(), before, 'no timer left behind');
});

test('a from-ip name that never resolves costs at most ~2 s, counts as "not this host", and the run goes on: exit 0', async () => {
  const runner = new FakeRunner([{ argv: ['/bin/true'] }]);
  const deps = fakeDeps({
    runner,
    resolve: (host: string) => (host === 'old-gone.lab' ? never<string[]>() : Promise.resolve(['10.0.0.2'])),
  });
  const event = parseEvent(['mymaster', 'leader', 'start', 'old-gone.lab', '6379', '10.0.0.2', '6379']);
  const started = performance.now();
  const r = await runHook(event, config([{ type: 'exec', run: ['/bin/true'] }], { deadline: '20s' }), deps, {
    dryRun: false,
  });
  const took = performance.now() - started;
  assert.equal(r.exitCode, 0);
  assert.deepEqual(runner.unused(), []);
  assert.ok(took < 12_000, `waited ${Math.round(took)} ms for the from-ip: its 2 s budget, not the 20 s deadline`);
  assert.ok(deps.logger.records.some((rec) => rec.msg === 'from-ip does not resolve; treated as not this host'));
});

test('with sentinels set, the to-ip is resolved once per run', async () => {
  const lookups: string[] = [];
  const runner = new FakeRunner([{ argv: ['/bin/echo', 'redis-2.lab'] }]);
  const deps = fakeDeps({
    runner,
    addresses: ['10.0.0.2'],
    resolve: async (h: string) => {
      lookups.push(h);
      return { 'redis-1.lab': ['10.0.0.1'], 'redis-2.lab': ['10.0.0.2'] }[h] ?? [];
    },
    askSentinel: async (address) => ({ address, master: { ip: '10.0.0.2', port: 6379 } }),
  });
  const r = await runHook(
    hostEvent,
    config([{ type: 'exec', run: ['/bin/echo', '{toIp}'], when: { host: 'new-master' } }], {
      sentinels: { addresses: ['10.0.0.9:26379'] },
    }),
    deps,
    { dryRun: false },
  );
  assert.equal(r.exitCode, 0);
  assert.equal(r.freshness?.verdict, 'current');
  assert.deepEqual(
    lookups.filter((h) => h === 'redis-2.lab'),
    ['redis-2.lab'],
  );
  assert.deepEqual(runner.unused(), []);
});

test('Sentinels that never answer count as not answering after their timeout: act on the arguments, warn, exit 0', async () => {
  const runner = new FakeRunner([{ argv: ['/bin/echo', 'acted'] }]);
  const asked: (AbortSignal | undefined)[] = [];
  const deps = fakeDeps({
    runner,
    askSentinel: (_a, _m, _c, _p, opts) => {
      asked.push(opts?.signal);
      return never();
    },
  });
  const before = timers();
  const started = performance.now();
  const r = await runHook(
    leaderEvent,
    config([{ type: 'exec', run: ['/bin/echo', 'acted'] }], {
      deadline: '2s',
      sentinels: { addresses: ['10.0.0.9:26379', '10.0.0.8:26379'], timeout: '200ms', settle: '300ms' },
    }),
    deps,
    { dryRun: false },
  );
  const took = performance.now() - started;
  assert.equal(r.exitCode, 0);
  assert.equal(r.freshness?.verdict, 'unknown');
  assert.match(JSON.stringify(r.freshness?.answers), /no answer within 200 ms/);
  assert.ok(took < 3000, `bounded (${Math.round(took)} ms)`);
  assert.deepEqual(runner.unused(), []);
  assert.ok(deps.logger.records.some((l) => /no Sentinel answered; acting on the arguments/.test(String(l.msg))));
  assert.ok(asked.length >= 2 && asked.every((s) => s?.aborted), 'each question was told to stop');
  assert.equal(timers(), before, 'no timer left behind');
});

test('a Sentinel check still running at the deadline ends the run there: exit 1, nothing run', async () => {
  const runner = new FakeRunner([]);
  const deps = fakeDeps({ runner, askSentinel: () => never() });
  // Past what the schema allows (settle + timeout must leave 1 s): the deadline must hold anyway.
  const cfg = { ...config([{ type: 'exec', run: ['/bin/true'] }], { sentinels: { addresses: ['10.0.0.9:26379'] } }) };
  cfg.deadline = 500;
  cfg.sentinels = { ...cfg.sentinels!, timeout: 30_000, settle: 30_000 };
  const before = timers();
  const started = performance.now();
  await assert.rejects(runHook(leaderEvent, cfg, deps, { dryRun: false }), (err: unknown) => {
    assert.equal((err as { exitCode: number }).exitCode, 1);
    assert.match(
      (err as ConfigError).line(),
      /^the run's deadline \(500 ms\) passed while asking the Sentinels whether the event is current/,
    );
    return true;
  });
  assert.ok(performance.now() - started < 3000);
  assert.equal(runner.calls.length, 0);
  assert.equal(timers(), before, 'no timer left behind');
});

// With `sentinels`, planning (read-only) runs while the Sentinels are asked; only a current event's
// plan is applied, and nothing started meanwhile sees the password variable.
const sentinelsAt = { sentinels: { addresses: ['10.0.0.9:26379'], password: { env: 'SH_SENTINEL_PW' } } };
// Fakes answer the epoch question too (a stale event converges: reconcile asks for it).
const sentinelSays = (ip: string) => async (address: string) => ({ address, master: { ip, port: 6379 }, epoch: 7 });
const freshEvent = parseEvent(['mymaster', 'leader', 'start', '10.0.0.1', '6379', '10.0.0.2', '6379']);

test('a stale event whose planning failed (a program that is not installed): still stale, exit 0, nothing run', async () => {
  const runner = new FakeRunner([]);
  const deps = fakeDeps({ runner, env: { SH_SENTINEL_PW: 'pw' }, askSentinel: sentinelSays('10.0.0.7') });
  const r = await runHook(
    freshEvent,
    config([{ type: 'exec', run: ['not-installed-anywhere'] }], {
      ...sentinelsAt,
      sentinels: { ...sentinelsAt.sentinels, settle: 0 },
    }),
    deps,
    { dryRun: false },
  );
  assert.equal(r.outcome, 'stale');
  assert.equal(r.exitCode, 0);
  assert.equal(runner.calls.length, 0);
});

test('a current event whose planning failed: the planning error stands (exit 2), nothing run', async () => {
  const runner = new FakeRunner([]);
  const deps = fakeDeps({ runner, env: { SH_SENTINEL_PW: 'pw' }, askSentinel: sentinelSays('10.0.0.2') });
  await assert.rejects(
    runHook(freshEvent, config([{ type: 'exec', run: ['not-installed-anywhere'] }], sentinelsAt), deps, {
      dryRun: false,
    }),
    (err: unknown) => err instanceof ConfigError && err.exitCode === 2,
  );
  assert.equal(runner.calls.length, 0);
});

test('the password variable is gone before planning reads anything (a vip observing with ip); the check still used it', async () => {
  const seenEnv: (string | undefined)[] = [];
  const passwords: (string | undefined)[] = [];
  const env: NodeJS.ProcessEnv = { SH_SENTINEL_PW: 'secret-pw' };
  const fake = new FakeRunner([{ argv: ['/usr/sbin/ip', '-j', '-4', 'addr', 'show'], result: { stdout: '[]' } }]);
  const runner = {
    run: (argv: readonly string[], opts: Parameters<FakeRunner['run']>[1]) => {
      seenEnv.push(env.SH_SENTINEL_PW);
      return fake.run(argv, opts);
    },
  };
  const deps = fakeDeps({
    runner,
    env,
    addresses: ['10.0.0.5'],
    programs: { ip: '/usr/sbin/ip' },
    askSentinel: async (address, _m, _c, password) => {
      passwords.push(password);
      return { address, master: { ip: '10.0.0.2', port: 6379 } };
    },
  });
  const r = await runHook(
    freshEvent,
    config([{ type: 'vip', address: '10.0.0.100/24', interface: 'eth0' }], sentinelsAt),
    deps,
    { dryRun: false },
  );
  assert.equal(r.exitCode, 0);
  assert.equal(r.outcome, 'nothing-to-do');
  assert.deepEqual(passwords, ['secret-pw']);
  assert.deepEqual(seenEnv, [undefined], 'the ip read started without the variable');
});

test('a from-ip lookup with no answer when an action is for the old master only: exit 1 (retry), not the action dropped', async () => {
  const runner = new FakeRunner([]);
  const deps = fakeDeps({
    runner,
    resolve: (host: string) => (host === 'old-gone.lab' ? never<string[]>() : Promise.resolve(['10.0.0.2'])),
  });
  const event = parseEvent(['mymaster', 'leader', 'start', 'old-gone.lab', '6379', '10.0.0.2', '6379']);
  await assert.rejects(
    runHook(
      event,
      config([{ type: 'exec', run: ['/bin/true'], when: { host: 'old-master' } }], { deadline: '20s' }),
      deps,
      { dryRun: false },
    ),
    (err: unknown) => {
      assert.equal((err as { exitCode: number }).exitCode, 1);
      assert.match(
        (err as Error).message,
        /cannot resolve from-ip old-gone\.lab: no answer within 2000 ms, and an action is for the old master only/,
      );
      return true;
    },
  );
  assert.equal(runner.calls.length, 0);
});

test('a stale verdict stops planning at once (its reads are killed), exit 0, though an observation would hang until the deadline', async () => {
  // A dry-run: a real run asks before it observes anything (and a stale one then converges, see reconcile).
  for (const dryRun of [true]) {
    const started = performance.now();
    const signals: AbortSignal[] = [];
    const runner = {
      run: (_argv: readonly string[], opts: { signal?: AbortSignal }) =>
        new Promise<never>((_, reject) => {
          if (opts.signal) {
            signals.push(opts.signal);
            opts.signal.addEventListener('abort', () => reject(new Error('killed')));
          }
        }),
    };
    const deps = fakeDeps({
      runner: runner as never,
      addresses: ['10.0.0.5'],
      programs: { ip: '/usr/sbin/ip' },
      askSentinel: sentinelSays('10.0.0.7'),
    });
    const r = await runHook(
      freshEvent,
      config([{ type: 'vip', address: '10.0.0.100/24', interface: 'eth0' }], {
        deadline: '20s',
        sentinels: { addresses: ['10.0.0.9:26379'], settle: 0 },
      }),
      deps,
      { dryRun },
    );
    assert.equal(r.outcome, 'stale');
    assert.equal(r.exitCode, 0);
    assert.ok(performance.now() - started < 10_000, 'did not wait for the deadline');
    assert.ok(signals.length === 1 && signals[0]!.aborted, "planning's read was told to stop");
  }
});
