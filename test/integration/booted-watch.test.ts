// The Debian package on three booted Debian 12 hosts (test/support/debian-hosts.ts: systemd as PID 1,
// Debian's redis-server and redis-sentinel with their stock units, no Node), set up as the runbook's watch
// setup says (test/support/debian-sentinel-hook.ts). One cluster, steps in order, each asserting who holds
// the VIP (`ip -o addr` in every host's namespace) and that writes from the app namespace through the VIP
// reach the master the Sentinels name: a SENTINEL FAILOVER, a crashed master, an upgrade during a
// failover, a reboot of the master's host, a rollback, watch refusing to start without its capabilities
// (exit 77, the unit left failed), removal and purge. Needs root.
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
import { type BuiltPackage, sentinelHookDeb } from '../support/debian-package.ts';
import {
  CONFIG,
  INSTALL_DIR,
  installDeb,
  installedVersion,
  RECONCILE_UNIT,
  steps,
  WATCH_UNIT,
  waitVipOn,
  watchSetup,
} from '../support/debian-sentinel-hook.ts';

/** A failover moves the VIP within this (Sentinel's own part, down-after 3 s, is most of it). */
const MOVE_MS = 45_000;

test('the package on booted Debian 12 hosts, watch setup', { timeout: 20 * 60_000 }, async (t: TestContext) => {
  const say = (l: string) => t.diagnostic(l);
  const older: BuiltPackage = await sentinelHookDeb({ log: say });
  const newer: BuiltPackage = await sentinelHookDeb({ newer: true, log: say });
  const cluster = await DebianCluster.start({ log: say });
  let failed = true;
  const step = steps(t);
  const timings: string[] = [];
  try {
    const [redis1] = cluster.hosts as [DebianHost, DebianHost, DebianHost];

    /** VIP on the master all Sentinels name, writes through it acknowledged by that master. */
    const assertServes = async (master: DebianHost, what: string): Promise<void> => {
      assert.equal(await cluster.masterByAllSentinels(), master, `${what}: every Sentinel names ${master.name}`);
      const vipMs = await waitVipOn(cluster, master, MOVE_MS);
      const writesMs = await cluster.waitForWritesTo(master, 30_000);
      timings.push(`${what}: VIP on ${master.name} +${vipMs} ms, writes +${writesMs} ms`);
    };

    await step('runbook watch setup: dpkg -i, config, units; the VIP on the master, no Node on the hosts', async () => {
      const checks = await watchSetup(cluster, older.deb);
      for (const host of cluster.hosts) {
        assert.equal(await installedVersion(host), `installed ${older.version}`);
        assert.equal(
          (await host.exec(['sh', '-c', 'command -v node nodejs npm'])).stdout.trim(),
          '',
          `${host.name}: no Node on PATH`,
        );
        const version = await host.execOk(['sentinel-hook', '--version']);
        assert.match(
          version,
          new RegExp(older.version.replace(/-\d+$/, '').replace(/\./g, '\\.')),
          `--version: ${version}`,
        );
        assert.match(version, /node|runtime/i, `--version names the runtime: ${version}`);
        for (const unit of [WATCH_UNIT, RECONCILE_UNIT]) {
          const u = await host.unit(unit);
          assert.equal(u.UnitFileState, 'enabled', `${host.name} ${unit}: ${JSON.stringify(u)}`);
        }
        assert.equal(
          (await host.unit(WATCH_UNIT)).ActiveState,
          'active',
          `${host.name}: ${await host.journal([WATCH_UNIT])}`,
        );
        // Issue 16 §5: the packaged units act with capabilities; check said the VIP changed "with sudo -n".
        assert.match(checks[host.name]!, /vip: .*CAP_NET_ADMIN/, `${host.name}: check:\n${checks[host.name]}`);
      }
      await assertServes(redis1, 'after set-up');
    });

    await step('SENTINEL FAILOVER: the VIP follows the promoted replica, writes recover', async () => {
      const master = (await cluster.masterByAllSentinels())!;
      await master.sentinel(['SENTINEL', 'FAILOVER', MASTER_NAME]);
      const promoted = await waitNewMaster(cluster, master, MOVE_MS);
      await assertServes(promoted, 'SENTINEL FAILOVER');
      // Issue 17 §4, under a real journald: each watch line carries its syslog priority (journald takes the
      // "<N>" off the front: none is left in the text), so `journalctl -p warning` shows only warnings; and
      // `sentinel-hook log` finds the failover's run in the journal (watch writes no hook log).
      const entries = (await promoted.execOk(['journalctl', '--no-pager', '-o', 'json', '-u', WATCH_UNIT]))
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { MESSAGE?: unknown; PRIORITY?: string });
      const text = entries.flatMap((e) => (typeof e.MESSAGE === 'string' ? [{ ...e, MESSAGE: e.MESSAGE }] : []));
      assert.deepEqual(
        text.filter((e) => /^<\d>/.test(e.MESSAGE)).map((e) => e.MESSAGE),
        [],
        'a priority prefix left in the text',
      );
      const records = text.filter((e) => e.MESSAGE.startsWith('{"level":'));
      assert.ok(records.length > 0, `no JSON line of watch in the journal:\n${await promoted.journal([WATCH_UNIT])}`);
      const priorityOf: Record<number, string> = { 20: '7', 30: '6', 40: '4', 50: '3', 60: '2' };
      for (const r of records) {
        const { level } = JSON.parse(r.MESSAGE) as { level: number };
        assert.equal(r.PRIORITY, priorityOf[level] ?? r.PRIORITY, `priority of ${r.MESSAGE}`);
      }
      assert.ok(
        records.some((r) => r.PRIORITY === '6'),
        'the info lines are at priority 6 (info), not all at one default',
      );
      const timeline = await promoted.execOk(['sentinel-hook', 'log', '--master', MASTER_NAME, '--last', '3']);
      assert.match(timeline, /the journal \(/, `log did not read the journal:\n${timeline}`);
      assert.ok(timeline.includes(promoted.ip), `log shows no run for ${promoted.ip}:\n${timeline}`);
    });

    await step("the master's redis-server crashes (restart prevented): the VIP moves, writes recover", async () => {
      const master = (await cluster.masterByAllSentinels())!;
      await crashRedis(master);
      const promoted = await waitNewMaster(cluster, master, MOVE_MS);
      await assertServes(promoted, 'crash');
      await repairRedis(master);
      await cluster.waitConverged(promoted, 90_000);
      assert.deepEqual(await cluster.vipHolders(), [promoted.name], 'the repaired host did not take the VIP back');
    });

    await step('upgrade (dpkg -i of a newer build) on every host during a failover', async () => {
      const master = (await cluster.masterByAllSentinels())!;
      const watchPids = new Map<string, string>();
      for (const h of cluster.hosts) watchPids.set(h.name, (await h.unit(WATCH_UNIT)).MainPID!);
      await master.sentinel(['SENTINEL', 'FAILOVER', MASTER_NAME]);
      // The new master first: its upgrade and its watch's restart fall in the failover itself.
      const order = [...cluster.hosts].sort((a, b) => (a === master ? 1 : 0) - (b === master ? 1 : 0));
      for (const h of order) await installDeb(h, newer.deb);
      const promoted = await waitNewMaster(cluster, master, MOVE_MS);
      for (const h of cluster.hosts) {
        assert.equal(await installedVersion(h), `installed ${newer.version}`);
        const u = await h.unit(WATCH_UNIT);
        assert.equal(u.ActiveState, 'active', `${h.name}: watch after the upgrade: ${await h.journal([WATCH_UNIT])}`);
        assert.notEqual(u.MainPID, watchPids.get(h.name), `${h.name}: watch was not restarted on the new version`);
        const version = await h.execOk(['sentinel-hook', '--version']);
        assert.ok(version.startsWith(`sentinel-hook ${newer.version.replace(/-\d+$/, '')}\n`), `${h.name}: ${version}`);
        const link = (await h.execOk(['readlink', `${INSTALL_DIR}/dist`])).trim();
        assert.ok(link.includes(newer.version), `${h.name}: ${INSTALL_DIR}/dist -> ${link}`);
      }
      await assertServes(promoted, 'upgrade during failover');
    });

    await step("a reboot of the master's host: it converges (VIP on the master the Sentinels name)", async () => {
      const master = (await cluster.masterByAllSentinels())!;
      const ms = await master.reboot();
      // Short enough that the Sentinels may or may not have failed over: either way one master, the VIP on it.
      const now = await waitFor('every Sentinel to name one master', () => cluster.masterByAllSentinels(), {
        timeoutMs: MOVE_MS,
        intervalMs: 500,
      });
      timings.push(
        `reboot of ${master.name}: systemd up again ${ms} ms after systemctl reboot; the Sentinels name ${now.name}${now === master ? ' (no failover: too short, or within 2 x failover-timeout of the last)' : ''}`,
      );
      await cluster.waitConverged(now, 90_000);
      assert.equal((await master.unit(RECONCILE_UNIT)).Result, 'success', await master.journal([RECONCILE_UNIT]));
      assert.equal((await master.unit(WATCH_UNIT)).ActiveState, 'active', await master.journal([WATCH_UNIT]));
      await assertServes(now, `after ${master.name}'s reboot`);
    });

    await step('rollback: dpkg -i of the older package; watch restarts on it, the VIP stays', async () => {
      const master = (await cluster.masterByAllSentinels())!;
      for (const h of cluster.hosts) {
        await installDeb(h, older.deb);
        assert.equal(await installedVersion(h), `installed ${older.version}`);
        assert.equal((await h.unit(WATCH_UNIT)).ActiveState, 'active', await h.journal([WATCH_UNIT]));
      }
      await sleep(2000);
      await assertServes(master, 'rollback');
    });

    await step('watch without its capabilities refuses to start (exit 77) and the unit stays failed', async () => {
      const master = (await cluster.masterByAllSentinels())!;
      const replica = cluster.hosts.find((h) => h !== master)!;
      const dropIn = `/run/systemd/system/${WATCH_UNIT}.d/no-caps.conf`;
      // Issue 16 §2: a watch that could never act looked healthy (active, running) while failing every 10 s.
      await replica.writeFile(dropIn, '[Service]\nAmbientCapabilities=\nCapabilityBoundingSet=\n');
      await replica.execOk(['systemctl', 'daemon-reload']);
      await replica.exec(['systemctl', 'restart', WATCH_UNIT], { timeoutMs: 60_000 });
      const failed = await waitFor(
        `${replica.name}: ${WATCH_UNIT} failed`,
        async () => {
          const u = await replica.unit(WATCH_UNIT);
          return u.ActiveState === 'failed' ? u : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      );
      assert.equal(failed.ExecMainStatus, '77', JSON.stringify(failed));
      await sleep(3000);
      assert.equal((await replica.unit(WATCH_UNIT)).ActiveState, 'failed', 'not restarted every 2 s');
      await replica.execOk(['rm', '-f', dropIn]);
      await replica.execOk(['systemctl', 'daemon-reload']);
      await replica.execOk(['systemctl', 'restart', WATCH_UNIT], { timeoutMs: 60_000 });
      assert.equal((await replica.unit(WATCH_UNIT)).ActiveState, 'active', await replica.journal([WATCH_UNIT]));
      await assertServes(master, 'after the capabilities came back');
    });

    await step('apt-get remove stops and disables the units and keeps the config; purge removes the rest', async () => {
      const master = (await cluster.masterByAllSentinels())!;
      const replica = cluster.hosts.find((h) => h !== master)!;
      const removed = await replica.exec(['apt-get', 'remove', '-y', 'sentinel-hook'], { timeoutMs: 120_000 });
      assert.equal(removed.code, 0, removed.stderr);
      const watch = await replica.unit(WATCH_UNIT);
      assert.equal(watch.ActiveState, 'inactive', JSON.stringify(watch));
      assert.notEqual(watch.UnitFileState, 'enabled', JSON.stringify(watch));
      assert.equal((await replica.exec(['test', '-e', CONFIG])).code, 0, 'remove keeps the config');
      assert.equal((await replica.exec(['test', '-e', `${INSTALL_DIR}/bin/node`])).code, 1, 'remove takes the program');
      assert.match(await installedVersion(replica), /^config-files /);
      const purged = await replica.exec(['apt-get', 'purge', '-y', 'sentinel-hook'], { timeoutMs: 120_000 });
      assert.equal(purged.code, 0, purged.stderr);
      assert.match(await installedVersion(replica), /^not-installed|not known/);
      for (const gone of ['/var/lib/sentinel-hook', '/var/log/sentinel-hook', INSTALL_DIR])
        assert.equal((await replica.exec(['test', '-e', gone])).code, 1, `purge left ${gone}`);
      // The hosts still serving are untouched.
      await assertServes(master, `after ${replica.name}'s removal`);
    });
    failed = step.broken() !== undefined;
  } finally {
    for (const line of timings) t.diagnostic(line);
    if (failed)
      for (const h of cluster.hosts)
        if (h.running)
          t.diagnostic(`${h.name} journal:\n${await h.journal([WATCH_UNIT, RECONCILE_UNIT], 40).catch(String)}`);
    await cluster.teardown({ keepDir: failed });
    if (failed) t.diagnostic(`logs kept in ${cluster.dir}`);
    assert.deepEqual(await cluster.existingNamespaces(), [], 'teardown left namespaces behind');
  }
});
