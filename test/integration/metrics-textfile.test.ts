// The hook setup's metrics (no daemon): each real hook run (the built CLI) leaves its master's gauges in
// metrics.textfile for node_exporter, in a text promtool accepts; a dry-run leaves nothing.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cli } from '../support/cli.ts';

test('the hook writes sentinel_hook_<master>.prom: consistent, vip_held, last run; a failure turns them 0; a dry-run writes nothing', (t) => {
  const dir = mkdtempSync(join(tmpdir(), `sh-textfile-${process.pid}-`));
  chmodSync(dir, 0o755);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const textfile = join(dir, 'textfile');
  mkdirSync(textfile);
  const fail = join(dir, 'fail');
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `log: { file: ${dir}/hook.log }\nlockDir: ${dir}\nmetrics: { textfile: ${textfile} }\nmasters:\n  mymaster:\n` +
      `    - type: exec\n      run: [/bin/sh, -c, 'test ! -e ${fail}']\n`,
    { mode: 0o600 },
  );
  // To 127.0.0.1, one of this host's addresses: this host should hold what the master's holder holds.
  const event = ['mymaster', 'leader', 'start', '10.0.0.1', '6379', '127.0.0.1', '6379'];
  assert.equal(cli(['--config', config, '--dry-run', ...event]).status, 0);
  assert.deepEqual(readdirSync(textfile), [], 'a dry-run writes nothing');

  const ok = cli(['--config', config, ...event]);
  assert.equal(ok.status, 0, ok.stderr);
  const file = join(textfile, 'sentinel_hook_mymaster.prom');
  const text = readFileSync(file, 'utf8');
  console.log(text);
  assert.match(text, /^sentinel_hook_consistent\{master="mymaster"\} 1$/m);
  assert.match(text, /^sentinel_hook_vip_held\{master="mymaster"\} 1$/m);
  assert.match(text, /^sentinel_hook_last_run_success\{master="mymaster"\} 1$/m);
  const at = Number(/^sentinel_hook_last_run_timestamp_seconds\{master="mymaster"\} (\S+)$/m.exec(text)?.[1]);
  assert.ok(Math.abs(at - Date.now() / 1000) < 60, `a recent time: ${at}`);
  if (spawnSync('promtool', ['--version']).status === 0) {
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
  }

  writeFileSync(fail, '');
  assert.equal(cli(['--config', config, ...event]).status, 1);
  const after = readFileSync(file, 'utf8');
  assert.match(after, /^sentinel_hook_consistent\{master="mymaster"\} 0$/m);
  assert.match(after, /^sentinel_hook_last_run_success\{master="mymaster"\} 0$/m);
  // What it cannot tell after a failure stays as the last run left it.
  assert.match(after, /^sentinel_hook_vip_held\{master="mymaster"\} 1$/m);
  assert.equal(readdirSync(textfile).length, 1, 'no temporary file left');
  assert.ok(existsSync(file));
});
