// reconcile and stale events that fix the host, in the real Sentinel lab (network namespaces, three
// redis-server + redis-sentinel as the redis user, the vip action under the generated sudoers, one
// config and lock directory per host, `sentinels` listing all three). One lab, four situations in turn,
// each judged by where the VIP is and what the command said. Needs root.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import {
  CLIENT_RECONFIG_HOOK,
  DEFAULT_VIP,
  type Lab,
  MASTER_NAME,
  REDIS_PORT,
  vipHook,
  withLab,
} from '../lab/index.ts';
import { cliPath } from '../lab/lab.ts';
import { reachablePath } from '../support/checkout.ts';

interface ReconcileJson {
  exitCode: number;
  masters: {
    master: string;
    outcome: string;
    reason?: string;
    state?: { ip: string; epoch: number };
    answers: unknown[];
  }[];
}

async function reconcile(
  lab: Lab,
  host: string,
  args: string[] = [],
): Promise<{ code: number; json: ReconcileJson; stderr: string }> {
  const r = await lab.exec(
    host,
    [process.execPath, cliPath(), 'reconcile', '--json', '--config', lab.host(host).files.hookConfig, ...args],
    {
      timeoutMs: 40_000,
    },
  );
  let json: ReconcileJson;
  try {
    json = JSON.parse(r.stdout) as ReconcileJson;
  } catch {
    throw new Error(`reconcile on ${host} printed no JSON (exit ${r.code}): ${r.stdout}${r.stderr}`);
  }
  return { code: r.code ?? -1, json, stderr: r.stderr };
}

async function addVipByHand(lab: Lab, host: string): Promise<void> {
  await lab.ip(host, ['addr', 'add', DEFAULT_VIP, 'dev', 'eth0']);
}

test('reconcile in the lab: a stray VIP removed (then nothing to do); unsure Sentinels change nothing; never back past a newer epoch; a stale retry fixes its host', {
  timeout: 240_000,
}, async (t: TestContext) => {
  await withLab(t, { hook: vipHook({ sentinels: true }) }, async (lab) => {
    assert.deepEqual(await lab.holders(), ['r1']);

    // 1. r2 missed a failover and was left holding the VIP (here: put there by hand).
    await addVipByHand(lab, 'r2');
    assert.deepEqual((await lab.holders()).sort(), ['r1', 'r2']);
    const fix = await reconcile(lab, 'r2');
    assert.equal(fix.code, 0, JSON.stringify(fix.json) + fix.stderr);
    assert.equal(fix.json.masters[0]!.outcome, 'converged');
    assert.equal(fix.json.masters[0]!.state?.ip, lab.host('r1').ip);
    assert.deepEqual(await lab.holders(), ['r1'], 'the stray VIP left r2, r1 kept its own');
    const again = await reconcile(lab, 'r2');
    assert.equal(again.code, 0);
    assert.equal(again.json.masters[0]!.outcome, 'nothing-to-do', 'a second run changes nothing');
    // On the master itself: the VIP is where it belongs, nothing to do (no ARP as a side effect).
    const onMaster = await reconcile(lab, 'r1');
    assert.equal(onMaster.json.masters[0]!.outcome, 'nothing-to-do');

    // 2. Two of three Sentinels hung (SIGSTOP): no majority answers; nothing changes, exit 1, and it says so.
    await addVipByHand(lab, 'r3');
    lab.pauseSentinel('r1');
    lab.pauseSentinel('r2');
    try {
      const unsure = await reconcile(lab, 'r3');
      assert.equal(unsure.code, 1);
      assert.equal(unsure.json.masters[0]!.outcome, 'unsure');
      assert.match(unsure.json.masters[0]!.reason ?? '', /1 of 3 Sentinels answered/);
      assert.equal(unsure.json.masters[0]!.answers.length, 3, 'what each Sentinel said is reported');
      assert.deepEqual((await lab.holders()).sort(), ['r1', 'r3'], 'nothing changed while unsure');
    } finally {
      lab.resumeSentinel('r1');
      lab.resumeSentinel('r2');
    }

    // 3. Between a leader's promotion and the others' switch, a majority still names the old master at
    // the old epoch. Staged on r1: this host has acted on a newer epoch (naming r3) than the Sentinels
    // give; a reconcile then must not undo that failover.
    const epoch = Number(fix.json.masters[0]!.state!.epoch);
    const record = join(lab.host('r1').runDir, 'lock', `${MASTER_NAME}.epoch`);
    writeFileSync(record, `${epoch + 1} ${lab.host('r3').ip} ${REDIS_PORT}\n`);
    const older = await reconcile(lab, 'r1');
    assert.equal(older.code, 1);
    assert.equal(older.json.masters[0]!.outcome, 'older-epoch');
    assert.match(
      older.json.masters[0]!.reason ?? '',
      new RegExp(`config epoch ${epoch}\\b.*older than epoch ${epoch + 1}`),
    );
    assert.ok((await lab.holders()).includes('r1'), 'r1 kept the VIP');
    writeFileSync(record, `${epoch} ${lab.host('r1').ip} ${REDIS_PORT}\n`);

    // 4. A late retry of an overtaken failover (r1 -> r3) reaches r3, which wrongly holds the VIP: the
    // hook, run by Sentinel's user as Sentinel runs it, finds the event stale and converges r3.
    const retry = await lab.exec(
      'r3',
      [
        'setpriv',
        '--reuid=redis',
        '--regid=redis',
        '--init-groups',
        reachablePath(CLIENT_RECONFIG_HOOK),
        MASTER_NAME,
        'observer',
        'start',
        lab.host('r1').ip,
        String(REDIS_PORT),
        lab.host('r3').ip,
        String(REDIS_PORT),
      ],
      {
        timeoutMs: 40_000,
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', SENTINEL_HOOK_CONFIG: lab.host('r3').files.hookConfig },
      },
    );
    assert.equal(retry.code, 0, retry.stdout + retry.stderr);
    const run = lab.hookRuns('r3').at(-1)!;
    assert.equal(run.outcome, 'stale');
    assert.deepEqual(await lab.holders(), ['r1'], 'the stale retry took the VIP off r3');
  });
});
