// doctor: each check's logic from what it was given (sentinel.conf text, the Sentinels' answers,
// watch's heartbeat, a Node version, a fake host for the vip checks), the one-line-per-check text and
// the exit code (0 all pass, 1 any fail). The live whole is tested in the lab (lab-status-doctor).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { probeUpdate } from '../../src/actions/dns/doctor.ts';
import { encodeUpdate } from '../../src/actions/dns/message.ts';
import type { DoctorHost } from '../../src/actions/plugin.ts';
import { vipChecks } from '../../src/actions/vip/doctor.ts';
import { vipSchema } from '../../src/actions/vip/schema.ts';
import {
  doctorReport,
  doctorText,
  hookBesideWatchChecks,
  parseSentinelConf,
  runtimeEol,
  sentinelChecks,
  sentinelConfChecks,
  unitEnabled,
  watchChecks,
} from '../../src/commands/doctor.ts';
import { memoryLogger } from '../../src/log.ts';
import type { SentinelAnswer } from '../../src/sentinel/client.ts';
import { isLoopbackHost } from '../../src/values.ts';
import { FakeRunner } from '../support/fakes.ts';

const NOW = Date.parse('2026-12-03T12:00:00Z');

test('runtimeEol: Node 20 and older are past their end of life on 2026-12-03; 22, 24 and 26 are not', () => {
  const today = new Date(NOW);
  assert.match(runtimeEol('v20.20.2', today)!, /^Node v20\.20\.2 is past its end of life \(2026-04-30\)/);
  assert.match(runtimeEol('v18.20.4', today)!, /past its end of life \(2025-04-30\)/);
  assert.match(runtimeEol('v23.1.0', today)!, /past its end of life/);
  assert.equal(runtimeEol('v22.11.0', today), undefined);
  assert.equal(runtimeEol('v24.22.0', today), undefined);
  assert.equal(runtimeEol('v26.1.0', today), undefined);
  // Node 22's own end comes in April 2027.
  assert.match(runtimeEol('v22.11.0', new Date('2027-05-01T00:00:00Z'))!, /past its end of life \(2027-04-30\)/);
});

test('sentinel.conf: every master monitored at a real address and wired to this hook, or watch acting instead', () => {
  const conf = parseSentinelConf(
    [
      'port 26379',
      'sentinel monitor mymaster 10.0.0.11 6379 2',
      'sentinel client-reconfig-script mymaster /opt/sentinel-hook/hooks/client-reconfig',
      'sentinel monitor cache 127.0.0.1 6380 2',
      'sentinel monitor other 10.0.0.12 6379 2',
      'sentinel client-reconfig-script other /usr/local/bin/failover.sh',
      'sentinel monitor plain 10.0.0.13 6379 2',
      'sentinel myid 0123456789abcdef0123456789abcdef01234567',
    ].join('\n'),
  );
  assert.equal(conf.myid, '0123456789abcdef0123456789abcdef01234567');
  const isThisHook = (s: string) => s.startsWith('/opt/sentinel-hook/');
  const checks = sentinelConfChecks(conf, '/etc/redis/sentinel.conf', ['mymaster', 'cache', 'other', 'plain', 'gone'], {
    isThisHook,
    watch: false,
  });
  assert.deepEqual(
    checks.map((c) => [c.check, c.result]),
    [
      ['sentinel.conf: mymaster', 'pass'],
      ['sentinel.conf: cache', 'fail'],
      ['sentinel.conf: other', 'fail'],
      ['sentinel.conf: plain', 'fail'],
      ['sentinel.conf: gone', 'fail'],
    ],
  );
  assert.match(
    checks[1]!.detail,
    /127\.0\.0\.1:6380, a loopback address \(Debian's default\): every host would name itself master/,
  );
  assert.match(checks[2]!.detail, /is \/usr\/local\/bin\/failover\.sh, not this install's hook/);
  assert.match(checks[3]!.fix!, /run watch/);
  assert.match(checks[4]!.fix!, /sentinel monitor gone/);
  // With watch alive, a master without a hook is fine.
  const withWatch = sentinelConfChecks(conf, 'x', ['plain'], { isThisHook, watch: true });
  assert.equal(withWatch[0]!.result, 'pass');
  assert.ok(isLoopbackHost('::1') && isLoopbackHost('127.1.2.3') && isLoopbackHost('localhost'));
  assert.ok(!isLoopbackHost('10.0.0.1') && !isLoopbackHost('redis.internal'));
});

const ok = (address: string, id?: string, epoch = 3): SentinelAnswer => ({
  address,
  master: { ip: '10.0.0.11', port: 6379 },
  epoch,
  ...(id ? { id } : {}),
});

test('sentinels: each answers, they agree, no two share an id (cloned hosts), the ACL allows what a run sends', () => {
  const fine = sentinelChecks('m', [ok('s1', 'a'), ok('s2', 'b'), ok('s3', 'c')], 3);
  assert.deepEqual(
    fine.map((c) => c.result),
    ['pass', 'pass', 'pass', 'pass', 'pass', 'pass'],
  );
  const cloned = sentinelChecks(
    'm',
    [ok('s1', 'a'), ok('s2', 'a'), { address: 's3', error: 'connect ECONNREFUSED' }],
    3,
  );
  const byName = Object.fromEntries(cloned.map((c) => [c.check, c]));
  assert.equal(byName['sentinel s3 (m)']!.result, 'fail');
  assert.match(byName['sentinel s3 (m)']!.fix!, /start that Sentinel/);
  assert.equal(byName['sentinels agree (m)']!.result, 'pass', '2 of 3 is a majority');
  assert.equal(byName['sentinel ids (m)']!.result, 'fail');
  assert.match(byName['sentinel ids (m)']!.detail, /^s1 and s2 share id a$/);
  assert.match(byName['sentinel ids (m)']!.fix!, /delete the "sentinel myid" line/);
  const acl = sentinelChecks(
    'm',
    [{ ...ok('s1'), noperm: [{ command: 'SENTINEL MYID', rule: '+sentinel|myid', user: 'hook' }] }, ok('s2'), ok('s3')],
    3,
  );
  const refused = acl.find((c) => c.check === 'sentinel ACL (m)')!;
  assert.equal(refused.result, 'fail');
  assert.match(`${refused.detail} ${refused.fix}`, /\+sentinel\|myid/);
  const split = sentinelChecks(
    'm',
    [ok('s1', 'a', 3), { ...ok('s2', 'b', 3), master: { ip: '10.0.0.12', port: 6379 } }],
    3,
  );
  assert.equal(split.find((c) => c.check === 'sentinels agree (m)')!.result, 'fail');
});

test('watch: alive and reconciling, stopped, or absent (a pass in the hook setup, a fail when nothing else acts)', () => {
  const beat = (agoMs: number, outcomes: Record<string, string> = { m: 'nothing-to-do' }) => ({
    pid: 9,
    started: '',
    at: new Date(NOW - agoMs).toISOString(),
    intervalMs: 10_000,
    lastReconcile: { at: new Date(NOW - agoMs).toISOString(), outcomes },
  });
  assert.deepEqual(
    watchChecks(beat(3000), NOW, true).map((c) => c.result),
    ['pass', 'pass'],
  );
  assert.deepEqual(
    watchChecks(beat(3000, { m: 'failed' }), NOW, true).map((c) => c.result),
    ['pass', 'fail'],
  );
  const stopped = watchChecks(beat(600_000), NOW, true);
  assert.equal(stopped[0]!.result, 'fail');
  assert.match(stopped[0]!.detail, /heartbeat is 10m old \(pid 9\): it stopped/);
  // The hook setup: Sentinel's hook is the one actor; no watch is what it should be.
  const hookSetup = watchChecks(undefined, NOW, true);
  assert.equal(hookSetup[0]!.result, 'pass');
  assert.match(hookSetup[0]!.detail, /Sentinel runs the hook here \(the hook setup\)/);
  assert.equal(watchChecks(undefined, NOW, false)[0]!.result, 'fail');
});

test('one actor: watch running or enabled beside the hook Sentinel runs is a warning with both ways out', () => {
  assert.deepEqual(hookBesideWatchChecks([], { running: true, enabled: true }), [], 'the watch setup');
  assert.deepEqual(hookBesideWatchChecks(['mymaster'], { running: false, enabled: false }), [], 'the hook setup');
  for (const [watch, state] of [
    [{ running: true, enabled: false }, 'running'],
    [{ running: false, enabled: true }, 'enabled'],
    [{ running: true, enabled: true }, 'running and enabled'],
  ] as const) {
    const [c, ...rest] = hookBesideWatchChecks(['mymaster', 'cache'], watch);
    assert.equal(rest.length, 0);
    assert.equal(c!.result, 'warn');
    assert.equal(
      c!.detail,
      `sentinel-hook-watch.service is ${state} while sentinel.conf runs this hook for mymaster, cache: two actors on every failover`,
    );
    assert.match(c!.fix!, /^hook setup: systemctl disable --now sentinel-hook-watch\.service; watch setup: /);
  }
  const report = doctorText(doctorReport(hookBesideWatchChecks(['m'], { running: true, enabled: false })));
  assert.match(report, /^WARN {2}one actor: .*\n {6}fix: hook setup: systemctl disable --now/m);
  assert.match(report, /exit 0$/, 'a warning: the VIP still moves');
});

test("unitEnabled: a link in a target's .wants/ of any unit directory, dangling or not", () => {
  const dir = mkdtempSync(join(tmpdir(), `sh-doctor-units-${process.pid}-`));
  try {
    const etc = join(dir, 'etc');
    const wants = join(etc, 'multi-user.target.wants');
    mkdirSync(wants, { recursive: true });
    const dirs = [etc, join(dir, 'missing')];
    assert.equal(unitEnabled('sentinel-hook-watch.service', dirs), false);
    symlinkSync('/lib/systemd/system/sentinel-hook-reconcile.service', join(wants, 'sentinel-hook-reconcile.service'));
    assert.equal(unitEnabled('sentinel-hook-watch.service', dirs), false);
    symlinkSync('/lib/systemd/system/sentinel-hook-watch.service', join(wants, 'sentinel-hook-watch.service'));
    assert.equal(unitEnabled('sentinel-hook-watch.service', dirs), true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('doctor text: one line per check, the fix under each that did not pass; exit 1 on any fail, warnings do not fail', () => {
  const report = doctorReport([
    { check: 'sentinel user', result: 'pass', detail: 'redis (the running Sentinel, pid 1)' },
    { check: 'runtime support', result: 'warn', detail: 'Node v20 is past its end of life', fix: 'upgrade Node' },
    { check: 'sudo x', result: 'fail', detail: 'not allowed', fix: 'sentinel-hook sudoers --user redis' },
  ]);
  assert.equal(report.exitCode, 1);
  assert.equal(
    doctorText(report),
    [
      'PASS  sentinel user: redis (the running Sentinel, pid 1)',
      'WARN  runtime support: Node v20 is past its end of life',
      '      fix: upgrade Node',
      'FAIL  sudo x: not allowed',
      '      fix: sentinel-hook sudoers --user redis',
      'doctor: 3 checks, 1 failed, 1 warning(s), 0 skipped: exit 1',
    ].join('\n'),
  );
  assert.equal(doctorReport([{ check: 'a', result: 'warn', detail: '' }]).exitCode, 0);
});

test('dns doctor probe: a prerequisite and no update at all (nothing can change)', () => {
  const wire = encodeUpdate(probeUpdate('example.internal.', 'redis.example.internal.', 7));
  // Header: ZOCOUNT, PRCOUNT, UPCOUNT, ADCOUNT.
  assert.equal(wire.readUInt16BE(0), 7);
  assert.equal(wire.readUInt16BE(2) >> 11, 5, 'opcode UPDATE');
  assert.deepEqual(
    [wire.readUInt16BE(4), wire.readUInt16BE(6), wire.readUInt16BE(8), wire.readUInt16BE(10)],
    [1, 1, 0, 0],
  );
});

const ROUTES = JSON.stringify([
  { dst: '10.0.0.0/24', dev: 'eth0', protocol: 'kernel', scope: 'link', prefsrc: '10.0.0.3' },
]);

function vipHost(over: {
  operstate?: string;
  arpAnnounce?: string;
  runner: FakeRunner;
  root?: boolean;
  local?: string[];
}): DoctorHost {
  const files: Record<string, string> = {
    '/usr/bin/arping': 'iputils-arping 20221126',
    '/proc/sys/net/ipv4/conf/all/arp_announce': over.arpAnnounce ?? '2',
    '/proc/sys/net/ipv4/conf/eth0/arp_announce': '0',
    ...(over.operstate ? { '/sys/class/net/eth0/operstate': over.operstate } : {}),
  };
  const programs: Record<string, string> = { ip: '/usr/sbin/ip', arping: '/usr/bin/arping' };
  return {
    localAddresses: new Set(over.local ?? ['10.0.0.3']),
    read: (argv, o) => over.runner.run(argv, { timeoutMs: o?.timeoutMs ?? 1000 }),
    readFile: (p) => (files[p] !== undefined ? Buffer.from(files[p]!) : undefined),
    which: (p) => programs[p],
    logger: memoryLogger(),
    signal: new AbortController().signal,
    root: over.root ?? true,
  };
}

const vipEntry = (address: string, iface?: string) =>
  vipSchema().parse({ type: 'vip', address, ...(iface ? { interface: iface } : {}) });

test('vip doctor: interface up, a route covers the VIP, arp_announce, the arping flavour, and no second holder', async () => {
  const runner = new FakeRunner([
    { argv: ['/usr/sbin/ip', '-j', '-4', 'route', 'show'], result: { stdout: ROUTES } },
    // arping -D: someone answers for the address (exit 1 with its MAC), while this host holds it too.
    {
      argv: ['/usr/bin/arping', '-D', '-c', '1', '-w', '1', '-I', 'eth0', '10.0.0.100'],
      result: { exitCode: 1, stdout: 'Unicast reply from 10.0.0.100 [02:00:00:00:00:09]  0.6ms\n' },
    },
  ]);
  const checks = await vipChecks(
    vipEntry('10.0.0.100/24'),
    vipHost({ operstate: 'up', runner, local: ['10.0.0.3', '10.0.0.100'] }),
    () => undefined,
  );
  assert.deepEqual(
    checks.map((c) => [c.check.replace('vip 10.0.0.100/24: ', ''), c.result]),
    [
      ['interface eth0', 'pass'],
      ['route', 'pass'],
      ['arp_announce', 'pass'],
      ['arping', 'pass'],
      ['second holder', 'fail'],
    ],
  );
  assert.match(checks[3]!.detail, /iputils flavour/);
  assert.match(checks[4]!.detail, /02:00:00:00:00:09 answers for 10\.0\.0\.100 too: two holders/);
  assert.deepEqual(runner.unused(), []);
});

test('vip doctor: an interface that is down, a route on another interface, arp_announce 0; no probe without root', async () => {
  const runner = new FakeRunner([{ argv: ['/usr/sbin/ip', '-j', '-4', 'route', 'show'], result: { stdout: ROUTES } }]);
  const checks = await vipChecks(
    vipEntry('10.0.0.100/24', 'eth1'),
    {
      ...vipHost({ runner, root: false }),
      readFile: (p) =>
        p.endsWith('eth1/operstate')
          ? Buffer.from('down\n')
          : p === '/usr/bin/arping'
            ? Buffer.from('iputils')
            : undefined,
    },
    (dev) => `arp_announce is 0 on ${dev}: …; set net.ipv4.conf.all.arp_announce = 2`,
  );
  const byName = Object.fromEntries(checks.map((c) => [c.check.replace('vip 10.0.0.100/24: ', ''), c]));
  assert.equal(byName['interface eth1']!.result, 'fail');
  assert.match(byName['interface eth1']!.fix!, /ip link set eth1 up/);
  assert.equal(byName.route!.result, 'fail');
  assert.match(byName.route!.detail, /the route covering 10\.0\.0\.100 is on eth0, not on eth1/);
  assert.equal(byName.arp_announce!.result, 'warn');
  assert.equal(byName.arping!.result, 'pass');
  assert.equal(byName['second holder']!.result, 'skip');
  assert.match(byName['second holder']!.fix!, /run doctor as root/);
});

test('watch absent where sentinel.conf could not be read: a warning that says so, not a failure', () => {
  const [c] = watchChecks(undefined, NOW, undefined);
  assert.equal(c!.result, 'warn');
  assert.match(c!.detail, /sentinel\.conf could not be read/);
});

test('check stays the static check and points at doctor for the live one', async () => {
  const { checkCommand } = await import('../../src/commands/check.ts');
  const { validateConfig } = await import('../../src/config/load.ts');
  const config = validateConfig(
    { lockDir: '/nonexistent-lock', masters: { m: [{ type: 'exec', run: ['/bin/true'] }] } },
    't.yaml',
  );
  const { text, problems, warnings } = await checkCommand(
    config,
    { which: (p) => (p.startsWith('/') ? p : undefined), read: () => Promise.reject(new Error('no command expected')) },
    { unitDirs: [] },
  );
  assert.deepEqual(problems, []);
  assert.match(text, /^\(the static check: "sentinel-hook doctor" checks live what a failover needs on this host\)$/m);
  assert.ok(warnings.every((w) => text.includes(`warning: ${w}`)));
});

test('dns status part: a key this user may not read leaves the name unknown, not wrong', async () => {
  const { dnsAction } = await import('../../src/actions/dns/index.ts');
  const { failure } = await import('../../src/failures.ts');
  const a = dnsAction.schema as unknown as { parse(x: unknown): Parameters<NonNullable<typeof dnsAction.status>>[0] };
  const entry = a.parse({
    type: 'dns',
    server: '127.0.0.1',
    zone: 'example.internal.',
    name: 'redis.example.internal.',
    key: '/etc/k.key',
  });
  const problem = failure('file-unreadable', { noun: 'TSIG key', path: '/etc/k.key', errno: 'EACCES', fix: 'x' });
  const parts = dnsAction.status!(
    entry,
    { master: 'm', holder: 'other-host', source: { kind: 'state' } },
    { problem },
  )!;
  assert.deepEqual(
    parts.map((p) => [p.what, p.state]),
    [['dns redis.example.internal.', 'unknown']],
  );
  assert.match(parts[0]!.seen, /EACCES/);
  // Observed names are judged by the plan, as for any entry without its own verdict.
  assert.equal(
    dnsAction.status!(
      entry,
      { master: 'm', holder: 'other-host', source: { kind: 'state' } },
      { observed: { server: { address: '127.0.0.1', port: 53, label: 'x' }, names: [] } },
    ),
    undefined,
  );
});
