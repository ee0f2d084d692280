// `npm run bench:failover` (root): in the namespace lab, N failovers with sentinel-hook's vip action as
// every Sentinel's client-reconfig-script and N with the seed-000 shell script (bench/seed000-failover.sh),
// interleaved in the same run (two labs up side by side, one round on each in turn).
//
// Measured per failover: from the first `+switch-master` in any Sentinel log to the first write through
// the VIP acknowledged by the new master (a client on an app host opening a new connection every 10 ms).
// Also recorded, to explain the difference: when Sentinel forked the hook on the new master
// (`+script-child`, Sentinel loglevel debug), when the hook logged its start, when the address was added,
// and when Sentinel saw the hook exit.
//
// Options: --rounds N (default 5 per mode), --only sentinel-hook|seed-000 (one mode, for debugging; the
// comparison needs both), --json FILE (raw rounds), --keep (keep lab logs).
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ensureBuilt } from '../scripts/demo-support.ts';
import {
  DEFAULT_VIP,
  ensurePackages,
  isRoot,
  Lab,
  type LabHook,
  labSentinels,
  seedScriptHook,
  stats,
  vipHook,
  waitUntil,
} from '../test/lab/index.ts';

type Mode = 'sentinel-hook' | 'seed-000';

interface Round {
  mode: Mode;
  index: number;
  from: string;
  to: string;
  killAt: number;
  /** First +switch-master (to the new master) in any Sentinel log. */
  firstSwitchAt: number;
  /** The leader's +promoted-slave. */
  promotedAt: number | undefined;
  /** First acknowledged write through the VIP by the new master. */
  ackAt: number;
  /** ackAt - firstSwitchAt: the figure the issue asks for. */
  switchToAckMs: number;
  killToAckMs: number;
  newMasterHook: {
    /** Sentinel forked the hook (+script-child). */
    forkAt: number | undefined;
    /** The hook's own first log line (sentinel-hook: after Node start-up and config load). */
    startAt: number | undefined;
    /** The address was added (sentinel-hook: the step's log line; the shell script has none). */
    addedAt: number | undefined;
    endAt: number | undefined;
    /** Sentinel saw it exit (-script-child). */
    exitAt: number | undefined;
    exitCode: number | undefined;
  };
  holdersAfter: string[];
}

/** Sentinel's own record of its script children: +script-child <pid> at fork, -script-child <pid> <signal> <exit> at exit. */
function scriptChildren(
  lab: Lab,
  host: string,
  since: number,
): { forkAt: number; exitAt?: number; exitCode?: number }[] {
  const children = new Map<string, { forkAt: number; exitAt?: number; exitCode?: number }>();
  for (const e of lab.sentinelLog(host)) {
    if (e.at < since) continue;
    const [pid, a, b] = e.detail.split(' ');
    if (e.type === '+script-child' && pid) children.set(pid, { forkAt: e.at });
    if (e.type === '-script-child' && pid && children.has(pid))
      Object.assign(children.get(pid)!, { exitAt: e.at, exitCode: Number(b ?? a) });
  }
  return [...children.values()];
}

async function failover(lab: Lab, mode: Mode, index: number, from: string, log: (l: string) => void): Promise<Round> {
  const writer = lab.startWriter('a1', { durationMs: 45_000 });
  try {
    await writer.waitAck(`round ${index} (${mode}) before the kill`, 0, { server: from, timeoutMs: 10_000 });
    const killAt = lab.killRedis(from);
    const to = await lab.waitNewMaster(from, { timeoutMs: 30_000 });
    const ack = await writer.waitAck(`round ${index} (${mode}) after the failover`, killAt, {
      server: to,
      timeoutMs: 20_000,
    });
    await writer.stop();
    await lab.waitHooksIdle(20_000);
    // Sentinel notes a child's exit on its next timer tick, a little after the hook's own last line.
    await waitUntil(
      'Sentinel to reap every hook run',
      () => lab.redisHosts.every((h) => scriptChildren(lab, h.name, killAt).every((c) => c.exitAt !== undefined)),
      { timeoutMs: 5000, intervalMs: 50 },
    ).catch(() => undefined);
    const toIp = lab.host(to).ip;
    const switches = lab.switchMasterEvents(killAt).filter((e) => e.toIp === toIp);
    if (switches.length === 0)
      throw new Error(`round ${index} (${mode}): no +switch-master to ${to} in any Sentinel log`);
    const promoted = lab.redisHosts
      .flatMap((h) => lab.sentinelLog(h.name))
      .find((e) => e.at >= killAt && e.type === '+promoted-slave');
    const run = lab.hookRuns(to, killAt)[0];
    const child = scriptChildren(lab, to, killAt)[0];
    const added = run?.steps.find((s) => / add /.test(` ${s.step} `) || /^add/.test(s.step));
    const round: Round = {
      mode,
      index,
      from,
      to,
      killAt,
      firstSwitchAt: switches[0]!.at,
      promotedAt: promoted?.at,
      ackAt: ack.at,
      switchToAckMs: ack.at - switches[0]!.at,
      killToAckMs: ack.at - killAt,
      newMasterHook: {
        forkAt: child?.forkAt,
        startAt: run?.start,
        addedAt: added?.at,
        endAt: run?.end,
        exitAt: child?.exitAt,
        exitCode: child?.exitCode ?? run?.exitCode,
      },
      holdersAfter: await lab.holders(),
    };
    log(
      `  ${mode.padEnd(13)} #${index}: ${from} -> ${to}  switch->ack ${String(round.switchToAckMs).padStart(5)} ms   kill->ack ${round.killToAckMs} ms   ` +
        `hook on ${to}: fork ${rel(round.newMasterHook.forkAt, round.firstSwitchAt)}, start ${rel(round.newMasterHook.startAt, round.firstSwitchAt)}` +
        `${round.newMasterHook.addedAt ? `, added ${rel(round.newMasterHook.addedAt, round.firstSwitchAt)}` : ''} (relative to the first +switch-master); VIP now on ${round.holdersAfter.join(',')}`,
    );
    // Bring the old master back as a replica of the new one, so that the next round starts from 1 master + 2 replicas.
    lab.startRedis(from, { replicaOf: toIp });
    await lab.waitRedisReady(from, 'replica', 20_000);
    await lab.waitSentinelsAgree(to, { timeoutMs: 40_000, replicas: 2 });
    return round;
  } finally {
    if (writer.proc.exitedAt === undefined) await writer.stop().catch(() => undefined);
  }
}

function rel(at: number | undefined, origin: number): string {
  return at === undefined ? '?' : `${at - origin >= 0 ? '+' : ''}${at - origin} ms`;
}

function summary(rounds: Round[], mode: Mode): ReturnType<typeof stats> {
  return stats(rounds.filter((r) => r.mode === mode).map((r) => r.switchToAckMs));
}

function phase(rounds: Round[], mode: Mode, name: string, pick: (r: Round) => number | undefined): string {
  const values = rounds
    .filter((r) => r.mode === mode)
    .map(pick)
    .filter((v): v is number => v !== undefined && Number.isFinite(v));
  if (values.length === 0) return `    ${name.padEnd(46)} n/a`;
  const s = stats(values);
  return `    ${name.padEnd(46)} median ${String(s.median).padStart(6)} ms  (min ${s.min}, max ${s.max}, n=${s.n})`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '5' },
      json: { type: 'string' },
      only: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  });
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 50) {
    process.stderr.write('bench:failover: --rounds must be an integer from 1 to 50\n');
    return 2;
  }
  const modes: Mode[] =
    values.only === undefined
      ? ['sentinel-hook', 'seed-000']
      : values.only === 'sentinel-hook' || values.only === 'seed-000'
        ? [values.only]
        : [];
  if (modes.length === 0) {
    process.stderr.write('bench:failover: --only must be sentinel-hook or seed-000\n');
    return 2;
  }
  if (!isRoot()) {
    process.stderr.write(
      'bench:failover needs root (it builds network namespaces and installs sudoers rules): run it as root\n',
    );
    return 2;
  }
  const log = (line: string) => process.stdout.write(`${line}\n`);
  await ensurePackages(undefined, log);
  await ensureBuilt(log);
  const names: Record<Mode, string> = {
    'sentinel-hook': "sentinel-hook's vip action",
    'seed-000': 'bench/seed000-failover.sh',
  };
  log(
    `bench:failover: ${modes.map((m) => `${rounds} failovers with ${names[m]}`).join(' and ')}${modes.length > 1 ? ', interleaved' : ''}`,
  );
  const labs: Record<Mode, Lab | undefined> = { 'sentinel-hook': undefined, 'seed-000': undefined };
  const results: Round[] = [];
  try {
    if (modes.includes('sentinel-hook'))
      labs['sentinel-hook'] = await Lab.start({
        vip: DEFAULT_VIP,
        hook: benchHook(),
        sentinelLogLevel: 'debug',
        log,
        skipPackages: true,
      });
    if (modes.includes('seed-000'))
      labs['seed-000'] = await Lab.start({
        vip: DEFAULT_VIP,
        hook: seedScriptHook(),
        sentinelLogLevel: 'debug',
        log,
        skipPackages: true,
      });
    const master: Record<Mode, string> = { 'sentinel-hook': 'r1', 'seed-000': 'r1' };
    for (let i = 1; i <= rounds; i++) {
      for (const mode of modes) {
        const round = await failover(labs[mode]!, mode, i, master[mode], log);
        results.push(round);
        master[mode] = round.to;
      }
    }
  } finally {
    for (const lab of Object.values(labs)) lab?.teardownSync({ keepDir: values.keep });
    if (values.keep) for (const lab of Object.values(labs)) if (lab) log(`lab logs kept in ${lab.dir}`);
  }

  log('');
  log('time from the first +switch-master to the first write through the VIP acknowledged by the new master:');
  const hook = summary(results, 'sentinel-hook');
  const seed = summary(results, 'seed-000');
  for (const [name, s] of [
    ['sentinel-hook (vip action)', hook],
    ['seed-000 shell script', seed],
  ] as const) {
    if (s.n === 0) continue;
    log(
      `  ${name.padEnd(28)} median ${String(s.median).padStart(6)} ms   min ${String(s.min).padStart(6)} ms   max ${String(s.max).padStart(6)} ms   (n=${s.n})`,
    );
  }
  const diff = hook.median - seed.median;
  if (modes.length === 2)
    log(
      `  difference of medians: ${diff >= 0 ? '+' : ''}${diff} ms (target: at most +150 ms) -> ${diff <= 150 ? 'within target' : 'ABOVE TARGET'}`,
    );
  log('');
  log('where the time goes on the new master (medians, relative to the first +switch-master unless said):');
  for (const mode of modes) {
    log(`  ${mode}:`);
    log(phase(results, mode, 'Sentinel forks the hook', (r) => sub(r.newMasterHook.forkAt, r.firstSwitchAt)));
    log(
      phase(results, mode, 'fork -> hook logs its start', (r) => sub(r.newMasterHook.startAt, r.newMasterHook.forkAt)),
    );
    log(
      phase(results, mode, 'hook start -> address added', (r) => sub(r.newMasterHook.addedAt, r.newMasterHook.startAt)),
    );
    log(
      phase(results, mode, 'address added -> first acknowledged write', (r) => sub(r.ackAt, r.newMasterHook.addedAt)),
    );
    log(phase(results, mode, 'fork -> first acknowledged write', (r) => sub(r.ackAt, r.newMasterHook.forkAt)));
    log(
      phase(results, mode, 'whole hook run (fork -> exit)', (r) => sub(r.newMasterHook.exitAt, r.newMasterHook.forkAt)),
    );
    log(phase(results, mode, 'kill -> first acknowledged write', (r) => r.killToAckMs));
  }
  const bad = results.filter((r) => r.holdersAfter.length !== 1 || r.holdersAfter[0] !== r.to);
  if (bad.length)
    log(
      `WARNING: after ${bad.length} failover(s) the VIP was not on exactly the new master: ${bad.map((r) => `${r.mode}#${r.index}: ${r.holdersAfter.join(',')}`).join('; ')}`,
    );
  if (values.json) writeFileSync(values.json, `${JSON.stringify(results, null, 2)}\n`);
  return bad.length ? 1 : 0;
}

function sub(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined ? undefined : a - b;
}

process.exitCode = await main();

/**
 * The vip hook as benchmarked: BENCH_REANNOUNCE=1 adds Sentinel's notification-script and `sentinels`
 * (reannounce); BENCH_SENTINELS=1 only `sentinels` (the stale-event guard asks them on every run).
 */
function benchHook(): LabHook {
  if (process.env.BENCH_REANNOUNCE === '1') return vipHook({ reannounce: true });
  const hook = vipHook();
  if (process.env.BENCH_SENTINELS !== '1' || hook.kind !== 'sentinel-hook') return hook;
  return { ...hook, extraConfig: (_h, lab) => labSentinels(lab) };
}
