// Item 18 of issue 8: `check` finds on this host what a run would fail on, and the dry-run's text
// shows every problem its JSON has.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

const BIN = resolve(import.meta.dirname, '../../bin/sentinel-hook.cjs');
const EVENT = ['mymaster', 'leader', 'start', '10.0.0.1', '6379', '10.0.0.2', '6379'];
const dir = mkdtempSync(join(tmpdir(), 'sh-check-host-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function config(actions: string): string {
  const file = join(dir, `config-${++n}.yaml`);
  writeFileSync(file, `log: { file: ${join(dir, 'hook.log')} }\nlockDir: ${dir}\nmasters:\n  mymaster:\n${actions}`, {
    mode: 0o644,
  });
  return file;
}
function cli(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH! },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const missingKey = join(dir, 'no_such_key');
const cases: [string, string, RegExp][] = [
  [
    'an exec program that does not exist',
    '    - type: exec\n      run: [/usr/bin/no-such-program]\n',
    /masters\.mymaster\[0\] \(exec\): program \/usr\/bin\/no-such-program not found/,
  ],
  [
    'an interface that does not exist',
    '    - type: vip\n      address: 10.0.0.100/24\n      interface: eth9\n      privilege: none\n',
    /masters\.mymaster\[0\] \(vip\): interface eth9 does not exist on this host/,
  ],
  [
    'a missing identityFile',
    `    - type: hosts\n      names: [redis-master.example.com]\n      push: { targets: [app1.example.com], user: deploy, identityFile: ${missingKey}, knownHostsFile: ${join(dir, 'kh')} }\n`,
    /masters\.mymaster\[0\] \(hosts\): cannot read identityFile .*no_such_key \(ENOENT\)/,
  ],
  [
    'a missing local hosts file',
    `    - type: hosts\n      names: [redis-master.example.com]\n      file: ${join(dir, 'no_hosts')}\n`,
    /masters\.mymaster\[0\] \(hosts\): .*no_hosts.*ENOENT/,
  ],
];
for (const [name, actions, line] of cases) {
  test(`check on this host: ${name} is a problem (exit 2), not "config OK"`, () => {
    const r = cli(['check', '--config', config(actions)]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout, /config OK/);
    assert.match(r.stdout + r.stderr, line);
  });
}

test('check on this host: a config whose every part is here is "config OK" (exit 0)', () => {
  const hosts = join(dir, 'hosts');
  writeFileSync(hosts, '127.0.0.1 localhost\n');
  const r = cli([
    'check',
    '--config',
    config(
      `    - type: exec\n      run: [/bin/true]\n    - type: hosts\n      names: [redis-master.example.com]\n      file: ${hosts}\n`,
    ),
  ]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^config OK/);
});

test('dry-run text shows a local hosts file it cannot read, as --json does', () => {
  const file = config(
    `    - type: hosts\n      names: [redis-master.example.com]\n      file: ${join(dir, 'no_hosts')}\n`,
  );
  const json = cli(['--config', file, '--dry-run', '--json', ...EVENT]);
  assert.match(json.stdout, /unreadable \(ENOENT\)/);
  const text = cli(['--config', file, '--dry-run', ...EVENT]);
  assert.match(text.stdout, /no_hosts.*unreadable \(ENOENT\)/);
});
