// The generated sudoers drop-in, live in /etc/sudoers.d for this test: as the redis user, every
// command line the hook plans is allowed (sudo -n -l), and nothing beyond them is.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  asRedis,
  BIN,
  createNetns,
  holders,
  hookAsRedis,
  installSudoers,
  must,
  type Netns,
  preflight,
  removeSudoers,
  sh,
  teardown,
  writeConfig,
} from './vip-netns.ts';

const VIP = '10.213.7.100';
const VIP6 = 'fd00:213::100';
const ARP = { count: 2, interval: '100ms', repeatAfter: '1s' };

let env: Netns;
let config: string;
let text: string;

before(() => {
  preflight();
  env = createNetns('shsudo');
  config = writeConfig(env, [
    { type: 'vip', address: `${VIP}/24`, interface: 'v0', label: 'v0:vip', checkDuplicate: true, arp: ARP },
    { type: 'vip', address: `${VIP6}/64`, arp: ARP },
  ]);
  text = installSudoers(env, config);
});

after(() => {
  if (env) teardown(env);
});

const allowed = (argv: string[]) => asRedis(env, ['sudo', '-n', '-l', ...argv]);

/** Every privileged argv in a dry-run plan (command steps, and the commands inside burst / probe tasks). */
function plannedArgv(event: string[]): string[][] {
  const r = hookAsRedis(env, ['--config', config, '--dry-run', '--json', ...event]);
  assert.equal(r.code, 0, r.stderr);
  const plan = JSON.parse(r.stdout) as {
    plans: {
      steps: {
        kind: string;
        argv?: string[];
        privileged?: boolean;
        detail?: { privileged?: boolean; argv?: string[]; commands?: { argv: string[] }[] };
      }[];
    }[];
  };
  const out: string[][] = [];
  for (const p of plan.plans) {
    for (const s of p.steps) {
      if (s.kind === 'command' && s.privileged) out.push(s.argv!);
      if (s.kind === 'task' && s.detail?.privileged)
        out.push(...(s.detail.argv ? [s.detail.argv] : []), ...(s.detail.commands ?? []).map((c) => c.argv));
    }
  }
  return out;
}

test('the drop-in holds only a Defaults line and one rule for redis, and visudo accepts it', () => {
  const body = text.split('\n').filter((l) => l && !l.startsWith('#') && !l.startsWith('    '));
  assert.deepEqual(
    body.map((l) => l.split(' ')[0]),
    ['Defaults:redis', 'redis'],
  );
  assert.match(
    body[1]!,
    /^redis ALL=\(root\) NOPASSWD: \/usr\/sbin\/ip addr add 10\.213\.7\.100\/24 dev v0 label v0\\:vip, \\$/,
  );
  assert.doesNotMatch(text, /ALL\s*$|\*|NOPASSWD: ALL/m);
  must(['visudo', '-cf', env.sudoersFile!]);
});

test('every command the hook plans, on the new master and elsewhere, IPv4 and IPv6, is allowed to redis', () => {
  must(['ip', '-n', env.ns, 'addr', 'add', `${VIP6}/64`, 'dev', 'v0', 'nodad']);
  const planned = [
    ...plannedArgv(['mymaster', 'leader', 'start', '10.213.7.1', '6379', '10.213.7.2', '6379']),
    ...plannedArgv(['mymaster', 'leader', 'start', 'fd00:213::2', '6379', 'fd00:213::1', '6379']),
  ];
  must(['ip', '-n', env.ns, 'addr', 'add', `${VIP}/24`, 'dev', 'v0']);
  planned.push(...plannedArgv(['mymaster', 'observer', 'start', '10.213.7.2', '6379', '10.213.7.3', '6379']));
  must(['ip', '-n', env.ns, 'addr', 'del', `${VIP}/24`, 'dev', 'v0']);
  must(['ip', '-n', env.ns, 'addr', 'del', `${VIP6}/64`, 'dev', 'v0']);
  const distinct = [...new Set(planned.map((a) => JSON.stringify(a)))].map((a) => JSON.parse(a) as string[]);
  const kinds = new Set(
    distinct.map((a) => `${a[0]} ${a.slice(1).find((x) => ['add', 'del', '-U', '-A', '-D', 'na'].includes(x))}`),
  );
  assert.deepEqual(
    [...kinds].sort(),
    [
      '/usr/bin/arping -A',
      '/usr/bin/arping -D',
      '/usr/bin/arping -U',
      '/usr/bin/ndptool na',
      '/usr/sbin/ip add',
      '/usr/sbin/ip del',
    ],
    'the dry-runs covered every kind of command',
  );
  for (const argv of distinct) {
    const r = allowed(argv);
    assert.equal(r.code, 0, `not allowed: ${argv.join(' ')}\n${r.stderr}`);
  }
});

test('anything beyond the planned lines is refused: other address, extra or missing argument, netns exec, a shell', () => {
  const refused: string[][] = [
    ['/usr/sbin/ip', 'netns', 'exec', env.ns, '/bin/sh'],
    ['/usr/sbin/ip', 'addr', 'add', '10.213.7.99/24', 'dev', 'v0'],
    ['/usr/sbin/ip', 'addr', 'add', `${VIP}/24`, 'dev', 'v1'],
    ['/usr/sbin/ip', 'addr', 'add', `${VIP}/24`, 'dev', 'v0'],
    ['/usr/sbin/ip', 'addr', 'add', `${VIP}/24`, 'dev', 'v0', 'label', 'v0:vip', 'extra'],
    ['/usr/sbin/ip', 'addr', 'flush', 'dev', 'v0'],
    ['/usr/sbin/ip', 'link', 'set', 'v0', 'down'],
    ['/usr/sbin/ip'],
    ['/sbin/ip', 'netns', 'exec', env.ns, '/bin/sh'],
    ['/usr/bin/arping', '-q', '-U', '-c', '1', '-I', 'v0', '10.213.7.9'],
    ['/usr/bin/arping', '-q', '-U', '-c', '1000', '-I', 'v0', VIP],
    ['/usr/bin/ndptool', 'monitor'],
    ['/bin/sh'],
    ['/bin/sh', '-c', 'id'],
    ['/usr/bin/env', '/bin/sh'],
  ];
  for (const argv of refused) {
    const r = allowed(argv);
    assert.notEqual(r.code, 0, `allowed but must not be: ${argv.join(' ')}`);
  }
  // And for real, not only as sudo -l: the refused command changes nothing.
  const real = asRedis(env, ['sudo', '-n', '/usr/sbin/ip', 'addr', 'add', '10.213.7.99/24', 'dev', 'v0']);
  assert.equal(real.code, 1);
  assert.match(real.stderr, /a password is required|not allowed/);
  assert.deepEqual(holders(env.ns, '10.213.7.99'), []);
  const shell = asRedis(env, ['sudo', '-n', 'ip', 'netns', 'exec', env.ns, '/bin/sh', '-c', 'id -u']);
  assert.equal(shell.code, 1);
  assert.doesNotMatch(shell.stdout, /^0$/m);
});

test('without the drop-in, the same planned command is refused: the rule is what allowed it', () => {
  removeSudoers(env);
  const r = allowed(['/usr/sbin/ip', 'addr', 'del', `${VIP}/24`, 'dev', 'v0']);
  assert.notEqual(r.code, 0);
});

test('sudoers --check with a bad user exits 2; with no privileged action exits 2 saying none is needed', () => {
  const bad = sh([process.execPath, BIN, 'sudoers', '--user', 'redis ALL', '--config', config]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /is not a plain login name/);
  const none = writeConfig(env, [{ type: 'vip', address: `${VIP}/24`, interface: 'v0', privilege: 'none' }]);
  const r = sh([process.execPath, BIN, 'sudoers', '--user', 'redis', '--config', none]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /nothing to allow/);
});
