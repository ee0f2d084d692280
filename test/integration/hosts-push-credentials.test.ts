// Item 12 of issue 8: push problems that no retry can fix exit 2 with the fix (Sentinel drops the
// event instead of retrying it for hours), before any connection. A dry-run refuses them at plan time;
// a real run finds them when the push step runs, after the actions before it (the VIP) have run.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

const BIN = resolve(import.meta.dirname, '../../bin/sentinel-hook.cjs');
const EVENT = ['mymaster', 'leader', 'start', '10.0.0.1', '6379', '10.0.0.2', '6379'];
const dir = mkdtempSync(join(tmpdir(), 'sh-push-cred-'));

// The only target: a loopback listener that counts connections and drops them (a connection that got
// this far failing would be retried, exit 1).
let connections = 0;
const server = createServer((s) => {
  connections++;
  s.destroy();
});
await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
const port = (server.address() as { port: number }).port;
const target = `127.0.0.1:${port}`;
test.after(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

const goodKey = join(dir, 'id_ok');
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', goodKey]);
const encryptedKey = join(dir, 'id_encrypted');
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'a passphrase', '-f', encryptedKey]);
// The older PEM format says so in a header ("Proc-Type: 4,ENCRYPTED").
const encryptedPem = join(dir, 'id_encrypted_pem');
execFileSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-m', 'PEM', '-N', 'a passphrase', '-f', encryptedPem]);
const garbledKey = join(dir, 'id_garbled');
writeFileSync(garbledKey, '-----BEGIN OPENSSH PRIVATE KEY-----\nbm90IGEga2V5\n-----END OPENSSH PRIVATE KEY-----\n', {
  mode: 0o600,
});
const blob = readFileSync(`${goodKey}.pub`, 'utf8').split(' ')[1]!;
const knownHosts = join(dir, 'known_hosts');
writeFileSync(knownHosts, `[127.0.0.1]:${port} ssh-ed25519 ${blob}\n`);
// A FIDO key: OpenSSH speaks it, the built-in ssh2 client does not.
const skKnownHosts = join(dir, 'known_hosts_sk');
writeFileSync(skKnownHosts, `[127.0.0.1]:${port} sk-ssh-ed25519@openssh.com ${blob}\n`);
// Records every load of ssh2 by the CLI (a plain runtime require in the bundle).
const spy = join(dir, 'spy.cjs');
writeFileSync(
  spy,
  `const { Module } = require('node:module');\nconst load = Module._load;\nModule._load = function (request, ...rest) {\n  if (request === 'ssh2') require('node:fs').appendFileSync(process.env.SPY_OUT, 'ssh2\\n');\n  return load.call(this, request, ...rest);\n};\n`,
);

let n = 0;
interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
  log: string;
  config: string;
  ssh2Loaded: boolean;
}

function run(config: string, extra: string[]): Promise<Omit<Run, 'config'>> {
  const spyOut = join(dir, `spy-${n}.out`);
  const log = join(dir, `hook-${n}.log`);
  const started = performance.now();
  // Not spawnSync: the listener must go on accepting while the hook runs.
  const child = spawn(process.execPath, ['-r', spy, BIN, '--config', config, ...extra, ...EVENT], {
    env: { PATH: process.env.PATH!, SPY_OUT: spyOut },
    timeout: 60_000,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((done) =>
    child.on('close', (code) =>
      done({
        code,
        stdout,
        stderr,
        ms: performance.now() - started,
        log: existsSync(log) ? readFileSync(log, 'utf8') : '',
        ssh2Loaded: existsSync(spyOut),
      }),
    ),
  );
}

/** `before`: actions that come first (YAML list items); `file`: this host's hosts file. */
function writeConfig(push: string, o: { before?: string; file?: string } = {}): string {
  const config = join(dir, `config-${++n}.yaml`);
  writeFileSync(
    config,
    `log: { file: ${join(dir, `hook-${n}.log`)} }\nlockDir: ${dir}\nmasters:\n  mymaster:\n${o.before ?? ''}    - type: hosts\n      names: [redis-master.example.com]\n${o.file ? `      file: ${o.file}\n` : ''}      push: { targets: ["${target}"], user: deploy, ${push} }\n`,
    { mode: 0o644 },
  );
  return config;
}

const cases: [string, string, RegExp][] = [
  [
    'an encrypted private key',
    `identityFile: ${encryptedKey}, knownHostsFile: ${knownHosts}`,
    new RegExp(`identityFile ${encryptedKey} is encrypted.*ssh-keygen -p`),
  ],
  [
    'a garbled private key',
    `identityFile: ${garbledKey}, knownHostsFile: ${knownHosts}`,
    new RegExp(`identityFile ${garbledKey} is not a private key`),
  ],
  [
    'a missing private key',
    `identityFile: ${join(dir, 'nope')}, knownHostsFile: ${knownHosts}`,
    /cannot read identityFile .*nope \(ENOENT\)/,
  ],
  [
    'a missing known_hosts',
    `identityFile: ${goodKey}, knownHostsFile: ${join(dir, 'nope_hosts')}`,
    /cannot read knownHostsFile .*nope_hosts \(ENOENT\)/,
  ],
  [
    'only a host-key type the ssh transport cannot check',
    `identityFile: ${goodKey}, knownHostsFile: ${skKnownHosts}`,
    /sk-ssh-ed25519@openssh\.com.*127\.0\.0\.1.*(ed25519|transport rsync)/,
  ],
];
for (const [name, push, line] of cases) {
  test(`push with ${name}: exit 2 with the fix, before any connection, in a run and a dry-run`, async () => {
    const config = writeConfig(push);
    const before = connections;
    const dry = await run(config, ['--dry-run']);
    assert.equal(dry.code, 2, dry.stderr);
    assert.equal(dry.stderr.trim().split('\n').length, 1, dry.stderr);
    assert.match(dry.stderr, line);
    const real = await run(config, []);
    assert.equal(real.code, 2, real.stderr + real.stdout);
    // The run's report (stdout) and its log both carry the problem and its fix.
    assert.match(real.stdout, new RegExp(`FAILED hosts#0: .*${line.source}`));
    assert.match(real.log, line);
    assert.equal(connections, before, 'no connection to the target');
    // Retries of a target would take seconds; the refusal comes first.
    assert.ok(real.ms < 10_000, `${real.ms} ms`);
  });
}

test('a push problem no retry can fix never stops the actions before it: the exec ran, exit 2 with the fix, no connection; a dry-run exits 2 naming it', async () => {
  const marker = join(dir, 'vip-moved');
  const config = writeConfig(`identityFile: ${encryptedKey}, knownHostsFile: ${knownHosts}`, {
    before: `    - type: exec\n      run: [/usr/bin/touch, ${marker}]\n`,
  });
  const before = connections;
  const dry = await run(config, ['--dry-run']);
  assert.equal(dry.code, 2, dry.stderr);
  assert.match(dry.stderr, new RegExp(`identityFile ${encryptedKey} is encrypted.*ssh-keygen -p`));
  assert.equal(existsSync(marker), false, 'a dry-run runs nothing');
  const real = await run(config, []);
  assert.equal(existsSync(marker), true, 'the action before the push ran');
  assert.equal(real.code, 2, real.stderr + real.stdout);
  assert.match(real.stdout, /^ok +exec#0: /m);
  assert.match(
    real.stdout,
    new RegExp(`FAILED hosts#1: .*identityFile ${encryptedKey} is encrypted.*ssh-keygen -p -N '' -f ${encryptedKey}`),
  );
  assert.equal(connections, before, 'no connection to the target');
});

test('transport rsync: an encrypted key (OpenSSH or PEM format) is found from its text, ssh2 never loaded; exit 2, no connection', async () => {
  const file = join(dir, 'hosts-rsync');
  writeFileSync(file, '127.0.0.1 localhost\n');
  for (const key of [encryptedKey, encryptedPem]) {
    const config = writeConfig(`identityFile: ${key}, knownHostsFile: ${knownHosts}, transport: rsync`, { file });
    const before = connections;
    for (const extra of [['--dry-run'], []]) {
      const r = await run(config, extra);
      assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stderr}${r.stdout}`);
      assert.match(r.stderr + r.stdout, new RegExp(`identityFile ${key} is encrypted.*ssh-keygen -p`));
      assert.equal(r.ssh2Loaded, false, `${extra.join(' ')}: ssh2 was loaded`);
    }
    assert.equal(connections, before, 'no connection to the target');
  }
});

test('push paths with a % (ssh would expand it as a token) are refused by the schema', async () => {
  for (const push of [
    `identityFile: ${goodKey}%d, knownHostsFile: ${knownHosts}`,
    `identityFile: ${goodKey}, knownHostsFile: ${dir}/%u_hosts`,
  ]) {
    const r = await run(writeConfig(push), ['--dry-run']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /push\.(identityFile|knownHostsFile): .*%/);
  }
});

test('a good key and a known ed25519 host key pass the checks (the target, which drops the connection, is what fails: exit 1)', async () => {
  const before = connections;
  const r = await run(
    writeConfig(`identityFile: ${goodKey}, knownHostsFile: ${knownHosts}, retries: 0, timeout: 500ms`),
    [],
  );
  assert.equal(r.code, 1, r.stderr + r.stdout);
  assert.ok(connections > before, 'the push connected');
});
