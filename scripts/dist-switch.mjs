// Where a build goes and how it is put in place, so that an install or an upgrade never has a moment
// in which the hook exists but cannot run: Sentinel reads that exit 2 as "drop this failover".
//
// Each build writes a directory of its own (dist.<time>-<pid>), complete with its code caches, and
// only then is `dist`, a symbolic link, pointed at it by rename(2): atomic, so every start of the hook
// finds the old build or the new one, whole. bin/sentinel-hook.cjs resolves the link once per run and
// keeps the build's directory open until it exits; that is how a build knows which old directories a
// running process may still load a lazy bundle from.

import { lstatSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { basename, join } from 'node:path';

const LINK = 'dist';
const BUILD = /^dist\.\d{8}T\d{9}Z-\d+$/;
const TEMP_LINK = /^dist\.link-(\d+)$/;

/** A new, empty build directory under `root`; names sort oldest first. */
export function makeBuildDir(root, now = new Date()) {
  const stamp = now.toISOString().replace(/[-:.]/g, '');
  const dir = join(root, `${LINK}.${stamp}-${process.pid}`);
  mkdirSync(dir, { mode: 0o755 });
  return dir;
}

/** The build `root/dist` leads to now: a link's target, an old-layout directory itself, or undefined. */
export function currentBuild(root) {
  const link = join(root, LINK);
  let st;
  try {
    st = lstatSync(link);
  } catch (err) {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  }
  if (st.isSymbolicLink()) return join(root, readlinkSync(link));
  return st.isDirectory() ? link : undefined;
}

/**
 * Point `root/dist` at `buildDir`; returns the build it led to before (what a run that started just
 * before the switch is using), or undefined.
 */
export function switchDist(root, buildDir) {
  const link = join(root, LINK);
  const previous = currentBuild(root);
  const temp = join(root, `${LINK}.link-${process.pid}`);
  rmSync(temp, { force: true });
  // Relative: a checkout reached through a bind mount (the tests' redis runs) or moved stays whole.
  symlinkSync(basename(buildDir), temp);
  try {
    renameSync(temp, link);
    return previous;
  } catch (err) {
    if (err.code !== 'EISDIR' && err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') {
      rmSync(temp, { force: true });
      throw err;
    }
  }
  // `dist` is a directory of a build from before this layout, and rename(2) cannot put a link in its
  // place. Move it aside under a build's name (pruned like one), then rename the link in: a hook that
  // starts between the two renames finds no dist and waits a little for it (bin/sentinel-hook.cjs).
  // Dated 1970: it is older than any build of this layout.
  const aside = join(root, `${LINK}.${new Date(0).toISOString().replace(/[-:.]/g, '')}-${process.pid}`);
  renameSync(link, aside);
  renameSync(temp, link);
  return aside;
}

/**
 * Build directories that some process holds open, as "dev:ino" (a bind mount shows a directory under
 * another path, never under another inode); undefined without /proc. A process of another user is
 * invisible unless we are root: its fd list is not ours to read.
 */
export function heldBuildDirs() {
  let pids;
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  const held = new Set();
  for (const pid of pids) {
    let fds;
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      const path = `/proc/${pid}/fd/${fd}`;
      try {
        if (!/\/dist\.[^/]+$/.test(readlinkSync(path))) continue;
        const st = statSync(path);
        held.add(`${st.dev}:${st.ino}`);
      } catch {
        // closed meanwhile
      }
    }
  }
  return held;
}

/**
 * Remove the build directories under `root` that no process can still need: every one but `keep`
 * and those `held` open by a running process (heldBuildDirs()). Without /proc (`held` undefined)
 * nobody can tell: nothing is removed. Returns the names removed.
 */
export function pruneBuilds(root, keep, held) {
  if (!held) return [];
  const id = (path) => {
    const st = statSync(path);
    return `${st.dev}:${st.ino}`;
  };
  const kept = new Set(keep.filter(Boolean).map(id));
  const removed = [];
  for (const name of readdirSync(root)) {
    const path = join(root, name);
    const temp = TEMP_LINK.exec(name);
    if (temp) {
      // A build that died between making its link and renaming it.
      if (!alive(Number(temp[1]))) {
        rmSync(path, { force: true });
        removed.push(name);
      }
      continue;
    }
    if (!BUILD.test(name) || !lstatSync(path).isDirectory()) continue;
    const dirId = id(path);
    if (kept.has(dirId) || held.has(dirId)) continue;
    rmSync(path, { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}
