// The booted-hosts harness itself (test/support/debian-hosts.ts), before any sentinel-hook is installed:
// three Debian 12 systems booted with systemd as PID 1, Debian's redis-server and redis-sentinel under
// their stock units. What it proves is what the package tests stand on: the Sentinels find each other (no
// shared `sentinel myid`), a failover is seen by all of them, Debian's redis-server restarts itself too
// fast for a killed master to fail over unless its restart is prevented, and a host rebooted with
// `systemctl reboot` comes back and rejoins. Needs root, debootstrap and systemd-nspawn.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { sleep } from '../lab/run.ts';
import { waitFor } from '../lab/wait.ts';
import {
  crashRedis,
  DebianCluster,
  type DebianHost,
  MASTER_NAME,
  repairRedis,
  waitNewMaster,
} from '../support/debian-hosts.ts';

async function role(host: DebianHost): Promise<string> {
  return (await host.redisCli(['ROLE'])).split('\n')[0]!;
}

test('booted Debian 12 hosts with stock Redis and Sentinel: failover, a crash, a reboot', {
  timeout: 10 * 60_000,
}, async (t: TestContext) => {
  const cluster = await DebianCluster.start({ log: (l) => t.diagnostic(l) });
  let failed = true;
  try {
    const [redis1, redis2, redis3] = cluster.hosts as [DebianHost, DebianHost, DebianHost];
    for (const h of cluster.hosts) {
      assert.equal((await h.execOk(['cat', '/proc/1/comm'])).trim(), 'systemd', `${h.name}: PID 1 is systemd`);
      assert.equal((await h.execOk(['hostname'])).trim(), h.name);
      assert.equal((await h.unit('redis-sentinel.service')).ActiveState, 'active', `${h.name}: Debian's Sentinel unit`);
      assert.equal((await h.exec(['sh', '-c', 'command -v node nodejs'])).stdout.trim(), '', `${h.name} has no Node`);
    }
    const ids = await Promise.all(
      cluster.hosts.map((h) => h.execOk(['grep', '^sentinel myid', '/etc/redis/sentinel.conf'])),
    );
    assert.equal(new Set(ids).size, 3, `each Sentinel has its own id: ${ids.join(' ')}`);

    await t.test(
      'SENTINEL FAILOVER: every Sentinel names the promoted replica, the old master replicates it',
      async () => {
        await redis2.sentinel(['SENTINEL', 'FAILOVER', MASTER_NAME]);
        const promoted = await waitNewMaster(cluster, redis1, 60_000);
        assert.notEqual(promoted, redis1);
        await cluster.waitConverged(promoted, 60_000);
        assert.equal(await role(promoted), 'master');
        assert.equal(await role(redis1), 'slave');
      },
    );

    await t.test("Debian's unit restarts a killed redis-server at once: no failover without Restart=no", async () => {
      const master = (await cluster.masterByAllSentinels())!;
      const before = Number((await master.unit('redis-server.service')).NRestarts);
      await master.execOk(['systemctl', 'kill', '--kill-whom=main', '--signal=SIGKILL', 'redis-server.service']);
      await waitFor(
        `${master.name}: redis-server restarted by systemd`,
        async () => {
          const u = await master.unit('redis-server.service');
          return Number(u.NRestarts) > before && u.ActiveState === 'active' ? true : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      // Longer than down-after-milliseconds (3 s): a Sentinel that had seen it down would have started.
      await sleep(5000);
      assert.equal(await cluster.masterByAllSentinels(), master, 'the Sentinels still name the same master');
    });

    await t.test(
      'a crashed master with its restart prevented fails over; repaired, it rejoins as a replica',
      async () => {
        const master = (await cluster.masterByAllSentinels())!;
        await crashRedis(master);
        const promoted = await waitNewMaster(cluster, master, 60_000);
        assert.equal((await master.unit('redis-server.service')).ActiveState, 'failed');
        await repairRedis(master);
        await cluster.waitConverged(promoted, 90_000);
        assert.equal(await role(master), 'slave');
      },
    );

    await t.test('systemctl reboot of a replica ends nspawn; booted again, it rejoins', async () => {
      const master = (await cluster.masterByAllSentinels())!;
      const replica = [redis1, redis2, redis3].find((h) => h !== master)!;
      const initBefore = replica.initPid;
      const ms = await replica.reboot();
      t.diagnostic(`${replica.name}: reboot to systemd up ${ms} ms`);
      assert.notEqual(replica.initPid, initBefore, 'a new init');
      assert.equal(replica.boots, 2);
      assert.equal((await replica.unit('redis-sentinel.service')).ActiveState, 'active');
      await cluster.waitConverged(master, 90_000);
      assert.equal(await role(replica), 'slave');
    });
    failed = false;
  } finally {
    await cluster.teardown({ keepDir: failed });
    if (failed) t.diagnostic(`logs kept in ${cluster.dir}`);
    assert.deepEqual(await cluster.existingNamespaces(), [], 'teardown left namespaces behind');
  }
});
