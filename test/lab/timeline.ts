import type { Lab } from './lab.ts';
import type { Writer } from './writer.ts';

export interface TimelineEntry {
  at: number;
  /** Lab host the entry happened on (or "lab" for the lab's own actions). */
  host: string;
  what: string;
}

/** Sentinel events worth showing in a failover timeline. */
const SENTINEL_EVENTS = new Set([
  '+sdown',
  '+odown',
  '+elected-leader',
  '+selected-slave',
  '+promoted-slave',
  '+switch-master',
  '+config-update-from',
  '-script-error',
  '+script-child',
  '-script-child',
  '+convert-to-slave',
]);

/**
 * Everything that happened since `since`, oldest first: the lab's own marks (`marks`), each Sentinel's
 * events of note, each hook run's start, steps and end (from the hook logs), and the writer's first
 * acknowledged write after `since` (by `ackServer` when given), with the server that acknowledged it.
 */
export function timeline(
  lab: Lab,
  since: number,
  opts: { marks?: TimelineEntry[]; writer?: Writer; ackServer?: string; until?: number } = {},
): TimelineEntry[] {
  const until = opts.until ?? Number.MAX_SAFE_INTEGER;
  const entries: TimelineEntry[] = [...(opts.marks ?? [])];
  for (const host of lab.redisHosts) {
    for (const e of lab.sentinelLog(host.name)) {
      if (e.at < since || e.at > until || !e.type || !SENTINEL_EVENTS.has(e.type)) continue;
      if (e.type === '+sdown' && !e.detail.startsWith('master')) continue;
      entries.push({ at: e.at, host: host.name, what: `sentinel ${e.type} ${e.detail}` });
    }
    for (const r of lab.hookRuns(host.name, since)) {
      if (r.start > until) continue;
      const ev = r.event ? `${r.event.role} ${r.event.fromIp} -> ${r.event.toIp}` : '';
      entries.push({ at: r.start, host: host.name, what: `hook start (${ev})` });
      for (const s of r.steps)
        entries.push({
          at: s.at,
          host: host.name,
          what: `  step ${s.ok ? 'done' : 'FAILED'}: ${s.step}${s.ms !== undefined ? ` (${s.ms} ms)` : ''}`,
        });
      if (r.end !== undefined)
        entries.push({
          at: r.end,
          host: host.name,
          what: `hook end: exit ${r.exitCode} ${r.outcome ?? ''}${r.ms !== undefined ? ` (${r.ms} ms)` : ''}`,
        });
    }
  }
  if (opts.writer) {
    const ack = opts.writer.firstAck(since, opts.ackServer);
    if (ack)
      entries.push({
        at: ack.at,
        host: ack.server ?? '?',
        what: `first write through ${opts.writer.options.host} acknowledged (by ${ack.server})`,
      });
  }
  return entries.sort((a, b) => a.at - b.at);
}

export function printTimeline(
  entries: readonly TimelineEntry[],
  origin: number,
  print: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): void {
  for (const e of entries) {
    const rel = e.at - origin;
    const stamp = new Date(e.at).toISOString().slice(11, 23);
    print(`${stamp}  ${`${rel >= 0 ? '+' : ''}${rel} ms`.padStart(9)}  ${e.host.padEnd(4)} ${e.what}`);
  }
}
