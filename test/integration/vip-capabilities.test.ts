// Privilege per process on the real system: the built CLI as the redis user with CAP_NET_ADMIN and
// CAP_NET_RAW in its ambient set (what systemd's AmbientCapabilities gives a service), and NO sudoers
// rule: a config that says `privilege: sudo` still adds and removes the VIP and sends the ARP, by
// running ip and arping directly. The same run without the capabilities goes through sudo, which refuses.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { reachablePath } from '../support/checkout.ts';
import {
  BIN,
  createNetns,
  holders,
  logText,
  must,
  type Netns,
  neighbourMac,
  preflight,
  sh,
  teardown,
  USER,
  writeConfig,
} from './vip-netns.ts';

// An address no other test's sudoers rules name: only the capabilities can make this work.
const VIP = '10.213.7.177';
const toMe = ['mymaster', 'leader', 'start', '10.213.7.1', '6379', '10.213.7.2', '6379'];
const toOther = ['mymaster', 'observer', 'start', '10.213.7.2', '6379', '10.213.7.3', '6379'];

let env: Netns;
let config: string;

before(() => {
  preflight();
  env = createNetns('shcap');
  config = writeConfig(env, [
    {
      type: 'vip',
      address: `${VIP}/24`,
      interface: 'v0',
      privilege: 'sudo',
      arp: { count: 2, interval: '100ms', repeatAfter: 0 },
    },
  ]);
});

after(() => {
  if (env) teardown(env);
});

/** The CLI in the namespace as redis (setpriv execs: no shell, no sudo), with the bare environment Sentinel gives it. */
function hookAsRedis(args: string[], caps: boolean) {
  const grant = caps ? ['--inh-caps', '+net_admin,+net_raw', '--ambient-caps', '+net_admin,+net_raw'] : [];
  return sh(
    [
      'ip',
      'netns',
      'exec',
      env.ns,
      'setpriv',
      '--reuid',
      USER,
      '--regid',
      USER,
      '--init-groups',
      ...grant,
      '/usr/bin/env',
      '-i',
      process.execPath,
      reachablePath(BIN),
      ...args,
    ],
    40_000,
  );
}

test('without the capabilities and with no sudoers rule: sudo -n refuses, nothing added, exit 1', () => {
  const r = hookAsRedis(['--config', config, ...toMe], false);
  assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /sudo refused/);
  assert.deepEqual(holders(env.ns, VIP), []);
});

test('with CAP_NET_ADMIN and CAP_NET_RAW (ambient) and privilege: sudo: the VIP is added and announced without sudo, exit 0; removed elsewhere', () => {
  must(['ip', '-n', env.peer, 'neigh', 'replace', VIP, 'lladdr', '02:00:00:00:00:01', 'dev', 'v1', 'nud', 'stale']);
  const add = hookAsRedis(['--config', config, ...toMe], true);
  assert.equal(add.code, 0, `${add.stdout}\n${add.stderr}\n${logText(env)}`);
  assert.deepEqual(holders(env.ns, VIP), [{ dev: 'v0', prefixlen: 24, tentative: false }]);
  assert.equal(
    neighbourMac(env.peer, VIP),
    env.mac.toLowerCase(),
    'arping ran with CAP_NET_RAW and the neighbour learnt our MAC',
  );
  assert.doesNotMatch(
    logText(env)
      .split('\n')
      .filter((l) => l.includes('"msg":"plan"'))
      .at(-1) ?? '',
    /"privileged":true/,
  );

  const del = hookAsRedis(['--config', config, ...toOther], true);
  assert.equal(del.code, 0, `${del.stdout}\n${del.stderr}`);
  assert.deepEqual(holders(env.ns, VIP), []);
});
