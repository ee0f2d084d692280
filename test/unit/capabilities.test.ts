// Privilege per process: one config (privilege: sudo) serves a hook under sudo and a service that
// holds CAP_NET_ADMIN and CAP_NET_RAW (systemd's AmbientCapabilities), which runs ip and arping as it is.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { validateConfig } from '../../src/config/load.ts';
import { parseEvent } from '../../src/event.ts';
import { runHook } from '../../src/pipeline/run.ts';
import { capabilitiesFrom } from '../../src/system.ts';
import { addressesFollowingIp, type Expectation, FakeRunner, fakeDeps } from '../support/fakes.ts';
import { addrJson, IPUTILS_V } from './vip-samples.ts';

const lockDir = mkdtempSync(join(tmpdir(), 'sh-caps-'));
test.after(() => rmSync(lockDir, { recursive: true, force: true }));

const IP = '/usr/sbin/ip';
const ARPING = '/usr/bin/arping';
const SUDO = '/usr/bin/sudo';
const PROGRAMS = { ip: IP, arping: ARPING, sudo: SUDO };
const ME = '192.168.0.2';
const toMe = parseEvent(['mymaster', 'leader', 'start', '192.168.0.1', '6379', ME, '6379']);
const toOther = parseEvent(['mymaster', 'observer', 'start', ME, '6379', '192.168.0.3', '6379']);
const BOTH = { netAdmin: true, netRaw: true };

const config = (actions: Record<string, unknown>[]) =>
  validateConfig({ lockDir, masters: { mymaster: actions } }, 'test.yaml');
const vip = {
  type: 'vip',
  address: '192.168.0.4/24',
  interface: 'eth0',
  arp: { count: 1, interval: '10ms', repeatAfter: 0 },
};
const withVip = addrJson([
  {
    ifname: 'eth0',
    addrs: [
      { family: 'inet', local: ME, prefixlen: 24 },
      { family: 'inet', local: '192.168.0.4', prefixlen: 24 },
    ],
  },
]);

/** The add and the ARP on the new master, each argv with `prefix` in front. */
function adding(prefix: string[]): Expectation[] {
  return [
    { argv: [ARPING, '-V'], result: { stdout: IPUTILS_V } },
    { argv: [...prefix, IP, 'addr', 'add', '192.168.0.4/24', 'dev', 'eth0'] },
    { argv: [...prefix, ARPING, '-q', '-U', '-c', '1', '-I', 'eth0', '192.168.0.4'] },
    { argv: [...prefix, ARPING, '-q', '-A', '-c', '1', '-I', 'eth0', '192.168.0.4'] },
  ];
}

async function hook(
  event: typeof toMe,
  actions: Record<string, unknown>[],
  expectations: Expectation[],
  over: Parameters<typeof fakeDeps>[0] = {},
) {
  const runner = new FakeRunner(expectations);
  const deps = fakeDeps({
    runner,
    programs: PROGRAMS,
    localAddresses: addressesFollowingIp(runner, ['127.0.0.1', ME]),
    ...over,
  });
  const result = await runHook(event, config(actions), deps, { dryRun: false });
  assert.deepEqual(
    result.steps.filter((s) => !s.ok).map((s) => s.error),
    [],
  );
  assert.deepEqual(runner.unused(), []);
  return runner.calls.map((c) => c.argv.join(' '));
}

test('with CAP_NET_ADMIN and CAP_NET_RAW, privilege: sudo adds the VIP and sends the ARP without sudo', async () => {
  const ran = await hook(toMe, [vip], adding([]), { capabilities: BOTH });
  assert.ok(ran.includes(`${IP} addr add 192.168.0.4/24 dev eth0`));
  assert.equal(ran.filter((line) => line.startsWith(SUDO)).length, 0, ran.join('\n'));
});

test('without them (or with one only), the same config goes through sudo -n', async () => {
  for (const capabilities of [undefined, { netAdmin: true, netRaw: false }, { netAdmin: false, netRaw: true }]) {
    const ran = await hook(toMe, [vip], adding([SUDO, '-n']), capabilities ? { capabilities } : {});
    assert.ok(ran.includes(`${SUDO} -n ${IP} addr add 192.168.0.4/24 dev eth0`), ran.join('\n'));
  }
});

test('with the capabilities, the VIP leaves a host that is not the new master without sudo too', async () => {
  const ran = await hook(
    toOther,
    [vip],
    [
      { argv: [IP, '-j', '-4', 'addr', 'show'], result: { stdout: withVip } },
      { argv: [IP, 'addr', 'del', '192.168.0.4/24', 'dev', 'eth0'] },
    ],
    {
      capabilities: BOTH,
      localAddresses: () => new Set(['127.0.0.1', ME, '192.168.0.4']),
    },
  );
  assert.deepEqual(ran, [`${IP} -j -4 addr show`, `${IP} addr del 192.168.0.4/24 dev eth0`]);
});

test("an exec action with privilege: sudo stays sudo: capabilities do not make a user's command root", async () => {
  const ran = await hook(
    toMe,
    [{ type: 'exec', run: ['/usr/sbin/thing'], privilege: 'sudo' }],
    [{ argv: [SUDO, '-n', '/usr/sbin/thing'] }],
    {
      capabilities: BOTH,
    },
  );
  assert.deepEqual(ran, [`${SUDO} -n /usr/sbin/thing`]);
});

test('capabilities from /proc/self/status: effective and handed on (ambient), or effective for root', () => {
  const status = (eff: string, amb: string) =>
    `Name:\tnode\nCapInh:\t${amb}\nCapPrm:\t${eff}\nCapEff:\t${eff}\nCapBnd:\t000001ffffffffff\nCapAmb:\t${amb}\n`;
  // bits 12 (net_admin) and 13 (net_raw): 0x3000
  assert.deepEqual(capabilitiesFrom(status('0000000000003000', '0000000000003000'), 1000), BOTH);
  assert.deepEqual(capabilitiesFrom(status('0000000000001000', '0000000000001000'), 1000), {
    netAdmin: true,
    netRaw: false,
  });
  // Effective only (file capabilities on node): `ip` would not get them.
  assert.deepEqual(capabilitiesFrom(status('0000000000003000', '0000000000000000'), 1000), {
    netAdmin: false,
    netRaw: false,
  });
  assert.deepEqual(capabilitiesFrom(status('000001ffffffffff', '0000000000000000'), 0), BOTH);
  // A root in a container without them.
  assert.deepEqual(capabilitiesFrom(status('00000000a80425fb', '0000000000000000'), 0), {
    netAdmin: false,
    netRaw: true,
  });
  assert.deepEqual(capabilitiesFrom('', 1000), { netAdmin: false, netRaw: false });
});
