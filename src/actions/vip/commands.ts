// The one place that builds the vip action's command lines. The planner runs them and
// `sentinel-hook sudoers` lists them; both call these functions, so the two cannot drift.

import { errorOf, hookError } from '../../errors.ts';
import { Failure, failure } from '../../failures.ts';
import type { CommandResult } from '../../runner.ts';
import { formatDuration } from '../../values.ts';
import type { HostReader } from '../plugin.ts';
import { parseVip, routeInterface, type Vip } from './address.ts';
import type { ArpSettings, VipAction } from './schema.ts';

/**
 * Which arping a binary is, from its own bytes: iputils' carries its name for -V, Habets' his in
 * its usage text. No process to start on the failover path; undefined when neither is found.
 */
export function arpingKindOf(binary: Buffer | undefined): ArpingKind | undefined {
  if (!binary) return undefined;
  if (binary.includes('iputils')) return 'iputils';
  if (binary.includes('Habets')) return 'habets';
  return undefined;
}

/** iputils' arping and Thomas Habets' take different flags; Debian ships them as conflicting packages. */
export type ArpingKind = 'iputils' | 'habets';
export interface Arping {
  path: string;
  kind: ArpingKind;
}

export const PACKAGES = { ip: 'iproute2', arping: 'iputils-arping', ndptool: 'libndp-tools', sudo: 'sudo' } as const;

/** One packet-sending process of a burst, started atMs after the burst begins. */
export interface Shot {
  argv: string[];
  atMs: number;
  timeoutMs: number;
  okExitCodes: number[];
}

export function vipOf(a: VipAction): Vip {
  const vip = parseVip(a.address);
  if (vip instanceof Failure) throw errorOf(vip.within(`vip: address ${a.address}`));
  return vip;
}

export function addArgv(ip: string, vip: Vip, dev: string, label: string | undefined): string[] {
  // nodad: an IPv6 address is otherwise "tentative" for 1-2 s and Redis clients cannot reach it meanwhile.
  return [
    ip,
    'addr',
    'add',
    vip.cidr,
    'dev',
    dev,
    ...(label ? ['label', label] : []),
    ...(vip.family === 6 ? ['nodad'] : []),
  ];
}

export function delArgv(ip: string, vip: Vip, dev: string): string[] {
  return [ip, 'addr', 'del', vip.cidr, 'dev', dev];
}

function seconds(ms: number): string {
  return String(ms / 1000);
}

/**
 * One burst of gratuitous ARP, both as request and as reply (some hosts accept only one kind).
 * iputils' arping takes whole seconds for -i and waits a second after its last packet, so each
 * packet is its own `-c 1` process, started `interval` apart; Habets' arping paces packets itself (-W).
 */
export function garpShots(arping: Arping, vip: Vip, dev: string, arp: ArpSettings): Shot[] {
  if (arping.kind === 'iputils') {
    const shots: Shot[] = [];
    for (let k = 0; k < arp.count; k++) {
      for (const mode of ['-U', '-A']) {
        shots.push({
          argv: [arping.path, '-q', mode, '-c', '1', '-I', dev, vip.ip],
          atMs: k * arp.interval,
          timeoutMs: 3000,
          okExitCodes: [0],
        });
      }
    }
    return shots;
  }
  const timeoutMs = arp.count * arp.interval + 3000;
  // Habets' arping exits 1 when nobody replied, which is what a gratuitous ARP expects.
  const common = ['-c', String(arp.count), '-W', seconds(arp.interval), '-i', dev, '-S', vip.ip, vip.ip];
  return [
    { argv: [arping.path, '-q', '-U', ...common], atMs: 0, timeoutMs, okExitCodes: [0, 1] },
    { argv: [arping.path, '-q', '-U', '-P', ...common], atMs: 0, timeoutMs, okExitCodes: [0, 1] },
  ];
}

/** Unsolicited Neighbor Advertisement with the Override flag, to all nodes: IPv6's gratuitous ARP. */
export function naArgv(ndptool: string, vip: Vip, dev: string): string[] {
  return [ndptool, '-t', 'na', '-U', '-i', dev, '-T', vip.ip, 'send'];
}

export function naShots(ndptool: string, vip: Vip, dev: string, arp: ArpSettings): Shot[] {
  return Array.from({ length: arp.count }, (_, k) => ({
    argv: naArgv(ndptool, vip, dev),
    atMs: k * arp.interval,
    timeoutMs: 3000,
    okExitCodes: [0],
  }));
}

/**
 * Duplicate-address probe from 0.0.0.0: whoever holds the address answers with its MAC.
 * iputils -D exits 1 when answered; Habets' arping exits 0 when answered (its -d means something else).
 */
export function probeArgv(arping: Arping, vip: Vip, dev: string): string[] {
  return arping.kind === 'iputils'
    ? [arping.path, '-D', '-c', '1', '-w', '1', '-I', dev, vip.ip]
    : [arping.path, '-0', '-c', '1', '-W', '1', '-i', dev, vip.ip];
}

/** Which arping is installed: from its bytes, else asked at run time (`-V`: iputils prints its name, Habets' prints its usage). */
export async function detectArping(host: HostReader): Promise<Arping | Failure> {
  const path = host.which('arping');
  if (!path) return failure('program-missing', { program: 'arping', install: PACKAGES.arping });
  const kind = arpingKindOf(host.readFile?.(path));
  if (kind) return { path, kind };
  let r: CommandResult;
  try {
    r = await host.read([path, '-V'], { timeoutMs: 2000 });
  } catch (err) {
    // Never rejects: the planner starts this early and may not wait for it.
    return failure('arping-unrunnable', { path, detail: (err as Error).message });
  }
  const said = `${r.stdout}\n${r.stderr}`;
  if (/iputils/i.test(said)) return { path, kind: 'iputils' };
  if (/Habets|ARPing \d/.test(said)) return { path, kind: 'habets' };
  return failure('arping-unknown', { path, said: said.trim().split('\n')[0] ?? '', install: PACKAGES.arping });
}

export function requireIp(host: HostReader): string {
  const ip = host.which('ip');
  if (!ip) throw errorOf(failure('program-missing', { program: 'ip', install: PACKAGES.ip }).within('vip'));
  return ip;
}

/** The interface for the VIP: the configured one, else the one whose route covers it on this host. */
export async function resolveInterface(
  a: VipAction,
  vip: Vip,
  ip: string,
  host: HostReader,
): Promise<{ dev: string; detected: boolean }> {
  if (a.interface) return { dev: a.interface, detected: false };
  const r = await host.read([ip, '-j', vip.family === 4 ? '-4' : '-6', 'route', 'show'], { timeoutMs: 3000 });
  if (r.exitCode !== 0)
    throw errorOf(
      failure('ip-read-failed', { what: 'ip route show', detail: r.stderr.trim() || `exit ${r.exitCode}` }).within(
        'vip',
      ),
    );
  let dev: string | undefined;
  try {
    dev = routeInterface(r.stdout, vip);
  } catch (err) {
    throw errorOf(
      failure('ip-output-unparsable', { what: 'ip -j route', detail: (err as Error).message }).within('vip'),
    );
  }
  // Exit 1, not 2: an interface that is down for a moment takes its connected route with it.
  if (!dev) throw errorOf(failure('vip-no-route', { cidr: vip.cidr }).within('vip'));
  if (a.label && !a.label.startsWith(`${dev}:`))
    throw hookError('vip-label-mismatch', { label: a.label, dev, cidr: vip.cidr });
  return { dev, detected: true };
}

/**
 * Every command line the action can run with privilege on this host: what a sudoers rule must allow.
 * Missing tools are errors here: a rule for a program that is not there would fail at the worst time.
 */
export async function privilegedCommandLines(
  a: VipAction,
  host: HostReader,
): Promise<{ lines: string[][]; detectedInterface: string | undefined }> {
  const vip = vipOf(a);
  const ip = requireIp(host);
  const { dev, detected } = await resolveInterface(a, vip, ip, host);
  const lines = [addArgv(ip, vip, dev, a.label), delArgv(ip, vip, dev)];
  if (vip.family === 4) {
    const arping = await detectArping(host);
    if (arping instanceof Failure) throw errorOf(arping.within(`vip ${vip.cidr}`));
    lines.push(...garpShots(arping, vip, dev, a.arp).map((s) => s.argv));
    if (a.checkDuplicate) lines.push(probeArgv(arping, vip, dev));
  } else {
    const ndptool = host.which('ndptool');
    if (!ndptool)
      throw errorOf(
        failure('program-missing', { program: 'ndptool', install: PACKAGES.ndptool }).within(`vip ${vip.cidr}`),
      );
    lines.push(naArgv(ndptool, vip, dev));
  }
  const unique = [...new Map(lines.map((l) => [JSON.stringify(l), l])).values()];
  return { lines: unique, detectedInterface: detected ? dev : undefined };
}

export function describeArp(arp: ArpSettings): string {
  return `${arp.count}×${formatDuration(arp.interval)}${arp.repeatAfter ? `, again after ${formatDuration(arp.repeatAfter)}` : ''}`;
}
