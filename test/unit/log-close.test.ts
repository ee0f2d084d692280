// A long-running process (a service, a reconcile of many masters) makes many runs: each run's log
// file descriptor must be given back at its end, and each run must have an id of its own.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { deferredFileLogger, logFileWarning, runId, stdoutLogger } from '../../src/log.ts';

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

// Issue 15 §3: everything a unit runs logs to the journal. On stdout, JSON lines as watch writes them;
// when stdout is the journal, each with the syslog priority journald reads off the front of a line
// (SyslogLevelPrefix=, on by default), so that a warning is one in journalctl -p warning.
test('the journal logger: JSON lines, each led by its syslog priority when stdout is the journal', () => {
  const lines: string[] = [];
  const write = (line: string) => lines.push(line);
  const journal = stdoutLogger('info', { run: 'r1' }, { journal: true, write });
  journal.debug({}, 'left out');
  journal.info({ a: 1 }, 'plain');
  journal.child({ master: 'm' }).warn({}, 'careful');
  journal.error({}, 'broken');
  assert.deepEqual(
    lines.map((l) => l.slice(0, 3)),
    ['<6>', '<4>', '<3>'],
  );
  const records = lines.map((l) => JSON.parse(l.slice(3)) as Record<string, unknown>);
  assert.deepEqual(
    records.map(({ level, run, master, msg }) => ({ level, run, master, msg })),
    [
      { level: 30, run: 'r1', master: undefined, msg: 'plain' },
      { level: 40, run: 'r1', master: 'm', msg: 'careful' },
      { level: 50, run: 'r1', master: undefined, msg: 'broken' },
    ],
  );
  const plain: string[] = [];
  stdoutLogger('info', {}, { journal: false, write: (l) => plain.push(l) }).info({}, 'by hand');
  assert.match(plain[0]!, /^\{"level":30,/);
});

// Seen on a booted Debian 12: the boot reconcile's log.file, read-only under its unit's
// ProtectSystem=strict, failed with EROFS on every run, and the warning blamed ownership.
test('a log file the file system will not write (EROFS) is "read-only here", not an ownership problem', () => {
  const erofs = Object.assign(new Error("EROFS: read-only file system, open '/var/log/sentinel-hook/hook.log'"), {
    code: 'EROFS',
  });
  const warning = logFileWarning('/var/log/sentinel-hook/hook.log', erofs);
  assert.match(warning, /read-only here \(the unit's ProtectSystem\/ReadWritePaths\)/);
  assert.doesNotMatch(warning, /owned by|Sentinel's user can write/);
  const eacces = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
  assert.match(logFileWarning('/var/log/sentinel-hook/hook.log', eacces), /owned by root or Sentinel's user/);
});
