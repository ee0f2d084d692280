// A packaged install (/usr/lib/sentinel-hook): its units are made for vip and exec actions, once, at build
// time. `check` says when the operator's config needs more, and `sentinel-hook systemd` then prints the
// drop-in that adds exactly that; for a config they serve, neither has anything to say.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HostReader } from '../../src/actions/plugin.ts';
import { checkCommand } from '../../src/commands/check.ts';
import { validateConfig } from '../../src/config/load.ts';
import { PACKAGED_INSTALL_DIR, systemdFiles } from '../../src/systemd/units.ts';

const PROGRAMS: Record<string, string> = { ip: '/usr/sbin/ip', arping: '/usr/bin/arping', true: '/usr/bin/true' };
const host: HostReader = {
  which: (p) => (p.startsWith('/') ? p : PROGRAMS[p]),
  read: async (argv) => ({ exitCode: 0, stdout: '', stderr: '', argv }) as never,
  readFile: () => undefined,
};
const PACKAGED = { installDir: PACKAGED_INSTALL_DIR, node: `${PACKAGED_INSTALL_DIR}/bin/node`, unitDirs: [] };
const hostsFile = `/tmp/sh-pkgunits-${process.pid}/hosts`;

function config(actions: unknown[]) {
  return validateConfig({ sentinels: { addresses: ['127.0.0.1:26379'] }, masters: { mymaster: actions } }, 'test.yaml');
}
const vipAndExec = config([
  { type: 'vip', address: '10.0.0.100/24', interface: 'lo' },
  { type: 'exec', run: ['true'] },
]);
const hosts = config([{ type: 'hosts', names: ['redis-master.example'], file: hostsFile }]);
const warnings = async (cfg: ReturnType<typeof config>, opts = PACKAGED) =>
  (await checkCommand(cfg, host, opts)).text.split('\n').filter((l) => l.includes('packaged'));

test('check on a packaged install: quiet for vip + exec; a hosts file to write is named, with the fix', async () => {
  assert.deepEqual(await warnings(vipAndExec), []);
  const [line, ...more] = await warnings(hosts);
  assert.deepEqual(more, []);
  assert.equal(
    line,
    `warning: the packaged sentinel-hook-watch.service cannot serve this config (${hostsFile} written): install the drop-in "sentinel-hook systemd" prints (/etc/systemd/system/sentinel-hook-watch.service.d/sentinel-hook-config.conf), then systemctl daemon-reload && systemctl restart sentinel-hook-watch.service`,
  );
  // A clone install generates its own units from the config: nothing to say about packaged ones.
  assert.deepEqual(await warnings(hosts, { ...PACKAGED, installDir: '/opt/sentinel-hook' }), []);
});

test('sentinel-hook systemd on a packaged install: a drop-in for both units with only what is missing', async () => {
  const opts = { mode: 'watch' as const, user: 'redis', configPath: '/etc/sentinel-hook/config.yaml', ...PACKAGED };
  assert.deepEqual(await systemdFiles(vipAndExec, opts, host), []);
  const files = await systemdFiles(hosts, opts, host);
  assert.deepEqual(
    files.map((f) => f.path),
    [
      '/etc/systemd/system/sentinel-hook-watch.service.d/sentinel-hook-config.conf',
      '/etc/systemd/system/sentinel-hook-reconcile.service.d/sentinel-hook-config.conf',
    ],
  );
  const settings = files[0]!.text.split('\n').filter((l) => l && !l.startsWith('#'));
  assert.deepEqual(settings, ['[Service]', `ReadWritePaths=${hostsFile}`]);
  // Another user: User= replaced, and the state directory made for that user instead of redis.
  const other = await systemdFiles(vipAndExec, { ...opts, user: 'sentinel' }, host);
  assert.match(other[0]!.text, /^User=sentinel\nGroup=sentinel$/m);
  assert.equal(other[2]!.path, '/etc/tmpfiles.d/sentinel-hook.conf');
  assert.match(other[2]!.text, /^d \/var\/lib\/sentinel-hook 0700 sentinel sentinel -$/m);
});
