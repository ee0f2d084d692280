// The state directory: what must outlive a reboot (the pause, the epoch acted on, exec's
// once-per-failover records, the last run). Same ownership rules as the lock directory (another user
// who could write there could fake a pause or a record); records found in the lock directory (where
// they lived before, on /run) are moved here once.
import { chownSync, lstatSync, mkdirSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readSmallFile, writeSmallFile } from './files.ts';
import { type LockDirUser, lockDirProblem, prepareLockDir } from './lock.ts';

/** The records that used to live in the lock directory. */
const RECORD = /^(paused|.+\.epoch|.+\.epoch\.ids|.+\.done|.+\.done\.ids|.+\.last-run\.json)$/;

const prepared = new Map<string, string | undefined>();

/**
 * Ready `dir` for records: created when missing and we may (root, or a parent we own), judged like the
 * lock directory, records moved over from `lockDir` once per process. Why it cannot be used, if it
 * cannot: callers go on without records (a failover is never dropped for them) and say so. When it is
 * the lock directory (a config without a stateDir of its own), it is made as that one is: `by` says who asks.
 */
export function prepareStateDir(
  dir: string,
  lockDir: string,
  uid: number,
  by: LockDirUser = 'command',
): string | undefined {
  const key = `${dir}\0${lockDir}\0${uid}\0${by}`;
  if (prepared.has(key)) return prepared.get(key);
  let problem: string | undefined;
  try {
    if (dir === lockDir) prepareLockDir(dir, uid, by);
    else if (uid === 0) problem = makeAsLockDirOwner(dir, lockDir);
    else mkdirSync(dir, { recursive: true, mode: 0o700 });
    problem ??= lockDirProblem(dir, uid);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    problem =
      dir === lockDir
        ? `is the lock directory: ${(err as Error).message}`
        : `is missing and cannot be created (${code})`;
  }
  if (!problem && dir !== lockDir) migrate(lockDir, dir);
  prepared.set(key, problem);
  return problem;
}

/**
 * Root making a missing state directory (a `pause` by hand before any unit ran): made root's, mode 700,
 * Sentinel's user could neither read the pause nor keep a record there, and watch would act through the
 * maintenance. It belongs to whoever owns the lock directory, the user every process serving these
 * masters already shares (the units' RuntimeDirectory= and StateDirectory= make both for User=). With no
 * lock directory to tell, root does not guess: the problem names the install -d line.
 */
function makeAsLockDirOwner(dir: string, lockDir: string): string | undefined {
  try {
    lstatSync(dir);
    return undefined;
  } catch {
    // missing (or unreadable, which lockDirProblem reports)
  }
  let owner: { uid: number; gid: number };
  try {
    const st = lstatSync(lockDir);
    if (!st.isDirectory()) throw new Error('not a directory');
    owner = { uid: st.uid, gid: st.gid };
  } catch {
    return `is missing, and so is the lock directory ${lockDir} that would tell whose it is`;
  }
  // Parents made here are traversable (as /var/lib is): only the directory itself is the owner's alone.
  mkdirSync(dirname(dir), { recursive: true, mode: 0o755 });
  mkdirSync(dir, { mode: 0o700 });
  try {
    chownSync(dir, owner.uid, owner.gid);
  } catch (err) {
    rmdirSync(dir);
    throw err;
  }
  return undefined;
}

function migrate(from: string, to: string): void {
  let names: string[] = [];
  try {
    names = readdirSync(from).filter((n) => RECORD.test(n));
  } catch {
    return;
  }
  for (const name of names) {
    const text = readSmallFile(join(from, name), 4096);
    if (text === undefined) continue;
    try {
      // Across file systems (/run is a tmpfs): copy, then remove; a record already here is newer.
      if (readSmallFile(join(to, name), 4096) === undefined) writeSmallFile(join(to, name), text);
      rmSync(join(from, name), { force: true });
    } catch {
      // left where it was: the next process tries again
    }
  }
}

/** What `forget` removes: every record of this master in the directory. */
export function forgetMaster(dir: string, master: string): string[] {
  const prefix = `${encodeURIComponent(master)}.`;
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter(
      (n) => n.startsWith(prefix) && /\.(epoch|epoch\.ids|done|done\.ids|older|last-run\.json)$/.test(n),
    );
  } catch {
    return [];
  }
  for (const name of names) rmSync(join(dir, name), { force: true });
  return names.map((n) => join(dir, n));
}
