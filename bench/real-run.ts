// Wall time of a real hook run (not a dry-run): an exec action running /bin/true, with the log file
// and lock directory in a temporary directory, next to bare `node -e 0`. This is the path a failover
// pays for the runner (spawning, the lazily loaded parts) on top of start-up.
// Runs are interleaved (one of each, repeated) so that load on the machine hits all alike.
// BENCH_BASELINE=/path/to/other/bin/sentinel-hook.cjs adds a second build to the same interleaving
// (e.g. the previous commit built in another directory), for a before/after in one sitting.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const EVENT = ['mymaster', 'leader', 'start', '10.0.0.1', '6379', '10.0.0.2', '6379'];

function once(args: string[]): number {
  const started = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function benchRealRun(): Record<string, number> {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-hook-bench-'));
  try {
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `log: { file: ${join(dir, 'hook.log')} }\nlockDir: ${join(dir, 'locks')}\nmasters:\n  mymaster:\n    - type: exec\n      run: [/bin/true]\n`,
    );
    chmodSync(config, 0o600);
    const subjects: [string, string[]][] = [
      ['node -e 0', ['-e', '0']],
      ['sentinel-hook (exec /bin/true)', [resolve(ROOT, 'bin/sentinel-hook.cjs'), '--config', config, ...EVENT]],
    ];
    const baseline = process.env.BENCH_BASELINE;
    if (baseline) subjects.push([`baseline ${baseline}`, [resolve(baseline), '--config', config, ...EVENT]]);
    // Warm the page cache, so "cold" means a new process, not a cold disk.
    for (let i = 0; i < 3; i++) for (const [, args] of subjects) once(args);
    const times = subjects.map((): number[] => []);
    for (let i = 0; i < RUNS; i++) {
      subjects.forEach(([, args], k) => {
        times[k]!.push(once(args));
      });
    }
    console.log(`real run (${RUNS} interleaved runs each, median wall time)`);
    const result: Record<string, number> = {};
    subjects.forEach(([name], k) => {
      const xs = times[k]!;
      result[name] = median(xs);
      console.log(
        `  ${name.padEnd(34)} ${median(xs).toFixed(1)} ms  (min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)})`,
      );
    });
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) benchRealRun();
