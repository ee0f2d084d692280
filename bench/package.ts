// `npm run bench:package`: cold start of the Debian package's hook (build/sentinel-hook_*_amd64.deb,
// unpacked with dpkg-deb -x into a temp dir) next to its own runtime's `node -e 0` and the seed-000 script.
// Runs are interleaved (one of each, repeated), medians of BENCH_RUNS (default 20).
//   - dry-run and real run (one exec action running /bin/true, log and lock in a temp dir) through the
//     package's hooks/client-reconfig, as Sentinel starts it, with the JIT and with --jitless
//     (SENTINEL_HOOK_JITLESS=1, the hook setup under MemoryDenyWriteExecute=true);
//   - the seed-000 script (bench/seed000-failover.sh) on its demoted-host path (`sudo ip addr del`), in a
//     network namespace of its own without the interface (`unshare -n`, root only), so it changes nothing:
//     bash, sudo and ip started, which is what it costs before its first change;
//   - BENCH_INSTALL=<dir>[,<dir>…]: other installs laid out as the package's (e.g. the same app on Node 26,
//     made for docs/measurements.md), and BENCH_SEA=<executable>: a single executable application.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const EVENT = ['mymaster', 'leader', 'start', '192.0.2.1', '6379', '192.0.2.2', '6379'];

interface Subject {
  name: string;
  argv: string[];
  env?: Record<string, string>;
}

/** CPU times come in clock ticks (10 ms): their mean, unlike their median, is not a multiple of 10. */
function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const TIME = '/usr/bin/time';
const timeFile = join(tmpdir(), `sh-bench-package-${process.pid}.time`);
const cpu = new Map<string, number[]>();

/**
 * Wall time of one run, and its CPU time (user + system, read by /usr/bin/time when it is there): on a busy
 * machine the wall time mostly measures the others' load, the CPU time much less so.
 */
function once(s: Subject): number {
  const timed = existsSync(TIME) ? [TIME, '-f', '%U %S', '-o', timeFile, ...s.argv] : s.argv;
  const started = process.hrtime.bigint();
  const r = spawnSync(timed[0]!, timed.slice(1), {
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ...s.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  // The seed's `ip addr del` fails on purpose (no such device); everything else must succeed.
  if (r.status !== 0 && !s.name.startsWith('seed')) throw new Error(`${s.name} exited ${r.status}: ${r.stderr}`);
  if (timed !== s.argv) {
    const [user, system] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
    cpu.set(s.name, [...(cpu.get(s.name) ?? []), ((user ?? 0) + (system ?? 0)) * 1000]);
  }
  return ms;
}

function installSubjects(label: string, install: string, config: string, work: string): Subject[] {
  const hook = join(install, 'hooks/client-reconfig');
  // Each install compiles its own copy, as the runbook's `check` does on a host (src/config/compiled.ts); a
  // second copy, never checked, is what a run parses after an edit.
  const dir = mkdtempSync(join(work, 'config-'));
  const checked = join(dir, 'config.yaml');
  const parsed = join(dir, 'parsed.yaml');
  copyFileSync(config, checked);
  copyFileSync(config, parsed);
  const out = execFileSync(
    join(install, 'bin/node'),
    [join(install, 'bin/sentinel-hook.cjs'), 'check', '--config', checked],
    {
      encoding: 'utf8',
    },
  );
  if (!out.includes('failover path: the config as checked')) throw new Error(`${label}: check did not compile: ${out}`);
  const env = { SENTINEL_HOOK_CONFIG: checked };
  const jitless = { ...env, SENTINEL_HOOK_JITLESS: '1' };
  return [
    { name: `${label}: node -e 0`, argv: [join(install, 'bin/node'), '-e', '0'] },
    { name: `${label}: node --jitless -e 0`, argv: [join(install, 'bin/node'), '--jitless', '-e', '0'] },
    { name: `${label}: dry-run`, argv: [hook, '--dry-run', ...EVENT], env },
    {
      name: `${label}: dry-run, config edited since check`,
      argv: [hook, '--dry-run', ...EVENT],
      env: { SENTINEL_HOOK_CONFIG: parsed },
    },
    { name: `${label}: real run`, argv: [hook, ...EVENT], env },
    { name: `${label}: dry-run --jitless`, argv: [hook, '--dry-run', ...EVENT], env: jitless },
    { name: `${label}: real run --jitless`, argv: [hook, ...EVENT], env: jitless },
  ];
}

export function benchPackage(): Record<string, number> {
  const build = join(ROOT, 'build');
  const deb = readdirSync(build)
    .filter((f) => /^sentinel-hook_.*_amd64\.deb$/.test(f))
    .sort()
    .at(-1);
  if (!deb) throw new Error('no build/sentinel-hook_*_amd64.deb: run npm run package first');
  const dir = mkdtempSync(join(tmpdir(), 'sh-bench-package-'));
  try {
    execFileSync('dpkg-deb', ['-x', join(build, deb), join(dir, 'root')]);
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `log: { file: ${join(dir, 'hook.log')} }\nlockDir: ${join(dir, 'lock')}\nmasters:\n  mymaster:\n    - type: exec\n      run: [/bin/true]\n`,
      { mode: 0o600 },
    );
    const subjects = installSubjects(deb, join(dir, 'root/usr/lib/sentinel-hook'), config, dir);
    for (const [i, other] of (process.env.BENCH_INSTALL ?? '').split(',').filter(Boolean).entries())
      subjects.push(...installSubjects(`install ${i + 1} (${other})`, other, config, dir));
    const sea = process.env.BENCH_SEA;
    if (sea)
      subjects.push(
        { name: 'SEA: dry-run', argv: [sea, '--config', config, '--dry-run', ...EVENT] },
        { name: 'SEA: real run', argv: [sea, '--config', config, ...EVENT] },
      );
    if (process.getuid?.() === 0)
      subjects.push({
        name: 'seed-000 script (demoted host: sudo ip addr del)',
        argv: ['unshare', '-n', resolve(ROOT, 'bench/seed000-failover.sh'), ...EVENT],
        env: { SEED_MY_IP: '192.0.2.1' },
      });
    for (let i = 0; i < 3; i++) for (const s of subjects) once(s);
    cpu.clear();
    const times = subjects.map((): number[] => []);
    for (let i = 0; i < RUNS; i++)
      subjects.forEach((s, k) => {
        times[k]!.push(once(s));
      });
    console.log(`package cold start (${RUNS} interleaved runs each, median wall time; CPU: user + system, mean)`);
    const result: Record<string, number> = {};
    subjects.forEach((s, k) => {
      const xs = times[k]!;
      result[s.name] = median(xs);
      console.log(
        `  ${s.name.padEnd(60)} ${median(xs).toFixed(1)} ms  (min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)})${cpu.has(s.name) ? `  CPU ${mean(cpu.get(s.name)!).toFixed(0)} ms` : ''}`,
      );
    });
    const ratio = (run: string, base: string) => result[`${deb}: ${run}`]! / result[`${deb}: ${base}`]!;
    console.log(`  dry-run / node -e 0: ${ratio('dry-run', 'node -e 0').toFixed(2)}x (target <= 1.30x)`);
    console.log(
      `  dry-run, edited since check / node -e 0: ${ratio('dry-run, config edited since check', 'node -e 0').toFixed(2)}x`,
    );
    console.log(`  real run / node -e 0: ${ratio('real run', 'node -e 0').toFixed(2)}x`);
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(timeFile, { force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) benchPackage();
