// Build the CLI into one file plus a V8 code cache.
//
// Why: the hook runs on the failover path, and Node 20 spends most of a cold start resolving,
// compiling and initialising modules — several times its own start-up when commander, zod,
// yaml, pino and execa are loaded from node_modules. One CommonJS bundle is one file to read;
// heavy modules stay behind lazy import() so only runs that need them initialise them; and the
// code cache (what Node 22's module.enableCompileCache does, which Node 20 lacks) lets V8 skip
// compiling the functions a typical run uses. The cache is made here, at build time, next to the
// bundle, never at run time: nothing the hook loads is written while it runs.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
await build({
  entryPoints: ['src/cli.ts'],
  outfile: 'dist/sentinel-hook.cjs',
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minify: true,
  sourcemap: 'linked',
  // ssh2 loads an optional native addon by path: keep it a plain runtime require.
  external: ['ssh2', 'cpu-features'],
  logLevel: 'warning',
});

// Warm-up run: compiles what a dry-run of an exec event and `check` touch, then saves V8's cache.
const env = { ...process.env, SENTINEL_HOOK_WRITE_CODE_CACHE: '1' };
execFileSync(process.execPath, ['bin/sentinel-hook.cjs', '--config', 'examples/exec/config.yaml', '--dry-run', 'mymaster', 'leader', 'start', '192.0.2.1', '6379', '192.0.2.2', '6379'], { env, stdio: 'ignore' });
