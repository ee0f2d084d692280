// Build the CLI into a few CommonJS files plus V8 code caches.
//
// Why: the hook runs on the failover path, and Node 20 spends most of a cold start resolving,
// compiling and initialising modules — several times its own start-up when commander, zod, yaml
// and pino are loaded from node_modules. So:
// - one bundle (dist/sentinel-hook.cjs) holds what every run needs;
// - pino, needed only by real runs, is a bundle of its own (dist/pino.cjs), required lazily and
//   off the critical path (see deferredFileLogger): a dry-run never reads it;
// - so is execa (dist/execa.cjs, ESM-only in node_modules, made CommonJS here), required by the
//   runner's first command: a dry-run starts none;
// - each file gets a V8 code cache made here by warm-up runs (what Node 22's
//   module.enableCompileCache does; Node 20 lacks it), so V8 skips compiling what a run uses.
//   Caches are made at build time next to the bundles, never written while the hook runs.

import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';

const LAZY = { pino: './pino.cjs', execa: './execa.cjs' };

rmSync('dist', { recursive: true, force: true });
const common = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minify: true,
  sourcemap: 'linked',
  logLevel: 'warning',
};

await build({
  ...common,
  entryPoints: ['src/cli.ts'],
  outfile: 'dist/sentinel-hook.cjs',
  // `sentinel-hook --version` names the build it is, not whatever package.json lies beside it.
  define: { SENTINEL_HOOK_VERSION: JSON.stringify(JSON.parse(readFileSync('package.json', 'utf8')).version) },
  // ssh2 loads an optional native addon by path: keep it a plain runtime require.
  external: ['ssh2', 'cpu-features'],
  plugins: [
    {
      name: 'lazy-bundles',
      setup(b) {
        // import('pino') becomes a lazily evaluated stub that requires dist/pino.cjs when first
        // called (through the loader in bin/, so with its code cache); import('execa') likewise.
        b.onResolve({ filter: /^(pino|execa)$/ }, (args) => ({ path: args.path, namespace: 'lazy' }));
        b.onLoad({ filter: /.*/, namespace: 'lazy' }, (args) => ({
          contents: `module.exports = require(${JSON.stringify(LAZY[args.path])});`,
          loader: 'js',
        }));
        b.onResolve({ filter: /^\.\/(pino|execa)\.cjs$/ }, (args) => ({ path: args.path, external: true }));
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
for (const name of Object.keys(LAZY)) {
  await build({
    ...common,
    stdin: { contents: `module.exports = require(${JSON.stringify(name)});`, resolveDir: '.', loader: 'js' },
    outfile: `dist/${name}.cjs`,
  });
}

// Warm-up runs: a dry-run (what `check`, dry-runs and every real run start with), then a real
// run of an exec action, which loads and caches pino and execa too.
const warm = mkdtempSync(join(tmpdir(), 'sentinel-hook-build-'));
try {
  const config = join(warm, 'config.yaml');
  writeFileSync(
    config,
    `log: { file: ${join(warm, 'hook.log')} }\nlockDir: ${warm}\nmasters:\n  mymaster:\n    - type: exec\n      run: [/bin/true, "{toIp}"]\n`,
  );
  chmodSync(config, 0o600);
  const env = { ...process.env, SENTINEL_HOOK_WRITE_CODE_CACHE: '1' };
  const event = ['mymaster', 'leader', 'start', '192.0.2.1', '6379', '192.0.2.2', '6379'];
  execFileSync(
    process.execPath,
    ['bin/sentinel-hook.cjs', '--config', 'examples/exec/config.yaml', '--dry-run', ...event],
    { env, stdio: 'ignore' },
  );
  execFileSync(process.execPath, ['bin/sentinel-hook.cjs', '--config', config, ...event], { env, stdio: 'ignore' });
} finally {
  rmSync(warm, { recursive: true, force: true });
}
