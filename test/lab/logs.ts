import { existsSync, readFileSync } from 'node:fs';

/** One line of a Sentinel log, e.g. `+switch-master mymaster 10.77.0.11 6379 10.77.0.12 6379`. */
export interface SentinelLogEvent {
  /** Epoch milliseconds (the lab runs Sentinel with TZ=UTC). */
  at: number;
  /** `+switch-master`, `+odown`, `-script-error`, … (the first word); undefined for plain messages. */
  type: string | undefined;
  /** The rest of the line after the type. */
  detail: string;
  line: string;
}

const MONTHS: Record<string, number> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};
// "12345:X 21 Nov 2025 22:40:01.123 # +switch-master mymaster 10.77.0.11 6379 10.77.0.12 6379"
const LINE = /^\d+:[A-Z] (\d{1,2}) (\w{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2})\.(\d{3}) [.\-*#] (.*)$/;

export function parseSentinelLog(text: string): SentinelLogEvent[] {
  const events: SentinelLogEvent[] = [];
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const month = MONTHS[m[2]!];
    if (month === undefined) continue;
    const at = Date.UTC(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]), Number(m[7]));
    const message = m[8]!;
    const typed = /^([+-][a-z][a-z-]*)\s?(.*)$/.exec(message);
    events.push({ at, type: typed?.[1], detail: typed ? typed[2]! : message, line });
  }
  return events;
}

export function readSentinelLog(file: string): SentinelLogEvent[] {
  return existsSync(file) ? parseSentinelLog(readFileSync(file, 'utf8')) : [];
}

/** `+switch-master <master> <old-ip> <old-port> <new-ip> <new-port>` */
export interface SwitchMaster {
  at: number;
  master: string;
  fromIp: string;
  toIp: string;
}

export function switchMasters(events: readonly SentinelLogEvent[]): SwitchMaster[] {
  return events
    .filter((e) => e.type === '+switch-master')
    .map((e) => {
      const [master, fromIp, , toIp] = e.detail.split(' ');
      return { at: e.at, master: master!, fromIp: fromIp!, toIp: toIp! };
    });
}

/** One run of sentinel-hook, read back from its pino JSON log (`hook start` … `hook end`). */
export interface HookRun {
  run: string;
  /** hook: the client-reconfig-script; notify: the notification-script (`sentinel-hook notify`). */
  kind: 'hook' | 'notify';
  /** notify runs: Sentinel's event type and description. */
  notify?: { type: string; description: string };
  pid: number | undefined;
  start: number;
  end: number | undefined;
  event: { master: string; role: string; state: string; fromIp: string; toIp: string } | undefined;
  exitCode: number | undefined;
  outcome: string | undefined;
  /** Wall time the hook measured itself (from `hook start`, so without Node's own start-up). */
  ms: number | undefined;
  steps: { at: number; step: string; ms: number | undefined; ok: boolean; error?: string }[];
  records: Record<string, unknown>[];
}

export function parseHookLog(text: string): HookRun[] {
  const runs = new Map<string, HookRun>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    const id = typeof rec.run === 'string' ? rec.run : undefined;
    if (!id) continue;
    const at = typeof rec.time === 'string' ? Date.parse(rec.time) : typeof rec.time === 'number' ? rec.time : NaN;
    let hookRun = runs.get(id);
    if (!hookRun) {
      hookRun = {
        run: id,
        kind: typeof rec.notify === 'string' ? 'notify' : 'hook',
        pid: typeof rec.pid === 'number' ? rec.pid : undefined,
        start: at,
        end: undefined,
        event: undefined,
        exitCode: undefined,
        outcome: undefined,
        ms: undefined,
        steps: [],
        records: [],
      };
      runs.set(id, hookRun);
    }
    hookRun.records.push(rec);
    if (rec.msg === 'hook start') {
      hookRun.start = at;
      hookRun.event = rec.event as HookRun['event'];
    } else if (rec.msg === 'sentinel event') {
      hookRun.notify = { type: String(rec.eventType), description: String(rec.description) };
    } else if (rec.msg === 'hook end' || rec.msg === 'notify end') {
      hookRun.end = at;
      hookRun.exitCode = typeof rec.exitCode === 'number' ? rec.exitCode : undefined;
      hookRun.outcome =
        typeof rec.outcome === 'string'
          ? rec.outcome
          : typeof rec.error === 'string'
            ? `error: ${rec.error}`
            : undefined;
      hookRun.ms = typeof rec.ms === 'number' ? rec.ms : undefined;
    } else if (rec.msg === 'step done' || rec.msg === 'step failed') {
      hookRun.steps.push({
        at,
        step: String(rec.step),
        ms: typeof rec.ms === 'number' ? rec.ms : undefined,
        ok: rec.msg === 'step done',
        ...(typeof rec.error === 'string' ? { error: rec.error } : {}),
      });
    }
  }
  return [...runs.values()].sort((a, b) => a.start - b.start);
}

export function readHookLog(file: string): HookRun[] {
  return existsSync(file) ? parseHookLog(readFileSync(file, 'utf8')) : [];
}

/**
 * The seed-000 style shell script in bench/ writes `start <epoch-ms> <pid> <args…>` and `end <epoch-ms> <pid> <exit>`
 * lines when SEED_LOG is set; read them back as hook runs (no steps), paired by pid (runs can overlap).
 */
export function parseScriptLog(text: string): HookRun[] {
  const runs: HookRun[] = [];
  const open = new Map<string, HookRun>();
  for (const line of text.split('\n')) {
    const parts = line.trim().split(/\s+/);
    if (parts[0] === 'start' && parts.length >= 10) {
      const [, at, pid, master, role, state, fromIp, , toIp] = parts;
      const hookRun: HookRun = {
        run: `sh${pid}`,
        kind: 'hook',
        pid: Number(pid),
        start: Number(at),
        end: undefined,
        event: { master: master!, role: role!, state: state!, fromIp: fromIp!, toIp: toIp! },
        exitCode: undefined,
        outcome: undefined,
        ms: undefined,
        steps: [],
        records: [],
      };
      runs.push(hookRun);
      open.set(pid!, hookRun);
    } else if (parts[0] === 'end' && parts.length >= 4) {
      const hookRun = open.get(parts[2]!);
      if (!hookRun) continue;
      open.delete(parts[2]!);
      hookRun.end = Number(parts[1]);
      hookRun.exitCode = Number(parts[3]);
      hookRun.ms = hookRun.end - hookRun.start;
    }
  }
  return runs;
}

export function readScriptLog(file: string): HookRun[] {
  return existsSync(file) ? parseScriptLog(readFileSync(file, 'utf8')) : [];
}

/** One JSON line of `sentinel-hook watch`'s stdout (pino's fields: level, time, msg, and the rest). */
export interface WatchLogEntry {
  /** Epoch ms (the line's `time`). */
  at: number;
  level: number;
  msg: string;
  rec: Record<string, unknown>;
}

export function parseWatchLog(text: string): WatchLogEntry[] {
  const out: WatchLogEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      // a line cut short by a kill
      continue;
    }
    const at = typeof rec.time === 'string' ? Date.parse(rec.time) : typeof rec.time === 'number' ? rec.time : NaN;
    out.push({
      at,
      level: typeof rec.level === 'number' ? rec.level : 0,
      msg: typeof rec.msg === 'string' ? rec.msg : '',
      rec,
    });
  }
  return out;
}

export function readWatchLog(file: string): WatchLogEntry[] {
  return existsSync(file) ? parseWatchLog(readFileSync(file, 'utf8')) : [];
}
