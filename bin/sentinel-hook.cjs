#!/usr/bin/env node
'use strict';
// Loads the bundled CLI (dist/sentinel-hook.cjs) with the V8 code cache made at build time, so
// a cold start skips most compilation (see scripts/build.mjs). CommonJS on purpose: Node 20's
// ESM loader adds milliseconds to every start, and this file runs on the failover path.
// A cache from another Node version is rejected by V8 and the bundle is compiled as usual.
const { readFileSync, writeFileSync } = require('node:fs');
const { Module } = require('node:module');
const { dirname, join } = require('node:path');
const vm = require('node:vm');

const bundle = join(__dirname, '..', 'dist', 'sentinel-hook.cjs');
let source;
try {
  source = readFileSync(bundle, 'utf8');
} catch {
  process.stderr.write(`sentinel-hook: ${bundle} is missing; run "npm ci" (or "npm run build") in ${dirname(__dirname)}\n`);
  // 2: Sentinel would only fail the same way again.
  process.exit(2);
}
let cachedData;
try {
  cachedData = readFileSync(`${bundle}.cache`);
} catch {
  // no cache: compile as usual
}
const script = new vm.Script(Module.wrap(source), {
  filename: bundle,
  cachedData,
  importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
});
const cli = { exports: {} };
script.runInThisContext()(cli.exports, Module.createRequire(bundle), cli, bundle, dirname(bundle));
cli.exports.main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  if (process.env.SENTINEL_HOOK_WRITE_CODE_CACHE === '1') writeFileSync(`${bundle}.cache`, script.createCachedData());
});
