// status: what the Sentinels say, what each action observes judged against it, this host's records,
// and the monitoring-plugin exit codes (0 OK, 1 WARNING within --grace, 2 CRITICAL, 3 UNKNOWN). Fakes:
// Sentinels that answer what the test says, a runner that fails on any command it was not told about.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { hostsAction } from '../../src/actions/hosts/index.ts';
import type { Desired } from '../../src/actions/plugin.ts';
import {
  judgeMaster,
  type MasterStatus,
  type Records,
  statusCommand,
  statusExitCode,
  watchLine,
  withinGrace,
} from '../../src/commands/status.ts';
import { validateConfig } from '../../src/config/load.ts';
import type { MasterObservation } from '../../src/pipeline/status.ts';
import type { AskSentinel } from '../../src/sentinel/client.ts';
import { decideMaster } from '../../src/sentinel/decide.ts';
import { actedEpochWrittenAt, recordActedEpoch } from '../../src/state/epoch.ts';
import { writeHeartbeat, writeLastRun } from '../../src/state/last-run.ts';
import { writePause } from '../../src/state/pause.ts';
import { FakeRunner, fakeDeps } from '../support/fakes.ts';
import { addrJson } from './vip-samples.ts';

const IP = '/usr/sbin/ip';
const SENTINELS = ['192.168.0.1:26379', '192.168.0.2:26379', '192.168.0.3:26379'];
const ME = '192.168.0.3';
const VIP = '192.168.0.4';
const NOW = Date.parse('2026-12-03T12:00:00Z');

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), `sh-status-${process.pid}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function config(lockDir: string) {
  return validateConfig(
    {
      lockDir,
      sentinels: { addresses: SENTINELS, settle: 0 },
      masters: {
        mymaster: [
          { type: 'vip', address: `${VIP}/24`, interface: 'eth0' },
          { type: 'exec', run: ['/bin/true'] },
        ],
      },
    },
    'test.yaml',
  );
}

function sentinelsSay(answers: ([string, number] | undefined)[]): AskSentinel {
  return async (address) => {
    const a = answers[SENTINELS.indexOf(address)];
    return a ? { address, master: { ip: a[0], port: 6379 }, epoch: a[1] } : { address, error: 'connect ECONNREFUSED' };
  };
}

const addrs = (withVip: boolean) =>
  addrJson([
    {
      ifname: 'eth0',
      addrs: [
        { family: 'inet' as const, local: ME, prefixlen: 24 },
        ...(withVip ? [{ family: 'inet' as const, local: VIP, prefixlen: 24 }] : []),
      ],
    },
  ]);

function deps(answers: ([string, number] | undefined)[], holdsVip: boolean) {
  const runner = new FakeRunner([{ argv: [IP, '-j', '-4', 'addr', 'show'], result: { stdout: addrs(holdsVip) } }]);
  return {
    runner,
    deps: fakeDeps({
      runner,
      programs: { ip: IP },
      addresses: holdsVip ? [ME, VIP] : [ME],
      askSentinel: sentinelsSay(answers),
    }),
  };
}

test('status: the VIP where the Sentinels say it should be is OK (0); exec has nothing to observe', async (t) => {
  const dir = tempDir(t);
  const { runner, deps: d } = deps(
    [
      [ME, 3],
      [ME, 3],
      [ME, 3],
    ],
    true,
  );
  const r = await statusCommand(config(dir), d, { graceMs: 30_000 }, () => NOW);
  assert.equal(r.exitCode, 0, r.text);
  assert.match(r.text, /^mymaster: OK consistent \(master 192\.168\.0\.3:6379, config epoch 3, this host\)$/m);
  assert.match(r.text, /vip#0 VIP 192\.168\.0\.4\s+consistent\s+192\.168\.0\.4\/24 on eth0/);
  assert.match(r.text, /exec#1 exec\s+none\s+exec runs a command/);
  assert.match(r.text, /^OK: exit 0$/m);
  assert.deepEqual(runner.unused(), []);
});

test('status: a VIP held on a host that should not hold it is CRITICAL (2) and says to run reconcile', async (t) => {
  const dir = tempDir(t);
  const { deps: d } = deps(
    [
      ['192.168.0.1', 4],
      ['192.168.0.1', 4],
      ['192.168.0.1', 4],
    ],
    true,
  );
  const r = await statusCommand(config(dir), d, { graceMs: 30_000 }, () => NOW);
  assert.equal(r.exitCode, 2, r.text);
  assert.match(r.text, /^mymaster: CRITICAL inconsistent .* - run: sentinel-hook reconcile --master mymaster$/m);
  assert.match(r.text, /^ {2}! {2}vip#0 VIP 192\.168\.0\.4\s+inconsistent\s+.*a run would: remove/m);
  const json = r.json as { masters: { verdict: string; fix: string }[] };
  assert.equal(json.masters[0]!.verdict, 'inconsistent');
});

test('status: inconsistent, but this host matched the older epoch moments ago: WARNING (1) within --grace', async (t) => {
  const dir = tempDir(t);
  const cfg = config(dir);
  recordActedEpoch(cfg.stateDir, 'mymaster', { ip: ME, port: 6379, epoch: 3 });
  const { deps: d } = deps(
    [
      ['192.168.0.1', 4],
      ['192.168.0.1', 4],
      ['192.168.0.1', 4],
    ],
    true,
  );
  const r = await statusCommand(cfg, d, { graceMs: 30_000 }, () => Date.now());
  assert.equal(r.exitCode, 1, r.text);
  assert.match(r.text, /^mymaster: WARNING within-grace/m);
});

test('status: no majority of the Sentinels answers: UNKNOWN (3), the VIP still shown', async (t) => {
  const dir = tempDir(t);
  const { deps: d } = deps([[ME, 3], undefined, undefined], true);
  const r = await statusCommand(config(dir), d, { graceMs: 30_000 }, () => NOW);
  assert.equal(r.exitCode, 3, r.text);
  assert.match(r.text, /^mymaster: UNKNOWN unknown \(1 of 3 Sentinels answered/m);
  assert.match(r.text, /sentinel 192\.168\.0\.2:26379\s+no answer\s+connect ECONNREFUSED/);
  assert.match(r.text, /vip#0 VIP 192\.168\.0\.4\s+unknown\s+192\.168\.0\.4\/24 on eth0 \(no clear answer/);
});

test('status: the Sentinels password unreadable for this user is UNKNOWN for the Sentinels only; records are shown', async (t) => {
  const dir = tempDir(t);
  const cfg = validateConfig(
    {
      lockDir: dir,
      sentinels: { addresses: SENTINELS, settle: 0, password: { file: join(dir, 'no-such-password') } },
      masters: { mymaster: [{ type: 'exec', run: ['/bin/true'] }] },
    },
    'test.yaml',
  );
  writePause(cfg.stateDir, 'kernel upgrade');
  writeHeartbeat(cfg.lockDir, {
    pid: 4242,
    started: new Date(NOW - 60_000).toISOString(),
    at: new Date(NOW - 2000).toISOString(),
    intervalMs: 10_000,
    lastReconcile: { at: new Date(NOW - 2000).toISOString(), outcomes: { mymaster: 'nothing-to-do' } },
  });
  writeLastRun(cfg.stateDir, 'mymaster', {
    at: new Date(NOW - 90_000).toISOString(),
    run: 'r1',
    intent: 'event',
    outcome: 'applied',
    exitCode: 0,
    master: { ip: ME, port: 6379, epoch: 3 },
    ms: 120,
  });
  const r = await statusCommand(cfg, fakeDeps({ askSentinel: sentinelsSay([]) }), { graceMs: 30_000 }, () => NOW);
  assert.equal(r.exitCode, 3, r.text);
  assert.match(r.text, /^mymaster: UNKNOWN unknown \(.*no-such-password/m);
  assert.match(r.text, /paused\s+yes\s+kernel upgrade/);
  assert.match(r.text, /watch\s+alive\s+alive \(pid 4242, heartbeat 2s ago, last reconcile 2s ago\)/);
  assert.match(r.text, /last run\s+2026-12-03T11:58:30\.000Z \(90s ago\): event applied, exit 0, config epoch 3/);
});

test('status: a master not in the config is refused', async (t) => {
  const dir = tempDir(t);
  await assert.rejects(statusCommand(config(dir), fakeDeps(), { graceMs: 1000, master: 'nope' }), /nope/);
});

test('withinGrace: judged only from records written while an older epoch (or this one) was current', (t) => {
  const dir = tempDir(t);
  const records = (r: Partial<Records>): Records => r;
  // A record of epoch 3 confirmed 5 s ago: epoch 4 is at most 5 s old.
  assert.equal(
    withinGrace(4, records({ acted: { epoch: 3, ip: ME, port: 1, writtenAt: NOW - 5000 } }), NOW, 30_000),
    true,
  );
  assert.equal(
    withinGrace(4, records({ acted: { epoch: 3, ip: ME, port: 1, writtenAt: NOW - 60_000 } }), NOW, 30_000),
    false,
  );
  // A record of the current epoch says nothing of its age.
  assert.equal(
    withinGrace(4, records({ acted: { epoch: 4, ip: ME, port: 1, writtenAt: NOW - 1000 } }), NOW, 30_000),
    false,
  );
  const run = (epoch: number, agoMs: number) =>
    records({
      lastRun: {
        at: new Date(NOW - agoMs).toISOString(),
        run: 'x',
        intent: 'event',
        outcome: 'failed',
        exitCode: 1,
        master: { ip: ME, port: 1, epoch },
        ms: 1,
      },
    });
  // A run for this failover that just failed (Sentinel retries it): within grace.
  assert.equal(withinGrace(4, run(4, 3000), NOW, 30_000), true);
  assert.equal(withinGrace(4, run(4, 300_000), NOW, 30_000), false);
  assert.equal(withinGrace(4, run(5, 3000), NOW, 30_000), false);
  assert.equal(withinGrace(4, records({}), NOW, 30_000), false);
  // The epoch record's written-at time is its mtime: every run that finds the host in line rewrites it.
  recordActedEpoch(dir, 'm', { ip: ME, port: 1, epoch: 3 });
  utimesSync(join(dir, 'm.epoch'), new Date(NOW - 10_000), new Date(NOW - 10_000));
  assert.equal(actedEpochWrittenAt(dir, 'm'), NOW - 10_000);
});

function observation(states: string[], clear = true): MasterObservation {
  const answers = [{ address: 's1', master: { ip: ME, port: 6379 }, epoch: 2 }];
  return {
    master: 'm',
    answers,
    decision: clear ? decideMaster(answers, 1) : decideMaster([], 1),
    actions: [
      { action: 'x#0', parts: states.map((state) => ({ what: 'w', state: state as 'consistent', seen: 's' })) },
    ],
  };
}

test('statusExitCode: CRITICAL over WARNING over UNKNOWN over OK, the monitoring way', () => {
  const judged = (states: string[], clear = true): MasterStatus =>
    judgeMaster(observation(states, clear), {}, NOW, 30_000);
  assert.equal(judged(['consistent', 'none']).exitCode, 0);
  assert.equal(judged(['consistent', 'unknown']).exitCode, 3);
  assert.equal(judged(['inconsistent', 'unknown']).exitCode, 2);
  assert.equal(judged(['consistent'], false).exitCode, 3);
  assert.equal(statusExitCode([judged(['consistent']), judged(['unknown']), judged(['inconsistent'])]), 2);
  assert.equal(statusExitCode([judged(['consistent']), judged(['unknown'])]), 3);
  assert.equal(statusExitCode([judged(['consistent'])]), 0);
  const paused = judgeMaster(observation(['inconsistent']), { paused: 'drill' }, NOW, 30_000);
  assert.match(paused.fix!, /^paused \(drill\): sentinel-hook resume, then sentinel-hook reconcile --master m$/);
});

test('watchLine: alive within three intervals of its heartbeat, stopped after', () => {
  const beat = (agoMs: number) => ({
    pid: 7,
    started: '',
    at: new Date(NOW - agoMs).toISOString(),
    intervalMs: 10_000,
  });
  assert.equal(watchLine(beat(5000), NOW).alive, true);
  assert.equal(watchLine(beat(120_000), NOW).alive, false);
  assert.match(watchLine(beat(120_000), NOW).line, /^NOT ALIVE \(pid 7, heartbeat 2m ago\)$/);
  assert.equal(watchLine(undefined, NOW).alive, undefined);
});

test('hosts status part: the local file and each target judged against the master; a target that cannot be read is unknown', () => {
  const a = validateConfig(
    {
      lockDir: '/tmp/x',
      masters: {
        m: [
          {
            type: 'hosts',
            names: ['db.internal'],
            file: '/etc/hosts-test',
            push: {
              targets: ['app1', 'app2', 'app3'],
              user: 'u',
              identityFile: '/k',
              knownHostsFile: '/kh',
              remotePath: '/etc/hosts',
            },
          },
        ],
      },
    },
    't.yaml',
  ).masters.m![0]! as Parameters<NonNullable<typeof hostsAction.status>>[0];
  const desired: Desired = {
    master: 'm',
    holder: 'other-host',
    target: { ip: '10.0.0.2', port: 6379, addresses: ['10.0.0.2'] },
    epoch: 1,
    source: { kind: 'state' },
  };
  const parts = hostsAction.status!(a, desired, {
    local: { file: '/etc/hosts-test', text: '10.0.0.1 db.internal\n' },
    remote: [
      { target: 'app1:22', names: { 'db.internal': ['10.0.0.2'] } },
      { target: 'app2:22', names: { 'db.internal': ['10.0.0.2', '10.0.0.1'] } },
      { target: 'app3:22', unknown: 'cannot connect: ECONNREFUSED' },
    ],
  })!;
  assert.deepEqual(
    parts.map((p) => [p.what, p.state]),
    [
      ['/etc/hosts-test', 'inconsistent'],
      ['app1:22', 'consistent'],
      ['app2:22', 'inconsistent'],
      ['app3:22', 'unknown'],
    ],
  );
  assert.equal(parts[3]!.seen, '/etc/hosts: cannot tell (cannot connect: ECONNREFUSED)');
});

test('the CLI: status on a config it cannot read, or with a bad --grace, is UNKNOWN (3), not the hook exit 2; doctor fails its config check (1)', async (t) => {
  const { main } = await import('../../src/cli.ts');
  const dir = tempDir(t);
  const out: string[] = [];
  const io = { out: (s: string) => out.push(s), err: (s: string) => out.push(s), env: {}, isTty: false };
  assert.equal(await main(['status', '--config', join(dir, 'missing.yaml')], io), 3);
  assert.match(out.join('\n'), /^UNKNOWN: .*missing\.yaml/m);
  out.length = 0;
  assert.equal(await main(['doctor', '--config', join(dir, 'missing.yaml')], io), 1);
  assert.match(out.join('\n'), /^FAIL {2}config: .*missing\.yaml/m);
  out.length = 0;
  assert.equal(await main(['status', '--grace', 'soon', '--config', join(dir, 'missing.yaml')], io), 3);
  assert.match(out.join('\n'), /--grace/);
});
