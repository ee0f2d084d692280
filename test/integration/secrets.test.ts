// The Sentinels' password never reaches any output, whatever a Sentinel replies: a Redis 5 Sentinel
// answers AUTH with "-ERR unknown command 'AUTH', with args beginning with: '<password>'".

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type TestContext, test } from 'node:test';
import { scriptedSentinel } from '../support/loopback-redis.ts';

const BIN = resolve(import.meta.dirname, '../../bin/sentinel-hook.cjs');
// Long enough that Redis truncates it in its error text (args are cut at 128 characters), and
// without repeats, so that any 8 bytes of it found in an output can only have come from it.
const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
const SECRET = Array.from({ length: 150 }, (_, i) => ALPHABET[(i * 7 + ((i * i) >> 3)) % ALPHABET.length]).join('');
/** Redis's own wording, with its own truncation of the arguments it echoes. */
const unknownCommand = (command: string[]) => {
  let args = '';
  for (const arg of command.slice(1)) args += `'${arg.slice(0, Math.max(0, 128 - args.length))}' `;
  return `-ERR unknown command '${command[0]}', with args beginning with: ${args}\r\n`;
};

/** Every piece of the secret a reader could use: the whole, or any 8 bytes of it. */
function assertNoSecret(what: string, text: string, secret = SECRET): void {
  for (let i = 0; i + 8 <= secret.length; i++) {
    const piece = secret.slice(i, i + 8);
    assert.ok(
      !text.includes(piece),
      `${what} contains part of the password (${JSON.stringify(piece)} at ${i}): ${text}`,
    );
  }
}

function run(args: string[], secret = SECRET): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    // Asynchronous: the fake Sentinel lives in this process and must answer while the hook runs.
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH!, SH_SECRET: secret },
      timeout: 30_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

function setUp(t: TestContext, address: string, masters: string, notify = '') {
  const dir = mkdtempSync(join(tmpdir(), 'sh-secret-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, 'hook.log');
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `log: { file: ${log}, level: debug }\nlockDir: ${dir}\nsentinels:\n  addresses: ["${address}"]\n  password: { env: SH_SECRET }\n  settle: 200ms\n${notify}masters:\n  mymaster:\n${masters}`,
  );
  chmodSync(config, 0o600);
  return { dir, log, config };
}

test('no byte of the password in stdout, stderr, the log or --json, whatever the Sentinel replies (hook, dry-run, notify, refusal)', {
  timeout: 60_000,
}, async (t) => {
  const master = ['*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n'].join('');
  // Redis 5: no AUTH command; it echoes what it was sent. Then answers the real question.
  const redis5 = await scriptedSentinel((c) => (c[0] === 'AUTH' ? unknownCommand(c) : master));
  t.after(() => redis5.close());
  // Any peer at all: one that puts the password in every reply it gives.
  const hostile = await scriptedSentinel((c) => `-NOPERM no permission for ${c.join(' ')} (${SECRET})\r\n`);
  t.after(() => hostile.close());
  const EVENT = ['mymaster', 'leader', 'start', '127.0.0.1', '6379', '127.0.0.1', '6380'];

  const exec = (marker: string) => `    - type: exec\n      run: [/bin/sh, -c, 'echo ran > ${marker}']\n`;
  const runs: [string, string, Awaited<ReturnType<typeof run>>][] = [];
  {
    const { dir, log, config } = setUp(t, redis5.address, exec('/dev/null'));
    const marker = join(dir, 'ran');
    writeFileSync(config, readFileSync(config, 'utf8').replace('/dev/null', marker));
    const real = await run(['--config', config, ...EVENT]);
    assert.equal(real.status, 0, real.stderr);
    assert.ok(existsSync(marker), 'the hook ran its action');
    runs.push(['hook', log, real]);
    runs.push(['--dry-run', log, await run(['--config', config, '--dry-run', ...EVENT])]);
    const json = await run(['--config', config, '--dry-run', '--json', ...EVENT]);
    assert.ok(JSON.parse(json.stdout).freshness.answers.length > 0, 'the --json output carries the answers');
    runs.push(['--dry-run --json', log, json]);
    runs.push(['--json', log, await run(['--config', config, '--json', ...EVENT])]);
    assert.ok(
      redis5.seen.some((c) => c[0] === 'AUTH' && c.at(-1) === SECRET),
      'the fake was really sent the password',
    );
  }
  {
    const { log, config } = setUp(
      t,
      redis5.address,
      "    - { type: vip, address: '10.213.9.100/24', interface: lo }\n",
      'notify:\n  - run: [/bin/true]\n',
    );
    const r = await run([
      '--config',
      config,
      'notify',
      '--',
      '-sdown',
      'slave 10.213.9.1:6379 10.213.9.1 6379 @ mymaster 10.213.9.2 6379',
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(readFileSync(log, 'utf8'), /is this host the master/, 'notify asked the Sentinel');
    runs.push(['notify', log, r]);
  }
  {
    const { log, config } = setUp(t, hostile.address, exec('/dev/null'));
    const refused = await run(['--config', config, ...EVENT]);
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /NOPERM/);
    runs.push(['refused', log, refused]);
    runs.push(['refused --dry-run --json', log, await run(['--config', config, '--dry-run', '--json', ...EVENT])]);
  }
  for (const [what, log, r] of runs) {
    assertNoSecret(`${what}: stdout`, r.stdout);
    assertNoSecret(`${what}: stderr`, r.stderr);
    assertNoSecret(`${what}: log file`, readFileSync(log, 'utf8'));
  }
});

test('a master host name that shares a few characters with the password is not redacted: the event is current, the hook acts', {
  timeout: 60_000,
}, async (t) => {
  // With announce-hostnames the Sentinels answer names. "lhost" (5 characters) is in both the
  // password and "localhost"; a name must stay whole or no answer matches the to-ip and the failover
  // is dropped as stale. The password has no 8 characters in common with anything the hook prints.
  const secret = `${SECRET.slice(0, 60)}lhost${SECRET.slice(60, 120)}`;
  const sentinel = await scriptedSentinel((c) =>
    c[0] === 'AUTH' ? '+OK\r\n' : '*2\r\n$9\r\nlocalhost\r\n$4\r\n6380\r\n',
  );
  t.after(() => sentinel.close());
  const { dir, log, config } = setUp(
    t,
    sentinel.address,
    "    - type: exec\n      run: [/bin/sh, -c, 'echo ran > /dev/null']\n",
  );
  const marker = join(dir, 'ran');
  writeFileSync(config, readFileSync(config, 'utf8').replace('/dev/null', marker));
  const EVENT = ['mymaster', 'leader', 'start', '127.0.0.1', '6379', 'localhost', '6380'];
  const runs: [string, Awaited<ReturnType<typeof run>>][] = [];
  const real = await run(['--config', config, ...EVENT], secret);
  assert.equal(real.status, 0, real.stderr);
  assert.ok(existsSync(marker), `the hook ran its action: ${readFileSync(log, 'utf8')}`);
  assert.match(readFileSync(log, 'utf8'), /"freshness":"current"/);
  runs.push(['hook', real]);
  const json = await run(['--config', config, '--dry-run', '--json', ...EVENT], secret);
  assert.equal(JSON.parse(json.stdout).freshness.verdict, 'current', json.stdout);
  assert.match(json.stdout, /"ip": ?"localhost"/, 'the answer is shown as the Sentinel gave it');
  runs.push(['--dry-run --json', json]);
  assert.ok(
    sentinel.seen.some((c) => c[0] === 'AUTH' && c.at(-1) === secret),
    'the fake was really sent the password',
  );
  for (const [what, r] of runs) {
    assertNoSecret(`${what}: stdout`, r.stdout, secret);
    assertNoSecret(`${what}: stderr`, r.stderr, secret);
  }
  assertNoSecret('log file', readFileSync(log, 'utf8'), secret);
});
