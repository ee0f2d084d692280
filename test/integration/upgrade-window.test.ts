// Upgrades without a window (issue 15 §4): Sentinel may start the hook at any moment of an install or
// upgrade, and reads the exit 2 of a hook that cannot load its build as "drop this failover". So the
// build must need nothing from node_modules (which `npm ci` deletes first), and `dist` must lead to a
// complete build at every moment (scripts/dist-switch.mjs).

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { type SshLab, startSshLab } from '../support/sshd.ts';
import { hostsConfig, writeConfig } from '../support/sshd-hook.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const EVENT = ['mymaster', 'leader', 'start', '192.0.2.1', '6379', '192.0.2.2', '6379'];
const running = new Set<ChildProcess>();
test.after(() => {
  for (const child of running) child.kill('SIGKILL');
});

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function run(argv: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<Exit> {
  return new Promise((done, fail) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.once('error', fail);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      done({ code, signal, stdout, stderr });
    });
  });
}

test('the built CLI needs only bin/ and its build: a hosts push over ssh from a copy of them, no node_modules anywhere', {
  skip: process.getuid?.() !== 0 && 'needs root (sshd)',
  timeout: 120_000,
}, async () => {
  let lab: SshLab | undefined;
  const install = mkdtempSync(join(tmpdir(), 'sh-bare-install-'));
  try {
    lab = await startSshLab({ count: 1, hostsContent: () => '127.0.0.1\tlocalhost\n10.9.9.1 redis-master\n' });
    cpSync(join(ROOT, 'bin'), join(install, 'bin'), { recursive: true });
    cpSync(realpathSync(join(ROOT, 'dist')), join(install, 'dist'), { recursive: true });
    for (let dir = install; dir !== '/'; dir = resolve(dir, '..'))
      assert.equal(
        existsSync(join(dir, 'node_modules')),
        false,
        `${dir}/node_modules would make this test prove nothing`,
      );
    const config = writeConfig(lab.dir, hostsConfig(lab, {}, { names: ['redis-master'] }));
    // HOME too: require() also searches ~/.node_modules.
    const env = { PATH: process.env.PATH!, HOME: install, NODE_PATH: '' };
    const argv = [process.execPath, join(install, 'bin/sentinel-hook.cjs'), '--config', config, '--json'];
    const r = await run([...argv, 'mymaster', 'leader', 'start', '10.9.9.1', '6379', '10.9.9.2', '6379'], {
      env,
      timeoutMs: 60_000,
    });
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal(readFileSync(lab.servers[0]!.hostsFile, 'utf8'), '127.0.0.1\tlocalhost\n10.9.9.2 redis-master\n');
  } finally {
    await lab?.close();
    rmSync(install, { recursive: true, force: true });
  }
});

/** One start of the hook, and what the install looked like when it began. */
interface Call {
  kind: 'dry-run' | 'real run';
  startMs: number;
  endMs: number;
  exit: Exit;
  /** node_modules/ssh2 was there when the call started. */
  nodeModules: boolean;
  /** Where `dist` led when the call started. */
  build: string;
}

const MAX_CALLS = 3000;
const LOOP_MS = 240_000;

test('hook calls in a loop during `npm ci && npm run build` all exit 0, old build or new', {
  timeout: 420_000,
}, async (t) => {
  const copy = mkdtempSync(join(tmpdir(), 'sh-upgrade-window-'));
  try {
    // The working tree as it is (uncommitted edits included), as a clone would have it before `npm ci`.
    cpSync(ROOT, copy, {
      recursive: true,
      filter: (src) => {
        const top = src.slice(ROOT.length + 1).split('/')[0]!;
        return !['node_modules', '.git', 'dist', 'tmp'].includes(top) && !top.startsWith('dist.');
      },
    });
    // From the npm cache when it holds the lockfile's packages (it does after this checkout's own
    // `npm ci`), from the registry otherwise.
    const npmCi = ['npm', 'ci', '--prefer-offline', '--no-audit', '--no-fund'];
    const npmEnv = { ...process.env, NODE_TEST_CONTEXT: undefined, SENTINEL_HOOK_WRITE_CODE_CACHE: undefined };
    const install = await run(npmCi, { cwd: copy, env: npmEnv, timeoutMs: 180_000 });
    assert.equal(install.code, 0, `first npm ci: ${install.stderr}`);
    const firstBuild = readlinkSync(join(copy, 'dist'));

    const logDir = mkdtempSync(join(copy, 'run-'));
    const realConfig = join(logDir, 'config.yaml');
    writeFileSync(
      realConfig,
      `log: { file: ${join(logDir, 'hook.log')} }\nlockDir: ${logDir}\nmasters:\n  mymaster:\n    - type: exec\n      run: [/bin/true, "{toIp}"]\n`,
    );
    chmodSync(realConfig, 0o600);
    const configs = {
      'dry-run': ['--config', join(copy, 'examples/exec/config.yaml'), '--dry-run'],
      'real run': ['--config', realConfig],
    };
    const hookEnv = { PATH: process.env.PATH!, SENTINEL_HOOK_NODE: process.execPath };
    const calls: Call[] = [];
    const t0 = performance.now();
    let rebuilding = true;
    // A dry-run is the call; a real run also loads the lazy bundles (pino, execa) after its start.
    const loop = async (kind: Call['kind']) => {
      while (rebuilding && calls.length < MAX_CALLS && performance.now() - t0 < LOOP_MS) {
        const startMs = performance.now() - t0;
        const nodeModules = existsSync(join(copy, 'node_modules/ssh2/package.json'));
        let build: string;
        try {
          build = readlinkSync(join(copy, 'dist'));
        } catch {
          build = '(missing)';
        }
        const exit = await run([join(copy, 'hooks/client-reconfig'), ...configs[kind], ...EVENT], {
          env: hookEnv,
          timeoutMs: 30_000,
        });
        calls.push({ kind, startMs, endMs: performance.now() - t0, exit, nodeModules, build });
      }
    };
    const rebuild = (async () => {
      const startMs = performance.now() - t0;
      try {
        const ci = await run(npmCi, { cwd: copy, env: npmEnv, timeoutMs: 180_000 });
        if (ci.code !== 0) return { startMs, endMs: performance.now() - t0, failed: `npm ci: ${ci.stderr}` };
        const b = await run(['npm', 'run', 'build'], { cwd: copy, env: npmEnv, timeoutMs: 120_000 });
        return { startMs, endMs: performance.now() - t0, failed: b.code === 0 ? undefined : `build: ${b.stderr}` };
      } finally {
        rebuilding = false;
      }
    })();
    // A head start for the loops: the first calls run before npm touches anything.
    const loops = Promise.all([loop('dry-run'), loop('real run')]);
    const rebuilt = await rebuild;
    await loops;

    assert.equal(rebuilt.failed, undefined);
    const failed = calls.filter((c) => c.exit.code !== 0);
    assert.deepEqual(
      failed.map(
        (c) =>
          `${c.kind} at ${Math.round(c.startMs)} ms: exit ${c.exit.code ?? c.exit.signal}: ${c.exit.stderr.trim()}`,
      ),
      [],
    );
    const during = calls.filter((c) => c.startMs < rebuilt.endMs && c.endMs > rebuilt.startMs);
    assert.ok(during.length >= 10, `only ${during.length} calls overlapped the rebuild`);
    assert.ok(
      calls.some((c) => !c.nodeModules),
      'no call started while node_modules was gone: the window was not tested',
    );
    const builds = new Set(calls.map((c) => c.build));
    assert.ok(builds.size >= 2, `every call started with dist -> ${[...builds]}: no switch happened during the loop`);
    assert.ok(!builds.has('(missing)'));
    // Two builds later (npm ci's prepare, then npm run build) the first one is no longer needed.
    const current = readlinkSync(join(copy, 'dist'));
    assert.ok(existsSync(join(copy, current, 'sentinel-hook.cjs.cache')), 'the new build has no code cache');
    assert.equal(existsSync(join(copy, firstBuild)), false, `${firstBuild} was kept`);
    assert.ok(readdirSync(copy).filter((n) => n.startsWith('dist.')).length <= 2);
    t.diagnostic(
      `${calls.length} calls (${during.length} during the ${Math.round(rebuilt.endMs - rebuilt.startMs)} ms rebuild, ` +
        `${calls.filter((c) => !c.nodeModules).length} while node_modules was incomplete), ${builds.size} builds seen`,
    );
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
});
