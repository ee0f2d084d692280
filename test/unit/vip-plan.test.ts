import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { validateConfig } from '../../src/config/load.ts';
import { parseEvent } from '../../src/event.ts';
import { type HookResult, runHook } from '../../src/pipeline/run.ts';
import { addressesFollowingIp, type Expectation, FakeRunner, fakeDeps } from '../support/fakes.ts';
import {
  addrJson,
  HABETS_HELD,
  HABETS_V,
  IPUTILS_DAD_FREE,
  IPUTILS_DAD_HELD,
  IPUTILS_V,
  ROUTES_V4,
  ROUTES_V6,
} from './vip-samples.ts';

const lockDir = mkdtempSync(join(tmpdir(), 'sh-vip-'));
test.after(() => rmSync(lockDir, { recursive: true, force: true }));

const IP = '/usr/sbin/ip';
const ARPING = '/usr/bin/arping';
const SUDO = '/usr/bin/sudo';
const NDPTOOL = '/usr/bin/ndptool';
const PROGRAMS = { ip: IP, arping: ARPING, sudo: SUDO, ndptool: NDPTOOL };

// Seed 000: redis1..3 = 192.168.0.1..3, VIP 192.168.0.4/24 on eth0. This host is redis2.
const ME = '192.168.0.2';
const toMe = parseEvent(['mymaster', 'leader', 'start', '192.168.0.1', '6379', ME, '6379']);
const toOther = parseEvent(['mymaster', 'observer', 'start', ME, '6379', '192.168.0.3', '6379']);

const FAST_ARP = { count: 2, interval: '10ms', repeatAfter: '30ms' };

function config(vip: Record<string, unknown>) {
  return validateConfig(
    {
      lockDir,
      masters: { mymaster: [{ type: 'vip', address: '192.168.0.4/24', interface: 'eth0', arp: FAST_ARP, ...vip }] },
    },
    'test.yaml',
  );
}

const withoutVip = addrJson([{ ifname: 'eth0', addrs: [{ family: 'inet', local: ME, prefixlen: 24 }] }]);
const withVip = addrJson([
  {
    ifname: 'eth0',
    addrs: [
      { family: 'inet', local: ME, prefixlen: 24 },
      { family: 'inet', local: '192.168.0.4', prefixlen: 24 },
    ],
  },
]);

const addrShow = (stdout: string, family = '-4'): Expectation => ({
  argv: [IP, '-j', family, 'addr', 'show'],
  result: { stdout },
});
const arpingV = (stdout = IPUTILS_V, exitCode = 0): Expectation => ({
  argv: [ARPING, '-V'],
  result: { stdout, exitCode },
});
const sudo = (argv: string[], result: Expectation['result'] = {}, times = 1): Expectation => ({
  argv: [SUDO, '-n', ...argv],
  result,
  times,
});
/** Two bursts of `count` -c 1 requests and replies each (iputils). */
const iputilsGarp = (dev = 'eth0', ip = '192.168.0.4', bursts = 2): Expectation[] => [
  sudo([ARPING, '-q', '-U', '-c', '1', '-I', dev, ip], {}, 2 * bursts),
  sudo([ARPING, '-q', '-A', '-c', '1', '-I', dev, ip], {}, 2 * bursts),
];

/** Habets' arping (count 2 at FAST_ARP's interval): one -U and one -U -P process per burst, each exiting 1 (nobody replied). */
const habetsGarp = (): Expectation[] => {
  const common = ['-c', '2', '-W', '0.01', '-i', 'eth0', '-S', '192.168.0.4', '192.168.0.4'];
  return [
    sudo([ARPING, '-q', '-U', ...common], { exitCode: 1 }, 2),
    sudo([ARPING, '-q', '-U', '-P', ...common], { exitCode: 1 }, 2),
  ];
};

/**
 * One consistent fake host: its interface addresses (what os.networkInterfaces() reports) list the
 * VIP exactly when the `ip -j addr show` sample does, and, like the real planner, ip is only asked
 * for details when the VIP is there at all.
 */
function world(
  expectations: Expectation[],
  addresses: string[],
  newMaster = true,
): { runner: FakeRunner; addresses: string[] } {
  const show = expectations.find((e) => e.argv[1] === '-j' && e.argv[3] === 'addr');
  const vips = ['192.168.0.4', 'fd00:77::100'].filter((v) => show?.result?.stdout?.includes(`"${v}"`));
  // Only the new master skips ip when the interfaces do not list the VIP.
  if (newMaster && show && vips.length === 0 && !show.result?.exitCode)
    return { runner: new FakeRunner(expectations.filter((e) => e !== show)), addresses };
  return { runner: new FakeRunner(expectations), addresses: [...addresses, ...vips] };
}

async function run(
  vip: Record<string, unknown>,
  event: typeof toMe,
  expectations: Expectation[],
  over: { programs?: Record<string, string>; addresses?: string[] } = {},
) {
  const local = over.addresses ?? ['127.0.0.1', ME];
  const { runner, addresses } = world(expectations, local, local.includes(event.toIp));
  const deps = fakeDeps({
    runner,
    programs: over.programs ?? PROGRAMS,
    localAddresses: addressesFollowingIp(runner, addresses),
  });
  const result = await runHook(event, config(vip), deps, { dryRun: false });
  return { result, runner, deps };
}

function errors(result: HookResult): string[] {
  return result.steps.filter((s) => !s.ok).map((s) => s.error ?? '');
}

test('new master: adds the VIP with sudo -n, then two bursts of gratuitous ARP requests and replies; exit 0', async () => {
  const { result, runner } = await run({}, toMe, [
    addrShow(withoutVip),
    arpingV(),
    sudo([IP, 'addr', 'add', '192.168.0.4/24', 'dev', 'eth0']),
    ...iputilsGarp(),
  ]);
  assert.equal(result.exitCode, 0, errors(result).join('; '));
  assert.equal(result.outcome, 'applied');
  assert.deepEqual(runner.unused(), []);
  const added = runner.calls.findIndex((c) => c.argv[4] === 'add');
  const firstGarp = runner.calls.findIndex((c) => c.argv[2] === ARPING && c.argv.includes('-q'));
  assert.ok(added >= 0 && added < firstGarp, 'the address is added before any ARP goes out');
});

test('the second burst starts repeatAfter after the first one ended', async () => {
  const { result, runner } = await run({ arp: { count: 1, interval: '10ms', repeatAfter: '150ms' } }, toMe, [
    addrShow(withoutVip),
    arpingV(),
    sudo([IP, 'addr', 'add', '192.168.0.4/24', 'dev', 'eth0']),
    ...iputilsGarp('eth0', '192.168.0.4', 1),
  ]);
  assert.equal(result.exitCode, 0, errors(result).join('; '));
  const burst = result.steps.filter((s) => s.description.startsWith('send'));
  assert.equal(burst.length, 2);
  // arping -V, the add, then one request and one reply per burst (no ip observation: the VIP is not here).
  assert.equal(runner.calls.length, 1 + 1 + 4);
});

test('with a label: ip addr add … label eth0:vip', async () => {
  const { result, runner } = await run({ label: 'eth0:vip' }, toMe, [
    addrShow(withoutVip),
    arpingV(),
    sudo([IP, 'addr', 'add', '192.168.0.4/24', 'dev', 'eth0', 'label', 'eth0:vip']),
    ...iputilsGarp(),
  ]);
  assert.equal(result.exitCode, 0, errors(result).join('; '));
  assert.deepEqual(runner.unused(), []);
});

test('privilege none: the same argv without sudo', async () => {
  const { result, runner } = await run(
    { privilege: 'none', arp: { count: 1, interval: '10ms', repeatAfter: 0 } },
    toMe,
    [
      addrShow(withoutVip),
      arpingV(),
      { argv: [IP, 'addr', 'add', '192.168.0.4/24', 'dev', 'eth0'] },
      { argv: [ARPING, '-q', '-U', '-c', '1', '-I', 'eth0', '192.168.0.4'] },
      { argv: [ARPING, '-q', '-A', '-c', '1', '-I', 'eth0', '192.168.0.4'] },
    ],
  );
  assert.equal(result.exitCode, 0, errors(result).join('; '));
  assert.deepEqual(runner.unused(), []);
});

test('new master already holding the VIP: no add (it would exit 2), but the ARP bursts still go out', async () => {
  const { result, runner } = await run({}, toMe, [addrShow(withVip), arpingV(), ...iputilsGarp()]);
  assert.equal(result.exitCode, 0, errors(result).join('; '));
  assert.deepEqual(runner.unused(), []);
  assert.ok(!runner.calls.some((c) => c.argv.includes('add')));
  assert.match(result.plans[0]!.note ?? '', /already on eth0/);
});

test('other host holding the VIP: removes it; exit 0', async () => {
  const { result, runner } = await run({}, toOther, [
    addrShow(withVip),
    sudo([IP, 'addr', 'del', '192.168.0.4/24', 'dev', 'eth0']),
  ]);
  assert.equal(result.exitCode, 0, errors(result).join('; '));
  assert.equal(result.outcome, 'applied');
  assert.deepEqual(runner.unused(), []);
});

test('other host without the VIP: nothing to do (del would exit 2), exit 0, only the observation ran', async () => {
  const { result, runner } = await run({}, toOther, [addrShow(withoutVip)]);
  assert.equal(result.exitCode, 0);
  assert.equal(result.outcome, 'nothing-to-do');
  assert.deepEqual(
    runner.calls.map((c) => c.argv),
    [[IP, '-j', '-4', 'addr', 'show']],
  );
});

test('other host whose VIP interface lost carrier (absent from the interface list): ip still finds it, and it is removed', async () => {
  const runner = new FakeRunner([addrShow(withVip), sudo([IP, 'addr', 'del', '192.168.0.4/24', 'dev', 'eth0'])]);
  const result = await runHook(
    toOther,
    config({}),
    fakeDeps({ runner, programs: PROGRAMS, addresses: ['127.0.0.1', ME] }),
    { dryRun: false },
  );
  assert.equal(result.exitCode, 0);
  assert.deepEqual(runner.unused(), []);
});

test('other host, privilege none: removed from whichever interface holds it, even one the config does not name', async () => {
  const onEth1 = addrJson([
    { ifname: 'eth0', addrs: [{ family: 'inet', local: ME, prefixlen: 24 }] },
    { ifname: 'eth1', addrs: [{ family: 'inet', local: '192.168.0.4', prefixlen: 24 }] },
  ]);
  const { result, runner } = await run({ privilege: 'none' }, toOther, [
    addrShow(onEth1),
    { argv: [IP, 'addr', 'del', '192.168.0.4/24', 'dev', 'eth1'] },
  ]);
  assert.equal(result.exitCode, 0, errors(result).join('; '));
  assert.deepEqual(runner.unused(), []);
});

test('other host, privilege sudo, VIP on an interface its sudoers rules do not cover: no doomed sudo call, exit 1 with the command to run', async () => {
  const onEth1 = addrJson([
    { ifname: 'eth0', addrs: [{ family: 'inet', local: ME, prefixlen: 24 }] },
    { ifname: 'eth1', addrs: [{ family: 'inet', local: '192.168.0.4', prefixlen: 24 }] },
  ]);
  const { result, runner } = await run({}, toOther, [addrShow(onEth1)]);
  assert.equal(result.exitCode, 1);
  assert.match(
    errors(result)[0]!,
    /on eth1, but the sudoers rules for this VIP cover eth0 only; remove it by hand \(ip addr del 192\.168\.0\.4\/24 dev eth1\)/,
  );
  assert.equal(runner.calls.length, 1);
  // No interface configured: the rules were made for the interface whose route covers the VIP.
  const detected = await run({ interface: undefined }, toOther, [
    addrShow(onEth1),
    { argv: [IP, '-j', '-4', 'route', 'show'], result: { stdout: ROUTES_V4 } },
  ]);
  assert.equal(detected.result.exitCode, 1);
  assert.match(errors(detected.result)[0]!, /cover eth0 only/);
});

test('other host holding it with another prefix: not touched, exit 1 with the command to fix it', async () => {
  const as32 = addrJson([
    {
      ifname: 'eth0',
      addrs: [
        { family: 'inet', local: ME, prefixlen: 24 },
        { family: 'inet', local: '192.168.0.4', prefixlen: 32 },
      ],
    },
  ]);
  const { result, runner } = await run({}, toOther, [addrShow(as32)]);
  assert.equal(result.exitCode, 1);
  assert.match(errors(result)[0]!, /as \/32, the config says \/24.*ip addr del 192\.168\.0\.4\/32 dev eth0/);
  assert.equal(runner.calls.length, 1);
});

test('new master holding it on another interface than configured: exit 1, nothing added', async () => {
  const onEth1 = addrJson([{ ifname: 'eth1', addrs: [{ family: 'inet', local: '192.168.0.4', prefixlen: 24 }] }]);
  const { result, runner } = await run({}, toMe, [addrShow(onEth1)]);
  assert.equal(result.exitCode, 1);
  assert.match(errors(result)[0]!, /already on eth1, the config says eth0/);
  assert.equal(runner.calls.length, 1);
});

test("Habets' arping: its own flags, exit 1 (nobody replied) counts as success", async () => {
  const { result, runner } = await run({}, toMe, [
    addrShow(withoutVip),
    arpingV(HABETS_V, 1),
    sudo([IP, 'addr', 'add', '192.168.0.4/24', 'dev', 'eth0']),
    ...habetsGarp(),
  ]);
  assert.equal(result.exitCode, 0, errors(result).join('; '));
  assert.deepEqual(runner.unused(), []);
});

test('iputils arping failing (exit 2): the address stays, the run exits 1 so Sentinel retries', async () => {
  const { result, runner } = await run({ arp: { count: 1, interval: '10ms', repeatAfter: 0 } }, toMe, [
    addrShow(withoutVip),
    arpingV(),
    sudo([IP, 'addr', 'add', '192.168.0.4/24', 'dev', 'eth0']),
    sudo([ARPING, '-q', '-U', '-c', '1', '-I', 'eth0', '192.168.0.4'], {
      exitCode: 2,
      stderr: 'arping: Device eth0 not available.',
    }),
    sudo([ARPING, '-q', '-A', '-c', '1', '-I', 'eth0', '192.168.0.4']),
  ]);
  assert.equal(result.exitCode, 1);
  assert.match(errors(result)[0]!, /exited 2: arping: Device eth0 not available/);
  assert.ok(!runner.calls.some((c) => c.argv.includes('del')), 'never rolled back');
});

test('missing arping: the VIP is still added, the ARP step fails naming iputils-arping, exit 1', async () => {
  const { result, runner } = await run(
    {},
    toMe,
    [addrShow(withoutVip), sudo([IP, 'addr', 'add', '192.168.0.4/24', 'dev', 'eth0'])],
    {
      programs: { ip: IP, sudo: SUDO },
    },
  );
  assert.equal(result.exitCode, 1);
  assert.deepEqual(runner.unused(), []);
  assert.match(errors(result).join('\n'), /arping not found.*install iputils-arping/);
  assert.ok(!runner.calls.some((c) => c.argv.includes('del')));
});

test('an arping that is neither kind: refused with what it said', async () => {
  const { result } = await run({}, toMe, [
    addrShow(withoutVip),
    arpingV('BusyBox v1.36.1 multi-call binary', 1),
    sudo([IP, 'addr', 'add', '192.168.0.4/24', 'dev', 'eth0']),
  ]);
  assert.equal(result.exitCode, 1);
  assert.match(errors(result)[0]!, /neither iputils' nor Thomas Habets' arping.*BusyBox/);
});

test('missing ip: exit 1 naming iproute2, nothing run', async () => {
  const { result, runner } = await run({}, toMe, [], { programs: { arping: ARPING, sudo: SUDO } }).catch(
    (err: Error) => ({ result: err, runner: undefined }),
  );
  assert.ok(result instanceof Error);
  assert.match(result.message, /ip not found/);
  assert.equal((result as { exitCode?: number }).exitCode, 1);
  assert.equal(runner, undefined);
});

test('missing sudo with privilege sudo: the step fails with what to do, exit 1', async () => {
  const { result } = await run({}, toMe, [addrShow(withoutVip), arpingV()], { programs: { ip: IP, arping: ARPING } });
  assert.equal(result.exitCode, 1);
  assert.match(errors(result)[0]!, /sudo not found/);
});

test('sudo refusing the add: exit 1 pointing at sentinel-hook sudoers, no ARP sent', async () => {
  const { result, runner } = await run({}, toMe, [
    addrShow(withoutVip),
    arpingV(),
    sudo([IP, 'addr', 'add', '192.168.0.4/24', 'dev', 'eth0'], { exitCode: 1, stderr: 'sudo: a password is required' }),
  ]);
  assert.equal(result.exitCode, 1);
  assert.match(errors(result)[0]!, /sudo refused .*sentinel-hook sudoers/);
  assert.ok(!runner.calls.some((c) => c.argv.includes(ARPING) && c.argv.includes('-U')));
});

test('ip addr show failing: exit 1 (retry), nothing changed', async () => {
  // The interfaces list the VIP, so ip is asked for its details, and fails.
  const runner = new FakeRunner([
    { argv: [IP, '-j', '-4', 'addr', 'show'], result: { exitCode: 1, stderr: 'Cannot open netlink socket' } },
    arpingV(),
  ]);
  await assert.rejects(
    runHook(toMe, config({}), fakeDeps({ runner, programs: PROGRAMS, addresses: [ME, '192.168.0.4'] }), {
      dryRun: false,
    }),
    (err: Error & { exitCode?: number }) => {
      assert.match(err.message, /ip addr show failed: Cannot open netlink socket/);
      assert.equal(err.exitCode, 1);
      return true;
    },
  );
  assert.ok(!runner.calls.some((c) => c.argv.includes('add')), 'nothing changed');
});

test('no interface configured: the one whose most specific route covers the VIP (not default, not blackhole)', async () => {
  const { result, runner } = await run({ interface: undefined }, toMe, [
    addrShow(withoutVip),
    { argv: [IP, '-j', '-4', 'route', 'show'], result: { stdout: ROUTES_V4 } },
    arpingV(),
    sudo([IP, 'addr', 'add', '192.168.0.4/24', 'dev', 'eth0']),
    ...iputilsGarp(),
  ]);
  assert.equal(result.exitCode, 0, errors(result).join('; '));
  assert.deepEqual(runner.unused(), []);
});

test('no interface configured and no route covers the VIP (an interface down for a moment takes its route along): exit 1, nothing added, naming both ways out', async () => {
  const runner = new FakeRunner([{ argv: [IP, '-j', '-4', 'route', 'show'], result: { stdout: ROUTES_V4 } }]);
  const c = validateConfig({ lockDir, masters: { mymaster: [{ type: 'vip', address: '172.16.0.4/24' }] } }, 't.yaml');
  await assert.rejects(
    runHook(toMe, c, fakeDeps({ runner, programs: PROGRAMS, addresses: [ME] }), { dryRun: false }),
    (err: Error & { exitCode?: number }) => {
      assert.match(err.message, /no route on this host covers 172\.16\.0\.4\/24/);
      assert.match((err as Error & { hint?: string }).hint ?? '', /bring the interface up, or set "interface"/);
      assert.equal(err.exitCode, 1);
      return true;
    },
  );
});

test('a retry on the new master after a half-done run: idempotent, exit 0 both times', async () => {
  const first = await run({}, toMe, [
    addrShow(withoutVip),
    arpingV(),
    sudo([IP, 'addr', 'add', '192.168.0.4/24', 'dev', 'eth0']),
    ...iputilsGarp(),
  ]);
  const second = await run({}, toMe, [addrShow(withVip), arpingV(), ...iputilsGarp()]);
  assert.deepEqual([first.result.exitCode, second.result.exitCode], [0, 0]);
  assert.deepEqual([first.runner.unused(), second.runner.unused()], [[], []]);
});

test('dry-run: observes (arping -V) and changes nothing', async () => {
  const { runner, addresses } = world([addrShow(withoutVip), arpingV()], [ME]);
  const result = await runHook(toMe, config({}), fakeDeps({ runner, programs: PROGRAMS, addresses }), { dryRun: true });
  assert.equal(result.outcome, 'dry-run');
  assert.deepEqual(
    result.plans[0]!.steps.map((s) => s.description.split(' ')[0]),
    ['add', 'send', 'send'],
  );
  assert.deepEqual(runner.unused(), []);
});

// IPv6

const ME6 = 'fd00:77::2';
const v6Event = parseEvent(['mymaster', 'leader', 'start', 'fd00:77::1', '6379', ME6, '6379']);
const v6Other = parseEvent(['mymaster', 'leader', 'start', ME6, '6379', 'fd00:77::3', '6379']);
const v6Without = addrJson([{ ifname: 'eth0', addrs: [{ family: 'inet6', local: ME6, prefixlen: 64 }] }]);
const v6With = addrJson([
  {
    ifname: 'eth0',
    addrs: [
      { family: 'inet6', local: ME6, prefixlen: 64 },
      { family: 'inet6', local: 'fd00:77::100', prefixlen: 64, extra: { tentative: true } },
    ],
  },
]);

test('IPv6 new master: add with nodad, then unsolicited NAs with ndptool, two bursts; exit 0', async () => {
  const { result, runner } = await run(
    { address: 'FD00:77:0::100/64', interface: undefined },
    v6Event,
    [
      addrShow(v6Without, '-6'),
      { argv: [IP, '-j', '-6', 'route', 'show'], result: { stdout: ROUTES_V6 } },
      sudo([IP, 'addr', 'add', 'fd00:77::100/64', 'dev', 'eth0', 'nodad']),
      sudo([NDPTOOL, '-t', 'na', '-U', '-i', 'eth0', '-T', 'fd00:77::100', 'send'], {}, 4),
    ],
    { addresses: ['::1', ME6] },
  );
  assert.equal(result.exitCode, 0, errors(result).join('; '));
  assert.deepEqual(runner.unused(), []);
});

test('IPv6 elsewhere: removed (a tentative address counts as present)', async () => {
  const { result, runner } = await run(
    { address: 'fd00:77::100/64' },
    v6Other,
    [addrShow(v6With, '-6'), sudo([IP, 'addr', 'del', 'fd00:77::100/64', 'dev', 'eth0'])],
    { addresses: ['::1', ME6] },
  );
  assert.equal(result.exitCode, 0, errors(result).join('; '));
  assert.deepEqual(runner.unused(), []);
});

test('IPv6 without ndptool: added anyway, the NA step names libndp-tools, exit 1', async () => {
  const { result, runner } = await run(
    { address: 'fd00:77::100/64' },
    v6Event,
    [addrShow(v6Without, '-6'), sudo([IP, 'addr', 'add', 'fd00:77::100/64', 'dev', 'eth0', 'nodad'])],
    { programs: { ip: IP, sudo: SUDO }, addresses: [ME6] },
  );
  assert.equal(result.exitCode, 1);
  assert.deepEqual(runner.unused(), []);
  assert.match(errors(result)[0]!, /ndptool not found.*libndp-tools/);
});

test('IPv6 address the kernel marked dadfailed: exit 1 explaining another host holds it', async () => {
  const failed = addrJson([
    {
      ifname: 'eth0',
      addrs: [{ family: 'inet6', local: 'fd00:77::100', prefixlen: 64, extra: { dadfailed: true, tentative: true } }],
    },
  ]);
  const { result } = await run({ address: 'fd00:77::100/64' }, v6Event, [addrShow(failed, '-6')], { addresses: [ME6] });
  assert.equal(result.exitCode, 1);
  assert.match(errors(result)[0]!, /dadfailed/);
});

// Duplicate check

const probe = (result: Expectation['result'], times = 1) =>
  sudo([ARPING, '-D', '-c', '1', '-w', '1', '-I', 'eth0', '192.168.0.4'], result, times);

test('checkDuplicate, nobody answers: probe once, then add and ARP; exit 0', async () => {
  const { result, runner } = await run({ checkDuplicate: true }, toMe, [
    addrShow(withoutVip),
    arpingV(),
    probe({ exitCode: 0, stdout: IPUTILS_DAD_FREE }),
    sudo([IP, 'addr', 'add', '192.168.0.4/24', 'dev', 'eth0']),
    ...iputilsGarp(),
  ]);
  assert.equal(result.exitCode, 0, errors(result).join('; '));
  assert.deepEqual(runner.unused(), []);
  assert.ok(
    runner.calls.findIndex((c) => c.argv.includes('-D')) < runner.calls.findIndex((c) => c.argv.includes('add')),
  );
});

test('checkDuplicate, the old master lets go after a moment: keeps probing, then adds; exit 0', async () => {
  const { runner, addresses } = world(
    [addrShow(withoutVip), arpingV(), sudo([IP, 'addr', 'add', '192.168.0.4/24', 'dev', 'eth0']), ...iputilsGarp()],
    [ME],
  );
  let probes = 0;
  const probing = {
    async run(argv: readonly string[], opts: Parameters<FakeRunner['run']>[1]) {
      if (argv.includes('-D')) {
        probes++;
        return probes < 3
          ? {
              exitCode: 1,
              signal: undefined,
              stdout: IPUTILS_DAD_HELD,
              stderr: '',
              durationMs: 1,
              timedOut: false,
              spawnError: undefined,
            }
          : {
              exitCode: 0,
              signal: undefined,
              stdout: IPUTILS_DAD_FREE,
              stderr: '',
              durationMs: 1,
              timedOut: false,
              spawnError: undefined,
            };
      }
      return runner.run(argv, opts);
    },
  };
  const result = await runHook(
    toMe,
    config({ checkDuplicate: true }),
    fakeDeps({ runner: probing, programs: PROGRAMS, localAddresses: addressesFollowingIp(runner, addresses) }),
    { dryRun: false },
  );
  assert.equal(result.exitCode, 0, errors(result).join('; '));
  assert.equal(probes, 3);
  assert.deepEqual(runner.unused(), []);
});

test('checkDuplicate, still held after 2 s: not added, the holder MAC logged, exit 1', async () => {
  const started = performance.now();
  const { result, runner, deps } = await run({ checkDuplicate: true }, toMe, [
    addrShow(withoutVip),
    arpingV(),
    probe({ exitCode: 1, stdout: IPUTILS_DAD_HELD }, 20),
  ]);
  const took = performance.now() - started;
  assert.equal(result.exitCode, 1);
  assert.match(errors(result)[0]!, /still held by MAC 0e:64:68:84:b2:1d/);
  assert.ok(!runner.calls.some((c) => c.argv.includes('add')), 'never added');
  assert.ok(took >= 1700 && took < 4000, `probing lasted ${Math.round(took)} ms`);
  const probes = runner.calls.filter((c) => c.argv.includes('-D')).length;
  assert.ok(probes >= 2 && probes <= 10, `${probes} probes`);
  assert.ok(
    deps.logger.records.some((r) => r.holder === '0e:64:68:84:b2:1d'),
    'the holder is in the log',
  );
});

test('checkDuplicate, probe refused by sudo: not added, exit 1 with the sudo message', async () => {
  const { result, runner } = await run({ checkDuplicate: true }, toMe, [
    addrShow(withoutVip),
    arpingV(),
    probe({ exitCode: 1, stderr: 'sudo: a password is required' }),
  ]);
  assert.equal(result.exitCode, 1);
  assert.match(errors(result)[0]!, /sudo refused/);
  assert.ok(!runner.calls.some((c) => c.argv.includes('add')));
});

test("checkDuplicate with Habets' arping: -0 probe, exit 0 with a reply means held", async () => {
  const habetsProbe = sudo(
    [ARPING, '-0', '-c', '1', '-W', '1', '-i', 'eth0', '192.168.0.4'],
    { exitCode: 0, stdout: HABETS_HELD },
    20,
  );
  const { result, runner } = await run({ checkDuplicate: true }, toMe, [
    addrShow(withoutVip),
    arpingV(HABETS_V, 1),
    habetsProbe,
  ]);
  assert.equal(result.exitCode, 1);
  assert.match(errors(result)[0]!, /held by MAC 0e:64:68:84:b2:1d/);
  assert.ok(!runner.calls.some((c) => c.argv.includes('add')));
});

test("checkDuplicate with Habets' arping: exit 1 and no reply means free", async () => {
  const { result, runner } = await run({ checkDuplicate: true }, toMe, [
    addrShow(withoutVip),
    arpingV(HABETS_V, 1),
    sudo([ARPING, '-0', '-c', '1', '-W', '1', '-i', 'eth0', '192.168.0.4'], { exitCode: 1 }),
    sudo([IP, 'addr', 'add', '192.168.0.4/24', 'dev', 'eth0']),
    ...habetsGarp(),
  ]);
  assert.equal(result.exitCode, 0, errors(result).join('; '));
  assert.deepEqual(runner.unused(), []);
});

test('checkDuplicate is skipped when this host already holds the VIP (a retry)', async () => {
  const { result, runner } = await run({ checkDuplicate: true }, toMe, [
    addrShow(withVip),
    arpingV(),
    ...iputilsGarp(),
  ]);
  assert.equal(result.exitCode, 0, errors(result).join('; '));
  assert.deepEqual(runner.unused(), []);
});

test('checkDuplicate without arping: not added (the check cannot run), exit 1 naming the package', async () => {
  const { result, runner } = await run({ checkDuplicate: true }, toMe, [addrShow(withoutVip)], {
    programs: { ip: IP, sudo: SUDO },
  });
  assert.equal(result.exitCode, 1);
  assert.match(errors(result)[0]!, /checkDuplicate needs arping: arping not found.*install iputils-arping/);
  assert.deepEqual(
    runner.calls.map((c) => c.argv[0]),
    [],
  );
});

test('the VIP absent from the interfaces: no ip process at all before the add', async () => {
  const { result, runner } = await run({}, toMe, [
    arpingV(),
    sudo([IP, 'addr', 'add', '192.168.0.4/24', 'dev', 'eth0']),
    ...iputilsGarp(),
  ]);
  assert.equal(result.exitCode, 0, errors(result).join('; '));
  assert.equal(runner.calls[0]!.argv.join(' '), `${ARPING} -V`);
  assert.deepEqual(runner.unused(), []);
});

test('arping told apart by its own bytes: no -V process when the binary names iputils or Habets', async () => {
  for (const [bytes, shots] of [
    ['...arping from iputils 20221126...', iputilsGarp()],
    [
      'ARPing 2.21, by Thomas Habets <thomas@habets.se>',
      [
        sudo(
          [ARPING, '-q', '-U', '-c', '2', '-W', '0.01', '-i', 'eth0', '-S', '192.168.0.4', '192.168.0.4'],
          { exitCode: 1 },
          2,
        ),
        sudo(
          [ARPING, '-q', '-U', '-P', '-c', '2', '-W', '0.01', '-i', 'eth0', '-S', '192.168.0.4', '192.168.0.4'],
          { exitCode: 1 },
          2,
        ),
      ],
    ],
  ] as const) {
    const runner = new FakeRunner([sudo([IP, 'addr', 'add', '192.168.0.4/24', 'dev', 'eth0']), ...shots]);
    const deps = fakeDeps({
      runner,
      programs: PROGRAMS,
      localAddresses: addressesFollowingIp(runner, [ME]),
      readFile: (path: string) => (path === ARPING ? Buffer.from(`\x7fELF${bytes}`) : undefined),
    });
    const result = await runHook(toMe, config({}), deps, { dryRun: false });
    assert.equal(result.exitCode, 0, errors(result).join('; '));
    assert.deepEqual(runner.unused(), []);
    assert.ok(!runner.calls.some((c) => c.argv.includes('-V')));
  }
});

test('arp_announce below 2 on the new master: the run applies and warns, naming the sysctl; 2 on "all" or the interface: no warning', async () => {
  const sysctl = (all: string, eth0: string) => (path: string) =>
    path === '/proc/sys/net/ipv4/conf/all/arp_announce'
      ? Buffer.from(`${all}\n`)
      : path === '/proc/sys/net/ipv4/conf/eth0/arp_announce'
        ? Buffer.from(`${eth0}\n`)
        : undefined;
  const cases: [string, string, boolean][] = [
    ['0', '0', true],
    ['1', '0', true],
    ['2', '0', false],
    ['0', '2', false],
  ];
  for (const [all, eth0, warned] of cases) {
    const { runner, addresses } = world(
      [addrShow(withoutVip), arpingV(), sudo([IP, 'addr', 'add', '192.168.0.4/24', 'dev', 'eth0']), ...iputilsGarp()],
      ['127.0.0.1', ME],
    );
    const deps = fakeDeps({
      runner,
      programs: PROGRAMS,
      localAddresses: addressesFollowingIp(runner, addresses),
      readFile: sysctl(all, eth0),
    });
    const result = await runHook(toMe, config({}), deps, { dryRun: false });
    assert.equal(result.exitCode, 0, errors(result).join('; '));
    const warnings = result.plans.flatMap((p) => p.warnings ?? []);
    const logged = deps.logger.records.filter(
      (r) => r.level === 'warn' && String(r.warning ?? '').includes('arp_announce'),
    );
    if (warned) {
      assert.equal(warnings.length, 1, `all=${all} eth0=${eth0}`);
      assert.match(
        warnings[0]!,
        new RegExp(`arp_announce is ${Math.max(+all, +eth0)} on eth0: .*net\\.ipv4\\.conf\\.all\\.arp_announce = 2`),
      );
      assert.equal(logged.length, 1, 'the warning reaches the log');
    } else {
      assert.deepEqual(warnings, [], `all=${all} eth0=${eth0}`);
      assert.equal(logged.length, 0);
    }
  }
});
