// `sentinel-hook log` on the log a real hook run wrote (the built CLI): its timeline, and --json; and the
// what-if dry-run (--assume-current) of an event a Sentinel on loopback calls stale.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { BIN, cli } from '../support/cli.ts';
import { fakeSentinel } from '../support/fake-sentinel.ts';

test('log: the last hook runs as a timeline, event, decision, each step with its time, outcome', (t) => {
  const dir = mkdtempSync(join(tmpdir(), `sh-logcmd-${process.pid}-`));
  chmodSync(dir, 0o755);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `log: { file: ${dir}/hook.log }\nlockDir: ${dir}\nmasters:\n  mymaster:\n` +
      `    - type: exec\n      run: [/bin/true, "{toIp}"]\n    - type: exec\n      run: [/bin/false]\n` +
      `  other:\n    - type: exec\n      run: [/bin/true]\n`,
    { mode: 0o600 },
  );
  const first = cli(['--config', config, 'mymaster', 'leader', 'start', '10.0.0.1', '6379', '10.0.0.2', '6379']);
  assert.equal(first.status, 1, first.stderr);
  const second = cli(['--config', config, 'other', 'observer', 'start', '10.0.1.1', '6379', '10.0.1.2', '6379']);
  assert.equal(second.status, 0, second.stderr);

  const all = cli(['log', '--config', config]);
  assert.equal(all.status, 0, all.stderr);
  console.log(all.stdout);
  const blocks = all.stdout.trim().split('\n\n');
  assert.equal(blocks.length, 3, all.stdout);
  const [mine, theirs, summary] = blocks as [string, string, string];
  assert.match(mine, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC {2}mymaster {2}hook \S+ {2}-> failed\n/);
  assert.match(mine, /\n +\+0 ms {7}event: leader start: 10\.0\.0\.1:6379 -> 10\.0\.0\.2:6379\n/);
  assert.match(mine, /\n +\+\d+ ms {7}decided: exec#0: run \/bin\/true 10\.0\.0\.2 \| exec#1: run \/bin\/false\n/);
  assert.match(mine, /\n +\+\d+ ms {7}ok {6}exec#0: run \/bin\/true 10\.0\.0\.2 \(\d+ ms\)\n/);
  assert.match(mine, /\n +\+\d+ ms ERROR FAILED {2}exec#1: run \/bin\/false \(\d+ ms\): \/bin\/false exited 1/);
  assert.match(mine, /\n +\+\d+ ms {7}end: failed, exit 1 \(\d+ ms\)$/);
  assert.match(theirs, /^\S+ \S+ UTC {2}other {2}hook \S+ {2}-> applied\n/);
  assert.match(summary, new RegExp(`^2 runs from ${dir}/hook\\.log`));

  const one = cli(['log', '--config', config, '--master', 'mymaster', '--last', '1', '--json']);
  assert.equal(one.status, 0, one.stderr);
  const json = JSON.parse(one.stdout) as { runs: { master: string; records: { msg: string }[] }[] };
  assert.deepEqual(
    json.runs.map((r) => [r.master, r.records.map((x) => x.msg)]),
    [['mymaster', ['hook start', 'plan', 'step done', 'step failed', 'hook end']]],
  );
});

/** The CLI without blocking this process: the fake Sentinel answering it lives here. */
function cliAsync(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH! } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      done({ status, stdout, stderr });
    });
  });
}

test('what-if: --dry-run --assume-current shows the plan of a failover the Sentinel calls stale; the plain dry-run shows none; nothing runs', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), `sh-whatif-${process.pid}-`));
  chmodSync(dir, 0o755);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // The Sentinel names 127.0.0.7 master now; the drill is a failover to 127.0.0.2.
  const sentinel = await fakeSentinel({ master: () => ({ ip: '127.0.0.7', port: 6379, epoch: 4 }) });
  t.after(() => sentinel.close());
  const marker = join(dir, 'ran');
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `log: { file: ${dir}/hook.log }\nlockDir: ${dir}\nsentinels: { addresses: ["${sentinel.address}"], settle: 0s }\n` +
      `masters:\n  mymaster:\n    - type: exec\n      run: [/usr/bin/touch, ${marker}, "{toIp}"]\n`,
    { mode: 0o600 },
  );
  const event = ['mymaster', 'leader', 'start', '127.0.0.1', '6379', '127.0.0.2', '6379'];
  const plain = await cliAsync(['--config', config, '--dry-run', ...event]);
  assert.equal(plain.status, 0, plain.stderr);
  assert.match(plain.stdout, /event is STALE/);
  assert.doesNotMatch(plain.stdout, /touch/);
  const drill = await cliAsync(['--config', config, '--dry-run', '--assume-current', ...event]);
  assert.equal(drill.status, 0, drill.stderr);
  console.log(drill.stdout);
  assert.match(
    drill.stdout,
    /^dry-run: .*\nWHAT-IF: the Sentinels do not name this to-ip as master: a real call would be refused as stale; planned as if it were current/,
  );
  assert.match(drill.stdout, new RegExp(`\\$ /usr/bin/touch ${marker} 127\\.0\\.0\\.2`));
  assert.equal(existsSync(marker), false, 'a dry-run runs nothing');
  assert.equal(existsSync(join(dir, 'hook.log')), false, 'and logs nothing');
  const refused = cli(['--config', config, '--assume-current', ...event]);
  assert.equal(refused.status, 2);
  assert.match(
    refused.stderr,
    /--assume-current plans an event the Sentinels may call stale: it is for a dry-run only/,
  );
  assert.equal(existsSync(marker), false);
});
