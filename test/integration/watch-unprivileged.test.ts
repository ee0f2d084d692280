// Issue 16, finding 2, for real: `sentinel-hook watch` started as the redis user with no-new-privileges
// (setpriv, as the watch unit's NoNewPrivileges=true), with and without the unit's ambient CAP_NET_ADMIN
// and CAP_NET_RAW. Without them the vip entry could never act (sudo cannot raise privileges under
// NoNewPrivs): watch must not start and look healthy; it exits 77 (the unit's RestartPreventExitStatus=,
// so the unit stays failed) with one line saying why. With them it starts. Needs root (setpriv).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

function setup(t: { after(fn: () => void): void }): { config: string } {
  assert.equal(process.getuid?.(), 0, 'needs root (setpriv to the redis user)');
  const { uid, gid } = redisIds();
  const dir = mkdtempSync(join(tmpdir(), `sh-watch-unpriv-${process.pid}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755);
  const lockDir = join(dir, 'run');
  mkdirSync(lockDir, { mode: 0o700 });
  chownSync(lockDir, uid, gid);
  const log = join(dir, 'hook.log');
  writeFileSync(log, '', { mode: 0o640 });
  chownSync(log, uid, gid);
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    [
      `lockDir: ${lockDir}`,
      `log: { file: ${log} }`,
      // Nothing listens there: these tests end before any Sentinel matters.
      'sentinels: { addresses: ["127.0.0.1:1"] }',
      'masters:',
      '  mymaster:',
      '    - type: vip',
      '      address: 192.0.2.10/24',
      '      privilege: sudo',
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  return { config };
}

const asRedis = (caps: boolean) => [
  '--reuid=redis',
  '--regid=redis',
  '--init-groups',
  ...(caps
    ? [
        '--inh-caps=-all,+net_admin,+net_raw',
        '--ambient-caps=+net_admin,+net_raw',
        '--bounding-set=-all,+net_admin,+net_raw',
      ]
    : ['--inh-caps=-all', '--bounding-set=-all']),
  '--nnp',
];

test('watch as redis under no-new-privileges without the capabilities: exit 77 at once, one line naming the entry and the fix', (t) => {
  const { config } = setup(t);
  const r = spawnSync(
    'setpriv',
    [...asRedis(false), process.execPath, reachablePath(cliPath()), 'watch', '--config', config],
    {
      encoding: 'utf8',
      timeout: 30_000,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' },
    },
  );
  assert.equal(r.status, 77, `exit ${r.status} ${r.signal ?? ''}: ${r.stdout}${r.stderr}`);
  const said = `${r.stdout}${r.stderr}`.trim().split('\n').filter(Boolean);
  assert.equal(said.length, 1, `one line: ${said.join('\n')}`);
  const line = JSON.parse(said[0]!) as { level: number; msg: string; code: string };
  assert.equal(line.code, 'watch-unprivileged');
  assert.equal(line.level, 50, 'an error: the journal shows it at err priority');
  assert.match(line.msg, /^watch cannot act: masters\.mymaster\[0\] \(vip\) needs CAP_NET_ADMIN and CAP_NET_RAW/);
  assert.match(line.msg, /NoNewPrivs/);
  assert.match(line.msg, /sentinel-hook systemd/);
});

test("the same watch with the unit's ambient CAP_NET_ADMIN and CAP_NET_RAW: it starts", async (t) => {
  const { config } = setup(t);
  const child = spawn(
    'setpriv',
    [...asRedis(true), process.execPath, reachablePath(cliPath()), 'watch', '--config', config],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' },
    },
  );
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => {
    out += b.toString();
  });
  child.stderr!.on('data', (b: Buffer) => {
    out += b.toString();
  });
  const started = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 20_000);
    const poll = setInterval(() => {
      if (out.includes('"msg":"watch start"') || child.exitCode !== null) {
        clearTimeout(timer);
        clearInterval(poll);
        resolve(out.includes('"msg":"watch start"'));
      }
    }, 50);
  });
  assert.ok(started, `watch started: ${out}`);
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  assert.equal(code, 0, out);
});
