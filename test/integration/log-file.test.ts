// The hook's own log file, the built CLI: a log that cannot be written, or that is not ours, never
// stops or changes a run; the run still tells its story somewhere (stderr).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type TestContext, test } from 'node:test';
import { reachablePath } from '../support/checkout.ts';

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

function cli(args: string[], env: Record<string, string> = {}, timeout = 30_000) {
  return spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH!, ...env },
    timeout,
    killSignal: 'SIGKILL',
  });
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

test('a log file that is a symbolic link is never written through: the run goes on, logging to stderr with one warning', {
  skip: !isRoot && 'needs root (chown)',
}, (t) => {
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
});

const redisIds = (() => {
  const uid = spawnSync('id', ['-u', 'redis'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'redis'], { encoding: 'utf8' });
  return uid.status === 0 && gid.status === 0 ? { uid: Number(uid.stdout), gid: Number(gid.stdout) } : undefined;
})();
const skipRedis = (!isRoot || !redisIds) && 'needs root and the redis user';
const ODOWN = ['notify', '+odown', 'master mymaster 10.0.0.1 6379 #quorum 2/2'];

test("a root run writes the shared log file owned by Sentinel's user (manual runs and hook runs share one log)", {
  skip: skipRedis,
}, (t) => {
  const dir = tempDir(t);
  const shared = join(dir, 'hook.log');
  writeFileSync(shared, 'from a hook run\n', { mode: 0o640 });
  chownSync(shared, redisIds!.uid, redisIds!.gid);
  const marker = join(dir, 'ran');
  const r = cli([
    '--config',
    writeConfig(
      dir,
      `log: { file: ${shared} }\nlockDir: ${dir}\nmasters:\n  mymaster:\n    - type: exec\n      run: [/bin/sh, -c, 'echo x > ${marker}']\n`,
    ),
    ...EVENT,
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(existsSync(marker), 'the action ran');
  assert.equal(warnings(r.stderr, shared).length, 0, r.stderr);
  const text = readFileSync(shared, 'utf8');
  assert.ok(text.startsWith('from a hook run\n'), 'appended, not replaced');
  assert.match(text, /"msg":"hook end"/, 'the root run is in the shared log');
});

test('a log file of another user that is not a plain file (a FIFO, with or without a reader; a second hard link) is refused, never hangs a root run', {
  skip: skipRedis,
}, (t) => {
  const dir = tempDir(t);
  const marker = join(dir, 'ran');
  const config = (file: string) =>
    writeConfig(
      dir,
      `log: { file: ${file} }\nlockDir: ${dir}\nmasters:\n  mymaster:\n    - type: exec\n      run: [/bin/sh, -c, 'echo x > ${marker}']\n`,
    );
  const fifo = join(dir, 'fifo.log');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  chownSync(fifo, redisIds!.uid, redisIds!.gid);
  // No reader: a blocking open for writing would wait for one forever (Sentinel's 60 s, then SIGKILL).
  const started = performance.now();
  const r = cli(['--config', config(fifo), ...EVENT], {}, 10_000);
  assert.equal(r.status, 0, `the run hung or failed: ${r.error ?? r.stderr}`);
  assert.ok(performance.now() - started < 10_000);
  assert.ok(existsSync(marker), 'the action ran');
  assert.equal(warnings(r.stderr, fifo).length, 1, r.stderr);
  assert.match(r.stderr, /hook end/, 'the records went to stderr');
  // With a reader, the open succeeds: still nothing is written into the pipe.
  const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  t.after(() => closeSync(reader));
  rmSync(marker);
  const read = cli(['--config', config(fifo), ...EVENT], {}, 10_000);
  assert.equal(read.status, 0, read.stderr);
  assert.ok(existsSync(marker), 'the action ran');
  assert.equal(warnings(read.stderr, fifo).length, 1, read.stderr);
  assert.match(read.stderr, /not a regular file/);
  const buf = Buffer.alloc(4096);
  assert.equal(readSync(reader, buf), 0, 'nothing was written into the FIFO');
  // A second name for a file redis owns could be any file of redis's, or a hard link it made to one.
  const other = join(dir, 'other');
  writeFileSync(other, 'precious\n');
  chownSync(other, redisIds!.uid, redisIds!.gid);
  const linked = join(dir, 'linked.log');
  linkSync(other, linked);
  const l = cli(['--config', config(linked), ...ODOWN]);
  assert.equal(l.status, 0, l.stderr);
  assert.equal(readFileSync(other, 'utf8'), 'precious\n');
  assert.match(l.stderr, /other hard links/);
});

test("a run as Sentinel's user does not write a log file owned by a third user: stderr, one warning", {
  skip: skipRedis,
}, (t) => {
  const dir = tempDir(t);
  const lockDir = join(dir, 'lock');
  mkdirSync(lockDir, { mode: 0o700 });
  chownSync(lockDir, redisIds!.uid, redisIds!.gid);
  const foreign = join(dir, 'foreign.log');
  writeFileSync(foreign, '');
  // Writable by anyone: only its owner stops us.
  chmodSync(foreign, 0o666);
  chownSync(foreign, 65534, 65534);
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `log: { file: ${foreign} }\nlockDir: ${lockDir}\nnotify:\n  - run: [/bin/true]\nmasters:\n  mymaster:\n    - type: exec\n      run: [/bin/true]\n`,
    { mode: 0o644 },
  );
  const r = spawnSync(process.execPath, [reachablePath(BIN), '--config', config, ...ODOWN], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH! },
    timeout: 30_000,
    cwd: '/',
    ...redisIds!,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(readFileSync(foreign, 'utf8'), '', 'nothing written to a file owned by another user');
  assert.equal(warnings(r.stderr, foreign).length, 1, r.stderr);
  assert.match(r.stderr, /owned by uid 65534/);
});

const canUnshare = isRoot && spawnSync('unshare', ['-m', '--', 'true']).status === 0;
test('the default log written when the config is unusable does not follow a planted symbolic link', {
  skip: !canUnshare && 'needs root and unshare -m',
}, (t) => {
  const dir = tempDir(t);
  // This test's own /var/log, seen only by the hook (a private mount namespace).
  const varLog = join(dir, 'var-log');
  mkdirSync(join(varLog, 'sentinel-hook'), { recursive: true });
  const victim = join(dir, 'victim');
  writeFileSync(victim, 'precious\n');
  symlinkSync(victim, join(varLog, 'sentinel-hook', 'hook.log'));
  const r = spawnSync(
    'unshare',
    [
      '-m',
      '--',
      'sh',
      '-c',
      'mount --bind "$0" /var/log && exec "$@"',
      varLog,
      process.execPath,
      BIN,
      '--config',
      join(dir, 'missing.yaml'),
      ...EVENT,
    ],
    { encoding: 'utf8', env: { PATH: process.env.PATH! }, timeout: 30_000 },
  );
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.equal(readFileSync(victim, 'utf8'), 'precious\n', 'nothing appended through the link');
});

test('--dry-run with an unusable config writes nothing, not even the default log', {
  skip: !canUnshare && 'needs root and unshare -m',
}, (t) => {
  const dir = tempDir(t);
  const varLog = join(dir, 'var-log');
  mkdirSync(join(varLog, 'sentinel-hook'), { recursive: true });
  const defaultLog = join(varLog, 'sentinel-hook', 'hook.log');
  const run = (args: string[]) =>
    spawnSync(
      'unshare',
      [
        '-m',
        '--',
        'sh',
        '-c',
        'mount --bind "$0" /var/log && exec "$@"',
        varLog,
        process.execPath,
        BIN,
        '--config',
        join(dir, 'missing.yaml'),
        ...args,
        ...EVENT,
      ],
      { encoding: 'utf8', env: { PATH: process.env.PATH! }, timeout: 30_000 },
    );
  const dry = run(['--dry-run']);
  assert.equal(dry.status, 2, dry.stderr);
  assert.match(dry.stderr, /missing\.yaml/);
  assert.equal(existsSync(defaultLog), false, 'a dry-run wrote to the default log');
  // The same failure in a real run is recorded there (Sentinel discards stderr).
  assert.equal(run([]).status, 2);
  assert.match(readFileSync(defaultLog, 'utf8'), /missing\.yaml/);
});
