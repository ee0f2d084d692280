// Issue 16, finding 2: a watch that cannot act must not look healthy. At start (and on a reload) it
// judges each entry by what /proc/self/status says: capabilities handed on to its commands, or sudo -n,
// which NoNewPrivs stops for good.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { HostReader } from '../../src/actions/plugin.ts';
import { validateConfig } from '../../src/config/load.ts';
import { ownPrivilegeFrom, unprivilegedEntries } from '../../src/watch/privilege.ts';

const lockDir = mkdtempSync(join(tmpdir(), `sh-watch-priv-${process.pid}-`));
test.after(() => rmSync(lockDir, { recursive: true, force: true }));

const PROGRAMS: Record<string, string> = { ip: '/usr/sbin/ip', arping: '/usr/bin/arping', sudo: '/usr/bin/sudo' };
const host: HostReader = {
  which: (p) => PROGRAMS[p],
  read: async (argv) => {
    throw new Error(`unexpected command ${argv.join(' ')}`);
  },
};
const vip = (privilege: 'sudo' | 'none') => ({ type: 'vip', address: '192.168.0.4/24', interface: 'eth0', privilege });
const exec = (privilege: 'sudo' | 'none') => ({ type: 'exec', run: ['/bin/true'], privilege });
const config = (...actions: Record<string, unknown>[]) =>
  validateConfig({ lockDir, masters: { mymaster: actions } }, 'test.yaml');

/** /proc/self/status as the kernel writes it (the lines that count). */
function status(o: { eff?: string; amb?: string; nnp?: boolean }): string {
  return [
    'Name:\tnode',
    `CapInh:\t${o.amb ?? '0000000000000000'}`,
    'CapPrm:\t0000000000003000',
    `CapEff:\t${o.eff ?? '0000000000000000'}`,
    'CapBnd:\t0000000000003000',
    `CapAmb:\t${o.amb ?? '0000000000000000'}`,
    `NoNewPrivs:\t${o.nnp ? 1 : 0}`,
    'Seccomp:\t2',
  ].join('\n');
}

const USER = 998;
const unitCaps = status({ eff: '0000000000003000', amb: '0000000000003000', nnp: true });
const noCapsNnp = status({ nnp: true });

test("the watch unit's settings (ambient CAP_NET_ADMIN and CAP_NET_RAW, NoNewPrivs): the vip entry can act, whatever its privilege", async () => {
  const own = ownPrivilegeFrom(unitCaps, USER);
  assert.deepEqual([...own.handedOn].sort(), ['CAP_NET_ADMIN', 'CAP_NET_RAW']);
  assert.equal(own.noNewPrivs, true);
  assert.deepEqual(await unprivilegedEntries(config(vip('sudo')), own, host), []);
  assert.deepEqual(await unprivilegedEntries(config(vip('none')), own, host), []);
});

test('no capabilities and NoNewPrivs set: the vip entry cannot act, and sudo cannot stand in; said per entry', async () => {
  const problems = await unprivilegedEntries(config(vip('sudo')), ownPrivilegeFrom(noCapsNnp, USER), host);
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /^masters\.mymaster\[0\] \(vip\) needs CAP_NET_ADMIN and CAP_NET_RAW handed on/);
  assert.match(problems[0]!, /NoNewPrivs set/);
});

test('capabilities in the effective set only (not ambient: ip would not get them) count as missing', async () => {
  const own = ownPrivilegeFrom(status({ eff: '0000000000003000', nnp: true }), USER);
  assert.equal((await unprivilegedEntries(config(vip('sudo')), own, host)).length, 1);
});

test('without NoNewPrivs, sudo -n may stand in for missing capabilities (its rules show at the first run)', async () => {
  const own = ownPrivilegeFrom(status({}), USER);
  assert.deepEqual(await unprivilegedEntries(config(vip('sudo')), own, host), []);
  const none = await unprivilegedEntries(config(vip('none')), own, host);
  assert.match(none[0] ?? '', /does not use sudo \(privilege: none\)/);
});

test('an exec entry through sudo under NoNewPrivs is refused even with capabilities; without sudo it needs nothing', async () => {
  const problems = await unprivilegedEntries(
    config(exec('sudo'), exec('none')),
    ownPrivilegeFrom(unitCaps, USER),
    host,
  );
  assert.deepEqual(problems, [
    "masters.mymaster[0] (exec) runs its commands through sudo -n, which this process cannot: it has NoNewPrivs set (the unit's NoNewPrivileges=true)",
  ]);
});

test('root hands every effective capability on, and its sudo needs no privilege raised', async () => {
  const own = ownPrivilegeFrom(status({ eff: '000001ffffffffff', nnp: true }), 0);
  assert.deepEqual(await unprivilegedEntries(config(vip('sudo'), exec('sudo')), own, host), []);
});
