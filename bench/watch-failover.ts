// `npm run bench:watch` (root): in the namespace lab, N crash failovers (the master's redis-server
// killed) for each of three ways to move the VIP, interleaved in the same run (three labs up side by
// side, one round on each in turn):
//   watch     `sentinel-hook watch` on every Redis host (no client-reconfig-script), as redis with
//             CAP_NET_ADMIN and CAP_NET_RAW: no process start, no sudo on the failover path;
//   hook      sentinel-hook's vip action as every Sentinel's client-reconfig-script (vipHook: sudo);
//   seed-000  the users' shell script (bench/seed000-failover.sh) as the hook (sudo).
//
// Measured per failover: from the first `+switch-master` in any Sentinel log to the first write through
// the VIP acknowledged by the new master (a client on an app host opening a new connection every 10 ms).
// Negative: the VIP answered before any Sentinel logged +switch-master (the leader runs its hook at
// +promoted-slave; when the leader sits on the new master's host, the hook there runs first).
// Per run also: which Sentinel led (its +promoted-slave), whether it sat on the new master's host, and
// on the new master when its mover acted (watch: the +switch-master it heard, the VIP added; hook: its
// start and the VIP added; seed-000: its start), relative to the first +switch-master.
//
// Options: --rounds N (default 5 per mode), --only watch|hook|seed-000 (repeatable as a comma list),
// --json FILE (raw rounds), --keep (keep lab logs).
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ensureBuilt } from '../scripts/demo-support.ts';
import {
  DEFAULT_VIP,
  ensurePackages,
  isRoot,
  Lab,
  type LabHook,
  type LabOptions,
  seedScriptHook,
  stats,
  vipHook,
  watchHook,
} from '../test/lab/index.ts';

const MODES = ['watch', 'hook', 'seed-000'] as const;
type Mode = (typeof MODES)[number];
const PRIVILEGE: Record<Mode, string> = { watch: 'capabilities', hook: 'sudo', 'seed-000': 'sudo' };
/** watch's reconcile interval here: the default; the failover path does not depend on it. */
const WATCH_INTERVAL_MS = 10_000;

interface Round {
  mode: Mode;
  index: number;
  from: string;
  to: string;
  privilege: string;
  killAt: number;
  firstSwitchAt: number;
  /** The Sentinel that ran the failover (its log has +promoted-slave) and its +promoted-slave. */
  leader: string | undefined;
  promotedAt: number | undefined;
  leaderOnNewMaster: boolean;
  ackAt: number;
  /** ackAt - firstSwitchAt: the figure the issue asks for. */
  switchToAckMs: number;
  killToAckMs: number;
  /** On the new master, relative to firstSwitchAt: when its mover heard of the failover (watch) or started (hook, script), and added the VIP. */
  heardAt: number | undefined;
  addedAt: number | undefined;
  holdersAfter: string[];
}

function labOptions(mode: Mode, log: (l: string) => void): LabOptions {
  const hook: Record<Mode, LabHook> = { watch: watchHook(), hook: vipHook(), 'seed-000': seedScriptHook() };
  return {
    vip: DEFAULT_VIP,
    hook: hook[mode],
    ...(mode === 'watch' ? { watch: { intervalMs: WATCH_INTERVAL_MS } } : {}),
    log,
    skipPackages: true,
  };
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
    const toIp = lab.host(to).ip;
    const switches = lab.switchMasterEvents(killAt).filter((e) => e.toIp === toIp);
    if (switches.length === 0)
      throw new Error(`round ${index} (${mode}): no +switch-master to ${to} in any Sentinel log`);
    const firstSwitchAt = switches[0]!.at;
    const promoted = lab.redisHosts.flatMap((h) =>
      lab
        .sentinelLog(h.name)
        .filter((e) => e.at >= killAt && e.type === '+promoted-slave')
        .map((e) => ({ host: h.name, at: e.at })),
    )[0];
    let heard: number | undefined;
    let added: number | undefined;
    if (mode === 'watch') {
      const entries = lab.watchLog(to, killAt);
      // The leader's +promoted-slave or a +switch-master, whichever reached it first (the other is a duplicate).
      heard = entries.find((e) => e.msg === '+switch-master' || e.msg === '+promoted-slave')?.at;
      added = entries.find((e) => e.msg === 'step done' && /^add /.test(String(e.rec.step)))?.at;
    } else {
      const run = lab.hookRuns(to, killAt)[0];
      heard = run?.start;
      added = run?.steps.find((s) => /^add /.test(s.step))?.at;
    }
    const round: Round = {
      mode,
      index,
      from,
      to,
      privilege: PRIVILEGE[mode],
      killAt,
      firstSwitchAt,
      leader: promoted?.host,
      promotedAt: promoted?.at,
      leaderOnNewMaster: promoted?.host === to,
      ackAt: ack.at,
      switchToAckMs: ack.at - firstSwitchAt,
      killToAckMs: ack.at - killAt,
      heardAt: heard === undefined ? undefined : heard - firstSwitchAt,
      addedAt: added === undefined ? undefined : added - firstSwitchAt,
      holdersAfter: await lab.holders(),
    };
    log(`  ${row(round)}`);
    // The old master back as a replica of the new one: the next round starts from 1 master + 2 replicas.
    lab.startRedis(from, { replicaOf: toIp });
    await lab.waitRedisReady(from, 'replica', 20_000);
    await lab.waitSentinelsAgree(to, { timeoutMs: 40_000, replicas: 2 });
    return round;
  } finally {
    if (writer.proc.exitedAt === undefined) await writer.stop().catch(() => undefined);
  }
}

const HEADER = `${'mode'.padEnd(9)} ${'#'.padStart(2)}  ${'from->to'.padEnd(8)}  ${'privilege'.padEnd(12)}  ${'leader'.padEnd(6)}  ${'on new'.padEnd(6)}  ${'switch->ack'.padStart(11)}  ${'kill->ack'.padStart(9)}  ${'promoted'.padStart(8)}  ${'heard/start'.padStart(11)}  ${'VIP added'.padStart(9)}  holders`;

function rel(v: number | undefined): string {
  return v === undefined ? '?' : `${v >= 0 ? '+' : ''}${v}`;
}

function row(r: Round): string {
  return `${r.mode.padEnd(9)} ${String(r.index).padStart(2)}  ${`${r.from}->${r.to}`.padEnd(8)}  ${r.privilege.padEnd(12)}  ${(r.leader ?? '?').padEnd(6)}  ${(r.leaderOnNewMaster ? 'yes' : 'no').padEnd(6)}  ${String(r.switchToAckMs).padStart(11)}  ${String(r.killToAckMs).padStart(9)}  ${rel(r.promotedAt === undefined ? undefined : r.promotedAt - r.firstSwitchAt).padStart(8)}  ${rel(r.heardAt).padStart(11)}  ${rel(r.addedAt).padStart(9)}  ${r.holdersAfter.join(',')}`;
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
    process.stderr.write('bench:watch: --rounds must be an integer from 1 to 50\n');
    return 2;
  }
  const modes = (values.only?.split(',') ?? [...MODES]) as Mode[];
  if (modes.length === 0 || modes.some((m) => !MODES.includes(m))) {
    process.stderr.write(`bench:watch: --only takes ${MODES.join(', ')} (a comma list)\n`);
    return 2;
  }
  if (!isRoot()) {
    process.stderr.write(
      'bench:watch needs root (it builds network namespaces and installs sudoers rules): run it as root\n',
    );
    return 2;
  }
  const log = (line: string) => process.stdout.write(`${line}\n`);
  await ensurePackages(undefined, log);
  await ensureBuilt(log);
  log(`bench:watch: ${rounds} crash failovers each with ${modes.join(', ')}, interleaved`);
  const labs = new Map<Mode, Lab>();
  const results: Round[] = [];
  try {
    for (const mode of modes) labs.set(mode, await Lab.start(labOptions(mode, log)));
    const master = new Map<Mode, string>(modes.map((m) => [m, 'r1']));
    log(`  ${HEADER}`);
    for (let i = 1; i <= rounds; i++) {
      for (const mode of modes) {
        const round = await failover(labs.get(mode)!, mode, i, master.get(mode)!, log);
        results.push(round);
        master.set(mode, round.to);
      }
    }
  } finally {
    for (const lab of labs.values()) lab.teardownSync({ keepDir: values.keep });
    if (values.keep) for (const lab of labs.values()) log(`lab logs kept in ${lab.dir}`);
  }

  log('');
  log('per run (ms; promoted, heard/start and VIP added relative to the first +switch-master in any Sentinel log):');
  log(`  ${HEADER}`);
  for (const mode of modes) for (const r of results.filter((x) => x.mode === mode)) log(`  ${row(r)}`);
  log('');
  log('first +switch-master -> first write through the VIP acknowledged by the new master:');
  const summary = new Map(
    modes.map((m) => [m, stats(results.filter((r) => r.mode === m).map((r) => r.switchToAckMs))]),
  );
  for (const [mode, s] of summary) {
    const split = (on: boolean) =>
      results.filter((r) => r.mode === mode && r.leaderOnNewMaster === on).map((r) => r.switchToAckMs);
    const on = split(true);
    const off = split(false);
    log(
      `  ${mode.padEnd(9)} (${PRIVILEGE[mode].padEnd(12)}) median ${String(s.median).padStart(6)}  min ${String(s.min).padStart(6)}  max ${String(s.max).padStart(6)}  (n=${s.n}; leader on the new master: ${on.length ? `median ${stats(on).median} (n=${on.length})` : 'never'}, elsewhere: ${off.length ? `median ${stats(off).median} (n=${off.length})` : 'never'})`,
    );
  }
  const watch = summary.get('watch');
  const seed = summary.get('seed-000');
  if (watch && seed)
    log(
      `  target: watch median at most half the shell script's: ${watch.median} vs ${seed.median / 2} -> ${watch.median <= seed.median / 2 ? 'met' : 'NOT MET'}`,
    );
  const bad = results.filter((r) => r.holdersAfter.length !== 1 || r.holdersAfter[0] !== r.to);
  if (bad.length)
    log(
      `WARNING: after ${bad.length} failover(s) the VIP was not on exactly the new master: ${bad.map((r) => `${r.mode}#${r.index}: ${r.holdersAfter.join(',')}`).join('; ')}`,
    );
  if (values.json) writeFileSync(values.json, `${JSON.stringify(results, null, 2)}\n`);
  return bad.length ? 1 : 0;
}

process.exitCode = await main();
