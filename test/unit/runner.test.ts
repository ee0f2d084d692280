import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { commandFailure } from '../../src/launch.ts';
import { createRunner, whichSystem } from '../../src/runner.ts';

/** Running, not a zombie: in a container, PID 1 may never reap orphans. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}

test('real runner: exit code, stdout, stderr and extra environment', async () => {
  const r = await createRunner().run(['/bin/sh', '-c', 'echo out; echo err >&2; echo "$X"; exit 3'], {
    timeoutMs: 5000,
    env: { X: 'from-env' },
  });
  assert.equal(r.exitCode, 3);
  assert.equal(r.stdout, 'out\nfrom-env');
  assert.equal(r.stderr, 'err');
  assert.equal(r.timedOut, false);
});

test('real runner: a missing program is a spawn error, not an exception', async () => {
  const r = await createRunner().run(['/nonexistent/program'], { timeoutMs: 1000 });
  assert.equal(r.exitCode, undefined);
  assert.equal(r.spawnError, 'Command failed with ENOENT: /nonexistent/program');
});

test('real runner: output over 4 MiB fails the command with one line, whatever its exit status', async () => {
  // 5 MiB then exit 0: cut silently, it would have passed as a success on part of its output.
  const r = await createRunner().run(['/bin/sh', '-c', 'head -c 5242880 /dev/zero; exit 0'], { timeoutMs: 10_000 });
  assert.equal(r.exitCode, undefined);
  assert.equal(r.error, 'output over 4 MiB');
  assert.equal(commandFailure(['/bin/sh'], r, false).message, '/bin/sh failed: output over 4 MiB');
});

test('real runner: on timeout the whole process group dies, grandchildren included', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sh-runner-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pidFile = join(dir, 'grandchild.pid');
  const started = performance.now();
  const r = await createRunner().run(['/bin/sh', '-c', `sleep 30 & echo $! > ${pidFile}; wait`], { timeoutMs: 1500 });
  assert.equal(r.timedOut, true);
  assert.ok(performance.now() - started < 5000);
  const grandchild = Number(readFileSync(pidFile, 'utf8'));
  // Reaped by init shortly after SIGKILL; allow a bounded moment.
  for (let i = 0; i < 50 && alive(grandchild); i++) await new Promise((res) => setTimeout(res, 20));
  assert.equal(alive(grandchild), false, 'the background sleep was killed with its group');
});

test('real runner: the deadline signal kills a running child at once', async () => {
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  const started = performance.now();
  const r = await createRunner().run(['/bin/sleep', '30'], { timeoutMs: 30_000, signal: ac.signal });
  assert.equal(r.timedOut, true);
  assert.ok(performance.now() - started < 5000);
});

test('whichSystem looks only in the system directories, never $PATH', () => {
  const exists = (p: string) => p === '/usr/sbin/ip' || p === '/opt/x/ip';
  assert.equal(whichSystem('ip', exists), '/usr/sbin/ip');
  assert.equal(whichSystem('/opt/x/ip', exists), '/opt/x/ip');
  assert.equal(whichSystem('nothere', exists), undefined);
});

test('real runner: a process that left our group cannot hold the run: output pipes are let go after the child exits', async () => {
  const started = performance.now();
  const r = await createRunner().run(['/bin/sh', '-c', 'setsid /bin/sleep 20 & echo $!'], { timeoutMs: 10_000 });
  const took = performance.now() - started;
  const daemon = Number(r.stdout.trim());
  try {
    assert.equal(r.exitCode, 0);
    assert.ok(took < 3000, `returned after ${Math.round(took)} ms, not after the daemon's 20 s`);
  } finally {
    if (daemon > 0) process.kill(daemon, 'SIGKILL');
  }
});

test('real runner: on timeout with such a process around, the step ends at its timeout and counts as timed out', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sh-runner-'));
  const pidFile = join(dir, 'daemon.pid');
  t.after(() => {
    try {
      process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
    } catch {
      // not started
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const started = performance.now();
  // setsid -w waits for its child, which lives in a session of its own, holding our pipes.
  const r = await createRunner().run(
    ['/usr/bin/setsid', '-w', '/bin/sh', '-c', `echo $$ > ${pidFile}; exec /bin/sleep 20`],
    { timeoutMs: 300 },
  );
  assert.equal(r.timedOut, true);
  assert.ok(performance.now() - started < 3000, `returned after ${Math.round(performance.now() - started)} ms`);
});

test('real runner: the environment is read at each start, so a variable withheld before it reaches no child', async () => {
  const env: NodeJS.ProcessEnv = { PATH: '/usr/bin:/bin', SH_TEST_SECRET: 'hunter2hunter2' };
  const runner = createRunner(env);
  delete env.SH_TEST_SECRET;
  const r = await runner.run(['/bin/sh', '-c', 'echo "${SH_TEST_SECRET-unset} $X"'], {
    timeoutMs: 5000,
    env: { X: 'step' },
  });
  assert.equal(r.stdout, 'unset step');
});
