// What a person or a child process gets to see: readable log lines, failure lines, the environment.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { validateConfig } from '../../src/config/load.ts';
import { parseEvent } from '../../src/event.ts';
import { commandFailure } from '../../src/launch.ts';
import { readable, redactSecret } from '../../src/log.ts';
import { runHook } from '../../src/pipeline/run.ts';
import { FakeRunner, fakeDeps } from '../support/fakes.ts';

test('the readable log escapes control characters from network-supplied text (a terminal would obey them)', () => {
  const line = JSON.stringify({
    level: 30,
    time: '2026-01-01T00:00:00.000Z',
    msg: 'sentinel event\x1b]0;owned\x07',
    description: 'master m\x1b[2J\r\x00 10.0.0.1 6379',
    nested: { text: '\x1b[31mred' },
  });
  const out = readable(line);
  assert.ok(out.endsWith('\n'));
  assert.doesNotMatch(out.slice(0, -1), /[\x00-\x1f\x7f]/, `raw control characters: ${JSON.stringify(out)}`);
  assert.match(out, /description=master m\\x1b\[2J\\x0d\\x00 10\.0\.0\.1 6379/);
  assert.match(out, /sentinel event\\x1b\]0;owned\\x07/);
});

test('redaction cuts out the secret, or a prefix of it long enough to be it, never a host name that shares a few letters', () => {
  const pw = 'redis-sentinel-pw';
  assert.equal(redactSecret('redis-2.example.com', pw), 'redis-2.example.com');
  assert.equal(redactSecret('sentinel-redis-pw.example', pw), 'sentinel-redis-pw.example');
  assert.equal(
    redactSecret(`ERR AUTH ${pw} called without any password configured`, pw),
    'ERR AUTH [redacted] called without any password configured',
  );
  // Redis echoes arguments cut at 128 bytes: what is left of the password is still cut out.
  assert.equal(redactSecret("with args beginning with: 'redis-sen' ", pw), "with args beginning with: '[redacted]' ");
  assert.equal(
    redactSecret("with args beginning with: 'redis-s' ", pw),
    "with args beginning with: 'redis-s' ",
    'seven characters of it tell nothing',
  );
  // A short password is cut out whole, wherever it is.
  assert.equal(redactSecret('xpw12y pw1', 'pw12'), 'x[redacted]y pw1');
});

test('a command killed at its timeout says whole milliseconds (the timeout is what is left of the run)', () => {
  const killed = commandFailure(
    ['/bin/sleep', '30'],
    { exitCode: undefined, signal: 'SIGKILL', stderr: '', timedOut: true, spawnError: undefined },
    false,
    1998.223942,
  );
  assert.equal(killed.code, 'command-timeout');
  assert.equal(killed.message, "/bin/sleep 30 killed after 1998 ms by its step timeout or the run's deadline");
});

test("no child sees the Sentinels' password variable, not even the host-name lookup of the to-ip (getent)", async () => {
  const lockDir = mkdtempSync(join(tmpdir(), 'sh-hygiene-'));
  try {
    const seen: (string | undefined)[] = [];
    const env: NodeJS.ProcessEnv = { SH_SENTINEL_PW: 'hunter2' };
    const deps = fakeDeps({
      runner: new FakeRunner([{ argv: ['/bin/true'] }]),
      env,
      addresses: ['10.0.0.2'],
      // Stands in for getent, a child started with the process's environment at that moment.
      resolve: async (host) => {
        seen.push(env.SH_SENTINEL_PW);
        return host === 'redis-2.lab' ? ['10.0.0.2'] : ['10.0.0.1'];
      },
      askSentinel: async (address) => ({ address, master: { ip: '10.0.0.2', port: 6380 } }),
    });
    const config = validateConfig(
      {
        lockDir,
        sentinels: { addresses: ['10.0.0.9:26379'], password: { env: 'SH_SENTINEL_PW' } },
        masters: { mymaster: [{ type: 'exec', run: ['/bin/true'] }] },
      },
      'test.yaml',
    );
    const r = await runHook(
      parseEvent(['mymaster', 'leader', 'start', 'redis-1.lab', '6379', 'redis-2.lab', '6380']),
      config,
      deps,
      { dryRun: false },
    );
    assert.equal(r.exitCode, 0);
    assert.equal(r.freshness?.verdict, 'current', 'the password was still read for the Sentinels');
    assert.ok(seen.length >= 1);
    assert.deepEqual(
      seen.filter((v) => v !== undefined),
      [],
      'a lookup ran while the password variable was set',
    );
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
});
