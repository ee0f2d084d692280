// Item 12 of issue 8: push problems that no retry can fix are found before the first connection and
// exit 2 with the fix (Sentinel drops the event instead of retrying it for hours).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const BIN = resolve(import.meta.dirname, '../../bin/sentinel-hook.cjs');
const EVENT = ['mymaster', 'leader', 'start', '10.0.0.1', '6379', '10.0.0.2', '6379'];
const dir = mkdtempSync(join(tmpdir(), 'sh-push-cred-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const goodKey = join(dir, 'id_ok');
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', goodKey]);
const encryptedKey = join(dir, 'id_encrypted');
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'a passphrase', '-f', encryptedKey]);
const garbledKey = join(dir, 'id_garbled');
writeFileSync(garbledKey, '-----BEGIN OPENSSH PRIVATE KEY-----\nbm90IGEga2V5\n-----END OPENSSH PRIVATE KEY-----\n', { mode: 0o600 });
const blob = readFileSync(`${goodKey}.pub`, 'utf8').split(' ')[1]!;
const knownHosts = join(dir, 'known_hosts');
writeFileSync(knownHosts, `[127.0.0.1]:1 ssh-ed25519 ${blob}\n`);
// A FIDO key: OpenSSH speaks it, the built-in ssh2 client does not.
const skKnownHosts = join(dir, 'known_hosts_sk');
writeFileSync(skKnownHosts, `[127.0.0.1]:1 sk-ssh-ed25519@openssh.com ${blob}\n`);

let n = 0;
function hook(push: string, extra: string[] = []) {
  const config = join(dir, `config-${++n}.yaml`);
  writeFileSync(
    config,
    `log: { file: ${join(dir, 'hook.log')} }\nlockDir: ${dir}\nmasters:\n  mymaster:\n    - type: hosts\n      names: [redis-master.example.com]\n      push: { targets: ["127.0.0.1:1"], user: deploy, ${push} }\n`,
    { mode: 0o644 },
  );
  const started = performance.now();
  const r = spawnSync(process.execPath, [BIN, '--config', config, ...extra, ...EVENT], { encoding: 'utf8', env: { PATH: process.env.PATH! }, timeout: 60_000 });
  return { code: r.status, stderr: r.stderr, ms: performance.now() - started };
}

const cases: [string, string, RegExp][] = [
  ['an encrypted private key', `identityFile: ${encryptedKey}, knownHostsFile: ${knownHosts}`, new RegExp(`identityFile ${encryptedKey} is encrypted.*ssh-keygen -p`)],
  ['a garbled private key', `identityFile: ${garbledKey}, knownHostsFile: ${knownHosts}`, new RegExp(`identityFile ${garbledKey} is not a private key`)],
  ['a missing private key', `identityFile: ${join(dir, 'nope')}, knownHostsFile: ${knownHosts}`, /cannot read identityFile .*nope \(ENOENT\)/],
  ['a missing known_hosts', `identityFile: ${goodKey}, knownHostsFile: ${join(dir, 'nope_hosts')}`, /cannot read knownHostsFile .*nope_hosts \(ENOENT\)/],
  ['only a host-key type the ssh transport cannot check', `identityFile: ${goodKey}, knownHostsFile: ${skKnownHosts}`, /sk-ssh-ed25519@openssh\.com.*127\.0\.0\.1.*(ed25519|transport rsync)/],
];
for (const [name, push, line] of cases) {
  test(`push with ${name}: exit 2 with the fix, before any connection, in a run and a dry-run`, () => {
    for (const extra of [[], ['--dry-run']]) {
      const r = hook(push, extra);
      assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, line);
      // Retries of an unreachable target would take seconds; the refusal comes first.
      assert.ok(r.ms < 10_000, `${r.ms} ms`);
    }
  });
}

test('push paths with a % (ssh would expand it as a token) are refused by the schema', () => {
  for (const push of [`identityFile: ${goodKey}%d, knownHostsFile: ${knownHosts}`, `identityFile: ${goodKey}, knownHostsFile: ${dir}/%u_hosts`]) {
    const r = hook(push, ['--dry-run']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /push\.(identityFile|knownHostsFile): .*%/);
  }
});

test('a good key and a known ed25519 host key pass the checks (the unreachable target is what fails: exit 1)', () => {
  const r = hook(`identityFile: ${goodKey}, knownHostsFile: ${knownHosts}, retries: 0, timeout: 500ms`);
  assert.equal(r.code, 1, r.stderr);
});
