// `sentinel-hook log` on the log a real hook run wrote (the built CLI): its timeline, and --json.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

const BIN = resolve(import.meta.dirname, '../../bin/sentinel-hook.cjs');

function cli(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH! },
    timeout: 30_000,
    killSignal: 'SIGKILL',
  });
}

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
