// `sentinel-hook systemd` from the built CLI, and what systemd itself says of the result:
// `systemd-analyze verify` exits 0 on unknown keys and misspelt values (it prints them), so any line
// it prints fails the test. The watch and reconcile units start the real node and this checkout's bin
// (verify checks that ExecStart's program exists); the hook drop-in is verified beside Debian's own
// redis-sentinel.service, as systemd would merge them.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { test } from 'node:test';
import { ensurePackages } from '../lab/index.ts';
import { DEBIAN_SENTINEL_UNIT } from '../support/debian-units.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/sentinel-hook.cjs');
const dir = mkdtempSync(join(tmpdir(), 'sh-systemd-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const hostsFile = join(dir, 'hosts');
writeFileSync(hostsFile, '127.0.0.1 localhost\n');
const SENTINELS = 'sentinels: { addresses: ["127.0.0.1:26379"] }\n';
const CONFIGS: Record<string, string> = {
  'vip, hosts file and exec': `log: { file: ${join(dir, 'log', 'hook.log')} }\nlockDir: ${join(dir, 'lock')}\n${SENTINELS}masters:\n  mymaster:\n    - type: vip\n      address: 10.213.9.10/24\n      interface: eth0\n    - type: hosts\n      names: [redis-master]\n      file: ${hostsFile}\n    - type: exec\n      run: [/bin/echo, "{toIp}"]\n`,
  'exec only': `lockDir: ${join(dir, 'lock')}\n${SENTINELS}masters:\n  mymaster:\n    - type: exec\n      run: [/bin/true]\n`,
  'exec with sudo': `lockDir: ${join(dir, 'lock')}\n${SENTINELS}masters:\n  mymaster:\n    - type: exec\n      run: [/bin/true]\n      privilege: sudo\n`,
  // /run/sentinel-hook: the units' RuntimeDirectory=, not a tmpfiles.d line.
  'exec, default directories': `${SENTINELS}masters:\n  mymaster:\n    - type: exec\n      run: [/bin/true]\n`,
};

let n = 0;
function config(yaml: string): string {
  const file = join(dir, `config-${++n}.yaml`);
  writeFileSync(file, yaml, { mode: 0o644 });
  return file;
}

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The printed files, split on the comment line naming where each goes. */
function files(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let current: string | undefined;
  for (const line of text.split('\n')) {
    const where = /^# ---- (\/\S+)$/.exec(line)?.[1];
    if (where) {
      current = where;
      out.set(where, '');
    } else if (current !== undefined) out.set(current, `${out.get(current)}${line}\n`);
  }
  return out;
}

function verify(cwd: string, units: string[]): string {
  const r = spawnSync('systemd-analyze', ['verify', ...units.map((u) => `./${u}`)], {
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return `${r.stdout}${r.stderr}${r.status === 0 ? '' : `exit ${r.status}`}`;
}

test("preflight: systemd-analyze and Debian's redis-sentinel (the stock unit starts /usr/bin/redis-sentinel)", async () => {
  assert.ok(existsSync('/usr/bin/systemd-analyze'), 'systemd-analyze is missing (apt-get install systemd)');
  if (!existsSync('/usr/bin/redis-sentinel')) await ensurePackages(['redis-sentinel']);
});

for (const [name, yaml] of Object.entries(CONFIGS)) {
  test(`--watch (${name}): the watch and reconcile units pass systemd-analyze verify without a word; the tmpfiles line or RuntimeDirectory= owns the lock dir`, () => {
    const r = cli(['systemd', '--config', config(yaml)]);
    assert.equal(r.code, 0, r.stderr);
    const got = files(r.stdout);
    assert.deepEqual(
      [...got.keys()],
      [
        '/etc/systemd/system/sentinel-hook-watch.service',
        '/etc/systemd/system/sentinel-hook-reconcile.service',
        '/etc/tmpfiles.d/sentinel-hook.conf',
      ],
    );
    const unitDir = mkdtempSync(join(dir, 'units-'));
    for (const [path, text] of got) writeFileSync(join(unitDir, basename(path)), text);
    assert.equal(verify(unitDir, ['sentinel-hook-watch.service', 'sentinel-hook-reconcile.service']), '');
    const tmpfiles = got.get('/etc/tmpfiles.d/sentinel-hook.conf')!;
    const units = [
      got.get('/etc/systemd/system/sentinel-hook-watch.service')!,
      got.get('/etc/systemd/system/sentinel-hook-reconcile.service')!,
    ];
    if (yaml.includes('lockDir:')) {
      assert.match(tmpfiles, new RegExp(`^d ${join(dir, 'lock')} 0700 redis redis -$`, 'm'));
      for (const unit of units) assert.doesNotMatch(unit, /^RuntimeDirectory/m);
    } else {
      assert.doesNotMatch(tmpfiles, /^d \/run\//m);
      assert.match(tmpfiles, /^d \/var\/lib\/sentinel-hook 0700 redis redis -$/m);
      for (const unit of units)
        assert.match(
          unit,
          /^RuntimeDirectory=sentinel-hook\nRuntimeDirectoryMode=0700\nRuntimeDirectoryPreserve=yes$/m,
        );
    }
    assert.match(units[0]!, new RegExp(`^ExecStart=${process.execPath} ${BIN} watch --config /\\S+$`, 'm'));
    assert.match(
      units[1]!,
      new RegExp(`^ExecStart=${process.execPath} ${BIN} reconcile --boot --log-to journal --config /\\S+$`, 'm'),
    );
    assert.doesNotMatch(units[1]!, /^Before=/m);
  });

  test(`--hook (${name}): the drop-in beside Debian's redis-sentinel.service passes systemd-analyze verify without a word`, () => {
    const r = cli(['systemd', '--hook', '--config', config(yaml)]);
    assert.equal(r.code, 0, r.stderr);
    const got = files(r.stdout);
    assert.deepEqual([...got.keys()], ['/etc/systemd/system/redis-sentinel.service.d/sentinel-hook.conf']);
    const unitDir = mkdtempSync(join(dir, 'hook-'));
    writeFileSync(join(unitDir, 'redis-sentinel.service'), DEBIAN_SENTINEL_UNIT);
    mkdirSync(join(unitDir, 'redis-sentinel.service.d'));
    writeFileSync(
      join(unitDir, 'redis-sentinel.service.d', 'sentinel-hook.conf'),
      got.get('/etc/systemd/system/redis-sentinel.service.d/sentinel-hook.conf')!,
    );
    assert.equal(verify(unitDir, ['redis-sentinel.service']), '');
  });
}

test('a drop-in that systemd would reject is caught: a misspelt key makes verify speak (the check is not vacuous)', () => {
  const unitDir = mkdtempSync(join(dir, 'bad-'));
  writeFileSync(join(unitDir, 'redis-sentinel.service'), DEBIAN_SENTINEL_UNIT);
  mkdirSync(join(unitDir, 'redis-sentinel.service.d'));
  writeFileSync(join(unitDir, 'redis-sentinel.service.d', 'x.conf'), '[Service]\nExecPath=/usr/bin/node\n');
  assert.match(verify(unitDir, ['redis-sentinel.service']), /Unknown key 'ExecPath'/);
});

test('a value that cannot go into unit text (a blank in a path) is refused: exit 2, one line', () => {
  const yaml = CONFIGS['exec only']!.replace(`lockDir: ${join(dir, 'lock')}`, `lockDir: "${join(dir, 'lock dir')}"`);
  const r = cli(['systemd', '--config', config(yaml)]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^sentinel-hook: lockDir ".*lock dir" cannot go into a unit file .*\n$/);
});

test('--watch without "sentinels" is refused with the way out (exit 2); --hook and --watch together too', () => {
  const yaml = CONFIGS['exec only']!.replace(SENTINELS, '');
  const r = cli(['systemd', '--config', config(yaml)]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /need "sentinels".*sentinel-hook systemd --hook/);
  const both = cli(['systemd', '--watch', '--hook', '--config', config(yaml)]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--watch and --hook exclude each other/);
});
