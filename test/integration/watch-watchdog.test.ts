// The built `sentinel-hook watch` with its real watchdog limit (30 s): a preload blocks the main
// thread (Atomics.wait: blocked without burning a core; bounded at 60 s) once watch has started.
// The watchdog thread writes one line and kills the process with SIGKILL, for systemd's
// Restart=always to bring it back.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

const BIN = resolve(import.meta.dirname, '../../bin/sentinel-hook.cjs');
const LIMIT_MS = 30_000;
const SLACK_MS = 5000;

test('watch whose main thread blocks is killed by its watchdog 30 s later, with one line saying why', {
  timeout: 120_000,
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sh-watchdog-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const wedge = join(dir, 'wedge.cjs');
  writeFileSync(
    wedge,
    "setTimeout(() => { require('node:fs').writeSync(2, 'wedging\\n'); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000); }, 2000).unref();\n",
  );
  const config = join(dir, 'config.yaml');
  // As tmpfiles.d would: watch run as root does not make its lock directory.
  mkdirSync(join(dir, 'lock'), { mode: 0o700 });
  // Port 9 (discard) on loopback: refused at once; watch goes on retrying, as with a Sentinel that is down.
  writeFileSync(
    config,
    `lockDir: ${join(dir, 'lock')}\nsentinels:\n  addresses: ["127.0.0.1:9"]\nmasters:\n  mymaster:\n    - type: exec\n      run: [/bin/true]\n`,
  );
  chmodSync(config, 0o644);
  const child = spawn(process.execPath, ['-r', wedge, BIN, 'watch', '--config', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  let wedgedAt: number | undefined;
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString();
  });
  child.stderr.on('data', (b: Buffer) => {
    if (b.toString().includes('wedging')) wedgedAt ??= performance.now();
    out += b.toString();
  });
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((ok) =>
    child.on('exit', (code, signal) => ok({ code, signal })),
  );
  const exitedAt = performance.now();
  assert.ok(wedgedAt !== undefined, out);
  assert.deepEqual(exit, { code: null, signal: 'SIGKILL' }, out.slice(-2000));
  const blockedMs = exitedAt - wedgedAt;
  assert.ok(
    blockedMs >= LIMIT_MS - 1000 && blockedMs <= LIMIT_MS + SLACK_MS,
    `killed ${Math.round(blockedMs)} ms after the main thread blocked`,
  );
  const lines = out.split('\n').filter((l) => l.startsWith('{"level":60'));
  assert.equal(lines.length, 1, out.slice(-2000));
  const line = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.equal(line.watch, true);
  assert.equal(line.limitMs, LIMIT_MS);
  assert.match(String(line.msg), /main event loop has not answered: killing the process \(SIGKILL\)/);
});
