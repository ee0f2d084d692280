import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { parseEvent } from '../../src/event.ts';
import { checkFreshness, type SentinelsConfig } from '../../src/sentinel/client.ts';
import type { SentinelTlsConfig } from '../../src/sentinel/tls.ts';
import { issueCert, LoopbackSentinel, makeTestCa, type TestCert } from '../support/loopback-redis.ts';

// A real Debian redis-sentinel serving clients on TLS only (port 0, tls-port), signed by a test CA.
const lab = new LoopbackSentinel({ tls: true });
const dir = mkdtempSync(join(tmpdir(), 'sh-tls-'));
let otherCa: TestCert;
let client: TestCert;
let strangerClient: TestCert;
test.before(
  async () => {
    await lab.start();
    otherCa = makeTestCa(dir, 'other-ca');
    client = issueCert(lab.ca!, dir, 'hook-client');
    strangerClient = issueCert(otherCa, dir, 'stranger-client');
  },
  { timeout: 120_000 },
);
test.after(() => {
  lab.stop();
  rmSync(dir, { recursive: true, force: true });
});

const address = () => `127.0.0.1:${lab.sentinelPort}`;
const event = (toPort: number) =>
  parseEvent(['mymaster', 'observer', 'start', '127.0.0.1', '1', '127.0.0.1', String(toPort)]);
const guard = (tls: SentinelTlsConfig | undefined, addresses = [address()]): SentinelsConfig => ({
  addresses,
  timeout: 1000,
  settle: 300,
  ...(tls ? { tls } : {}),
});

const bin = resolve(import.meta.dirname, '../../bin/sentinel-hook.cjs');
const marker = join(dir, 'acted');
const log = join(dir, 'hook.log');

/** The hook as Sentinel runs it, for an event whose to-ip:port is 127.0.0.1:`toPort`; `tls` is the YAML of sentinels.tls. */
function hook(tls: string | undefined, toPort: number) {
  rmSync(marker, { force: true });
  rmSync(log, { force: true });
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `log: { file: ${log} }\nlockDir: ${dir}\nsentinels:\n  addresses: ["${address()}"]\n  timeout: 1s\n  settle: 300ms\n${tls ? `  tls: ${tls}\n` : ''}masters:\n  mymaster:\n    - type: exec\n      run: [/bin/sh, -c, 'echo acted > ${marker}']\n`,
  );
  chmodSync(config, 0o600);
  const r = spawnSync(
    process.execPath,
    [bin, '--config', config, 'mymaster', 'observer', 'start', '127.0.0.1', '1', '127.0.0.1', String(toPort)],
    {
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
      timeout: 30_000,
    },
  );
  return {
    status: r.status,
    stderr: r.stderr,
    acted: existsSync(marker),
    log: existsSync(log) ? readFileSync(log, 'utf8') : '',
  };
}

function assertOneLine(stderr: string, pattern: RegExp): void {
  assert.equal(stderr.trim().split('\n').length, 1, stderr);
  assert.match(stderr, pattern);
}

test('with sentinels.tls the hook gets a verdict from a TLS-only Sentinel: a current event acts, a stale one changes nothing', {
  timeout: 60_000,
}, () => {
  const current = hook(`{ ca: ${lab.ca!.cert} }`, lab.masterPort);
  assert.equal(current.status, 0, current.stderr);
  assert.equal(current.acted, true, 'the current event was acted on');
  assert.match(current.log, /"freshness":"current"/);

  const stale = hook(`{ ca: ${lab.ca!.cert} }`, lab.replicaPort);
  assert.equal(stale.status, 0, stale.stderr);
  assert.equal(stale.acted, false, 'a stale event changes nothing');
  assert.match(stale.log, /stale event/);
});

test('a CA that did not sign the Sentinel certificate: exit 2, one line naming the Sentinel and TLS, nothing run', {
  timeout: 60_000,
}, () => {
  const r = hook(`{ ca: ${otherCa.cert} }`, lab.masterPort);
  assert.equal(r.status, 2, r.stderr);
  assertOneLine(
    r.stderr,
    new RegExp(`^sentinel-hook: Sentinel ${address()}: TLS: .*\\(check sentinels\\.tls\\.ca\\)\\n$`),
  );
  assert.equal(r.acted, false);
});

test('a CA file others can write, or a key others can read: exit 2 naming the file and the fix, nothing run', {
  timeout: 60_000,
}, () => {
  const openCa = join(dir, 'open-ca.crt');
  copyFileSync(lab.ca!.cert, openCa);
  chmodSync(openCa, 0o666);
  const ca = hook(`{ ca: ${openCa} }`, lab.masterPort);
  assert.equal(ca.status, 2, ca.stderr);
  assertOneLine(
    ca.stderr,
    new RegExp(
      `sentinels\\.tls\\.ca file ${openCa} is writable by users other than its owner \\(mode 666\\).*chmod go-w ${openCa}`,
    ),
  );
  assert.equal(ca.acted, false);

  const openKey = join(dir, 'open-client.key');
  copyFileSync(client.key, openKey);
  chmodSync(openKey, 0o644);
  const key = hook(`{ ca: ${lab.ca!.cert}, cert: ${client.cert}, key: ${openKey} }`, lab.masterPort);
  assert.equal(key.status, 2, key.stderr);
  assertOneLine(
    key.stderr,
    new RegExp(
      `sentinels\\.tls\\.key file ${openKey} is readable by users other than its owner \\(mode 644\\).*chmod go-rwx ${openKey}`,
    ),
  );
  assert.equal(key.acted, false);
});

test('without sentinels.tls a TLS-only Sentinel gives no answer: the hook acts on the arguments, as before', {
  timeout: 60_000,
}, () => {
  // An event the Sentinel would call stale: with no answer, the hook cannot know, and acts.
  const r = hook(undefined, lab.replicaPort);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.acted, true);
  assert.match(r.log, /no Sentinel answered; acting on the arguments/);
});

test('the certificate is checked against the address as written: its IP, or its name (the servername default)', async () => {
  const ca = lab.ca!.cert;
  const current = event(lab.masterPort);
  assert.equal((await checkFreshness(current, ['127.0.0.1'], guard({ ca }), {})).verdict, 'current');
  // A name the certificate carries, reached through its address: verified against the name.
  const byName = guard({ ca }, [`localhost:${lab.sentinelPort}`]);
  assert.equal(
    (await checkFreshness(current, ['127.0.0.1'], byName, {}, { resolve: async () => ['127.0.0.1'] })).verdict,
    'current',
  );
  // A name it does not carry: refused, and the fix names servername.
  const otherName = guard({ ca }, [`sentinel.lab:${lab.sentinelPort}`]);
  await assert.rejects(
    checkFreshness(current, ['127.0.0.1'], otherName, {}, { resolve: async () => ['127.0.0.1'] }),
    (err: Error & { exitCode?: number; line(): string }) => {
      assert.equal(err.exitCode, 2);
      assert.match(
        err.line(),
        new RegExp(`^Sentinel sentinel\\.lab:${lab.sentinelPort}: TLS: .*sentinel\\.lab.*sentinels\\.tls\\.servername`),
      );
      return true;
    },
  );
  // servername set: that name is what counts, whatever the address.
  assert.equal(
    (await checkFreshness(current, ['127.0.0.1'], guard({ ca, servername: 'localhost' }), {})).verdict,
    'current',
  );
  await assert.rejects(
    checkFreshness(current, ['127.0.0.1'], guard({ ca, servername: 'sentinel.lab' }), {}),
    (err: Error & { line(): string }) => {
      assert.match(err.line(), /TLS: .*sentinel\.lab.*\(set sentinels\.tls\.servername/);
      return true;
    },
  );
});

test('a client certificate the Sentinel CA signed is accepted; one from another CA is refused with exit 2', async () => {
  const ca = lab.ca!.cert;
  const current = event(lab.masterPort);
  assert.equal(
    (await checkFreshness(current, ['127.0.0.1'], guard({ ca, cert: client.cert, key: client.key }), {})).verdict,
    'current',
  );
  await assert.rejects(
    checkFreshness(current, ['127.0.0.1'], guard({ ca, cert: strangerClient.cert, key: strangerClient.key }), {}),
    (err: Error & { exitCode?: number; line(): string }) => {
      assert.equal(err.exitCode, 2);
      assert.match(
        err.line(),
        new RegExp(
          `^Sentinel ${address()}: TLS: the Sentinel refused our certificate \\(.*unknown ca\\) \\(check sentinels\\.tls\\.cert and key`,
        ),
      );
      return true;
    },
  );
});

test('beside a Sentinel with a verdict, one whose certificate does not verify does not stop the run', async () => {
  // Same Sentinel twice, once by a name its certificate lacks: the verdict of the other is followed.
  const both = guard({ ca: lab.ca!.cert }, [`sentinel.lab:${lab.sentinelPort}`, address()]);
  const f = await checkFreshness(
    event(lab.replicaPort),
    ['127.0.0.1'],
    both,
    {},
    { resolve: async () => ['127.0.0.1'] },
  );
  assert.equal(f.verdict, 'stale');
  assert.ok('refused' in f.answers[0]!, JSON.stringify(f.answers));
});
