// Cold start of `sentinel-hook --dry-run` for an exec event, next to bare `node -e 0`, same run: with the
// example config as `check` keeps it compiled (what a host runs after the runbook), and with a copy never
// checked, which every run parses (src/config/compiled.ts).
// Runs are interleaved (one of each, repeated) so that load on the machine hits all alike.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const EVENT = ['mymaster', 'leader', 'start', '192.0.2.1', '6379', '192.0.2.2', '6379'];
const dryRun = (config: string) => [resolve(ROOT, 'bin/sentinel-hook.cjs'), '--config', config, '--dry-run', ...EVENT];
const bare = ['-e', '0'];

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

export function benchStartup(): { node: number; hook: number; parsed: number; ratio: number } {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-hook-bench-'));
  try {
    const compiled = join(dir, 'compiled.yaml');
    const parsed = join(dir, 'parsed.yaml');
    copyFileSync(resolve(ROOT, 'examples/exec/config.yaml'), compiled);
    copyFileSync(compiled, parsed);
    const checked = spawnSync(
      process.execPath,
      [resolve(ROOT, 'bin/sentinel-hook.cjs'), 'check', '--config', compiled],
      {
        encoding: 'utf8',
      },
    );
    if (!/failover path: the config as checked/.test(checked.stdout))
      throw new Error(`check did not compile the example: ${checked.stdout}${checked.stderr}`);
    const subjects = [bare, dryRun(compiled), dryRun(parsed)];
    // Warm the page cache, so "cold" means a new process, not a cold disk.
    for (let i = 0; i < 3; i++) for (const s of subjects) once(s);
    const times = subjects.map((): number[] => []);
    for (let i = 0; i < RUNS; i++) for (const [k, s] of subjects.entries()) times[k]!.push(once(s));
    const [nodeMs, hookMs, parsedMs] = times as [number[], number[], number[]];
    const result = {
      node: median(nodeMs),
      hook: median(hookMs),
      parsed: median(parsedMs),
      ratio: median(hookMs) / median(nodeMs),
    };
    const line = (name: string, xs: number[]) =>
      `  ${name.padEnd(45)} ${median(xs).toFixed(1)} ms  (min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)})`;
    console.log(`startup (${RUNS} interleaved runs each, median wall time)`);
    console.log(line('node -e 0', nodeMs));
    console.log(line('sentinel-hook --dry-run (exec, checked)', hookMs));
    console.log(line('sentinel-hook --dry-run (exec, edited since)', parsedMs));
    console.log(`  ratio, checked                                ${result.ratio.toFixed(2)}x  (target <= 1.30x)`);
    console.log(`  ratio, edited since check (parses the YAML)   ${(result.parsed / result.node).toFixed(2)}x`);
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) benchStartup();
