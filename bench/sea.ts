// The single-executable alternative the package does not ship, built for its measurements
// (docs/measurements.md, "Package"): Node 24's SEA (node --experimental-sea-config, then postject from npm,
// fetched by npx at bench time only) around one bundle of the whole CLI, with V8's code cache in the blob.
//   node --import tsx bench/sea.ts <out-dir>   → <out-dir>/sentinel-hook, then
//   BENCH_SEA=<out-dir>/sentinel-hook npm run bench:package
// It prints the executable's size. Run it with the runtime it wraps (npm puts node_modules/.bin/node first).
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '..');
const out = resolve(process.argv[2] ?? join(ROOT, 'build/sea'));
mkdirSync(out, { recursive: true });

// One file: a SEA's main script can require Node's own modules only, so nothing is lazy here.
await build({
  absWorkingDir: ROOT,
  stdin: {
    contents:
      "import { main } from './src/cli.ts';\nmain(process.argv.slice(2)).then((code) => { process.exitCode = code; });\n",
    resolveDir: ROOT,
    loader: 'ts',
  },
  outfile: join(out, 'main.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node24',
  minify: true,
  logLevel: 'warning',
  define: {
    SENTINEL_HOOK_VERSION: JSON.stringify(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version),
  },
  plugins: [
    {
      name: 'ssh2-optional-native',
      setup(b) {
        b.onResolve({ filter: /^cpu-features$|\/sshcrypto\.node$/ }, (args) => ({
          path: args.path,
          namespace: 'absent',
        }));
        b.onLoad({ filter: /.*/, namespace: 'absent' }, () => ({
          contents: 'throw new Error("absent");',
          loader: 'js',
        }));
      },
    },
  ],
});
writeFileSync(
  join(out, 'sea-config.json'),
  JSON.stringify({
    main: join(out, 'main.cjs'),
    output: join(out, 'sea-prep.blob'),
    disableExperimentalSEAWarning: true,
    useCodeCache: true,
  }),
);
execFileSync(process.execPath, ['--experimental-sea-config', join(out, 'sea-config.json')], { stdio: 'inherit' });
const exe = join(out, 'sentinel-hook');
copyFileSync(process.execPath, exe);
chmodSync(exe, 0o755);
execFileSync(
  'npx',
  [
    '--yes',
    'postject@1.0.0-alpha.6',
    exe,
    'NODE_SEA_BLOB',
    join(out, 'sea-prep.blob'),
    '--sentinel-fuse',
    'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2',
  ],
  { stdio: 'inherit' },
);
console.log(`${exe}: ${(statSync(exe).size / 1e6).toFixed(1)} MB`);
