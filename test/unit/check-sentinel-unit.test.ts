// `check` reads Sentinel's unit and its drop-ins from the unit directories (here a temp dir holding
// Debian's stock redis-sentinel.service): it warns, in one line naming the fix, that the hook could not
// run there; with the drop-in `sentinel-hook systemd --hook` generates beside it, it is quiet.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { HostReader } from '../../src/actions/plugin.ts';
import { checkCommand } from '../../src/commands/check.ts';
import { validateConfig } from '../../src/config/load.ts';
import { hookBlockers, readUnit } from '../../src/systemd/sentinel-unit.ts';
import { configSandbox, systemdFiles } from '../../src/systemd/units.ts';
import { DEBIAN_SENTINEL_UNIT } from '../support/debian-units.ts';

const PROGRAMS: Record<string, string> = {
  ip: '/usr/sbin/ip',
  arping: '/usr/bin/arping',
  sudo: '/usr/bin/sudo',
  sh: '/bin/sh',
  readlink: '/usr/bin/readlink',
  true: '/usr/bin/true',
};
const host: HostReader = {
  which: (p) => (p.startsWith('/') ? p : PROGRAMS[p]),
  read: async (argv) => ({ exitCode: 0, stdout: '', stderr: '', argv }) as never,
  readFile: () => undefined,
};
const SETUP = { installDir: '/opt/sentinel-hook', node: '/usr/bin/node' };

function config(actions: unknown[]) {
  return validateConfig({ lockDir: '/run/sentinel-hook', masters: { mymaster: actions } }, 'test.yaml');
}

test("Debian's stock unit: one warning line naming what stops the hook and the fix; with the generated drop-in beside it: quiet", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sh-check-unit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const units = join(dir, 'lib');
  const proc = join(dir, 'proc'); // no running Sentinel to read
  mkdirSync(units);
  mkdirSync(proc);
  writeFileSync(join(units, 'redis-sentinel.service'), DEBIAN_SENTINEL_UNIT);
  const cfg = config([
    { type: 'vip', address: '10.0.0.100/24', interface: 'lo' },
    { type: 'exec', run: ['true'] },
  ]);
  const opts = { unitDirs: [join(dir, 'etc'), units], proc, ...SETUP };

  const before = (await checkCommand(cfg, host, opts)).text.split('\n').filter((l) => l.startsWith('warning:'));
  assert.equal(before.length, 1, before.join('\n'));
  const line = before[0]!;
  for (const reason of [
    'NoExecPaths=/ without /opt/sentinel-hook',
    'MemoryDenyWriteExecute=true',
    'RestrictAddressFamilies without AF_NETLINK AF_PACKET',
    'CAP_NET_ADMIN',
    'ProtectSystem=strict without /var/log/sentinel-hook /run/sentinel-hook',
    'SystemCallFilter=@system-service without SystemCallErrorNumber=EPERM (node is killed by SIGSYS at start: it calls pkey_alloc)',
  ]) {
    assert.ok(line.includes(reason), `${reason} in: ${line}`);
  }
  assert.match(line, /sentinel-hook systemd --hook/);

  // The drop-in goes to /etc/systemd/system/redis-sentinel.service.d/, as the generator says.
  const [dropIn] = await systemdFiles(
    cfg,
    { mode: 'hook', user: 'redis', configPath: '/etc/sentinel-hook/config.yaml', ...SETUP },
    host,
  );
  assert.equal(dropIn!.path, '/etc/systemd/system/redis-sentinel.service.d/sentinel-hook.conf');
  mkdirSync(join(dir, 'etc', 'redis-sentinel.service.d'), { recursive: true });
  writeFileSync(join(dir, 'etc', 'redis-sentinel.service.d', 'sentinel-hook.conf'), dropIn!.text);
  const after = (await checkCommand(cfg, host, opts)).text.split('\n').filter((l) => l.startsWith('warning:'));
  assert.deepEqual(after, []);
});

test('sudo actions: NoNewPrivileges is named; no Sentinel unit on the host: no warning at all', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sh-check-unit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'redis-sentinel.service'), DEBIAN_SENTINEL_UNIT);
  const cfg = config([{ type: 'exec', run: ['true'], privilege: 'sudo' }]);
  const text = (await checkCommand(cfg, host, { unitDirs: [dir], proc: dir, ...SETUP })).text;
  assert.match(text, /^warning: .*NoNewPrivileges=true with sudo actions/m);
  const none = (await checkCommand(cfg, host, { unitDirs: [join(dir, 'nothing')], proc: dir, ...SETUP })).text;
  assert.doesNotMatch(none, /^warning:/m);
});

test('the system call filter: killed when it leaves out pkey_alloc and SystemCallErrorNumber is unset or kill; not when it allows it, fails it, or is reset', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sh-check-filter-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const needs = await configSandbox(config([{ type: 'exec', run: ['true'] }]), host);
  const SIGSYS =
    'SystemCallFilter=@system-service without SystemCallErrorNumber=EPERM (node is killed by SIGSYS at start: it calls pkey_alloc)';
  /** Debian's unit and one drop-in holding these [Service] lines: the filter's reason, if any. */
  const filterReason = (name: string, lines: string[]) => {
    mkdirSync(join(dir, name, 'redis-sentinel.service.d'), { recursive: true });
    writeFileSync(join(dir, name, 'redis-sentinel.service'), DEBIAN_SENTINEL_UNIT);
    writeFileSync(join(dir, name, 'redis-sentinel.service.d', 'x.conf'), `[Service]\n${lines.join('\n')}\n`);
    return hookBlockers(readUnit('redis-sentinel.service', [join(dir, name)])!, needs, { writable: [] }).filter((r) =>
      r.startsWith('SystemCallFilter'),
    );
  };
  assert.deepEqual(filterReason('stock', []), [SIGSYS]);
  // "kill" said explicitly, or an empty assignment (back to unset): still killed.
  assert.deepEqual(filterReason('kill', ['SystemCallErrorNumber=kill']), [SIGSYS]);
  assert.deepEqual(filterReason('reset-errno', ['SystemCallErrorNumber=EPERM', 'SystemCallErrorNumber=']), [SIGSYS]);
  // pkey_alloc allowed again, then taken away again: the last word decides.
  assert.deepEqual(filterReason('taken', ['SystemCallFilter=@pkey', 'SystemCallFilter=~pkey_alloc']), [SIGSYS]);
  for (const [name, lines] of [
    ['eperm', ['SystemCallErrorNumber=EPERM']],
    ['errno', ['SystemCallErrorNumber=1']],
    ['pkey', ['SystemCallFilter=@pkey']],
    ['pkey-alloc', ['SystemCallFilter=pkey_alloc']],
    ['reset', ['SystemCallFilter=']],
  ] as const) {
    assert.deepEqual(filterReason(name, [...lines]), [], name);
  }
  // A deny-list: killed only when it names pkey_alloc, and then not with its own errno.
  assert.deepEqual(filterReason('deny', ['SystemCallFilter=', 'SystemCallFilter=~@mount']), []);
  assert.deepEqual(filterReason('deny-pkey', ['SystemCallFilter=', 'SystemCallFilter=~@mount @pkey']), [
    'SystemCallFilter=~@mount @pkey without SystemCallErrorNumber=EPERM (node is killed by SIGSYS at start: it calls pkey_alloc)',
  ]);
  assert.deepEqual(filterReason('deny-pkey-errno', ['SystemCallFilter=', 'SystemCallFilter=~@mount @pkey:EPERM']), []);
  assert.deepEqual(
    filterReason('deny-pkey-kill', [
      'SystemCallFilter=',
      'SystemCallFilter=~@pkey:kill',
      'SystemCallErrorNumber=EPERM',
    ]),
    [
      'SystemCallFilter=~@pkey:kill without SystemCallErrorNumber=EPERM (node is killed by SIGSYS at start: it calls pkey_alloc)',
    ],
  );
});
