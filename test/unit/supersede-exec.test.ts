// Issue 15 §5.9 (second half): a command step already running when a newer event for the same master
// supersedes the run. A real failover's exec waited 13.4 s behind an older one and was then killed with
// the rest of its run's deadline. Now a step its plugin marks `onSuperseded: 'stop'` (exec's user
// commands) gets TERM once superseded and KILL after SUPERSEDED_STOP_GRACE_MS, and the newer run keeps
// its budget; a step that must finish (vip's `ip addr`, unmarked) is still let finish. Real processes
// (/bin/sh), on purpose: what is tested is signals reaching a process group.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ActionPlan, CommandStep } from '../../src/actions/plugin.ts';
import { validateConfig } from '../../src/config/load.ts';
import { parseEvent } from '../../src/event.ts';
import { memoryLogger } from '../../src/log.ts';
import { applyPlans, SUPERSEDED_STOP_GRACE_MS } from '../../src/pipeline/apply.ts';
import { runHook } from '../../src/pipeline/run.ts';
import { type CommandRunner, createRunner } from '../../src/runner.ts';
import { POLL_MS } from '../../src/state/generation.ts';
import { waitUntil } from '../lab/wait.ts';
import { fakeDeps } from '../support/fakes.ts';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'sh-supersede-exec-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A script that notes TERM (the time, ms since the epoch, in "$0") and then ignores it, looping, so
 * that only KILL ends it; "$0.ready" once the trap is set.
 */
const STUBBORN = `trap 'echo TERM $(date +%s%3N) >> "$0"; while :; do sleep 0.05; done' TERM; : > "$0.ready"; while :; do sleep 0.05; done`;

const termAt = (file: string): number | undefined => {
  const m = existsSync(file) ? /^TERM (\d+)$/m.exec(readFileSync(file, 'utf8')) : null;
  return m ? Number(m[1]) : undefined;
};

test('runner: `stop` ends a child with TERM, and KILL only after its grace; the deadline during that grace kills it at once', {
  timeout: 30_000,
}, async (t) => {
  const dir = tempDir(t);
  const runner = createRunner();
  for (const deadlineToo of [false, true]) {
    const seen = join(dir, `seen-${deadlineToo}`);
    const stop = new AbortController();
    const deadline = new AbortController();
    const running = runner.run(['/bin/sh', '-c', STUBBORN, seen], {
      timeoutMs: 6000,
      signal: deadline.signal,
      stop: { signal: stop.signal, graceMs: 1500 },
    });
    await waitUntil('the trap set', () => existsSync(`${seen}.ready`), { timeoutMs: 5000, intervalMs: 10 });
    const stopped = Date.now();
    stop.abort();
    if (deadlineToo) setTimeout(() => deadline.abort(), 200);
    const r = await running;
    const took = Date.now() - stopped;
    const term = termAt(seen);
    assert.ok(term !== undefined && term - stopped < 500, `TERM at once (${term && term - stopped} ms)`);
    assert.equal(r.signal, 'SIGKILL', 'it ignored TERM: only KILL ended it');
    if (deadlineToo) assert.ok(took < 1000, `the deadline's own short grace, not the stop's (${took} ms)`);
    else assert.ok(took >= 1400 && took < 2500, `KILL after the stop's grace of 1500 ms (${took} ms)`);
  }
});

function cmd(argv: string[], extra: Partial<CommandStep> = {}): CommandStep {
  return { kind: 'command', description: argv.join(' '), argv, privileged: false, timeoutMs: 10_000, ...extra };
}

test("applier: once superseded, a step marked onSuperseded 'stop' gets TERM; an unmarked one (an ip addr change) is let finish", {
  timeout: 30_000,
}, async (t) => {
  const dir = tempDir(t);
  for (const onSuperseded of ['stop', undefined] as const) {
    const seen = join(dir, `seen-${onSuperseded}`);
    const done = join(dir, `done-${onSuperseded}`);
    // It finishes 600 ms after its trap is set, unless stopped; the TERM note says if it was told to.
    const script = `trap 'echo TERM $(date +%s%3N) >> "$0"; exit 143' TERM; : > "$0.ready"; sleep 0.6; : > "$1"`;
    const plans: ActionPlan[] = [
      {
        action: 'step#0',
        steps: [cmd(['/bin/sh', '-c', script, seen, done], onSuperseded ? { onSuperseded } : {})],
      },
    ];
    const generation = new AbortController();
    const deadline = new AbortController();
    let reason: string | undefined;
    const applying = applyPlans(
      plans,
      {
        runner: createRunner(),
        signal: AbortSignal.any([deadline.signal, generation.signal]),
        commandSignal: deadline.signal,
        superseded: () => reason,
        logger: memoryLogger(),
        remainingMs: () => 10_000,
      },
      { sudo: undefined },
    );
    await waitUntil('the step started', () => existsSync(`${seen}.ready`), { timeoutMs: 5000, intervalMs: 10 });
    reason = 'a newer event for this master started on this host';
    generation.abort();
    const [outcome] = await applying;
    assert.equal(outcome?.ok, true, JSON.stringify(outcome));
    if (onSuperseded === 'stop') {
      assert.ok(termAt(seen) !== undefined, 'the exec-like step got TERM');
      assert.equal(existsSync(done), false, 'and did not go on');
      assert.equal(outcome?.superseded, reason);
    } else {
      assert.equal(termAt(seen), undefined, 'an ip-like step is never signalled');
      assert.ok(existsSync(done), 'it finished what it was doing');
    }
  }
});

test('the hook: an exec running when a newer event for the master starts gets TERM within the poll interval, KILL after the grace; the newer run keeps its budget', {
  timeout: 60_000,
}, async (t) => {
  const dir = tempDir(t);
  const config = validateConfig(
    {
      lockDir: join(dir, 'run'),
      stateDir: join(dir, 'lib'),
      deadline: '15s',
      masters: {
        mymaster: [
          {
            type: 'exec',
            run: ['/bin/sh', '-c', STUBBORN, join(dir, 'older')],
            timeout: '10s',
            when: { role: 'leader' },
          },
          {
            type: 'exec',
            run: ['/bin/sh', '-c', 'echo "$1" >> "$0"', join(dir, 'newer'), '{toIp}'],
            timeout: '10s',
            when: { role: 'observer' },
          },
        ],
      },
    },
    'test.yaml',
  );
  /** A real runner that notes the timeout each command was given (the newer run's must be its whole 10 s). */
  const recording = (given: number[]): CommandRunner => {
    const runner = createRunner();
    return {
      run(argv, opts) {
        given.push(opts.timeoutMs);
        return runner.run(argv, opts);
      },
    };
  };
  const olderTimeouts: number[] = [];
  const newerTimeouts: number[] = [];
  const older = runHook(
    parseEvent(['mymaster', 'leader', 'start', '10.0.0.1', '6379', '10.0.0.2', '6379']),
    config,
    fakeDeps({ runner: recording(olderTimeouts), addresses: ['10.0.0.9'] }),
    { dryRun: false },
  );
  await waitUntil('the older exec running', () => existsSync(join(dir, 'older.ready')), {
    timeoutMs: 10_000,
    intervalMs: 10,
  });
  const newerStarted = Date.now();
  const newerDeps = fakeDeps({ runner: recording(newerTimeouts), addresses: ['10.0.0.9'] });
  const newer = runHook(
    parseEvent(['mymaster', 'observer', 'start', '10.0.0.2', '6379', '10.0.0.3', '6379']),
    config,
    newerDeps,
    { dryRun: false },
  );
  const olderResult = await older;
  const olderEnded = Date.now();
  const newerResult = await newer;

  const term = termAt(join(dir, 'older'));
  const waited = newerDeps.logger.records.find((r) => r.msg === 'waited for another run of this master');
  assert.ok(term !== undefined, 'the older exec got TERM');
  assert.ok(term - newerStarted < POLL_MS + 300, `TERM within about the poll interval (${term - newerStarted} ms)`);
  const killedAfter = olderEnded - newerStarted;
  assert.ok(
    killedAfter >= SUPERSEDED_STOP_GRACE_MS - 100 && killedAfter < SUPERSEDED_STOP_GRACE_MS + 1000,
    `KILL after the ${SUPERSEDED_STOP_GRACE_MS} ms grace, not before and not at its own timeout (${killedAfter} ms)`,
  );
  t.diagnostic(
    `TERM ${term - newerStarted} ms after the newer run started, the older run ended after ${killedAfter} ms, the newer waited ${waited?.waitedMs ?? '?'} ms for the lock`,
  );
  assert.equal(olderResult.outcome, 'superseded');
  assert.equal(olderResult.exitCode, 0);

  assert.equal(newerResult.outcome, 'applied', JSON.stringify(newerResult.steps));
  assert.equal(readFileSync(join(dir, 'newer'), 'utf8'), '10.0.0.3\n');
  assert.ok(
    Number(waited?.waitedMs) < SUPERSEDED_STOP_GRACE_MS + 1000,
    `the lock wait is bounded by the grace (${waited?.waitedMs} ms)`,
  );
  assert.deepEqual(newerTimeouts, [10_000], "the newer exec got its whole timeout: the wait did not eat the run's");
  assert.deepEqual(olderTimeouts, [10_000]);
});

test("watch taking over the failover the hook is acting on (same epoch): the hook's exec is let finish, recorded, and not run again", {
  timeout: 60_000,
}, async (t) => {
  const dir = tempDir(t);
  const out = join(dir, 'ran');
  const config = validateConfig(
    {
      lockDir: join(dir, 'run'),
      stateDir: join(dir, 'lib'),
      deadline: '15s',
      sentinels: { addresses: ['192.0.2.1:26379'], settle: 0 },
      masters: {
        mymaster: [
          {
            type: 'exec',
            // Slow enough for the takeover to come while it runs; a TERM would leave "stopped".
            run: [
              '/bin/sh',
              '-c',
              `trap 'echo stopped >> "$0"; exit 143' TERM; : > "$0.ready"; sleep 1.5; echo "done $1" >> "$0"`,
              out,
              '{toIp}',
            ],
            timeout: '10s',
            reconcile: true,
          },
        ],
      },
    },
    'test.yaml',
  );
  const ask = async (address: string) => ({ address, master: { ip: '10.0.0.2', port: 6379 }, epoch: 5 });
  const hook = runHook(
    parseEvent(['mymaster', 'observer', 'start', '10.0.0.1', '6379', '10.0.0.2', '6379']),
    config,
    fakeDeps({ runner: createRunner(), askSentinel: ask, addresses: ['10.0.0.9'] }),
    { dryRun: false },
  );
  await waitUntil('the hook exec running', () => existsSync(`${out}.ready`), { timeoutMs: 10_000, intervalMs: 10 });
  // watch's fast path for the same failover (epoch 5): it claims the master, as for any failover it acts on.
  const { reconcileMaster } = await import('../../src/pipeline/run.ts');
  const watch = reconcileMaster(
    'mymaster',
    config,
    fakeDeps({ runner: createRunner(), askSentinel: ask, addresses: ['10.0.0.9'] }),
    {
      dryRun: false,
      announce: true,
      claim: true,
      decision: { clear: true, state: { ip: '10.0.0.2', port: 6379, epoch: 5 }, answers: [] },
      signal: AbortSignal.timeout(15_000),
      remainingMs: () => 15_000,
    },
  );
  const [h, w] = await Promise.all([hook, watch]);
  assert.equal(readFileSync(out, 'utf8'), 'done 10.0.0.2\n', 'ran once, to its end: no TERM, no second run');
  assert.equal(h.exitCode, 0);
  assert.equal(w.exitCode, 0);
  assert.match(w.plans[0]!.note ?? '', /already ran on this host for this failover \(config epoch 5\)/);
});
