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
const { existsSync, readFileSync, writeFileSync } = require('node:fs');
const { Module } = require('node:module');
const { dirname, join } = require('node:path');
const vm = require('node:vm');

const dist = join(__dirname, '..', 'dist');
const writeCache = process.env.SENTINEL_HOOK_WRITE_CODE_CACHE === '1';
const loaded = new Map();
// A privileged helper runs as root and trusts only the files sudoers' check pins root-only (helperRuns):
// a code cache is bytecode V8 would run without reading the source, so the helper compiles instead.
const useCaches = require.main === module;

/** require() for one of our bundles, through its code cache; anything else is a normal require. */
function load(file) {
  if (loaded.has(file)) return loaded.get(file).exports;
  const source = readFileSync(file, 'utf8');
  let cachedData;
  try {
    if (useCaches) cachedData = readFileSync(`${file}.cache`);
  } catch {
    // no cache: compile as usual
  }
  const script = new vm.Script(Module.wrap(source), {
    filename: file,
    cachedData,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const mod = { exports: {} };
  loaded.set(file, mod);
  const base = Module.createRequire(file);
  const req = (id) => (id.startsWith('./') && id.endsWith('.cjs') ? load(join(dirname(file), id)) : base(id));
  script.runInThisContext()(mod.exports, req, mod, file, dirname(file));
  if (writeCache && !existsSync(`${file}.cache`))
    process.once('beforeExit', () => writeFileSync(`${file}.cache`, script.createCachedData()));
  return mod.exports;
}

const bundle = join(dist, 'sentinel-hook.cjs');
if (!existsSync(bundle)) {
  process.stderr.write(`sentinel-hook: ${bundle} is missing; run "npm ci" (or "npm run build") in ${dirname(dist)}\n`);
  // 2: Sentinel would only fail the same way again.
  process.exit(2);
}
const settle = (run) =>
  run.then((code) => {
    process.exitCode = code;
  });
if (require.main === module) {
  settle(load(bundle).main(process.argv.slice(2)));
} else {
  // Required by a privileged helper's script (bin/sentinel-hook-hosts-write): a plugin's helper has an
  // entry of its own, so no argv of the hook's (Sentinel's operands, a master named anything) reaches one.
  module.exports = { helper: (name, args) => settle(load(bundle).helperMain(name, args)) };
}
