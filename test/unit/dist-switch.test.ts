// How a build is put in place and which old builds go (scripts/dist-switch.mjs), in a temp dir.
import assert from 'node:assert/strict';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { currentBuild, heldBuildDirs, makeBuildDir, pruneBuilds, switchDist } from '../../scripts/dist-switch.mjs';

function tempRoot(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'sh-dist-switch-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A build made at `minute` past 10:00, holding one file that says which it is. */
function built(root: string, minute: number): string {
  const dir = makeBuildDir(root, new Date(Date.UTC(2026, 11, 3, 10, minute)));
  writeFileSync(join(dir, 'sentinel-hook.cjs'), `build ${minute}`);
  return dir;
}

const idOf = (path: string) => {
  const st = statSync(path);
  return `${st.dev}:${st.ino}`;
};

test('the first build: dist becomes a relative link to it, and there was no previous build', (t) => {
  const root = tempRoot(t);
  const first = built(root, 1);
  assert.equal(switchDist(root, first), undefined);
  assert.equal(readlinkSync(join(root, 'dist')), basename(first));
  assert.equal(readFileSync(join(root, 'dist/sentinel-hook.cjs'), 'utf8'), 'build 1');
});

test('a rebuild replaces the link and names the build it replaced; no temp link is left', (t) => {
  const root = tempRoot(t);
  const first = built(root, 1);
  switchDist(root, first);
  const second = built(root, 2);
  assert.equal(switchDist(root, second), first);
  assert.equal(currentBuild(root), second);
  assert.deepEqual(readdirSync(root).sort(), ['dist', basename(first), basename(second)].sort());
});

test('a dist/ directory of the old layout is moved aside whole, as the previous build', (t) => {
  const root = tempRoot(t);
  mkdirSync(join(root, 'dist'));
  writeFileSync(join(root, 'dist/sentinel-hook.cjs'), 'old layout');
  const next = built(root, 2);
  const aside = switchDist(root, next);
  assert.ok(aside && /^dist\.19700101T000000000Z-\d+$/.test(basename(aside)), aside);
  assert.equal(readFileSync(join(aside, 'sentinel-hook.cjs'), 'utf8'), 'old layout');
  assert.equal(readFileSync(join(root, 'dist/sentinel-hook.cjs'), 'utf8'), 'build 2');
});

test('pruning keeps the builds named and those held open, and removes the other builds only', (t) => {
  const root = tempRoot(t);
  const [b1, b2, b3, b4] = [1, 2, 3, 4].map((m) => built(root, m)) as [string, string, string, string];
  switchDist(root, b3);
  const previous = switchDist(root, b4);
  writeFileSync(join(root, 'dist.notes'), 'not a build');
  mkdirSync(join(root, 'dist.backup'));
  const removed = pruneBuilds(root, [b4, previous], new Set([idOf(b1)]));
  assert.deepEqual(removed, [basename(b2)]);
  for (const kept of [b1, b3, b4, join(root, 'dist.notes'), join(root, 'dist.backup')]) assert.ok(existsSync(kept));
});

test('without /proc nobody can tell which builds are in use: nothing is pruned', (t) => {
  const root = tempRoot(t);
  const old = built(root, 1);
  switchDist(root, built(root, 2));
  assert.deepEqual(pruneBuilds(root, [currentBuild(root)], undefined), []);
  assert.ok(existsSync(old));
});

test("a dead build's temp link goes; a live one's stays", (t) => {
  const root = tempRoot(t);
  const b1 = built(root, 1);
  switchDist(root, b1);
  // pid 2^22 + 1 is above Linux's pid_max, so never alive.
  symlinkSync(basename(b1), join(root, `dist.link-${2 ** 22 + 1}`));
  symlinkSync(basename(b1), join(root, `dist.link-${process.pid}`));
  assert.deepEqual(pruneBuilds(root, [b1], new Set()), [`dist.link-${2 ** 22 + 1}`]);
  assert.ok(existsSync(join(root, `dist.link-${process.pid}`)));
});

test('a build directory this process holds open is seen as held', { skip: !existsSync('/proc/self/fd') }, (t) => {
  const root = tempRoot(t);
  const dir = built(root, 1);
  const fd = openSync(dir, 'r');
  try {
    assert.ok(heldBuildDirs()?.has(idOf(dir)));
  } finally {
    closeSync(fd);
  }
  assert.equal(heldBuildDirs()?.has(idOf(dir)), false);
});
