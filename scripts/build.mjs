// Bundle the CLI: resolving and compiling hundreds of node_modules files costs several times
// Node's own start-up, and the hook runs on the failover path. Heavy modules (pino, execa, yaml,
// ssh2) stay behind dynamic import() in chunks of their own, loaded only by runs that need them.
import { build } from 'esbuild';

await build({
  entryPoints: { cli: 'src/cli.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  sourcemap: 'linked',
  external: ['ssh2', 'cpu-features'],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});
