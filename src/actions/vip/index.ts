import { existsSync } from 'node:fs';
import { errorOf } from '../../errors.ts';
import { Failure, failure } from '../../failures.ts';
import type { Launcher } from '../../launch.ts';
import { canonicalIp } from '../../values.ts';
import { type ActionPlan, type ActionPlugin, failingStep, type HostView, type Step } from '../plugin.ts';
import { findVip, type HeldAddress, type Vip } from './address.ts';
import {
  type Arping,
  addArgv,
  delArgv,
  describeArp,
  detectArping,
  garpShots,
  naShots,
  PACKAGES,
  privilegedCommandLines,
  probeArgv,
  requireIp,
  resolveInterface,
  type Shot,
  vipOf,
} from './commands.ts';
import { arpBurstsMs, type VipAction, vipSchema } from './schema.ts';
import { burstStep, DUPLICATE_WAIT_MS, duplicateCheckStep } from './steps.ts';

export { type VipAction, vipSchema } from './schema.ts';

const IP_TIMEOUT_MS = 5000;

/** The host, read-only, as the planner sees it; the notify command's re-announce has no failover event. */
type VipHost = Pick<HostView, 'read' | 'which' | 'readFile' | 'logger' | 'capabilities'>;

async function readHeld(ctx: VipHost, ip: string, vip: Vip): Promise<HeldAddress[]> {
  const r = await ctx.read([ip, '-j', vip.family === 4 ? '-4' : '-6', 'addr', 'show'], { timeoutMs: 3000 });
  if (r.exitCode !== 0)
    throw errorOf(
      failure('ip-read-failed', {
        what: 'ip addr show',
        detail: r.stderr.trim() || r.spawnError || `exit ${r.exitCode}`,
      }).within('vip'),
    );
  try {
    return findVip(r.stdout, vip);
  } catch (err) {
    throw errorOf(
      failure('ip-output-unparsable', { what: 'ip -j addr', detail: (err as Error).message }).within('vip'),
    );
  }
}

/**
 * How the action's commands start: `sudo -n` (exact sudoers lines) or as we are. A process that
 * holds CAP_NET_ADMIN and CAP_NET_RAW (and hands them on) needs no sudo for ip, arping or ndptool,
 * whatever `privilege` says: under systemd's NoNewPrivileges sudo could not even start.
 */
function launcherFor(a: VipAction, host: VipHost): Launcher {
  const privileged = a.privilege === 'sudo' && !(host.capabilities?.netAdmin && host.capabilities.netRaw);
  return { privileged, sudo: privileged ? host.which('sudo') : undefined };
}

/** Neighbour updates after the VIP is (or already was) here: a retry must still fix stale neighbour caches. */
async function neighbourSteps(
  a: VipAction,
  vip: Vip,
  dev: string,
  ctx: VipHost,
  launcher: Launcher,
  arpingLookup: Promise<Arping | Failure> | undefined,
): Promise<{ steps: Step[]; arping?: Arping; missing?: Failure }> {
  const what = vip.family === 4 ? 'gratuitous ARP (requests and replies)' : 'unsolicited neighbour advertisements';
  let shots: Shot[];
  let arping: Arping | undefined;
  if (vip.family === 4) {
    const found = await (arpingLookup ?? detectArping(ctx));
    // The address stays: without the ARP the VIP still works once neighbour caches expire, and the run exits 1.
    if (found instanceof Failure)
      return { steps: [failingStep(`send ${what} for ${vip.ip} on ${dev}`, found)], missing: found };
    arping = found;
    shots = garpShots(found, vip, dev, a.arp);
  } else {
    const ndptool = ctx.which('ndptool');
    if (!ndptool)
      return {
        steps: [
          failingStep(
            `send ${what} for ${vip.ip} on ${dev}`,
            failure('program-missing', { program: 'ndptool', install: PACKAGES.ndptool }),
          ),
        ],
      };
    shots = naShots(ndptool, vip, dev, a.arp);
  }
  // Dry-run shows only descriptions for tasks: name the exact command lines here.
  const lines = [...new Set(shots.map((s) => `${launcher.privileged ? 'sudo -n ' : ''}${s.argv.join(' ')}`))];
  const address = canonicalIp(vip.ip);
  const steps: Step[] = [
    burstStep(
      `send ${what} for ${vip.ip} on ${dev}: ${a.arp.count} of each, ${a.arp.interval} ms apart ($ ${lines.join(' ; $ ')})`,
      address,
      shots,
      launcher,
    ),
  ];
  if (a.arp.repeatAfter > 0)
    steps.push(
      burstStep(`send them again for ${vip.ip} on ${dev} (second burst)`, address, shots, launcher, a.arp.repeatAfter),
    );
  return { steps, ...(arping ? { arping } : {}) };
}

/**
 * With arp_announce 0 (Linux's default) the kernel may send its ARP requests from the VIP. On an old
 * master that was cut off and comes back still holding it, one such request (a TCP retransmission to a
 * client, within a second of the link returning) points that client back at the old master, which
 * drops the address a moment later: the client is stuck on a dead MAC until its cache expires
 * (seen in the lab: 20 s and more). 2 makes the kernel use the interface's own address instead.
 */
function arpAnnounceWarning(ctx: VipHost, vip: Vip, dev: string): string | undefined {
  if (vip.family !== 4) return undefined;
  const read = (scope: string): number | undefined => {
    const text = ctx.readFile(`/proc/sys/net/ipv4/conf/${scope}/arp_announce`)?.toString().trim();
    return text && /^\d+$/.test(text) ? Number(text) : undefined;
  };
  const all = read('all');
  const own = read(dev);
  if (all === undefined && own === undefined) return undefined;
  // The kernel uses the larger of the two.
  const effective = Math.max(all ?? 0, own ?? 0);
  if (effective >= 2) return undefined;
  return (
    `arp_announce is ${effective} on ${dev}: should this host be cut off while it holds ${vip.ip} and come back, its ARP requests ` +
    `sent from ${vip.ip} can steer clients back to it after the hook removed it; set net.ipv4.conf.all.arp_announce = 2 ` +
    `(e.g. in /etc/sysctl.d/) on every host that may hold the VIP`
  );
}

/** Where this host holds the VIP now (every interface, any prefix). */
export interface VipObservation {
  held: HeldAddress[];
}

export const vipAction: ActionPlugin<VipAction, VipObservation> = {
  type: 'vip',
  get schema() {
    return vipSchema();
  },
  convergent: true,
  runsWithSudo: (a) => a.privilege === 'sudo',
  release: { after: (a) => a.release?.noQuorumFor, what: 'the VIP' },
  // The address alone, canonical: the same IP under another prefix or interface is still one address to hold.
  claims: (a) => [`VIP ${vipOf(a).ip}`],
  async observe(a, host, scope) {
    const vip = vipOf(a);
    // On the host that should hold it, os.networkInterfaces() (no process) says whether the VIP is
    // here at all, and ip's details (interface, prefix, dadfailed) are needed only when it is: one
    // process less before the add. Elsewhere always ask ip: getifaddrs leaves out interfaces without
    // carrier, and a VIP left there would come back on two hosts with the link.
    if (scope.desired?.holder === 'this-host' && !host.localAddresses.has(canonicalIp(vip.ip))) return { held: [] };
    return { held: await readHeld(host, requireIp(host), vip) };
  },
  describe: (a, o) =>
    o.held.length
      ? o.held.map(
          (h) => `${vipOf(a).ip}/${h.prefixlen} on ${h.dev}${h.dadfailed ? ' (dadfailed: another host holds it)' : ''}`,
        )
      : [`${vipOf(a).cidr} is not on this host`],
  async privilegedCommands(a, host) {
    if (a.privilege !== 'sudo') return { lines: [] };
    const got = await privilegedCommandLines(a, host);
    return {
      lines: got.lines,
      ...(got.detectedInterface ? { detected: [`${a.address} -> ${got.detectedInterface}`] } : {}),
    };
  },
  async sandbox(a, host, where) {
    const vip = vipOf(a);
    const ip = host.which('ip');
    if (!ip) throw errorOf(failure('setup-program-missing', { program: 'ip', install: PACKAGES.ip }).within(where));
    const announcer = vip.family === 4 ? host.which('arping') : host.which('ndptool');
    if (!announcer) {
      const program = vip.family === 4 ? 'arping' : 'ndptool';
      throw errorOf(failure('setup-program-missing', { program, install: PACKAGES[program] }).within(where));
    }
    return {
      programs: [ip, announcer],
      // ip changes addresses over netlink; arping and ndptool send raw frames.
      addressFamilies: ['AF_NETLINK', 'AF_PACKET'],
      // Handed on as ambient capabilities, ip and arping run as we are: no sudo, whatever `privilege` says (launcherFor).
      capabilities: ['CAP_NET_ADMIN', 'CAP_NET_RAW'],
      // iputils' arping drops its capabilities and uid at start (strace: capset, setuid), both in ~@privileged.
      systemCalls: ['capset', 'setuid'],
      writablePaths: [],
      needsSudo: false,
    };
  },
  reannounce: { wanted: (a) => a.reannounce, plan: (a, host) => planReannounce(a, host) },
  // A second ARP burst that cannot end before the deadline fails every run, and every retry;
  // checkDuplicate may probe for a while before the add.
  budget: (a) => ({
    ms: arpBurstsMs(a.arp) + (a.checkDuplicate ? DUPLICATE_WAIT_MS : 0),
    what: 'the ARP bursts',
    field: 'arp',
    lower: 'count, interval or repeatAfter',
  }),
  summarize: (a) =>
    `${a.address} on the new master (removed elsewhere), on ${a.interface ?? 'the interface whose route covers it'}${a.label ? ` as ${a.label}` : ''}` +
    // The route is the process's, not the config's (launcherFor): the watch unit's capabilities, else sudo.
    `${a.privilege === 'sudo' ? ' with CAP_NET_ADMIN and CAP_NET_RAW where the process holds them (the watch unit), else with sudo -n' : ''}; neighbour updates ${describeArp(a.arp)}${a.checkDuplicate ? '; refuses while another host answers for it' : ''}`,
  async doctor(a, host) {
    const vip = vipOf(a);
    return (await import('./doctor.ts')).vipChecks(a, host, (dev) => arpAnnounceWarning(host, vip, dev));
  },
  async preflight(a) {
    // sysfs lists every interface of this network namespace, up or down (getifaddrs leaves out some).
    if (a.interface && !existsSync(`/sys/class/net/${a.interface}`)) {
      return [
        `interface ${a.interface} does not exist on this host, so the add would fail (see ip link; leave "interface" out to use the one whose route covers the VIP)`,
      ];
    }
    return [];
  },
  async plan(a, desired, observed, ctx) {
    const vip = vipOf(a);
    const ip = requireIp(ctx);
    const launcher = launcherFor(a, ctx);
    const command = (description: string, argv: string[]): Step => ({
      kind: 'command',
      description,
      argv,
      privileged: launcher.privileged,
      timeoutMs: IP_TIMEOUT_MS,
    });
    const newMaster = desired.holder === 'this-host';
    // On the new master, find out which arping this is (usually from its bytes; when it must be
    // asked with -V, that runs alongside the rest of planning).
    const arpingLookup = newMaster && vip.family === 4 ? detectArping(ctx) : undefined;
    const held = observed.held;

    if (!newMaster) {
      if (held.length === 0)
        return {
          action: 'vip',
          note: `${vip.cidr} is not on this host, which ${desired.holder === 'nobody' ? 'lets it go' : 'is not the new master'}: nothing to do`,
          steps: [],
        };
      // Removed wherever it is, whatever `interface` says: a VIP left on the old master is the worst outcome.
      // Under sudo, though, the rules allow `addr del` on the VIP's interface only (see sudoers): on another
      // one sudo would refuse on every retry, so say so and what to run instead.
      const allowed = launcher.privileged
        ? (a.interface ??
          (await resolveInterface(a, vip, ip, ctx).then(
            (r) => r.dev,
            () => undefined,
          )))
        : undefined;
      const steps = held.map((h) =>
        h.prefixlen !== vip.prefix
          ? failingStep(
              `remove ${vip.ip} from ${h.dev}`,
              `${vip.ip} is on ${h.dev} as /${h.prefixlen}, the config says /${vip.prefix}; remove it by hand (ip addr del ${vip.ip}/${h.prefixlen} dev ${h.dev}) or fix "address"`,
            )
          : allowed !== undefined && h.dev !== allowed
            ? failingStep(
                `remove ${vip.cidr} from ${h.dev}`,
                `${vip.ip} is on ${h.dev}, but the sudoers rules for this VIP cover ${allowed} only; remove it by hand (ip addr del ${vip.cidr} dev ${h.dev}), or set "interface" to ${h.dev} and regenerate them`,
              )
            : command(
                `remove ${vip.cidr} from ${h.dev} (${desired.holder === 'nobody' ? 'no majority of the Sentinels reachable: released' : 'this host is not the new master'})`,
                delArgv(ip, vip, h.dev),
              ),
      );
      return { action: 'vip', steps };
    }

    const elsewhere = held.filter((h) => a.interface && h.dev !== a.interface);
    if (elsewhere.length) {
      const h = elsewhere[0]!;
      return {
        action: 'vip',
        steps: [
          failingStep(
            `add ${vip.cidr} on ${a.interface}`,
            `${vip.ip} is already on ${h.dev}, the config says ${a.interface}; remove it by hand (ip addr del ${vip.ip}/${h.prefixlen} dev ${h.dev}) or fix "interface"`,
          ),
        ],
      };
    }
    const here = held[0];
    const dev = here?.dev ?? (await resolveInterface(a, vip, ip, ctx)).dev;
    const steps: Step[] = [];
    let note: string | undefined;
    if (here && here.prefixlen !== vip.prefix) {
      return {
        action: 'vip',
        steps: [
          failingStep(
            `add ${vip.cidr} on ${dev}`,
            `${vip.ip} is on ${dev} as /${here.prefixlen}, the config says /${vip.prefix}; remove it by hand (ip addr del ${vip.ip}/${here.prefixlen} dev ${dev}) or fix "address"`,
          ),
        ],
      };
    }
    if (here?.dadfailed) {
      return {
        action: 'vip',
        steps: [
          failingStep(
            `add ${vip.cidr} on ${dev}`,
            `${vip.ip} is on ${dev} but the kernel marked it "dadfailed": another host holds it; the old master must let go (then: ip addr del ${vip.cidr} dev ${dev}, and a retry adds it)`,
          ),
        ],
      };
    }
    // A reconcile finding the VIP where it belongs changes nothing: announcing it again is a refresh
    // the operator asks for (--announce), not a side effect of every check.
    if (here && !ctx.announce)
      return {
        action: 'vip',
        note: `${vip.cidr} already on ${dev}, where it belongs: nothing to do (reconcile --announce sends the neighbour updates again)`,
        steps: [],
      };
    if (here) note = `${vip.cidr} already on ${dev}: not added again; neighbour updates still sent`;
    const neighbours = await neighbourSteps(a, vip, dev, ctx, launcher, arpingLookup);
    if (!here) {
      if (a.checkDuplicate) {
        // Without arping the check cannot run, and adding unchecked is what checkDuplicate asked us not to do.
        if (!neighbours.arping)
          return {
            action: 'vip',
            steps: [
              failingStep(
                `check that no other host holds ${vip.ip}`,
                (
                  neighbours.missing ?? failure('program-missing', { program: 'arping', install: PACKAGES.arping })
                ).within('checkDuplicate needs arping'),
              ),
            ],
          };
        steps.push(duplicateCheckStep(vip, dev, neighbours.arping, probeArgv(neighbours.arping, vip, dev), launcher));
      }
      steps.push(
        command(
          `add ${vip.cidr} on ${dev}${a.label ? ` as ${a.label}` : ''} (this host is the new master)`,
          addArgv(ip, vip, dev, a.label),
        ),
      );
    }
    steps.push(...neighbours.steps);
    const warning = arpAnnounceWarning(ctx, vip, dev);
    return { action: 'vip', ...(note ? { note } : {}), ...(warning ? { warnings: [warning] } : {}), steps };
  },
};

/**
 * The ARP bursts again, nothing added or removed: for `sentinel-hook notify` when an instance of the
 * master is reachable again and the Sentinels name this host master (the caller checks that). An old
 * master back from a cut-off may have pointed neighbours at itself before its own hook removed the
 * VIP; keepalived answers a reappearing lower-priority router the same way.
 */
async function planReannounce(a: VipAction, host: VipHost): Promise<ActionPlan> {
  const vip = vipOf(a);
  const ip = requireIp(host);
  const here = (await readHeld(host, ip, vip)).find(
    (h) => h.prefixlen === vip.prefix && !h.dadfailed && (!a.interface || h.dev === a.interface),
  );
  if (!here) return { action: 'vip', note: `${vip.cidr} is not on this host: nothing to announce`, steps: [] };
  const launcher = launcherFor(a, host);
  const { steps } = await neighbourSteps(a, vip, here.dev, host, launcher, undefined);
  return { action: 'vip', note: `${vip.cidr} is on ${here.dev}: announcing it again`, steps };
}
