// The CLI on a Node without process.getBuiltinModule (before 20.16; simulated by deleting it): one line
// naming the version needed, exit 2, rather than a TypeError half-way through a run.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

const BIN = resolve(import.meta.dirname, '../../bin/sentinel-hook.cjs');

test('a Node older than 20.16: exit 2 with one line saying what is needed, nothing run', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sh-node-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const older = join(dir, 'older-node.cjs');
  writeFileSync(older, 'delete process.getBuiltinModule;\n');
  const marker = join(dir, 'ran');
  const config = join(dir, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      log: { file: join(dir, 'hook.log') },
      lockDir: dir,
      masters: { m: [{ type: 'exec', run: ['/usr/bin/touch', marker] }] },
    }),
    { mode: 0o600 },
  );
  const r = spawnSync(
    process.execPath,
    ['-r', older, BIN, '--config', config, 'm', 'leader', 'start', '10.0.0.1', '6379', '10.0.0.2', '6379'],
    {
      encoding: 'utf8',
      timeout: 20_000,
    },
  );
  assert.equal(r.status, 2);
  assert.equal(
    r.stderr,
    `sentinel-hook: Node ${process.version} is too old: 20.16 or later is needed (set SENTINEL_HOOK_NODE to a newer node)\n`,
  );
  assert.equal(spawnSync('test', ['-e', marker]).status, 1, 'the action must not have run');
});
