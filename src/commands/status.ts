import { accessSync, constants } from 'node:fs';
import type { HookConfig } from '../config/schema.ts';
import { COMMAND_EXIT, type CommandExitCode, errorLine, hookError } from '../errors.ts';
import type { PipelineDeps } from '../pipeline/deps.ts';
import { type MasterObservation, observeMaster } from '../pipeline/status.ts';
import type { SentinelAnswer } from '../sentinel/client.ts';
import { actedEpochWrittenAt, readActedEpoch } from '../state/epoch.ts';
import { type Heartbeat, heartbeatAlive, type LastRun, readHeartbeat, readLastRun } from '../state/last-run.ts';
import { pausedBecause } from '../state/pause.ts';
import { formatDuration } from '../values.ts';

/**
 * How a master stands, the monitoring-plugin way (Nagios, Icinga, Zabbix, Checkmk run `status` as is):
 * 0 OK, 1 WARNING (inconsistent within the grace period: a failover this host is still acting on),
 * 2 CRITICAL (inconsistent), 3 UNKNOWN (no clear answer from the Sentinels, or a part this user cannot see).
 */
export type Verdict = 'consistent' | 'within-grace' | 'inconsistent' | 'unknown';

const VERDICT_EXIT: Record<Verdict, CommandExitCode> = {
  consistent: COMMAND_EXIT.ok,
  'within-grace': COMMAND_EXIT.retry,
  inconsistent: COMMAND_EXIT.never,
  unknown: COMMAND_EXIT.unknown,
};

/** What this host's own records say about a master and about watch. */
export interface Records {
  paused?: string;
  heartbeat?: Heartbeat;
  lastRun?: LastRun;
  /** The epoch this host last acted on, and when that record was last written (ms since the epoch). */
  acted?: { epoch: number; ip: string; port: number; writtenAt?: number };
  /** Directories of records this user may not read (a monitoring agent): what they hold is unknown, not absent. */
  unreadable?: string[];
}

function unreadable(dir: string): string | undefined {
  try {
    accessSync(dir, constants.R_OK | constants.X_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? undefined : `${dir} (${code ?? (err as Error).message})`;
  }
}

export interface MasterStatus {
  master: string;
  verdict: Verdict;
  exitCode: CommandExitCode;
  /** What to run about it, when something can be run. */
  fix?: string;
  observation: MasterObservation;
  records: Records;
}

export function readRecords(config: HookConfig, master: string): Records {
  const acted = readActedEpoch(config.stateDir, master);
  const writtenAt = actedEpochWrittenAt(config.stateDir, master);
  const paused = pausedBecause(config.stateDir);
  const heartbeat = readHeartbeat(config.lockDir);
  const lastRun = readLastRun(config.stateDir, master);
  const hidden = [...new Set([config.stateDir, config.lockDir])].flatMap((d) => unreadable(d) ?? []);
  return {
    ...(hidden.length ? { unreadable: hidden } : {}),
    ...(paused ? { paused } : {}),
    ...(heartbeat ? { heartbeat } : {}),
    ...(lastRun ? { lastRun } : {}),
    ...(acted
      ? { acted: { epoch: acted.epoch, ip: acted.ip, port: acted.port, ...(writtenAt ? { writtenAt } : {}) } }
      : {}),
  };
}

/**
 * Is the Sentinels' newest epoch (`current`) younger than the grace period, by this host's records? Each
 * record is written only while its epoch is current: one for an older epoch written less than `graceMs`
 * ago means the newer one appeared since; a run for this very epoch that ended that recently means a
 * failover this host is still acting on (Sentinel retries it, watch reconciles it).
 */
export function withinGrace(current: number, records: Records, nowMs: number, graceMs: number): boolean {
  const recent = (at: number | undefined) => at !== undefined && !Number.isNaN(at) && nowMs - at < graceMs;
  if (records.acted && records.acted.epoch < current && recent(records.acted.writtenAt)) return true;
  const ran = records.lastRun?.master?.epoch;
  return ran !== undefined && ran <= current && recent(Date.parse(records.lastRun!.at));
}

/** One master's verdict from what was observed and this host's records. */
export function judgeMaster(
  observation: MasterObservation,
  records: Records,
  nowMs: number,
  graceMs: number,
): MasterStatus {
  const parts = observation.actions.flatMap((a) => a.parts);
  const decision = observation.decision;
  const reconcile = `sentinel-hook reconcile --master ${observation.master}`;
  const fix = records.paused ? `paused (${records.paused}): sentinel-hook resume, then ${reconcile}` : reconcile;
  let verdict: Verdict;
  if (!decision?.clear) verdict = 'unknown';
  else if (parts.some((p) => p.state === 'inconsistent'))
    verdict = withinGrace(decision.state.epoch, records, nowMs, graceMs) ? 'within-grace' : 'inconsistent';
  else verdict = parts.some((p) => p.state === 'unknown') ? 'unknown' : 'consistent';
  return {
    master: observation.master,
    verdict,
    exitCode: VERDICT_EXIT[verdict],
    ...(verdict === 'inconsistent' || verdict === 'within-grace' ? { fix } : {}),
    observation,
    records,
  };
}

/** The worst first, the monitoring way: CRITICAL, then WARNING, then UNKNOWN, then OK. */
export function statusExitCode(masters: readonly MasterStatus[]): CommandExitCode {
  for (const v of ['inconsistent', 'within-grace', 'unknown'] as const)
    if (masters.some((m) => m.verdict === v)) return VERDICT_EXIT[v];
  return COMMAND_EXIT.ok;
}

const LABEL: Record<Verdict, string> = {
  consistent: 'OK',
  'within-grace': 'WARNING',
  inconsistent: 'CRITICAL',
  unknown: 'UNKNOWN',
};

function ago(at: string | number | undefined, nowMs: number): string {
  const ms = typeof at === 'string' ? Date.parse(at) : at;
  if (ms === undefined || Number.isNaN(ms)) return 'unknown';
  return `${formatDuration(Math.max(0, Math.round((nowMs - ms) / 1000)) * 1000)} ago`;
}

function answerCell(a: SentinelAnswer): string {
  if ('master' in a)
    return `${a.master.ip}:${a.master.port}${a.epoch !== undefined ? ` epoch ${a.epoch}` : ''}${a.foreign ? ' (another deployment: not counted)' : ''}${a.noperm?.length ? ` (refused ${a.noperm.map((n) => n.command).join(', ')})` : ''}`;
  return a.error;
}

/** watch, from its heartbeat: alive when the record is younger than three of its intervals. */
export function watchLine(beat: Heartbeat | undefined, nowMs: number): { alive: boolean | undefined; line: string } {
  if (!beat) return { alive: undefined, line: 'not running here (no heartbeat record)' };
  const alive = heartbeatAlive(beat, nowMs);
  const last = beat.lastReconcile ? `, last reconcile ${ago(beat.lastReconcile.at, nowMs)}` : '';
  return {
    alive,
    line: `${alive ? 'alive' : 'NOT ALIVE'} (pid ${beat.pid}, heartbeat ${ago(beat.at, nowMs)}${last})`,
  };
}

function lastRunLine(r: LastRun | undefined, nowMs: number): string {
  if (!r) return 'none recorded';
  const epoch = r.master?.epoch !== undefined ? `, config epoch ${r.master.epoch}` : '';
  return `${r.at} (${ago(r.at, nowMs)}): ${r.intent} ${r.outcome}, exit ${r.exitCode}${epoch}${r.reason ? ` - ${r.reason}` : ''}`;
}

/** Columns padded to their widest cell; the last column is left as it is. */
function table(rows: readonly string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

export function statusText(masters: readonly MasterStatus[], nowMs: number): string {
  const lines: string[] = [];
  for (const m of masters) {
    const o = m.observation;
    const d = o.decision;
    const said = d?.clear
      ? `master ${d.state.ip}:${d.state.port}, config epoch ${d.state.epoch}, ${o.holder === 'this-host' ? 'this host' : 'another host'}`
      : (o.sentinelsUnknown ?? d?.reason ?? 'no answer');
    lines.push(`${m.master}: ${LABEL[m.verdict]} ${m.verdict} (${said})${m.fix ? ` - run: ${m.fix}` : ''}`);
    const rows: string[][] = [['', 'PART', 'STATE', 'SEEN']];
    for (const a of o.answers)
      rows.push([
        'master' in a ? '' : '?',
        `sentinel ${a.address}`,
        'master' in a ? 'answered' : 'refused' in a ? 'refused' : 'no answer',
        answerCell(a),
      ]);
    for (const a of o.actions)
      for (const p of a.parts)
        rows.push([
          p.state === 'inconsistent' ? '!' : p.state === 'unknown' ? '?' : '',
          `${a.action} ${p.what}`,
          p.state,
          p.seen,
        ]);
    const hidden = m.records.unreadable?.length ? `cannot read ${m.records.unreadable.join(', ')}` : undefined;
    rows.push(
      hidden && !m.records.paused
        ? ['?', 'paused', 'unknown', hidden]
        : ['', 'paused', m.records.paused ? 'yes' : 'no', m.records.paused ?? ''],
    );
    const watch = watchLine(m.records.heartbeat, nowMs);
    rows.push(
      hidden && !m.records.heartbeat
        ? ['?', 'watch', 'unknown', hidden]
        : ['', 'watch', watch.alive === undefined ? 'absent' : watch.alive ? 'alive' : 'stopped', watch.line],
    );
    rows.push(['', 'last run', '', hidden && !m.records.lastRun ? hidden : lastRunLine(m.records.lastRun, nowMs)]);
    lines.push(...table(rows).map((l) => `  ${l}`));
  }
  return lines.join('\n');
}

export function statusJson(masters: readonly MasterStatus[], exitCode: CommandExitCode, nowMs: number): unknown {
  return {
    exitCode,
    status: LABEL[masters.find((m) => m.exitCode === exitCode)?.verdict ?? 'consistent'],
    masters: masters.map((m) => ({
      master: m.master,
      verdict: m.verdict,
      exitCode: m.exitCode,
      ...(m.fix ? { fix: m.fix } : {}),
      state: m.observation.decision?.clear ? m.observation.decision.state : undefined,
      holder: m.observation.holder,
      reason:
        m.observation.sentinelsUnknown ??
        (m.observation.decision && !m.observation.decision.clear ? m.observation.decision.reason : undefined),
      sentinels: m.observation.answers,
      actions: m.observation.actions,
      paused: m.records.paused ?? null,
      watch: { ...watchLine(m.records.heartbeat, nowMs), heartbeat: m.records.heartbeat ?? null },
      lastRun: m.records.lastRun ?? null,
      acted: m.records.acted ?? null,
      ...(m.records.unreadable ? { unreadable: m.records.unreadable } : {}),
    })),
  };
}

export interface StatusOptions {
  master?: string;
  graceMs: number;
}

/**
 * `sentinel-hook status`: per master, what the Sentinels say, what each action observes now and whether
 * it matches, and this host's records (pause, watch, last run). Read-only: no lock, no record, no step.
 */
export async function statusCommand(
  config: HookConfig,
  deps: PipelineDeps,
  opts: StatusOptions,
  now: () => number = Date.now,
): Promise<{ exitCode: CommandExitCode; text: string; json: unknown }> {
  const names = Object.keys(config.masters);
  const masters = opts.master === undefined ? names : names.filter((n) => n === opts.master);
  if (masters.length === 0) throw hookError('master-not-in-config', { master: opts.master, known: names });
  const signal = AbortSignal.timeout(config.deadline);
  const judged = await Promise.all(
    masters.map(async (master) => {
      const observation = await observeMaster(master, config, deps, signal).catch(
        (err: unknown): MasterObservation => ({
          master,
          answers: [],
          sentinelsUnknown: errorLine(err),
          actions: [],
        }),
      );
      return judgeMaster(observation, readRecords(config, master), now(), opts.graceMs);
    }),
  );
  const exitCode = statusExitCode(judged);
  const nowMs = now();
  return {
    exitCode,
    text: `${statusText(judged, nowMs)}\n${LABEL[judged.find((m) => m.exitCode === exitCode)?.verdict ?? 'consistent']}: exit ${exitCode}`,
    json: statusJson(judged, exitCode, nowMs),
  };
}
