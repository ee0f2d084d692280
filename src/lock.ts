import { closeSync, mkdirSync, openSync, readFileSync, rmdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RetryableError } from './errors.ts';

export interface HeldLock {
  path: string;
  /** How long we waited for another run of the same master. */
  waitedMs: number;
  release(): void;
}

/** /run/sentinel-hook when we may write there (root), else a per-user directory in the temp dir. */
export function defaultLockDir(uid: number): string {
  for (const dir of ['/run/sentinel-hook', join(tmpdir(), `sentinel-hook-${uid}`)]) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const st = statSync(dir);
      if (st.uid === uid) return dir;
    } catch {
      // not ours or not writable: next candidate
    }
  }
  throw new RetryableError('no writable lock directory (/run/sentinel-hook or the temp dir)', 'set lockDir in the config');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A process's start time (clock ticks since boot, field 22 of /proc/PID/stat), or undefined where
 * there is no /proc. With the pid it names one process for good: pids are reused, and a long-lived
 * process that inherited a dead owner's pid must not hold the lock forever.
 */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name, in parentheses, may itself hold spaces and parentheses.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** "PID START" as the owner wrote it (START absent in a lock from a system without /proc). */
function ownerGone(text: string): boolean {
  const [pid, start] = text.split(' ');
  if (!alive(Number(pid))) return true;
  if (start === undefined) return false;
  const now = processStart(Number(pid));
  return now !== undefined && now !== start;
}

/**
 * One run per master per host. Two runs of the hook for the same master can overlap (Sentinel
 * runs up to 16 scripts at once, and retries come late); the second waits for the first.
 * The lock file names the owner (pid and start time), so a run that Sentinel SIGKILLed leaves no
 * lasting lock, even when its pid has since gone to another process.
 */
export async function acquireLock(dir: string, name: string, waitMs: number, signal?: AbortSignal, what = `master ${name}`): Promise<HeldLock> {
  const path = join(dir, `${encodeURIComponent(name)}.lock`);
  try {
    // A configured lockDir under /run is gone after every reboot.
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new RetryableError(`cannot create lock directory ${dir}: ${(err as NodeJS.ErrnoException).code}`, 'check lockDir and its permissions');
  }
  const started = performance.now();
  const deadline = started + waitMs;
  const start = processStart(process.pid);
  const owner = start === undefined ? String(process.pid) : `${process.pid} ${start}`;
  for (let attempt = 0; attempt < 100_000; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${owner}\n`);
      closeSync(fd);
      // The first attempt never waited, however long the open and write took on a loaded machine.
      const waitedMs = attempt === 0 ? 0 : Math.round(performance.now() - started);
      let released = false;
      return {
        path,
        waitedMs,
        release() {
          if (released) return;
          released = true;
          try {
            if (readFileSync(path, 'utf8').trim() === owner) unlinkSync(path);
          } catch {
            // already gone
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new RetryableError(`cannot create lock ${path}: ${(err as NodeJS.ErrnoException).code}`, 'check lockDir permissions');
      }
    }
    reapIfDead(path);
    if (performance.now() >= deadline || signal?.aborted) {
      throw new RetryableError(`another run for ${what} still holds ${path} after ${(waitMs / 1000).toFixed(1)} s`, 'Sentinel will retry this event');
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new RetryableError(`could not take lock ${path}`);
}

/** Remove a lock whose owner is gone. The .reap directory makes two waiters never both remove it. */
function reapIfDead(path: string): void {
  const guard = `${path}.reap`;
  try {
    mkdirSync(guard);
  } catch {
    // Another waiter is reaping; a guard left by a killed reaper expires after 5 s.
    try {
      if (Date.now() - statSync(guard).mtimeMs > 5000) rmdirSync(guard);
    } catch {
      // gone meanwhile
    }
    return;
  }
  try {
    const text = readFileSync(path, 'utf8').trim();
    // Empty: the owner created it and has not written its pid yet, unless that was long ago.
    const dead = text === '' ? Date.now() - statSync(path).mtimeMs > 5000 : ownerGone(text);
    if (dead) unlinkSync(path);
  } catch {
    // the owner released it meanwhile
  } finally {
    rmdirSync(guard);
  }
}
