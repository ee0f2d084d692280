import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findVip, parseVip, routeCovers, routeInterface } from '../../src/actions/vip/address.ts';
import { checkCommand } from '../../src/commands/check.ts';
import { validateConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/errors.ts';
import { Failure } from '../../src/failures.ts';
import { addrJson, ROUTES_V4, ROUTES_V6 } from './vip-samples.ts';

const parse = (vip: Record<string, unknown>) =>
  validateConfig({ masters: { mymaster: [{ type: 'vip', address: '10.0.0.100/24', ...vip }] } }, 'c.yaml');

test('defaults: sudo, 5 ARPs 200 ms apart, again after 5 s, no duplicate check, reannounce on, any host and role', () => {
  const a = parse({}).masters.mymaster![0]!;
  assert.deepEqual(a, {
    type: 'vip',
    address: '10.0.0.100/24',
    privilege: 'sudo',
    arp: { count: 5, interval: 200, repeatAfter: 5000 },
    checkDuplicate: false,
    reannounce: true,
    when: { role: 'any', host: 'any' },
  });
});

test('partial arp settings keep the other defaults', () => {
  const a = parse({ arp: { count: 3 } }).masters.mymaster![0]! as { arp: unknown };
  assert.deepEqual(a.arp, { count: 3, interval: 200, repeatAfter: 5000 });
});

test('check summarizes the action in one line', async () => {
  const { text } = await checkCommand(parse({ interface: 'eth0', label: 'eth0:vip', checkDuplicate: true }), {
    which: () => undefined,
    read: () => Promise.reject(new Error('check ran a command')),
  });
  assert.match(
    text,
    /1\. vip: 10\.0\.0\.100\/24 on the new master \(removed elsewhere\), on eth0 as eth0:vip with CAP_NET_ADMIN and CAP_NET_RAW where the process holds them \(the watch unit\), else with sudo -n; neighbour updates 5×200ms, again after 5s; refuses while another host answers for it/,
  );
});

const BAD: [string, Record<string, unknown>, RegExp][] = [
  [
    'no prefix',
    { address: '10.0.0.100' },
    /masters\.mymaster\[0\]\.address: expected an address with its prefix length/,
  ],
  ['not an address', { address: 'vip.example.com/24' }, /address: expected an address with its prefix/],
  ['bad octet', { address: '10.0.0.300/24' }, /address: 10\.0\.0\.300 is not an IPv4 or IPv6 address/],
  ['prefix too long', { address: '10.0.0.100/33' }, /address: prefix length \/33 is out of range for IPv4/],
  ['prefix 0', { address: '10.0.0.100/0' }, /out of range/],
  ['IPv6 prefix too long', { address: 'fd00::1/129' }, /out of range for IPv6/],
  ['network address', { address: '10.0.0.0/24' }, /network address of 10\.0\.0\.0\/24/],
  ['broadcast address', { address: '10.0.0.255/24' }, /broadcast address/],
  ['loopback', { address: '127.0.0.5/8' }, /not a unicast host address/],
  ['multicast v6', { address: 'ff02::1/64' }, /not a unicast host address/],
  ['option-like address', { address: '-10.0.0.1/24' }, /address: expected an address with its prefix/],
  ['option-like interface', { interface: '-eth0' }, /interface: expected an interface name/],
  ['interface with a space', { interface: 'eth 0' }, /interface: expected an interface name/],
  ['interface too long', { interface: 'a-very-long-ifname0' }, /interface: expected an interface name/],
  ['interface with a slash', { interface: 'eth0/1' }, /interface: expected an interface name/],
  ['label without colon', { interface: 'eth0', label: 'vip' }, /label: expected "<interface>:<suffix>"/],
  [
    'label of another interface',
    { interface: 'eth0', label: 'eth1:vip' },
    /label: a label must start with the interface name: "eth0:…"/,
  ],
  ['label too long', { interface: 'eth0', label: 'eth0:abcdefghijk' }, /label: expected at most 15 characters/],
  ['option-like label', { label: '-eth0:x' }, /label: expected "<interface>:<suffix>"/],
  ['label on IPv6', { address: 'fd00::100/64', label: 'eth0:vip' }, /label: labels exist only for IPv4/],
  ['checkDuplicate on IPv6', { address: 'fd00::100/64', checkDuplicate: true }, /checkDuplicate: IPv4 only/],
  ['checkDuplicate not a boolean', { checkDuplicate: 'yes' }, /checkDuplicate: expected true or false/],
  ['unknown privilege', { privilege: 'root' }, /privilege: expected "sudo" or "none"/],
  ['unknown key', { netmask: 24 }, /unknown key "netmask"/],
  ['unknown arp key', { arp: { burst: 2 } }, /arp: unknown key "burst"/],
  ['count 0', { arp: { count: 0 } }, /arp\.count: expected at least 1/],
  ['count 21', { arp: { count: 21 } }, /arp\.count: expected at most 20/],
  ['count not an integer', { arp: { count: 2.5 } }, /arp\.count/],
  ['interval not a duration', { arp: { interval: 'fast' } }, /arp\.interval: expected a duration like "200ms"/],
  ['interval too short', { arp: { interval: '1ms' } }, /arp\.interval: expected a duration from 10ms to 2s/],
  ['repeatAfter too long', { arp: { repeatAfter: '1m' } }, /arp\.repeatAfter: expected a duration from 0ms to 20s/],
  [
    'bursts beyond the budget',
    { arp: { count: 20, interval: '1s' } },
    /arp: the two bursts and the pause take 43000 ms, more than 30000 ms/,
  ],
  ['bad when', { when: { host: 'master' } }, /when\.host/],
];

for (const [name, vip, expected] of BAD) {
  test(`bad config: ${name} -> ConfigError (exit 2) naming the field`, () => {
    assert.throws(
      () => parse(vip),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.equal(err.exitCode, 2);
        assert.match(err.message, expected);
        assert.ok(!err.message.includes('\n'), 'one line');
        return true;
      },
    );
  });
}

test('address is required', () => {
  assert.throws(
    () => validateConfig({ masters: { m: [{ type: 'vip' }] } }, 'c.yaml'),
    /masters\.m\[0\]\.address: required/,
  );
});

test('parseVip canonicalizes IPv6 and keeps the prefix', () => {
  assert.deepEqual(parseVip('FD00:0:0::0100/64'), { ip: 'fd00::100', prefix: 64, family: 6, cidr: 'fd00::100/64' });
  assert.deepEqual(parseVip('10.0.0.100/32'), { ip: '10.0.0.100', prefix: 32, family: 4, cidr: '10.0.0.100/32' });
});

test('routeCovers: prefixes, host routes, families', () => {
  const vip = parseVip('192.168.0.4/24');
  assert.ok(!(vip instanceof Failure));
  assert.equal(routeCovers('192.168.0.0/24', vip), 24);
  assert.equal(routeCovers('192.168.0.0/23', vip), 23);
  assert.equal(routeCovers('192.168.1.0/24', vip), undefined);
  assert.equal(routeCovers('192.168.0.4', vip), 32);
  assert.equal(routeCovers('fd00::/8', vip), undefined);
  const v6 = parseVip('fd00:77::100/64');
  assert.ok(!(v6 instanceof Failure));
  assert.equal(routeCovers('fd00:77::/64', v6), 64);
  assert.equal(routeCovers('fd00:78::/64', v6), undefined);
  assert.equal(routeCovers('fe80::/64', v6), undefined);
});

test('routeInterface: longest connected prefix wins; default and blackhole never count', () => {
  const pick = (address: string, json = ROUTES_V4) => {
    const vip = parseVip(address);
    assert.ok(!(vip instanceof Failure));
    return routeInterface(json, vip);
  };
  assert.equal(pick('192.168.0.4/24'), 'eth0');
  assert.equal(pick('192.168.5.4/24'), 'eth1');
  assert.equal(pick('10.9.0.100/24'), 'eth2');
  assert.equal(pick('172.16.0.4/24'), undefined);
  assert.equal(pick('fd00:77::100/64', ROUTES_V6), 'eth0');
  assert.equal(pick('fd00:99::100/64', ROUTES_V6), undefined);
});

test('findVip: matches the canonical address in its family only; garbage is an error', () => {
  const vip = parseVip('fd00:77::100/64');
  assert.ok(!(vip instanceof Failure));
  const json = addrJson([{ ifname: 'eth0', addrs: [{ family: 'inet6', local: 'fd00:77:0:0::100', prefixlen: 64 }] }]);
  assert.deepEqual(findVip(json, vip), [{ dev: 'eth0', prefixlen: 64, tentative: false, dadfailed: false }]);
  assert.throws(() => findVip('Device "eth9" does not exist.', vip));
  assert.throws(() => findVip('{}', vip), /expected a JSON array/);
});

test("ARP bursts that cannot end before the deadline: refused (exit 2) at the action's arp, naming both ways out", () => {
  const at = (deadline: string, arp: Record<string, unknown>, sentinels?: unknown) => () =>
    validateConfig(
      {
        deadline,
        ...(sentinels ? { sentinels } : {}),
        masters: { mymaster: [{ type: 'vip', address: '10.0.0.100/24', arp }] },
      },
      'c.yaml',
    );
  assert.throws(
    at('3s', {}),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.exitCode === 2 &&
      /masters\.mymaster\[0\]\.arp: the ARP bursts take 6600 ms: more than the 3000 ms deadline allows.*raise "deadline" or lower count/.test(
        err.message,
      ),
  );
  // The Sentinel check comes first and counts too.
  assert.throws(
    at('9s', {}, { addresses: ['10.0.0.1:26379'], settle: '3s', timeout: '1s' }),
    /after up to 4000 ms of the Sentinel check/,
  );
  assert.doesNotThrow(at('9s', {}));
  assert.doesNotThrow(at('3s', { repeatAfter: 0 }));
});
