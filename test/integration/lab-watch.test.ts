// `sentinel-hook watch` in the real Sentinel lab (network namespaces, redis-server and redis-sentinel as
// the redis user): watch runs on every Redis host as a service would, as redis with only CAP_NET_ADMIN
// and CAP_NET_RAW and no-new-privileges (lab.startWatch), its JSON lines in a per-host log. Four labs,
// several situations in each where they do not disturb one another; judged by who holds the VIP (the
// kernel's view), when, and what watch logged. Needs root.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { doubleFailover, NeighbourMonitor } from '../lab/double-failover.ts';
import { DEFAULT_VIP, type Lab, sleep, vipHook, type WatchLogEntry, watchHook, withLab } from '../lab/index.ts';

/** Poll the VIP's holders (every 20 ms, bounded) until they are `expected`; the time they first were. */
async function waitHolders(lab: Lab, expected: string[], timeoutMs: number, what: string): Promise<number> {
  const want = [...expected].sort().join(',');
  const deadline = Date.now() + timeoutMs;
  let seen: string[] = [];
  for (let i = 0; i < Math.ceil(timeoutMs / 20) + 1 && Date.now() < deadline; i++) {
    const at = Date.now();
    seen = await lab.holders();
    if (seen.join(',') === want) return at;
    await sleep(20);
  }
  throw new Error(
    `${what}: the VIP holders did not become [${want}] within ${timeoutMs} ms; last seen [${seen.join(',')}]`,
  );
}

/** The first line of `host`'s watch log since `since` that matches. */
function watchSaid(
  lab: Lab,
  host: string,
  since: number,
  match: (e: WatchLogEntry) => boolean,
): WatchLogEntry | undefined {
  return lab.watchLog(host, since).find(match);
}

const stepDone = (re: RegExp) => (e: WatchLogEntry) => e.msg === 'step done' && re.test(String(e.rec.step));

/** A killed old master back as a replica of `master`, and every Sentinel agreeing again (the next situation starts healthy). */
async function rejoinAsReplica(lab: Lab, old: string, master: string): Promise<void> {
  lab.startRedis(old, { replicaOf: lab.host(master).ip });
  await lab.waitRedisReady(old, 'replica', 20_000);
  await lab.waitSentinelsAgree(master, { timeoutMs: 40_000, replicas: 2 });
}

test('watch on every host (interval 2 s): a missed failover fixed at start; old master redis-server and Sentinel killed together; master cut off then healed; Sentinels that do not answer change nothing', {
  timeout: 300_000,
}, async (t) => {
  const INTERVAL = 2000;
  await withLab(t, { hook: watchHook() }, async (lab) => {
    // 1. A failover watch missed (it was not running, the Sentinels run no hook): r1 keeps a stale VIP.
    const missedAt = lab.killRedis('r1');
    const first = await lab.waitNewMaster('r1', { timeoutMs: 30_000 });
    await sleep(500);
    assert.deepEqual(await lab.holders(), ['r1'], 'precondition: with no hook and no watch, nobody moved the VIP');
    const startedAt = Date.now();
    for (const h of lab.redisHosts) lab.startWatch(h.name, { intervalMs: INTERVAL });
    for (const h of lab.redisHosts) await lab.waitWatchReady(h.name);
    const fixedAt = await waitHolders(lab, [first], 5000, 'watch started after a missed failover');
    const removed = watchSaid(lab, 'r1', startedAt, stepDone(/^remove /));
    assert.ok(removed, "r1's watch logged no removal of the stale VIP");
    const converged = watchSaid(lab, 'r1', startedAt, (e) => e.msg === 'converged');
    assert.equal(
      converged?.rec.why,
      'start',
      `r1's watch removed the stale VIP in its start reconcile, not later: ${JSON.stringify(converged?.rec)}`,
    );
    t.diagnostic(
      `1. missed failover (killed at ${missedAt}): watch started -> VIP only on ${first} in ${fixedAt - startedAt} ms`,
    );
    // How it runs: as redis, CAP_NET_ADMIN and CAP_NET_RAW only (in every set), no-new-privileges; no sudoers rule exists.
    const status = readFileSync(`/proc/${lab.watchProcess('r1')!.pid}/status`, 'utf8');
    const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim();
    assert.equal(field('Uid')?.split(/\s+/)[0], String(statSync(lab.host('r1').runDir).uid), 'watch runs as redis');
    for (const set of ['CapEff', 'CapPrm', 'CapAmb', 'CapBnd'])
      assert.equal(field(set), '0000000000003000', `${set}: CAP_NET_ADMIN and CAP_NET_RAW only`);
    assert.equal(field('NoNewPrivs'), '1');
    assert.equal(lab.sudoersFile, undefined, 'no sudoers rule: the capabilities alone move the VIP');
    await rejoinAsReplica(lab, 'r1', first);

    // 2. The old master's redis-server and Sentinel killed together, the host up: its watch hears the
    // failover from the other two Sentinels; the VIP ends on exactly the new master within an interval.
    const old = first;
    const tracker = lab.trackHolders({ timeoutMs: 40_000 });
    const killedAt = lab.killRedis(old);
    lab.killSentinel(old);
    const others = lab.redisHosts.map((h) => h.name).filter((n) => n !== old);
    const second = await lab.waitNewMaster(old, { timeoutMs: 30_000, sentinels: others });
    const settledAt = await waitHolders(
      lab,
      [second],
      INTERVAL + 10_000,
      'after the kill of redis-server and Sentinel',
    );
    await sleep(INTERVAL + 500);
    const changes = await tracker.stop();
    assert.deepEqual(await lab.holders(), [second], 'and it stays there');
    const firstSwitch = lab.switchMasterEvents(killedAt)[0];
    assert.ok(firstSwitch, 'no +switch-master in any Sentinel log');
    const lastChange = changes.at(-1)!;
    assert.deepEqual(lastChange.holders, [second]);
    t.diagnostic(
      `2. ${old} redis-server + Sentinel killed: first +switch-master -> VIP only on ${second}: ${lastChange.at - firstSwitch.at} ms (polled at ${settledAt - firstSwitch.at} ms); holders over time ${JSON.stringify(changes.map((c) => [c.at - firstSwitch.at, c.holders.join('+')]))}`,
    );
    assert.ok(
      lastChange.at - firstSwitch.at <= INTERVAL,
      `the VIP settled on ${second} ${lastChange.at - firstSwitch.at} ms after the first +switch-master (interval ${INTERVAL} ms)`,
    );
    assert.ok(watchSaid(lab, old, killedAt, stepDone(/^remove /)), `${old}'s watch did not remove the VIP`);
    lab.startSentinel(old);
    await rejoinAsReplica(lab, old, second);
    assert.deepEqual(await lab.holders(), [second], 'the old master and its Sentinel back: the VIP stays');

    // 3. The master's host cut off during a failover, then healed. Default (no release): the isolated
    // host keeps its VIP while it cannot hear the Sentinels, and says it is unsure; after the heal,
    // exactly one holder within an interval.
    const cutHost = second;
    const cutAt = await lab.cutLink(cutHost);
    const rest = lab.redisHosts.map((h) => h.name).filter((n) => n !== cutHost);
    const third = await lab.waitNewMaster(cutHost, { timeoutMs: 30_000, sentinels: rest });
    await waitHolders(lab, [cutHost, third], 10_000, 'while the old master is cut off');
    await sleep(INTERVAL + 1000);
    const unsure = watchSaid(lab, cutHost, cutAt, (e) => e.rec.outcome === 'unsure');
    assert.match(
      String(unsure?.rec.reason),
      /1 of 3 Sentinels answered/,
      `${cutHost}'s watch should say it has no clear answer while cut off`,
    );
    assert.deepEqual(await lab.holders(), [cutHost, third].sort(), 'without release, the isolated host keeps the VIP');
    const healedAt = await lab.restoreLink(cutHost);
    const oneAt = await waitHolders(lab, [third], INTERVAL + 10_000, 'after the heal');
    t.diagnostic(
      `3. ${cutHost} cut off, ${third} promoted; healed -> VIP only on ${third} ${oneAt - healedAt} ms later`,
    );
    assert.ok(
      oneAt - healedAt <= INTERVAL,
      `one holder ${oneAt - healedAt} ms after the heal (interval ${INTERVAL} ms)`,
    );
    // Sentinel turns the returning old master into a replica itself.
    await lab.waitRedisReady(cutHost, 'replica', 40_000);
    await lab.waitSentinelsAgree(third, { timeoutMs: 40_000, replicas: 2 });
    assert.deepEqual(await lab.holders(), [third]);

    // 4. Two of three Sentinels hung (SIGSTOP): a stray VIP on a replica stays, and watch says why.
    // Last in this lab: a Sentinel stopped for seconds enters TILT mode when resumed.
    const stray = lab.redisHosts.map((h) => h.name).find((n) => n !== third)!;
    await lab.ip(stray, ['addr', 'add', DEFAULT_VIP, 'dev', 'eth0']);
    const hung = lab.redisHosts.map((h) => h.name).filter((n) => n !== stray);
    const pausedAt = Date.now();
    for (const h of hung) lab.pauseSentinel(h);
    try {
      await sleep(2 * INTERVAL + 1000);
      assert.deepEqual(await lab.holders(), [third, stray].sort(), 'nothing changed while no majority answered');
      for (const h of lab.redisHosts) {
        const steps = lab.watchLog(h.name, pausedAt).filter((e) => e.msg === 'step done' || e.msg === 'step failed');
        assert.deepEqual(
          steps.map((e) => e.rec.step),
          [],
          `${h.name}'s watch changed something while the Sentinels were hung`,
        );
      }
      const said = lab.watchLog(stray, pausedAt).filter((e) => e.msg === 'not converged' && e.rec.outcome === 'unsure');
      assert.ok(said.length >= 1, `${stray}'s watch did not say why it changed nothing`);
      assert.match(String(said[0]!.rec.reason), /1 of 3 Sentinels answered/);
      t.diagnostic(
        `4. two Sentinels hung: ${stray}'s watch said "${said[0]!.msg}: ${String(said[0]!.rec.reason)}" ${said.length} times; nothing changed`,
      );
    } finally {
      for (const h of hung) lab.resumeSentinel(h);
    }
    const resumedAt = Date.now();
    const clearedAt = await waitHolders(lab, [third], INTERVAL + 10_000, 'after the Sentinels were resumed');
    t.diagnostic(`   resumed: the stray VIP on ${stray} removed ${clearedAt - resumedAt} ms later`);
  });
});

test('watch with release: { noQuorumFor: 4s } (interval 3 s): kept through a shorter cut; an isolated old master lets the VIP go after noQuorumFor, before noQuorumFor + interval; one holder after the heal', {
  timeout: 240_000,
}, async (t) => {
  const INTERVAL = 3000;
  const NO_QUORUM_FOR = 4000;
  await withLab(
    t,
    { hook: watchHook({ release: `${NO_QUORUM_FOR}ms` }), watch: { intervalMs: INTERVAL } },
    async (lab) => {
      // 1. A cut shorter than noQuorumFor (and than Sentinel's down-after): the VIP stays on r1 throughout.
      const shortTracker = lab.trackHolders({ timeoutMs: 30_000 });
      const shortAt = await lab.cutLink('r1');
      await sleep(1500);
      await lab.restoreLink('r1');
      await sleep(Math.max(0, shortAt + NO_QUORUM_FOR + INTERVAL + 1000 - Date.now()));
      const during = await shortTracker.stop();
      assert.deepEqual(
        during.map((c) => c.holders),
        [['r1']],
        'the VIP stayed on r1, and only there, through the short cut and well past noQuorumFor',
      );
      assert.equal(
        watchSaid(lab, 'r1', shortAt, (e) => /releasing the VIP/.test(e.msg)),
        undefined,
        'r1 did not release after a short cut',
      );
      assert.equal((await lab.mastersBySentinel()).r1, 'r1', 'no failover after the short cut');

      // 2. r1 cut off for good during a failover: it holds the VIP for at least noQuorumFor (from before the
      // cut), lets it go before noQuorumFor + interval; after the heal the Sentinels' master is the one holder.
      const tracker = lab.trackHolders({ timeoutMs: 60_000 });
      const beforeCut = Date.now();
      const cutAt = await lab.cutLink('r1');
      const master = await lab.waitNewMaster('r1', { timeoutMs: 30_000, sentinels: ['r2', 'r3'] });
      const goneAt = await waitHolders(lab, [master], NO_QUORUM_FOR + INTERVAL + 5000, 'r1 cut off, with release');
      const released = watchSaid(lab, 'r1', cutAt, (e) => /releasing the VIP/.test(e.msg));
      assert.ok(released, "r1's watch did not log the release");
      const removedStep = watchSaid(lab, 'r1', cutAt, stepDone(/^remove /));
      assert.ok(removedStep, "r1's watch did not log the removal");
      const changes = await tracker.stop();
      const lastWithR1 = [...changes].reverse().find((c) => c.holders.includes('r1'));
      const firstWithoutR1 = changes.find((c) => c.at > (lastWithR1?.at ?? 0));
      const promoted = lab.switchMasterEvents(cutAt)[0];
      t.diagnostic(
        `2. r1 cut: first +switch-master +${promoted ? promoted.at - cutAt : '?'} ms; release logged +${released.at - cutAt} ms, removal done +${removedStep.at - cutAt} ms, seen gone +${(firstWithoutR1?.at ?? goneAt) - cutAt} ms after the cut (noQuorumFor ${NO_QUORUM_FOR}, interval ${INTERVAL}); holders ${JSON.stringify(changes.map((c) => [c.at - cutAt, c.holders.join('+')]))}`,
      );
      assert.ok(
        released.at >= beforeCut + NO_QUORUM_FOR,
        `r1 released ${released.at - beforeCut} ms after the cut began, before noQuorumFor (${NO_QUORUM_FOR} ms)`,
      );
      assert.ok(
        removedStep.at <= cutAt + NO_QUORUM_FOR + INTERVAL,
        `r1 removed the VIP ${removedStep.at - cutAt} ms after the cut, not before noQuorumFor + interval`,
      );
      assert.deepEqual(await lab.holders(), [master]);

      const healedAt = await lab.restoreLink('r1');
      await sleep(INTERVAL + 1000);
      assert.deepEqual(await lab.holders(), [master], 'after the heal: one holder, the master the Sentinels name');
      assert.equal(
        watchSaid(lab, 'r1', healedAt, stepDone(/^add /)),
        undefined,
        'r1 did not take the VIP back after the heal',
      );
      await lab.waitRedisReady('r1', 'replica', 40_000);
      await lab.waitSentinelsAgree(master, { timeoutMs: 40_000, replicas: 2 });
      assert.deepEqual(await lab.holders(), [master]);
    },
  );
});

test('double failover with watch (repeatAfter 8 s): one holder, the second failover not held back by the first burst', {
  timeout: 300_000,
}, async (t) => {
  const CYCLES = 2;
  const REPEAT_AFTER_MS = 8000;
  await withLab(
    t,
    {
      hook: watchHook({ arp: { repeatAfter: `${REPEAT_AFTER_MS}ms` } }),
      watch: { intervalMs: 10_000 },
      failoverTimeoutMs: 3000,
    },
    async (lab) => {
      const writer = lab.startWriter('a1', { durationMs: 240_000 });
      const neighbours = NeighbourMonitor.start(lab, 'a1');
      await writer.waitAck('precondition', 0, { server: 'r1', timeoutMs: 10_000 });
      let master = 'r1';
      let counted = 0;
      for (let cycle = 1; cycle <= CYCLES + 2 && counted < CYCLES; cycle++) {
        const c = await doubleFailover(lab, master, writer, neighbours, {
          repeatAfterMs: REPEAT_AFTER_MS,
          hookLogs: false,
          watchLogs: true,
          log: (l) => t.diagnostic(`cycle ${cycle}: ${l}`),
        });
        t.diagnostic(
          `cycle ${cycle}: ${c.first} -> ${c.second} -> ${c.third}; ${c.overlapNote}; switch -> first ack ${c.switchToAckMs} ms; holders ${c.holdersAfter.join(',')}`,
        );
        assert.deepEqual(
          c.holdersAfter,
          [c.third],
          `cycle ${cycle}: the VIP must be on exactly the new master ${c.third}`,
        );
        master = c.third;
        if (!c.overlapped) continue;
        counted++;
        assert.deepEqual(
          c.flapsBack.map((e) => e.line),
          [],
          `cycle ${cycle}: a1's neighbour entry went back to ${c.second} after learning ${c.third}`,
        );
        // Not held back: X let go of the VIP at once, not when its pending burst would have been due.
        assert.ok(
          c.removedMs !== undefined && c.removedMs <= 1000,
          `cycle ${cycle}: ${c.second} removed the VIP ${c.removedMs} ms after hearing of the second failover`,
        );
        assert.ok(
          c.switchToAckMs !== undefined && c.switchToAckMs <= 2000,
          `cycle ${cycle}: writes recovered ${c.switchToAckMs} ms after the second failover's first +switch-master`,
        );
      }
      assert.equal(
        counted,
        CYCLES,
        `only ${counted} cycles had the second failover land while the first burst was pending`,
      );
      await writer.stop();
    },
  );
});

test('watch and the hook both on every host: one failover, the exec action once per host, one VIP holder', {
  timeout: 180_000,
}, async (t) => {
  const INTERVAL = 2000;
  // Each host's exec appends the new master it ran for to a file of its own (runDir belongs to redis,
  // who runs both the hook and watch).
  const execFile = (dir: string) => join(dir, 'exec-runs.txt');
  const hook = {
    ...vipHook({
      sentinels: true,
      more: (h) => [
        { type: 'exec', run: ['/bin/sh', '-c', 'echo "$0" >> "$1"', '{toIp}', execFile(h.runDir)], reconcile: true },
      ],
    }),
    logLevel: 'debug' as const,
  };
  await withLab(t, { hook, watch: { intervalMs: INTERVAL } }, async (lab) => {
    const lines = (host: string) =>
      existsSync(execFile(lab.host(host).runDir))
        ? readFileSync(execFile(lab.host(host).runDir), 'utf8')
            .trim()
            .split('\n')
            .filter(Boolean)
        : [];
    // At start, watch's reconcile ran it once for the current master (a failover no process here had acted on).
    const before = Object.fromEntries(lab.redisHosts.map((h) => [h.name, lines(h.name).length]));
    for (const h of lab.redisHosts)
      assert.deepEqual(lines(h.name), [lab.host('r1').ip], `${h.name}: the exec ran once at start`);

    const killedAt = lab.killRedis('r1');
    const master = await lab.waitNewMaster('r1', { timeoutMs: 30_000 });
    await waitHolders(lab, [master], 10_000, 'after the failover');
    await lab.waitHooksIdle(30_000);
    // Two more intervals: a reconcile that would run it again has had its chance.
    await sleep(2 * INTERVAL + 500);
    for (const h of lab.redisHosts) {
      const after = lines(h.name).slice(before[h.name]);
      const runs = lab.hookRuns(h.name, killedAt);
      const byWatch = lab.watchLog(h.name, killedAt).some((e) => e.msg === 'step done' && e.rec.action === 'exec#1');
      t.diagnostic(
        `${h.name}: exec ran for ${JSON.stringify(after)} (by ${byWatch ? 'watch' : 'the hook'}); hook runs ${runs.map((r) => `${r.event?.role} exit ${r.exitCode} ${r.outcome}`).join('; ')}`,
      );
      assert.deepEqual(after, [lab.host(master).ip], `${h.name}: the exec action ran exactly once for the failover`);
      assert.ok(runs.length >= 1, `the hook ran on ${h.name} too (both are configured)`);
      for (const r of runs)
        assert.equal(r.exitCode, 0, `${h.name}: hook run ${r.run} ended ${r.exitCode} (${r.outcome})`);
    }
    assert.deepEqual(await lab.holders(), [master], 'one VIP holder: the new master');
  });
});
