// `sentinel-hook log` after a real failover in the Sentinel lab: every Sentinel runs the hook (vip action,
// stale-event guard with all three Sentinels), the master's redis-server is killed, and `log` on the new
// master reads back the run that added the VIP as a timeline. Needs root.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cliPath, DEFAULT_VIP, MASTER_NAME, runOk, vipHook, withLab } from '../lab/index.ts';

const VIP_IP = DEFAULT_VIP.split('/')[0]!;

test('log after a failover: the new master run reads as event, freshness, decision, the VIP added with its time, applied', {
  timeout: 150_000,
}, async (t) => {
  await withLab(t, { hook: vipHook({ sentinels: true }) }, async (lab) => {
    const old = lab.initialMaster;
    lab.killRedis(old);
    const next = await lab.waitNewMaster(old, { timeoutMs: 30_000 });
    await lab.waitHooksIdle(20_000);
    const config = lab.host(next).files.hookConfig;
    const text = await runOk([process.execPath, cliPath(), 'log', '--config', config, '--master', MASTER_NAME], {
      timeoutMs: 20_000,
    });
    console.log(text);
    const runs = text.trim().split('\n\n').slice(0, -1);
    // The run that moved the VIP here: its event names this host's address as the to-ip.
    const moved = runs.find((r) => r.includes(`-> ${lab.host(next).ip}:`) && r.includes(`add ${VIP_IP}`));
    assert.ok(moved, `a run that added the VIP on ${next}:\n${text}`);
    const lines = moved.split('\n');
    assert.match(lines[0]!, new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\S+ UTC {2}${MASTER_NAME} {2}hook \\S+ {2}-> applied$`));
    assert.match(lines[1]!, /^ +\+0 ms {7}event: (leader|observer) start: \S+ -> \S+$/);
    assert.ok(
      lines.some((l) => /the Sentinels say the event is current \(3 answers\)/.test(l)),
      `the freshness check:\n${moved}`,
    );
    assert.ok(
      lines.some((l) => new RegExp(`decided: vip#\\d+: add ${VIP_IP.replace(/\./g, '\\.')}`).test(l)),
      moved,
    );
    assert.ok(
      lines.some((l) => new RegExp(`ok {6}vip#\\d+: add ${VIP_IP.replace(/\./g, '\\.')}\\S* .*\\(\\d+ ms\\)`).test(l)),
      moved,
    );
    assert.match(lines.at(-1)!, /end: applied, exit 0 \(\d+ ms\)$/);
    // Every line's offset grows with time.
    const offsets = lines.slice(1).map((l) => Number(/^ +\+(\d+) ms/.exec(l)?.[1]));
    assert.deepEqual(
      [...offsets].sort((a, b) => a - b),
      offsets,
    );
  });
});
