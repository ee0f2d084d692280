// Benchmark of the hosts action (npm run bench:hosts): push to 1, 10 and 50 app servers (real sshd
// on loopback, test/support/sshd.ts), timing the whole hook process as Sentinel would start it, next
// to seed 001's way — a sequential loop of rsync over ssh to the same servers — in the same run.
// Medians of several runs; peak RSS of the hook from GNU time. Run as root.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sshOptions } from '../src/actions/hosts/rsync.ts';
import { cliArgv, startSshLab } from '../test/support/sshd.ts';
import { hostsConfig, writeConfig } from '../test/support/sshd-hook.ts';

const NAME = 'redis-master.myservice.com';
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SIZES = [1, 10, 50];
const hostsFile = (i: number) =>
  `127.0.0.1 localhost\n::1 localhost ip6-localhost\n10.1.0.${i % 250} app${i}.internal app${i}\n10.9.9.1 ${NAME}\n`;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

if (process.getuid?.() !== 0) {
  console.error('bench:hosts needs root (it starts sshd)');
  process.exit(2);
}

const lab = await startSshLab({ count: Math.max(...SIZES), hostsContent: hostsFile });
const rows: string[] = [];
try {
  const [node, cli] = cliArgv();
  for (const n of SIZES) {
    const servers = lab.servers.slice(0, n);
    const config = writeConfig(
      lab.dir,
      hostsConfig({ ...lab, servers }, { timeout: '5s', retries: 2 }, {}, { deadline: '45s' }),
    );
    const hookMs: number[] = [];
    const rssKiB: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      // A new address every run: every target really changes.
      const to = `10.9.${n}.${r + 2}`;
      const started = performance.now();
      const p = spawnSync(
        '/usr/bin/time',
        [
          '-f',
          'RSS_KIB=%M',
          node!,
          cli!,
          '--config',
          config,
          'mymaster',
          'leader',
          'start',
          '10.9.9.1',
          '6379',
          to,
          '6379',
        ],
        { encoding: 'utf8', timeout: 60_000 },
      );
      hookMs.push(performance.now() - started);
      if (p.status !== 0) throw new Error(`hook exited ${p.status}: ${p.stderr}`);
      rssKiB.push(Number(/RSS_KIB=(\d+)/.exec(p.stderr)?.[1]));
      for (const s of servers)
        if (
          !new RegExp(`^${to.replace(/\./g, '\\.')} ${NAME}$`, 'm').test(
            (await import('node:fs')).readFileSync(s.hostsFile, 'utf8'),
          )
        )
          throw new Error(`${s.label} not updated`);
    }
    // Seed 001: one prepared file, "rsync -avz" to each server in turn (with the same host-key rules).
    const seedFile = join(lab.dir, `seed-hosts-${n}`);
    const seedMs: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      writeFileSync(seedFile, `127.0.0.1 localhost\n10.8.${n}.${r + 2} ${NAME}\n`);
      const started = performance.now();
      for (const s of servers) {
        const ssh = [
          '/usr/bin/ssh',
          ...sshOptions({ identityFile: lab.identityFile, knownHostsFile: lab.knownHostsFile }, s.port, 5000),
        ].join(' ');
        const p = spawnSync('rsync', ['-avz', '-e', ssh, seedFile, `root@127.0.0.1:${lab.remotePath}`], {
          encoding: 'utf8',
          timeout: 60_000,
        });
        if (p.status !== 0) throw new Error(`rsync to ${s.label} exited ${p.status}: ${p.stderr}`);
      }
      seedMs.push(performance.now() - started);
    }
    const h = median(hookMs);
    const s = median(seedMs);
    rows.push(
      `${String(n).padStart(7)}  ${h.toFixed(0).padStart(11)}  ${s.toFixed(0).padStart(15)}  ${(s / h).toFixed(1).padStart(7)}x  ${(Math.max(...rssKiB) / 1024).toFixed(1).padStart(13)}`,
    );
    // Put the servers' own files back for the next size.
    servers.forEach((srv, i) => {
      writeFileSync(srv.hostsFile, hostsFile(i));
    });
  }
} finally {
  await lab.close();
}
console.log(
  `hosts push benchmark: median of ${RUNS} runs, ${process.platform} ${process.arch}, node ${process.version}`,
);
console.log(`targets  hook (ms)    seed loop (ms)  speedup  peak RSS (MiB)`);
for (const r of rows) console.log(r);
console.log('goal: 50 targets < 2000 ms, >= 10x the sequential loop, < 100 MiB');
