// `npm run bench:double-failover` (root): the double-failover scenario (test/lab/double-failover.ts) N
// times with sentinel-hook's vip action as every Sentinel's client-reconfig-script and N times with the
// seed-000 shell script, two labs side by side, one cycle on each in turn.
//
// Measured per cycle: from the second failover's first `+switch-master` in any Sentinel log to the
// first write through the VIP acknowledged by the last master (a client on an app host opening a new
// connection every 10 ms); whether the app host's neighbour entry went back to the old holder after it
// had learned the new one. Both hooks run their commands with sudo -n (the generated drop-in, resp. the
// exact lines the seed script runs). sentinel-hook's `repeatAfter` is 8 s, so that its second burst is
// still pending when the second failover lands (the case under test; each cycle says whether it was).
//
// Options: --cycles N (default 5 per hook), --json FILE (raw cycles).
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ensureBuilt } from '../scripts/demo-support.ts';
import {
  DEFAULT_VIP,
  type DoubleFailoverCycle,
  doubleFailover,
  ensurePackages,
  isRoot,
  Lab,
  NeighbourMonitor,
  seedScriptHook,
  stats,
  vipHook,
} from '../test/lab/index.ts';

const REPEAT_AFTER_MS = 8000;
type Mode = 'sentinel-hook' | 'seed-000';

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { cycles: { type: 'string', default: '5' }, json: { type: 'string' } } });
  const cycles = Number(values.cycles);
  if (!Number.isInteger(cycles) || cycles < 1 || cycles > 50) throw new Error('--cycles takes 1 to 50');
  if (!isRoot()) throw new Error('bench:double-failover needs root (network namespaces, sudoers)');
  const log = (l: string) => process.stdout.write(`${l}\n`);
  await ensurePackages(undefined, log);
  await ensureBuilt(log);
  const modes: Mode[] = ['sentinel-hook', 'seed-000'];
  const labs = new Map<
    Mode,
    { lab: Lab; master: string; writer: ReturnType<Lab['startWriter']>; neighbours: NeighbourMonitor }
  >();
  const results: (DoubleFailoverCycle & { mode: Mode; index: number })[] = [];
  try {
    for (const mode of modes) {
      const hook =
        mode === 'sentinel-hook' ? vipHook({ arp: { repeatAfter: `${REPEAT_AFTER_MS}ms` } }) : seedScriptHook();
      const lab = await Lab.start({ vip: DEFAULT_VIP, hook, failoverTimeoutMs: 3000, log, skipPackages: true });
      const writer = lab.startWriter('a1', { durationMs: 30 * 60_000 });
      const neighbours = NeighbourMonitor.start(lab, 'a1');
      await writer.waitAck(`${mode}: precondition`, 0, { server: 'r1', timeoutMs: 10_000 });
      labs.set(mode, { lab, master: 'r1', writer, neighbours });
    }
    for (let index = 1; index <= cycles; index++) {
      for (const mode of modes) {
        const l = labs.get(mode)!;
        const c = await doubleFailover(l.lab, l.master, l.writer, l.neighbours, {
          repeatAfterMs: REPEAT_AFTER_MS,
          hookLogs: mode === 'sentinel-hook',
          log: (m) => log(`${mode} #${index}: ${m}`),
        });
        l.master = c.third;
        results.push({ ...c, mode, index });
        log(
          `${mode} #${index}: ${c.first} -> ${c.second} -> ${c.third}: second +switch-master -> first ack ${c.switchToAckMs ?? 'none'} ms; ` +
            `neighbour flaps back to ${c.second}: ${c.flapsBack.length}; VIP on ${c.holdersAfter.join(',') || 'nobody'}; ${c.overlapNote}`,
        );
      }
    }
  } finally {
    for (const { lab, writer } of labs.values()) {
      await writer.stop().catch(() => undefined);
      lab.teardownSync();
    }
  }
  log(
    '\nsecond failover: first +switch-master -> first write acknowledged by the new master (privilege: sudo -n for both)',
  );
  for (const mode of modes) {
    const mine = results.filter((r) => r.mode === mode);
    const ms = mine.flatMap((r) => (r.switchToAckMs === undefined ? [] : [r.switchToAckMs]));
    const s = stats(ms);
    const wrong = mine.filter((r) => r.holdersAfter.length !== 1 || r.holdersAfter[0] !== r.third).length;
    const flaps = mine.filter((r) => r.flapsBack.length > 0).length;
    const removed = mine.flatMap((r) => (r.removedMs === undefined ? [] : [r.removedMs]));
    if (removed.length) {
      const rs = stats(removed);
      log(
        `  ${mode}: the old holder's newer run, start -> VIP removed: median ${rs.median} ms, min ${rs.min}, max ${rs.max} (n=${rs.n})`,
      );
    }
    log(
      `  ${mode.padEnd(14)} n=${s.n}  median ${s.median} ms  min ${s.min}  max ${s.max}  (no ack: ${mine.length - ms.length}; flapped back: ${flaps}; VIP not on exactly the new master: ${wrong}; overlapped: ${mine.filter((r) => r.overlapped).length})`,
    );
  }
  if (values.json)
    writeFileSync(
      values.json,
      `${JSON.stringify(
        results.map(({ xRuns: _x, neighbourSince: _n, ...r }) => r),
        null,
        2,
      )}\n`,
    );
  return 0;
}

process.exitCode = await main();
