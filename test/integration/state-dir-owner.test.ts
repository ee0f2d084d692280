// Root making a missing state directory (issue 15 leftover): a `pause` typed as root before any unit
// ran. Made root's, mode 700, the pause was invisible to watch and the hook running as Sentinel's user,
// and they could keep no record there. Root now makes it for the lock directory's owner (the user every
// process serving the masters shares); with no lock directory to tell whose it is, root refuses with the
// install -d line instead of guessing. Judged by what the redis user can then do. Needs root.
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
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cliPath } from '../lab/lab.ts';
import { reachablePath } from '../support/checkout.ts';

function redisIds(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('redis:'));
  assert.ok(line, 'the redis user exists (redis-server is installed)');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

function setup(t: { after(fn: () => void): void }, opts: { lockDir: boolean }) {
  assert.equal(process.getuid?.(), 0, 'needs root');
  const dir = mkdtempSync(join(tmpdir(), `sh-state-owner-${process.pid}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755);
  const { uid, gid } = redisIds();
  const lockDir = join(dir, 'run');
  if (opts.lockDir) {
    mkdirSync(lockDir, { mode: 0o700 });
    chownSync(lockDir, uid, gid);
  }
  const stateDir = join(dir, 'lib', 'sentinel-hook');
  const log = join(dir, 'hook.log');
  writeFileSync(log, '', { mode: 0o640 });
  chownSync(log, uid, gid);
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `lockDir: ${lockDir}\nstateDir: ${stateDir}\nlog: { file: ${log} }\nmasters:\n  mymaster:\n    - type: exec\n      run: [/bin/true]\n`,
    { mode: 0o644 },
  );
  return { config, stateDir, uid, gid };
}

function cli(args: string[], asRedis = false) {
  const argv = [process.execPath, reachablePath(cliPath()), ...args];
  const r = asRedis
    ? spawnSync('setpriv', ['--reuid=redis', '--regid=redis', '--init-groups', ...argv], {
        encoding: 'utf8',
        timeout: 30_000,
      })
    : spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

test("root pauses with the state directory missing: it is made for the lock directory owner, and Sentinel's user can end the pause", (t) => {
  const { config, stateDir, uid, gid } = setup(t, { lockDir: true });
  const paused = cli(['pause', '--config', config, '--reason', 'maintenance']);
  assert.equal(paused.code, 0, paused.out);
  const st = statSync(stateDir);
  assert.deepEqual({ uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 }, { uid, gid, mode: 0o700 });
  const resumed = cli(['resume', '--config', config], true);
  assert.equal(resumed.code, 0, `redis could not end root's pause: ${resumed.out}`);
  assert.equal(existsSync(join(stateDir, 'paused')), false, 'the pause is gone');
});

test('root pauses with neither the state directory nor the lock directory there: refused with the install -d line, nothing made', (t) => {
  const { config, stateDir } = setup(t, { lockDir: false });
  const r = cli(['pause', '--config', config]);
  assert.notEqual(r.code, 0, r.out);
  assert.equal(existsSync(stateDir), false, 'root did not guess an owner');
  assert.match(r.out, /install -d -m 0700 -o redis -g redis/);
  assert.equal(r.out.trim().split('\n').length, 1, `one line: ${r.out}`);
});
