// The vip action in a real Sentinel lab (network namespaces on this machine, see test/lab/README.md):
// three Redis hosts, each with redis-server and redis-sentinel running as the unprivileged redis user,
// sentinel-hook (through hooks/client-reconfig) as every Sentinel's client-reconfig-script, the sudoers
// drop-in from `sentinel-hook sudoers --user redis` installed for the lab's life, and an app host writing
// through the VIP. Needs root. Each test builds its own lab and tears it down, pass or fail.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { DEFAULT_VIP, type Lab, printTimeline, sleep, timeline, vipHook, type Writer, withLab } from '../lab/index.ts';

const VIP_IP = DEFAULT_VIP.split('/')[0]!;

function withVipLab(t: TestContext, body: (lab: Lab) => Promise<void>, hook = vipHook()): Promise<void> {
  return withLab(t, { hook }, body);
}

/** No Sentinel reported a hook failure, and every hook run on every host since `since` ended with exit 0. */
function assertHooksClean(lab: Lab, since: number): void {
  for (const host of lab.redisHosts) {
    const errors = lab.sentinelLog(host.name).filter((e) => e.at >= since && e.type === '-script-error');
    assert.deepEqual(
      errors.map((e) => e.line),
      [],
      `Sentinel on ${host.name} reported hook errors`,
    );
    for (const run of lab.hookRuns(host.name, since)) {
      assert.equal(
        run.exitCode,
        0,
        `hook run ${run.run} on ${host.name} (${JSON.stringify(run.event)}) ended with ${run.exitCode}: ${run.outcome}`,
      );
    }
  }
}

async function assertVipOnlyOn(lab: Lab, master: string, what: string): Promise<void> {
  assert.deepEqual(await lab.holders(), [master], `${what}: the VIP must be on exactly the new master ${master}`);
  const masters = await lab.mastersBySentinel();
  for (const [sentinel, named] of Object.entries(masters))
    assert.equal(named, master, `${what}: Sentinel on ${sentinel} names ${named} as master`);
}

/** The app host's neighbour entry for the VIP carries `master`'s MAC (bounded wait: a GARP may be in flight). */
async function assertNeighbourIs(lab: Lab, master: string, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  let seen = await lab.neighbour('a1');
  for (let i = 0; i < 100 && seen.owner !== master && Date.now() < deadline; i++) {
    await sleep(100);
    seen = await lab.neighbour('a1');
  }
  assert.equal(
    seen.mac?.toLowerCase(),
    lab.host(master).mac.toLowerCase(),
    `${what}: a1's neighbour entry for ${VIP_IP} is ${seen.mac} (${seen.owner ?? 'nobody'}, ${seen.state.join(',')}), not ${master}'s MAC`,
  );
}

/** After the first write acknowledged by `master`, no write may be acknowledged by anyone else. */
function assertStaysWith(writer: Writer, master: string, since: number): void {
  const first = writer.firstAck(since, master);
  assert.ok(first, `no write acknowledged by ${master}`);
  const strays = writer.attempts().filter((a) => a.ok && a.at > first.at && a.server !== master);
  assert.deepEqual(strays, [], `writes acknowledged by a host other than ${master} after the client reached it`);
}

test('master redis-server killed: the VIP moves to the new master only, the app host re-learns its MAC, writes recover', {
  timeout: 120_000,
}, async (t) => {
  await withVipLab(t, async (lab) => {
    assert.deepEqual(await lab.holders(), ['r1'], 'precondition: the VIP starts on the master');
    const writer = lab.startWriter('a1', { durationMs: 60_000 });
    await writer.waitAck('precondition', 0, { server: 'r1', timeoutMs: 10_000 });

    const killedAt = lab.killRedis('r1');
    const master = await lab.waitNewMaster('r1', { timeoutMs: 30_000 });
    const ack = await writer.waitAck('recovery', killedAt, { server: master, timeoutMs: 20_000 });
    await lab.waitHooksIdle(20_000);
    await sleep(300);
    await writer.stop();

    const lastBefore = writer.lastAckBefore(killedAt);
    const firstSwitch = lab.switchMasterEvents(killedAt)[0];
    t.diagnostic(
      `blackout (last ack before the kill -> first ack by ${master}): ${ack.at - (lastBefore?.at ?? killedAt)} ms; kill -> first ack: ${ack.at - killedAt} ms; first +switch-master -> first ack: ${firstSwitch ? ack.at - firstSwitch.at : '?'} ms`,
    );
    printTimeline(
      timeline(lab, killedAt, {
        writer,
        ackServer: master,
        marks: [{ at: killedAt, host: 'r1', what: 'redis-server killed' }],
      }),
      killedAt,
      (l) => t.diagnostic(l),
    );

    await assertVipOnlyOn(lab, master, 'after the failover');
    await assertNeighbourIs(lab, master, 'after the failover');
    assertStaysWith(writer, master, killedAt);
    assertHooksClean(lab, killedAt);
    // Every Sentinel ran the hook: the old master's own (its host is alive, only redis-server died) removed the VIP.
    for (const host of lab.redisHosts)
      assert.ok(lab.hookRuns(host.name, killedAt).length >= 1, `the hook did not run on ${host.name}`);
  });
});

test('master host cut off during the failover, then back: after it rejoins, the VIP is on exactly one host', {
  timeout: 150_000,
}, async (t) => {
  await withVipLab(t, async (lab) => {
    const writer = lab.startWriter('a1', { durationMs: 90_000 });
    await writer.waitAck('precondition', 0, { server: 'r1', timeoutMs: 10_000 });

    const cutAt = await lab.cutLink('r1');
    const master = await lab.waitNewMaster('r1', { timeoutMs: 30_000, sentinels: ['r2', 'r3'] });
    await writer.waitAck('recovery while r1 is cut off', cutAt, { server: master, timeoutMs: 20_000 });
    await lab.waitHooksIdle(20_000);
    // While cut off, r1 hears nothing: its Sentinel still names r1, and r1 still holds the VIP.
    assert.equal(
      (await lab.mastersBySentinel()).r1,
      'r1',
      "r1's Sentinel cannot have learnt of the failover while cut off",
    );
    assert.deepEqual(
      await lab.holders(),
      [master, 'r1'].sort(),
      'while r1 is cut off both it and the new master hold the VIP (each on its own side)',
    );
    assert.equal(lab.hookRuns('r1', cutAt).length, 0, "r1's hook cannot have run while r1 was cut off");

    const backAt = await lab.restoreLink('r1');
    // What clears the old copy: r1's Sentinel gets a hello with a newer config epoch from the others
    // (+config-update-from), switches (+switch-master) and runs its client-reconfig-script as an observer
    // with from=r1 to=<new master>; the vip action there removes the address. Bounded wait for that.
    const deadline = Date.now() + 20_000;
    let holders = await lab.holders();
    for (let i = 0; i < 200 && (holders.length !== 1 || holders[0] !== master) && Date.now() < deadline; i++) {
      await sleep(100);
      holders = await lab.holders();
    }
    const clearedAt = Date.now();
    await lab.waitSentinelsAgree(master, { timeoutMs: 30_000 });
    await lab.waitHooksIdle(20_000);
    await writer.waitAck('after r1 rejoined', clearedAt, { server: master, timeoutMs: 20_000 });
    await writer.stop();
    printTimeline(
      timeline(lab, cutAt, {
        marks: [
          { at: cutAt, host: 'r1', what: 'link cut' },
          { at: backAt, host: 'r1', what: 'link restored' },
        ],
      }),
      cutAt,
      (l) => t.diagnostic(l),
    );
    t.diagnostic(`duplicate VIP after the link came back: cleared within ${clearedAt - backAt} ms (polled)`);

    await assertVipOnlyOn(lab, master, 'after r1 rejoined');
    const rejoinRuns = lab.hookRuns('r1', backAt);
    assert.ok(
      rejoinRuns.some(
        (r) =>
          r.event?.role === 'observer' &&
          r.event.fromIp === lab.host('r1').ip &&
          r.event.toIp === lab.host(master).ip &&
          r.exitCode === 0,
      ),
      `r1's own Sentinel should have run the hook as observer r1 -> ${master} after the rejoin; runs: ${JSON.stringify(rejoinRuns.map((r) => ({ event: r.event, exit: r.exitCode })))}`,
    );
    await assertNeighbourIs(lab, master, 'after r1 rejoined');
    assertHooksClean(lab, cutAt);
  });
});

test('the old master comes back while an app host still points the VIP at it: the new master announces the VIP again (notify -sdown)', {
  timeout: 150_000,
}, async (t) => {
  await withVipLab(
    t,
    async (lab) => {
      const writer = lab.startWriter('a1', { durationMs: 90_000 });
      await writer.waitAck('precondition', 0, { server: 'r1', timeoutMs: 10_000 });
      // Left alone, a1 would keep a poisoned entry for 60-180 s (reachable time, no TCP confirmations):
      // well past this test's waits, so only an announcement can fix it in time.
      await lab.ip('a1', ['ntable', 'change', 'name', 'arp_cache', 'dev', 'eth0', 'base_reachable', '120000']);

      const cutAt = await lab.cutLink('r1');
      const master = await lab.waitNewMaster('r1', { timeoutMs: 30_000, sentinels: ['r2', 'r3'] });
      await writer.waitAck('recovery while r1 is cut off', cutAt, { server: master, timeoutMs: 20_000 });
      await lab.waitHooksIdle(20_000);
      // What a host with arp_announce 0, or a broadcast ARP answered by both holders, leaves behind:
      // a1 sends to r1's MAC for the VIP.
      await lab.ip('a1', ['neigh', 'replace', VIP_IP, 'lladdr', lab.host('r1').mac, 'dev', 'eth0', 'nud', 'reachable']);
      const backAt = await lab.restoreLink('r1');
      const ack = await writer.waitAck('after r1 rejoined, with a1 pointed at r1', backAt, {
        server: master,
        timeoutMs: 20_000,
      });
      await lab.waitSentinelsAgree(master, { timeoutMs: 30_000 });
      await lab.waitHooksIdle(20_000);
      await writer.stop();

      const announced = lab
        .notifyRuns(master, backAt)
        .filter((r) => r.notify?.type === '-sdown' && r.steps.some((s) => s.ok && /gratuitous ARP/.test(s.step)));
      t.diagnostic(
        `link restored -> first write acknowledged by ${master}: ${ack.at - backAt} ms; ${master}'s -sdown notify runs that announced: ${announced.length}`,
      );
      assert.ok(
        announced.length >= 1,
        `${master} never announced the VIP again after r1 came back; its notify runs: ${JSON.stringify(lab.notifyRuns(master, backAt).map((r) => ({ notify: r.notify, steps: r.steps, exit: r.exitCode })))}`,
      );
      // The returning old master's own Sentinel still named it master for a moment: it must not have announced.
      const strays = lab.notifyRuns('r1', backAt).filter((r) => r.steps.some((s) => /ARP/.test(s.step)));
      assert.deepEqual(
        strays.map((r) => r.notify),
        [],
        'r1 announced the VIP after coming back',
      );
      for (const host of lab.redisHosts)
        for (const r of lab.notifyRuns(host.name, cutAt))
          assert.equal(
            r.exitCode,
            0,
            `notify run on ${host.name} (${JSON.stringify(r.notify)}) ended with ${r.exitCode}: ${r.outcome}`,
          );
      await assertVipOnlyOn(lab, master, 'after r1 rejoined');
      await assertNeighbourIs(lab, master, 'after r1 rejoined');
      assertHooksClean(lab, cutAt);
    },
    vipHook({ reannounce: true }),
  );
});

test('two failovers in a row, there and back: the VIP follows both times', { timeout: 180_000 }, async (t) => {
  await withVipLab(t, async (lab) => {
    const writer = lab.startWriter('a1', { durationMs: 120_000 });
    await writer.waitAck('precondition', 0, { server: 'r1', timeoutMs: 10_000 });

    // There: r1 -> r2 or r3.
    const firstKill = lab.killRedis('r1');
    const there = await lab.waitNewMaster('r1', { timeoutMs: 30_000 });
    await writer.waitAck('first failover', firstKill, { server: there, timeoutMs: 20_000 });
    await lab.waitHooksIdle(20_000);
    await assertVipOnlyOn(lab, there, 'after the first failover');
    await assertNeighbourIs(lab, there, 'after the first failover');

    // r1 comes back as a replica of the new master; the third host is made ineligible (replica-priority 0)
    // so that the second failover goes back to r1, the host the VIP was first taken from.
    lab.startRedis('r1', { replicaOf: lab.host(there).ip });
    await lab.waitRedisReady('r1', 'replica', 20_000);
    const third = ['r2', 'r3'].find((h) => h !== there)!;
    await lab.redisCli(third, { ip: lab.host(third).ip }, ['CONFIG', 'SET', 'replica-priority', '0']);
    await lab.waitSentinelsAgree(there, { timeoutMs: 40_000, replicas: 2 });

    // And back: <there> -> r1.
    const secondKill = lab.killRedis(there);
    const back = await lab.waitNewMaster(there, { timeoutMs: 30_000 });
    assert.equal(back, 'r1', 'with the third host ineligible, the second failover must go back to r1');
    const ack = await writer.waitAck('second failover', secondKill, { server: 'r1', timeoutMs: 20_000 });
    await lab.waitHooksIdle(20_000);
    await sleep(300);
    await writer.stop();
    t.diagnostic(`second failover: kill -> first ack by r1: ${ack.at - secondKill} ms`);
    printTimeline(
      timeline(lab, secondKill, {
        writer,
        ackServer: 'r1',
        marks: [{ at: secondKill, host: there, what: 'redis-server killed' }],
      }),
      secondKill,
      (l) => t.diagnostic(l),
    );

    await assertVipOnlyOn(lab, 'r1', 'after the second failover');
    await assertNeighbourIs(lab, 'r1', 'after the second failover');
    assertStaysWith(writer, 'r1', secondKill);
    assertHooksClean(lab, firstKill);
  });
});
