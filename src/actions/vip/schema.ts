import * as z from 'zod/mini';
import { about, duration, lazySchema, privilege, when } from '../../config/common.ts';
import { Failure } from '../../failures.ts';
import { isInterfaceName } from '../../values.ts';
import { parseVip } from './address.ts';

/** Longest time the two ARP bursts and the pause between them may take: well inside the run's deadline. */
export const ARP_BUDGET_MS = 30_000;

const interfaceName = lazySchema(() =>
  z
    .string()
    .check(
      z.refine(
        isInterfaceName,
        'expected an interface name such as eth0 (up to 15 letters, digits, _ . @ -; not starting with -)',
      ),
    ),
);

const arpObject = lazySchema(() =>
  z.strictObject({
    count: about(
      'gratuitous ARPs (IPv6: unsolicited Neighbor Advertisements) per burst, of each kind',
      z._default(z.int().check(z.gte(1, 'expected at least 1'), z.lte(20, 'expected at most 20')), 5),
    ),
    interval: about('between two packets of a burst', z._default(duration({ min: 10, max: 2000 }), 200)),
    repeatAfter: about(
      'the second burst this long after the first (0: none): one lost burst would leave neighbours on the old MAC',
      z._default(duration({ min: 0, max: 20_000 }), 5000),
    ),
  }),
);
export type ArpSettings = z.output<ReturnType<typeof arpObject>>;

/** Both bursts and the pause between them: what the ARPs take of a run, from the first packet to the last. */
export function arpBurstsMs(arp: ArpSettings): number {
  return 2 * (arp.count - 1) * arp.interval + arp.repeatAfter;
}

export const vipSchema = lazySchema(() =>
  z
    .strictObject({
      type: z.literal('vip'),
      address: about(
        'the virtual IP with its prefix length: 10.0.0.100/24 or fd00::100/64',
        z
          .string({
            error: (issue) =>
              issue.input === undefined
                ? 'required: the VIP with its prefix length, e.g. 10.0.0.100/24'
                : 'expected a string such as 10.0.0.100/24',
          })
          .check(
            z.superRefine((text, ctx) => {
              const parsed = parseVip(text);
              if (parsed instanceof Failure) ctx.issues.push({ code: 'custom', input: text, message: parsed.message });
            }),
          ),
      ),
      interface: about(
        'the interface to add it to; default: the interface whose route covers the address, on each host',
        z.optional(interfaceName()),
      ),
      label: about(
        'IPv4 only: the label `ip addr` shows (and ifconfig-era tools need), "<interface>:<suffix>"',
        z.optional(
          z
            .string()
            .check(
              z.regex(
                /^[A-Za-z0-9_.@][A-Za-z0-9_.@-]{0,13}:[A-Za-z0-9_.@-]{1,14}$/,
                'expected "<interface>:<suffix>" such as eth0:vip',
              ),
              z.maxLength(15, 'expected at most 15 characters (the kernel limit)'),
            ),
        ),
      ),
      privilege: about(
        'sudo: "sudo -n" with exact argv (see `sentinel-hook sudoers`), unless the process holds CAP_NET_ADMIN and ' +
          'CAP_NET_RAW; none: run ip and arping as is (root, or those capabilities)',
        z._default(z.enum(privilege().options, { error: 'expected "sudo" or "none"' }), 'sudo'),
      ),
      arp: about(
        'the gratuitous ARP bursts after adding the address',
        z._default(arpObject(), { count: 5, interval: 200, repeatAfter: 5000 }),
      ),
      checkDuplicate: about(
        'IPv4 only: before adding, refuse while another host answers ARP for the address (up to 2 s of probing)',
        z._default(z.boolean({ error: 'expected true or false' }), false),
      ),
      reannounce: about(
        'on "-sdown" (the old master reachable again), `sentinel-hook notify` on the host a majority of `sentinels` ' +
          'name master sends the ARP bursts again if it holds the VIP; needs the notification-script and `sentinels`',
        z._default(z.boolean({ error: 'expected true or false' }), true),
      ),
      release: about(
        '`sentinel-hook watch` only, opt-in: let the VIP go when no majority of `sentinels` answers for a while ' +
          '(an isolated old master must not keep taking writes); default: keep it',
        z.optional(
          z.strictObject({
            noQuorumFor: about(
              'how long without an answer from a majority before the VIP goes',
              duration({ min: 1000, max: 3_600_000 }),
            ),
          }),
        ),
      ),
      when: when(),
    })
    .check(
      z.superRefine((a, ctx) => {
        const vip = parseVip(a.address);
        if (vip instanceof Failure) return;
        if (a.label && vip.family === 6)
          ctx.issues.push({
            code: 'custom',
            input: a.label,
            path: ['label'],
            message: 'labels exist only for IPv4 addresses; remove "label"',
          });
        if (a.label && a.interface && !a.label.startsWith(`${a.interface}:`)) {
          ctx.issues.push({
            code: 'custom',
            input: a.label,
            path: ['label'],
            message: `a label must start with the interface name: "${a.interface}:…"`,
          });
        }
        if (a.checkDuplicate && vip.family === 6) {
          ctx.issues.push({
            code: 'custom',
            input: a.checkDuplicate,
            path: ['checkDuplicate'],
            message:
              'IPv4 only (arping); for IPv6 the kernel does duplicate address detection itself: remove checkDuplicate',
          });
        }
        const total = arpBurstsMs(a.arp);
        if (total > ARP_BUDGET_MS) {
          ctx.issues.push({
            code: 'custom',
            input: a.arp,
            path: ['arp'],
            message: `the two bursts and the pause take ${total} ms, more than ${ARP_BUDGET_MS} ms of the run's deadline; lower count, interval or repeatAfter`,
          });
        }
      }),
    ),
);
export type VipAction = z.output<ReturnType<typeof vipSchema>>;
