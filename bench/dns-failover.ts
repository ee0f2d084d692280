// `npm run bench:dns` (root): the dns action in the namespace lab. BIND 9 runs on app host a1 (its lab
// address, port 53), the zone updatable with one TSIG key; every Redis host's Sentinel runs sentinel-hook
// with one dns entry (when: { role: leader }, the default: the leader's run sends the one update). App host
// a2 asks BIND with dig in a loop (a new dig process every ~20 ms).
//
// Measured per failover (SENTINEL FAILOVER, so that the figure is the hook's and BIND's, not Sentinel's
// down-after): from the first `+switch-master` in any Sentinel log to the first dig, from a2, answered with
// the new master's address. Negative: BIND answered before any Sentinel logged +switch-master (the leader
// runs its hook at +promoted-slave). The dig loop's resolution is its period (the launch time of the dig
// that first saw the new address is taken), plus `ip netns exec` and dig's own start.
//
// Options: --rounds N (default 7), --json FILE (raw rounds), --keep (keep lab logs).
// The hosts push to 50 app servers, to set next to this figure: `npm run bench:hosts` (same machine).
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureBuilt } from '../scripts/demo-support.ts';
import { isRoot, Lab, labSentinels, MASTER_NAME, sleep, stats, waitFor } from '../test/lab/index.ts';
import { type Bind, startBind, ZONE } from '../test/support/bind.ts';

const NAME = `redis.${ZONE}`;
const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '7' }, json: { type: 'string' }, keep: { type: 'boolean' } },
});
const rounds = Number(values.rounds);
if (!isRoot()) {
  console.error('bench:dns needs root (network namespaces)');
  process.exit(2);
}
await ensureBuilt((l) => console.error(l));

// The key as an install keeps it: root:redis 0640, in a directory the redis user can traverse.
const keyDir = mkdtempSync(join(tmpdir(), `sh-bench-dns-${process.pid}-`));
chmodSync(keyDir, 0o755);
const keyFile = join(keyDir, 'failover.key');
const DNS_HOST = { name: 'a1', ip: '10.77.0.21' };

const lab = await Lab.start({
  appHosts: 2,
  hook: {
    kind: 'sentinel-hook',
    extraConfig: (_h, l) => labSentinels(l),
    actions: () => [{ type: 'dns', server: `${DNS_HOST.ip}:53`, zone: ZONE, name: NAME, ttl: '1s', key: keyFile }],
  },
  log: (l) => console.error(l),
});
let bind: Bind | undefined;
let failed = true;
const rows: { round: number; from: string; to: string; answeredAfterSwitchMs: number; hookExit?: number }[] = [];
try {
  if (lab.host(DNS_HOST.name).ip !== DNS_HOST.ip)
    throw new Error(`a1 is ${lab.host(DNS_HOST.name).ip}, not ${DNS_HOST.ip}`);
  bind = await startBind({ names: [NAME], netns: { name: lab.host('a1').ns, address: DNS_HOST.ip, port: 53 } });
  writeFileSync(keyFile, readFileSync(bind.keyFile), { mode: 0o640 });
  const redis = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('redis:'))!
    .split(':');
  chownSync(keyFile, 0, Number(redis[3]));
  const dig = async () =>
    (
      await lab.exec('a2', ['dig', `@${DNS_HOST.ip}`, '+short', '+time=1', '+tries=1', NAME, 'A'], { timeoutMs: 5000 })
    ).stdout
      .trim()
      .split('\n')
      .filter(Boolean);
  for (let round = 1; round <= rounds; round++) {
    const masters = await lab.mastersBySentinel();
    const from = masters.r1!;
    const since = Date.now();
    const said = await lab.sentinelCli('r1', ['SENTINEL', 'FAILOVER', MASTER_NAME]);
    if (!said.startsWith('OK')) throw new Error(`SENTINEL FAILOVER: ${said}`);
    let answeredAt: number | undefined;
    let to: string | undefined;
    for (let i = 0; i < 1500 && answeredAt === undefined; i++) {
      const launched = Date.now();
      const got = await dig();
      const host = got.length === 1 ? lab.hostByIp(got[0]!)?.name : undefined;
      if (host && host !== from) {
        answeredAt = launched;
        to = host;
      } else await sleep(10);
    }
    if (answeredAt === undefined || !to) throw new Error(`round ${round}: BIND never answered a new master`);
    await lab.waitSentinelsAgree(to, { timeoutMs: 40_000, replicas: 2 });
    await lab.waitHooksIdle(30_000);
    const first = lab.switchMasterEvents(since)[0];
    if (!first) throw new Error(`round ${round}: no +switch-master logged`);
    const leaderRun = lab.redisHosts
      .flatMap((h) => lab.hookRuns(h.name, since))
      .find((r) => r.event?.role === 'leader');
    rows.push({
      round,
      from,
      to,
      answeredAfterSwitchMs: answeredAt - first.at,
      ...(leaderRun?.exitCode !== undefined ? { hookExit: leaderRun.exitCode } : {}),
    });
    console.error(
      `round ${round}: ${from} -> ${to}: BIND answered ${answeredAt - first.at} ms after the first +switch-master`,
    );
    // Sentinel refuses a failover too soon after the last one; the replicas must be in sync again.
    await waitFor('replicas ready', async () => ((await lab.healthyReplicas('r1')).length >= 2 ? true : undefined), {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
  }
  failed = false;
} finally {
  await bind?.stop();
  lab.teardownSync({ keepDir: failed || values.keep === true });
  rmSync(keyDir, { recursive: true, force: true });
}
const s = stats(rows.map((r) => r.answeredAfterSwitchMs));
console.log(
  `dns (BIND in the lab, dig from an app namespace), ${rows.length} failovers: first +switch-master -> new address answered: median ${s.median} ms (min ${s.min}, max ${s.max})`,
);
for (const r of rows) console.log(`  ${r.round}. ${r.from} -> ${r.to}: ${r.answeredAfterSwitchMs} ms`);
if (values.json) writeFileSync(values.json, `${JSON.stringify(rows, null, 2)}\n`);
