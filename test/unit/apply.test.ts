import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ActionPlan, CommandStep } from '../../src/actions/plugin.ts';
import { memoryLogger } from '../../src/log.ts';
import { applyPlans } from '../../src/pipeline/apply.ts';
import type { CommandRunner } from '../../src/runner.ts';

function cmd(argv: string[], extra: Partial<CommandStep> = {}): CommandStep {
  return { kind: 'command', description: argv.join(' '), argv, privileged: false, timeoutMs: 1000, ...extra };
}

/** Records the order commands start in, with the time since the run began. */
function timelineRunner(
  log: { argv: string; at: number }[],
  started: number,
  fail: Set<string> = new Set(),
): CommandRunner {
  return {
    async run(argv) {
      const key = argv.join(' ');
      log.push({ argv: key, at: performance.now() - started });
      await new Promise((r) => setTimeout(r, 5));
      const exitCode = fail.has(key) ? 1 : 0;
      return {
        exitCode,
        signal: undefined,
        stdout: '',
        stderr: '',
        durationMs: 5,
        timedOut: false,
        spawnError: undefined,
      };
    },
  };
}

test('a deferred step runs in the background: later actions go first, and it is awaited before returning', async () => {
  const started = performance.now();
  const timeline: { argv: string; at: number }[] = [];
  const plans: ActionPlan[] = [
    { action: 'vip#0', steps: [cmd(['add']), cmd(['garp', '1']), cmd(['garp', '2'], { deferMs: 150 })] },
    { action: 'exec#1', steps: [cmd(['notify'])] },
  ];
  const ac = new AbortController();
  const outcomes = await applyPlans(
    plans,
    { runner: timelineRunner(timeline, started), signal: ac.signal, logger: memoryLogger(), remainingMs: () => 10_000 },
    { sudo: undefined },
  );
  assert.deepEqual(
    timeline.map((t) => t.argv),
    ['add', 'garp 1', 'notify', 'garp 2'],
  );
  assert.ok(timeline[3]!.at >= 150, `second burst after its delay (${timeline[3]!.at} ms)`);
  assert.equal(outcomes.length, 4);
  assert.ok(outcomes.every((o) => o.ok));
});

test('the first failure skips the rest of its action only', async () => {
  const timeline: { argv: string; at: number }[] = [];
  const plans: ActionPlan[] = [
    { action: 'vip#0', steps: [cmd(['add']), cmd(['garp'])] },
    { action: 'exec#1', steps: [cmd(['notify'])] },
  ];
  const outcomes = await applyPlans(
    plans,
    {
      runner: timelineRunner(timeline, performance.now(), new Set(['add'])),
      signal: new AbortController().signal,
      logger: memoryLogger(),
      remainingMs: () => 10_000,
    },
    { sudo: undefined },
  );
  assert.deepEqual(
    timeline.map((t) => t.argv),
    ['add', 'notify'],
  );
  assert.deepEqual(
    outcomes.map((o) => [o.description, o.ok]),
    [
      ['add', false],
      ['garp', false],
      ['notify', true],
    ],
  );
  assert.match(outcomes[1]!.error!, /skipped/);
});

test('after the deadline nothing new starts, and a deferred step is not left waiting', async () => {
  const ac = new AbortController();
  const timeline: { argv: string; at: number }[] = [];
  const plans: ActionPlan[] = [{ action: 'vip#0', steps: [cmd(['add']), cmd(['garp', '2'], { deferMs: 60_000 })] }];
  setTimeout(() => ac.abort(), 50);
  const started = performance.now();
  const outcomes = await applyPlans(
    plans,
    { runner: timelineRunner(timeline, started), signal: ac.signal, logger: memoryLogger(), remainingMs: () => 0 },
    { sudo: undefined },
  );
  assert.ok(performance.now() - started < 5000, 'returned at the deadline, not after the 60 s delay');
  assert.deepEqual(
    timeline.map((t) => t.argv),
    ['add'],
  );
  assert.equal(outcomes[1]!.ok, false);
  assert.match(outcomes[1]!.error!, /deadline/);
});

test('a task step reports its own outcome', async () => {
  const plans: ActionPlan[] = [
    {
      action: 'hosts#0',
      steps: [
        { kind: 'task', description: 'push', run: async () => ({ ok: false, summary: '1 of 3 targets failed' }) },
      ],
    },
  ];
  const outcomes = await applyPlans(
    plans,
    {
      runner: timelineRunner([], 0),
      signal: new AbortController().signal,
      logger: memoryLogger(),
      remainingMs: () => 1000,
    },
    { sudo: undefined },
  );
  assert.equal(outcomes[0]!.ok, false);
  assert.equal(outcomes[0]!.error, '1 of 3 targets failed');
});
