// `sentinel-hook notify` (Sentinel's notification-script), the built CLI: the user's notify commands
// get the event, never the variable that holds the Sentinels' password.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type TestContext, test } from 'node:test';

const BIN = resolve(import.meta.dirname, '../../bin/sentinel-hook.cjs');

/** A temp dir with `config` (made from it) written as the hook wants it, removed after the test. */
function withConfig(t: TestContext, config: (dir: string) => Record<string, unknown>): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sh-notify-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'config.json');
  writeFileSync(path, JSON.stringify({ log: { file: join(dir, 'hook.log') }, lockDir: dir, ...config(dir) }), {
    mode: 0o600,
  });
  return { dir, path };
}

function notify(path: string, args: string[], env: NodeJS.ProcessEnv) {
  return spawnSync(process.execPath, [BIN, '--config', path, 'notify', ...args], {
    env: { PATH: '/usr/bin:/bin', ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
}

test("notify: the user command runs with the event, and without the Sentinels' password variable", (t) => {
  const { dir, path } = withConfig(t, (d) => ({
    // Nothing listens there: only the variable matters for this test.
    sentinels: { addresses: ['127.0.0.1:9'], password: { env: 'SENTINEL_PASSWORD' } },
    masters: { mymaster: [{ type: 'exec', run: ['/bin/true'] }] },
    // A test's own shell line, to write down what the command received.
    notify: [
      {
        run: [
          '/bin/sh',
          '-c',
          `env > ${join(d, 'seen')}; echo "args: $1 $2" >> ${join(d, 'seen')}`,
          'sh',
          '{eventType}',
          '{master}',
        ],
      },
    ],
  }));
  const seen = join(dir, 'seen');
  const r = notify(path, ['+switch-master', 'mymaster 10.0.0.1 6379 10.0.0.2 6379'], {
    SENTINEL_PASSWORD: 'hunter2-not-for-children',
  });
  assert.equal(r.status, 0, r.stderr);
  const text = readFileSync(seen, 'utf8');
  assert.match(text, /^args: \+switch-master mymaster$/m);
  assert.match(text, /^SENTINEL_HOOK_EVENT_TYPE=\+switch-master$/m);
  assert.doesNotMatch(text, /SENTINEL_PASSWORD|hunter2/);
  assert.doesNotMatch(readFileSync(join(dir, 'hook.log'), 'utf8'), /hunter2/);
});

test('notify -sdown whose reannounce cannot be planned (the password variable is not set): the user command still runs, exit 1 (retry)', (t) => {
  const { dir, path } = withConfig(t, (d) => ({
    sentinels: { addresses: ['127.0.0.1:9'], password: { env: 'SENTINEL_PASSWORD' } },
    masters: { mymaster: [{ type: 'vip', address: '10.213.9.100/24', interface: 'lo' }] },
    notify: [{ run: ['/usr/bin/touch', join(d, 'seen')] }],
  }));
  const seen = join(dir, 'seen');
  const r = notify(path, ['--', '-sdown', 'slave 10.213.9.1:6379 10.213.9.1 6379 @ mymaster 10.213.9.2 6379'], {});
  assert.equal(r.status, 1, r.stderr);
  assert.equal(spawnSync('test', ['-e', seen]).status, 0, "the user's notify command did not run");
  assert.match(
    readFileSync(join(dir, 'hook.log'), 'utf8'),
    /SENTINEL_PASSWORD is not set.*"msg":"reannounce could not be planned"/,
  );
});

test('hooks/reannounce: every event but -sdown ends in the shell (no Node started); -sdown goes on to sentinel-hook notify', () => {
  const hook = resolve(import.meta.dirname, '../../hooks/reannounce');
  // A node that does not exist: reaching it would fail with "node not found" and exit 2.
  const env = { SENTINEL_HOOK_NODE: '/nonexistent/node' };
  for (const type of ['+sdown', '+odown', '+switch-master', '+new-epoch', '-odown']) {
    const r = spawnSync(hook, [type, 'master mymaster 10.0.0.1 6379'], { env, encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 0, `${type}: ${r.stderr}`);
    assert.equal(r.stderr, '');
  }
  const sdown = spawnSync(hook, ['-sdown', 'slave 10.0.0.1:6379 10.0.0.1 6379 @ mymaster 10.0.0.2 6379'], {
    env,
    encoding: 'utf8',
    timeout: 10_000,
  });
  assert.equal(sdown.status, 2);
  assert.match(sdown.stderr, /node not found/);
});

test("notify: a failover event that starts while the user's own notify command runs does not stop it (only a re-announce stops)", async (t) => {
  const { dir, path } = withConfig(t, (d) => ({
    masters: { mymaster: [{ type: 'exec', run: ['/bin/true'] }] },
    notify: [{ run: ['/bin/sh', '-c', `sleep 0.6; echo done > ${join(d, 'alerted')}`] }],
  }));
  const { spawn } = await import('node:child_process');
  const { claimGeneration } = await import('../../src/state/generation.ts');
  const child = spawn(
    process.execPath,
    [BIN, '--config', path, 'notify', '+switch-master', 'mymaster 10.0.0.1 6379 10.0.0.2 6379'],
    {
      env: { PATH: '/usr/bin:/bin' },
      stdio: 'ignore',
    },
  );
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  // The hook's run for this master starts while the user's alert is still sleeping.
  await new Promise((r) => setTimeout(r, 300));
  claimGeneration(dir, 'mymaster').stop();
  assert.equal(await exited, 0);
  assert.equal(readFileSync(join(dir, 'alerted'), 'utf8'), 'done\n', 'the alert command ran to its end');
});
