// A checkout the redis user cannot reach: root clones into its own home (/root is mode 700), and the
// tests and the lab still run the hook as redis, as Sentinel does. Here: a copy of this checkout in a
// mode-700 directory, built, running one of its own sudo-as-redis test files from inside it.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '../..');
const canRun =
  process.getuid?.() === 0 &&
  spawnSync('id', ['-u', 'redis']).status === 0 &&
  existsSync('/usr/bin/sudo') &&
  existsSync('/usr/sbin/visudo');

/** Mount points whose source is below `dir` (a helper's bind mount left behind by a crashed run). */
function mountsOf(dir: string): string[] {
  const name = basename(dir);
  // mountinfo: field 4 is the mounted directory's path inside its filesystem, field 5 the mount point.
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' '))
    .filter((fields) => fields[3]?.includes(`/${name}/`))
    .map((fields) => fields[4]!);
}

test('a clone in a mode-700 directory: its sudo-as-redis tests pass from inside it, and no mount is left behind', {
  skip: !canRun && 'needs root, the redis user and sudo',
  timeout: 120_000,
}, () => {
  const home = mkdtempSync(join(tmpdir(), 'sh-private-home-'));
  try {
    chmodSync(home, 0o700);
    const clone = join(home, 'sentinel-hook');
    // The working tree as it is (uncommitted edits included), without what a clone would not have.
    cpSync(ROOT, clone, {
      recursive: true,
      filter: (src) => !['node_modules', 'dist', '.git'].includes(relative(ROOT, src)),
    });
    // node_modules shared, not installed: the test file below never loads a runtime dependency (ssh2) as redis.
    symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'));
    assert.equal(statSync(home).mode & 0o777, 0o700);

    const build = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: clone, encoding: 'utf8', timeout: 60_000 });
    assert.equal(build.status, 0, build.stderr);

    // Not the outer runner's NODE_TEST_CONTEXT: the inner run must report as a top-level run does.
    const { NODE_TEST_CONTEXT: _ctx, ...env } = process.env;
    const r = spawnSync(
      process.execPath,
      // TAP, whatever the runner's default (Node 20 picks TAP without a terminal, Node 24 spec): its counts are read below.
      ['--import', 'tsx', '--test', '--test-reporter=tap', 'test/integration/exec-sudo.test.ts'],
      {
        cwd: clone,
        env,
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    const out = `${r.stdout}${r.stderr}`;
    assert.equal(r.status, 0, out);
    const pass = Number(/^# pass (\d+)$/m.exec(out)?.[1] ?? 0);
    assert.ok(pass > 0, out);
    assert.match(out, /^# fail 0$/m);
    assert.deepEqual(mountsOf(home), [], 'the inner run left a mount of the clone behind');
  } finally {
    for (const mountPoint of mountsOf(home)) {
      spawnSync('umount', ['-l', mountPoint]);
      try {
        rmdirSync(mountPoint);
      } catch {
        // not empty: still mounted; never delete through it
      }
    }
    rmSync(home, { recursive: true, force: true });
  }
});
