// The hook's own log file, the built CLI: a log that cannot be written, or that is not ours, never
// stops or changes a run; the run still tells its story somewhere (stderr).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
