// A real failover in the namespace lab (test/lab) makes every app host's own hosts file name the
// new master. Each app host runs sshd in its namespace, in a private mount namespace where its own
// directory appears at one common path, so one `remotePath` reaches each host's own file — never
// the machine's /etc/hosts. The hook runs on the Sentinels as user redis; only the leader pushes.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isRoot, Lab, waitUntil } from '../lab/index.ts';

const NAME = 'redis-master.lab';
const own = (name: string, masterIp: string) =>
  `127.0.0.1 localhost\n# ${name}'s own entries\n10.1.2.3 billing.internal billing\n${masterIp} ${NAME}\n`;

describe('lab: failover repoints app hosts over ssh', {
  skip: isRoot() ? false : 'needs root (network namespaces)',
}, () => {
  let lab: Lab | undefined;
  let keys: string;
  before(async () => {
    keys = mkdtempSync(join(tmpdir(), 'sentinel-hook-lab-hosts-'));
    chmodSync(keys, 0o755);
    const redisUid = Number(execFileSync('id', ['-u', 'redis'], { encoding: 'utf8' }).trim());
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keys, 'id')], { stdio: 'ignore' });
    // The hook runs as redis: the key must be its own, readable by no one else.
    chownSync(join(keys, 'id'), redisUid, redisUid);
    writeFileSync(join(keys, 'authorized_keys'), readFileSync(join(keys, 'id.pub')));
    mkdirSync(join(keys, 'common'));
    lab = await Lab.start({
      appHosts: 2,
      hook: {
        kind: 'sentinel-hook',
        actions: (_host, l) => [
          {
            type: 'hosts',
            names: [NAME],
            when: { role: 'leader' },
            push: {
              targets: l.appHosts.map((a) => a.ip),
              user: 'root',
              identityFile: join(keys, 'id'),
              knownHostsFile: join(keys, 'known_hosts'),
              remotePath: join(keys, 'common', 'hosts'),
              timeout: '3s',
            },
          },
        ],
      },
    });
    const known: string[] = [];
    for (const app of lab.appHosts) {
      const dir = join(keys, app.name);
      mkdirSync(dir);
      writeFileSync(join(dir, 'hosts'), own(app.name, lab.host('r1').ip));
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')], { stdio: 'ignore' });
      const conf = join(dir, 'sshd_config');
      writeFileSync(
        conf,
        [
          `ListenAddress ${app.ip}:22`,
          `HostKey ${join(dir, 'host_key')}`,
          `AuthorizedKeysFile ${join(keys, 'authorized_keys')}`,
          'PasswordAuthentication no',
          'KbdInteractiveAuthentication no',
          'UsePAM no',
          'PermitRootLogin prohibit-password',
          `PidFile ${join(dir, 'sshd.pid')}`,
          'StrictModes no',
          'Subsystem sftp internal-sftp',
          '',
        ].join('\n'),
      );
      mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
      const log = join(dir, 'sshd.log');
      lab.spawn(
        app.name,
        [
          'unshare',
          '-m',
          '--propagation',
          'private',
          '--',
          '/bin/sh',
          '-c',
          'mount --bind "$1" "$2" && exec /usr/sbin/sshd -D -e -f "$3"',
          'sh',
          dir,
          join(keys, 'common'),
          conf,
        ],
        { what: 'sshd', logFile: log },
      );
      await waitUntil(
        `sshd on ${app.name}`,
        () => existsSync(log) && /Server listening/.test(readFileSync(log, 'utf8')),
        {
          timeoutMs: 10_000,
          intervalMs: 50,
        },
      );
      known.push(
        `${app.ip} ${readFileSync(join(dir, 'host_key.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ')}`,
      );
    }
    writeFileSync(join(keys, 'known_hosts'), `${known.join('\n')}\n`);
  });
  after(async () => {
    await lab?.teardown();
    rmSync(keys, { recursive: true, force: true });
  });

  test('kill the master: every app host names the new one and keeps its own entries', async () => {
    const l = lab!;
    await l.waitSentinelsAgree('r1', { timeoutMs: 20_000, replicas: 2 });
    l.killRedis('r1');
    const newMaster = await l.waitNewMaster('r1', { timeoutMs: 30_000 });
    const ip = l.host(newMaster).ip;
    await waitUntil(
      'app hosts to name the new master',
      () => l.appHosts.every((a) => readFileSync(join(keys, a.name, 'hosts'), 'utf8') === own(a.name, ip)),
      {
        timeoutMs: 30_000,
        intervalMs: 100,
      },
    );
    await l.waitHooksIdle(30_000);
    for (const a of l.appHosts) assert.equal(readFileSync(join(keys, a.name, 'hosts'), 'utf8'), own(a.name, ip));
    // Only the leader pushed: exactly one hook run logged per-target results.
    const pushed = l.redisHosts.filter(
      (h) => existsSync(h.files.hookLog) && /hosts target done/.test(readFileSync(h.files.hookLog, 'utf8')),
    );
    assert.equal(pushed.length, 1, `hosts pushed from ${pushed.map((h) => h.name).join(',')}`);
  });
});
