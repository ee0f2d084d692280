// Options a command does not take, the built CLI: refused with exit 2 before anything runs, never
// accepted and ignored (a `notify --dry-run` that really runs the notify entries).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type TestContext, test } from 'node:test';

const BIN = resolve(import.meta.dirname, '../../bin/sentinel-hook.cjs');
const EVENT = ['mymaster', 'leader', 'start', '10.0.0.1', '6379', '10.0.0.2', '6379'];

/** A config whose exec action and notify entry each leave a file behind when they run. */
function withConfig(t: TestContext): { dir: string; path: string; ran: () => string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'sh-options-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'config.json');
  const config = {
    log: { file: join(dir, 'hook.log') },
    lockDir: dir,
    masters: { mymaster: [{ type: 'exec', run: ['/usr/bin/touch', join(dir, 'exec-ran')] }] },
    notify: [{ run: ['/usr/bin/touch', join(dir, 'notify-ran')] }],
  };
  writeFileSync(path, JSON.stringify(config), { mode: 0o600 });
  return { dir, path, ran: () => ['exec-ran', 'notify-ran'].filter((f) => existsSync(join(dir, f))) };
}

function cli(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], {
    env: { PATH: '/usr/bin:/bin' },
    encoding: 'utf8',
    timeout: 20_000,
  });
}

function assertRefused(r: ReturnType<typeof cli>, message: RegExp, what: string) {
  assert.equal(r.status, 2, `${what}: ${r.stderr}`);
  assert.equal(r.stderr.trim().split('\n').length, 1, `${what}: ${r.stderr}`);
  assert.match(r.stderr, message, what);
  assert.equal(r.stdout, '', what);
}

test('an option the command does not take is exit 2, one line, nothing run: notify --dry-run never runs the notify entries', (t) => {
  const { path, ran } = withConfig(t);
  const notifyEvent = ['+switch-master', 'mymaster 10.0.0.1 6379 10.0.0.2 6379'];
  const cases: [string[], RegExp][] = [
    [['--config', path, 'notify', '--dry-run', ...notifyEvent], /--dry-run/],
    [['--config', path, '--dry-run', 'notify', ...notifyEvent], /notify does not take --dry-run/],
    [['-n', '--config', path, 'notify', ...notifyEvent], /notify does not take --dry-run/],
    [['--config', path, 'check', '--json'], /--json/],
    [['--config', path, '--json', 'check'], /check does not take --json/],
    [['schema', '--dry-run'], /--dry-run/],
    [['--json', 'schema'], /schema does not take --json/],
    [['--config', path, 'sudoers', '--user', 'redis', '--json'], /--json/],
    [['--config', path, '--dry-run', 'sudoers', '--user', 'redis'], /sudoers does not take --dry-run/],
  ];
  for (const [args, message] of cases) assertRefused(cli(args), message, args.join(' '));
  assert.deepEqual(ran(), []);
});

test('notify -sdown typed without "--": exit 2, and the one line says to put "--" first', (t) => {
  const { path, ran } = withConfig(t);
  const r = cli(['--config', path, 'notify', '-sdown', 'master mymaster 10.0.0.1 6379']);
  assertRefused(r, /unknown option '-sdown'.*sentinel-hook notify -- -sdown/, 'notify -sdown');
  assert.deepEqual(ran(), []);
  // As told: it runs.
  const ok = cli(['--config', path, 'notify', '--', '-sdown', 'master mymaster 10.0.0.1 6379']);
  assert.equal(ok.status, 0, ok.stderr);
  assert.deepEqual(ran(), ['notify-ran']);
});

test('the options each command does take still work, before or after the command name', (t) => {
  const { path, ran } = withConfig(t);
  assert.equal(cli(['check', '--config', path]).status, 0);
  assert.equal(cli(['--config', path, 'check']).status, 0);
  const dry = cli(['--config', path, '--dry-run', '--json', ...EVENT]);
  assert.equal(dry.status, 0, dry.stderr);
  assert.equal(JSON.parse(dry.stdout).outcome, 'dry-run');
  assert.deepEqual(ran(), []);
  const notify = cli(['notify', '-c', path, '+switch-master', 'mymaster 10.0.0.1 6379 10.0.0.2 6379']);
  assert.equal(notify.status, 0, notify.stderr);
  assert.deepEqual(ran(), ['notify-ran']);
  assert.match(readFileSync(join(resolve(path, '..'), 'hook.log'), 'utf8'), /"eventType":"\+switch-master"/);
});
