// The vip action on the real system: the built CLI as the unprivileged redis user inside a network
// namespace of our own, under the sudoers rules it generated. Asserts what the kernel reports.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  createNetns,
  holders,
  hookAsRedis,
  installSudoers,
  logText,
  must,
  type Netns,
  neighbourMac,
  preflight,
  sh,
  teardown,
  writeConfig,
} from './vip-netns.ts';

const VIP = '10.213.7.100';
const VIP6 = 'fd00:213::100';
const ME = ['10.213.7.2', 'fd00:213::2'];
const ARP = { count: 2, interval: '100ms', repeatAfter: '1s' };
const toMe = ['mymaster', 'leader', 'start', '10.213.7.1', '6379', ME[0]!, '6379'];
const toOther = ['mymaster', 'observer', 'start', ME[0]!, '6379', '10.213.7.3', '6379'];
const toMe6 = ['mymaster', 'leader', 'start', 'fd00:213::1', '6379', ME[1]!, '6379'];
const toOther6 = ['mymaster', 'leader', 'start', ME[1]!, '6379', 'fd00:213::3', '6379'];

let env: Netns;
let v4Config: string;
let v6Config: string;
let dupConfig: string;

before(() => {
  preflight();
  env = createNetns('shvip');
  v4Config = writeConfig(env, [{ type: 'vip', address: `${VIP}/24`, interface: 'v0', label: 'v0:vip', arp: ARP }]);
  v6Config = writeConfig(env, [{ type: 'vip', address: `${VIP6}/64`, arp: ARP }]);
  dupConfig = writeConfig(env, [
    {
      type: 'vip',
      address: '10.213.7.150/24',
      checkDuplicate: true,
      arp: { count: 1, interval: '100ms', repeatAfter: 0 },
    },
  ]);
  // One drop-in for all three: the real file a user installs holds every VIP of the config.
  const all = writeConfig(env, [
    { type: 'vip', address: `${VIP}/24`, interface: 'v0', label: 'v0:vip', arp: ARP },
    { type: 'vip', address: `${VIP6}/64`, arp: ARP },
    {
      type: 'vip',
      address: '10.213.7.150/24',
      checkDuplicate: true,
      arp: { count: 1, interval: '100ms', repeatAfter: 0 },
    },
  ]);
  installSudoers(env, all);
});

after(() => {
  if (env) teardown(env);
});

test('new master, as redis under sudo: the VIP is added with its label, the neighbour learns our MAC, exit 0; again: exit 0, still once', () => {
  // The neighbour starts with a stale entry for the VIP pointing elsewhere, as after a failover.
  must(['ip', '-n', env.peer, 'neigh', 'replace', VIP, 'lladdr', '02:00:00:00:00:01', 'dev', 'v1', 'nud', 'stale']);
  const first = hookAsRedis(env, ['--config', v4Config, ...toMe]);
  assert.equal(first.code, 0, `${first.stdout}\n${first.stderr}\n${logText(env)}`);
  assert.deepEqual(holders(env.ns, VIP), [{ dev: 'v0', prefixlen: 24, tentative: false }]);
  const label = JSON.parse(must(['ip', '-n', env.ns, '-j', 'addr', 'show', 'dev', 'v0'])) as {
    addr_info: { local: string; label?: string }[];
  }[];
  assert.equal(label[0]!.addr_info.find((a) => a.local === VIP)?.label, 'v0:vip');
  assert.equal(
    neighbourMac(env.peer, VIP),
    env.mac.toLowerCase(),
    'the gratuitous ARP replaced the stale neighbour entry',
  );

  const second = hookAsRedis(env, ['--config', v4Config, ...toMe]);
  assert.equal(second.code, 0, `${second.stdout}\n${second.stderr}`);
  assert.equal(holders(env.ns, VIP).length, 1);
});

test('another host became master: the VIP is removed, exit 0; again (nothing to remove): exit 0', () => {
  if (holders(env.ns, VIP).length === 0) must(['ip', '-n', env.ns, 'addr', 'add', `${VIP}/24`, 'dev', 'v0']);
  const first = hookAsRedis(env, ['--config', v4Config, ...toOther]);
  assert.equal(first.code, 0, `${first.stdout}\n${first.stderr}`);
  assert.deepEqual(holders(env.ns, VIP), []);
  const second = hookAsRedis(env, ['--config', v4Config, ...toOther]);
  assert.equal(second.code, 0, `${second.stdout}\n${second.stderr}`);
  assert.deepEqual(holders(env.ns, VIP), []);
  assert.match(logText(env), /is not on this host, which is not the new master: nothing to do/);
});

test('IPv6: added with nodad (usable at once, not tentative) on the route-detected interface, the neighbour learns our MAC from the NA, exit 0; removed elsewhere', () => {
  must([
    'ip',
    '-n',
    env.peer,
    '-6',
    'neigh',
    'replace',
    VIP6,
    'lladdr',
    '02:00:00:00:00:06',
    'dev',
    'v1',
    'nud',
    'stale',
  ]);
  const add = hookAsRedis(env, ['--config', v6Config, ...toMe6]);
  assert.equal(add.code, 0, `${add.stdout}\n${add.stderr}\n${logText(env)}`);
  assert.deepEqual(holders(env.ns, VIP6), [{ dev: 'v0', prefixlen: 64, tentative: false }]);
  assert.equal(
    neighbourMac(env.peer, VIP6),
    env.mac.toLowerCase(),
    'the unsolicited NA (Override) replaced the stale neighbour entry',
  );
  const again = hookAsRedis(env, ['--config', v6Config, ...toMe6]);
  assert.equal(again.code, 0, again.stderr);
  const del = hookAsRedis(env, ['--config', v6Config, ...toOther6]);
  assert.equal(del.code, 0, `${del.stdout}\n${del.stderr}`);
  assert.deepEqual(holders(env.ns, VIP6), []);
});

test('a VIP the sudoers rules do not cover: sudo refuses, nothing added, exit 1 saying what to install', () => {
  const other = writeConfig(env, [{ type: 'vip', address: '10.213.7.123/24', interface: 'v0', arp: ARP }]);
  const r = hookAsRedis(env, ['--config', other, ...toMe]);
  assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
  assert.deepEqual(holders(env.ns, '10.213.7.123'), []);
  assert.match(r.stdout + logText(env), /sudo refused .*10\.213\.7\.123\/24.*sentinel-hook sudoers/);
});

test('checkDuplicate: while the neighbour holds the address, not added and exit 1 naming its MAC; once released, added', () => {
  must(['ip', '-n', env.peer, 'addr', 'add', '10.213.7.150/24', 'dev', 'v1']);
  const peerMac = (
    JSON.parse(must(['ip', '-n', env.peer, '-j', 'link', 'show', 'v1'])) as { address: string }[]
  )[0]!.address.toLowerCase();
  const started = Date.now();
  const held = hookAsRedis(env, ['--config', dupConfig, ...toMe]);
  const took = Date.now() - started;
  assert.equal(held.code, 1, `${held.stdout}\n${held.stderr}`);
  assert.deepEqual(holders(env.ns, '10.213.7.150'), []);
  assert.match(held.stdout, new RegExp(`still held by MAC ${peerMac}`));
  assert.ok(took >= 1800 && took < 15_000, `probing lasted ${took} ms`);

  must(['ip', '-n', env.peer, 'addr', 'del', '10.213.7.150/24', 'dev', 'v1']);
  const free = hookAsRedis(env, ['--config', dupConfig, ...toMe]);
  assert.equal(free.code, 0, `${free.stdout}\n${free.stderr}`);
  assert.deepEqual(
    holders(env.ns, '10.213.7.150').map((h) => h.dev),
    ['v0'],
  );
  sh(['ip', '-n', env.ns, 'addr', 'del', '10.213.7.150/24', 'dev', 'v0']);
});
