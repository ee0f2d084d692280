import { closeSync, constants, fstatSync, mkdirSync, openSync, type Stats, writeSync } from 'node:fs';
import { dirname } from 'node:path';

type LogFn = (obj: Record<string, unknown>, msg?: string) => void;

/** The subset of pino's logger the hook uses, so tests and dry-runs can pass lighter ones. */
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  child(bindings: Record<string, unknown>): Logger;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export const DEFAULT_LOG_FILE = '/var/log/sentinel-hook/hook.log';

let runsHere = 0;

/**
 * Unique per host and run, also for runs one process starts in the same millisecond (a service,
 * a reconcile of several masters); node:crypto would cost milliseconds of a cold start for nothing.
 */
export function runId(): string {
  return `${process.pid.toString(36)}-${Date.now().toString(36)}-${(runsHere++).toString(36)}`;
}

/** Keys whose values are never written anywhere, whatever object they appear in. */
export const REDACT_PATHS = ['password', '*.password', 'secret', '*.secret', 'passphrase', '*.passphrase'];

/**
 * The shortest piece of a secret worth hiding: a peer may echo it cut short (Redis cuts arguments at
 * 128 bytes), always from its start. Fewer characters tell a reader little, and hiding every short
 * run a secret shares with a text mangles host names ("redis-2…" for a password "redis-…").
 */
const SECRET_PIECE = 8;

/**
 * `text` from a peer that was sent `secret` (a Redis 5 Sentinel answers AUTH with "unknown command
 * 'AUTH', with args beginning with: '<password>'"), with the secret cut out, or what a peer left of
 * it: a prefix of 8 characters or more (the whole secret when it is shorter). Redaction by key name
 * cannot see inside such a reply. For text that is written out only, never for data a decision reads.
 */
export function redactSecret(text: string, secret: string | undefined): string {
  if (!secret) return text;
  const head = secret.slice(0, SECRET_PIECE);
  let out = '';
  let from = 0;
  for (let at = text.indexOf(head); at !== -1; at = text.indexOf(head, from)) {
    let len = head.length;
    while (len < secret.length && text[at + len] === secret[len]) len++;
    out += `${text.slice(from, at)}[redacted]`;
    from = at + len;
  }
  return out + text.slice(from);
}

export interface LogTarget {
  file: string | undefined;
  level: LogLevel;
  /** Mirror records to stderr as readable lines (an operator at a terminal). */
  tty: boolean;
}

/**
 * pino writing JSON lines to the log file, synchronously: Sentinel may SIGKILL us, and with
 * daemonize it throws away stdout/stderr, so a record still in a buffer is a record lost.
 */
export async function createFileLogger(
  target: LogTarget,
  base: Record<string, unknown>,
  timeOverride: () => Date | undefined = () => undefined,
): Promise<{ logger: Logger; warning?: string; close(): void }> {
  const mod = await import('pino');
  // Bundled, pino's CommonJS build arrives as a default export.
  const pino = ((mod as { default?: typeof mod.pino }).default ?? mod.pino) as typeof mod.pino;
  const streams: { level: LogLevel; stream: NodeJS.WritableStream | { write(s: string): void } }[] = [];
  let warning: string | undefined;
  let file: ReturnType<typeof fileStream> | undefined;
  if (target.file) {
    try {
      mkdirSync(dirname(target.file), { recursive: true });
      const fd = openLogFile(target.file);
      file = fileStream(fd, target.file, target.tty ? undefined : (line) => toStderr(readable(line)));
      streams.push({ level: target.level, stream: file });
    } catch (err) {
      warning = logFileWarning(target.file, err);
    }
  }
  if (target.tty || streams.length === 0)
    streams.push({ level: target.level, stream: { write: (line: string) => process.stderr.write(readable(line)) } });
  const logger = pino(
    {
      level: target.level,
      base,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: () => `,"time":"${(timeOverride() ?? new Date()).toISOString()}"`,
    },
    pino.multistream(streams as Parameters<typeof pino.multistream>[0]),
  );
  return { logger: logger as unknown as Logger, warning, close: () => file?.close() };
}

/** Why the log file could not be used, and what to do: the file system's refusal is not the file's owner's fault. */
export function logFileWarning(file: string, err: unknown): string {
  const why = (err as Error).message;
  // ProtectSystem=strict (a unit's sandbox) makes everything but ReadWritePaths= read-only.
  if ((err as NodeJS.ErrnoException).code === 'EROFS')
    return `cannot write the log file ${file}: it is read-only here (the unit's ProtectSystem/ReadWritePaths); logging to stderr (under a unit, log to the journal: --log-to journal)`;
  return `cannot write the log file ${file}: ${why}; logging to stderr (log.file must be a regular file owned by root or Sentinel's user, not a symbolic link, in a directory Sentinel's user can write)`;
}

/**
 * Open a log file for appending, as a root hook safely can: never through a symbolic link (one
 * planted in a log directory would make us append to whatever it names), never waiting for a reader
 * of a FIFO. A file owned by root or by us is ours (Sentinel's user runs the hook, root runs it by
 * hand: both share one log, and each may have created it). Root also accepts one owned by another
 * user, but only a regular file with no other name: that user may have planted anything at the path.
 * Throws an Error saying why not.
 */
export function openLogFile(file: string): number {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO opened for writing would otherwise block until a reader comes, past any
    // deadline (a blocked open() lets no signal handler run either); without one it fails with ENXIO.
    fd = openSync(
      file,
      constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK,
      0o666,
    );
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new Error('it is a symbolic link (point log.file at the real file)');
    if (code === 'ENXIO') throw new Error('it is not a regular file but a FIFO (point log.file at a regular file)');
    throw err;
  }
  const problem = logFileProblem(fstatSync(fd), process.geteuid?.() ?? 0);
  if (problem) {
    closeSync(fd);
    throw new Error(problem);
  }
  return fd;
}

function logFileProblem(st: Stats, me: number): string | undefined {
  // A second hard link is another way to name someone else's file.
  const linked = st.isFile() && st.nlink > 1 ? 'it has other hard links' : undefined;
  if (st.uid === 0 || st.uid === me) return linked;
  if (me !== 0) return `it is owned by uid ${st.uid}, not root or this user (uid ${me})`;
  if (!st.isFile()) return `it is not a regular file (owned by uid ${st.uid}; point log.file at a regular file)`;
  return linked;
}

/** Append whole lines to a log file opened with openLogFile; best effort. */
export function appendToLog(file: string, text: string): void {
  let fd: number | undefined;
  try {
    fd = openLogFile(file);
    writeAll(fd, text);
  } catch {
    // nowhere to write: stderr is all there is
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function writeAll(fd: number, text: string): void {
  const bytes = Buffer.from(text);
  for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done);
}

/**
 * The log file, written synchronously. A write that fails (a full disk, an I/O error) must not
 * stop or change the failover: warn once, then send the records to `fallback` (stderr) instead.
 * pino's own destination throws from every log call, or emits an unhandled 'error', instead.
 * close() gives the descriptor back (a long-running process opens one per run); a record that
 * still comes after it is appended on its own (open, write, close), not lost.
 */
function fileStream(
  fd: number,
  file: string,
  fallback: ((line: string) => void) | undefined,
): { write(line: string): void; close(): void } {
  let failed = false;
  let closed = false;
  return {
    close() {
      if (closed) return;
      closed = true;
      try {
        closeSync(fd);
      } catch {
        // nothing left to give back
      }
    },
    write(line: string) {
      if (closed) return appendToLog(file, line);
      if (!failed) {
        try {
          writeAll(fd, line);
          return;
        } catch (err) {
          failed = true;
          toStderr(
            `sentinel-hook: cannot write the log file ${file}: ${(err as Error).message}; logging to stderr for the rest of this run (free space on its disk, or set log.file)\n`,
          );
        }
      }
      fallback?.(line);
    },
  };
}

/** Best effort: stderr that cannot be written either (a closed pipe) must not stop the run. */
function toStderr(text: string): void {
  try {
    writeSync(2, text);
  } catch {
    try {
      process.stderr.write(text);
    } catch {
      // nowhere left to write
    }
  }
}

const LEVEL_NAMES: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'run']);

/** One JSON record as a line a person reads: "12:00:01.234 info  vip: added 10.0.0.100/24 (ms=12)". */
export function readable(jsonLine: string): string {
  try {
    const rec = JSON.parse(jsonLine) as Record<string, unknown>;
    const time = typeof rec.time === 'string' ? rec.time.slice(11, 23) : '';
    const level = (LEVEL_NAMES[rec.level as number] ?? String(rec.level)).padEnd(5);
    const extras = Object.entries(rec)
      .filter(([k]) => !HIDDEN.has(k))
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    return `${escapeControls(`${time} ${level} ${rec.msg ?? ''}${extras ? `  ${extras}` : ''}`)}\n`;
  } catch {
    return jsonLine;
  }
}

/**
 * Records carry text from the network (a Sentinel's event description, a peer's error): printed
 * raw on a terminal, an escape sequence in it would be obeyed (retitle, clear, fake lines).
 */
function escapeControls(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

const LEVEL_NUMBERS: Record<LogLevel, number> = { debug: 20, info: 30, warn: 40, error: 50 };
/** syslog's priorities, which journald reads off the front of a line ("<4>…"; SyslogLevelPrefix=, on by default). */
const PRIORITIES: Record<LogLevel, number> = { debug: 7, info: 6, warn: 4, error: 3 };

/**
 * Whether stdout is the journal: systemd then sets $JOURNAL_STREAM to its device and inode. Compared with
 * stdout itself, since a child of a unit inherits the variable with a stdout of its own.
 */
export function stdoutIsJournal(env: NodeJS.ProcessEnv = process.env): boolean {
  if (!env.JOURNAL_STREAM) return false;
  try {
    const st = fstatSync(1);
    return env.JOURNAL_STREAM === `${st.dev}:${st.ino}`;
  } catch {
    return false;
  }
}

/** watch run by hand: stdout a terminal (a JSON line per record is for machines, the journal and files). */
function stdoutIsTerminal(): boolean {
  return process.stdout.isTTY === true;
}

export interface StdoutLogOptions {
  /** Lead each line with its syslog priority (default: when stdout is the journal). */
  journal?: boolean;
  /** Lines a person reads instead of JSON (default: when stdout is a terminal, and not the journal). */
  readable?: boolean;
  write?: (line: string) => void;
}

function writeStdout(line: string): void {
  try {
    writeSync(1, line);
  } catch {
    // stdout gone (journald restarting): nothing better to do than go on.
  }
}

/**
 * JSON lines on stdout, pino's fields (level number, time, msg): what a command a unit runs (watch, the
 * boot reconcile) logs. journald keeps them, `journalctl -o cat` shows them, a warning is one for
 * `journalctl -p warning`, and nothing is written to a file the unit's sandbox would have to allow.
 */
export function stdoutLogger(
  level: LogLevel,
  bindings: Record<string, unknown> = {},
  opts: StdoutLogOptions = {},
): Logger {
  const journal = opts.journal ?? stdoutIsJournal();
  const human = opts.readable ?? (!journal && stdoutIsTerminal());
  const write = opts.write ?? writeStdout;
  const at =
    (l: LogLevel): LogFn =>
    (obj, msg) => {
      if (LEVEL_NUMBERS[l] < LEVEL_NUMBERS[level]) return;
      const record = JSON.stringify({
        level: LEVEL_NUMBERS[l],
        time: new Date().toISOString(),
        ...bindings,
        ...obj,
        ...(msg === undefined ? {} : { msg }),
      });
      const line = human ? readable(record) : `${record}\n`;
      write(`${journal ? `<${PRIORITIES[l]}>` : ''}${line}`);
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (more) => stdoutLogger(level, { ...bindings, ...more }, { journal, readable: human, write }),
  };
}

/** For runs that must not touch the log file (dry-run) and for tests: keeps records in memory. */
export function memoryLogger(
  records: Record<string, unknown>[] = [],
  bindings: Record<string, unknown> = {},
): Logger & { records: Record<string, unknown>[] } {
  const at =
    (level: LogLevel): LogFn =>
    (obj, msg) => {
      records.push({ level, ...bindings, ...obj, ...(msg === undefined ? {} : { msg }) });
    };
  return {
    records,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (more) => memoryLogger(records, { ...bindings, ...more }),
  };
}

interface Pending {
  level: LogLevel;
  obj: Record<string, unknown>;
  msg: string | undefined;
  time: Date;
}

export interface DeferredLogger extends Logger {
  /** Resolves once every record is in the log file (pino loaded, buffer replayed). */
  ready(): Promise<{ warning?: string }>;
  /** At the end of the run: every record written, then the log file's descriptor closed. */
  close(): Promise<void>;
  /** For a dying process: write what is still buffered as JSON lines, synchronously. */
  flushSync(): void;
}

/**
 * The file logger without its load time on the failover path: records are kept in memory, and
 * pino is loaded on the event loop's first idle turn — typically while `ip addr add` runs — then
 * the buffer is replayed with each record's own time. Nothing is lost: ready() is awaited before
 * the run ends, and flushSync() covers a signal.
 */
export function deferredFileLogger(target: () => LogTarget, base: Record<string, unknown>): DeferredLogger {
  const pending: Pending[] = [];
  let real: Logger | undefined;
  let closeReal: (() => void) | undefined;
  let replayTime: Date | undefined;
  let loading: Promise<{ warning?: string }> | undefined;
  const start = () => {
    loading ??= createFileLogger(target(), base, () => replayTime).then(({ logger, warning, close }) => {
      closeReal = close;
      for (const p of pending.splice(0)) {
        replayTime = p.time;
        logger[p.level](p.obj, p.msg);
      }
      replayTime = undefined;
      real = logger;
      return warning === undefined ? {} : { warning };
    });
    return loading;
  };
  setImmediate(start);
  const make = (bindings: Record<string, unknown>): Logger => {
    let realChild: Logger | undefined;
    const at = (level: LogLevel) => (obj: Record<string, unknown>, msg?: string) => {
      if (real) {
        realChild ??= Object.keys(bindings).length ? real.child(bindings) : real;
        realChild[level](obj, msg);
      } else {
        pending.push({ level, obj: { ...bindings, ...obj }, msg, time: new Date() });
      }
    };
    return {
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      child: (more) => make({ ...bindings, ...more }),
    };
  };
  return {
    ...make({}),
    ready: start,
    async close() {
      await start();
      closeReal?.();
    },
    flushSync() {
      const t = target();
      if (real || !t.file) return;
      const levels = { debug: 20, info: 30, warn: 40, error: 50 } as const;
      const lines = pending.splice(0).map((p) =>
        JSON.stringify(
          redact({
            level: levels[p.level],
            time: p.time.toISOString(),
            ...base,
            ...p.obj,
            ...(p.msg ? { msg: p.msg } : {}),
          }),
        ),
      );
      appendToLog(t.file, lines.map((l) => `${l}\n`).join(''));
    },
  };
}

function redact(record: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(
    JSON.stringify(record, (key, value) => (/^(password|secret|passphrase)$/.test(key) ? '[redacted]' : value)),
  );
}
