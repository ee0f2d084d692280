import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  fingerprintOf,
  hostKeyPolicy,
  judgeHostKey,
  knownHostsName,
  parseKnownHosts,
} from '../../src/actions/hosts/knownhosts.ts';
import { rsyncArgv } from '../../src/actions/hosts/rsync.ts';
import { parsePushTarget, remoteCommand, rsyncDestination, shellQuote } from '../../src/actions/hosts/target.ts';

const KEY_A = 'AAAAC3NzaC1lZDI1NTE5AAAAIG3mFz3H2lYpDqqZ0NnCwQ3uZr2bO1tH4b8QeJ0m8k1a';
const KEY_B = 'AAAAC3NzaC1lZDI1NTE5AAAAIKx0QmQeZ8U5h3Yb2c0dWmP6Ff3a8P1sR5nQmX7t1Lq9';
const blob = (k: string) => Buffer.from(k, 'base64');

test('known_hosts: plain, [host]:port, comma lists and wildcards match; other hosts do not', () => {
  const keys = parseKnownHosts(
    `# comment\napp1.example.com,10.0.1.1 ssh-ed25519 ${KEY_A}\n[10.0.1.2]:2222 ssh-ed25519 ${KEY_B}\n*.lab ssh-ed25519 ${KEY_A}\n`,
  );
  assert.equal(hostKeyPolicy(keys, 'app1.example.com', 22).keys.length, 1);
  assert.equal(hostKeyPolicy(keys, 'APP1.example.com', 22).keys.length, 1);
  assert.equal(hostKeyPolicy(keys, '10.0.1.1', 22).keys.length, 1);
  assert.equal(hostKeyPolicy(keys, '10.0.1.2', 2222).keys.length, 1);
  assert.equal(hostKeyPolicy(keys, '10.0.1.2', 22).keys.length, 0, 'port 22 entry is the bare host, not [host]:port');
  assert.equal(hostKeyPolicy(keys, 'db.lab', 22).keys.length, 1);
  assert.equal(hostKeyPolicy(keys, 'app1.example.com', 2200).keys.length, 0);
  assert.equal(knownHostsName('fd00::1', 22), 'fd00::1');
  assert.equal(knownHostsName('fd00::1', 2222), '[fd00::1]:2222');
});

test('known_hosts: hashed entries written by the real ssh-keygen -H are matched, for host and [host]:port', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kh-'));
  try {
    const file = join(dir, 'known_hosts');
    execFileSync('sh', [
      '-c',
      'printf "%s\\n" "$1" "$2" > "$3"',
      'sh',
      `app1.example.com ssh-ed25519 ${KEY_A}`,
      `[10.0.1.2]:2222 ssh-ed25519 ${KEY_B}`,
      file,
    ]);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file], { stdio: 'ignore' });
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^\|1\|/m);
    assert.doesNotMatch(text, /app1\.example\.com/);
    const keys = parseKnownHosts(text);
    assert.deepEqual(judgeHostKey(hostKeyPolicy(keys, 'app1.example.com', 22), blob(KEY_A), file), { ok: true });
    assert.deepEqual(judgeHostKey(hostKeyPolicy(keys, '10.0.1.2', 2222), blob(KEY_B), file), { ok: true });
    assert.equal(hostKeyPolicy(keys, 'app2.example.com', 22).keys.length, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('host key: different → CHANGED with fingerprint; unknown → refused; revoked → refused; negation wins', () => {
  const keys = parseKnownHosts(
    `app1 ssh-ed25519 ${KEY_A}\n@revoked app2 ssh-ed25519 ${KEY_B}\napp2 ssh-ed25519 ${KEY_B}\n@cert-authority app3 ssh-ed25519 ${KEY_A}\n*.lab,!bad.lab ssh-ed25519 ${KEY_A}\n`,
  );
  const changed = judgeHostKey(hostKeyPolicy(keys, 'app1', 22), blob(KEY_B), '/kh');
  assert.equal(changed.ok, false);
  assert.match(
    (changed as { reason: string }).reason,
    new RegExp(`host key of app1 CHANGED: it presented ${fingerprintOf(blob(KEY_B)).replace(/[+/]/g, '\\$&')}`),
  );
  assert.match(
    (judgeHostKey(hostKeyPolicy(keys, 'nope', 22), blob(KEY_A), '/kh') as { reason: string }).reason,
    /no host key for nope in \/kh; refused/,
  );
  assert.match(
    (judgeHostKey(hostKeyPolicy(keys, 'app2', 22), blob(KEY_B), '/kh') as { reason: string }).reason,
    /@revoked/,
  );
  assert.equal(hostKeyPolicy(keys, 'app3', 22).keys.length, 0, 'a CA key is not a host key');
  assert.equal(hostKeyPolicy(keys, 'bad.lab', 22).keys.length, 0);
  assert.deepEqual(hostKeyPolicy(parseKnownHosts(`h ssh-rsa ${KEY_A}\n`), 'h', 22).algorithms, [
    'rsa-sha2-512',
    'rsa-sha2-256',
    'ssh-rsa',
  ]);
});

test('known_hosts markers: only exactly @revoked and @cert-authority, one at most; a line with any other marker is ignored, never trusted', () => {
  for (const marker of ['@REVOKED', '@revoke', '@Revoked', '@cert-Authority', '@', '@foo']) {
    const keys = parseKnownHosts(`${marker} app1 ssh-ed25519 ${KEY_A}\n`);
    const verdict = judgeHostKey(hostKeyPolicy(keys, 'app1', 22), blob(KEY_A), '/kh');
    assert.equal(verdict.ok, false, `${marker}: the key must not be trusted`);
    assert.match((verdict as { reason: string }).reason, /no host key for app1/, marker);
  }
  // Two markers: OpenSSH rejects the line (not "revoked", not trusted).
  assert.equal(
    hostKeyPolicy(parseKnownHosts(`@revoked @cert-authority app1 ssh-ed25519 ${KEY_A}\n`), 'app1', 22).keys.length,
    0,
  );
  // Exactly @revoked: refused even though another line trusts the same key.
  const revoked = parseKnownHosts(`app1 ssh-ed25519 ${KEY_A}\n@revoked app1 ssh-ed25519 ${KEY_A}\n`);
  assert.match(
    (judgeHostKey(hostKeyPolicy(revoked, 'app1', 22), blob(KEY_A), '/kh') as { reason: string }).reason,
    /@revoked/,
  );
  // A revoked key with a tab after the marker is still revoked.
  assert.equal(
    judgeHostKey(
      hostKeyPolicy(parseKnownHosts(`@revoked\tapp1 ssh-ed25519 ${KEY_A}\napp1 ssh-ed25519 ${KEY_A}\n`), 'app1', 22),
      blob(KEY_A),
      '/kh',
    ).ok,
    false,
  );
});

test('known_hosts: host names match whatever their case in the config, hashed entries too (OpenSSH lowercases first)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kh-'));
  try {
    const file = join(dir, 'known_hosts');
    // What ssh-keyscan and ssh write: the lowercased name, then hashed by ssh-keygen -H.
    execFileSync('sh', [
      '-c',
      'printf "%s\\n" "$1" "$2" > "$3"',
      'sh',
      `app1.example.com ssh-ed25519 ${KEY_A}`,
      `[app2.example.com]:2222 ssh-ed25519 ${KEY_B}`,
      file,
    ]);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file], { stdio: 'ignore' });
    const keys = parseKnownHosts(readFileSync(file, 'utf8'));
    assert.deepEqual(judgeHostKey(hostKeyPolicy(keys, 'App1.Example.COM', 22), blob(KEY_A), file), { ok: true });
    assert.deepEqual(judgeHostKey(hostKeyPolicy(keys, 'APP2.example.com', 2222), blob(KEY_B), file), { ok: true });
    const target = parsePushTarget('App1.Example.COM:22')!;
    assert.deepEqual(judgeHostKey(hostKeyPolicy(keys, target.host, target.port), blob(KEY_A), file), { ok: true });
    assert.equal(target.label, 'App1.Example.COM:22', 'the label stays as written');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fingerprint matches ssh-keygen -l', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fp-'));
  try {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'k')], { stdio: 'ignore' });
    const pub = readFileSync(join(dir, 'k.pub'), 'utf8').split(' ')[1]!;
    const expected = execFileSync('ssh-keygen', ['-l', '-f', join(dir, 'k.pub')], { encoding: 'utf8' }).split(' ')[1];
    assert.equal(fingerprintOf(blob(pub)), expected);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('push targets: accepted and refused forms', () => {
  assert.deepEqual(parsePushTarget('app1.example.com'), {
    label: 'app1.example.com',
    host: 'app1.example.com',
    port: 22,
  });
  assert.deepEqual(parsePushTarget('10.0.1.2:2222'), { label: '10.0.1.2:2222', host: '10.0.1.2', port: 2222 });
  assert.deepEqual(parsePushTarget('[fd00::5]:2200'), { label: '[fd00::5]:2200', host: 'fd00::5', port: 2200 });
  assert.deepEqual(parsePushTarget('fd00::5'), { label: 'fd00::5', host: 'fd00::5', port: 22 });
  for (const bad of [
    '-oProxyCommand=x',
    'app1:0',
    'app1:65536',
    'app1:22:33',
    '[10.0.0.1]:22',
    '[fd00::5',
    'a b',
    'user@host',
    'host;rm',
    '',
    '10.0.0.1:',
    'app1:-1',
    '[fd00::5]:x',
  ]) {
    assert.equal(parsePushTarget(bad), undefined, bad);
  }
  assert.equal(
    rsyncDestination('deploy', parsePushTarget('[fd00::5]:2200')!, '/etc/hosts'),
    'deploy@[fd00::5]:/etc/hosts',
  );
});

test('remote quoting: whatever the argument, the shell hands it back as exactly one literal argument', () => {
  assert.equal(shellQuote("it's"), `'it'\\''s'`);
  fc.assert(
    fc.property(
      fc.array(
        fc.string({ unit: 'binary', minLength: 0, maxLength: 20 }).map((s) => s.replace(/\0/g, '')),
        { minLength: 1, maxLength: 4 },
      ),
      (args) => {
        // The remote side runs `sh -c <command>`; printf prints each argument framed so we can split them back.
        const r = spawnSync('/bin/sh', ['-c', `printf '%s\\036' ${remoteCommand(args)}`], { encoding: 'utf8' });
        assert.equal(r.status, 0);
        assert.deepEqual(r.stdout.split('\x1e').slice(0, -1), args);
      },
    ),
    { numRuns: 200 },
  );
});

test('rsync argv: host-key rules on, only our key and known_hosts, "--" before operands', () => {
  const argv = rsyncArgv(
    {
      rsync: '/usr/bin/rsync',
      ssh: '/usr/bin/ssh',
      user: 'deploy',
      identityFile: '/k/id',
      knownHostsFile: '/k/kh',
      file: '/srv/hosts',
      remotePath: '/etc/hosts',
      after: undefined,
    },
    parsePushTarget('10.0.1.2:2222')!,
    5000,
  );
  assert.deepEqual(argv, [
    '/usr/bin/rsync',
    '--checksum',
    '--itemize-changes',
    '--backup',
    '--suffix=.sentinel-hook.bak',
    '--timeout=5',
    '-e',
    '/usr/bin/ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/k/kh -o GlobalKnownHostsFile=/dev/null -o IdentitiesOnly=yes -o ConnectTimeout=5 -i /k/id -p 2222',
    '--',
    '/srv/hosts',
    'deploy@10.0.1.2:/etc/hosts',
  ]);
});
