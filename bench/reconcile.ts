// `npm run bench:reconcile`: wall time of `sentinel-hook reconcile` (a new process, as cron or a boot
// unit runs it) for a config with 3 masters, against 3 real redis-sentinel on loopback, each
// monitoring the 3 masters (3 redis-server). Each master has a hosts action on a local file: the first
// run converges (writes the files), the runs after it have nothing to do, which is the common case.
// Also the same with --dry-run. Medians of --runs N (default 15), after 2 warm-up runs.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { sendCommands } from '../src/sentinel/resp.ts';
import { median, waitFor } from '../test/lab/index.ts';
import { freePorts } from '../test/support/loopback-redis.ts';

const BIN = resolve(import.meta.dirname, '..', 'bin', 'sentinel-hook.cjs');
const MASTERS = ['m1', 'm2', 'm3'];

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '15' } } });
  const runs = Number(values.runs);
  const dir = mkdtempSync(join(tmpdir(), 'sh-bench-reconcile-'));
  // As tmpfiles.d would: reconcile run as root does not make its lock directory.
  mkdirSync(join(dir, 'lock'), { mode: 0o700 });
  const children: ChildProcess[] = [];
  const start = (file: string, args: string[]) => {
    const child = spawn(file, args, { stdio: 'ignore' });
    children.push(child);
  };
  try {
    const ports = await freePorts(6);
    const redisPorts = ports.slice(0, 3);
    const sentinelPorts = ports.slice(3);
    for (const port of redisPorts)
      start('/usr/bin/redis-server', [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
      ]);
    sentinelPorts.forEach((port, i) => {
      const conf = join(dir, `sentinel-${i}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          ...MASTERS.map((m, j) => `sentinel monitor ${m} 127.0.0.1 ${redisPorts[j]} 2`),
          '',
        ].join('\n'),
      );
      start('/usr/bin/redis-sentinel', [conf]);
    });
    for (const port of sentinelPorts) {
      await waitFor(
        `sentinel on ${port} knows the masters`,
        async () => {
          try {
            const [reply] = await sendCommands('127.0.0.1', port, [['SENTINEL', 'MASTERS']], 500);
            return Array.isArray(reply) && reply.length === MASTERS.length ? true : undefined;
          } catch {
            return undefined;
          }
        },
        { timeoutMs: 15_000, intervalMs: 100 },
      );
    }
    const config = join(dir, 'config.yaml');
    const masters = MASTERS.map(
      (m) => `  ${m}:\n    - type: hosts\n      names: [redis-${m}.example]\n      file: ${join(dir, `hosts-${m}`)}\n`,
    ).join('');
    for (const m of MASTERS) writeFileSync(join(dir, `hosts-${m}`), '127.0.0.1 localhost\n');
    writeFileSync(
      config,
      `log: { file: ${join(dir, 'hook.log')} }\nlockDir: ${join(dir, 'lock')}\nsentinels:\n  addresses: [${sentinelPorts.map((p) => `"127.0.0.1:${p}"`).join(', ')}]\nmasters:\n${masters}`,
      { mode: 0o644 },
    );
    const once = (extra: string[]) => {
      const t0 = process.hrtime.bigint();
      const r = spawnSync(process.execPath, [BIN, 'reconcile', '--json', '--config', config, ...extra], {
        encoding: 'utf8',
      });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.status !== 0) throw new Error(`reconcile exited ${r.status}: ${r.stdout}${r.stderr}`);
      return {
        ms,
        outcomes: (JSON.parse(r.stdout) as { masters: { outcome: string }[] }).masters.map((x) => x.outcome),
      };
    };
    const first = once([]);
    console.log(`first run (converges 3 masters: ${first.outcomes.join(', ')}): ${first.ms.toFixed(1)} ms`);
    for (let i = 0; i < 2; i++) {
      once([]);
      once(['--dry-run']);
    }
    const real: number[] = [];
    const dry: number[] = [];
    for (let i = 0; i < runs; i++) {
      const r = once([]);
      if (r.outcomes.some((o) => o !== 'nothing-to-do'))
        throw new Error(`expected nothing to do, got ${r.outcomes.join(', ')}`);
      real.push(r.ms);
      dry.push(once(['--dry-run']).ms);
    }
    const bare: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = process.hrtime.bigint();
      spawnSync(process.execPath, ['-e', '0']);
      bare.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    console.log(
      `reconcile, 3 masters x 3 Sentinels, nothing to do (${runs} runs, median wall time, new process each):`,
    );
    console.log(`  node -e 0                     ${median(bare).toFixed(1)} ms`);
    console.log(
      `  sentinel-hook reconcile       ${median(real).toFixed(1)} ms  (min ${Math.min(...real).toFixed(1)}, max ${Math.max(...real).toFixed(1)})`,
    );
    console.log(
      `  sentinel-hook reconcile -n    ${median(dry).toFixed(1)} ms  (min ${Math.min(...dry).toFixed(1)}, max ${Math.max(...dry).toFixed(1)})`,
    );
    return 0;
  } finally {
    for (const c of children) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
