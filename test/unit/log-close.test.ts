// A long-running process (a service, a reconcile of many masters) makes many runs: each run's log
// file descriptor must be given back at its end, and each run must have an id of its own.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { deferredFileLogger, runId } from '../../src/log.ts';

function descriptorsOpenOn(file: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === file) n++;
    } catch {
      // closed meanwhile (the directory's own descriptor)
    }
  }
  return n;
}

test('a run closes its log file at the end; a record after that is still appended, with no descriptor left open', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sh-log-close-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'hook.log');
  for (let i = 0; i < 3; i++) {
    const logger = deferredFileLogger(() => ({ file, level: 'info', tty: false }), { run: runId() });
    logger.info({ i }, 'run');
    await logger.ready();
    assert.equal(descriptorsOpenOn(file), 1, 'open while the run logs');
    await logger.close();
    assert.equal(descriptorsOpenOn(file), 0, `run ${i} gave its descriptor back`);
    logger.info({ i }, 'late');
    assert.equal(descriptorsOpenOn(file), 0);
  }
  const records = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { msg: string; i: number; run: string });
  assert.deepEqual(
    records.map((r) => `${r.msg}${r.i}`),
    ['run0', 'late0', 'run1', 'late1', 'run2', 'late2'],
  );
  assert.equal(new Set(records.map((r) => r.run)).size, 3, 'one id per run');
});

test('run ids are unique within a process, also within one millisecond', () => {
  const ids = Array.from({ length: 1000 }, runId);
  assert.equal(new Set(ids).size, ids.length);
});
