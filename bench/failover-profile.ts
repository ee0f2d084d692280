// `node --import tsx bench/failover-profile.ts` (root): where a hook run's time goes on the new master,
// without a failover. In the namespace lab, run the hook by hand on r2 exactly as its Sentinel would
// (in r2's namespace, as the redis user, with Sentinel's environment and the event "r1 -> r2"), under
// `strace -f -e trace=execve`, and print when each program started, relative to the hook's own exec.
// The VIP is removed from r2 before each run so that every run adds it. Compares sentinel-hook's vip
// action with bench/seed000-failover.sh. Options: --runs N (default 7).
// First, without strace: the time from spawning the hook to the kernel adding the VIP, as
// `ip -ts monitor address` in r2's namespace reports it, one hook run at a time (on real hosts each
// Sentinel has its machine to itself; in a failover in the lab, three hooks share this machine's CPUs).
// strace's ptrace stops slow every program down (several times for sudo), so read the ORDER and the
// relative gaps, not the absolute figures; `npm run bench:failover` gives the real ones. (strace's
// --seccomp-bpf would be cheaper but sets no_new_privs, under which sudo cannot work.)
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureBuilt } from '../scripts/demo-support.ts';
import {
  CLIENT_RECONFIG_HOOK,
  DEFAULT_VIP,
  ensurePackages,
  isRoot,
  Lab,
  median,
  REPO_ROOT,
  reachablePath,
  run,
  vipHook,
} from '../test/lab/index.ts';

interface Exec {
  ms: number;
  program: string;
}

/** strace -f -tt -e trace=execve output -> successful execs with their time relative to the first. */
function execs(text: string): Exec[] {
  const out: Exec[] = [];
  let t0: number | undefined;
  for (const line of text.split('\n')) {
    const m = /(\d{2}):(\d{2}):(\d{2}\.\d+) execve\("([^"]+)", \[(.*?)\]/.exec(line);
    if (!m || / = -1 /.test(line)) continue;
    const at = (Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3])) * 1000;
    t0 ??= at;
    const args = m[5]!
      .split(', ')
      .slice(1, 4)
      .map((a) => a.replace(/"/g, ''))
      .join(' ');
    out.push({ ms: at - t0, program: `${m[4]} ${args}`.trim() });
  }
  return out;
}

async function profile(
  lab: Lab,
  argv: string[],
  env: Record<string, string>,
  file: string,
): Promise<{ execs: Exec[]; totalMs: number }> {
  await run(['ip', '-n', lab.host('r2').ns, 'addr', 'del', DEFAULT_VIP, 'dev', 'eth0']);
  rmSync(file, { force: true });
  const r = await run(
    [
      'ip',
      'netns',
      'exec',
      lab.host('r2').ns,
      'strace',
      '-f',
      '-tt',
      '-e',
      'trace=execve',
      '-o',
      file,
      'setpriv',
      '--reuid=redis',
      '--regid=redis',
      '--init-groups',
      ...argv,
    ],
    { env, timeoutMs: 40_000 },
  );
  if (r.code !== 0) throw new Error(`${argv.join(' ')} exited ${r.code}: ${r.stderr.slice(-300)}`);
  // The first execs are strace's own child and setpriv; count from the hook's exec.
  const all = execs(readFileSync(file, 'utf8'));
  const start = all.findIndex((e) => e.program.startsWith(argv[0]!));
  const t0 = all[start]?.ms ?? 0;
  return { execs: all.slice(start).map((e) => ({ ...e, ms: Math.round((e.ms - t0) * 10) / 10 })), totalMs: r.ms };
}

/** Spawn the hook as Sentinel would and return ms from the spawn to the kernel's RTM_NEWADDR for the VIP. */
async function timeToAdded(lab: Lab, argv: string[], env: Record<string, string>, index: number): Promise<number> {
  const r2 = lab.host('r2');
  await run(['ip', '-n', r2.ns, 'addr', 'del', DEFAULT_VIP, 'dev', 'eth0']);
  const file = join(lab.dir, `monitor-${index}.txt`);
  const monitor = lab.spawn('r2', ['ip', '-ts', 'monitor', 'address'], { what: 'ip monitor', logFile: file });
  await new Promise((resolve) => setTimeout(resolve, 200));
  const t0 = Date.now();
  const r = await run(
    ['ip', 'netns', 'exec', r2.ns, 'setpriv', '--reuid=redis', '--regid=redis', '--init-groups', ...argv],
    { env, timeoutMs: 40_000 },
  );
  process.kill(monitor.pid, 'SIGTERM');
  if (r.code !== 0) throw new Error(`${argv.join(' ')} exited ${r.code}: ${r.stderr.slice(-300)}`);
  const vip = DEFAULT_VIP.split('/')[0]!;
  const line = readFileSync(file, 'utf8')
    .split('\n')
    .find((l) => l.includes(` ${vip}/`) && !l.includes('Deleted'));
  const m = line && /^\[(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3})\d*\]/.exec(line);
  if (!m) throw new Error(`no address event for ${vip} in ${file}`);
  return Date.parse(`${m[1]}Z`) - t0;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' } } });
  const runs = Number(values.runs);
  if (!isRoot()) {
    process.stderr.write('failover-profile needs root (network namespaces)\n');
    return 2;
  }
  await ensurePackages([...(await import('../test/lab/packages.ts')).LAB_PACKAGES, 'strace']);
  await ensureBuilt((l) => process.stdout.write(`${l}\n`));
  const lab = await Lab.start({ vip: DEFAULT_VIP, hook: vipHook(), skipPackages: true });
  try {
    const r2 = lab.host('r2');
    // The seed script's sudo rules, beside the lab's sentinel-hook ones.
    const seedRules = `Defaults:redis !requiretty\nredis ALL=(root) NOPASSWD: /usr/sbin/ip addr add ${DEFAULT_VIP} dev eth0, /usr/sbin/ip addr del ${DEFAULT_VIP} dev eth0, /usr/bin/arping -q -c 3 -A ${DEFAULT_VIP.split('/')[0]} -I eth0\n`;
    await lab.installSudoers(seedRules, 'seed');
    const event = ['mymaster', 'observer', 'start', lab.host('r1').ip, '6379', r2.ip, '6379'];
    const hookEnv = {
      PATH: '/usr/bin:/bin',
      HOME: r2.runDir,
      TZ: 'UTC',
      LANG: 'C',
      SENTINEL_HOOK_CONFIG: r2.files.hookConfig,
    };
    const seedEnv = {
      PATH: '/usr/bin:/bin',
      HOME: r2.runDir,
      TZ: 'UTC',
      LANG: 'C',
      SEED_MY_IP: r2.ip,
      SEED_VIP: DEFAULT_VIP.split('/')[0]!,
    };
    // Run as redis: from a path it can reach, as the lab's Sentinels do.
    const cases = [
      {
        name: 'sentinel-hook (hooks/client-reconfig, vip action)',
        argv: [reachablePath(CLIENT_RECONFIG_HOOK), ...event],
        env: hookEnv,
      },
      {
        name: 'seed-000 script (bench/seed000-failover.sh)',
        argv: [reachablePath(join(REPO_ROOT, 'bench', 'seed000-failover.sh')), ...event],
        env: seedEnv,
      },
    ];
    const added: Record<string, number[]> = {};
    let monitorIndex = 0;
    for (let i = 0; i < runs; i++) {
      for (const c of cases)
        added[c.name] = [...(added[c.name] ?? []), await timeToAdded(lab, c.argv, c.env, monitorIndex++)];
    }
    process.stdout.write(
      `spawn -> VIP added (kernel's own timestamp, ip -ts monitor), one hook at a time, ${runs} runs each:\n`,
    );
    for (const [name, values] of Object.entries(added)) {
      process.stdout.write(
        `  ${name.padEnd(52)} median ${String(median(values)).padStart(5)} ms  min ${Math.min(...values)}  max ${Math.max(...values)}\n`,
      );
    }
    for (const c of cases) {
      const samples: Exec[][] = [];
      for (let i = 0; i < runs; i++)
        samples.push((await profile(lab, c.argv, c.env, join(lab.dir, 'strace.out'))).execs);
      process.stdout.write(
        `\n${c.name}: programs started, ms after the hook's exec (median of ${runs} runs; first 14 execs, in the last run's order)\n`,
      );
      const last = samples.at(-1)!;
      for (const [i, e] of last.slice(0, 14).entries()) {
        const at = median(samples.map((s) => s[i]?.ms).filter((v): v is number => v !== undefined));
        process.stdout.write(`  ${String(at).padStart(7)} ms  ${e.program.slice(0, 110)}\n`);
      }
    }
  } finally {
    lab.teardownSync();
  }
  return 0;
}

process.exitCode = await main();
