// The users' own VIP script from seed 000 as every Sentinel's client-reconfig-script: the baseline
// that the failover benchmarks compare sentinel-hook against.
import { join } from 'node:path';
import { DEFAULT_VIP, type LabHook, REPO_ROOT } from './lab.ts';

export const SEED_SCRIPT = join(REPO_ROOT, 'bench', 'seed000-failover.sh');
const VIP_IP = DEFAULT_VIP.split('/')[0]!;

export function seedScriptHook(): LabHook {
  const lines = [
    `/usr/sbin/ip addr add ${DEFAULT_VIP} dev eth0`,
    `/usr/sbin/ip addr del ${DEFAULT_VIP} dev eth0`,
    `/usr/bin/arping -q -c 3 -A ${VIP_IP} -I eth0`,
  ];
  return {
    kind: 'script',
    path: SEED_SCRIPT,
    env: (host) => ({
      SEED_MY_IP: host.ip,
      SEED_VIP: VIP_IP,
      SEED_NETMASK: '24',
      SEED_INTERFACE: 'eth0',
      SEED_LOG: host.files.scriptLog,
    }),
    // Seed 000 grants all of /sbin/ip and /sbin/arping (that is root for the redis user); the lab pins the
    // exact lines the script runs instead. The cost of sudo is the same either way.
    sudoers: ['Defaults:redis !requiretty', `redis ALL=(root) NOPASSWD: ${lines.join(', ')}`, ''].join('\n'),
  };
}
