import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { resolveOwnedPath } from '../../ownership.ts';

/**
 * The hosts planner imports this module on every run; node:crypto (and the streams it pulls in) would
 * add ~2 ms to each cold start, so it is loaded only when a file is written.
 */
function randomHex(): string {
  return process.getBuiltinModule('node:crypto').randomBytes(4).toString('hex');
}

export const BACKUP_SUFFIX = '.sentinel-hook.bak';

export interface LocalWriteResult {
  /** rename: atomic replace; in-place: the file could not be replaced (a bind mount), so it was overwritten. */
  method: 'rename' | 'in-place';
  /** Undefined when the directory refused the backup (e.g. not writable by us): the edit still went ahead. */
  backup: string | undefined;
}

/**
 * The file to edit for a configured `file:`. Replacing a symlink by rename would turn it into a
 * regular file and leave its target stale, so a link is followed, but only as far as the config
 * would be (src/ownership.ts): a link that someone else could swap would have a root hook rewrite
 * whatever file they point it at. Missing files throw their errno error, unsafe links a ConfigError.
 */
export function resolveHostsFile(path: string): string {
  const real = realpathSync(path);
  if (real === path) return path;
  return resolveOwnedPath(path, process.getuid?.() ?? 0, 'hosts file', `${path} (${real})`);
}

/** errno codes that mean "this path cannot be replaced by rename", only overwritten. */
const RENAME_IMPOSSIBLE = new Set(['EBUSY', 'EXDEV', 'EPERM', 'EACCES', 'EROFS']);

/**
 * Replace `path` with `content` so that a reader (or a crash) sees the old or the new file, never a
 * mix: write a temp file beside it, fsync, give it the old mode and owner, rename over it, fsync
 * the directory. Inside a container /etc/hosts is a bind mount and rename() over it fails with
 * EBUSY; there the only way is writing in place — new bytes first, then the length, so the file is
 * never empty. When the new content is shorter it is first written padded to the old length with a
 * comment line (see padTo), so a kill before the truncate leaves a valid file, never the new text
 * followed by a tail of the old one (which a later run, finding the names right, would keep).
 * Strings are byte strings (latin1), so the file's bytes come back unchanged whatever its encoding.
 * One backup of the previous content is kept beside it as `<path>.sentinel-hook.bak`.
 */
export function writeFileReplacing(path: string, content: string, previous: string): LocalWriteResult {
  const st = statSync(path);
  const mode = st.mode & 0o7777;
  let backup: string | undefined = path + BACKUP_SUFFIX;
  try {
    writeViaTemp(backup, previous, mode, st.uid, st.gid);
  } catch {
    // A backup is a convenience; failing the failover for want of one would be worse.
    backup = undefined;
  }
  const data = Buffer.from(content, 'latin1');
  let temp: string | undefined;
  try {
    temp = writeTemp(path, data, mode, st.uid, st.gid);
  } catch (err) {
    // No write access to the directory (or no room): the file itself may still be writable.
    if (!RENAME_IMPOSSIBLE.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
  }
  if (temp) {
    try {
      renameSync(temp, path);
      fsyncDir(dirname(path));
      return { method: 'rename', backup };
    } catch (err) {
      unlinkQuietly(temp);
      if (!RENAME_IMPOSSIBLE.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
    }
  }
  writeInPlace(path, data);
  return { method: 'in-place', backup };
}

function writeViaTemp(path: string, content: string, mode: number, uid: number, gid: number): void {
  const temp = writeTemp(path, Buffer.from(content, 'latin1'), mode, uid, gid);
  try {
    renameSync(temp, path);
  } catch (err) {
    unlinkQuietly(temp);
    throw err;
  }
}

function writeTemp(path: string, data: Buffer, mode: number, uid: number, gid: number): string {
  const temp = join(dirname(path), `.${basename(path)}.sentinel-hook.${process.pid}.${randomHex()}.tmp`);
  // O_EXCL | O_NOFOLLOW: never write through a link someone planted under the temp name.
  const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    writeAll(fd, data, 0);
    if (process.getuid?.() === 0) fchownSync(fd, uid, gid);
    // After chown: chown clears set-id bits, and the mode must be the old file's exactly.
    fchmodSync(fd, mode);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkQuietly(temp);
    throw err;
  }
  closeSync(fd);
  return temp;
}

/**
 * `data` made exactly `length` bytes long by a comment line after it ("#", blanks, "\n"; a lone
 * "\n" for one byte): a resolver reads the same entries as in `data`. If `data` does not end with a
 * newline, the "#" starts a comment on its last line, which ends the entry there just the same.
 */
export function padTo(data: Buffer, length: number): Buffer {
  const missing = length - data.length;
  if (missing <= 0) return data;
  return Buffer.concat([data, Buffer.from(missing === 1 ? '\n' : `#${' '.repeat(missing - 2)}\n`, 'latin1')]);
}

function writeInPlace(path: string, data: Buffer): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_NOFOLLOW);
  try {
    const padded = padTo(data, fstatSync(fd).size);
    writeAll(fd, padded, 0);
    if (padded.length > data.length) {
      // The padded file is on disk before it is cut: a kill or crash in between leaves it, valid.
      fsyncSync(fd);
      ftruncateSync(fd, data.length);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function writeAll(fd: number, data: Buffer, position: number): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done, position + done);
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some file systems refuse fsync on a directory; the rename itself is already atomic.
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
