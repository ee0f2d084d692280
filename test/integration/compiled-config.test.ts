// The config as `check` keeps it compiled for the failover path (src/config/compiled.ts), with the built CLI:
// a run takes the compiled file only when it is this build's, for this exact text, and as trusted as the
// config; in every other case the run does what the config file says. Asserted by what the run did (the
// file its exec entry touched) and what its log says it read. Needs root (owners, setuid children).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { BIN } from '../support/cli.ts';

const NOBODY = 65534;
const EVENT = ['mymaster', 'leader', 'start', '192.0.2.1', '6379', '192.0.2.2', '6379'];
const root = mkdtempSync(join(tmpdir(), `sentinel-hook-compiled-${process.pid}-`));
chmodSync(root, 0o755);
after(() => rmSync(root, { recursive: true, force: true }));

let hosts = 0;
/** One simulated host: its config (root's, 0644) in a directory of root's, and what Sentinel's user (nobody) may write. */
function host(marker = 'a') {
  const dir = join(root, `host${++hosts}`);
  const etc = join(dir, 'etc');
  const run = join(dir, 'run');
  mkdirSync(etc, { recursive: true, mode: 0o755 });
  mkdirSync(run, { mode: 0o755 });
  chownSync(run, NOBODY, NOBODY);
  const config = join(etc, 'config.yaml');
  writeFileSync(config, configText(run, marker), { mode: 0o644 });
  chmodSync(config, 0o644);
  return { config, compiled: join(etc, '.config.yaml.compiled.json'), run, log: join(run, 'hook.log') };
}

function configText(run: string, marker: string): string {
  return [
    `log: { file: ${run}/hook.log }`,
    `lockDir: ${run}/lock`,
    `stateDir: ${run}/state`,
    'masters:',
    '  mymaster:',
    '    - type: exec',
    `      run: [/usr/bin/touch, ${run}/ran-${marker}]`,
    '',
  ].join('\n');
}

function node(args: string[], opts: { uid?: number; umask?: string } = {}) {
  const argv = [process.execPath, BIN, ...args];
  const r = spawnSync(
    opts.umask ? '/bin/sh' : argv[0]!,
    opts.umask ? ['-c', `umask ${opts.umask}; exec "$@"`, 'sh', ...argv] : argv.slice(1),
    {
      encoding: 'utf8',
      env: { PATH: process.env.PATH! },
      timeout: 30_000,
      killSignal: 'SIGKILL',
      ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.uid } : {}),
    },
  );
  return r;
}

/** A failover as Sentinel's user runs it; returns what its log's 'hook start' says about the config. */
function failover(h: ReturnType<typeof host>): true | string {
  const r = node(['--config', h.config, ...EVENT], { uid: NOBODY });
  assert.equal(r.status, 0, `the hook run failed: ${r.stderr}`);
  const starts = readFileSync(h.log, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { msg: string; compiled?: true | string })
    .filter((l) => l.msg === 'hook start');
  return starts.at(-1)!.compiled!;
}

function check(h: ReturnType<typeof host>, opts: { uid?: number } = {}) {
  // umask 077, as a careful root's shell may have: the compiled file must still be readable by Sentinel's user.
  return node(['check', '--config', h.config], { ...opts, umask: '077' });
}

test('after check (as root, umask 077) a failover run as Sentinel’s user reads the config compiled and does what it says', () => {
  const h = host();
  const r = check(h);
  assert.match(r.stdout, new RegExp(`failover path: the config as checked, kept in ${h.compiled}`));
  const st = statSync(h.compiled);
  assert.equal(st.uid, 0);
  assert.equal(st.mode & 0o777, 0o644, 'readable as the config is, whatever the umask');
  assert.equal(failover(h), true);
  assert.ok(existsSync(join(h.run, 'ran-a')));
});

test('a config edited since check: the run does what the file says now, and its log says why it parsed', () => {
  const h = host();
  check(h);
  writeFileSync(h.config, configText(h.run, 'b'));
  assert.match(String(failover(h)), /config edited since it was compiled: run sentinel-hook check/);
  assert.ok(existsSync(join(h.run, 'ran-b')));
  assert.ok(!existsSync(join(h.run, 'ran-a')), 'the stale compiled entry ran');
  // check again: compiled once more, and the run takes it.
  check(h);
  assert.equal(failover(h), true);
});

/** A compiled file that says to touch ran-forged, for the config's very text and this build. */
function forge(h: ReturnType<typeof host>): void {
  check(h);
  const saved = JSON.parse(readFileSync(h.compiled, 'utf8'));
  saved.config.masters.mymaster[0].run = ['/usr/bin/touch', `${h.run}/ran-forged`];
  rmSync(h.compiled);
  writeFileSync(h.compiled, JSON.stringify(saved), { mode: 0o644 });
}

test('a compiled file the config’s owner did not write, or others may write, is not believed', async (t) => {
  await t.test('owned by another user (as anyone may create a name in a sticky directory)', () => {
    const h = host();
    forge(h);
    chownSync(h.compiled, NOBODY, NOBODY);
    assert.match(String(failover(h)), /owned by uid 65534, not by the config's owner/);
    assert.ok(existsSync(join(h.run, 'ran-a')));
    assert.ok(!existsSync(join(h.run, 'ran-forged')));
  });
  await t.test('writable by others', () => {
    const h = host();
    forge(h);
    chmodSync(h.compiled, 0o666);
    assert.match(String(failover(h)), /writable by others/);
    assert.ok(existsSync(join(h.run, 'ran-a')));
    assert.ok(!existsSync(join(h.run, 'ran-forged')));
  });
  await t.test('a symlink in its place (not followed)', () => {
    const h = host();
    forge(h);
    const elsewhere = join(h.run, 'elsewhere.json');
    writeFileSync(elsewhere, readFileSync(h.compiled));
    rmSync(h.compiled);
    symlinkSync(elsewhere, h.compiled);
    assert.match(String(failover(h)), /ELOOP/);
    assert.ok(existsSync(join(h.run, 'ran-a')));
    assert.ok(!existsSync(join(h.run, 'ran-forged')));
  });
});

test('a compiled file from another build, or one that is not JSON, is parsed around; the run still succeeds', () => {
  const h = host();
  check(h);
  const saved = JSON.parse(readFileSync(h.compiled, 'utf8'));
  assert.match(saved.build, /^[0-9a-f]{64}$/, 'the build id is the hash the build stamped');
  saved.build = '0'.repeat(64);
  writeFileSync(h.compiled, JSON.stringify(saved));
  assert.match(String(failover(h)), /compiled by another build of sentinel-hook/);
  writeFileSync(h.compiled, '{"format": 1, "build": ');
  assert.match(String(failover(h)), /JSON/);
  assert.ok(existsSync(join(h.run, 'ran-a')));
});

test('check by a user who may read the config but not write beside it: still a check, and it says runs will parse', () => {
  const h = host();
  const r = check(h, { uid: NOBODY });
  assert.match(r.stdout, /failover path: parses the config on every run \(cannot write .*: EACCES\)/);
  assert.ok(!existsSync(h.compiled));
  assert.match(r.stdout, /^config OK:/m);
});

test('a config Sentinel’s user owns (a clone install), checked by that user: its runs believe the compiled file', () => {
  const h = host();
  chownSync(join(h.config, '..'), NOBODY, NOBODY);
  chownSync(h.config, NOBODY, NOBODY);
  const r = check(h, { uid: NOBODY });
  assert.match(r.stdout, /failover path: the config as checked, kept in/);
  assert.equal(statSync(h.compiled).uid, NOBODY);
  assert.equal(failover(h), true);
});

test('a dry-run shows the same plan from the compiled config as from the text', () => {
  const h = host();
  const parsed = node(['--config', h.config, '--dry-run', '--json', ...EVENT]);
  check(h);
  const compiled = node(['--config', h.config, '--dry-run', '--json', ...EVENT]);
  assert.equal(parsed.status, 0, parsed.stderr);
  assert.deepEqual(JSON.parse(compiled.stdout), JSON.parse(parsed.stdout));
});

test('doctor says whether runs read the config compiled, and how to make them', () => {
  const h = host();
  const compiledCheck = () => {
    const r = node(['doctor', '--config', h.config, '--user', 'nobody', '--json']);
    const report = JSON.parse(r.stdout) as {
      checks: { check: string; result: string; detail: string; fix?: string }[];
    };
    return report.checks.find((c) => c.check === 'config compiled')!;
  };
  const before = compiledCheck();
  assert.equal(before.result, 'warn');
  assert.match(before.detail, /every run parses the config \(not compiled\)/);
  assert.equal(before.fix, `sentinel-hook check --config ${h.config}`);
  check(h);
  assert.equal(compiledCheck().result, 'pass');
  writeFileSync(h.config, configText(h.run, 'b'));
  assert.match(compiledCheck().detail, /config edited since it was compiled/);
});
