// Cold start of `sentinel-hook --dry-run` for an exec event, next to bare `node -e 0`, same run.
// Runs are interleaved (one of each, repeated) so that load on the machine hits both alike.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const hook = [
  resolve(ROOT, 'bin/sentinel-hook.cjs'),
  '--config',
  resolve(ROOT, 'examples/exec/config.yaml'),
  '--dry-run',
  'mymaster',
  'leader',
  'start',
  '192.0.2.1',
  '6379',
  '192.0.2.2',
  '6379',
];
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

export function benchStartup(): { node: number; hook: number; ratio: number } {
  // Warm the page cache for both, so "cold" means a new process, not a cold disk.
  for (let i = 0; i < 3; i++) {
    once(bare);
    once(hook);
  }
  const nodeMs: number[] = [];
  const hookMs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    nodeMs.push(once(bare));
    hookMs.push(once(hook));
  }
  const result = { node: median(nodeMs), hook: median(hookMs), ratio: median(hookMs) / median(nodeMs) };
  console.log(`startup (${RUNS} interleaved runs each, median wall time)`);
  console.log(
    `  node -e 0                          ${result.node.toFixed(1)} ms  (min ${Math.min(...nodeMs).toFixed(1)}, max ${Math.max(...nodeMs).toFixed(1)})`,
  );
  console.log(
    `  sentinel-hook --dry-run (exec)     ${result.hook.toFixed(1)} ms  (min ${Math.min(...hookMs).toFixed(1)}, max ${Math.max(...hookMs).toFixed(1)})`,
  );
  console.log(`  ratio                              ${result.ratio.toFixed(2)}x  (target <= 1.30x)`);
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) benchStartup();
