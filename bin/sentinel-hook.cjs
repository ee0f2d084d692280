#!/usr/bin/env node
'use strict';
// Loads the bundled CLI (dist/) with the V8 code caches made at build time, so a cold start skips
// most compilation (see scripts/build.mjs). CommonJS on purpose: Node 20's ESM loader adds
// milliseconds to every start, and this file runs on Sentinel's failover path.
// A cache from another Node version is rejected by V8 and the bundle is compiled as usual.
// process.getBuiltinModule (Node 20.16) is how the bundle reaches node:dns and friends inside vm.Script.
if (typeof process.getBuiltinModule !== 'function') {
  require('node:fs').writeSync(
    2,
    `sentinel-hook: Node ${process.version} is too old: 20.16 or later is needed (set SENTINEL_HOOK_NODE to a newer node)\n`,
  );
  // 2, as for a missing node: a retry runs the same Node.
  process.exit(2);
}
const {
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  writeFileSync,
} = require('node:fs');
const { Module } = require('node:module');
const vm = require('node:vm');

// Plain string joins: the first calls of node:path's join run cold, about half a millisecond for the dozen
// paths below, on every start. Every path here is absolute and made of names we chose.
const dirname = (path) => path.slice(0, path.lastIndexOf('/'));

/**
 * The build this run loads every file from, resolved once: an upgrade may switch `dist` to another
 * build while the run lasts, and one run must not mix the files of two (see scripts/dist-switch.mjs).
 */
function openBuild(link) {
  // Ten tries 20 ms apart: the only moment `dist` is missing in a built install is the first switch
  // from a dist/ directory to a link, two renames apart. A checkout never built waits 0.2 s to exit 2.
  for (let attempt = 1; ; attempt++) {
    let fd;
    try {
      fd = openSync(link, 'r');
    } catch (err) {
      if (err.code !== 'ENOENT' || attempt === 10) return link;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      continue;
    }
    // fd stays open until the process exits: a build keeps the old directories some process holds, so a
    // long-running watch still finds the lazy bundles it has not loaded yet. Its own path, not the link's
    // target read again: that could already name the next build.
    try {
      return readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return realpathSync(link);
    }
  }
}

// A build's warm-up run names the build it makes caches for: `dist` does not lead there yet.
const warmUp = process.env.SENTINEL_HOOK_WRITE_CODE_CACHE;
const writeCache = !!warmUp;
const dist = warmUp || openBuild(`${dirname(__dirname)}/dist`);
const loaded = new Map();
// Every file of the build opened now, read later through its descriptor: a package upgrade deletes the old
// build's files once it has switched `dist` (dpkg removes what the new version no longer has), and a run
// that started on the old build may need its lazy bundles after that. An open file outlives its name.
const pinned = new Map();
// V8 rejects a cache made under other flags: --jitless (the hook setup under MemoryDenyWriteExecute) has its own.
const cacheSuffix = process.execArgv.includes('--jitless') ? '.jitless.cache' : '.cache';
try {
  // This run's flavour of cache only: it never reads the other, and every open is time on the failover path.
  for (const name of readdirSync(dist))
    if (name.endsWith('.cjs') || name.endsWith(`.cjs${cacheSuffix}`)) {
      const path = `${dist}/${name}`;
      pinned.set(path, openSync(path, 'r'));
    }
} catch {
  // not built: reported below
}
const read = (file, encoding) => readFileSync(pinned.get(file) ?? file, encoding);
// A privileged helper runs as root and trusts only the files sudoers' check pins root-only (helperRuns):
// a code cache is bytecode V8 would run without reading the source, so the helper compiles instead.
const useCaches = require.main === module;
/** require() for one of our bundles, through its code cache; anything else is a normal require. */
function load(file) {
  if (loaded.has(file)) return loaded.get(file).exports;
  const source = read(file, 'utf8');
  let cachedData;
  try {
    if (useCaches) cachedData = read(`${file}${cacheSuffix}`);
  } catch {
    // no cache: compile as usual
  }
  // The build writes each bundle as the function to call (see WRAP_HEAD in scripts/build.mjs); a build
  // from before that is a plain CommonJS file, wrapped here.
  const script = new vm.Script(source.startsWith('(function (f, a, t) {') ? source : Module.wrap(source), {
    filename: file,
    cachedData,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const mod = { exports: {} };
  loaded.set(file, mod);
  const base = Module.createRequire(file);
  const req = (id) => (id.startsWith('./') && id.endsWith('.cjs') ? load(`${dirname(file)}/${id.slice(2)}`) : base(id));
  script.runInThisContext()(mod.exports, req, mod, file, dirname(file));
  if (writeCache && !existsSync(`${file}${cacheSuffix}`))
    process.once('beforeExit', () => writeFileSync(`${file}${cacheSuffix}`, script.createCachedData()));
  return mod.exports;
}

const bundle = `${dist}/sentinel-hook.cjs`;
if (!existsSync(bundle)) {
  process.stderr.write(
    `sentinel-hook: ${bundle} is missing; run "npm ci" (or "npm run build") in ${dirname(__dirname)}\n`,
  );
  // 2: Sentinel would only fail the same way again.
  process.exit(2);
}
const settle = (run) =>
  run.then((code) => {
    process.exitCode = code;
  });
if (require.main === module) {
  const run = load(bundle).main(process.argv.slice(2));
  // A build's warm-up runs a second command in the same process, so that one code cache holds what both
  // compiled: a run that reads its config compiled, then one that parses it (see scripts/build.mjs).
  const then = warmUp && process.env.SENTINEL_HOOK_WARM_UP_THEN;
  settle(
    then
      ? run.then((code) =>
          load(bundle)
            .main(JSON.parse(then))
            .then(() => code),
        )
      : run,
  );
} else {
  // Required by a privileged helper's script (bin/sentinel-hook-hosts-write): a plugin's helper has an
  // entry of its own, so no argv of the hook's (Sentinel's operands, a master named anything) reaches one.
  module.exports = { helper: (name, args) => settle(load(bundle).helperMain(name, args)) };
}
