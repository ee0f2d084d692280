// `sentinel-hook log`: the last runs, as a timeline a person reads after a failover: the event, what was
// decided, each step with its time, the outcome. From the hook's log file (JSON lines, one `run` id per
// run) and, when there is one, the journal of the watch and reconcile units (their JSON lines on stdout).
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { HookConfig } from '../config/schema.ts';
import { DEFAULT_LOG_FILE } from '../log.ts';
import type { CommandRunner } from '../runner.ts';

/** A log file's tail: enough for hundreds of runs, never the whole of a file nobody rotated. */
const TAIL_BYTES = 8 * 1024 * 1024;
const WATCH_UNITS = ['sentinel-hook-watch.service', 'sentinel-hook-reconcile.service'];

export interface LogRecord {
  time: string;
  level: number;
  msg: string;
  run?: string;
  master?: string;
  source: 'file' | 'journal';
  [field: string]: unknown;
}

export interface RunTimeline {
  id: string;
  master: string | undefined;
  source: LogRecord['source'];
  records: LogRecord[];
}

/** JSON lines as the hook and watch write them; anything else (a stack trace, a cut line) is left out. */
export function parseLogLines(text: string, source: LogRecord['source']): LogRecord[] {
  const records: LogRecord[] = [];
  for (const raw of text.split('\n')) {
    // journald keeps a "<N>" priority prefix only when SyslogLevelPrefix= is off.
    const line = raw.replace(/^<\d>/, '').trim();
    if (!line.startsWith('{')) continue;
    try {
      const rec = JSON.parse(line) as Record<string, unknown>;
      if (typeof rec.time !== 'string' || typeof rec.msg !== 'string') continue;
      const master =
        typeof rec.master === 'string'
          ? rec.master
          : typeof (rec.event as { master?: unknown } | undefined)?.master === 'string'
            ? (rec.event as { master: string }).master
            : undefined;
      records.push({
        ...rec,
        time: rec.time,
        level: typeof rec.level === 'number' ? rec.level : 30,
        msg: rec.msg,
        ...(master ? { master } : {}),
        source,
      } as LogRecord);
    } catch {
      // not a record
    }
  }
  return records;
}

/** watch's own lines that end one master's run (the watcher's report); the hook's runs have ids of their own. */
const RUN_ENDS = new Set([
  'converged',
  'not converged',
  'in line',
  'paused: would do this; nothing changed',
  'reconcile failed; trying again at the next interval',
  'hook end',
]);

/**
 * Records grouped into runs: by `run` id for the hook and reconcile (a process per run); watch is one
 * process, one id, for all its runs, so its records are cut per master at each run's last line.
 */
export function groupRuns(records: readonly LogRecord[]): RunTimeline[] {
  const runs: RunTimeline[] = [];
  const open = new Map<string, RunTimeline>();
  const sorted = [...records].sort((a, b) => a.time.localeCompare(b.time));
  for (const rec of sorted) {
    const watch = rec.watch === true;
    // A watch line with no master (start, subscribed) belongs to no run.
    if (watch && !rec.master) continue;
    const key = watch ? `watch ${rec.run} ${rec.master}` : `${rec.run ?? rec.time}`;
    let run = open.get(key);
    if (!run) {
      run = {
        id: `${rec.run ?? '?'}${watch ? `#${runs.length}` : ''}`,
        master: rec.master,
        source: rec.source,
        records: [],
      };
      open.set(key, run);
      runs.push(run);
    }
    run.master ??= rec.master;
    run.records.push(rec);
    if (watch && RUN_ENDS.has(rec.msg)) open.delete(key);
  }
  // A watch run that logged only its "in line" is no run an operator looks for.
  return runs.filter((r) => !(r.records.length === 1 && r.records[0]!.msg === 'in line'));
}

const LEVEL: Record<number, string> = { 20: 'debug', 30: '', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** One record as the timeline's text: what it means, not its fields. */
function describe(rec: LogRecord): string {
  const r = rec as Record<string, unknown>;
  switch (rec.msg) {
    case 'hook start': {
      const e = r.event as Record<string, unknown> | undefined;
      return e
        ? `event: ${e.role} ${e.state}: ${e.fromIp}:${e.fromPort} -> ${e.toIp}:${e.toPort}${r.dryRun ? ' (dry-run)' : ''}`
        : 'hook start';
    }
    case 'plan': {
      const plan = (r.plan as { action: string; note?: string; steps: { description: string }[] }[] | undefined) ?? [];
      const state = r.state as { ip?: string; port?: number; epoch?: number } | undefined;
      const to = state?.ip
        ? ` for master ${state.ip}:${state.port}${state.epoch !== undefined ? ` (epoch ${state.epoch})` : ''}`
        : '';
      const parts = plan.map((p) =>
        p.steps.length
          ? `${p.action}: ${p.steps.map((s) => s.description).join('; ')}`
          : `${p.action}: ${p.note ?? 'nothing to do'}`,
      );
      return `decided${to}: ${parts.join(' | ') || 'nothing to do'}`;
    }
    case 'step done':
      return `ok      ${r.action ?? ''}: ${r.step} (${r.ms} ms)${r.result ? `: ${r.result}` : ''}`;
    case 'step failed':
      return `FAILED  ${r.action ?? ''}: ${r.step} (${r.ms} ms): ${r.error}`;
    case 'event freshness checked': {
      const answers = (r.answers as unknown[] | undefined) ?? [];
      return `the Sentinels say the event is ${r.freshness} (${plural(answers.length, 'answer')})`;
    }
    case 'hook end':
      return r.error
        ? `end: exit ${r.exitCode} (${r.ms} ms): ${r.error}`
        : `end: ${r.outcome}, exit ${r.exitCode} (${r.ms} ms)`;
    default: {
      const extras = ['why', 'outcome', 'reason', 'error', 'to', 'sentinel', 'warning']
        .filter((k) => r[k] !== undefined)
        .map((k) => `${k}=${typeof r[k] === 'string' ? r[k] : JSON.stringify(r[k])}`);
      return `${rec.msg}${extras.length ? `  ${extras.join(' ')}` : ''}`;
    }
  }
}

/** Records carry text from the network: shown on a terminal, an escape sequence would be obeyed. */
function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export function renderRun(run: RunTimeline): string {
  const first = run.records[0]!;
  const start = Date.parse(first.time);
  const end = run.records.at(-1)!;
  const hookEnd = run.records.find((r) => r.msg === 'hook end');
  const outcome = hookEnd
    ? String(hookEnd.outcome ?? (hookEnd.error ? 'failed' : '?'))
    : String(
        end.outcome ?? (end.msg.startsWith('reconcile failed') ? 'failed' : end.level >= 40 ? 'see below' : end.msg),
      );
  const kind = run.records.some((r) => r.msg === 'hook start')
    ? 'hook'
    : first.watch === true
      ? 'watch'
      : run.records.some((r) => r.msg === 'reconcile start')
        ? 'reconcile'
        : 'run';
  const head = `${first.time.replace('T', ' ').replace('Z', ' UTC')}  ${run.master ?? '(no master)'}  ${kind} ${run.id}${
    run.source === 'journal' ? ' (journal)' : ''
  }  -> ${outcome}`;
  const lines = run.records.map((rec) => {
    const offset = `+${Math.max(0, Date.parse(rec.time) - start)} ms`.padStart(10);
    const level = (LEVEL[rec.level] ?? '').padEnd(5);
    return `${offset} ${level} ${describe(rec)}`;
  });
  return [head, ...lines].map(printable).join('\n');
}

/** The last `bytes` of a file, from its first whole line. */
export function readTail(file: string, bytes = TAIL_BYTES): string | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const size = fstatSync(fd).size;
    const from = Math.max(0, size - bytes);
    const buf = Buffer.alloc(size - from);
    let read = 0;
    while (read < buf.length) {
      const n = readSync(fd, buf, read, buf.length - read, from + read);
      if (n === 0) break;
      read += n;
    }
    const text = buf.subarray(0, read).toString('utf8');
    return from > 0 ? text.slice(text.indexOf('\n') + 1) : text;
  } finally {
    closeSync(fd);
  }
}

export interface LogOptions {
  master?: string;
  last: number;
  json?: boolean;
}

export interface LogSources {
  /** The hook's log file's text (its tail), or undefined when it cannot be read. */
  readFile(file: string): string | undefined;
  runner: CommandRunner;
  which(program: string): string | undefined;
}

/** The journal of the watch and reconcile units, when journalctl is there and lets us read it. */
async function journalText(sources: LogSources): Promise<{ text?: string; note?: string }> {
  const journalctl = sources.which('journalctl');
  if (!journalctl) return { note: 'no journalctl here: the journal was not read' };
  const r = await sources.runner.run(
    [journalctl, '--no-pager', '-q', '-o', 'cat', '-n', '10000', ...WATCH_UNITS.flatMap((u) => ['-u', u])],
    { timeoutMs: 10_000 },
  );
  if (r.exitCode !== 0)
    return { note: `the journal was not read: ${r.spawnError ?? `journalctl exited ${r.exitCode}`}` };
  return { text: r.stdout };
}

export async function logCommand(
  config: HookConfig,
  opts: LogOptions,
  sources: LogSources,
): Promise<{ text: string; json: unknown; found: number }> {
  const file = config.log.file ?? DEFAULT_LOG_FILE;
  const notes: string[] = [];
  const fileText = sources.readFile(file);
  if (fileText === undefined) notes.push(`cannot read the hook log ${file}`);
  const journal = await journalText(sources);
  if (journal.note) notes.push(journal.note);
  const journalRecords = parseLogLines(journal.text ?? '', 'journal');
  if (journal.text !== undefined && journalRecords.length === 0)
    notes.push(`the journal has no lines of ${WATCH_UNITS.join(' or ')}`);
  const records = [...parseLogLines(fileText ?? '', 'file'), ...journalRecords].filter(
    (r) => opts.master === undefined || r.master === opts.master || (r.watch !== true && !r.master),
  );
  const runs = groupRuns(records)
    .filter((r) => opts.master === undefined || r.master === opts.master)
    .slice(-opts.last);
  const where = `${file}${journalRecords.length ? ` and the journal (${WATCH_UNITS.join(', ')})` : ''}`;
  const text = runs.length
    ? `${runs.map(renderRun).join('\n\n')}\n\n${plural(runs.length, 'run')} from ${where}${notes.length ? `; ${notes.join('; ')}` : ''}`
    : `no runs${opts.master ? ` of ${opts.master}` : ''} in ${where}${notes.length ? `; ${notes.join('; ')}` : ''}`;
  return {
    text,
    json: { runs: runs.map((r) => ({ id: r.id, master: r.master, source: r.source, records: r.records })), notes },
    found: runs.length,
  };
}
