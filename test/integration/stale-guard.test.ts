import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseEvent } from '../../src/event.ts';
import { type AskSentinel, checkFreshness, type SentinelsConfig } from '../../src/sentinel/client.ts';
import { freePort, LoopbackSentinel, scriptedSentinel } from '../support/loopback-redis.ts';

const lab = new LoopbackSentinel({ password: 'correct horse' });
test.before(() => lab.start(), { timeout: 120_000 });
test.after(() => lab.stop());

function guard(extra: Partial<SentinelsConfig> = {}): SentinelsConfig {
  return {
    addresses: [`127.0.0.1:${lab.sentinelPort}`],
    password: { env: 'SH_TEST_PW' },
    timeout: 500,
    settle: 1000,
    ...extra,
  };
}
const env = { SH_TEST_PW: 'correct horse' };
const event = (toPort: number, fromPort: number) =>
  parseEvent(['mymaster', 'leader', 'start', '127.0.0.1', String(fromPort), '127.0.0.1', String(toPort)]);

test('current: the Sentinel names the to-ip:port as master (password honoured)', async () => {
  const f = await checkFreshness(event(lab.masterPort, lab.replicaPort), ['127.0.0.1'], guard(), env);
  assert.equal(f.verdict, 'current');
});

test('stale: the Sentinel answers with another master, after asking again for the settle time', async () => {
  const started = performance.now();
  const f = await checkFreshness(event(lab.replicaPort, lab.masterPort), ['127.0.0.1'], guard({ settle: 800 }), env);
  const took = performance.now() - started;
  assert.equal(f.verdict, 'stale');
  assert.ok(took >= 700 && took < 3000, `asked again for ~settle (${Math.round(took)} ms)`);
});

test('unknown: no Sentinel answers (closed port) → act on the arguments', async () => {
  const closed = await freePort();
  const f = await checkFreshness(
    event(lab.replicaPort, lab.masterPort),
    ['127.0.0.1'],
    guard({ addresses: [`127.0.0.1:${closed}`], settle: 300 }),
    env,
  );
  assert.equal(f.verdict, 'unknown');
});

test('a wrong password, or a user without permission, is never "no answer": with no verdict, exit 2 naming the Sentinel', async (t) => {
  // A late retry (→ the replica, no longer master): acting on it would undo the newer failover.
  const late = event(lab.replicaPort, lab.masterPort);
  const address = `127.0.0.1:${lab.sentinelPort}`;
  await assert.rejects(
    checkFreshness(late, ['127.0.0.1'], guard({ settle: 200 }), { SH_TEST_PW: 'wrong' }),
    (err: Error & { exitCode?: number }) => {
      assert.equal(err.exitCode, 2);
      assert.ok(err.message.includes(address), err.message);
      assert.match(err.message, /WRONGPASS/);
      assert.doesNotMatch(err.message, /wrong\b/, 'the password itself is not echoed');
      return true;
    },
  );
  for (const reply of [
    '-NOAUTH Authentication required.\r\n',
    "-NOPERM User hook has no permissions to run the 'sentinel|get-master-addr-by-name' command\r\n",
  ]) {
    const fake = await scriptedSentinel((command) => (command[0] === 'AUTH' ? '+OK\r\n' : reply));
    t.after(() => fake.close());
    await assert.rejects(
      checkFreshness(late, ['127.0.0.1'], guard({ addresses: [fake.address], settle: 200 }), env),
      (err: Error & { exitCode?: number }) => {
        assert.equal(err.exitCode, 2, err.message);
        assert.ok(err.message.includes(fake.address), err.message);
        assert.ok(err.message.includes(reply.slice(1, 7)), err.message);
        return true;
      },
    );
  }
});

test('a Sentinel that refuses the password beside one that gives a verdict: the verdict is followed', async (t) => {
  const refusing = await scriptedSentinel(() => '-WRONGPASS invalid username-password pair or user is disabled.\r\n');
  t.after(() => refusing.close());
  const both = guard({ addresses: [refusing.address, `127.0.0.1:${lab.sentinelPort}`], settle: 300 });
  const master = (await lab.currentMasterPort())!;
  const other = master === lab.masterPort ? lab.replicaPort : lab.masterPort;
  const stale = await checkFreshness(event(other, master), ['127.0.0.1'], both, env);
  assert.equal(stale.verdict, 'stale');
  assert.match(JSON.stringify(stale.answers[0]), /WRONGPASS/);
  const current = await checkFreshness(event(master, other), ['127.0.0.1'], both, env);
  assert.equal(current.verdict, 'current');
});

test('a Sentinel with no password that says so to AUTH (Redis 6/7, Redis 5) still answers the master question: its verdict is followed', async (t) => {
  const pw = 'correct horse';
  const noPassword = [
    `-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n`.replace(
      '<password>',
      pw,
    ),
    '-ERR Client sent AUTH, but no password is set\r\n',
  ];
  for (const authReply of noPassword) {
    // It answered get-master-addr-by-name in the same pipeline: 127.0.0.1:7001 is the master.
    const fake = await scriptedSentinel((command) =>
      command[0] === 'AUTH' ? authReply : '*2\r\n$9\r\n127.0.0.1\r\n$4\r\n7001\r\n',
    );
    t.after(() => fake.close());
    const cfg = guard({ addresses: [fake.address], settle: 200 });
    const late = await checkFreshness(
      parseEvent(['mymaster', 'leader', 'start', '127.0.0.1', '7001', '127.0.0.1', '7002']),
      ['127.0.0.1'],
      cfg,
      env,
    );
    assert.equal(late.verdict, 'stale', `${authReply}: a late retry must not act: ${JSON.stringify(late.answers)}`);
    const current = await checkFreshness(
      parseEvent(['mymaster', 'leader', 'start', '127.0.0.1', '7002', '127.0.0.1', '7001']),
      ['127.0.0.1'],
      cfg,
      env,
    );
    assert.equal(current.verdict, 'current', JSON.stringify(current.answers));
    const shown = JSON.stringify(current.answers);
    assert.match(shown, /"warning":"[^"]*no password/i, 'the needless password is pointed out');
    assert.ok(!shown.includes(pw), `the password is not echoed: ${shown}`);
  }
});

test('end to end: with a Sentinel that has no password (Redis 6/7 answer to AUTH), a late retry does nothing and the log warns', {
  timeout: 60_000,
}, async (t) => {
  const { spawn } = await import('node:child_process');
  const { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } = await import('node:fs');
  const { join, resolve } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'sh-stale-nopw-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const fake = await scriptedSentinel((command) =>
    command[0] === 'AUTH'
      ? `-ERR AUTH ${command[1]} called without any password configured for the default user. Are you sure your configuration is correct?\r\n`
      : '*2\r\n$9\r\n127.0.0.1\r\n$4\r\n7001\r\n',
  );
  t.after(() => fake.close());
  const marker = join(dir, 'acted');
  const log = join(dir, 'hook.log');
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `log: { file: ${log} }\nlockDir: ${dir}\nsentinels:\n  addresses: ["${fake.address}"]\n  password: { env: SH_TEST_PW }\n  settle: 300ms\nmasters:\n  mymaster:\n    - type: exec\n      run: [/usr/bin/touch, ${marker}]\n`,
  );
  chmodSync(config, 0o600);
  const bin = resolve(import.meta.dirname, '../../bin/sentinel-hook.cjs');
  // Asynchronous: the fake lives in this process.
  const status = await new Promise<number | null>((done) => {
    const child = spawn(
      process.execPath,
      [bin, '--config', config, 'mymaster', 'observer', 'start', '127.0.0.1', '7001', '127.0.0.1', '7002'],
      {
        env: { SH_TEST_PW: 'correct horse', PATH: process.env.PATH! },
        stdio: 'ignore',
        timeout: 30_000,
      },
    );
    child.on('close', done);
  });
  const text = readFileSync(log, 'utf8');
  assert.equal(status, 0, text);
  assert.equal(existsSync(marker), false, `a late retry acted: ${text}`);
  assert.match(text, /stale event/);
  assert.match(text, /no password/i, 'the needless password is pointed out');
  assert.doesNotMatch(text, /correct horse/);
});

test('one confirming Sentinel out of several is enough (the others may lag or be down)', async () => {
  const closed = await freePort();
  const f = await checkFreshness(
    event(lab.masterPort, lab.replicaPort),
    ['127.0.0.1'],
    guard({ addresses: [`127.0.0.1:${closed}`, `127.0.0.1:${lab.sentinelPort}`] }),
    env,
  );
  assert.equal(f.verdict, 'current');
});

test('a Sentinel that accepts and never replies counts as not answering after its timeout; the deadline cuts the whole check short', async (t) => {
  const { createServer } = await import('node:net');
  const sockets = new Set<import('node:net').Socket>();
  const silent = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s))
      .on('error', () => {})
      .resume();
  });
  await new Promise<void>((ok) => silent.listen(0, '127.0.0.1', ok));
  t.after(() => silent.close());
  const silentAddress = `127.0.0.1:${(silent.address() as { port: number }).port}`;
  const started = performance.now();
  const f = await checkFreshness(
    event(lab.replicaPort, lab.masterPort),
    ['127.0.0.1'],
    guard({ addresses: [silentAddress], timeout: 200, settle: 300 }),
    env,
  );
  assert.equal(f.verdict, 'unknown');
  assert.match(JSON.stringify(f.answers), /no answer within 200 ms/);
  assert.ok(performance.now() - started < 3000);

  // The run's deadline comes first: the check ends then, however long timeout and settle are.
  const deadline = new AbortController();
  setTimeout(() => deadline.abort(), 300);
  const cut = performance.now();
  const g = await checkFreshness(
    event(lab.replicaPort, lab.masterPort),
    ['127.0.0.1'],
    guard({ addresses: [silentAddress], timeout: 20_000, settle: 20_000 }),
    env,
    { signal: deadline.signal },
  );
  assert.ok(performance.now() - cut < 3000, `ended at the deadline (${Math.round(performance.now() - cut)} ms)`);
  assert.match(JSON.stringify(g.answers), /before the run's deadline/);
  for (let i = 0; i < 50 && sockets.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(sockets.size, 0, 'no connection left open');
});

test('an ask that never settles is bounded too, and a Sentinel host name is looked up once per check', async () => {
  const lookups: string[] = [];
  const resolve = async (host: string) => {
    lookups.push(host);
    return host === 'sentinel.lab' ? ['127.0.0.1'] : [];
  };
  const f = await checkFreshness(
    event(lab.replicaPort, lab.masterPort),
    ['127.0.0.1'],
    guard({ addresses: [`sentinel.lab:${lab.sentinelPort}`], settle: 600 }),
    env,
    { resolve },
  );
  assert.equal(f.verdict, 'stale', 'the real Sentinel answered through the looked-up address');
  assert.deepEqual(lookups, ['sentinel.lab'], 'once, though asked several rounds');
  // A name whose first address has no Sentinel (IPv6 first, Sentinel bound to IPv4): the next one is tried.
  const both = async (host: string) => (host === 'sentinel.lab' ? ['::1', '127.0.0.1'] : []);
  const second = await checkFreshness(
    event(lab.replicaPort, lab.masterPort),
    ['127.0.0.1'],
    guard({ addresses: [`sentinel.lab:${lab.sentinelPort}`], settle: 0 }),
    env,
    { resolve: both },
  );
  assert.equal(
    second.verdict,
    'stale',
    `the Sentinel answered on the second address: ${JSON.stringify(second.answers)}`,
  );
  const started = performance.now();
  const never = await checkFreshness(
    event(lab.replicaPort, lab.masterPort),
    ['127.0.0.1'],
    guard({ timeout: 150, settle: 200 }),
    env,
    {
      ask: () => new Promise(() => {}),
    },
  );
  assert.equal(never.verdict, 'unknown');
  assert.ok(performance.now() - started < 3000);
});

test('right after a real failover: the new master is current, a late retry of the old event is stale', {
  timeout: 60_000,
}, async () => {
  const oldMaster = lab.masterPort;
  const newMaster = await lab.failover();
  assert.notEqual(newMaster, oldMaster);
  // The event Sentinel just fired (old → new) is current...
  const fresh = await checkFreshness(event(newMaster, oldMaster), ['127.0.0.1'], guard(), env);
  assert.equal(fresh.verdict, 'current');
  // ...and a retry of the previous failover's event (→ old master) is stale now.
  const late = await checkFreshness(event(oldMaster, newMaster), ['127.0.0.1'], guard({ settle: 500 }), env);
  assert.equal(late.verdict, 'stale');
});

test('end to end: the CLI drops a stale event (exit 0, nothing run), acts on a current one, and never logs the password', {
  timeout: 60_000,
}, async () => {
  const { spawnSync } = await import('node:child_process');
  const { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } = await import('node:fs');
  const { join, resolve } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'sh-stale-cli-'));
  try {
    const marker = join(dir, 'acted');
    const log = join(dir, 'hook.log');
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `log: { file: ${log} }\nlockDir: ${dir}\nsentinels:\n  addresses: ["127.0.0.1:${lab.sentinelPort}"]\n  password: { env: SH_TEST_PW }\n  settle: 500ms\nmasters:\n  mymaster:\n    - type: exec\n      run: [/bin/sh, -c, 'env > ${marker}']\n`,
    );
    chmodSync(config, 0o600);
    const master = await lab.currentMasterPort();
    const other = master === lab.masterPort ? lab.replicaPort : lab.masterPort;
    const bin = resolve(import.meta.dirname, '../../bin/sentinel-hook.cjs');
    const run = (toPort: number) =>
      spawnSync(
        process.execPath,
        [bin, '--config', config, 'mymaster', 'observer', 'start', '127.0.0.1', '1', '127.0.0.1', String(toPort)],
        {
          encoding: 'utf8',
          env: { SH_TEST_PW: 'correct horse', PATH: process.env.PATH },
          timeout: 30_000,
        },
      );

    const stale = run(other!);
    assert.equal(stale.status, 0, stale.stderr);
    assert.equal(existsSync(marker), false, 'a stale event changes nothing');
    assert.match(readFileSync(log, 'utf8'), /stale event/);

    const current = run(master!);
    assert.equal(current.status, 0, current.stderr);
    assert.equal(existsSync(marker), true, 'a current event is acted on');
    assert.match(readFileSync(marker, 'utf8'), /^SENTINEL_HOOK_MASTER=mymaster$/m);
    assert.doesNotMatch(
      readFileSync(marker, 'utf8'),
      /SH_TEST_PW|correct horse/,
      'the password variable is not passed to commands',
    );
    assert.doesNotMatch(readFileSync(log, 'utf8'), /correct horse/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the first confirming answer ends the check: a Sentinel that does not answer (its host is down) costs nothing', async () => {
  const ask: AskSentinel = (address) =>
    address === '10.0.0.1:26379'
      ? Promise.resolve({ address, master: { ip: '127.0.0.1', port: lab.replicaPort } })
      : new Promise(() => {});
  const started = performance.now();
  const f = await checkFreshness(
    event(lab.replicaPort, lab.masterPort),
    ['127.0.0.1'],
    guard({ addresses: ['10.0.0.9:26379', '10.0.0.1:26379'], timeout: 5000, settle: 0 }),
    env,
    { ask },
  );
  const took = performance.now() - started;
  assert.equal(f.verdict, 'current');
  assert.ok(took < 2500, `waited ${Math.round(took)} ms for a Sentinel that never answers (its timeout is 5000 ms)`);
  assert.match(JSON.stringify(f.answers[0]), /not waited for: another Sentinel confirmed/);
});

test('an ask that throws at once is a Sentinel that did not answer: the check ends (unknown), nothing hangs', async () => {
  const ask: AskSentinel = () => {
    throw new Error('boom');
  };
  const started = performance.now();
  const f = await checkFreshness(
    event(lab.replicaPort, lab.masterPort),
    ['127.0.0.1'],
    guard({ addresses: ['10.0.0.9:26379'], timeout: 5000, settle: 0 }),
    env,
    { ask },
  );
  assert.equal(f.verdict, 'unknown');
  assert.match(JSON.stringify(f.answers), /boom/);
  assert.ok(performance.now() - started < 2500, 'not the 5 s timeout');
});

test('end to end: a wrong password never lets a late retry act; beside a Sentinel with a verdict, the refusal is a logged warning', {
  timeout: 60_000,
}, async (t) => {
  const { spawn } = await import('node:child_process');
  const { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } = await import('node:fs');
  const { join, resolve } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'sh-stale-auth-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const refusing = await scriptedSentinel(() => '-WRONGPASS invalid username-password pair or user is disabled.\r\n');
  t.after(() => refusing.close());
  const marker = join(dir, 'acted');
  const log = join(dir, 'hook.log');
  const config = (addresses: string[]) => {
    const file = join(dir, 'config.yaml');
    writeFileSync(
      file,
      `log: { file: ${log} }\nlockDir: ${dir}\nsentinels:\n  addresses: ${JSON.stringify(addresses)}\n  password: { env: SH_TEST_PW }\n  settle: 300ms\nmasters:\n  mymaster:\n    - type: exec\n      run: [/bin/sh, -c, 'echo acted > ${marker}']\n`,
    );
    chmodSync(file, 0o600);
    return file;
  };
  const master = (await lab.currentMasterPort())!;
  const other = master === lab.masterPort ? lab.replicaPort : lab.masterPort;
  const bin = resolve(import.meta.dirname, '../../bin/sentinel-hook.cjs');
  // Asynchronous: the refusing fake lives in this process and must answer while the hook runs.
  const run = (file: string, password: string) =>
    new Promise<{ status: number | null; stderr: string }>((done) => {
      const child = spawn(
        process.execPath,
        [
          bin,
          '--config',
          file,
          'mymaster',
          'observer',
          'start',
          '127.0.0.1',
          String(master),
          '127.0.0.1',
          String(other),
        ],
        {
          env: { SH_TEST_PW: password, PATH: process.env.PATH },
          timeout: 30_000,
        },
      );
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c));
      child.on('close', (status) => done({ status, stderr }));
    });

  const sentinel = `127.0.0.1:${lab.sentinelPort}`;
  const wrong = await run(config([sentinel]), 'not the password');
  assert.equal(wrong.status, 2, wrong.stderr);
  assert.equal(existsSync(marker), false, 'the late retry did not act');
  assert.equal(wrong.stderr.trim().split('\n').length, 1, wrong.stderr);
  assert.ok(wrong.stderr.includes(sentinel) && /WRONGPASS/.test(wrong.stderr), wrong.stderr);

  const mixed = await run(config([refusing.address, sentinel]), 'correct horse');
  assert.equal(mixed.status, 0, mixed.stderr);
  assert.equal(existsSync(marker), false, 'the stale verdict of the answering Sentinel is followed');
  const records = readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { level: number; msg: string });
  const warning = records.find(
    (r) => r.level === 40 && JSON.stringify(r).includes(refusing.address) && /WRONGPASS/.test(JSON.stringify(r)),
  );
  assert.ok(warning, `a warning names the refusing Sentinel: ${JSON.stringify(records)}`);
});
