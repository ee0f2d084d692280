// Real `ip -j` output shapes (iproute2 6.1, captured in a network namespace), with addresses swapped in.

export function addrJson(
  links: {
    ifname: string;
    addrs: { family: 'inet' | 'inet6'; local: string; prefixlen: number; extra?: Record<string, unknown> }[];
  }[],
): string {
  return JSON.stringify([
    {
      ifindex: 1,
      ifname: 'lo',
      flags: ['LOOPBACK', 'UP', 'LOWER_UP'],
      mtu: 65536,
      qdisc: 'noqueue',
      operstate: 'UNKNOWN',
      group: 'default',
      txqlen: 1000,
      link_type: 'loopback',
      address: '00:00:00:00:00:00',
      broadcast: '00:00:00:00:00:00',
      addr_info: [
        {
          family: 'inet',
          local: '127.0.0.1',
          prefixlen: 8,
          scope: 'host',
          label: 'lo',
          valid_life_time: 4294967295,
          preferred_life_time: 4294967295,
        },
        {
          family: 'inet6',
          local: '::1',
          prefixlen: 128,
          scope: 'host',
          valid_life_time: 4294967295,
          preferred_life_time: 4294967295,
        },
      ],
    },
    ...links.map((l, i) => ({
      ifindex: i + 2,
      link_index: i + 2,
      ifname: l.ifname,
      flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
      mtu: 1500,
      qdisc: 'noqueue',
      operstate: 'UP',
      group: 'default',
      txqlen: 1000,
      link_type: 'ether',
      address: '1e:4f:23:23:6b:e1',
      broadcast: 'ff:ff:ff:ff:ff:ff',
      link_netnsid: 0,
      addr_info: l.addrs.map((a) => ({
        family: a.family,
        local: a.local,
        prefixlen: a.prefixlen,
        scope: 'global',
        ...(a.family === 'inet' ? { label: l.ifname } : {}),
        valid_life_time: 4294967295,
        preferred_life_time: 4294967295,
        ...a.extra,
      })),
    })),
  ]);
}

/** `ip -j -4 route show` on a host with a default route, its LAN and a more specific route. */
export const ROUTES_V4 = JSON.stringify([
  { dst: 'default', gateway: '192.168.0.254', dev: 'eth1', flags: [] },
  { dst: '192.168.0.0/16', dev: 'eth1', protocol: 'kernel', scope: 'link', prefsrc: '192.168.9.1', flags: [] },
  { dst: '192.168.0.0/24', dev: 'eth0', protocol: 'kernel', scope: 'link', prefsrc: '192.168.0.1', flags: [] },
  { type: 'blackhole', dst: '192.168.0.4', flags: [] },
  { dst: '10.9.0.0/24', dev: 'eth2', protocol: 'kernel', scope: 'link', prefsrc: '10.9.0.1', flags: [] },
]);

export const ROUTES_V6 = JSON.stringify([
  { dst: 'fd00:77::/64', dev: 'eth0', protocol: 'kernel', metric: 256, flags: [], pref: 'medium' },
  { dst: 'fe80::/64', dev: 'eth0', protocol: 'kernel', metric: 256, flags: [], pref: 'medium' },
  { dst: 'default', gateway: 'fd00:77::fe', dev: 'eth0', metric: 1024, flags: [], pref: 'medium' },
]);

export const IPUTILS_V =
  'arping from iputils 20221126\nlibcap: yes, IDN: yes, NLS: no, error.h: yes, getrandom(): yes, __fpending(): yes';
export const HABETS_V =
  "arping: option requires an argument -- 'V'\nARPing 2.23, by Thomas Habets <thomas@habets.se>\nusage: arping [ -0aAbBdDeFhpqrRuUv ] [ -w <sec> ] [ -W <sec> ] [ -S <host/ip> ]";

export const IPUTILS_DAD_HELD =
  'ARPING 192.168.0.4 from 0.0.0.0 eth0\nUnicast reply from 192.168.0.4 [0E:64:68:84:B2:1D]  0.569ms\nSent 1 probes (1 broadcast(s))\nReceived 1 response(s)';
export const IPUTILS_DAD_FREE =
  'ARPING 192.168.0.4 from 0.0.0.0 eth0\nSent 1 probes (1 broadcast(s))\nReceived 0 response(s)';
export const HABETS_HELD =
  'ARPING 192.168.0.4\n60 bytes from 0e:64:68:84:b2:1d (192.168.0.4): index=0 time=13.910 msec\n\n--- 192.168.0.4 statistics ---\n1 packets transmitted, 1 packets received,   0% unanswered';
