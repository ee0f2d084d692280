// The hook's own log file, the built CLI: a log that cannot be written, or that is not ours, never
// stops or changes a run; the run still tells its story somewhere (stderr).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const BIN = resolve(import.meta.dirname, '../../bin/sentinel-hook.cjs');
const EVENT = ['mymaster', 'leader', 'start', '10.0.0.1', '6379', '10.0.0.2', '6380'];

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'sh-logfile-'));
  chmodSync(dir, 0o755);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function writeConfig(dir: string, yaml: string): string {
  const file = join(dir, 'config.yaml');
  writeFileSync(file, yaml, { mode: 0o600 });
  return file;
}

function cli(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH!, ...env }, timeout: 30_000 });
}

const warnings = (stderr: string, file: string) => stderr.split('\n').filter((l) => l.includes(`log file ${file}`));

test('a log file that cannot be written (a full disk: /dev/full) changes nothing: both actions run, exit 0, lock released, one warning', (t) => {
  const dir = tempDir(t);
  const [first, second] = [join(dir, 'first'), join(dir, 'second')];
  const config = writeConfig(
    dir,
    `log: { file: /dev/full }\nlockDir: ${dir}\nmasters:\n  mymaster:\n` +
      `    - type: exec\n      run: [/bin/sh, -c, 'sleep 0.3; echo x > ${first}']\n` +
      `    - type: exec\n      run: [/bin/sh, -c, 'echo x > ${second}']\n`,
  );
  // Twice: a retry must find the lock free and behave the same.
  for (const attempt of [1, 2]) {
    rmSync(first, { force: true });
    rmSync(second, { force: true });
    const r = cli(['--config', config, ...EVENT]);
    assert.equal(r.status, 0, `attempt ${attempt}: ${r.stderr}`);
    assert.ok(existsSync(first) && existsSync(second), `attempt ${attempt}: both actions ran`);
    assert.equal(existsSync(join(dir, 'mymaster.lock')), false, 'the lock is released');
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(warnings(r.stderr, '/dev/full').length, 1, `warned once: ${r.stderr}`);
    assert.match(r.stderr, /hook end/, 'the log carries on on stderr');
  }
});

test('notify: a log file that cannot be written does not stop the notify actions either', (t) => {
  const dir = tempDir(t);
  const [first, second] = [join(dir, 'first'), join(dir, 'second')];
  const config = writeConfig(
    dir,
    `log: { file: /dev/full }\nlockDir: ${dir}\nnotify:\n` +
      `  - run: [/bin/sh, -c, 'sleep 0.2; echo x > ${first}']\n` +
      `  - run: [/bin/sh, -c, 'echo x > ${second}']\n` +
      `masters:\n  mymaster:\n    - type: exec\n      run: [/bin/true]\n`,
  );
  const r = cli(['--config', config, 'notify', '+odown', 'master mymaster 10.0.0.1 6379 #quorum 2/2']);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(existsSync(first) && existsSync(second), 'both notify actions ran');
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(warnings(r.stderr, '/dev/full').length, 1, `warned once: ${r.stderr}`);
  assert.match(r.stderr, /notify end/);
});

const isRoot = process.getuid?.() === 0;

test('a log file that is a symbolic link (or owned by another user) is never written through: the run goes on, logging to stderr with one warning', { skip: !isRoot && 'needs root (chown)' }, (t) => {
  const dir = tempDir(t);
  const victim = join(dir, 'victim');
  writeFileSync(victim, 'precious\n', { mode: 0o644 });
  const link = join(dir, 'hook.log');
  symlinkSync(victim, link);
  const marker = join(dir, 'ran');
  const actions = `masters:\n  mymaster:\n    - type: exec\n      run: [/bin/sh, -c, 'echo x > ${marker}']\n`;
  const r = cli(['--config', writeConfig(dir, `log: { file: ${link} }\nlockDir: ${dir}\n${actions}`), ...EVENT]);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(existsSync(marker), 'the action ran');
  assert.equal(readFileSync(victim, 'utf8'), 'precious\n', 'nothing appended through the link');
  assert.equal(warnings(r.stderr, link).length, 1, r.stderr);
  assert.match(r.stderr, /symbolic link/);
  assert.match(r.stderr, /hook end/, 'the records went to stderr');

  // A file someone else owns (here: nobody's) is not ours to append to either.
  const foreign = join(dir, 'foreign.log');
  writeFileSync(foreign, '', { mode: 0o666 });
  chownSync(foreign, 65534, 65534);
  const n = cli(['--config', writeConfig(dir, `log: { file: ${foreign} }\nlockDir: ${dir}\n${actions}`), 'notify', '+odown', 'master mymaster 10.0.0.1 6379 #quorum 2/2']);
  assert.equal(n.status, 0, n.stderr);
  assert.equal(readFileSync(foreign, 'utf8'), '', 'nothing written to a file owned by another user');
  assert.equal(warnings(n.stderr, foreign).length, 1, n.stderr);
  assert.match(n.stderr, /owned by uid 65534/);
});

const canUnshare = isRoot && spawnSync('unshare', ['-m', '--', 'true']).status === 0;
test('the default log written when the config is unusable does not follow a planted symbolic link', { skip: !canUnshare && 'needs root and unshare -m' }, (t) => {
  const dir = tempDir(t);
  // This test's own /var/log, seen only by the hook (a private mount namespace).
  const varLog = join(dir, 'var-log');
  mkdirSync(join(varLog, 'sentinel-hook'), { recursive: true });
  const victim = join(dir, 'victim');
  writeFileSync(victim, 'precious\n');
  symlinkSync(victim, join(varLog, 'sentinel-hook', 'hook.log'));
  const r = spawnSync('unshare', ['-m', '--', 'sh', '-c', 'mount --bind "$0" /var/log && exec "$@"', varLog, process.execPath, BIN, '--config', join(dir, 'missing.yaml'), ...EVENT], { encoding: 'utf8', env: { PATH: process.env.PATH! }, timeout: 30_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.equal(readFileSync(victim, 'utf8'), 'precious\n', 'nothing appended through the link');
});

test('--dry-run with an unusable config writes nothing, not even the default log', { skip: !canUnshare && 'needs root and unshare -m' }, (t) => {
  const dir = tempDir(t);
  const varLog = join(dir, 'var-log');
  mkdirSync(join(varLog, 'sentinel-hook'), { recursive: true });
  const defaultLog = join(varLog, 'sentinel-hook', 'hook.log');
  const run = (args: string[]) => spawnSync('unshare', ['-m', '--', 'sh', '-c', 'mount --bind "$0" /var/log && exec "$@"', varLog, process.execPath, BIN, '--config', join(dir, 'missing.yaml'), ...args, ...EVENT], { encoding: 'utf8', env: { PATH: process.env.PATH! }, timeout: 30_000 });
  const dry = run(['--dry-run']);
  assert.equal(dry.status, 2, dry.stderr);
  assert.match(dry.stderr, /missing\.yaml/);
  assert.equal(existsSync(defaultLog), false, 'a dry-run wrote to the default log');
  // The same failure in a real run is recorded there (Sentinel discards stderr).
  assert.equal(run([]).status, 2);
  assert.match(readFileSync(defaultLog, 'utf8'), /missing\.yaml/);
});
