// Start-up of the hook through hooks/client-reconfig with V8's JIT and with SENTINEL_HOOK_JITLESS=1
// (node --jitless, what a unit with MemoryDenyWriteExecute=true allows): a dry-run and a real run of
// an exec action (/bin/true, log and lock in a temp dir). Interleaved, so load hits all four alike.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const HOOK = resolve(ROOT, 'hooks/client-reconfig');
const EVENT = ['mymaster', 'leader', 'start', '192.0.2.1', '6379', '192.0.2.2', '6379'];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function benchJitless(): Record<string, number> {
  const dir = mkdtempSync(join(tmpdir(), 'sh-bench-jitless-'));
  try {
    const config = join(dir, 'config.yaml');
    writeFileSync(
      config,
      `log: { file: ${join(dir, 'hook.log')} }\nlockDir: ${join(dir, 'lock')}\nmasters:\n  mymaster:\n    - type: exec\n      run: [/bin/true]\n`,
      { mode: 0o644 },
    );
    const cases = {
      'dry-run, JIT': { args: ['--dry-run'], jitless: false },
      'dry-run, --jitless': { args: ['--dry-run'], jitless: true },
      'exec run, JIT': { args: [], jitless: false },
      'exec run, --jitless': { args: [], jitless: true },
    };
    const once = ({ args, jitless }: { args: string[]; jitless: boolean }): number => {
      const env = {
        SENTINEL_HOOK_NODE: process.execPath,
        SENTINEL_HOOK_CONFIG: config,
        ...(jitless ? { SENTINEL_HOOK_JITLESS: '1' } : {}),
      };
      const started = process.hrtime.bigint();
      const r = spawnSync(HOOK, [...args, ...EVENT], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (r.status !== 0) throw new Error(`${HOOK} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
      return ms;
    };
    const times = Object.fromEntries(Object.keys(cases).map((k) => [k, [] as number[]]));
    for (let i = 0; i < 3; i++) for (const c of Object.values(cases)) once(c);
    for (let i = 0; i < RUNS; i++) for (const [name, c] of Object.entries(cases)) times[name]!.push(once(c));
    console.log(
      `start-up through hooks/client-reconfig (${RUNS} interleaved runs each, median wall time), ${process.version}`,
    );
    const result: Record<string, number> = {};
    for (const [name, xs] of Object.entries(times)) {
      result[name] = median(xs);
      console.log(
        `  ${name.padEnd(22)} ${median(xs).toFixed(1)} ms  (min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)})`,
      );
    }
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) benchJitless();
