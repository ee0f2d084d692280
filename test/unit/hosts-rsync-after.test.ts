// transport rsync: the remote shell command that runs `after` (afterScript), run by a real /bin/sh
// against files in a temp dir standing for the target. What is owed must survive a run killed
// between the copy and the `after` connection: the target's own files carry it.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AFTER_DONE_SUFFIX, afterScript } from '../../src/actions/hosts/rsync.ts';

function target(t: { after(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), "sh-rsync-after-it's "));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'hosts');
  const ran = join(dir, 'after-ran');
  // What a copy by rsync leaves: the new file and, when it replaced one, the backup.
  const copy = (content: string) => {
    if (existsSync(file)) writeFileSync(`${file}.sentinel-hook.bak`, readFileSync(file));
    writeFileSync(file, content);
  };
  const after = (owed: boolean, exitCode = 0) => {
    const argv = ['/bin/sh', '-c', `echo ran >> "$0"; exit ${exitCode}`, ran];
    const r = spawnSync('/bin/sh', ['-c', afterScript({ remotePath: file }, argv, owed)], { encoding: 'utf8' });
    const runs = existsSync(ran) ? readFileSync(ran, 'utf8').split('\n').length - 1 : 0;
    rmSync(ran, { force: true });
    return { code: r.status, runs };
  };
  return { file, copy, after };
}

test('a file never changed by us (no backup): nothing owed, after does not run', (t) => {
  const tg = target(t);
  writeFileSync(tg.file, '10.0.0.1 redis\n');
  assert.deepEqual(tg.after(false), { code: 0, runs: 0 });
});

test('changed in this run: after runs once and is recorded; the next run owes nothing', (t) => {
  const tg = target(t);
  writeFileSync(tg.file, '10.0.0.1 redis\n');
  tg.copy('10.0.0.2 redis\n');
  assert.deepEqual(tg.after(true), { code: 0, runs: 1 });
  assert.match(readFileSync(tg.file + AFTER_DONE_SUFFIX, 'utf8'), /^\d+ \d+\n$/);
  assert.deepEqual(tg.after(false), { code: 0, runs: 0 });
});

test('killed between the copy and after (after never ran): the next run, finding the file right, runs it', (t) => {
  const tg = target(t);
  writeFileSync(tg.file, '10.0.0.1 redis\n');
  tg.copy('10.0.0.2 redis\n');
  assert.deepEqual(tg.after(true), { code: 0, runs: 1 });
  tg.copy('10.0.0.3 redis\n'); // the next failover's copy; then the run is killed
  assert.deepEqual(tg.after(false), { code: 0, runs: 1 }, 'owed: the file is not what after last ran for');
  assert.deepEqual(tg.after(false), { code: 0, runs: 0 });
});

test('after fails: its exit code comes back, nothing is recorded, and the next run runs it again', (t) => {
  const tg = target(t);
  writeFileSync(tg.file, '10.0.0.1 redis\n');
  tg.copy('10.0.0.2 redis\n');
  assert.deepEqual(tg.after(true, 3), { code: 3, runs: 1 });
  assert.equal(existsSync(tg.file + AFTER_DONE_SUFFIX), false);
  assert.deepEqual(tg.after(false, 0), { code: 0, runs: 1 });
  assert.deepEqual(tg.after(false, 0), { code: 0, runs: 0 });
});

test('the remote file missing: exit 1, after not run', (t) => {
  const tg = target(t);
  assert.equal(tg.after(true).runs, 0);
  assert.equal(tg.after(true).code, 1);
});
