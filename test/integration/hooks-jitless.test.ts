// The hook wrappers under SENTINEL_HOOK_JITLESS=1 (set by the drop-in of `sentinel-hook systemd --hook`
// for Debian's MemoryDenyWriteExecute=true): node runs without its JIT and says nothing about it. With
// --jitless alone, node writes "Warning: disabling flag --expose_wasm due to conflicting flags" to stderr
// on every run: a journal line per hook run (issue 16, finding 5). hooks/notify (Sentinel's
// notification-script, and hooks/reannounce through it) honours the variable too: without it node
// aborts under that unit. The node they start is a wrapper that records its argv, then execs the real one.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '../..');

function fakeNode(t: { after(fn: () => void): void }): { node: string; argvFile: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), `sh-jitless-${process.pid}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const argvFile = join(dir, 'argv');
  const node = join(dir, 'node');
  writeFileSync(node, `#!/bin/sh\nprintf '%s\\n' "$@" > '${argvFile}'\nexec '${process.execPath}' "$@"\n`);
  chmodSync(node, 0o755);
  return { node, argvFile, dir };
}

test('hooks/client-reconfig with SENTINEL_HOOK_JITLESS=1: node --jitless --no-expose-wasm, and nothing on stderr', (t) => {
  const { node, argvFile } = fakeNode(t);
  const r = spawnSync(join(ROOT, 'hooks/client-reconfig'), ['--version'], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { SENTINEL_HOOK_NODE: node, SENTINEL_HOOK_JITLESS: '1' },
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.deepEqual(readFileSync(argvFile, 'utf8').split('\n').slice(0, 2), ['--jitless', '--no-expose-wasm']);
  assert.match(r.stdout, /sentinel-hook/);
  assert.equal(r.stderr, '', 'no warning line for the journal');
});

test('hooks/notify and hooks/reannounce with SENTINEL_HOOK_JITLESS=1: node --jitless --no-expose-wasm too, nothing about flags on stderr', (t) => {
  const { node, argvFile, dir } = fakeNode(t);
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `lockDir: ${join(dir, 'run')}\nlog: { file: ${join(dir, 'hook.log')} }\nmasters:\n  mymaster:\n    - type: exec\n      run: [/bin/true]\n`,
    { mode: 0o600 },
  );
  for (const wrapper of ['notify', 'reannounce']) {
    rmSync(argvFile, { force: true });
    const r = spawnSync(
      join(ROOT, 'hooks', wrapper),
      ['-sdown', 'slave 10.0.0.2:6379 10.0.0.2 6379 @ mymaster 10.0.0.1 6379'],
      {
        encoding: 'utf8',
        timeout: 30_000,
        env: { SENTINEL_HOOK_NODE: node, SENTINEL_HOOK_JITLESS: '1', SENTINEL_HOOK_CONFIG: config },
      },
    );
    const argv = readFileSync(argvFile, 'utf8').split('\n');
    assert.deepEqual(argv.slice(0, 2), ['--jitless', '--no-expose-wasm'], `${wrapper}: ${argv.join(' ')}`);
    assert.ok(argv.includes('notify'), `${wrapper} runs sentinel-hook notify: ${argv.join(' ')}`);
    assert.equal(r.status, 0, `${wrapper}: ${r.stdout}${r.stderr}`);
    assert.doesNotMatch(r.stderr, /Warning|flag/, wrapper);
  }
});
