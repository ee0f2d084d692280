// Build the CLI into a few CommonJS files plus V8 code caches.
//
// Why: the hook runs on the failover path, and Node 20 spends most of a cold start resolving,
// compiling and initialising modules — several times its own start-up when commander, zod, yaml
// and pino are loaded from node_modules. So:
// - one bundle (sentinel-hook.cjs) holds what every run needs;
// - pino, needed only by real runs, is a bundle of its own (pino.cjs), required lazily and
//   off the critical path (see deferredFileLogger): a dry-run never reads it;
// - so is execa (execa.cjs, ESM-only in node_modules, made CommonJS here), required by the
//   runner's first command: a dry-run starts none; ssh2 (ssh2.cjs), required by a hosts push; and
//   prom-client (prom-client.cjs), required only by watch serving metrics (metrics.listen);
// - each file gets a V8 code cache made here by warm-up runs (what Node 22's
//   module.enableCompileCache does; Node 20 lacks it), so V8 skips compiling what a run uses.
//   Caches are made at build time next to the bundles, never written while the hook runs.
// Nothing is left to load from node_modules at run time: `npm ci` deletes it before it rebuilds,
// while Sentinel may start the hook. The files go to a new directory that `dist` is switched to
// only when it is complete (see dist-switch.mjs).

import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build, transform } from 'esbuild';
import { heldBuildDirs, makeBuildDir, pruneBuilds, switchDist } from './dist-switch.mjs';

const ROOT = resolve(import.meta.dirname, '..');
// prom-client: watch's metrics only (metrics.listen); it would cost every hook run its load time.
// yaml: a run whose config `check` compiled (src/config/compiled.ts) never parses YAML, and the main bundle's
// code cache, made by such a run, then holds none of it.
const LAZY = {
  pino: './pino.cjs',
  execa: './execa.cjs',
  ssh2: './ssh2.cjs',
  'prom-client': './prom-client.cjs',
  yaml: './yaml.cjs',
};
// zod: a hook run whose config `check` compiled and whose operands pass event.ts's quick check never uses it.
// Its own bundle holds the names src/ uses (tree-shaken, as zod is in one bundle), and the main bundle a stub
// whose getters require it on first use.
const ZOD = 'zod/mini';
const ZOD_FILE = './zod.cjs';
const BUILD_PLACEHOLDER = 'sentinel-hook-build-id-'.padEnd(64, '0');
const lazyName = new RegExp(`^(${Object.keys(LAZY).join('|')})$`);
const lazyFile = new RegExp(`^(${[...Object.values(LAZY), ZOD_FILE].map((f) => f.replace(/[.]/g, '\\.')).join('|')})$`);

/**
 * ssh2's optional native parts, each required inside a try/catch: a stub that throws keeps them out of
 * the bundle and leaves ssh2 in its pure-JavaScript mode (what it runs in wherever they were not compiled,
 * as on a host without a compiler), instead of a require that would search node_modules at run time.
 */
const optionalNative = {
  name: 'ssh2-optional-native',
  setup(b) {
    b.onResolve({ filter: /^cpu-features$|\/sshcrypto\.node$/ }, (args) => ({ path: args.path, namespace: 'absent' }));
    b.onLoad({ filter: /.*/, namespace: 'absent' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`${args.path} is left out of the sentinel-hook bundle`)});`,
      loader: 'js',
    }));
  },
};

/**
 * Each bundle is written as the function the loader calls, so that the loader compiles the file as it is:
 * wrapping half a megabyte at run time (Module.wrap) costs a copy of it on every start. Under a loader
 * from before this (a package upgrade may pair an old bin/ with a new build for a moment), the file sits
 * inside Module.wrap's function, whose `arguments` it is then called with. Not `typeof module`: under
 * `node -e` (the hosts helper) that is a global.
 */
const WRAP_HEAD =
  '(function (f, a, t) { return a ? f.apply(t, a) : f; })(function (exports, require, module, __filename, __dirname) {';
const WRAP_TAIL = '\n}, typeof arguments === "object" ? arguments : undefined, this);';

const out = makeBuildDir(ROOT);
// Open until the build ends: a concurrent build's prune sees a directory in use (heldBuildDirs).
const hold = openSync(out, 'r');
const common = {
  absWorkingDir: ROOT,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minify: true,
  sourcemap: 'linked',
  logLevel: 'warning',
  metafile: true,
  plugins: [optionalNative],
  banner: { js: WRAP_HEAD },
  footer: { js: WRAP_TAIL },
};
const metafiles = [];
const zodNames = await usedZodNames();

try {
  await bundle();
  selfContained(metafiles);
  writeFileSync(join(out, 'bundled-packages.json'), `${JSON.stringify(bundledPackages(metafiles), null, 1)}\n`);
  warmUp();
} catch (err) {
  closeSync(hold);
  rmSync(out, { recursive: true, force: true });
  throw err;
}
const previous = switchDist(ROOT, out);
closeSync(hold);
// The previous build stays whatever /proc says: a hook that started just before the switch runs from it
// and may still load its lazy bundles, and /proc shows only our own user's processes unless we are root.
// It is also what a rollback points `dist` back at.
pruneBuilds(ROOT, [out, previous], heldBuildDirs());

async function bundle() {
  const main = await build({
    ...common,
    entryPoints: ['src/cli.ts'],
    outfile: join(out, 'sentinel-hook.cjs'),
    // `sentinel-hook --version` names the build it is, not whatever package.json lies beside it.
    define: {
      SENTINEL_HOOK_VERSION: JSON.stringify(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version),
      SENTINEL_HOOK_BUILD: JSON.stringify(BUILD_PLACEHOLDER),
    },
    plugins: [
      {
        name: 'lazy-bundles',
        setup(b) {
          // import('pino') becomes a lazily evaluated stub that requires pino.cjs when first
          // called (through the loader in bin/, so with its code cache); execa and ssh2 likewise.
          b.onResolve({ filter: lazyName }, (args) => ({ path: args.path, namespace: 'lazy' }));
          b.onLoad({ filter: /.*/, namespace: 'lazy' }, (args) => ({
            contents: `module.exports = require(${JSON.stringify(LAZY[args.path])});`,
            loader: 'js',
          }));
          b.onResolve({ filter: lazyFile }, (args) => ({ path: args.path, external: true }));
          // `import * as z from 'zod/mini'` in src/ (zod's own files import one another by relative paths).
          b.onResolve({ filter: /^zod\/mini$/ }, () => ({ path: ZOD, namespace: 'lazy-zod' }));
          b.onLoad({ filter: /.*/, namespace: 'lazy-zod' }, () => ({
            contents: `let m; const zod = () => (m ??= require(${JSON.stringify(ZOD_FILE)}));\nfor (const name of ${JSON.stringify(zodNames)}) Object.defineProperty(exports, name, { enumerable: true, get: () => zod()[name] });`,
            loader: 'js',
          }));
          // commander requires child_process at load time for external subcommands, which we never
          // use; child_process drags in node:net, ~10 ms of every start. Load it on first use instead.
          b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
            args.importer.includes('/node_modules/commander/')
              ? { path: 'child_process', namespace: 'lazy-builtin' }
              : undefined,
          );
          b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({
            contents: `let m; module.exports = new Proxy({}, { get: (_, key) => (m ??= require('node:${args.path}'))[key] });`,
            loader: 'js',
          }));
        },
      },
    ],
  });
  metafiles.push(main.metafile);
  const inMain = Object.keys(main.metafile.inputs).filter((i) => i.includes('node_modules/zod/'));
  if (inMain.length) throw new Error(`zod is in the main bundle (${inMain[0]}): only its stub may be`);
  for (const name of Object.keys(LAZY)) {
    const lazy = await build({
      ...common,
      stdin: { contents: `module.exports = require(${JSON.stringify(name)});`, resolveDir: ROOT, loader: 'js' },
      outfile: join(out, `${name}.cjs`),
    });
    metafiles.push(lazy.metafile);
  }
  const zod = await build({
    ...common,
    stdin: { contents: `export { ${zodNames.join(', ')} } from '${ZOD}';`, resolveDir: ROOT, loader: 'js' },
    outfile: join(out, ZOD_FILE),
  });
  metafiles.push(zod.metafile);
  stampBuild(join(out, 'sentinel-hook.cjs'), [join(out, ZOD_FILE), join(out, 'yaml.cjs')]);
}

/**
 * The names of zod's that src/ uses at run time (`z.string`, `z.globalRegistry.add`; not `z.core.$ZodType`,
 * a type): read from each file with its types stripped, as the bundle has it.
 */
async function usedZodNames() {
  const exported = new Set(Object.keys(createRequire(import.meta.url)(ZOD)));
  const used = new Set();
  for (const file of readdirSync(join(ROOT, 'src'), { recursive: true })) {
    if (!String(file).endsWith('.ts')) continue;
    const { code } = await transform(readFileSync(join(ROOT, 'src', String(file)), 'utf8'), { loader: 'ts' });
    for (const m of code.matchAll(/\bz\.([A-Za-z_$][\w$]*)/g)) if (exported.has(m[1])) used.add(m[1]);
  }
  return [...used].sort();
}

/**
 * A compiled config (src/config/compiled.ts) is believed only by the build that wrote it: the build's id is
 * the hash of the main bundle's text, which holds every schema, and of the zod and yaml that ran them. The
 * placeholder has the hash's length, so the source map's columns stay right.
 */
function stampBuild(file, alsoValidating) {
  const text = readFileSync(file, 'utf8');
  if (text.split(BUILD_PLACEHOLDER).length !== 2)
    throw new Error(`${file}: the build-id placeholder is not there once`);
  const hash = createHash('sha256').update(text);
  for (const other of alsoValidating) hash.update(readFileSync(other));
  const id = hash.digest('hex');
  writeFileSync(file, text.replace(BUILD_PLACEHOLDER, id));
}

/** What the bundles still require at run time must be Node's own modules or one another, never node_modules. */
function selfContained(metas) {
  const ours = new Set([...Object.values(LAZY), ZOD_FILE]);
  const outside = metas
    .flatMap((meta) => Object.values(meta.outputs))
    .flatMap((output) => output.imports)
    .filter((i) => i.external && !isBuiltin(i.path) && !ours.has(i.path))
    .map((i) => i.path);
  if (outside.length) throw new Error(`the bundles would require ${[...new Set(outside)].join(', ')} at run time`);
}

/** The npm packages inside the bundles, by directory: what the Debian package's copyright file must list. */
function bundledPackages(metas) {
  const dirs = new Set();
  for (const input of metas.flatMap((meta) => Object.keys(meta.inputs))) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) dirs.add(m[1]);
  }
  return [...dirs].sort();
}

/**
 * Warm-up runs of the new build, before anything can start it: a dry-run (what `check`, dry-runs and
 * every real run start with), then a real run of an exec action, which loads and caches pino and execa too.
 * Both read their config compiled, as a failover does once the runbook's `check` has run; the dry-run's
 * process then parses a copy, so that the main bundle's cache also holds the schemas for a config edited
 * since (it costs the compiled path ~0.5 ms, and saves the parsing path ~15: docs/measurements.md).
 */
function warmUp() {
  const warm = mkdtempSync(join(tmpdir(), 'sentinel-hook-build-'));
  try {
    const config = join(warm, 'config.yaml');
    writeFileSync(
      config,
      `log: { file: ${join(warm, 'hook.log')} }\nlockDir: ${warm}\nmasters:\n  mymaster:\n    - type: exec\n      run: [/bin/true, "{toIp}"]\n`,
    );
    chmodSync(config, 0o600);
    const example = join(warm, 'example.yaml');
    copyFileSync(join(ROOT, 'examples/exec/config.yaml'), example);
    chmodSync(example, 0o644);
    // The same config, never compiled: a run whose config was edited since `check` parses it.
    const parsed = join(warm, 'parsed.yaml');
    copyFileSync(example, parsed);
    // The directory, not "1": the loader runs from the build it writes caches for, not from the one `dist` names.
    const env = { ...process.env, SENTINEL_HOOK_WRITE_CODE_CACHE: out };
    const event = ['mymaster', 'leader', 'start', '192.0.2.1', '6379', '192.0.2.2', '6379'];
    const bin = join(ROOT, 'bin/sentinel-hook.cjs');
    for (const c of [example, config]) {
      // Its exit says how this host would fare (the example logs to /var/log/sentinel-hook): only the file counts,
      // where check says it kept it.
      const r = spawnSync(process.execPath, [bin, 'check', '--config', c], { env, encoding: 'utf8' });
      const kept = /^failover path: the config as checked, kept in (.+)$/m.exec(r.stdout ?? '')?.[1];
      if (!kept || !existsSync(kept))
        throw new Error(`the warm-up's check did not compile ${c}:\n${r.stdout}${r.stderr}`);
    }
    // check's own caches are not the failover's: made again below.
    for (const name of readdirSync(out)) if (name.endsWith('.cache')) rmSync(join(out, name));
    // Once with the JIT, once with --jitless as hooks/client-reconfig starts node under MemoryDenyWriteExecute
    // (SENTINEL_HOOK_JITLESS=1): V8 takes a cache only under the flags it was made with.
    for (const flags of [[], ['--jitless']]) {
      execFileSync(process.execPath, [...flags, bin, '--config', example, '--dry-run', ...event], {
        env: { ...env, SENTINEL_HOOK_WARM_UP_THEN: JSON.stringify(['--config', parsed, '--dry-run', ...event]) },
        stdio: 'ignore',
      });
      execFileSync(process.execPath, [...flags, bin, '--config', config, ...event], { env, stdio: 'ignore' });
    }
  } finally {
    rmSync(warm, { recursive: true, force: true });
  }
}
