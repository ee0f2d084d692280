// The hook setup on three booted Debian 12 hosts (test/support/debian-hosts.ts): the package installed
// with dpkg, Sentinel runs the packaged hook as its client-reconfig-script under Debian's own
// redis-sentinel.service widened only by the drop-in `sentinel-hook systemd --hook` generates. This is the
// real sandbox (SystemCallFilter=, NoExecPaths=, PrivateUsers=, ...), not an emulation: issue 16 found
// the hook killed by SIGSYS here before it logged a line, until the drop-in set SystemCallErrorNumber=EPERM.
// Asserts who holds the VIP after a SENTINEL FAILOVER and after a crashed master, writes through the VIP
// recovering, every hook run's exit code 0 in hook.log, and no -script-error from any Sentinel. Needs root.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { parseHookLog } from '../lab/logs.ts';
import { waitFor } from '../lab/wait.ts';
import {
  crashRedis,
  DebianCluster,
  type DebianHost,
  MASTER_NAME,
  repairRedis,
  waitNewMaster,
} from '../support/debian-hosts.ts';
import { sentinelHookDeb } from '../support/debian-package.ts';
import { hookSetup, steps, WATCH_UNIT, waitVipOn } from '../support/debian-sentinel-hook.ts';

const MOVE_MS = 45_000;

async function hookRuns(host: DebianHost) {
  const r = await host.exec(['cat', '/var/log/sentinel-hook/hook.log']);
  return parseHookLog(r.stdout);
}

async function scriptErrors(host: DebianHost): Promise<string[]> {
  const log = await host.execOk(['cat', '/var/log/redis/redis-sentinel.log']);
  return log.split('\n').filter((l) => l.includes('-script-error'));
}

test("the package on booted Debian 12 hosts, hook setup under Debian's own Sentinel unit", {
  timeout: 15 * 60_000,
}, async (t: TestContext) => {
  const say = (l: string) => t.diagnostic(l);
  const pkg = await sentinelHookDeb({ log: say });
  const cluster = await DebianCluster.start({ log: say });
  let failed = true;
  const step = steps(t);
  const timings: string[] = [];
  try {
    const [redis1] = cluster.hosts as [DebianHost, DebianHost, DebianHost];

    /** The hook's runs since `since` (runs counted before) each ended 0 on every host; no -script-error. */
    const assertHooksClean = async (before: Map<string, number>, what: string): Promise<void> => {
      for (const h of cluster.hosts) {
        // A run may still be sending its second ARP burst when the VIP has moved: bounded wait for its end.
        const runs = await waitFor(
          `${what}: every hook run on ${h.name} ended`,
          async () => {
            const all = (await hookRuns(h)).filter((r) => r.kind === 'hook').slice(before.get(h.name) ?? 0);
            if (all.length === 0) throw new Error('no hook run logged (killed before its first line?)');
            return all.every((r) => r.exitCode !== undefined) ? all : undefined;
          },
          { timeoutMs: 60_000, intervalMs: 500 },
        );
        for (const r of runs)
          assert.equal(
            r.exitCode,
            0,
            `${what}: ${h.name} run ${r.run} (${JSON.stringify(r.event)}) ended ${r.exitCode}: ${r.outcome}`,
          );
        assert.deepEqual(await scriptErrors(h), [], `${what}: Sentinel on ${h.name} dropped a hook run`);
        // Sentinel's unit sends the hook's stderr to the journal: issue 16 §5 saw node's --jitless warning
        // there on every run.
        const journal = await h.journal(['redis-sentinel.service'], 500);
        assert.doesNotMatch(journal, /expose_wasm|SIGSYS|core-dump/i, `${what}: ${h.name} redis-sentinel journal`);
      }
    };
    const runCounts = async () =>
      new Map(
        await Promise.all(
          cluster.hosts.map(
            async (h) => [h.name, (await hookRuns(h)).filter((r) => r.kind === 'hook').length] as const,
          ),
        ),
      );

    await step(
      'runbook hook setup: the generated drop-in on redis-sentinel.service, the script in sentinel.conf',
      async () => {
        const dropIns = await hookSetup(cluster, pkg.deb);
        for (const h of cluster.hosts) {
          const paths = (
            await h.execOk(['systemctl', 'show', 'redis-sentinel.service', '--property=DropInPaths'])
          ).trim();
          assert.match(paths, /redis-sentinel\.service\.d\//, `${h.name}: ${paths}`);
          assert.match(dropIns[h.name]!, /^SystemCallErrorNumber=EPERM$/m, `${h.name}: the drop-in's seccomp action`);
          assert.equal((await h.unit('redis-sentinel.service')).ActiveState, 'active');
          assert.equal((await h.unit(WATCH_UNIT)).ActiveState, 'inactive', 'no watch in the hook setup');
          const conf = await h.execOk(['grep', '^sentinel client-reconfig-script', '/etc/redis/sentinel.conf']);
          assert.match(conf, /\/usr\/lib\/sentinel-hook\/hooks\/client-reconfig/);
        }
        await waitVipOn(cluster, redis1, 10_000);
        await cluster.waitForWritesTo(redis1, 30_000);
      },
    );

    await step("SENTINEL FAILOVER: Sentinel's hook moves the VIP under the real sandbox, writes recover", async () => {
      const before = await runCounts();
      const master = (await cluster.masterByAllSentinels())!;
      await master.sentinel(['SENTINEL', 'FAILOVER', MASTER_NAME]);
      const promoted = await waitNewMaster(cluster, master, MOVE_MS);
      const vipMs = await waitVipOn(cluster, promoted, MOVE_MS);
      const writesMs = await cluster.waitForWritesTo(promoted, 30_000);
      timings.push(`SENTINEL FAILOVER: VIP on ${promoted.name} +${vipMs} ms, writes +${writesMs} ms`);
      await assertHooksClean(before, 'SENTINEL FAILOVER');
    });

    await step("a crash of the master's redis-server: the hook moves the VIP, writes recover", async () => {
      const before = await runCounts();
      const master = (await cluster.masterByAllSentinels())!;
      await crashRedis(master);
      const promoted = await waitNewMaster(cluster, master, MOVE_MS);
      const vipMs = await waitVipOn(cluster, promoted, MOVE_MS);
      const writesMs = await cluster.waitForWritesTo(promoted, 30_000);
      timings.push(`crash: VIP on ${promoted.name} +${vipMs} ms, writes +${writesMs} ms`);
      await assertHooksClean(before, 'crash');
      await repairRedis(master);
      await cluster.waitConverged(promoted, 90_000);
      assert.deepEqual(await cluster.vipHolders(), [promoted.name]);
    });
    failed = step.broken() !== undefined;
  } finally {
    for (const line of timings) t.diagnostic(line);
    if (failed)
      for (const h of cluster.hosts)
        if (h.running) {
          t.diagnostic(
            `${h.name} hook.log tail:\n${(await h.exec(['tail', '-n', '30', '/var/log/sentinel-hook/hook.log'])).stdout}`,
          );
          t.diagnostic(`${h.name} journal:\n${await h.journal(['redis-sentinel.service'], 30).catch(String)}`);
        }
    await cluster.teardown({ keepDir: failed });
    if (failed) t.diagnostic(`logs kept in ${cluster.dir}`);
    assert.deepEqual(await cluster.existingNamespaces(), [], 'teardown left namespaces behind');
  }
});
