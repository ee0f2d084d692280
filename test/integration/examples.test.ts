// Item 20 of issue 8: every shipped example is what a careful operator would paste, and `check` and a
// dry-run accept each example config (paths this machine lacks swapped for fixtures; Sentinels on loopback).

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/sentinel-hook.cjs');
const EXAMPLES = join(ROOT, 'examples');
const dir = mkdtempSync(join(tmpdir(), 'sh-examples-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

// The lab's config is the lab's (test/lab exampleHook; its hosts have eth0): the others are for real hosts.
const configs = readdirSync(EXAMPLES)
  .filter((d) => d !== 'lab')
  .flatMap((d) =>
    readdirSync(join(EXAMPLES, d))
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => join(d, f)),
  );

const key = join(dir, 'id_ed25519');
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
const knownHosts = join(dir, 'known_hosts');
writeFileSync(knownHosts, '');
const hostsFile = join(dir, 'hosts');
writeFileSync(hostsFile, '127.0.0.1 localhost\n');

// As an install has it (tmpfiles.d): the lock directory belongs to Sentinel's user, which the
// examples with privilege: sudo are written for.
const lockDir = join(dir, 'lock');
mkdirSync(lockDir, { mode: 0o700 });
if (spawnSync('id', ['-u', 'redis']).status === 0) spawnSync('chown', ['redis:redis', lockDir]);

/** The example as this machine can run it: its files swapped for fixtures, its Sentinels on a closed loopback port. */
function sandboxed(name: string): string {
  const text = readFileSync(join(EXAMPLES, name), 'utf8')
    .replaceAll('/var/lib/redis/.ssh/id_ed25519', key)
    .replaceAll('/var/lib/redis/.ssh/known_hosts', knownHosts)
    .replaceAll('/usr/share/redis_sentinel/hosts', hostsFile)
    .replaceAll('/etc/hosts', hostsFile)
    .replaceAll('/var/log/sentinel-hook/hook.log', join(dir, 'hook.log'))
    .replace(/\b(?:\d+\.){3}\d+:26379\b/g, '127.0.0.1:9');
  const file = join(dir, name.replace('/', '-'));
  writeFileSync(file, `lockDir: ${lockDir}\n${text}`, { mode: 0o644 });
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

for (const name of configs) {
  test(`example ${name}: check says OK and a dry-run plans without error`, () => {
    const file = sandboxed(name);
    const check = cli(['check', '--config', file]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /^config OK/);
    const dry = cli([
      '--config',
      file,
      '--dry-run',
      'mymaster',
      'leader',
      'start',
      '192.168.0.1',
      '6379',
      '192.168.0.2',
      '6379',
    ]);
    assert.equal(dry.code, 0, dry.stdout + dry.stderr);
    assert.doesNotMatch(dry.stdout, /warning: .*unreadable/);
  });
}

test('examples for real hosts pin no interface (Debian 12 names them ens3, enp0s3…; auto-detection finds it)', () => {
  for (const name of configs) assert.doesNotMatch(readFileSync(join(EXAMPLES, name), 'utf8'), /^\s*interface:/m, name);
});

test('examples with several Sentinels set "sentinels", so late retries of an overtaken failover are dropped', () => {
  for (const name of configs) {
    const text = readFileSync(join(EXAMPLES, name), 'utf8');
    if (!/three sentinels|all three hosts/i.test(text)) continue;
    const config = parse(text) as { sentinels?: { addresses?: string[] } };
    assert.equal(config.sentinels?.addresses?.length, 3, name);
  }
});

test('examples/vip/sentinel.conf adds only what a packaged sentinel.conf lacks (no port, logfile or sentinel monitor)', () => {
  const active = readFileSync(join(EXAMPLES, 'vip/sentinel.conf'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() && !l.trimStart().startsWith('#'));
  for (const line of active) assert.doesNotMatch(line, /^\s*(port|logfile|sentinel monitor)\b/, line);
  assert.ok(active.some((l) => /^sentinel client-reconfig-script mymaster /.test(l)));
});
