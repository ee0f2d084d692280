// `sentinel-hook watch` against a real redis-sentinel on loopback (a master and a replica it fails over
// with SENTINEL FAILOVER): it acts in-process on +switch-master, once per failover; it reconciles at
// start; SIGHUP with a bad config keeps the running one; pause makes it change nothing; SIGTERM ends it
// with exit 0. The action is an exec with reconcile: true that appends "{toIp}:{toPort}" to a file.

import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { waitFor } from '../lab/index.ts';
import { LoopbackSentinel } from '../support/loopback-redis.ts';
import { startWatch, type WatchProcess } from '../support/watch-process.ts';

function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : [];
}

test('watch: acts once on a real failover without a process per event, reconciles at start, survives a bad reload, pauses, stops on SIGTERM', {
  timeout: 120_000,
}, async (t) => {
  const sentinel = new LoopbackSentinel();
  const dir = mkdtempSync(join(tmpdir(), 'sh-watch-'));
  let watch: WatchProcess | undefined;
  t.after(async () => {
    watch?.kill();
    sentinel.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await sentinel.start();
  const out = join(dir, 'acted');
  const config = join(dir, 'config.yaml');
  // As tmpfiles.d would: watch run as root does not make its lock directory.
  mkdirSync(join(dir, 'lock'), { mode: 0o700 });
  const write = (extra = '') =>
    writeFileSync(
      config,
      `lockDir: ${join(dir, 'lock')}\nsentinels:\n  addresses: ["127.0.0.1:${sentinel.sentinelPort}"]\n${extra}masters:\n  ${sentinel.masterName}:\n    - type: exec\n      run: [/bin/sh, -c, 'echo "$0" >> ${out}', "{toIp}:{toPort}"]\n      reconcile: true\n`,
      { mode: 0o644 },
    );
  write();
  watch = startWatch(config, ['--interval', '2s']);
  const log = watch.text;

  // At start: reconciled to the current master, exec once (epoch 0 is a "failover" this host never acted on).
  await waitFor('the start reconcile', () => (lines(out).length >= 1 ? true : undefined), {
    timeoutMs: 15_000,
    intervalMs: 50,
  });
  assert.deepEqual(lines(out), [`127.0.0.1:${sentinel.masterPort}`]);

  // A real failover: acted on in-process from +switch-master, once.
  const newPort = await sentinel.failover();
  await waitFor('the failover acted on', () => (lines(out).length >= 2 ? true : undefined), {
    timeoutMs: 15_000,
    intervalMs: 20,
  });
  assert.match(log(), /"msg":"\+(promoted-slave|switch-master)"/);
  await new Promise((r) => setTimeout(r, 4500)); // two more intervals: no second run for the same failover
  assert.deepEqual(lines(out), [`127.0.0.1:${sentinel.masterPort}`, `127.0.0.1:${newPort}`]);

  // A bad config on SIGHUP: refused, the running one kept.
  writeFileSync(config, 'masters: {}\nunknown: 1\n', { mode: 0o644 });
  watch.child.kill('SIGHUP');
  await waitFor(
    'reload refused',
    () => (/config reload refused; keeping the running config/.test(log()) ? true : undefined),
    {
      timeoutMs: 10_000,
      intervalMs: 50,
    },
  );
  write();

  // Paused: the next failover is logged, nothing runs.
  writeFileSync(join(dir, 'lock', 'paused'), 'test: maintenance\n');
  const third = await sentinel.failover();
  await waitFor('paused log', () => (/paused: would do this; nothing changed/.test(log()) ? true : undefined), {
    timeoutMs: 15_000,
    intervalMs: 50,
  });
  assert.equal(lines(out).length, 2, 'nothing ran while paused');
  rmSync(join(dir, 'lock', 'paused'));
  await waitFor('resumed: the next reconcile catches up', () => (lines(out).length >= 3 ? true : undefined), {
    timeoutMs: 15_000,
    intervalMs: 50,
  });
  assert.equal(lines(out).at(-1), `127.0.0.1:${third}`);

  assert.equal((await watch.stop()).code, 0);
  assert.match(log(), /"msg":"watch end"/);
});

test('watch records what it did: a last-run record for each run that changed something (not for a no-op interval) and a heartbeat every interval', {
  timeout: 120_000,
}, async (t) => {
  const { readHeartbeat, readLastRun } = await import('../../src/state/last-run.ts');
  const sentinel = new LoopbackSentinel();
  const dir = mkdtempSync(join(tmpdir(), 'sh-watch-records-'));
  let watch: WatchProcess | undefined;
  t.after(async () => {
    watch?.kill();
    sentinel.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await sentinel.start();
  const lockDir = join(dir, 'lock');
  mkdirSync(lockDir, { mode: 0o700 });
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `lockDir: ${lockDir}\nsentinels:\n  addresses: ["127.0.0.1:${sentinel.sentinelPort}"]\nmasters:\n  ${sentinel.masterName}:\n    - type: exec\n      run: [/bin/true, "{toIp}"]\n      reconcile: true\n`,
    { mode: 0o644 },
  );
  watch = startWatch(config, ['--interval', '1s']);
  const master = sentinel.masterName;

  // The start reconcile runs the exec (a failover this host never acted on): a run that changed something.
  const first = await waitFor('the start reconcile recorded', () => readLastRun(lockDir, master), {
    timeoutMs: 15_000,
    intervalMs: 50,
  });
  assert.equal(first.intent, 'state');
  assert.equal(first.outcome, 'converged');
  assert.equal(first.exitCode, 0);
  assert.equal(first.master?.port, sentinel.masterPort);
  const beat = await waitFor('a heartbeat', () => readHeartbeat(lockDir), { timeoutMs: 5000, intervalMs: 50 });
  assert.equal(beat.pid, watch.child.pid);
  // Three intervals later: the heartbeat moved on, with the interval reconcile's outcome; last-run did not.
  await new Promise((r) => setTimeout(r, 3200));
  const later = readHeartbeat(lockDir)!;
  assert.ok(Date.parse(later.at) > Date.parse(beat.at), `${later.at} after ${beat.at}`);
  assert.equal(later.started, beat.started);
  assert.equal(later.lastReconcile?.outcomes[master], 'nothing-to-do');
  assert.deepEqual(readLastRun(lockDir, master), first);

  // A real failover: a new record, for the new master at a newer epoch.
  const newPort = await sentinel.failover();
  const moved = await waitFor(
    'the failover recorded',
    () => (readLastRun(lockDir, master)?.master?.port === newPort ? readLastRun(lockDir, master) : undefined),
    {
      timeoutMs: 15_000,
      intervalMs: 50,
    },
  );
  assert.equal(moved.exitCode, 0);
  assert.ok((moved.master?.epoch ?? 0) > (first.master?.epoch ?? 0), JSON.stringify({ first, moved }));
  assert.notEqual(moved.run, first.run);
  assert.equal((await watch.stop()).code, 0);
});

// Issue 15 §5.4: the lock directory removed while watch ran (to clear stale records) made every later
// run fail ("cannot create lock …: ENOENT") until a restart. Now watch exits 1: systemd makes the
// directory again (RuntimeDirectory=) and restarts it. Found at the next interval, or at once by a run
// that cannot take its lock (here a failover, with an interval far away).
test('watch exits 1 when its lock directory is removed: at the next interval, or at once when a failover cannot take its lock', {
  timeout: 120_000,
}, async (t) => {
  const sentinel = new LoopbackSentinel();
  const dir = mkdtempSync(join(tmpdir(), 'sh-watch-lockdir-'));
  const children: WatchProcess[] = [];
  t.after(async () => {
    for (const c of children) c.kill();
    sentinel.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await sentinel.start();
  const lockDir = join(dir, 'lock');
  const out = join(dir, 'acted');
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `lockDir: ${lockDir}\nstateDir: ${join(dir, 'state')}\nsentinels:\n  addresses: ["127.0.0.1:${sentinel.sentinelPort}"]\nmasters:\n  ${sentinel.masterName}:\n    - type: exec\n      run: [/bin/sh, -c, 'echo "$0" >> ${out}', "{toIp}:{toPort}"]\n      reconcile: true\n`,
    { mode: 0o644 },
  );
  const watch = (interval: string) => {
    mkdirSync(lockDir, { mode: 0o700 });
    const watch = startWatch(config, ['--interval', interval]);
    children.push(watch);
    return { exited: watch.exited.then((e) => e.code), log: watch.text };
  };
  const gone = /"msg":"lock directory [^"]*lock is gone[^"]*"/;

  const periodic = watch('1s');
  await waitFor('the start reconcile', () => (lines(out).length >= 1 ? true : undefined), {
    timeoutMs: 15_000,
    intervalMs: 50,
  });
  rmSync(lockDir, { recursive: true });
  const removedAt = performance.now();
  assert.equal(await periodic.exited, 1, periodic.log());
  assert.ok(performance.now() - removedAt < 5000, `exited ${Math.round(performance.now() - removedAt)} ms later`);
  assert.match(periodic.log(), gone);

  const onFailover = watch('60s');
  await waitFor('subscribed', () => (/"msg":"subscribed"/.test(onFailover.log()) ? true : undefined), {
    timeoutMs: 15_000,
    intervalMs: 50,
  });
  await new Promise((r) => setTimeout(r, 500));
  rmSync(lockDir, { recursive: true });
  const newPort = await sentinel.failover();
  assert.equal(await onFailover.exited, 1, onFailover.log());
  assert.match(onFailover.log(), gone);
  assert.notEqual(lines(out).at(-1), `127.0.0.1:${newPort}`, 'nothing ran without the lock');
});

// Issue 15 §5.2: a SIGHUP while the Sentinels' password file was moved away killed watch (an uncaught
// error, exit 2). The secrets are read with the new config: a reload that cannot read one is refused and
// the running config, with the password it read, goes on. And a changed lockDir is prepared on reload.
test('watch with sentinels.password in a file: a reload without the file is refused and watch goes on acting; the file back: reloaded, a new lockDir prepared; started without it: exit 2', {
  timeout: 120_000,
}, async (t) => {
  const password = `pw-${process.pid}-${Date.now()}`;
  const sentinel = new LoopbackSentinel({ password });
  const dir = mkdtempSync(join(tmpdir(), 'sh-watch-secret-'));
  let watch: WatchProcess | undefined;
  t.after(async () => {
    watch?.kill();
    sentinel.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  await sentinel.start();
  const out = join(dir, 'acted');
  const secret = join(dir, 'sentinel.password');
  writeFileSync(secret, `${password}\n`, { mode: 0o600 });
  const config = join(dir, 'config.yaml');
  const write = (lockDir: string) =>
    writeFileSync(
      config,
      `lockDir: ${lockDir}\nsentinels:\n  addresses: ["127.0.0.1:${sentinel.sentinelPort}"]\n  password: { file: ${secret} }\nmasters:\n  ${sentinel.masterName}:\n    - type: exec\n      run: [/bin/sh, -c, 'echo "$0" >> ${out}', "{toIp}:{toPort}"]\n      reconcile: true\n`,
      { mode: 0o644 },
    );
  mkdirSync(join(dir, 'lock'), { mode: 0o700 });
  write(join(dir, 'lock'));
  watch = startWatch(config, ['--interval', '2s']);
  const log = watch.text;
  await waitFor('the start reconcile', () => (lines(out).length >= 1 ? true : undefined), {
    timeoutMs: 15_000,
    intervalMs: 50,
  });

  // The file moved away, then SIGHUP: refused with the reason, the process still there.
  renameSync(secret, `${secret}.away`);
  watch.child.kill('SIGHUP');
  await waitFor(
    'reload refused',
    () => (/config reload refused; keeping the running config/.test(log()) ? true : undefined),
    { timeoutMs: 10_000, intervalMs: 50 },
  );
  assert.match(log(), /sentinels\.password: cannot read .*sentinel\.password: ENOENT/);
  const refusedAt = log().length;
  // Still acting on the running config (its password read at load): a failover is followed.
  const newPort = await sentinel.failover();
  await waitFor('the failover acted on', () => (lines(out).length >= 2 ? true : undefined), {
    timeoutMs: 15_000,
    intervalMs: 50,
  });
  assert.equal(lines(out).at(-1), `127.0.0.1:${newPort}`);
  await new Promise((r) => setTimeout(r, 2500)); // an interval reconcile too
  assert.equal(watch.child.exitCode, null, log());
  assert.doesNotMatch(log().slice(refusedAt), /reconcile failed|acting on .* failed|cannot read/);

  // The file back, but a lockDir anyone may write: refused too, before anything used it.
  renameSync(`${secret}.away`, secret);
  const open = join(dir, 'open');
  mkdirSync(open);
  chmodSync(open, 0o777);
  write(open);
  watch.child.kill('SIGHUP');
  await waitFor(
    'unsafe lockDir refused',
    () =>
      /lock directory [^ ]*open is writable by every user[^\n]*"msg":"config reload refused/.test(log())
        ? true
        : undefined,
    { timeoutMs: 10_000, intervalMs: 50 },
  );

  // A new lockDir that is missing: refused (watch run as root does not make it); made: reloaded, and used.
  mkdirSync(join(dir, 'state'), { mode: 0o700 });
  const newLockDir = join(dir, 'state', 'lock');
  write(newLockDir);
  watch.child.kill('SIGHUP');
  await waitFor(
    'missing lockDir refused',
    () =>
      /lock directory [^ ]*state\/lock is missing[^\n]*"msg":"config reload refused/.test(log()) ? true : undefined,
    { timeoutMs: 10_000, intervalMs: 50 },
  );
  assert.equal(existsSync(newLockDir), false);
  mkdirSync(newLockDir, { mode: 0o700 });
  watch.child.kill('SIGHUP');
  await waitFor('reloaded', () => (/"msg":"config reloaded"/.test(log()) ? true : undefined), {
    timeoutMs: 10_000,
    intervalMs: 50,
  });
  const { readHeartbeat } = await import('../../src/state/last-run.ts');
  await waitFor('a heartbeat in the new lockDir', () => readHeartbeat(newLockDir), {
    timeoutMs: 10_000,
    intervalMs: 50,
  });
  assert.equal((await watch.stop()).code, 0);

  // Started without the file: the config error, exit 2, before anything runs (the unit restarts it).
  renameSync(secret, `${secret}.away`);
  const again = startWatch(config, ['--interval', '2s']);
  t.after(() => again.kill());
  assert.equal((await again.exited).code, 2, again.text());
  assert.match(again.text(), /sentinels\.password: cannot read .*ENOENT/);
});
