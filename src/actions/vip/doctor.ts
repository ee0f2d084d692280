// doctor's checks of a vip entry, read-only: what the next add and the neighbour updates need on this
// host, and whether another host answers for the address (one arping -D probe: it sends from 0.0.0.0,
// so it claims nothing).
import { Failure } from '../../failures.ts';
import { canonicalIp } from '../../values.ts';
import type { DoctorCheck, DoctorHost } from '../plugin.ts';
import { routeInterface } from './address.ts';
import { detectArping, PACKAGES, probeArgv, vipOf } from './commands.ts';
import type { VipAction } from './schema.ts';
import { probeVerdict } from './steps.ts';

/**
 * `arpAnnounce`: the warning the planner gives for arp_announce on `dev` (undefined when fine), passed
 * in so that the rule lives in one place.
 */
export async function vipChecks(
  a: VipAction,
  host: DoctorHost,
  arpAnnounce: (dev: string) => string | undefined,
): Promise<DoctorCheck[]> {
  const vip = vipOf(a);
  const name = `vip ${vip.cidr}`;
  const checks: DoctorCheck[] = [];
  const ip = host.which('ip');
  if (!ip)
    return [{ check: `${name}: ip`, result: 'fail', detail: 'ip not found', fix: `apt-get install ${PACKAGES.ip}` }];
  const routes = await host.read([ip, '-j', vip.family === 4 ? '-4' : '-6', 'route', 'show'], { timeoutMs: 3000 });
  let routed: string | undefined;
  try {
    routed = routes.exitCode === 0 ? routeInterface(routes.stdout, vip) : undefined;
  } catch {
    routed = undefined;
  }
  const dev = a.interface ?? routed;
  if (!dev) {
    checks.push({
      check: `${name}: route`,
      result: 'fail',
      detail: `no route of this host covers ${vip.cidr}, so no interface can be chosen for it`,
      fix: `set "interface", or give the interface of ${vip.cidr}'s subnet its address (ip addr)`,
    });
    return checks;
  }
  const operstate = host.readFile(`/sys/class/net/${dev}/operstate`)?.toString().trim();
  if (operstate === undefined)
    checks.push({
      check: `${name}: interface ${dev}`,
      result: 'fail',
      detail: `${dev} does not exist on this host`,
      fix: 'fix "interface" (see ip link), or leave it out to use the one whose route covers the VIP',
    });
  else
    checks.push(
      // "unknown": virtual interfaces (dummy, some tunnels) that do not report a carrier.
      operstate === 'up' || operstate === 'unknown'
        ? { check: `${name}: interface ${dev}`, result: 'pass', detail: `exists, ${operstate}` }
        : {
            check: `${name}: interface ${dev}`,
            result: 'fail',
            detail: `is ${operstate}: the add would succeed and nobody could reach the VIP`,
            fix: `ip link set ${dev} up, and check its cable or switch port`,
          },
    );
  checks.push(
    routed === dev
      ? { check: `${name}: route`, result: 'pass', detail: `a route on ${dev} covers ${vip.ip}` }
      : {
          check: `${name}: route`,
          result: 'fail',
          detail: routed
            ? `the route covering ${vip.ip} is on ${routed}, not on ${dev}`
            : `no route covers ${vip.ip}: neighbours on ${dev} will not find it`,
          fix: `give ${dev} an address in ${vip.ip}'s subnet, or set "interface" to the one that has it`,
        },
  );
  const announce = arpAnnounce(dev);
  checks.push(
    announce
      ? {
          check: `${name}: arp_announce`,
          result: 'warn',
          detail: announce.replace(/; set .*$/, ''),
          fix: 'set net.ipv4.conf.all.arp_announce = 2 (e.g. in /etc/sysctl.d/)',
        }
      : {
          check: `${name}: arp_announce`,
          result: 'pass',
          detail: vip.family === 4 ? 'arp_announce 2 (or more)' : 'IPv6: not used',
        },
  );
  if (vip.family === 6) {
    const ndptool = host.which('ndptool');
    checks.push(
      ndptool
        ? { check: `${name}: ndptool`, result: 'pass', detail: ndptool }
        : {
            check: `${name}: ndptool`,
            result: 'fail',
            detail: 'ndptool not found: no neighbour advertisement after a failover',
            fix: `apt-get install ${PACKAGES.ndptool}`,
          },
    );
    return checks;
  }
  const arping = await detectArping(host);
  if (arping instanceof Failure) {
    checks.push({ check: `${name}: arping`, result: 'fail', detail: arping.message, fix: arping.fix });
    return checks;
  }
  checks.push({ check: `${name}: arping`, result: 'pass', detail: `${arping.path} (${arping.kind} flavour)` });
  checks.push(await secondHolder(a, host, arping, dev));
  return checks;
}

/** One duplicate-address probe: on the holder, any answer is a second holder; elsewhere it is the holder. */
async function secondHolder(
  a: VipAction,
  host: DoctorHost,
  arping: { path: string; kind: 'iputils' | 'habets' },
  dev: string,
): Promise<DoctorCheck> {
  const vip = vipOf(a);
  const check = `vip ${vip.cidr}: second holder`;
  if (!host.root)
    return { check, result: 'skip', detail: 'arping -D needs CAP_NET_RAW', fix: 'run doctor as root to probe' };
  const argv = probeArgv(arping, vip, dev);
  const r = await host.read(argv, { timeoutMs: 4000 });
  const verdict = probeVerdict(arping.kind, argv, r, { privileged: false, sudo: undefined });
  if (verdict.kind === 'error') return { check, result: 'skip', detail: verdict.failure.message };
  const here = host.localAddresses.has(canonicalIp(vip.ip));
  if (verdict.kind === 'free')
    return here
      ? { check, result: 'pass', detail: `held here; no other host answers for ${vip.ip}` }
      : {
          check,
          result: 'warn',
          detail: `no host answers for ${vip.ip} on ${dev}: clients of the master cannot reach it now`,
          fix: 'see "sentinel-hook status" on the master\'s host, and run "sentinel-hook reconcile" there',
        };
  return here
    ? {
        check,
        result: 'fail',
        detail: `held here, and ${verdict.mac} answers for ${vip.ip} too: two holders`,
        fix: 'run "sentinel-hook reconcile" on every host (status shows which one should hold it)',
      }
    : { check, result: 'pass', detail: `${verdict.mac} answers for ${vip.ip} (the master's host, not this one)` };
}
