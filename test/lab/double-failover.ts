// The double-failover scenario (the issue "the old holder's delayed second ARP burst takes the VIP
// back"): the master M is killed, Sentinel promotes X, whose hook adds the VIP and sends its first
// ARP burst; while X's second burst is still pending, X's redis-server is killed too and Sentinel
// promotes Y. Shared by the lab test (assertions) and `npm run bench:double-failover` (figures).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Lab, type LabProcess, REDIS_PORT } from './lab.ts';
import type { HookRun } from './logs.ts';
import { sleep } from './run.ts';
import { waitFor } from './wait.ts';
import type { Writer } from './writer.ts';

/** One neighbour-table change on the app host, as `ip -ts monitor neigh` printed it. */
export interface NeighbourEvent {
  at: number;
  address: string;
  mac: string | undefined;
  line: string;
}

/** Records every change of the app host's neighbour table (a flap is seen, not polled past). */
export class NeighbourMonitor {
  private constructor(
    private readonly file: string,
    readonly proc: LabProcess,
  ) {}

  static start(lab: Lab, host: string): NeighbourMonitor {
    const file = join(lab.dir, `${host}-neigh-monitor.log`);
    const proc = lab.spawn(host, ['ip', '-ts', 'monitor', 'neigh'], {
      what: 'ip monitor neigh',
      logFile: file,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', TZ: 'UTC' },
    });
    return new NeighbourMonitor(file, proc);
  }

  events(address: string): NeighbourEvent[] {
    let text = '';
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return [];
    }
    const out: NeighbourEvent[] = [];
    for (const line of text.split('\n')) {
      // [2026-12-01T01:52:15.123456] 10.77.0.100 dev eth0 lladdr 02:… REACHABLE   (TZ=UTC)
      const m = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?\]\s+(?:Deleted\s+)?(\S+)\s+(.*)$/.exec(line);
      if (!m || m[3] !== address) continue;
      const at = Date.parse(`${m[1]}.${(m[2] ?? '0').padEnd(3, '0').slice(0, 3)}Z`);
      out.push({ at, address: m[3]!, mac: /lladdr (\S+)/.exec(m[4]!)?.[1]?.toLowerCase(), line });
    }
    return out;
  }
}

export interface DoubleFailoverCycle {
  /** M, X, Y as above. */
  first: string;
  second: string;
  third: string;
  /** X's second hook run (event X -> Y) started while its first run's second burst was still due: the case under test. */
  overlapped: boolean;
  /** Why not, or what the logs show. */
  overlapNote: string;
  /** First +switch-master of the second failover in any Sentinel log. */
  secondSwitchAt: number;
  /** First write through the VIP acknowledged by Y, and its distance from secondSwitchAt (may be negative). */
  ackAt: number | undefined;
  switchToAckMs: number | undefined;
  /** After the app host first learned Y's MAC (since secondSwitchAt): changes that named X's MAC again. */
  flapsBack: NeighbourEvent[];
  /** Every neighbour change since the second failover's first +switch-master. */
  neighbourSince: NeighbourEvent[];
  holdersAfter: string[];
  /** sentinel-hook only: X's run for X -> Y, from its start (Node up, config read) to the VIP removed; watch: from X's +switch-master to Y. */
  removedMs: number | undefined;
  /** Hook runs on X for the two events (sentinel-hook only), for the post-mortem. */
  xRuns: HookRun[];
}

export interface CycleOptions {
  /** `repeatAfter` of the hook's config, ms (the window in which the second failover must land). */
  repeatAfterMs: number;
  /** The hook writes its own log (sentinel-hook): the overlap is read from it; else from the kill times. */
  hookLogs: boolean;
  /** `sentinel-hook watch` acts instead of a hook: the burst, the overlap and the removal are read from X's watch log. */
  watchLogs?: boolean;
  log?: (line: string) => void;
}

function ipOf(lab: Lab, name: string): string {
  return lab.host(name).ip;
}

/**
 * One double failover from the current master `first`; leaves the lab healthy again with the
 * third host as master and the other two as its replicas, ready for the next cycle.
 */
export async function doubleFailover(
  lab: Lab,
  first: string,
  writer: Writer,
  neighbours: NeighbourMonitor,
  opts: CycleOptions,
): Promise<DoubleFailoverCycle> {
  const say = opts.log ?? (() => {});
  const killFirst = lab.killRedis(first);
  const second = await lab.waitNewMaster(first, { timeoutMs: 30_000 });
  say(`${first} killed; Sentinel promoted ${second}`);
  // Kill X as soon as its first burst is done (sentinel-hook says so in its log), or after a fixed
  // moment for a hook that logs nothing (the shell script's single burst is done by then).
  let firstBurstDoneAt: number | undefined;
  if (opts.watchLogs) {
    const done = await waitFor(
      `${second}'s watch, acting on ${first} -> ${second}, to finish its first ARP burst`,
      () =>
        lab
          .watchLog(second, killFirst)
          .find((e) => e.msg === 'step done' && /^send gratuitous ARP/.test(String(e.rec.step))),
      { timeoutMs: 20_000, intervalMs: 20 },
    );
    firstBurstDoneAt = done.at;
  } else if (opts.hookLogs) {
    const done = await waitFor(
      `${second}'s hook run for ${first} -> ${second} to finish its first ARP burst`,
      () =>
        lab
          .hookRuns(second, killFirst)
          .find((r) => r.event?.toIp === ipOf(lab, second))
          ?.steps.find((s) => s.ok && /^send gratuitous ARP/.test(s.step)),
      { timeoutMs: 20_000, intervalMs: 20 },
    );
    firstBurstDoneAt = done.at;
  } else {
    await writer.waitAck(`first failover to ${second}`, killFirst, { server: second, timeoutMs: 20_000 });
    await sleep(1500);
  }
  const killSecond = lab.killRedis(second);
  const third = await lab.waitNewMaster(second, { timeoutMs: 40_000 });
  say(
    `${second} killed ${firstBurstDoneAt ? `${killSecond - firstBurstDoneAt} ms after its first burst` : ''}; Sentinel promoted ${third}`,
  );
  const ack = await writer
    .waitAck(`second failover to ${third}`, killSecond, { server: third, timeoutMs: 20_000 })
    .catch(() => undefined);
  await lab.waitHooksIdle(40_000);
  await sleep(300);

  const switches = lab.switchMasterEvents(killSecond).filter((s) => s.fromIp === ipOf(lab, second));
  if (switches.length === 0)
    throw new Error(`no +switch-master from ${second} in any Sentinel log after it was killed`);
  const secondSwitchAt = Math.min(...switches.map((s) => s.at));
  const xMac = lab.host(second).mac.toLowerCase();
  const yMac = lab.host(third).mac.toLowerCase();
  const vip = lab.vipIp;
  const since = neighbours.events(vip).filter((e) => e.at >= secondSwitchAt);
  const learned = since.findIndex((e) => e.mac === yMac);
  const flapsBack = learned < 0 ? [] : since.slice(learned + 1).filter((e) => e.mac === xMac);

  const xRuns = opts.hookLogs ? lab.hookRuns(second, killFirst) : [];
  let overlapped: boolean;
  let overlapNote: string;
  let removedMs: number | undefined;
  if (opts.watchLogs) {
    const xLog = lab.watchLog(second, killSecond);
    const toThird = `${ipOf(lab, third)}:${REDIS_PORT}`;
    const event = xLog.find((e) => (e.msg === '+switch-master' || e.msg === '+promoted-slave') && e.rec.to === toThird);
    const removed = event
      ? xLog.find((e) => e.at >= event.at && e.msg === 'step done' && /^remove /.test(String(e.rec.step)))
      : undefined;
    const due = firstBurstDoneAt! + opts.repeatAfterMs;
    // The case under test: X's watch heard of X -> Y while its second burst for M -> X was still due.
    overlapped = event !== undefined && event.at < due;
    removedMs = event && removed ? removed.at - event.at : undefined;
    overlapNote = event
      ? `${second}'s watch heard ${second} -> ${third} ${due - event.at} ms before its second burst for ${first} -> ${second} was due; removed the VIP ${removedMs ?? '(never)'} ms later`
      : `${second}'s watch logged no +switch-master to ${third}`;
  } else if (opts.hookLogs) {
    const firstRun = xRuns.find((r) => r.event?.toIp === ipOf(lab, second));
    const secondRun = xRuns.find((r) => r.event?.toIp === ipOf(lab, third));
    const due = firstBurstDoneAt! + opts.repeatAfterMs;
    // The case under test: the earlier run was still going (its second burst pending) when the newer one started.
    overlapped =
      secondRun !== undefined &&
      secondRun.start < due &&
      (firstRun?.end === undefined || firstRun.end > secondRun.start);
    overlapNote = secondRun
      ? `${second}'s run for ${second} -> ${third} started ${due - secondRun.start} ms before its earlier run's second burst was due, ${firstRun?.end !== undefined ? `${firstRun.end - secondRun.start} ms before that run ended` : 'while it was still going'}`
      : `no hook run on ${second} for ${second} -> ${third}`;
  } else {
    // The shell script has no delayed work: nothing can overlap; the cycle still counts for the figures.
    overlapped = true;
    overlapNote = 'no delayed work in this hook';
  }

  if (!opts.watchLogs) {
    const secondRun = xRuns.find((r) => r.event?.toIp === ipOf(lab, third));
    const removed = secondRun?.steps.find((st) => st.ok && /^remove /.test(st.step));
    removedMs = secondRun && removed ? removed.at - secondRun.start : undefined;
  }
  const holdersAfter = await lab.holders();
  // Back to three healthy hosts: the two killed ones as replicas of the third.
  for (const name of [first, second]) lab.startRedis(name, { replicaOf: ipOf(lab, third) });
  for (const name of [first, second]) await lab.waitRedisReady(name, 'replica', 20_000);
  await lab.waitSentinelsAgree(third, { timeoutMs: 40_000, replicas: 2 });
  return {
    first,
    second,
    third,
    overlapped,
    overlapNote,
    secondSwitchAt,
    ackAt: ack?.at,
    switchToAckMs: ack ? ack.at - secondSwitchAt : undefined,
    flapsBack,
    neighbourSince: since,
    removedMs,
    holdersAfter,
    xRuns,
  };
}
