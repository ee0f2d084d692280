import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  type Stats,
} from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import { HookError, hookError } from './errors.ts';

/** Linux's own limit on symlinks followed in one lookup (MAXSYMLINKS). */
const MAX_LINKS = 40;

/**
 * `path` resolved as the kernel resolves it, one component at a time, checking on the way everything
 * whose owner or writers could make the path name another file: every directory passed through
 * (root or us as owner, writable by nobody else unless sticky, like /tmp) and every symlink met
 * (root or us as owner: in a sticky directory its owner may replace it). Directories above the path
 * as given count as much as those above its target: a link in a directory anyone can write is a
 * link anyone can swap. Returns the real path; the file itself is the caller's to check, through
 * its descriptor. A trust problem throws a ConfigError (owner-untrusted, writable-by-others); a
 * missing component throws its errno error.
 */
export function resolveOwnedPath(path: string, uid: number, noun: string, shown: string): string {
  const trusted = `root or the running user (uid ${uid})`;
  const checkOwner = (what: string, at: string, st: Stats, fix: string): void => {
    if (st.uid !== 0 && st.uid !== uid) {
      throw hookError('owner-untrusted', {
        what: `${noun} ${what} ${at}`,
        owner: st.uid,
        trusted,
        risk: `its owner could replace ${shown}`,
        fix,
      });
    }
  };
  const checkDirectory = (dir: string, st: Stats): void => {
    checkOwner('directory', dir, st, `chown root ${dir}, or move the ${noun} to a directory root owns`);
    // Whoever may write the directory may replace what is in it; a sticky directory (/tmp) forbids that.
    if (st.mode & 0o022 && !(st.mode & 0o1000)) {
      throw hookError('writable-by-others', {
        what: `${noun} directory ${dir}`,
        mode: (st.mode & 0o777).toString(8),
        besides: 'its owner',
        risk: `they could replace ${shown}`,
        path: dir,
      });
    }
  };
  let rest = (isAbsolute(path) ? path : `${process.cwd()}/${path}`).split('/').filter((c) => c !== '' && c !== '.');
  let at = '/';
  checkDirectory(at, lstatSync(at));
  let links = 0;
  while (rest.length > 0) {
    const name = rest.shift()!;
    // `at` is already real, so its parent is what the kernel's ".." gives, and was checked on the way.
    if (name === '..') {
      at = dirname(at);
      continue;
    }
    const next = at === '/' ? `/${name}` : `${at}/${name}`;
    const st = lstatSync(next);
    if (st.isSymbolicLink()) {
      if (++links > MAX_LINKS) throw Object.assign(new Error(`too many symbolic links in ${path}`), { code: 'ELOOP' });
      checkOwner('symlink', next, st, `replace ${next} with a link root owns`);
      const target = readlinkSync(next);
      if (isAbsolute(target)) at = '/';
      rest = [...target.split('/').filter((c) => c !== '' && c !== '.'), ...rest];
      continue;
    }
    if (st.isDirectory()) checkDirectory(next, st);
    else if (rest.length > 0) throw Object.assign(new Error(`${next} is not a directory`), { code: 'ENOTDIR' });
    at = next;
  }
  return at;
}

/**
 * The contents of a file that decides what we trust or run (the config, a CA certificate, a key),
 * read only when nobody but root or us could have put it there: the path checked as above, then the
 * file opened once, checked through that descriptor and read from it, so it cannot be swapped
 * between the check and the read. `secret`: nobody else may read it either (a private key).
 * Every problem throws a ConfigError, naming the file as `noun`; `fix` says what to do when it cannot be read.
 */
export function readOwnedFile(
  path: string,
  uid: number,
  what: { noun: string; fix: string; secret?: boolean },
): Buffer {
  return openOwnedFile(path, uid, what).data;
}

/** A file read by readOwnedFile's rules, with where it really is and its owner and mode as checked. */
export interface OwnedFile {
  data: Buffer;
  real: string;
  owner: number;
  group: number;
  mode: number;
}

/** readOwnedFile, also saying where the file really is and who owns it (see config/compiled.ts). */
export function openOwnedFile(
  path: string,
  uid: number,
  what: { noun: string; fix: string; secret?: boolean },
): OwnedFile {
  const { noun } = what;
  const unreadable = (err: unknown): never => {
    throw hookError('file-unreadable', {
      noun,
      path,
      errno: (err as NodeJS.ErrnoException).code ?? (err as Error).message,
      fix: what.fix,
    });
  };
  let real: string;
  try {
    real = realpathSync(path);
  } catch (err) {
    return unreadable(err);
  }
  const shown = real === path ? path : `${path} (${real})`;
  try {
    real = resolveOwnedPath(path, uid, noun, shown);
  } catch (err) {
    if (err instanceof HookError) throw err;
    return unreadable(err);
  }
  let fd: number;
  try {
    // O_NOFOLLOW: a symlink put in place since the walk is refused (ELOOP), not followed.
    // O_NONBLOCK: a FIFO must not hang the run; fstat refuses it below.
    fd = openSync(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    return unreadable(err);
  }
  try {
    const st = fstatSync(fd);
    const file = `${noun} file ${shown}`;
    if (!st.isFile()) throw hookError('file-not-regular', { what: `${noun} ${shown}` });
    if (st.uid !== 0 && st.uid !== uid)
      throw hookError('owner-untrusted', {
        what: file,
        owner: st.uid,
        trusted: `root or the running user (uid ${uid})`,
        fix: `chown root ${real}`,
      });
    const mode = (st.mode & 0o777).toString(8);
    if (st.mode & 0o022) throw hookError('writable-by-others', { what: file, mode, besides: 'its owner', path: real });
    if (what.secret && st.mode & 0o077) throw hookError('secret-exposed', { what: file, mode, path: real });
    return { data: readFileSync(fd), real, owner: st.uid, group: st.gid, mode: st.mode & 0o7777 };
  } finally {
    closeSync(fd);
  }
}
