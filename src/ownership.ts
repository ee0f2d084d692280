import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import type { HookError } from './errors.ts';

/** Linux's own limit on symlinks followed in one lookup (MAXSYMLINKS). */
const MAX_LINKS = 40;

/**
 * `path` resolved as the kernel resolves it, one component at a time, checking on the way everything
 * whose owner or writers could make the path name another file: every directory passed through
 * (root or us as owner, writable by nobody else unless sticky, like /tmp) and every symlink met
 * (root or us as owner: in a sticky directory its owner may replace it). Directories above the path
 * as given count as much as those above its target: a link in a directory anyone can write is a
 * link anyone can swap. Returns the real path; the file itself is the caller's to check, through
 * its descriptor. A trust problem throws `fail(message, fix)`; a missing component throws its errno error.
 */
export function resolveOwnedPath(path: string, uid: number, noun: string, shown: string, fail: (message: string, fix: string) => HookError): string {
  const checkOwner = (what: string, at: string, st: Stats, fix: string): void => {
    if (st.uid !== 0 && st.uid !== uid) {
      throw fail(`${noun} ${what} ${at} is owned by uid ${st.uid}, not root or the running user (uid ${uid}): its owner could replace ${shown}`, fix);
    }
  };
  const checkDirectory = (dir: string, st: Stats): void => {
    checkOwner('directory', dir, st, `chown root ${dir}, or move the ${noun} to a directory root owns`);
    // Whoever may write the directory may replace what is in it; a sticky directory (/tmp) forbids that.
    if (st.mode & 0o022 && !(st.mode & 0o1000)) {
      throw fail(`${noun} directory ${dir} is writable by users other than its owner (mode ${(st.mode & 0o777).toString(8)}): they could replace ${shown}`, `chmod go-w ${dir}`);
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
