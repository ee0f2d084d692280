// Item 14 of issue 8: the local hosts `file:` through the built CLI — symlinks and bytes glibc ignores.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

const BIN = resolve(import.meta.dirname, '../../bin/sentinel-hook.cjs');
const EVENT = ['mymaster', 'leader', 'start', '10.0.0.1', '6379', '10.0.0.2', '6379'];
const NAME = 'redis-master.example.com';
const OLD = `127.0.0.1 localhost\n10.0.0.1 ${NAME}\n`;
const NEW = `127.0.0.1 localhost\n10.0.0.2 ${NAME}\n`;

function setup(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'sh-hosts-local-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function hook(dir: string, file: string) {
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `log: { file: ${join(dir, 'hook.log')} }\nlockDir: ${dir}\nmasters:\n  mymaster:\n    - type: hosts\n      names: [${NAME}]\n      file: ${file}\n`,
    { mode: 0o644 },
  );
  const r = spawnSync(process.execPath, [BIN, '--config', config, ...EVENT], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH! },
    timeout: 30_000,
  });
  return { code: r.status, stderr: r.stderr };
}

test('hosts file: a symlink in a safe directory stays a link, and its target gets the edit', (t) => {
  const dir = setup(t);
  const real = join(dir, 'real-hosts');
  writeFileSync(real, OLD);
  const link = join(dir, 'hosts');
  symlinkSync(real, link);
  const r = hook(dir, link);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(lstatSync(link).isSymbolicLink(), 'the link is still a link');
  assert.equal(readFileSync(real, 'utf8'), NEW);
});

test('hosts file: a symlink in a directory others can write is refused (exit 2, one line), nothing written', (t) => {
  const dir = setup(t);
  const safe = join(dir, 'safe');
  mkdirSync(safe);
  const real = join(safe, 'real-hosts');
  writeFileSync(real, OLD);
  const open = join(dir, 'open');
  mkdirSync(open);
  chmodSync(open, 0o777);
  const link = join(open, 'hosts');
  symlinkSync(real, link);
  const r = hook(dir, link);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(`hosts file directory ${open} is writable by users other than its owner.*chmod go-w ${open}`),
  );
  assert.ok(lstatSync(link).isSymbolicLink());
  assert.equal(readFileSync(real, 'utf8'), OLD);
});

test('hosts file: a NUL byte after the name ends the line as for glibc: that line is repointed, none appended', (t) => {
  const dir = setup(t);
  const file = join(dir, 'hosts');
  writeFileSync(file, `127.0.0.1 localhost\n10.0.0.1 ${NAME}\0junk\n`, 'latin1');
  const r = hook(dir, file);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(file, 'latin1'), `127.0.0.1 localhost\n10.0.0.2 ${NAME}\0junk\n`);
});
