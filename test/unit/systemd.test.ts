// What `sentinel-hook systemd` grants, from what each action declares of its sandbox: a config
// without a vip gets no network capability and no netlink or packet sockets; a vip config gets both;
// ReadWritePaths lists exactly the lock directory and the local hosts files.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HostReader } from '../../src/actions/plugin.ts';
import { validateConfig } from '../../src/config/load.ts';
import type { HookConfig } from '../../src/config/schema.ts';
import { ConfigError } from '../../src/errors.ts';
import { type SystemdOptions, systemdFiles } from '../../src/systemd/units.ts';

const PROGRAMS: Record<string, string> = {
  ip: '/usr/sbin/ip',
  arping: '/usr/bin/arping',
  ndptool: '/usr/bin/ndptool',
  sudo: '/usr/bin/sudo',
  sh: '/bin/sh',
  readlink: '/usr/bin/readlink',
  true: '/usr/bin/true',
};
const host: HostReader = {
  which: (p) => (p.startsWith('/') ? p : PROGRAMS[p]),
  read: async (argv) => {
    throw new Error(`unexpected command ${argv.join(' ')}`);
  },
  readFile: () => undefined,
};
const OPTS: SystemdOptions = {
  mode: 'watch',
  user: 'redis',
  configPath: '/etc/sentinel-hook/config.yaml',
  installDir: '/opt/sentinel-hook',
  node: '/usr/bin/node',
};

function parse(actions: unknown[], extra: Record<string, unknown> = {}): HookConfig {
  return validateConfig(
    {
      lockDir: '/run/sentinel-hook',
      sentinels: { addresses: ['10.0.0.1:26379'] },
      masters: { mymaster: actions },
      ...extra,
    },
    'test.yaml',
  );
}

/** Every value of a key, in order, from one unit's text (comments left out). */
function values(text: string, key: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));
}

const VIP = { type: 'vip', address: '10.0.0.100/24', interface: 'eth0' };
const HOSTS = { type: 'hosts', names: ['redis-master'], file: '/etc/hosts' };
const EXEC = { type: 'exec', run: ['true'] };

test('no vip: no capabilities, a user namespace of its own, no AF_NETLINK or AF_PACKET; ReadWritePaths = lock dir + state dir + hosts file', async () => {
  const [watch, reconcile] = await systemdFiles(parse([HOSTS, EXEC]), OPTS, host);
  for (const unit of [watch!, reconcile!]) {
    assert.deepEqual(values(unit.text, 'AmbientCapabilities'), []);
    assert.deepEqual(values(unit.text, 'CapabilityBoundingSet'), ['']);
    assert.deepEqual(values(unit.text, 'PrivateUsers'), ['true']);
    assert.deepEqual(values(unit.text, 'RestrictAddressFamilies'), ['AF_INET AF_INET6 AF_UNIX']);
    assert.deepEqual(values(unit.text, 'ReadWritePaths'), ['/run/sentinel-hook /var/lib/sentinel-hook /etc/hosts']);
    assert.deepEqual(values(unit.text, 'NoNewPrivileges'), ['true']);
    assert.deepEqual(values(unit.text, 'User'), ['redis']);
  }
  assert.deepEqual(values(watch!.text, 'ExecStart'), [
    '/usr/bin/node /opt/sentinel-hook/bin/sentinel-hook.cjs watch --config /etc/sentinel-hook/config.yaml',
  ]);
  assert.deepEqual(values(reconcile!.text, 'ExecStart'), [
    '/usr/bin/node /opt/sentinel-hook/bin/sentinel-hook.cjs reconcile --boot --log-to journal --config /etc/sentinel-hook/config.yaml',
  ]);
  assert.deepEqual(values(reconcile!.text, 'Type'), ['oneshot']);
});

test('a vip: CAP_NET_ADMIN and CAP_NET_RAW ambient and bounding (nothing else), AF_NETLINK and AF_PACKET; no hosts file: only the lock dir is writable', async () => {
  const [watch, , tmpfiles] = await systemdFiles(parse([VIP], { lockDir: '/var/lib/sentinel-hook/lock' }), OPTS, host);
  assert.deepEqual(values(watch!.text, 'AmbientCapabilities'), ['CAP_NET_ADMIN CAP_NET_RAW']);
  assert.deepEqual(values(watch!.text, 'CapabilityBoundingSet'), ['CAP_NET_ADMIN CAP_NET_RAW']);
  assert.deepEqual(values(watch!.text, 'PrivateUsers'), []);
  assert.deepEqual(values(watch!.text, 'RestrictAddressFamilies'), ['AF_INET AF_INET6 AF_UNIX AF_NETLINK AF_PACKET']);
  assert.deepEqual(values(watch!.text, 'ReadWritePaths'), ['/var/lib/sentinel-hook/lock']);
  assert.deepEqual(values(watch!.text, 'NoNewPrivileges'), ['true']);
  assert.equal(tmpfiles!.path, '/etc/tmpfiles.d/sentinel-hook.conf');
  assert.match(tmpfiles!.text, /^d \/var\/lib\/sentinel-hook\/lock 0700 redis redis -$/m);
});

test('--hook: ExecPaths for the install, node, sh, readlink and each program; sockets and capabilities only for a vip; no sudo relaxation without sudo', async () => {
  const [withVip] = await systemdFiles(parse([VIP, HOSTS, EXEC]), { ...OPTS, mode: 'hook' }, host);
  assert.equal(withVip!.path, '/etc/systemd/system/redis-sentinel.service.d/sentinel-hook.conf');
  const exec = values(withVip!.text, 'ExecPaths')[0]!.split(' ');
  for (const p of ['/opt/sentinel-hook', '/usr/bin/node', '/usr/bin/readlink', '/usr/bin/true'])
    assert.ok(exec.includes(p), `${p} in ${exec.join(' ')}`);
  assert.deepEqual(values(withVip!.text, 'RestrictAddressFamilies'), ['AF_NETLINK AF_PACKET']);
  assert.deepEqual(values(withVip!.text, 'AmbientCapabilities'), ['CAP_NET_ADMIN CAP_NET_RAW']);
  assert.deepEqual(values(withVip!.text, 'Environment'), ['SENTINEL_HOOK_JITLESS=1']);
  assert.deepEqual(values(withVip!.text, 'MemoryDenyWriteExecute'), []);
  assert.deepEqual(values(withVip!.text, 'NoNewPrivileges'), []);
  assert.deepEqual(values(withVip!.text, 'ReadWritePaths'), [
    '-/var/log/sentinel-hook -/run/sentinel-hook -/var/lib/sentinel-hook -/etc/hosts',
  ]);
  // Debian's filter stays; a call outside it (node's pkey_alloc at start) fails rather than kills.
  assert.deepEqual(values(withVip!.text, 'SystemCallErrorNumber'), ['EPERM']);
  // Every setting comes with what it costs, in the comment lines just above it.
  const lines = withVip!.text.split('\n');
  for (const [i, line] of lines.entries()) {
    if (
      !/^(ExecPaths|ReadWritePaths|RestrictAddressFamilies|CapabilityBoundingSet|SystemCallFilter|SystemCallErrorNumber)=/.test(
        line,
      )
    )
      continue;
    let start = i;
    while (start > 0 && lines[start - 1]!.startsWith('#')) start--;
    assert.match(lines.slice(start, i).join(' '), /Cost:/, line);
  }

  const [noVip] = await systemdFiles(parse([EXEC]), { ...OPTS, mode: 'hook' }, host);
  for (const key of [
    'RestrictAddressFamilies',
    'AmbientCapabilities',
    'CapabilityBoundingSet',
    'PrivateUsers',
    'NoNewPrivileges',
  ])
    assert.deepEqual(values(noVip!.text, key), [], key);
  assert.ok(!values(noVip!.text, 'ExecPaths')[0]!.includes('arping'));

  const [sudo] = await systemdFiles(parse([{ ...EXEC, privilege: 'sudo' }]), { ...OPTS, mode: 'hook' }, host);
  assert.deepEqual(values(sudo!.text, 'NoNewPrivileges'), ['no']);
  // systemd would turn NoNewPrivileges back on for a non-root service with any seccomp-based option.
  assert.deepEqual(values(sudo!.text, 'SystemCallFilter'), ['']);
  assert.deepEqual(values(sudo!.text, 'SystemCallErrorNumber'), ['EPERM']);
  assert.ok(values(sudo!.text, 'ExecPaths')[0]!.split(' ').includes('/usr/bin/sudo'));
});

test('values copied into unit text are checked: a path with % (a systemd specifier) or a newline, a user with a blank: refused (exit 2)', async () => {
  await assert.rejects(
    systemdFiles(parse([HOSTS], { lockDir: '/run/sentinel-%i' }), OPTS, host),
    (e) => e instanceof ConfigError && e.exitCode === 2 && /cannot go into a unit file/.test(e.message),
  );
  await assert.rejects(
    systemdFiles(parse([EXEC]), { ...OPTS, configPath: '/etc/x\nExecStartPre=/bin/sh' }, host),
    /cannot go into a unit file/,
  );
  await assert.rejects(systemdFiles(parse([EXEC]), { ...OPTS, user: 'redis root' }, host), /not a plain login name/);
  // A program found nowhere is an error now, not a unit that fails at the worst time.
  await assert.rejects(
    systemdFiles(parse([{ ...VIP }]), OPTS, { ...host, which: (p) => (p === 'arping' ? undefined : PROGRAMS[p]) }),
    /arping not found/,
  );
});

// Issue 15 §5.2: watch exits 2 on a config it cannot use (a password file moved away). systemd's
// default start limit (5 starts in 10 s) would give up on it for good after a few RestartSec=2s;
// with no limit it keeps trying, and comes back by itself once the file is fixed.
test('the watch unit restarts for good: Restart=always with no start limit, in [Unit] where systemd 252 reads it', async () => {
  const [watch, reconcile] = await systemdFiles(parse([EXEC]), OPTS, host);
  const unitSection = watch!.text.slice(watch!.text.indexOf('[Unit]'), watch!.text.indexOf('[Service]'));
  assert.deepEqual(values(unitSection, 'StartLimitIntervalSec'), ['0']);
  assert.deepEqual(values(watch!.text, 'StartLimitIntervalSec'), ['0']);
  assert.deepEqual(values(watch!.text, 'Restart'), ['always']);
  // RestartSteps= (a growing delay) needs systemd 254: Debian 12 has 252, whose verify would reject it.
  assert.deepEqual(values(watch!.text, 'RestartSteps'), []);
  // The boot reconcile is a oneshot: it is not restarted, so no limit to lift.
  assert.deepEqual(values(reconcile!.text, 'StartLimitIntervalSec'), []);
});

// Issue 15 §3: the boot reconcile failed the unit for a normal situation (a peer down after a power
// cut), logged to a file its own ProtectSystem=strict keeps read-only, and held watch back ~9 s (Before=)
// while it waited for its second ARP burst. §5.4: the lock directory removed while watch ran stayed
// gone until someone made it again.
test("the boot reconcile: --boot, logs to the journal, orders nothing before watch; /run/sentinel-hook is both units' RuntimeDirectory=, another lockDir keeps its tmpfiles.d line", async () => {
  const [watch, reconcile, tmpfiles] = await systemdFiles(parse([EXEC]), OPTS, host);
  assert.deepEqual(values(reconcile!.text, 'ExecStart'), [
    '/usr/bin/node /opt/sentinel-hook/bin/sentinel-hook.cjs reconcile --boot --log-to journal --config /etc/sentinel-hook/config.yaml',
  ]);
  assert.deepEqual(values(reconcile!.text, 'Before'), []);
  assert.deepEqual(values(watch!.text, 'After'), ['network-online.target redis-sentinel.service']);
  for (const unit of [watch!, reconcile!]) {
    assert.deepEqual(values(unit.text, 'RuntimeDirectory'), ['sentinel-hook']);
    assert.deepEqual(values(unit.text, 'RuntimeDirectoryMode'), ['0700']);
    // The oneshot's stop (at once) and a watch restart must not take the directory from the others.
    assert.deepEqual(values(unit.text, 'RuntimeDirectoryPreserve'), ['yes']);
  }
  assert.doesNotMatch(tmpfiles!.text, /^d \/run\/sentinel-hook /m);
  assert.match(tmpfiles!.text, /^d \/var\/lib\/sentinel-hook 0700 redis redis -$/m);

  const [otherWatch, otherReconcile, otherTmpfiles] = await systemdFiles(
    parse([EXEC], { lockDir: '/run/redis-failover' }),
    OPTS,
    host,
  );
  for (const unit of [otherWatch!, otherReconcile!]) assert.deepEqual(values(unit.text, 'RuntimeDirectory'), []);
  assert.match(otherTmpfiles!.text, /^d \/run\/redis-failover 0700 redis redis -$/m);
});

test('metrics.textfile: writable for the watch unit and in the hook drop-in (every run rewrites its file there)', async () => {
  const config = parse([EXEC], { metrics: { textfile: '/var/lib/node_exporter/textfile' } });
  const [watch] = await systemdFiles(config, OPTS, host);
  assert.deepEqual(values(watch!.text, 'ReadWritePaths'), [
    '/run/sentinel-hook /var/lib/sentinel-hook /var/lib/node_exporter/textfile',
  ]);
  const [dropIn] = await systemdFiles(config, { ...OPTS, mode: 'hook' }, host);
  assert.match(values(dropIn!.text, 'ReadWritePaths')[0]!, / -\/var\/lib\/node_exporter\/textfile( |$)/);
});
