// The hook wrappers under SENTINEL_HOOK_JITLESS=1 (set by the drop-in of `sentinel-hook systemd --hook`
// for Debian's MemoryDenyWriteExecute=true): node runs without its JIT and says nothing about it. With
// --jitless alone, node writes "Warning: disabling flag --expose_wasm due to conflicting flags" to stderr
// on every run: a journal line per hook run (issue 16, finding 5). hooks/notify (Sentinel's
// notification-script, and hooks/reannounce through it) honours the variable too: without it node
// aborts under that unit. The node they start is a wrapper that records its argv, then execs the real one.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

// Node 20 and 22 know --no-expose-wasm (and warn under --jitless without it); Node 24 refuses it (exit 9).
const knowsNoExposeWasm = spawnSync(process.execPath, ['--no-expose-wasm', '--version']).status === 0;
const JITLESS_FLAGS = knowsNoExposeWasm ? ['--jitless', '--no-expose-wasm'] : ['--jitless'];

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

test('hooks/client-reconfig with SENTINEL_HOOK_JITLESS=1: node --jitless (--no-expose-wasm where node knows it), and nothing on stderr', (t) => {
  const { node, argvFile } = fakeNode(t);
  const r = spawnSync(join(ROOT, 'hooks/client-reconfig'), ['--version'], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { SENTINEL_HOOK_NODE: node, SENTINEL_HOOK_JITLESS: '1' },
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const argv = readFileSync(argvFile, 'utf8').split('\n');
  assert.deepEqual(argv.slice(0, JITLESS_FLAGS.length), JITLESS_FLAGS, argv.join(' '));
  assert.notEqual(argv[JITLESS_FLAGS.length], '--no-expose-wasm', `${process.version} refuses the flag`);
  assert.match(r.stdout, /sentinel-hook/);
  assert.equal(r.stderr, '', 'no warning line for the journal');
});

test('hooks/notify and hooks/reannounce with SENTINEL_HOOK_JITLESS=1: node --jitless too (--no-expose-wasm where node knows it), nothing about flags on stderr', (t) => {
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
    assert.deepEqual(argv.slice(0, JITLESS_FLAGS.length), JITLESS_FLAGS, `${wrapper}: ${argv.join(' ')}`);
    assert.ok(argv.includes('notify'), `${wrapper} runs sentinel-hook notify: ${argv.join(' ')}`);
    assert.equal(r.status, 0, `${wrapper}: ${r.stdout}${r.stderr}`);
    assert.doesNotMatch(r.stderr, /Warning|flag/, wrapper);
  }
});

test('the hook wrappers find the install when Sentinel names them by a link or a relative path, and run the CLI of that install', (t) => {
  const { node, argvFile, dir } = fakeNode(t);
  const env = { SENTINEL_HOOK_NODE: node };
  const cli = join(ROOT, 'bin/sentinel-hook.cjs');
  for (const hook of ['client-reconfig', 'notify']) {
    const link = join(dir, `linked-${hook}`);
    symlinkSync(join(ROOT, 'hooks', hook), link);
    const calls = [
      spawnSync(link, ['--version'], { encoding: 'utf8', timeout: 30_000, env }),
      spawnSync(`./hooks/${hook}`, ['--version'], { encoding: 'utf8', timeout: 30_000, env, cwd: ROOT }),
      spawnSync(join(ROOT, 'hooks', hook), ['--version'], { encoding: 'utf8', timeout: 30_000, env }),
    ];
    for (const [i, r] of calls.entries()) {
      // notify reads `--version` as its event type and asks for the description: node ran, which is the point.
      if (hook === 'client-reconfig') assert.match(r.stdout, /^sentinel-hook /m, `${hook} call ${i}: ${r.stderr}`);
      else assert.match(r.stderr, /missing required argument 'description'/, `${hook} call ${i}`);
      // The CLI given to node is this install's, whichever way the wrapper was named.
      const script = readFileSync(argvFile, 'utf8')
        .split('\n')
        .find((a) => a.endsWith('sentinel-hook.cjs'));
      assert.equal(realpathSync(resolve(ROOT, script!)), cli, `${hook} call ${i}`);
    }
  }
});
