// The hosts action against real OpenSSH servers on loopback (see test/support/sshd.ts). Runs as
// root: sshd needs it, and each server lives in its own mount namespace.

import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { waitUntil } from '../lab/wait.ts';
import { type SshLab, startSshLab } from '../support/sshd.ts';
import { hostsConfig, runHook, targetRows, writeConfig } from '../support/sshd-hook.ts';

const NAME = 'redis-master.myservice.com';
const original = (i: number) =>
  `127.0.0.1\tlocalhost\n# app server ${i}: its own entries\n10.1.0.${i} app${i}.internal app${i}\n10.9.9.1 ${NAME}\n`;
const pointingAt = (i: number, ip: string) => original(i).replace(`10.9.9.1 ${NAME}`, `${ip} ${NAME}`);

describe('hosts push over ssh (real sshd)', {
  skip: process.getuid?.() !== 0 ? 'needs root (sshd, mount namespaces)' : false,
}, () => {
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
    lab.servers.forEach((s, i) => {
      assert.equal(readFileSync(s.hostsFile, 'utf8'), pointingAt(i, '10.9.9.2'));
    });
    assert.deepEqual(
      targetRows(run).map((r) => r.status),
      ['changed', 'changed', 'changed', 'changed'],
    );
    assert.equal(statSync(lab.servers[3]!.hostsFile).mode & 0o777, 0o640);
    assert.equal(readFileSync(`${lab.servers[0]!.hostsFile}.sentinel-hook.bak`, 'utf8'), original(0));

    const mtimes = lab.servers.map((s) => statSync(s.hostsFile).mtimeMs);
    const again = await runHook(config, '10.9.9.2');
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(
      targetRows(again).map((r) => r.status),
      ['unchanged', 'unchanged', 'unchanged', 'unchanged'],
    );
    assert.deepEqual(
      lab.servers.map((s) => statSync(s.hostsFile).mtimeMs),
      mtimes,
    );
  });

  test('a dry-run reads what each target says now (known host keys, the push key, SFTP) and writes nothing; a target that cannot be read is a warning', async () => {
    const config = writeConfig(lab.dir, hostsConfig(lab));
    assert.equal((await runHook(config, '10.9.9.2')).code, 0);
    const before = lab.servers.map((s) => readFileSync(s.hostsFile, 'utf8'));
    // One more target, on a port where nobody listens: it is read like the others, and cannot be.
    const down = writeConfig(
      lab.dir,
      hostsConfig(lab, { targets: [...lab.servers.map((s) => s.label), '127.0.0.1:1'] }),
    );
    for (const path of [config, down]) {
      const r = spawnSync(
        process.execPath,
        [
          join(import.meta.dirname, '../../bin/sentinel-hook.cjs'),
          '--config',
          path,
          '--dry-run',
          '--json',
          'mymaster',
          'leader',
          'start',
          '10.9.9.1',
          '6379',
          '10.9.9.7',
          '6379',
        ],
        {
          encoding: 'utf8',
          timeout: 60_000,
        },
      );
      assert.equal(r.status, 0, r.stderr);
      const plan = (
        JSON.parse(r.stdout) as {
          plans: {
            warnings?: string[];
            steps: { detail: { targetsNow: { target: string; names: Record<string, string[]> }[] } }[];
          }[];
        }
      ).plans[0]!;
      assert.deepEqual(
        plan.steps[0]!.detail.targetsNow.map((t) => `${t.target} ${t.names[NAME]!.join(',')}`),
        lab.servers.map((s) => `${s.label} 10.9.9.2`),
      );
      if (path === down)
        assert.match(plan.warnings?.join('\n') ?? '', /^target 127\.0\.0\.1:1: cannot read \/\S+ now \(\S/m);
      else assert.equal(plan.warnings, undefined);
    }
    assert.deepEqual(
      lab.servers.map((s) => readFileSync(s.hostsFile, 'utf8')),
      before,
    );
  });

  test('one target down: exit 1, the others updated; once it is back the retry fixes only it', async () => {
    const config = writeConfig(lab.dir, hostsConfig(lab, { retries: 1 }));
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
    assert.deepEqual(
      targetRows(retry).map((r) => r.status),
      ['unchanged', 'changed', 'unchanged', 'unchanged'],
    );
    assert.equal(readFileSync(down.hostsFile, 'utf8'), pointingAt(1, '10.9.9.3'));
    assert.deepEqual(
      [0, 2, 3].map((i) => statSync(lab.servers[i]!.hostsFile).mtimeMs),
      others,
    );
  });

  test('"after" runs only on a change, each argument arriving literally (no injection)', async () => {
    const out = join(lab.dir, 'remote', 'after-out');
    const evil = `it's $(touch ${lab.dir}/remote/injected); "x" \`id\``;
    const config = writeConfig(
      lab.dir,
      hostsConfig(lab, { after: ['/bin/sh', '-c', 'printf %s "$1" > "$2"', 'sh', evil, out] }),
    );
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
    for (const s of lab.servers)
      assert.equal(existsSync(join(s.dir, 'after-out')), false, 'after ran although nothing changed');
  });

  test('"after" that fails is owed: exit 1, and the retry runs it although the file is already right', async () => {
    const server = lab.servers[0]!;
    const only = { targets: [server.label] };
    const marker = `${server.hostsFile}.sentinel-hook.after-pending`;
    const failing = await runHook(
      writeConfig(lab.dir, hostsConfig(lab, { ...only, after: ['/bin/sh', '-c', 'exit 3'] })),
      '10.9.9.5',
    );
    assert.equal(failing.code, 1);
    assert.match(targetRows(failing)[0]!.reason ?? '', /"after" exited 3/);
    assert.equal(readFileSync(server.hostsFile, 'utf8'), pointingAt(0, '10.9.9.5'), 'the file itself changed');
    assert.equal(existsSync(marker), true);
    const out = join(lab.dir, 'remote', 'owed-out');
    const retry = await runHook(
      writeConfig(lab.dir, hostsConfig(lab, { ...only, after: ['/usr/bin/touch', out] })),
      '10.9.9.5',
    );
    assert.equal(retry.code, 0, retry.stderr + retry.stdout);
    assert.deepEqual(
      targetRows(retry).map((r) => r.status),
      ['unchanged'],
    );
    assert.equal(existsSync(join(server.dir, 'owed-out')), true, 'the owed "after" ran');
    assert.equal(existsSync(marker), false);
    rmSync(join(server.dir, 'owed-out'));
    const third = await runHook(
      writeConfig(lab.dir, hostsConfig(lab, { ...only, after: ['/usr/bin/touch', out] })),
      '10.9.9.5',
    );
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
    assert.deepEqual(
      targetRows(run).map((r) => r.status),
      ['changed', 'changed', 'changed', 'changed', 'changed'],
    );
    const again = await runHook(config, '10.9.9.5');
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(
      targetRows(again).map((r) => r.status),
      ['unchanged', 'unchanged', 'unchanged', 'unchanged', 'unchanged'],
    );
    // Put every server back on its own file for the tests that follow.
    lab.servers.forEach((s, i) => {
      writeFileSync(s.hostsFile, original(i));
    });
  });

  test('transport rsync: an "after" that fails stays owed although the retry in the same run finds the file identical; the next run runs it', async () => {
    const server = lab.servers[0]!;
    const source = join(lab.dir, 'cluster-hosts-owed');
    const record = `${server.hostsFile}.sentinel-hook.after-done`;
    rmSync(record, { force: true });
    writeFileSync(source, `127.0.0.1 localhost\n10.9.9.1 ${NAME}\n`, { mode: 0o644 });
    const config = (after: string[]) =>
      writeConfig(
        lab.dir,
        hostsConfig(lab, { transport: 'rsync', targets: [server.label], retries: 1, after }, { file: source }),
      );
    const failing = await runHook(config(['/bin/sh', '-c', 'exit 3']), '10.9.9.5');
    // The retry's rsync finds the file identical: it must not pass for "done".
    assert.equal(failing.code, 1, failing.stdout);
    const row = targetRows(failing).find((r) => r.target === server.label)!;
    assert.equal(row.status, 'failed');
    assert.match(row.reason ?? '', /"after" exited 3/);
    assert.equal(
      readFileSync(server.hostsFile, 'utf8'),
      `127.0.0.1 localhost\n10.9.9.5 ${NAME}\n`,
      'the file itself changed',
    );
    assert.equal(existsSync(record), false, 'no record of a successful "after"');

    const out = join(lab.dir, 'remote', 'rsync-owed-out');
    const retry = await runHook(config(['/usr/bin/touch', out]), '10.9.9.5');
    assert.equal(retry.code, 0, retry.stderr + retry.stdout);
    assert.deepEqual(
      targetRows(retry).map((r) => r.status),
      ['unchanged', 'unchanged'],
    );
    assert.equal(existsSync(join(server.dir, 'rsync-owed-out')), true, 'the owed "after" ran');
    assert.equal(existsSync(record), true);
    rmSync(join(server.dir, 'rsync-owed-out'));
    const third = await runHook(config(['/usr/bin/touch', out]), '10.9.9.5');
    assert.equal(third.code, 0, third.stderr + third.stdout);
    assert.equal(existsSync(join(server.dir, 'rsync-owed-out')), false, 'nothing owed any more');
    writeFileSync(server.hostsFile, original(0));
  });

  test('transport rsync: the hook SIGKILLed after the copy, before the "after" connection — the next run, finding the file right, runs "after"', async (t) => {
    const server = lab.servers[0]!;
    t.after(() => writeFileSync(server.hostsFile, original(0)));
    const source = join(lab.dir, 'cluster-hosts-killed');
    writeFileSync(source, `127.0.0.1 localhost\n10.9.9.1 ${NAME}\n`, { mode: 0o644 });
    const out = join(lab.dir, 'remote', 'rsync-killed-out');
    const config = writeConfig(
      lab.dir,
      hostsConfig(
        lab,
        { transport: 'rsync', targets: [server.label], retries: 0, after: ['/usr/bin/touch', out] },
        { file: source },
      ),
    );
    // In a mount namespace of the hook's own, /usr/bin/ssh is a wrapper: rsync's connection goes
    // through to the real ssh; the second one (the "after" command) says so and hangs, to be killed.
    const realSsh = join(lab.dir, 'ssh.real');
    execFileSync('cp', ['/usr/bin/ssh', realSsh]);
    const hung = join(lab.dir, 'after-connection.pid');
    rmSync(hung, { force: true });
    const wrapper = join(lab.dir, 'ssh-wrapper');
    writeFileSync(
      wrapper,
      `#!/bin/sh\ncase "$*" in *"rsync --server"*) exec ${realSsh} "$@";; esac\necho $$ > ${hung}\nexec /bin/sleep 30\n`,
      { mode: 0o755 },
    );
    const prefix = [
      'unshare',
      '-m',
      '--propagation',
      'private',
      '--',
      '/bin/sh',
      '-c',
      'mount --bind "$0" /usr/bin/ssh && exec "$@"',
      wrapper,
    ];
    let pid = 0;
    const running = runHook(config, '10.9.9.6', { prefix, onSpawn: (p) => (pid = p) });
    try {
      await waitUntil(
        'the hook to reach its "after" connection',
        () => existsSync(hung) && readFileSync(hung, 'utf8').trim() !== '',
        {
          timeoutMs: 15_000,
          intervalMs: 20,
        },
      );
      process.kill(pid, 'SIGKILL');
      assert.equal((await running).signal, 'SIGKILL');
    } finally {
      const sleeper = existsSync(hung) ? Number(readFileSync(hung, 'utf8')) : 0;
      if (sleeper > 0) {
        try {
          process.kill(sleeper, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    assert.equal(
      readFileSync(server.hostsFile, 'utf8'),
      `127.0.0.1 localhost\n10.9.9.6 ${NAME}\n`,
      'the copy landed before the kill',
    );
    assert.equal(existsSync(join(server.dir, 'rsync-killed-out')), false, '"after" never ran in the killed run');

    const next = await runHook(config, '10.9.9.6');
    assert.equal(next.code, 0, next.stderr + next.stdout);
    assert.equal(targetRows(next).find((r) => r.target === server.label)?.status, 'unchanged');
    assert.equal(existsSync(join(server.dir, 'rsync-killed-out')), true, 'the owed "after" ran');
    rmSync(join(server.dir, 'rsync-killed-out'));
    const third = await runHook(config, '10.9.9.6');
    assert.equal(third.code, 0, third.stderr + third.stdout);
    assert.equal(existsSync(join(server.dir, 'rsync-killed-out')), false, 'nothing owed any more');
  });

  test('transport ssh: when the owed marker cannot be created, a failed "after" still fails the run although the retry finds the file right', async () => {
    const server = lab.servers[0]!;
    const marker = `${server.hostsFile}.sentinel-hook.after-pending`;
    // Stands for a directory the push user may not write: creating the marker fails.
    symlinkSync('/nonexistent-dir/marker', marker);
    try {
      const config = writeConfig(
        lab.dir,
        hostsConfig(lab, { targets: [server.label], retries: 1, after: ['/bin/sh', '-c', 'exit 3'] }),
      );
      const run = await runHook(config, '10.9.9.8');
      assert.equal(run.code, 1, run.stdout);
      const [row] = targetRows(run);
      assert.equal(row!.status, 'failed');
      assert.match(row!.reason ?? '', /"after" exited 3.*no marker/);
      assert.equal(readFileSync(server.hostsFile, 'utf8'), pointingAt(0, '10.9.9.8'));
      const out = join(lab.dir, 'remote', 'marker-less-out');
      // Same run shape, "after" now works: the retry in the run runs it and the run succeeds.
      writeFileSync(server.hostsFile, original(0));
      const ok = await runHook(
        writeConfig(lab.dir, hostsConfig(lab, { targets: [server.label], retries: 1, after: ['/usr/bin/touch', out] })),
        '10.9.9.8',
      );
      assert.equal(ok.code, 0, ok.stderr + ok.stdout);
      assert.equal(existsSync(join(server.dir, 'marker-less-out')), true);
      rmSync(join(server.dir, 'marker-less-out'));
    } finally {
      if (lstatSync(marker, { throwIfNoEntry: false })) rmSync(marker);
      writeFileSync(server.hostsFile, original(0));
    }
  });

  test('a known_hosts line with a marker OpenSSH does not know (@REVOKED) is ignored, not trusted: refused like OpenSSH, nothing written', async () => {
    const server = lab.servers[0]!;
    const knownHostsFile = join(lab.dir, 'known_hosts_bad_marker');
    writeFileSync(knownHostsFile, `@REVOKED [127.0.0.1]:${server.port} ${server.hostKeyPub}\n`);
    // The premise, from OpenSSH itself: it refuses this host with this file.
    const openssh = spawnSync(
      'ssh',
      [
        '-F',
        '/dev/null',
        '-o',
        'BatchMode=yes',
        '-o',
        'StrictHostKeyChecking=yes',
        '-o',
        `UserKnownHostsFile=${knownHostsFile}`,
        '-o',
        'GlobalKnownHostsFile=/dev/null',
        '-i',
        lab.identityFile,
        '-p',
        String(server.port),
        'root@127.0.0.1',
        'true',
      ],
      { encoding: 'utf8', timeout: 15_000 },
    );
    assert.notEqual(openssh.status, 0, 'OpenSSH accepted the key');
    const before = readFileSync(server.hostsFile, 'utf8');
    const run = await runHook(
      writeConfig(lab.dir, hostsConfig(lab, { targets: [server.label], knownHostsFile })),
      '10.9.9.9',
    );
    assert.equal(run.code, 1, run.stdout);
    assert.match(
      targetRows(run)[0]!.reason ?? '',
      /no host key for \[127\.0\.0\.1\]:\d+ in .*known_hosts_bad_marker; refused/,
    );
    assert.equal(readFileSync(server.hostsFile, 'utf8'), before);
  });

  test('a changed host key is refused with a clear line and nothing is written there (ssh and rsync)', async () => {
    const victim = lab.servers[2]!;
    await lab.rekey(victim);
    const before = readFileSync(victim.hostsFile, 'utf8');
    const config = writeConfig(lab.dir, hostsConfig(lab));
    const run = await runHook(config, '10.9.9.6', { json: false });
    assert.equal(run.code, 1);
    assert.match(
      run.stdout,
      new RegExp(
        `127\\.0\\.0\\.1:${victim.port} +failed +\\d+ +host key of \\[127\\.0\\.0\\.1\\]:${victim.port} CHANGED`,
      ),
    );
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
    assert.deepEqual(
      [stale, staleBak, fresh, unrelated].map((f) => existsSync(f)),
      [false, false, true, true],
    );
    rmSync(fresh);
    rmSync(unrelated);
  });

  test('two masters failing over at once, both pushing their own name to the same files: neither edit is lost', async () => {
    // Two runs of the hook on one Sentinel host (one per master) read, edit and replace the same
    // remote files at the same moment; unserialised, the second rename drops the first one's line.
    const servers = [0, 1, 3].map((i) => lab.servers[i]!);
    const both = (cache: string, sessions: string) =>
      `127.0.0.1\tlocalhost\n${cache} cache.myservice.com\n${sessions} sessions.myservice.com\n`;
    const base = hostsConfig(lab, { targets: servers.map((s) => s.label) }) as {
      masters: Record<string, Record<string, unknown>[]>;
    };
    const action = base.masters.mymaster![0]!;
    // And this host's own file, shared the same way.
    const local = join(lab.dir, 'local-hosts');
    const shared = { ...action, file: local };
    const config = writeConfig(lab.dir, {
      ...base,
      masters: {
        cache: [{ ...shared, names: ['cache.myservice.com'] }],
        sessions: [{ ...shared, names: ['sessions.myservice.com'] }],
      },
    });
    for (let round = 1; round <= 4; round++) {
      for (const f of [local, ...servers.map((s) => s.hostsFile)]) writeFileSync(f, both('10.9.9.1', '10.9.9.1'));
      const [cache, sessions] = await Promise.all([
        runHook(config, `10.9.8.${round}`, { master: 'cache' }),
        runHook(config, `10.9.7.${round}`, { master: 'sessions' }),
      ]);
      assert.equal(cache.code, 0, cache.stderr + cache.stdout);
      assert.equal(sessions.code, 0, sessions.stderr + sessions.stdout);
      for (const s of servers)
        assert.equal(
          readFileSync(s.hostsFile, 'utf8'),
          both(`10.9.8.${round}`, `10.9.7.${round}`),
          `round ${round}, ${s.label}`,
        );
      assert.equal(
        readFileSync(local, 'utf8'),
        both(`10.9.8.${round}`, `10.9.7.${round}`),
        `round ${round}, the local file`,
      );
    }
  });
});

describe('hosts push over ssh: writing in place (real sshd)', {
  skip: process.getuid?.() !== 0 ? 'needs root (sshd, mount namespaces)' : false,
}, () => {
  // Server 0: its hosts file is a bind mount (a container's /etc/hosts), so rename onto it fails
  // with EBUSY and only an in-place write can change it. Server 1: its /etc is a full tmpfs, so
  // the temp file cannot be written (ENOSPC) although rename itself would work.
  const old = `127.0.0.1 localhost\nfd00:aaaa:bbbb::100 ${NAME}\n10.5.5.5 app1\n`;
  const next = `127.0.0.1 localhost\n10.9.9.2 ${NAME}\n10.5.5.5 app1\n`;
  let lab: SshLab;
  let real: string;
  before(async () => {
    lab = await startSshLab({
      count: 2,
      hostsContent: () => old,
      prepare: (s, i) => {
        const etc = dirname(s.hostsFile);
        if (i === 0) {
          real = join(s.dir, 'real-hosts');
          writeFileSync(real, old, { mode: 0o644 });
          execFileSync('mount', ['--bind', real, s.hostsFile]);
        } else {
          execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', etc]);
          writeFileSync(s.hostsFile, old, { mode: 0o644 });
          try {
            writeFileSync(join(etc, 'filler'), Buffer.alloc(1 << 20));
          } catch {
            // ENOSPC: the tmpfs is full now, as intended.
          }
        }
      },
    });
  });
  after(async () => {
    await lab?.close();
  });

  test('killed between the in-place write and the truncate, the file is the new content plus a comment line, never new text + old tail', async () => {
    const server = lab.servers[0]!;
    const sshd = server.process!.pid!;
    // Kill the SFTP session the moment it truncates: the write has landed, the cut has not.
    const strace = spawn(
      'strace',
      [
        '-f',
        '-qq',
        '-o',
        '/dev/null',
        '-e',
        'trace=ftruncate',
        '-e',
        'inject=ftruncate:signal=SIGKILL',
        '-p',
        String(sshd),
      ],
      {
        stdio: 'ignore',
      },
    );
    try {
      // Bounded wait for the attach: 100 × 50 ms.
      for (let i = 0; i < 100 && !/^TracerPid:\s+[1-9]/m.test(readFileSync(`/proc/${sshd}/status`, 'utf8')); i++)
        await new Promise((r) => setTimeout(r, 50));
      assert.match(readFileSync(`/proc/${sshd}/status`, 'utf8'), /^TracerPid:\s+[1-9]/m, 'strace did not attach');
      const run = await runHook(
        writeConfig(lab.dir, hostsConfig(lab, { targets: [server.label], retries: 1 })),
        '10.9.9.2',
      );
      const text = readFileSync(real, 'latin1');
      assert.equal(text, `${next}#${' '.repeat(old.length - next.length - 2)}\n`, run.stdout);
      // The retry finds the names right, so that is what stays: it must be a valid file.
      assert.equal(run.code, 0, run.stdout);
    } finally {
      const gone = new Promise((r) => strace.once('exit', r));
      strace.kill('SIGTERM');
      await gone;
    }
    // Not killed: the in-place write ends with exactly the new content.
    writeFileSync(real, old);
    const run = await runHook(writeConfig(lab.dir, hostsConfig(lab, { targets: [server.label] })), '10.9.9.2');
    assert.equal(run.code, 0, run.stdout);
    assert.deepEqual(
      targetRows(run).map((r) => [r.status, (r as { method?: string }).method]),
      [['changed', 'in-place']],
    );
    assert.equal(readFileSync(real, 'latin1'), next);
  });

  test('no room for the temp file is a failure, not a reason to overwrite the file in place: it stays as it was', async () => {
    const server = lab.servers[1]!;
    const run = await runHook(
      writeConfig(lab.dir, hostsConfig(lab, { targets: [server.label], retries: 1 })),
      '10.9.9.2',
    );
    assert.equal(run.code, 1, run.stdout);
    assert.equal(targetRows(run)[0]!.status, 'failed');
    assert.equal(readFileSync(server.hostsFile, 'latin1'), old);
  });
});
