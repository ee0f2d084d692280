// The least-privilege ACL users docs/reference/config.md documents (issue 15 §5.3), against a real
// redis-sentinel 7 on loopback: each user is made at runtime with exactly the documented line (`ACL SETUSER`), and the mode it
// is for runs with it: the hook line serves a hook call and reconcile, the watch line a watch that acts
// on a real failover. Without `sentinel|master` reconcile says which command was refused, where, and
// the rule to add; with the hook line alone watch says the same of its subscription. The action is an
// exec with reconcile: true that appends "{toIp}:{toPort}" to a file.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { waitFor } from '../lab/index.ts';
import { LoopbackSentinel } from '../support/loopback-redis.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/sentinel-hook.cjs');
const PASSWORD = 'acl-test-password';

/** The two `user sentinel-hook …` lines of docs/reference/config.md, in order: the hook's, then watch's. */
function documentedUsers(): { hook: string[]; watch: string[] } {
  const lines = readFileSync(join(ROOT, 'docs/reference/config.md'), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('user sentinel-hook '));
  assert.equal(lines.length, 2, `docs/reference/config.md documents two ACL lines: ${lines.join(' | ')}`);
  // `user NAME RULES…` in sentinel.conf is `ACL SETUSER NAME RULES…` at runtime.
  const rules = (line: string) =>
    line
      .split(' ')
      .slice(2)
      .map((r) => r.replace('>PASSWORD', `>${PASSWORD}`));
  return { hook: rules(lines[0]!), watch: rules(lines[1]!) };
}

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : [];
}

test('the documented ACL lines: the hook line serves the hook and reconcile, the watch line a watch; a rule missing is named with the fix', {
  timeout: 180_000,
}, async (t) => {
  const sentinel = new LoopbackSentinel();
  const dir = mkdtempSync(join(tmpdir(), 'sh-acl-'));
  const children: ChildProcess[] = [];
  t.after(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    sentinel.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await sentinel.start();
  const master = sentinel.masterName;
  const users = documentedUsers();
  // Exactly the documented rules, from a clean user each time.
  const setUser = async (rules: string[]) =>
    assert.equal(await sentinel.sentinel([['ACL', 'SETUSER', 'sentinel-hook', 'reset', ...rules]]), 'OK');
  const lockDir = join(dir, 'run');
  mkdirSync(lockDir, { mode: 0o700 });
  const out = join(dir, 'acted');
  const log = join(dir, 'hook.log');
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    [
      `lockDir: ${lockDir}`,
      `stateDir: ${join(dir, 'lib')}`,
      `log: { file: ${log} }`,
      'sentinels:',
      `  addresses: ["127.0.0.1:${sentinel.sentinelPort}"]`,
      '  username: sentinel-hook',
      '  password: { env: SH_ACL_PASSWORD }',
      '  settle: 0',
      'masters:',
      `  ${master}:`,
      '    - type: exec',
      `      run: [/bin/sh, -c, 'echo "$0" >> ${out}', "{toIp}:{toPort}"]`,
      '      reconcile: true',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const env = { ...process.env, SH_ACL_PASSWORD: PASSWORD };
  const cli = (args: string[]) =>
    spawnSync(process.execPath, [BIN, '--config', config, ...args], { encoding: 'utf8', timeout: 60_000, env });
  const reconcile = () =>
    spawnSync(process.execPath, [BIN, 'reconcile', '--config', config], { encoding: 'utf8', timeout: 60_000, env });
  const startWatch = () => {
    const child = spawn(process.execPath, [BIN, 'watch', '--config', config, '--interval', '60s'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    children.push(child);
    const said: string[] = [];
    child.stdout!.on('data', (b: Buffer) => said.push(b.toString()));
    child.stderr!.on('data', (b: Buffer) => said.push(b.toString()));
    const exited = new Promise((r) => child.once('exit', r));
    return {
      said: () => said.join(''),
      stop: async () => {
        child.kill('SIGTERM');
        await exited;
      },
    };
  };

  // 1. The hook line: reconcile converges, a hook call acts; nothing refused.
  await setUser(users.hook);
  const r = reconcile();
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /converged/);
  assert.doesNotMatch(r.stdout, /NOPERM|REFUSED/);
  assert.deepEqual(lines(out), [`127.0.0.1:${sentinel.masterPort}`]);
  const hook = cli([
    master,
    'leader',
    'start',
    '127.0.0.1',
    String(sentinel.replicaPort),
    '127.0.0.1',
    String(sentinel.masterPort),
  ]);
  assert.equal(hook.status, 0, hook.stdout + hook.stderr);
  assert.doesNotMatch(readFileSync(log, 'utf8'), /NOPERM/);

  // 2. The hook line without sentinel|master: reconcile is unsure and says what to add, for which user.
  await setUser(users.hook.filter((rule) => rule !== '+sentinel|master'));
  const refused = reconcile();
  assert.equal(refused.status, 1, refused.stdout + refused.stderr);
  assert.match(
    refused.stdout,
    new RegExp(
      `Sentinel 127\\.0\\.0\\.1:${sentinel.sentinelPort} refused SENTINEL MASTER \\(NOPERM\\): add \\+sentinel\\|master for user sentinel-hook`,
    ),
  );
  assert.match(refused.stdout, /ACL SETUSER sentinel-hook \+sentinel\|master/);

  // 3. watch with the hook line: its subscription is refused, and it says which rule is missing.
  await setUser(users.hook);
  const unsubscribed = startWatch();
  await waitFor(
    'the refused subscription said',
    () =>
      /refused SUBSCRIBE \+promoted-slave \+switch-master \(NOPERM\)/.test(unsubscribed.said()) ? true : undefined,
    { timeoutMs: 15_000, intervalMs: 50 },
  );
  assert.match(unsubscribed.said(), /add \+subscribe &\+promoted-slave &\+switch-master for user sentinel-hook/);
  await unsubscribed.stop();

  // 4. The watch line: subscribed, and a real failover acted on in-process.
  await setUser(users.watch);
  const watch = startWatch();
  await waitFor('watch subscribed', () => (watch.said().includes('"msg":"subscribed"') ? true : undefined), {
    timeoutMs: 15_000,
    intervalMs: 50,
  });
  const before = lines(out).length;
  const port = await sentinel.failover();
  await waitFor('watch acted on the failover', () => (lines(out).at(-1) === `127.0.0.1:${port}` ? true : undefined), {
    timeoutMs: 20_000,
    intervalMs: 50,
  });
  assert.ok(lines(out).length > before);
  assert.doesNotMatch(watch.said(), /NOPERM/);
  await watch.stop();
});
