// The config as `check` validated it, kept beside the config file for the failover path.
//
// Why: reading YAML and building and running the config's schemas is about half of what a hook run costs
// above Node's own start (docs/measurements.md). `check`, the step the runbook has after every edit,
// writes what it validated to `.<name>.compiled.json` beside the config. A run takes that file only when
// it is certain to be what parsing would give: made by this very build (the schemas are code), for this
// text byte for byte, and as trusted as the config itself (in the directory already walked for the
// config, owned by the config's owner, writable by nobody else). Anything else (no file, an edit since,
// another build, another owner, unreadable) and the run parses the config as before: the file can make a
// run faster, never different.
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import type { OwnedFile } from '../ownership.ts';
import type { HookConfig } from './schema.ts';

/** Set by scripts/build.mjs to the hash of the bundle's own text: the schemas that validated the config. */
declare const SENTINEL_HOOK_BUILD: string | undefined;
const THIS_BUILD = typeof SENTINEL_HOOK_BUILD === 'string' ? SENTINEL_HOOK_BUILD : undefined;
const FORMAT = 1;

export function compiledPath(real: string): string {
  const slash = real.lastIndexOf('/');
  return `${real.slice(0, slash + 1)}.${real.slice(slash + 1)}.compiled.json`;
}

/** The compiled config, or why the run parses the text instead (said in the hook log and by doctor). */
export type Compiled = { config: HookConfig } | { why: string };

export function readCompiled(file: OwnedFile, text: string, build = THIS_BUILD): Compiled {
  if (!build) return { why: 'run from source (only a build compiles)' };
  const path = compiledPath(file.real);
  let fd: number;
  try {
    // O_NOFOLLOW: a link is refused, not followed; O_NONBLOCK: a FIFO must not hang the run.
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { why: code === 'ENOENT' ? 'not compiled: run sentinel-hook check' : `${path}: ${code}` };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { why: `${path} is not a regular file` };
    // In a sticky directory such as /tmp anyone may create this name: only the config's owner is believed.
    if (st.uid !== file.owner) return { why: `${path} is owned by uid ${st.uid}, not by the config's owner` };
    if (st.mode & 0o022) return { why: `${path} is writable by others` };
    const saved = JSON.parse(readFileSync(fd, 'utf8')) as { format?: unknown; build?: unknown; source?: unknown };
    if (saved?.format !== FORMAT || saved.build !== build)
      return { why: 'compiled by another build of sentinel-hook: run sentinel-hook check' };
    if (saved.source !== text) return { why: 'config edited since it was compiled: run sentinel-hook check' };
    return { config: (saved as { config: HookConfig }).config };
  } catch (err) {
    return { why: `${path}: ${(err as Error).message}` };
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes the compiled config beside the config file, owned like it and readable by whoever may read it,
 * by rename so that a run reads the old file or the new one, never half of one. Returns where, or why not.
 */
export function writeCompiled(
  file: OwnedFile,
  text: string,
  config: HookConfig,
  build = THIS_BUILD,
): { path: string } | { why: string } {
  if (!build) return { why: 'run from source (only a build compiles)' };
  const json = JSON.stringify({ format: FORMAT, build, source: text, config });
  // What JSON cannot hold (undefined, a Map) would come back different: such a config is parsed every run.
  if (!isDeepStrictEqual((JSON.parse(json) as { config: unknown }).config, config))
    return { why: 'this config does not survive JSON' };
  const path = compiledPath(file.real);
  const tmp = `${path}.${process.pid}.tmp`;
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', 0o600);
    // As root for a config another user owns: the file must be theirs, or runs would not believe it.
    const st = fstatSync(fd);
    if (st.uid !== file.owner || st.gid !== file.group) fchownSync(fd, file.owner, file.group);
    // Readable by whoever may read the config (Sentinel's user), whatever the umask; never writable by more.
    fchmodSync(fd, file.mode & 0o644);
    writeFileSync(fd, `${json}\n`);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
    return { path };
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // never made
    }
    return { why: `cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
}
