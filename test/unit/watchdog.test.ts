// watch's watchdog (src/watch/watchdog.ts): a process whose main event loop stops answering is
// killed, so that systemd's Restart=always brings it back; one that answers is left alone and ends
// on its own. Each case runs in a child process of its own, killed by the test if still there.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startProbe } from '../support/fake-sentinel.ts';

const LIMIT_MS = 2000;
/** Start-up of the check, the write before the kill, and a loaded machine. */
const SLACK_MS = 3000;

async function blockedFor(events: { event?: unknown }[], exited: Promise<unknown>): Promise<number | undefined> {
  for (let i = 0; i < 300 && !events.some((e) => e.event === 'blocking'); i++) {
    const done = await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(r, 50, false))]);
    if (done) return undefined;
  }
  return performance.now();
}

test('a main thread that blocks is killed (SIGKILL) by the watchdog within its limit plus slack, with one line saying why', {
  timeout: 60_000,
}, async (t) => {
  const probe = startProbe(t, 'watchdog-probe.ts', [String(LIMIT_MS), 'block']);
  const since = await blockedFor(probe.events, probe.exited);
  assert.ok(since !== undefined, `the probe did not block: ${probe.output()}`);
  const exit = await probe.exited;
  const blockedMs = performance.now() - since;
  assert.equal(exit.signal, 'SIGKILL', probe.output());
  assert.ok(
    blockedMs >= LIMIT_MS - 300,
    `killed after ${Math.round(blockedMs)} ms, before the limit of ${LIMIT_MS} ms`,
  );
  assert.ok(blockedMs <= LIMIT_MS + SLACK_MS, `killed only after ${Math.round(blockedMs)} ms`);
  const lines = probe.events.filter((e) => e.level === 60);
  assert.equal(lines.length, 1, probe.output());
  assert.equal(lines[0]!.probe, 'block');
  assert.equal(lines[0]!.limitMs, LIMIT_MS);
  assert.ok((lines[0]!.silentMs as number) >= LIMIT_MS);
  assert.match(String(lines[0]!.msg), /main event loop has not answered: killing the process/);
  assert.ok(!probe.events.some((e) => e.event === 'not killed'));
});

test('a main thread that answers between bursts of synchronous work (a third of the limit each) is not killed, and ends on its own', {
  timeout: 60_000,
}, async (t) => {
  const probe = startProbe(t, 'watchdog-probe.ts', [String(LIMIT_MS), 'answer']);
  const timer = new Promise<'still running'>((ok) => setTimeout(ok, 3 * LIMIT_MS + 15_000, 'still running').unref());
  const exit = await Promise.race([probe.exited, timer]);
  assert.notEqual(exit, 'still running', `the watchdog kept the process alive: ${probe.output()}`);
  assert.deepEqual(
    exit === 'still running' ? undefined : { code: exit.code, signal: exit.signal },
    { code: 0, signal: null },
    probe.output(),
  );
  assert.deepEqual(
    probe.events.map((e) => e.event),
    ['started', 'done'],
  );
});
