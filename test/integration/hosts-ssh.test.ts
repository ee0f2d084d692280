// The hosts action against real OpenSSH servers on loopback (see test/support/sshd.ts). Runs as
// root: sshd needs it, and each server lives in its own mount namespace.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { startSshLab, type SshLab } from '../support/sshd.ts';
import { hostsConfig, runHook, targetRows, writeConfig } from '../support/sshd-hook.ts';

const NAME = 'redis-master.myservice.com';
const original = (i: number) => `127.0.0.1\tlocalhost\n# app server ${i}: its own entries\n10.1.0.${i} app${i}.internal app${i}\n10.9.9.1 ${NAME}\n`;
const pointingAt = (i: number, ip: string) => original(i).replace(`10.9.9.1 ${NAME}`, `${ip} ${NAME}`);

describe('hosts push over ssh (real sshd)', { skip: process.getuid?.() !== 0 ? 'needs root (sshd, mount namespaces)' : false }, () => {
  let lab: SshLab;
  before(async () => {
    lab = await startSshLab({ count: 4, hostsContent: original, hashKnownHosts: true });
    // Mode is kept across the rename: make it unusual to see that.
    chmodSync(lab.servers[3]!.hostsFile, 0o640);
  });
  after(async () => {
    await lab?.close();
  });

  test('every target names the new master and keeps its own entries; a re-run writes nothing', async () => {
    const config = writeConfig(lab.dir, hostsConfig(lab));
    const run = await runHook(config, '10.9.9.2');
    assert.equal(run.code, 0, run.stderr + run.stdout);
    lab.servers.forEach((s, i) => assert.equal(readFileSync(s.hostsFile, 'utf8'), pointingAt(i, '10.9.9.2')));
    assert.deepEqual(targetRows(run).map((r) => r.status), ['changed', 'changed', 'changed', 'changed']);
    assert.equal(statSync(lab.servers[3]!.hostsFile).mode & 0o777, 0o640);
    assert.equal(readFileSync(`${lab.servers[0]!.hostsFile}.sentinel-hook.bak`, 'utf8'), original(0));

    const mtimes = lab.servers.map((s) => statSync(s.hostsFile).mtimeMs);
    const again = await runHook(config, '10.9.9.2');
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(targetRows(again).map((r) => r.status), ['unchanged', 'unchanged', 'unchanged', 'unchanged']);
    assert.deepEqual(lab.servers.map((s) => statSync(s.hostsFile).mtimeMs), mtimes);
  });

  test('one target down: exit 1, the others updated; once it is back the retry fixes only it', async () => {
    const config = writeConfig(lab.dir, hostsConfig(lab, { timeout: '1s', retries: 1 }));
    const down = lab.servers[1]!;
    const before = readFileSync(down.hostsFile, 'utf8');
    await lab.stop(down);
    const run = await runHook(config, '10.9.9.3');
    assert.equal(run.code, 1, run.stderr);
    const rows = targetRows(run);
    assert.equal(rows[1]!.status, 'failed');
    assert.match(rows[1]!.reason ?? '', /connect|ECONNREFUSED/);
    assert.equal(readFileSync(down.hostsFile, 'utf8'), before);
    for (const i of [0, 2, 3]) assert.equal(readFileSync(lab.servers[i]!.hostsFile, 'utf8'), pointingAt(i, '10.9.9.3'));

    await lab.start(down);
    const others = [0, 2, 3].map((i) => statSync(lab.servers[i]!.hostsFile).mtimeMs);
    const retry = await runHook(config, '10.9.9.3');
    assert.equal(retry.code, 0, retry.stderr);
    assert.deepEqual(targetRows(retry).map((r) => r.status), ['unchanged', 'changed', 'unchanged', 'unchanged']);
    assert.equal(readFileSync(down.hostsFile, 'utf8'), pointingAt(1, '10.9.9.3'));
    assert.deepEqual([0, 2, 3].map((i) => statSync(lab.servers[i]!.hostsFile).mtimeMs), others);
  });

  test('"after" runs only on a change, each argument arriving literally (no injection)', async () => {
    const out = join(lab.dir, 'remote', 'after-out');
    const evil = `it's $(touch ${lab.dir}/remote/injected); "x" \`id\``;
    const config = writeConfig(lab.dir, hostsConfig(lab, { after: ['/bin/sh', '-c', 'printf %s "$1" > "$2"', 'sh', evil, out] }));
    const run = await runHook(config, '10.9.9.4');
    assert.equal(run.code, 0, run.stderr + run.stdout);
    for (const s of lab.servers) {
      // Inside each server's namespace <dir>/remote is its own dir.
      assert.equal(readFileSync(join(s.dir, 'after-out'), 'utf8'), evil);
      assert.equal(existsSync(join(s.dir, 'injected')), false);
      rmSync(join(s.dir, 'after-out'));
    }
    const again = await runHook(config, '10.9.9.4');
    assert.equal(again.code, 0);
    for (const s of lab.servers) assert.equal(existsSync(join(s.dir, 'after-out')), false, 'after ran although nothing changed');
  });

  test('"after" that fails is owed: exit 1, and the retry runs it although the file is already right', async () => {
    const server = lab.servers[0]!;
    const only = { targets: [server.label] };
    const marker = `${server.hostsFile}.sentinel-hook.after-pending`;
    const failing = await runHook(writeConfig(lab.dir, hostsConfig(lab, { ...only, after: ['/bin/sh', '-c', 'exit 3'] })), '10.9.9.5');
    assert.equal(failing.code, 1);
    assert.match(targetRows(failing)[0]!.reason ?? '', /"after" exited 3/);
    assert.equal(readFileSync(server.hostsFile, 'utf8'), pointingAt(0, '10.9.9.5'), 'the file itself changed');
    assert.equal(existsSync(marker), true);
    const out = join(lab.dir, 'remote', 'owed-out');
    const retry = await runHook(writeConfig(lab.dir, hostsConfig(lab, { ...only, after: ['/usr/bin/touch', out] })), '10.9.9.5');
    assert.equal(retry.code, 0, retry.stderr + retry.stdout);
    assert.deepEqual(targetRows(retry).map((r) => r.status), ['unchanged']);
    assert.equal(existsSync(join(server.dir, 'owed-out')), true, 'the owed "after" ran');
    assert.equal(existsSync(marker), false);
    rmSync(join(server.dir, 'owed-out'));
    const third = await runHook(writeConfig(lab.dir, hostsConfig(lab, { ...only, after: ['/usr/bin/touch', out] })), '10.9.9.5');
    assert.equal(third.code, 0);
    assert.equal(existsSync(join(server.dir, 'owed-out')), false, 'nothing owed any more');
  });

  test('transport rsync copies the local file whole and reports changed/unchanged', async () => {
    const source = join(lab.dir, 'cluster-hosts');
    writeFileSync(source, `127.0.0.1 localhost\n10.9.9.1 ${NAME}\n`, { mode: 0o644 });
    const config = writeConfig(lab.dir, hostsConfig(lab, { transport: 'rsync' }, { file: source }));
    const run = await runHook(config, '10.9.9.5');
    assert.equal(run.code, 0, run.stderr + run.stdout);
    const expected = `127.0.0.1 localhost\n10.9.9.5 ${NAME}\n`;
    assert.equal(readFileSync(source, 'utf8'), expected);
    for (const s of lab.servers) assert.equal(readFileSync(s.hostsFile, 'utf8'), expected);
    assert.deepEqual(targetRows(run).map((r) => r.status), ['changed', 'changed', 'changed', 'changed', 'changed']);
    const again = await runHook(config, '10.9.9.5');
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(targetRows(again).map((r) => r.status), ['unchanged', 'unchanged', 'unchanged', 'unchanged', 'unchanged']);
    // Put every server back on its own file for the tests that follow.
    lab.servers.forEach((s, i) => writeFileSync(s.hostsFile, original(i)));
  });

  test('a changed host key is refused with a clear line and nothing is written there (ssh and rsync)', async () => {
    const victim = lab.servers[2]!;
    await lab.rekey(victim);
    const before = readFileSync(victim.hostsFile, 'utf8');
    const config = writeConfig(lab.dir, hostsConfig(lab));
    const run = await runHook(config, '10.9.9.6', { json: false });
    assert.equal(run.code, 1);
    assert.match(run.stdout, new RegExp(`127\\.0\\.0\\.1:${victim.port} +failed +\\d+ +host key of \\[127\\.0\\.0\\.1\\]:${victim.port} CHANGED`));
    assert.equal(readFileSync(victim.hostsFile, 'utf8'), before);
    for (const i of [0, 1, 3]) assert.equal(readFileSync(lab.servers[i]!.hostsFile, 'utf8'), pointingAt(i, '10.9.9.6'));
    assert.match(readFileSync(join(lab.dir, 'hook.log'), 'utf8'), /CHANGED/);

    const source = join(lab.dir, 'cluster-hosts');
    const viaRsync = writeConfig(lab.dir, hostsConfig(lab, { transport: 'rsync' }, { file: source }));
    const r = await runHook(viaRsync, '10.9.9.6');
    assert.equal(r.code, 1);
    const row = targetRows(r).find((t) => t.target === victim.label)!;
    assert.equal(row.status, 'failed');
    assert.match(row.reason ?? '', /host key/);
    assert.equal(readFileSync(victim.hostsFile, 'utf8'), before);
  });

  test('a target missing from known_hosts is refused before connecting', async () => {
    const config = hostsConfig(lab) as { masters: { mymaster: { push: { targets: string[] } }[] } };
    config.masters.mymaster[0]!.push.targets = ['127.0.0.1:1'];
    const run = await runHook(writeConfig(lab.dir, config), '10.9.9.7');
    assert.equal(run.code, 1);
    assert.match(targetRows(run)[0]!.reason ?? '', /no host key for \[127\.0\.0\.1\]:1 in .*known_hosts; refused/);
  });

  test('temp files left by a killed run are removed once old; fresh ones and other files are left alone', async () => {
    const dir = dirname(lab.servers[0]!.hostsFile);
    const stale = join(dir, '.hosts.sentinel-hook.deadbeef.tmp');
    const staleBak = join(dir, 'hosts.sentinel-hook.bak.0badf00d.tmp');
    const fresh = join(dir, '.hosts.sentinel-hook.cafebabe.tmp');
    const unrelated = join(dir, '.hosts.other.tmp');
    for (const f of [stale, staleBak, fresh, unrelated]) writeFileSync(f, 'half-written');
    const tenMinutesAgo = new Date(Date.now() - 600_000);
    for (const f of [stale, staleBak, unrelated]) utimesSync(f, tenMinutesAgo, tenMinutesAgo);
    // Server 0 only: an earlier test gave server 2 a new host key on purpose.
    const run = await runHook(writeConfig(lab.dir, hostsConfig(lab, { targets: [lab.servers[0]!.label] })), '10.9.9.7');
    assert.equal(run.code, 0, run.stderr + run.stdout);
    // (An earlier test left rsync's whole-file content there; what matters is the new line.)
    assert.match(readFileSync(lab.servers[0]!.hostsFile, 'utf8'), /^10\.9\.9\.7 redis-master\.myservice\.com$/m);
    assert.deepEqual([stale, staleBak, fresh, unrelated].map((f) => existsSync(f)), [false, false, true, true]);
    rmSync(fresh);
    rmSync(unrelated);
  });

  test('two masters failing over at once, both pushing their own name to the same files: neither edit is lost', async () => {
    // Two runs of the hook on one Sentinel host (one per master) read, edit and replace the same
    // remote files at the same moment; unserialised, the second rename drops the first one's line.
    const servers = [0, 1, 3].map((i) => lab.servers[i]!);
    const both = (cache: string, sessions: string) => `127.0.0.1\tlocalhost\n${cache} cache.myservice.com\n${sessions} sessions.myservice.com\n`;
    const base = hostsConfig(lab, { targets: servers.map((s) => s.label) }) as { masters: Record<string, Record<string, unknown>[]> };
    const action = base.masters.mymaster![0]!;
    // And this host's own file, shared the same way.
    const local = join(lab.dir, 'local-hosts');
    const shared = { ...action, file: local };
    const config = writeConfig(lab.dir, { ...base, masters: { cache: [{ ...shared, names: ['cache.myservice.com'] }], sessions: [{ ...shared, names: ['sessions.myservice.com'] }] } });
    for (let round = 1; round <= 4; round++) {
      for (const f of [local, ...servers.map((s) => s.hostsFile)]) writeFileSync(f, both('10.9.9.1', '10.9.9.1'));
      const [cache, sessions] = await Promise.all([runHook(config, `10.9.8.${round}`, { master: 'cache' }), runHook(config, `10.9.7.${round}`, { master: 'sessions' })]);
      assert.equal(cache.code, 0, cache.stderr + cache.stdout);
      assert.equal(sessions.code, 0, sessions.stderr + sessions.stdout);
      for (const s of servers) assert.equal(readFileSync(s.hostsFile, 'utf8'), both(`10.9.8.${round}`, `10.9.7.${round}`), `round ${round}, ${s.label}`);
      assert.equal(readFileSync(local, 'utf8'), both(`10.9.8.${round}`, `10.9.7.${round}`), `round ${round}, the local file`);
    }
  });
});
