// The small shared records every process serving a master on this host reads and writes (the hook,
// reconcile, watch): read without following links or blocking, replaced whole by rename.
import {
  closeSync,
  constants,
  fstatSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';

/** Whether a process with this pid exists (EPERM: it does, and is another user's). */
export function alive(pid: number): boolean {
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

/**
 * A lock or generation file's few bytes, or undefined when it is missing or not a regular file. Root's
 * manual run shares the directory of Sentinel's user, who could plant a link there (to /dev/zero, a
 * file of root's) or a FIFO (a plain read would block the event loop): never followed, never waited on.
 */
export function readSmallFile(path: string, maxBytes = 256): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    if (!fstatSync(fd).isFile()) return undefined;
    const buffer = Buffer.alloc(maxBytes);
    const n = readSync(fd, buffer, 0, buffer.length, 0);
    return buffer.subarray(0, n).toString('utf8');
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * Replace a small shared file (a generation, an epoch, a once-per-failover record) whole, by rename:
 * a reader sees the old content or the new, never half. O_EXCL on the temporary name: never written
 * through a link planted there (root's manual run shares the directory of Sentinel's user); readable
 * by that other user. A temporary file left by a failed write is removed.
 */
export function writeSmallFile(path: string, text: string): void {
  const temp = `${path}.${process.pid}.tmp`;
  try {
    rmSync(temp, { force: true });
    writeFileSync(temp, text, { mode: 0o644, flag: 'wx' });
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}
