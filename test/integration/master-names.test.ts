// Master names that come from outside (Sentinel's operands, an event description), the built CLI:
// names every JS object answers to are still just names, and a name that is not one never reaches a command.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type TestContext, test } from 'node:test';

const BIN = resolve(import.meta.dirname, '../../bin/sentinel-hook.cjs');

/** A temp dir with a config (mode 600, JSON) built from it; removed after the test. */
function withConfig(t: TestContext, config: (dir: string) => Record<string, unknown>): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sh-names-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'config.json');
  writeFileSync(path, JSON.stringify({ log: { file: join(dir, 'hook.log') }, lockDir: dir, ...config(dir) }), {
    mode: 0o600,
  });
  return { dir, path };
}

function cli(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], {
    env: { PATH: '/usr/bin:/bin' },
    encoding: 'utf8',
    timeout: 20_000,
  });
}

const INHERITED = ['constructor', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf'];

test('hook: a master named like a property of every JS object is only an unknown master: exit 2 "no actions configured", one line', (t) => {
  const { dir, path } = withConfig(t, (d) => ({
    masters: { mymaster: [{ type: 'exec', run: ['/usr/bin/touch', join(d, 'ran')] }] },
  }));
  for (const master of INHERITED) {
    const r = cli(['--config', path, master, 'leader', 'start', '10.0.0.1', '6379', '10.0.0.2', '6379']);
    assert.equal(r.status, 2, `${master}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`^sentinel-hook: no actions configured for master "${master}" \\(configured masters: mymaster\\)`),
    );
  }
  assert.equal(existsSync(join(dir, 'ran')), false);
});

test('notify -sdown about a master named like a property of every JS object: no reannounce to plan, the notify entries run, exit 0', (t) => {
  const { dir, path } = withConfig(t, (d) => ({
    masters: { mymaster: [{ type: 'vip', address: '10.213.9.100/24', interface: 'lo', reannounce: true }] },
    notify: [{ run: ['/bin/sh', '-c', `echo "$1" >> ${join(d, 'seen')}`, 'sh', '{master}'] }],
  }));
  for (const master of INHERITED) {
    const r = cli(['--config', path, 'notify', '--', '-sdown', `master ${master} 10.0.0.1 6379`]);
    assert.equal(r.status, 0, `${master}: ${r.stderr}`);
  }
  assert.equal(readFileSync(join(dir, 'seen'), 'utf8'), `${INHERITED.join('\n')}\n`);
  assert.doesNotMatch(
    readFileSync(join(dir, 'hook.log'), 'utf8'),
    /TypeError|is not a function|reannounce could not be planned/,
  );
});

test('notify: a description whose master name is not one (a leading "-", "/", "..") is refused, exit 2, one line; the notify entries never see it', (t) => {
  const { dir, path } = withConfig(t, (d) => ({
    masters: { mymaster: [{ type: 'exec', run: ['/bin/true'] }] },
    notify: [{ run: ['/bin/sh', '-c', `echo "$1" >> ${join(d, 'seen')}`, 'sh', '{master}'] }],
  }));
  const bad: [string, string][] = [
    ['+sdown', 'master -rf 10.0.0.1 6379'],
    ['+sdown', 'slave 10.0.0.3:6379 10.0.0.3 6379 @ ../../etc 10.0.0.1 6379'],
    ['+switch-master', '--help 10.0.0.1 6379 10.0.0.2 6379'],
    ['+odown', 'master a/b 10.0.0.1 6379 #quorum 2/2'],
    ['+sdown', 'slave 10.0.0.3:6379 10.0.0.3 6379 @'],
  ];
  for (const [type, description] of bad) {
    const r = cli(['--config', path, 'notify', '--', type, description]);
    assert.equal(r.status, 2, `${type} ${description}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(
      r.stderr,
      /^sentinel-hook: invalid master name .* in the .* event's description: expected a Sentinel master name/,
    );
  }
  assert.equal(existsSync(join(dir, 'seen')), false, 'the notify entry ran with a name that is not one');
  // The same events about a real master still go through.
  const ok = cli([
    '--config',
    path,
    'notify',
    '--',
    '+sdown',
    'slave 10.0.0.3:6379 10.0.0.3 6379 @ mymaster 10.0.0.1 6379',
  ]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(readFileSync(join(dir, 'seen'), 'utf8'), 'mymaster\n');
});
