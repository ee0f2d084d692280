import {
  accessSync,
  closeSync,
  constants,
  lstatSync,
  mkdirSync,
  openSync,
  rmdirSync,
  type Stats,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { nowMs } from '../clock.ts';
import { hookError } from '../errors.ts';
import { lockDirFix } from '../failures.ts';
import { alive, processStart, readSmallFile } from './files.ts';

export interface HeldLock {
  path: string;
  /** How long we waited for another run of the same master. */
  waitedMs: number;
  release(): void;
}

export { lockDirFix };

/**
 * Who asks for the lock directory: Sentinel's call (the hook, notify), run as whatever user Sentinel
 * runs as, or a command an operator or a unit started.
 */
export type LockDirUser = 'sentinel' | 'command';

/**
 * The per-master locks and generations live in one directory that every process serving a master on
 * this host shares (the hook, `reconcile`, `watch`), so it cannot be a per-user or per-session place
 * (a service's $XDG_RUNTIME_DIR is not a shell's). And it must be one no other user can take: a
 * guessable fallback in a shared temp dir let any local user block every failover. Used only when it
 * is a real directory owned by us or by root and writable by nobody else. Anything else is a clear
 * error, never a fallback.
 *
 * Created when missing and we may, except by a command run as root: made by root it is root's, mode
 * 700, and every later hook run as Sentinel's user fails (a root `pause` after the directory was
 * removed by hand did exactly that). tmpfiles.d or the watch unit's RuntimeDirectory= make it for the
 * services' user; the hook creates it itself where it may, since a failover must not wait for anyone.
 */
export function prepareLockDir(dir: string, uid: number, by: LockDirUser = 'command'): string {
  if (lockDirGone(dir)) {
    if (uid === 0 && by === 'command') throw hookError('lock-dir-missing', { dir });
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw hookError('lock-dir-unusable', { dir, problem: `is missing and cannot be created (${code})` });
    }
  }
  const problem = lockDirProblem(dir, uid);
  if (problem) throw hookError('lock-dir-unusable', { dir, problem });
  return dir;
}

/** Whether `dir` does not exist (a reboot emptied /run, or it was removed by hand). */
export function lockDirGone(dir: string): boolean {
  try {
    lstatSync(dir);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/** What is wrong with `dir` as our lock directory, or undefined. Reads only (for `check` too). */
export function lockDirProblem(dir: string, uid: number): string | undefined {
  let st: Stats;
  try {
    st = lstatSync(dir);
  } catch (err) {
    return `cannot be read (${(err as NodeJS.ErrnoException).code})`;
  }
  if (st.isSymbolicLink()) return 'is a symbolic link: another user could point it anywhere';
  if (!st.isDirectory()) return 'is not a directory';
  // Root shares the directory of Sentinel's user (a manual run next to the hook's).
  if (uid !== 0 && st.uid !== uid && st.uid !== 0)
    return `belongs to uid ${st.uid}, not to us (uid ${uid}) or root: that user could hold or fake our locks`;
  if (st.mode & 0o022)
    return `is writable by ${st.mode & 0o002 ? 'every user' : 'its group'} (mode ${(st.mode & 0o7777).toString(8)}): another user could hold or fake our locks`;
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    return `is not writable by us (uid ${uid})`;
  }
  return undefined;
}

let acquired = 0;

/** "PID START N" as the owner wrote it (START "-" or absent on a system without /proc). */
function ownerGone(text: string): boolean {
  const [pid, start] = text.split(' ');
  if (!alive(Number(pid))) return true;
  if (start === undefined || start === '-') return false;
  const now = processStart(Number(pid));
  return now !== undefined && now !== start;
}

/**
 * One run per master per host. Two runs of the hook for the same master can overlap (Sentinel
 * runs up to 16 scripts at once, and retries come late); the second waits for the first.
 * The lock file names the owner (pid and start time), so a run that Sentinel SIGKILLed leaves no
 * lasting lock, even when its pid has since gone to another process.
 */
export async function acquireLock(
  dir: string,
  name: string,
  waitMs: number,
  signal?: AbortSignal,
  what = `master ${name}`,
): Promise<HeldLock> {
  const path = join(dir, `${encodeURIComponent(name)}.lock`);
  const started = nowMs();
  const deadline = started + waitMs;
  const start = processStart(process.pid);
  // The third word tells apart two runs in one process (a long-lived service runs many).
  const owner = `${process.pid} ${start ?? '-'} ${++acquired}`;
  for (let attempt = 0; attempt < 100_000; attempt++) {
    try {
      // Readable by the other user sharing the directory (root's manual run, Sentinel's user): a waiter
      // reads the owner to reap a dead one. It holds a pid, nothing secret.
      const fd = openSync(path, 'wx', 0o644);
      writeSync(fd, `${owner}\n`);
      closeSync(fd);
      // The first attempt never waited, however long the open and write took on a loaded machine.
      const waitedMs = attempt === 0 ? 0 : Math.round(nowMs() - started);
      let released = false;
      return {
        path,
        waitedMs,
        release() {
          if (released) return;
          released = true;
          try {
            if (readSmallFile(path)?.trim() === owner) unlinkSync(path);
          } catch {
            // already gone
          }
        },
      };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && lockDirGone(dir)) throw hookError('lock-dir-gone', { dir });
      if (code !== 'EEXIST') {
        throw hookError('lock-uncreatable', { path, errno: code });
      }
    }
    reapIfDead(path);
    if (nowMs() >= deadline || signal?.aborted) {
      throw hookError('lock-held', { what, path, waitedMs: waitMs });
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw hookError('lock-held', { what, path, waitedMs: nowMs() - started });
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
    const text = readSmallFile(path)?.trim();
    if (text === undefined) return;
    // Empty: the owner created it and has not written its pid yet, unless that was long ago.
    const dead = text === '' ? Date.now() - statSync(path).mtimeMs > 5000 : ownerGone(text);
    if (dead) unlinkSync(path);
  } catch {
    // the owner released it meanwhile
  } finally {
    rmdirSync(guard);
  }
}

/**
 * One line for `check`: where the locks live and whether the hook can use the directory. `check` is
 * usually run as root, but an unprivileged Sentinel (privilege: sudo in the config) is who must
 * write there: judged for that user too, or a root-made directory would pass while every failover fails.
 */
export function describeLockDir(
  dir: string,
  uid: number,
  unprivilegedSentinel: boolean,
): { line: string; problem?: string } {
  let st: Stats;
  try {
    st = lstatSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT')
      return {
        line: `lock directory: ${dir} (cannot be read: ${code})`,
        problem: `lock directory ${dir} cannot be read (${code}): ${lockDirFix(dir)}`,
      };
    if (unprivilegedSentinel)
      return {
        line: `lock directory: ${dir} (missing)`,
        problem: `lock directory ${dir} is missing, and an unprivileged Sentinel cannot create it: ${lockDirFix(dir)}`,
      };
    // Missing: the hook creates it if it may write the parent (root; /run is root's); root's commands do not.
    const parent = dir.slice(0, dir.lastIndexOf('/')) || '/';
    try {
      accessSync(parent, constants.W_OK | constants.X_OK);
      return {
        line: `lock directory: ${dir} (missing: tmpfiles.d or the watch unit's RuntimeDirectory= make it; the hook would, mode 700, a command run as root would not)`,
      };
    } catch {
      return {
        line: `lock directory: ${dir} (missing)`,
        problem: `lock directory ${dir} is missing and uid ${uid} cannot create it: ${lockDirFix(dir)}`,
      };
    }
  }
  const state = `owner uid ${st.uid}, mode ${(st.mode & 0o7777).toString(8)}`;
  const problem =
    lockDirProblem(dir, uid) ??
    (unprivilegedSentinel && st.uid === 0 && !(st.mode & 0o020)
      ? 'belongs to root: the unprivileged Sentinel the config is written for (privilege: sudo) cannot write it'
      : undefined);
  return problem
    ? { line: `lock directory: ${dir} (${state})`, problem: `lock directory ${dir} ${problem}: ${lockDirFix(dir)}` }
    : { line: `lock directory: ${dir} (${state}: OK)` };
}
