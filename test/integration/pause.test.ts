// The pause switch from the command line: `pause` makes `reconcile` show what it would do and change
// nothing (and say that it is paused, exit 4 while it would change something); `resume` lets it act
// again. Three scripted Sentinels on loopback that agree on the master and its config epoch; the action
// is an exec with reconcile: true.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { scriptedSentinel } from '../support/loopback-redis.ts';

const BIN = resolve(import.meta.dirname, '../../bin/sentinel-hook.cjs');

function bulk(s: string): string {
  return `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
}

/** A Sentinel naming 127.0.0.1:6390 at config epoch 4. */
function answer(command: string[]): string {
  if (command[0] === 'SENTINEL' && command[1] === 'MASTER')
    return `*4\r\n${bulk('name')}${bulk('m')}${bulk('config-epoch')}${bulk('4')}`;
  if (command[0] === 'SENTINEL' && command[1] === 'get-master-addr-by-name')
    return `*2\r\n${bulk('127.0.0.1')}${bulk('6390')}`;
  return '-ERR unknown command\r\n';
}

test('pause: reconcile says it is paused and changes nothing; resume: it acts', async (t) => {
  const sentinels = await Promise.all([scriptedSentinel(answer), scriptedSentinel(answer), scriptedSentinel(answer)]);
  const dir = mkdtempSync(join(tmpdir(), 'sh-pause-'));
  t.after(async () => {
    await Promise.all(sentinels.map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  });
  const marker = join(dir, 'acted');
  // As tmpfiles.d would: commands run as root do not make the lock directory (here also the state directory).
  mkdirSync(join(dir, 'lock'), { mode: 0o700 });
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `log: { file: ${join(dir, 'hook.log')} }\nlockDir: ${join(dir, 'lock')}\nsentinels:\n  addresses: [${sentinels.map((s) => `"${s.address}"`).join(', ')}]\nmasters:\n  m:\n    - type: exec\n      run: [/usr/bin/touch, ${marker}]\n      reconcile: true\n`,
    { mode: 0o644 },
  );
  // Not spawnSync: the scripted Sentinels live in this process and must answer while the CLI runs.
  const cli = (args: string[]) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
      const child = spawn(process.execPath, [BIN, ...args, '--config', config], {
        env: { PATH: process.env.PATH! },
        timeout: 30_000,
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => {
        stdout += b.toString();
      });
      child.stderr.on('data', (b: Buffer) => {
        stderr += b.toString();
      });
      child.on('close', (status) => done({ status, stdout, stderr }));
    });

  const paused = await cli(['pause', '--reason', 'moving the VIP by hand']);
  assert.equal(paused.status, 0, paused.stderr);
  const whilePaused = await cli(['reconcile']);
  // Paused with work to do: 4 ("would change"), so a monitor sees that the host is not in line.
  assert.equal(whilePaused.status, 4, whilePaused.stdout + whilePaused.stderr);
  assert.match(whilePaused.stdout, /^exit 4 \(would change: planned above, not applied\)$/m);
  assert.match(
    whilePaused.stdout,
    /^PAUSED \(.*moving the VIP by hand\): nothing changed; this is what reconcile would do$/m,
  );
  assert.match(whilePaused.stdout, /master m: dry-run \(127\.0\.0\.1:6390, config epoch 4\)/);
  assert.equal(existsSync(marker), false, 'nothing ran while paused');
  const asJson = await cli(['reconcile', '--json']);
  assert.equal(asJson.status, 4);
  const json = JSON.parse(asJson.stdout) as { paused?: string; exitCode: number };
  assert.match(json.paused ?? '', /moving the VIP by hand/);
  assert.equal(json.exitCode, 4);

  assert.equal((await cli(['resume'])).status, 0);
  const dryRun = await cli(['reconcile', '--dry-run']);
  assert.equal(dryRun.status, 4, dryRun.stdout + dryRun.stderr);
  assert.equal(existsSync(marker), false, 'nothing ran in the dry-run');
  const resumed = await cli(['reconcile']);
  assert.equal(resumed.status, 0, resumed.stdout + resumed.stderr);
  assert.match(resumed.stdout, /master m: converged/);
  assert.equal(existsSync(marker), true);
  // In line now (the exec ran once for this failover): a dry-run, paused or not, has nothing to say.
  const inLine = await cli(['reconcile', '--dry-run']);
  assert.equal(inLine.status, 0, inLine.stdout + inLine.stderr);
  assert.equal((await cli(['pause'])).status, 0);
  const pausedInLine = await cli(['reconcile']);
  assert.equal(pausedInLine.status, 0, pausedInLine.stdout + pausedInLine.stderr);
});

test('a pause outlives a reboot: pause, the runtime directory wiped as a reboot does, watch started: it is still paused and changes nothing', {
  timeout: 60_000,
}, async (t) => {
  const sentinels = await Promise.all([scriptedSentinel(answer), scriptedSentinel(answer), scriptedSentinel(answer)]);
  const dir = mkdtempSync(join(tmpdir(), 'sh-pause-reboot-'));
  let watch: ReturnType<typeof spawn> | undefined;
  t.after(async () => {
    if (watch && watch.exitCode === null) watch.kill('SIGKILL');
    await Promise.all(sentinels.map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  });
  const marker = join(dir, 'acted');
  const runDir = join(dir, 'run');
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `lockDir: ${runDir}\nstateDir: ${join(dir, 'lib')}\nsentinels:\n  addresses: [${sentinels.map((s) => `"${s.address}"`).join(', ')}]\nmasters:\n  m:\n    - type: exec\n      run: [/usr/bin/touch, ${marker}]\n      reconcile: true\n`,
    { mode: 0o600 },
  );
  const cli = (...args: string[]) =>
    new Promise<{ code: number | null; out: string }>((ok) => {
      const child = spawn(process.execPath, [BIN, ...args, '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout!.on('data', (b: Buffer) => (out += b));
      child.stderr!.on('data', (b: Buffer) => (out += b));
      child.on('close', (code) => ok({ code, out }));
    });
  // The state directory as the package's tmpfiles.d entry (or StateDirectory=) makes it, once.
  mkdirSync(join(dir, 'lib'), { mode: 0o700 });
  const paused = await cli('pause', '--reason', 'kernel upgrade');
  assert.equal(paused.code, 0, paused.out);
  assert.match(paused.out, /until "sentinel-hook resume", across reboots too/);
  // A reboot: /run is empty again, and tmpfiles.d (or the unit's RuntimeDirectory=) makes the lock
  // directory anew, empty.
  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(runDir, { mode: 0o700 });
  let said = '';
  watch = spawn(process.execPath, [BIN, 'watch', '--config', config, '--interval', '1s'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  watch.stdout!.on('data', (b: Buffer) => (said += b));
  const deadline = Date.now() + 20_000;
  while (!/paused: would do this; nothing changed/.test(said) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  assert.match(
    said,
    /"msg":"paused: would do this; nothing changed".*kernel upgrade|kernel upgrade.*"msg":"paused: would do this; nothing changed"/,
  );
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(existsSync(marker), false, 'nothing ran while paused');
  watch.kill('SIGTERM');
  await new Promise((r) => watch!.once('exit', r));
  assert.equal((await cli('resume')).code, 0);
});
