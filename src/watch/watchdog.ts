import { Worker } from 'node:worker_threads';

/**
 * How long watch's main event loop may go without answering before the watchdog kills the process.
 * The longest synchronous work that loop legitimately does is a local hosts file's fsync
 * (actions/hosts/localfile.ts): seconds when the disk is busy with Redis's own AOF rewrite or BGSAVE.
 * Everything else it does in one go (a config load on SIGHUP, a lock or record file on tmpfs, a
 * garbage collection of a heap of a few MB, a line to the journal) takes milliseconds. 30 s is ten
 * times the worst of those; it is also how long a wedged watch leaves a failover unhandled (plus
 * RestartSec=2s and a start, whose reconcile then catches up). A disk stalled for longer than that is
 * a host in trouble, where a restart costs nothing: every action is idempotent, and a hosts file is
 * written to a temporary file and renamed, so a kill leaves the old one whole.
 */
export const WATCHDOG_LIMIT_MS = 30_000;

export interface WatchdogOptions {
  /** The main loop's silence after which the process is killed; default WATCHDOG_LIMIT_MS. */
  limitMs?: number;
  /** Fields for the one line written before the kill (the logger's: run id, watch). */
  fields?: Record<string, unknown>;
  /** The watchdog itself failed (its thread died): watch goes on without one. */
  onFailure?: (err: Error) => void;
}

export interface Watchdog {
  readonly limitMs: number;
  stop(): Promise<void>;
}

/**
 * Runs in the watchdog's thread (plain JavaScript: the bundle has no file of its own to start a
 * Worker from). It watches a counter the main thread bumps from a timer: a timer that does not run
 * is exactly a main loop that does not answer, whatever holds it (a synchronous loop, a stuck
 * system call, endless microtasks).
 *
 * The kill is SIGKILL from this thread, not process.exit() (which only ends this thread), nor a
 * SIGTERM (handled by the very loop that does not answer), nor abort() (a core of the whole heap in
 * /var/lib/systemd/coredump at every wedge): SIGKILL cannot be caught or blocked, and the unit's
 * Restart=always starts watch again. sd_notify's WatchdogSec= would be systemd's own way, but node
 * has no AF_UNIX datagram socket to send WATCHDOG=1 with, and systemd-notify run as a child is
 * attributed to the wrong process on systemd 252.
 */
const WATCHDOG_THREAD = `
const { workerData } = require('node:worker_threads');
const { write } = require('node:fs');
const { beats, limitMs, checkMs, fields } = workerData;
let seen = Atomics.load(beats, 0);
let silentMs = 0;
let last = performance.now();
const check = setInterval(() => {
  const now = performance.now();
  // This thread waking up much later than asked means the whole process (or the machine) was
  // stopped: SIGSTOP, a suspended VM. That counts for at most two periods, not as a wedged loop.
  const slept = Math.min(now - last, 2 * checkMs);
  last = now;
  const beat = Atomics.load(beats, 0);
  if (beat !== seen) {
    seen = beat;
    silentMs = 0;
    return;
  }
  silentMs += slept;
  if (silentMs < limitMs) return;
  clearInterval(check);
  const kill = () => process.kill(process.pid, 'SIGKILL');
  // Through the thread pool: should that be stuck too, or stdout block, the kill does not wait for it.
  setTimeout(kill, 1000);
  const line = { level: 60, time: new Date().toISOString(), ...fields, silentMs: Math.round(silentMs), limitMs,
    msg: 'the main event loop has not answered: killing the process (SIGKILL) for systemd to restart it' };
  write(1, JSON.stringify(line) + '\\n', kill);
}, checkMs);
`;

/**
 * Start the watchdog: a worker thread that kills the process when the main event loop has not
 * answered for `limitMs`. Watch only: the hook's failover path never starts a thread. It keeps
 * nothing alive (the process ends as if it were not there) and costs one timer callback every
 * half second on the main thread, plus the thread's own isolate (about 11 MB resident).
 */
export function startWatchdog(opts: WatchdogOptions = {}): Watchdog {
  const limitMs = opts.limitMs ?? WATCHDOG_LIMIT_MS;
  // Ten looks per limit, and two beats per look: a loop that answers never misses one.
  const checkMs = Math.min(1000, Math.max(10, Math.floor(limitMs / 10)));
  const beats = new Int32Array(new SharedArrayBuffer(4));
  const beat = setInterval(() => Atomics.add(beats, 0, 1), Math.max(5, Math.floor(checkMs / 2)));
  beat.unref();
  // Without the process's flags: a preload (-r, --import) would run in this thread too, and whatever
  // wedges the main thread there could wedge its watchdog as well.
  const worker = new Worker(WATCHDOG_THREAD, {
    eval: true,
    execArgv: [],
    workerData: { beats, limitMs, checkMs, fields: opts.fields ?? {} },
  });
  worker.unref();
  let stopped = false;
  worker.on('error', (err) => {
    clearInterval(beat);
    if (!stopped) opts.onFailure?.(err);
  });
  return {
    limitMs,
    stop: async () => {
      stopped = true;
      clearInterval(beat);
      await worker.terminate();
    },
  };
}
