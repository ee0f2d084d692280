// The tests and the lab run the hook as `redis`, as Sentinel does, and it must reach this checkout.
// A clone in root's home (/root is mode 700, where root usually clones) is out of its reach, and
// loosening the user's own directories is not ours to do. So such a checkout is shown to redis at a
// path it can reach, read-only, as a real install under /opt would be.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, realpathSync, rmdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { alive } from '../../src/state/files.ts';

/** This checkout (CI and users clone anywhere). */
export const CHECKOUT = realpathSync(join(import.meta.dirname, '..', '..'));

const MOUNT_PREFIX = 'sentinel-hook-checkout-';
/** What must be readable by others for the hook to start from the checkout (umask 077 would defeat any path). */
const HOOK_FILES = ['hooks/client-reconfig', 'bin/sentinel-hook.cjs', 'dist/sentinel-hook.cjs'];

let reachable: string | undefined;

/**
 * The checkout at a path other users can reach: the checkout itself when every directory above it is
 * searchable by others, else a read-only bind mount of it on a fresh directory in the temp dir, made
 * once per process and lazily unmounted (by its path) when the process exits.
 */
export function reachableCheckout(): string {
  reachable ??= searchableByOthers(dirname(CHECKOUT)) ? CHECKOUT : mountCheckout();
  return reachable;
}

/** `path` (inside the checkout) as redis must name it; paths elsewhere are returned unchanged. */
export function reachablePath(path: string): string {
  const rel = relative(CHECKOUT, path);
  return rel.startsWith('..') || isAbsolute(rel) ? path : join(reachableCheckout(), rel);
}

function searchableByOthers(dir: string): boolean {
  for (let d = dir; ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) return false;
    if (d === dirname(d)) return true;
  }
}

function mountCheckout(): string {
  // Without root nothing can be mounted, and nothing runs as redis either (those tests are skipped).
  if (process.getuid?.() !== 0) return CHECKOUT;
  sweepStaleMounts();
  const dir = mkdtempSync(join(tmpdir(), `${MOUNT_PREFIX}${process.pid}-`));
  chmodSync(dir, 0o755);
  if (!searchableByOthers(dir))
    throw new Error(`${tmpdir()} is not searchable by other users: set TMPDIR to a directory that is (e.g. /tmp)`);
  const r = spawnSync('mount', ['--bind', '-o', 'ro', CHECKOUT, dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmdirSync(dir);
    throw new Error(`mount --bind ${CHECKOUT} ${dir} failed: ${r.stderr.trim() || r.error}`);
  }
  process.on('exit', () => unmount(dir));
  const closed = HOOK_FILES.filter((file) => !openToOthers(dir, file));
  if (closed.length)
    throw new Error(
      `other users cannot read ${closed.join(', ')} in ${CHECKOUT} (cloned with umask 077?): chmod -R o+rX ${CHECKOUT}`,
    );
  return dir;
}

/** Every directory from `root` down to `file` searchable by others and the file readable; a missing file passes (a build makes it). */
function openToOthers(root: string, file: string): boolean {
  let path = root;
  for (const part of ['', ...file.split('/')]) {
    path = join(path, part);
    let mode: number;
    try {
      mode = statSync(path).mode;
    } catch {
      return true;
    }
    if ((mode & (path === join(root, file) ? 0o004 : 0o001)) === 0) return false;
  }
  return true;
}

function unmount(dir: string): void {
  spawnSync('umount', ['-l', dir]);
  try {
    rmdirSync(dir);
  } catch {
    // still mounted: leave it rather than delete anything through it
  }
}

/** Mounts of processes that died before their exit handler ran (SIGKILL, a timeout). */
function sweepStaleMounts(): void {
  for (const name of readdirSync(tmpdir())) {
    const pid = Number(new RegExp(`^${MOUNT_PREFIX}(\\d+)-`).exec(name)?.[1]);
    if (pid && !alive(pid)) unmount(join(tmpdir(), name));
  }
}
