// Each master's gauges, as one run leaves them: watch serves them (src/watch/metrics.ts), the hook (no
// daemon) writes them for node_exporter's textfile collector. No client library here: this runs on the
// failover path, and a handful of gauges in the text format is a few lines.
import { join } from 'node:path';
import { writeSmallFile } from '../state/files.ts';
import type { LastRun } from '../state/last-run.ts';
import type { RunResult } from './run.ts';

export interface MasterGauges {
  /** 1 when the run left this host as the Sentinels say (or found it so), 0 when it could not. */
  consistent?: 0 | 1;
  /** 1 when this host should hold what the master's holder holds (its VIP) and the run left it so. */
  vipHeld?: 0 | 1;
  /** The config epoch of the master the run acted for. */
  epoch?: number;
  /** From the last-run record (a run that changed something or failed). */
  lastRunSeconds?: number;
  lastRunSuccess?: 0 | 1;
}

/** What `result` says of the master now; a field it cannot tell (a superseded run) stays as `previous` had it. */
export function gaugesAfter(result: RunResult, previous: MasterGauges = {}): MasterGauges {
  const outcome = result.converged?.outcome ?? result.outcome;
  const pending = result.paused !== undefined && result.plans.some((p) => p.steps.length > 0);
  const consistent: 0 | 1 | undefined =
    outcome === 'superseded' || (outcome === 'dry-run' && result.paused === undefined)
      ? previous.consistent
      : pending ||
          result.exitCode !== 0 ||
          outcome === 'failed' ||
          outcome === 'unsure' ||
          outcome === 'older-epoch' ||
          outcome === 'stale'
        ? 0
        : 1;
  const next: MasterGauges = { ...previous };
  if (consistent !== undefined) next.consistent = consistent;
  // Held or not is known only from a run that left the host as decided.
  if (consistent === 1 && result.holder) next.vipHeld = result.holder === 'this-host' ? 1 : 0;
  const epoch = (result.converged?.state ?? result.state)?.epoch;
  if (epoch !== undefined) next.epoch = epoch;
  return next;
}

export function withLastRun(gauges: MasterGauges, record: LastRun | undefined): MasterGauges {
  if (!record) return gauges;
  const at = Date.parse(record.at);
  return {
    ...gauges,
    ...(Number.isFinite(at) ? { lastRunSeconds: at / 1000 } : {}),
    lastRunSuccess: record.exitCode === 0 ? 1 : 0,
  };
}

/** Name, help text and the field of MasterGauges each per-master gauge shows; watch registers the same. */
export const MASTER_GAUGES = [
  [
    'sentinel_hook_consistent',
    'Whether the last run left this host as the Sentinels say (1) or not (0).',
    'consistent',
  ],
  [
    'sentinel_hook_vip_held',
    "Whether this host holds the master's VIP (what its holder holds), as of the last run.",
    'vipHeld',
  ],
  ['sentinel_hook_master_epoch', 'Config epoch of the master the last run acted for.', 'epoch'],
  [
    'sentinel_hook_last_run_timestamp_seconds',
    'When the last run that changed something or failed ended.',
    'lastRunSeconds',
  ],
  ['sentinel_hook_last_run_success', 'Whether that run succeeded (1) or failed (0).', 'lastRunSuccess'],
] as const satisfies readonly (readonly [string, string, keyof MasterGauges])[];

/** A label value in the text format: backslash, quote and newline escaped. */
function labelValue(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** The Prometheus text format of these masters' gauges. */
export function gaugeText(masters: ReadonlyMap<string, MasterGauges>): string {
  const lines: string[] = [];
  for (const [name, help, field] of MASTER_GAUGES) {
    const samples = [...masters].filter(([, g]) => g[field] !== undefined);
    if (samples.length === 0) continue;
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const [master, g] of samples) lines.push(`${name}{master="${labelValue(master)}"} ${g[field]}`);
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/**
 * One file per master, sentinel_hook_<master>.prom, replaced by rename (the collector never reads half a
 * file; it ignores the temporary name). One per master: the hook runs per master, and several may run at once.
 */
export function textfilePath(dir: string, master: string): string {
  return join(dir, `sentinel_hook_${encodeURIComponent(master).replace(/%/g, '_')}.prom`);
}

/** What the textfile for `master` holds now, read back (so a superseded run keeps what the previous one said). */
export function readTextfile(dir: string, master: string, read: (path: string) => string | undefined): MasterGauges {
  const text = read(textfilePath(dir, master)) ?? '';
  const gauges: MasterGauges = {};
  for (const [name, , field] of MASTER_GAUGES) {
    const m = new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text);
    if (m) (gauges as Record<string, number>)[field] = Number(m[1]);
  }
  return gauges;
}

export function writeTextfile(dir: string, master: string, gauges: MasterGauges): void {
  writeSmallFile(textfilePath(dir, master), gaugeText(new Map([[master, gauges]])));
}
