// The vip action with Thomas Habets' arping, for real. Debian's `arping` package conflicts with
// iputils-arping, so it is not installed: its .deb is downloaded and unpacked into a temp dir, and the
// hook runs in a mount namespace of its own where that binary is bind-mounted over /usr/bin/arping.
// Everything else is as in vip-netns.test.ts: the built CLI as redis, under the sudoers rules it
// generated there (Habets' flags, not iputils'), in a network namespace with a neighbour.

import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

const VIP = '10.213.7.120';
const toMe = ['mymaster', 'leader', 'start', '10.213.7.1', '6379', '10.213.7.2', '6379'];

let env: Netns;
let habets: string;
let garpConfig: string;
let dupConfig: string;

/** argv run in the namespace with Habets' arping as /usr/bin/arping (a private mount namespace: nothing else sees it). */
function withHabets(argv: string[]): string[] {
  // A fixed script; the binary and the command arrive as arguments, never inside the script text.
  return [
    'ip',
    'netns',
    'exec',
    env.ns,
    'unshare',
    '-m',
    '--propagation',
    'private',
    '--',
    '/bin/sh',
    '-c',
    'mount --bind "$0" /usr/bin/arping && exec "$@"',
    habets,
    ...argv,
  ];
}

const asRedis = (args: string[]) =>
  sh(
    withHabets([
      'setpriv',
      `--reuid=${USER}`,
      `--regid=${USER}`,
      '--init-groups',
      '/usr/bin/env',
      '-i',
      process.execPath,
      reachablePath(BIN),
      ...args,
    ]),
    40_000,
  );

function fetchHabets(dir: string): string {
  const missing = ['libnet1', 'libpcap0.8', 'libseccomp2'].filter(
    (p) => !/install ok installed/.test(sh(['dpkg-query', '-W', '-f', '${Status}', p]).stdout),
  );
  if (missing.length) {
    must(['apt-get', 'update'], 300_000);
    must(['apt-get', 'install', '-y', '--no-install-recommends', ...missing], 600_000);
  }
  const debs = join(dir, 'debs');
  mkdirSync(debs, { mode: 0o777 });
  let r = sh(['sh', '-c', 'cd "$0" && exec apt-get download arping', debs], 120_000);
  if (r.code !== 0) {
    must(['apt-get', 'update'], 300_000);
    r = sh(['sh', '-c', 'cd "$0" && exec apt-get download arping', debs], 120_000);
  }
  assert.equal(r.code, 0, `apt-get download arping: ${r.stderr}`);
  const deb = readdirSync(debs).find((f) => /^arping_.*\.deb$/.test(f));
  assert.ok(deb, 'no arping .deb downloaded');
  must(['dpkg-deb', '-x', join(debs, deb), join(dir, 'habets')]);
  const bin = ['usr/sbin/arping', 'usr/bin/arping']
    .map((p) => join(dir, 'habets', p))
    .find((p) => sh(['test', '-x', p]).code === 0);
  assert.ok(bin, 'the arping package holds no arping binary');
  assert.ok(readFileSync(bin).includes('Habets'), `${bin} does not look like Habets' arping`);
  return bin;
}

before(() => {
  preflight();
  env = createNetns('shhab');
  habets = fetchHabets(env.dir);
  garpConfig = writeConfig(env, [
    { type: 'vip', address: `${VIP}/24`, interface: 'v0', arp: { count: 2, interval: '100ms', repeatAfter: '1s' } },
  ]);
  dupConfig = writeConfig(env, [
    {
      type: 'vip',
      address: '10.213.7.151/24',
      interface: 'v0',
      checkDuplicate: true,
      arp: { count: 1, interval: '100ms', repeatAfter: 0 },
    },
  ]);
  const all = writeConfig(env, [
    { type: 'vip', address: `${VIP}/24`, interface: 'v0', arp: { count: 2, interval: '100ms', repeatAfter: '1s' } },
    {
      type: 'vip',
      address: '10.213.7.151/24',
      interface: 'v0',
      checkDuplicate: true,
      arp: { count: 1, interval: '100ms', repeatAfter: 0 },
    },
  ]);
  // Generated where Habets' arping is the arping: its flags, not iputils'.
  const text = must(withHabets([process.execPath, BIN, 'sudoers', '--user', USER, '--config', all, '--check']));
  assert.match(text, /\/usr\/bin\/arping .*-S 10\.213\.7\.120/, `expected Habets flags in the rules:\n${text}`);
  assert.doesNotMatch(text, /arping -q -U -c 1 -I/, 'iputils flags in rules generated for Habets');
  const target = `/etc/sudoers.d/${env.ns.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  writeFileSync(`${target}-new`, text, { mode: 0o440 });
  env.sudoersFile = target;
  renameSync(`${target}-new`, target);
  must(['visudo', '-cf', target]);
});

after(() => {
  if (env) teardown(env);
});

test("Habets' arping, as redis under sudo: the VIP is added, the neighbour's stale entry now names our MAC, exit 0 (its exit 1 for no reply is normal)", () => {
  must(['ip', '-n', env.peer, 'neigh', 'replace', VIP, 'lladdr', '02:00:00:00:00:01', 'dev', 'v1', 'nud', 'stale']);
  const r = asRedis(['--config', garpConfig, ...toMe]);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}\n${logText(env)}`);
  assert.deepEqual(holders(env.ns, VIP), [{ dev: 'v0', prefixlen: 24, tentative: false }]);
  assert.equal(
    neighbourMac(env.peer, VIP),
    env.mac.toLowerCase(),
    "Habets' gratuitous ARP replaced the stale neighbour entry",
  );
  sh(['ip', '-n', env.ns, 'addr', 'del', `${VIP}/24`, 'dev', 'v0']);
});

test("Habets' arping, checkDuplicate: while the neighbour holds the address, not added, exit 1 naming its MAC; released, added", () => {
  must(['ip', '-n', env.peer, 'addr', 'add', '10.213.7.151/24', 'dev', 'v1']);
  const peerMac = (
    JSON.parse(must(['ip', '-n', env.peer, '-j', 'link', 'show', 'v1'])) as { address: string }[]
  )[0]!.address.toLowerCase();
  const held = asRedis(['--config', dupConfig, ...toMe]);
  assert.equal(held.code, 1, `${held.stdout}\n${held.stderr}`);
  assert.deepEqual(holders(env.ns, '10.213.7.151'), []);
  assert.match(held.stdout, new RegExp(`still held by MAC ${peerMac}`));

  must(['ip', '-n', env.peer, 'addr', 'del', '10.213.7.151/24', 'dev', 'v1']);
  const free = asRedis(['--config', dupConfig, ...toMe]);
  assert.equal(free.code, 0, `${free.stdout}\n${free.stderr}\n${logText(env)}`);
  assert.deepEqual(
    holders(env.ns, '10.213.7.151').map((h) => h.dev),
    ['v0'],
  );
  sh(['ip', '-n', env.ns, 'addr', 'del', '10.213.7.151/24', 'dev', 'v0']);
});
