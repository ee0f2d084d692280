// The runbook's steps for the packaged sentinel-hook, as a script run on booted Debian hosts
// (test/support/debian-hosts.ts): install the .deb with dpkg, the sysctl snippet, the config, then either
// the watch setup (the packaged units) or the hook setup (the generated drop-in on Debian's own
// redis-sentinel.service, the script lines written into sentinel.conf with Sentinel stopped).
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { basename } from 'node:path';
import { waitFor } from '../lab/wait.ts';
import { type DebianCluster, type DebianHost, MASTER_NAME, SENTINEL_PORT, VIP, VIP_CIDR } from './debian-hosts.ts';

export const WATCH_UNIT = 'sentinel-hook-watch.service';
export const RECONCILE_UNIT = 'sentinel-hook-reconcile.service';
export const INSTALL_DIR = '/usr/lib/sentinel-hook';
export const CONFIG = '/etc/sentinel-hook/config.yaml';

/** `dpkg -i` of a .deb from this machine (copied into the host's /root first); returns dpkg's output. */
export async function installDeb(host: DebianHost, deb: string): Promise<string> {
  copyFileSync(deb, host.path(`root/${basename(deb)}`));
  const r = await host.exec(['dpkg', '-i', `/root/${basename(deb)}`], { timeoutMs: 180_000 });
  assert.equal(r.code, 0, `${host.name}: dpkg -i ${basename(deb)} exited ${r.code}: ${r.stdout}\n${r.stderr}`);
  return `${r.stdout}${r.stderr}`;
}

export async function installedVersion(host: DebianHost): Promise<string> {
  const r = await host.exec(['dpkg-query', '-W', '-f', '${db:Status-Status} ${Version}', 'sentinel-hook']);
  return r.code === 0 ? r.stdout.trim() : `not known to dpkg (${r.stderr.trim()})`;
}

export function configYaml(cluster: DebianCluster): string {
  const sentinels = cluster.hosts.map((h) => `${h.ip}:${SENTINEL_PORT}`).join(', ');
  return [
    'deadline: 45s',
    'log: { file: /var/log/sentinel-hook/hook.log, level: info }',
    `sentinels:`,
    `  addresses: [${sentinels}]`,
    'masters:',
    `  ${MASTER_NAME}:`,
    '    - type: vip',
    `      address: ${VIP_CIDR}`,
    '      privilege: sudo',
    '',
  ].join('\n');
}

/** Steps 3 and 4 of the runbook with the package: the sysctl example applied, the config, `check`. */
async function prepareHost(cluster: DebianCluster, host: DebianHost): Promise<string> {
  await host.execOk([
    'install',
    '-m',
    '0644',
    '/usr/share/doc/sentinel-hook/examples/vip/sysctl.conf',
    '/etc/sysctl.d/60-sentinel-hook-vip.conf',
  ]);
  // The runbook says `sysctl --system`; in a container only net.* is writable (fs.* from Debian's own
  // snippets is refused), so this file alone. Its keys are the ones the VIP needs.
  await host.execOk(['sysctl', '-p', '/etc/sysctl.d/60-sentinel-hook-vip.conf']);
  assert.equal((await host.execOk(['sysctl', '-n', 'net.ipv4.conf.all.arp_announce'])).trim(), '2');
  await host.execOk(['install', '-d', '-m', '0755', '/etc/sentinel-hook']);
  await host.writeFile(CONFIG, configYaml(cluster), '0644');
  const check = await host.exec(['sentinel-hook', 'check'], { timeoutMs: 60_000 });
  return `${check.stdout}${check.stderr}`;
}

/**
 * The watch setup on every host: dpkg -i, sysctl, config, check, then the packaged units started (the
 * boot-time reconcile puts the VIP on the master, watch follows). Returns each host's `check` output.
 */
export async function watchSetup(cluster: DebianCluster, deb: string): Promise<Record<string, string>> {
  const checks: Record<string, string> = {};
  for (const host of cluster.hosts) {
    await installDeb(host, deb);
    checks[host.name] = await prepareHost(cluster, host);
  }
  for (const host of cluster.hosts)
    await host.execOk(['systemctl', 'enable', '--now', RECONCILE_UNIT, WATCH_UNIT], { timeoutMs: 120_000 });
  return checks;
}

/** Split `sentinel-hook systemd` output into its files (`# ---- PATH` lines), as the runbook's awk does. */
export function generatedFiles(text: string): Map<string, string> {
  const files = new Map<string, string>();
  let current: string | undefined;
  for (const line of text.split('\n')) {
    const m = /^# ---- (\S+)/.exec(line);
    if (m) {
      current = m[1]!;
      files.set(current, '');
    } else if (current) files.set(current, `${files.get(current)}${line}\n`);
  }
  return files;
}

/**
 * The hook setup on every host: dpkg -i, sysctl, config, the generated drop-in for Debian's
 * redis-sentinel.service, the script lines added to sentinel.conf with Sentinel stopped, Sentinel started
 * again, one reconcile by hand. The packaged watch is disabled: only Sentinel's hook moves the VIP.
 */
export async function hookSetup(cluster: DebianCluster, deb: string): Promise<Record<string, string>> {
  const dropIns: Record<string, string> = {};
  for (const host of cluster.hosts) {
    await installDeb(host, deb);
    await prepareHost(cluster, host);
    await host.execOk(['systemctl', 'disable', '--now', WATCH_UNIT]);
    const text = await host.execOk(['sentinel-hook', 'systemd', '--hook', '--user', 'redis'], { timeoutMs: 60_000 });
    const files = generatedFiles(text);
    assert.ok(
      [...files.keys()].some((f) => f.startsWith('/etc/systemd/system/redis-sentinel.service.d/')),
      `${host.name}: sentinel-hook systemd --hook printed no drop-in for redis-sentinel.service:\n${text}`,
    );
    for (const [path, content] of files) await host.writeFile(path, content, '0644');
    dropIns[host.name] = text;
    await host.execOk(['systemctl', 'daemon-reload']);
    await host.execOk(['systemctl', 'stop', 'redis-sentinel.service'], { timeoutMs: 60_000 });
    const conf = await host.execOk(['cat', '/etc/redis/sentinel.conf']);
    await host.writeFile(
      '/etc/redis/sentinel.conf',
      `${conf}sentinel client-reconfig-script ${MASTER_NAME} ${INSTALL_DIR}/hooks/client-reconfig\n` +
        `sentinel notification-script ${MASTER_NAME} ${INSTALL_DIR}/hooks/reannounce\n`,
      '0640',
    );
    await host.execOk(['chown', 'redis:redis', '/etc/redis/sentinel.conf']);
    await host.execOk(['systemctl', 'start', 'redis-sentinel.service'], { timeoutMs: 60_000 });
  }
  await cluster.waitConverged(cluster.hosts[0]!, 90_000);
  // The runbook's step 7 for the hook setup: root reconciles by hand (the lock directory is the packaged
  // tmpfiles.d entry's, made by postinst for redis).
  for (const host of cluster.hosts) await host.execOk(['sentinel-hook', 'reconcile'], { timeoutMs: 60_000 });
  // Step 6's closing check: with the drop-in in place and Sentinel restarted, no warning about its unit.
  for (const host of cluster.hosts) {
    const check = await host.exec(['sentinel-hook', 'check'], { timeoutMs: 60_000 });
    assert.doesNotMatch(
      `${check.stdout}${check.stderr}`,
      /warning:.*redis-sentinel\.service/,
      `${host.name}: check:\n${check.stdout}${check.stderr}`,
    );
  }
  return dropIns;
}

/** The VIP is on `master` and nowhere else (bounded wait), as `ip -o addr` in each host's namespace says. */
export async function waitVipOn(cluster: DebianCluster, master: DebianHost, timeoutMs: number): Promise<number> {
  const started = performance.now();
  await waitFor(
    `${VIP} on ${master.name} only`,
    async () => {
      const holders = await cluster.vipHolders();
      if (holders.length !== 1 || holders[0] !== master.name) throw new Error(`held by [${holders.join(',')}]`);
      return true;
    },
    { timeoutMs, intervalMs: 200 },
  );
  return Math.round(performance.now() - started);
}

/**
 * Steps of one scenario on one cluster: each a subtest, in order; once one fails the later ones fail at
 * once (they would only time out on a cluster in an unknown state) and say which step broke it.
 */
export function steps(t: { test: (name: string, fn: () => Promise<void>) => Promise<void> }) {
  let broken: string | undefined;
  const step = async (name: string, fn: () => Promise<void>): Promise<void> => {
    await t.test(name, async () => {
      if (broken) throw new Error(`not run: the earlier step "${broken}" failed`);
      try {
        await fn();
      } catch (err) {
        broken = name;
        throw err;
      }
    });
  };
  return Object.assign(step, { broken: () => broken });
}
