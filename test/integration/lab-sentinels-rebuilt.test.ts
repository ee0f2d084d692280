// Sentinels rebuilt the way configuration management does it, in the three-host lab (issue 15 §1): every
// Sentinel stopped, its sentinel.conf written afresh (no `sentinel myid` line: a new id; epochs from 0
// again), started. Before it, this host acted on config epoch 2 (two real failovers). The next failover of
// the rebuilt Sentinels is at epoch 1, below the record; the one after a second rebuild is at epoch 1 again,
// equal to the record but naming another address. reconcile, watch and the hook (Sentinel's own
// client-reconfig-script) must each bring every host in line within a bounded time; judged by who holds the
// VIP (the kernel's view). And the guard keeps its purpose: an older answer from the same Sentinels while a
// newer failover may be under way is refused, and followed once it outlasts failover-timeout.
// Self-contained on purpose (it uses the lab's public API only): it is run against the code before the fix.
// Needs root.
import assert from 'node:assert/strict';
import { chownSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  CLIENT_RECONFIG_HOOK,
  cliPath,
  DEFAULT_VIP,
  isRoot,
  Lab,
  type LabProcess,
  MASTER_NAME,
  REDIS_PORT,
  reachablePath,
  SENTINEL_PORT,
  sleep,
  vipHook,
  waitFor,
} from '../lab/index.ts';

const FAILOVER_TIMEOUT_MS = 5000;
let lab: Lab;
let failed = false;

before(async () => {
  assert.ok(isRoot(), 'the lab tests need root (network namespaces, sudoers); run them as root');
  // The vip action under sudo for the hook (the lab installs the generated sudoers), `sentinels` listing all
  // three; the Sentinels start with no client-reconfig-script: only what a test runs moves the VIP.
  lab = await Lab.start({
    vip: DEFAULT_VIP,
    // With an exec (reconcile: true) that appends the master it was run for to a file of the host's: its
    // once-per-failover record is keyed by the epoch too, and that, not the VIP, is what held the hook
    // back before the fix (a failover at an epoch already done was skipped).
    hook: {
      ...vipHook({
        sentinels: true,
        more: (host) => [
          { type: 'exec', run: ['/bin/sh', '-c', `echo "$0" >> ${execLog(host.runDir)}`, '{toIp}'], reconcile: true },
        ],
      }),
      clientReconfig: false,
      logLevel: 'debug',
    },
    failoverTimeoutMs: FAILOVER_TIMEOUT_MS,
    log: () => {},
  });
  // Sentinel's user appends to it (the hook), root too (reconcile by hand): made for redis first.
  const { uid, gid } = labUser();
  for (const h of lab.redisHosts) {
    writeFileSync(execLog(h.runDir), '', { mode: 0o644 });
    chownSync(execLog(h.runDir), uid, gid);
  }
});

const execLog = (runDir: string) => join(runDir, 'exec-ran-for');

/** The master each host's exec was last run for (a host name), once every host's says `expected`. */
async function waitExecRanFor(expected: string, timeoutMs: number, what: string): Promise<void> {
  const last = () =>
    lab.redisHosts.map((h) => {
      const ip = readFileSync(execLog(h.runDir), 'utf8').trim().split('\n').at(-1) ?? '';
      return lab.hostByIp(ip)?.name ?? (ip || '(none)');
    });
  try {
    await waitFor(what, () => (last().every((n) => n === expected) ? true : undefined), { timeoutMs, intervalMs: 100 });
  } catch {
    assert.fail(`${what}: exec was last run for [${last().join(',')}] on r1..r3, not ${expected} everywhere`);
  }
}

after(async () => {
  if (!lab) return;
  lab.teardownSync({ keepDir: failed });
  if (failed) console.error(`lab logs kept in ${lab.dir}`);
  assert.deepEqual(await Lab.existingNamespaces(lab.id), [], 'teardown left namespaces behind');
});

function labUser(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('redis:'));
  const [, , uid, gid] = (line ?? '').split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

const lockDir = (host: string) => join(lab.host(host).runDir, 'lock');

/** Every record this host keeps for the master (the lab's config has no stateDir: they sit in its lockDir). */
function dropRecords(host: string): void {
  for (const name of readdirSync(lockDir(host)))
    if (/^mymaster\.(.+\.)?(epoch|epoch\.ids|done|done\.ids|older)$/.test(name)) rmSync(join(lockDir(host), name));
}

function recordOf(host: string): string {
  try {
    return readFileSync(join(lockDir(host), `${MASTER_NAME}.epoch`), 'utf8').trim();
  } catch {
    return '(none)';
  }
}

async function master(): Promise<string> {
  const names = Object.values(await lab.mastersBySentinel());
  assert.ok(names[0] && names.every((n) => n === names[0]), `the Sentinels disagree: ${JSON.stringify(names)}`);
  return names[0]!;
}

async function configEpoch(): Promise<number> {
  return Number((await lab.sentinelMasterInfo('r1'))['config-epoch']);
}

/** SENTINEL FAILOVER (retried while Sentinel says a failover is in progress or no replica is good yet), until every Sentinel agrees on the new master. */
async function failover(): Promise<string> {
  const old = await master();
  await waitFor(
    'SENTINEL FAILOVER accepted',
    async () => {
      const said = await lab.sentinelCli('r1', ['SENTINEL', 'FAILOVER', MASTER_NAME]);
      if (!said.startsWith('OK')) throw new Error(said);
      return true;
    },
    { timeoutMs: 30_000, intervalMs: 500 },
  );
  const now = await lab.waitNewMaster(old, { timeoutMs: 30_000 });
  await lab.waitSentinelsAgree(now, { timeoutMs: 40_000, replicas: 2 });
  return now;
}

/** Stopped, sentinel.conf written afresh (as a template renders it: no myid, no epochs), started; until they see each other. */
async function rebuildSentinels(opts: { hook: boolean }): Promise<void> {
  const current = lab.host(await master());
  const pids = (lab as unknown as { sentinelPids: Map<string, LabProcess> }).sentinelPids;
  const before = new Map<string, string>();
  for (const h of lab.redisHosts) before.set(h.name, await lab.sentinelCli(h.name, ['SENTINEL', 'MYID']));
  for (const h of lab.redisHosts) lab.killSentinel(h.name);
  await waitFor(
    'the Sentinels to exit',
    () => (lab.redisHosts.every((h) => pids.get(h.name)?.exitedAt !== undefined) ? true : undefined),
    { timeoutMs: 10_000, intervalMs: 50 },
  );
  const { uid, gid } = labUser();
  for (const h of lab.redisHosts) {
    const text = [
      `port ${SENTINEL_PORT}`,
      `bind ${h.ip}`,
      'daemonize no',
      `logfile ${h.files.sentinelLog}`,
      'loglevel notice',
      `dir ${join(h.runDir, 'sentinel-data')}`,
      `sentinel monitor ${MASTER_NAME} ${current.ip} ${REDIS_PORT} 2`,
      `sentinel down-after-milliseconds ${MASTER_NAME} 2000`,
      `sentinel failover-timeout ${MASTER_NAME} ${FAILOVER_TIMEOUT_MS}`,
      `sentinel parallel-syncs ${MASTER_NAME} 2`,
      ...(opts.hook ? [`sentinel client-reconfig-script ${MASTER_NAME} ${reachablePath(CLIENT_RECONFIG_HOOK)}`] : []),
      '',
    ].join('\n');
    writeFileSync(h.files.sentinelConf, text, { mode: 0o644 });
    chownSync(h.files.sentinelConf, uid, gid);
    lab.startSentinel(h.name);
  }
  await lab.waitSentinelsAgree(current.name, { timeoutMs: 40_000, replicas: 2 });
  for (const h of lab.redisHosts) {
    const id = await lab.sentinelCli(h.name, ['SENTINEL', 'MYID']);
    assert.notEqual(id, before.get(h.name), `${h.name}'s Sentinel has a new id`);
  }
  assert.equal(await configEpoch(), 0, 'the rebuilt Sentinels start again at config epoch 0');
}

async function reconcile(host: string): Promise<{ code: number; out: string }> {
  const r = await lab.exec(
    host,
    [process.execPath, cliPath(), 'reconcile', '--config', lab.host(host).files.hookConfig],
    {
      timeoutMs: 40_000,
    },
  );
  return { code: r.code ?? -1, out: `${r.stdout}${r.stderr}` };
}

async function reconcileAll(): Promise<void> {
  for (const h of lab.redisHosts) {
    const r = await reconcile(h.name);
    assert.equal(r.code, 0, `reconcile on ${h.name} (record ${recordOf(h.name)}): ${r.out}`);
  }
}

/** Until the VIP is on `expected` alone (bounded): the host converged. */
async function waitHolders(expected: string, timeoutMs: number, what: string): Promise<void> {
  let seen: string[] = [];
  try {
    await waitFor(
      what,
      async () => {
        seen = await lab.holders();
        return seen.length === 1 && seen[0] === expected ? true : undefined;
      },
      { timeoutMs, intervalMs: 100 },
    );
  } catch {
    const records = lab.redisHosts.map((h) => `${h.name}: ${recordOf(h.name)}`).join('; ');
    assert.fail(
      `${what}: the VIP is on [${seen.join(',')}], not on ${expected} alone, after ${timeoutMs} ms (records ${records})`,
    );
  }
}

/**
 * Fresh Sentinels, two real failovers (config epoch 2), every host brought in line by reconcile: each host's
 * record says epoch 2. Records of an earlier test are dropped first, so each test starts from the same place.
 */
async function actedOnEpochTwo(): Promise<void> {
  await rebuildSentinels({ hook: false });
  await failover();
  const m = await failover();
  assert.equal(await configEpoch(), 2);
  for (const h of lab.redisHosts) dropRecords(h.name);
  await reconcileAll();
  await waitHolders(m, 1000, 'precondition: the VIP on the master at epoch 2');
  for (const h of lab.redisHosts) assert.match(recordOf(h.name), /^2 /, `${h.name} recorded epoch 2`);
}

/** Sentinel ran the hook on every host since `since`, and every such run ended (before the next rebuild kills Sentinels). */
async function hooksRanAndEnded(since: number): Promise<void> {
  await waitFor(
    'a hook run on every host, each ended',
    () => {
      const runs = lab.redisHosts.map((h) => lab.hookRuns(h.name, since));
      return runs.every((r) => r.length > 0 && r.every((x) => x.end !== undefined)) ? true : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
}

/**
 * Rebuilt, then their first failover: epoch 1, at another address than the master before it. `equal`: the
 * record is epoch 1 naming that master first, as the run that followed the previous rebuilt set wrote it
 * (staged, so that the code before the fix, which kept epoch 2, is put to the same question).
 */
async function rebuiltThenFailover(opts: { hook: boolean; equal?: boolean }): Promise<string> {
  const before = await master();
  if (opts.equal)
    for (const h of lab.redisHosts) {
      writeFileSync(join(lockDir(h.name), `${MASTER_NAME}.epoch`), `1 ${lab.host(before).ip} ${REDIS_PORT}\n`);
      // exec's once-per-failover record as that run left it: epoch 1 done (the ids beside it stay).
      for (const name of readdirSync(lockDir(h.name)).filter((n) => /^mymaster\..+\.done$/.test(n)))
        writeFileSync(join(lockDir(h.name), name), '1\n');
    }
  await rebuildSentinels({ hook: opts.hook });
  const m = await failover();
  assert.equal(await configEpoch(), 1, 'the rebuilt Sentinels failed over at epoch 1');
  assert.notEqual(m, before);
  return m;
}

test('rebuilt Sentinels, reconcile: converges with the record above (epoch 2) and equal to their epoch (1, another address)', {
  timeout: 300_000,
}, async () => {
  failed = true;
  await actedOnEpochTwo();
  const above = await rebuiltThenFailover({ hook: false });
  await reconcileAll();
  await waitHolders(above, 1000, 'reconcile after a rebuild (record epoch 2, Sentinels at 1)');
  await waitExecRanFor(above, 1000, "reconcile's exec after a rebuild");
  assert.match(readFileSync(lab.host('r1').files.hookLog, 'utf8'), /rebuilt/, 'the operator is told why');

  const equal = await rebuiltThenFailover({ hook: false, equal: true });
  await reconcileAll();
  await waitHolders(equal, 1000, 'reconcile after a second rebuild (record epoch 1, another address)');
  await waitExecRanFor(equal, 1000, "reconcile's exec after a second rebuild");
  failed = false;
});

test('rebuilt Sentinels, watch running across both rebuilds: converges within 20 s each time', {
  timeout: 300_000,
}, async () => {
  failed = true;
  await actedOnEpochTwo();
  for (const h of lab.redisHosts) lab.startWatch(h.name, { intervalMs: 2000 });
  try {
    for (const h of lab.redisHosts) await lab.waitWatchReady(h.name);
    const above = await rebuiltThenFailover({ hook: false });
    await waitHolders(above, 20_000, 'watch after a rebuild (record epoch 2, Sentinels at 1)');
    const equal = await rebuiltThenFailover({ hook: false, equal: true });
    await waitHolders(equal, 20_000, 'watch after a second rebuild (record epoch 1, another address)');
  } finally {
    for (const h of lab.redisHosts) await lab.stopWatch(h.name);
  }
  failed = false;
});

test("rebuilt Sentinels, the hook (Sentinel's own client-reconfig-script on every host): converges within 30 s each time", {
  timeout: 300_000,
}, async () => {
  failed = true;
  await actedOnEpochTwo();
  let since = Date.now();
  const above = await rebuiltThenFailover({ hook: true });
  await waitHolders(above, 30_000, 'the hook after a rebuild (record epoch 2, Sentinels at 1)');
  await waitExecRanFor(above, 30_000, "the hook's exec after a rebuild (done at epoch 2, Sentinels at 1)");
  await hooksRanAndEnded(since);
  since = Date.now();
  const equal = await rebuiltThenFailover({ hook: true, equal: true });
  await waitHolders(equal, 30_000, 'the hook after a second rebuild (record epoch 1, another address)');
  await waitExecRanFor(equal, 30_000, "the hook's exec after a second rebuild (done at epoch 1, another address)");
  await hooksRanAndEnded(since);
  failed = false;
});

test('the same Sentinels answering an older epoch than the one acted on: refused while a failover may be under way, followed after failover-timeout', {
  timeout: 300_000,
}, async () => {
  failed = true;
  await actedOnEpochTwo();
  const m = await master();
  const other = lab.redisHosts.find((h) => h.name !== m)!;
  // As on a host that acted on the leader's promotion at epoch 3 (naming `other`) while a majority still
  // names the master at epoch 2: the record as that run wrote it (the ids beside it, written by the real
  // reconcile above, stay: the same Sentinels).
  writeFileSync(join(lockDir(other.name), `${MASTER_NAME}.epoch`), `3 ${other.ip} ${REDIS_PORT}\n`);
  await lab.ip(other.name, ['addr', 'add', DEFAULT_VIP, 'dev', 'eth0']);
  const refused = await reconcile(other.name);
  assert.equal(refused.code, 1, refused.out);
  assert.match(refused.out, /older than epoch 3/);
  assert.deepEqual((await lab.holders()).sort(), [m, other.name].sort(), `${other.name} kept what it acted on`);
  // A failover is never under way for longer than failover-timeout: past it, the answer is the truth.
  await sleep(FAILOVER_TIMEOUT_MS + 500);
  const followed = await reconcile(other.name);
  assert.equal(followed.code, 0, followed.out);
  await waitHolders(m, 1000, 'reconcile once the older answer outlasted failover-timeout');
  failed = false;
});
