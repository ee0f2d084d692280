// `sentinel-hook sudoers`, the built CLI as root: a root rule only for a program that nobody but root
// can change — the file, and every directory above its real path — and never through "..".

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';

const BIN = resolve(import.meta.dirname, '../../bin/sentinel-hook.cjs');
const skip = process.getuid?.() !== 0 && 'needs root (files owned by root and by another uid)';

const dir = mkdtempSync(join(tmpdir(), 'sh-sudoers-prog-'));
chmodSync(dir, 0o755);
after(() => rmSync(dir, { recursive: true, force: true }));

/** A program at `path` (directories made on the way, root's, mode 755). */
function program(path: string, mode = 0o755): string {
  mkdirSync(resolve(path, '..'), { recursive: true, mode: 0o755 });
  copyFileSync('/bin/true', path);
  chmodSync(path, mode);
  return path;
}

let n = 0;
function sudoers(run: string[]) {
  const config = join(dir, `config-${++n}.json`);
  writeFileSync(config, JSON.stringify({ masters: { mymaster: [{ type: 'exec', run, privilege: 'sudo' }] } }), {
    mode: 0o644,
  });
  return spawnSync(process.execPath, [BIN, 'sudoers', '--user', 'redis', '--config', config], {
    encoding: 'utf8',
    env: { PATH: '/usr/bin:/bin' },
    timeout: 20_000,
  });
}

function assertRefused(r: ReturnType<typeof sudoers>, message: RegExp) {
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stdout, '', 'no rule printed');
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, message);
}

test('sudoers refuses a program in a directory others may write (mode 777): they could replace what root runs', {
  skip,
}, () => {
  const open = join(dir, 'open');
  const prog = program(join(open, 'prog'));
  chmodSync(open, 0o777);
  assertRefused(
    sudoers([prog]),
    new RegExp(`directory ${open} is writable by users other than its owner \\(mode 777\\).*chmod go-w ${open}`),
  );
});

test('sudoers refuses a program others may write, or that a user other than root owns', { skip }, () => {
  assertRefused(
    sudoers([program(join(dir, 'w', 'prog'), 0o757)]),
    /program .*\/w\/prog is writable by users other than root \(mode 757\).*chmod go-w/,
  );
  const owned = program(join(dir, 'o', 'prog'));
  chownSync(owned, 4242, 0);
  assertRefused(sudoers([owned]), /program .*\/o\/prog is owned by uid 4242, not root.*chown root/);
});

test('sudoers follows a symlink to the real program and checks there: a link in a safe place to a program in an open one is refused', {
  skip,
}, () => {
  const open = join(dir, 'open2');
  const prog = program(join(open, 'prog'));
  chmodSync(open, 0o777);
  const link = join(dir, 'safe', 'link');
  mkdirSync(join(dir, 'safe'), { mode: 0o755 });
  symlinkSync(prog, link);
  assertRefused(
    sudoers([link]),
    new RegExp(`program directory ${open} is writable .*could replace ${link}.*chmod go-w ${open}`),
  );
});

test('a program name with ".." is refused by the config itself (it escaped the system-directories lookup)', {
  skip,
}, () => {
  const prog = program(join(dir, 'dots', 'prog'));
  assertRefused(sudoers([`../../..${prog}`]), /masters\.mymaster\[0\]\.run\[0\]: .*"\.\."/);
});

test('a root-owned program in root-owned directories is pinned', { skip }, () => {
  const prog = program(join(dir, 'good', 'prog'));
  const r = sudoers([prog, 'arg']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^redis ALL=\\(root\\) NOPASSWD: ${prog} arg$`, 'm'));
});
