import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sudoersLine, sudoersText, sudoersWord } from '../../src/commands/sudoers.ts';
import { validateConfig } from '../../src/config/load.ts';
import { configSchema, withStateDir } from '../../src/config/schema.ts';
import { ConfigError, codeOf, errorLine, exitCodeOf, UsageError } from '../../src/errors.ts';
import { parseEvent } from '../../src/event.ts';
import { runHook } from '../../src/pipeline/run.ts';
import type { CommandResult } from '../../src/runner.ts';
import { fakeDeps } from '../support/fakes.ts';
import { addrJson, HABETS_V, IPUTILS_DAD_FREE, IPUTILS_V, ROUTES_V4, ROUTES_V6 } from './vip-samples.ts';

const lockDir = mkdtempSync(join(tmpdir(), 'sh-sudoers-'));
test.after(() => rmSync(lockDir, { recursive: true, force: true }));

const PROGRAMS: Record<string, string> = {
  ip: '/usr/sbin/ip',
  arping: '/usr/bin/arping',
  sudo: '/usr/bin/sudo',
  ndptool: '/usr/bin/ndptool',
  logger: '/usr/bin/logger',
};
const ok = (stdout = ''): CommandResult => ({
  exitCode: 0,
  signal: undefined,
  stdout,
  stderr: '',
  durationMs: 1,
  timedOut: false,
  spawnError: undefined,
});

/** A read-only host: answers only the observations the vip action makes, throws on anything else. */
function host(arpingV = IPUTILS_V, programs = PROGRAMS) {
  const reads: string[][] = [];
  return {
    reads,
    which: (p: string) => (p.startsWith('/') ? p : programs[p]),
    async read(argv: string[]): Promise<CommandResult> {
      reads.push(argv);
      const key = argv.join(' ');
      if (key === '/usr/bin/arping -V') return ok(arpingV);
      if (key === '/usr/sbin/ip -j -4 route show') return ok(ROUTES_V4);
      if (key === '/usr/sbin/ip -j -6 route show') return ok(ROUTES_V6);
      throw new Error(`unexpected read ${key}`);
    },
  };
}

const config = (actions: unknown[]) =>
  validateConfig({ lockDir, masters: { mymaster: actions } }, '/etc/sentinel-hook/config.yaml');
const opts = { user: 'redis', configPath: '/etc/sentinel-hook/config.yaml' };

function rules(text: string): string[] {
  const body = text.split('\n').filter((l) => !l.startsWith('#') && l.trim());
  const joined = body.join('\n').replace(/, \\\n\s+/g, ',, ');
  const rule = joined.split('\n').find((l) => l.startsWith('redis ALL=(root) NOPASSWD: '))!;
  return rule.slice('redis ALL=(root) NOPASSWD: '.length).split(',, ');
}

test('IPv4 VIP with iputils: exactly add, del, and the two arping lines; Defaults !requiretty; nothing else', async () => {
  const text = await sudoersText(
    config([{ type: 'vip', address: '192.168.0.4/24', interface: 'eth0' }]),
    opts,
    host(),
    'redis2',
  );
  const lines = text.split('\n').filter((l) => l && !l.startsWith('#'));
  assert.deepEqual(lines, [
    'Defaults:redis !requiretty',
    'redis ALL=(root) NOPASSWD: /usr/sbin/ip addr add 192.168.0.4/24 dev eth0, \\',
    '    /usr/sbin/ip addr del 192.168.0.4/24 dev eth0, \\',
    '    /usr/bin/arping -q -U -c 1 -I eth0 192.168.0.4, \\',
    '    /usr/bin/arping -q -A -c 1 -I eth0 192.168.0.4',
  ]);
  assert.match(text, /^# sudoers drop-in for sentinel-hook, from \/etc\/sentinel-hook\/config\.yaml on host redis2\./);
  assert.doesNotMatch(text, /detected from this host/, 'the interface was configured');
});

test("Habets' arping, label, duplicate check: their exact lines", async () => {
  const text = await sudoersText(
    config([
      {
        type: 'vip',
        address: '192.168.0.4/24',
        interface: 'eth0',
        label: 'eth0:vip',
        checkDuplicate: true,
        arp: { count: 3, interval: '250ms' },
      },
    ]),
    opts,
    host(HABETS_V),
    'h',
  );
  assert.deepEqual(rules(text), [
    '/usr/sbin/ip addr add 192.168.0.4/24 dev eth0 label eth0\\:vip',
    '/usr/sbin/ip addr del 192.168.0.4/24 dev eth0',
    '/usr/bin/arping -q -U -c 3 -W 0.25 -i eth0 -S 192.168.0.4 192.168.0.4',
    '/usr/bin/arping -q -U -P -c 3 -W 0.25 -i eth0 -S 192.168.0.4 192.168.0.4',
    '/usr/bin/arping -0 -c 1 -W 1 -i eth0 192.168.0.4',
  ]);
});

test('IPv6: colons escaped, nodad on add, the ndptool line; interface detected from routes and said so', async () => {
  const text = await sudoersText(config([{ type: 'vip', address: 'fd00:77::100/64' }]), opts, host(), 'h');
  assert.deepEqual(rules(text), [
    '/usr/sbin/ip addr add fd00\\:77\\:\\:100/64 dev eth0 nodad',
    '/usr/sbin/ip addr del fd00\\:77\\:\\:100/64 dev eth0',
    '/usr/bin/ndptool -t na -U -i eth0 -T fd00\\:77\\:\\:100 send',
  ]);
  assert.match(
    text,
    /# Interfaces detected from this host's routes \(not set in the config\): fd00:77::100\/64 -> eth0\.\n# Another host .* generate this file on each host\./,
  );
});

test('privilege none is left out; exec without placeholders is pinned, with placeholders only noted', async () => {
  const text = await sudoersText(
    config([
      { type: 'vip', address: '192.168.0.4/24', interface: 'eth0', privilege: 'none' },
      { type: 'vip', address: '10.9.0.100/24', interface: 'eth2' },
      { type: 'exec', run: ['logger', '-t', 'sentinel-hook', 'failover'], privilege: 'sudo' },
      { type: 'exec', run: ['/usr/local/bin/fence', '{fromIp}'], privilege: 'sudo' },
    ]),
    opts,
    host(),
    'h',
  );
  assert.doesNotMatch(text, /192\.168\.0\.4/);
  assert.ok(rules(text).includes('/usr/bin/logger -t sentinel-hook failover'));
  assert.equal(rules(text).length, 5);
  assert.match(
    text,
    /# NOT covered: masters\.mymaster\[3\] \(exec \/usr\/local\/bin\/fence\): its arguments hold placeholders/,
  );
});

test('the same VIP under two masters is listed once', async () => {
  const vip = { type: 'vip', address: '192.168.0.4/24', interface: 'eth0' };
  // validateConfig refuses two masters claiming one VIP (issue 15 §5.7); the rules stay unique all the same.
  assert.throws(() => validateConfig({ lockDir, masters: { a: [vip], b: [vip] } }, 'c.yaml'), /both claim VIP/);
  const c = withStateDir(configSchema().parse({ lockDir, masters: { a: [vip], b: [vip] } }), { lockDir });
  assert.equal(rules(await sudoersText(c, opts, host(), 'h')).length, 4);
});

test('refusals: bad user (exit 2), nothing privileged (exit 2), missing arping / ndptool (exit 1, package named)', async () => {
  const c = config([{ type: 'vip', address: '192.168.0.4/24', interface: 'eth0' }]);
  for (const user of ['-redis', 'redis ALL', '%redis', '#103', 'a,b', '']) {
    await assert.rejects(
      sudoersText(c, { ...opts, user }, host(), 'h'),
      (err: unknown) =>
        err instanceof UsageError && err.exitCode === 2 && /is not a plain login name/.test(err.message),
    );
  }
  await assert.rejects(
    sudoersText(config([{ type: 'vip', address: '192.168.0.4/24', privilege: 'none' }]), opts, host(), 'h'),
    (err: unknown) => err instanceof ConfigError && /nothing to allow/.test(err.message),
  );
  await assert.rejects(
    sudoersText(c, opts, host(IPUTILS_V, { ip: '/usr/sbin/ip' }), 'h'),
    // The package is named in the fix, which stderr prints after the message.
    (err: unknown) =>
      exitCodeOf(err) === 1 &&
      codeOf(err) === 'program-missing' &&
      /arping not found.*\(install iputils-arping\)/.test(errorLine(err)),
  );
  await assert.rejects(
    sudoersText(
      config([{ type: 'vip', address: 'fd00:77::100/64', interface: 'eth0' }]),
      opts,
      host(IPUTILS_V, { ip: '/usr/sbin/ip' }),
      'h',
    ),
    (err: unknown) =>
      codeOf(err) === 'program-missing' && /ndptool not found.*\(install libndp-tools\)/.test(errorLine(err)),
  );
  await assert.rejects(
    sudoersText(config([{ type: 'vip', address: '172.16.0.4/24' }]), opts, host(), 'h'),
    /no route on this host covers 172\.16\.0\.4\/24/,
  );
});

test('sudoersWord escapes , : = \\ and refuses blanks, quotes and pattern characters', () => {
  assert.equal(sudoersWord('a,b:c=d\\e'), 'a\\,b\\:c\\=d\\\\e');
  for (const bad of ['a b', '*', 'eth?', '[x]', '"q"', "'", '', 'x\ty', '!x', '#1', '^rotate.log$', '^$'])
    assert.throws(() => sudoersWord(bad), ConfigError, bad);
  // Only ^…$ together is a regular expression to sudo: either alone is a literal character.
  assert.equal(sudoersWord('^x'), '^x');
  assert.equal(sudoersWord('x$'), 'x$');
  // …but sudo joins the arguments first: ^ opening the first and $ closing the last is a regex too.
  assert.throws(() => sudoersLine(['/usr/bin/systemctl', '^restart|.+', 'x$']), ConfigError);
  assert.equal(sudoersLine(['/usr/bin/systemctl', '^restart', 'x']), '/usr/bin/systemctl ^restart x');
  assert.throws(() => sudoersLine(['ip', 'addr']), /absolute program path/);
});

/** The privileged argv lines a real run issues: the FakeRunner-free way, recording every call. */
async function plannedPrivileged(
  actions: unknown[],
  event: string[],
  addrShow: string,
  arpingV = IPUTILS_V,
  probe = ok(IPUTILS_DAD_FREE),
): Promise<string[][]> {
  const seen: string[][] = [];
  const runner = {
    async run(argv: readonly string[]): Promise<CommandResult> {
      if (argv[0] === '/usr/bin/sudo') {
        assert.equal(argv[1], '-n');
        seen.push(argv.slice(2));
        return argv.includes('-D') || argv.includes('-0') ? probe : ok();
      }
      const key = argv.join(' ');
      if (/ip -j -[46] addr show$/.test(key)) return ok(addrShow);
      if (key === '/usr/bin/arping -V') return ok(arpingV);
      if (key === '/usr/sbin/ip -j -4 route show') return ok(ROUTES_V4);
      if (key === '/usr/sbin/ip -j -6 route show') return ok(ROUTES_V6);
      throw new Error(`unexpected command ${key}`);
    },
  };
  const c = config(actions);
  // The interfaces list the VIP when the ip sample does (one consistent fake host).
  const vips = ['192.168.0.4', 'fd00:77::100'].filter((v) => addrShow.includes(`"${v}"`));
  const result = await runHook(
    parseEvent(event),
    c,
    fakeDeps({ runner, programs: PROGRAMS, addresses: ['192.168.0.2', 'fd00:77::2', ...vips] }),
    {
      dryRun: false,
    },
  );
  assert.equal(result.exitCode, 0, JSON.stringify(result.steps.filter((s) => !s.ok)));
  return seen;
}

function unescapeRule(rule: string): string[] {
  return rule.split(' ').map((w) => w.replace(/\\(.)/g, '$1'));
}

test('no drift: every argv a run issues through sudo is one of the generated rules, in every path', async () => {
  const toMe = ['mymaster', 'leader', 'start', '192.168.0.1', '6379', '192.168.0.2', '6379'];
  const toOther = ['mymaster', 'leader', 'start', '192.168.0.2', '6379', '192.168.0.3', '6379'];
  const v4None = addrJson([{ ifname: 'eth0', addrs: [{ family: 'inet', local: '192.168.0.2', prefixlen: 24 }] }]);
  const v4Held = addrJson([
    {
      ifname: 'eth0',
      addrs: [
        { family: 'inet', local: '192.168.0.2', prefixlen: 24 },
        { family: 'inet', local: '192.168.0.4', prefixlen: 24 },
      ],
    },
  ]);
  const v6None = addrJson([{ ifname: 'eth0', addrs: [{ family: 'inet6', local: 'fd00:77::2', prefixlen: 64 }] }]);
  const v6Held = addrJson([
    {
      ifname: 'eth0',
      addrs: [
        { family: 'inet6', local: 'fd00:77::2', prefixlen: 64 },
        { family: 'inet6', local: 'fd00:77::100', prefixlen: 64 },
      ],
    },
  ]);
  const arp = { count: 2, interval: '10ms', repeatAfter: '20ms' };
  const cases: [string, unknown[], string[], string, string][] = [
    [
      'v4 add, iputils, label, duplicate check',
      [{ type: 'vip', address: '192.168.0.4/24', label: 'eth0:vip', checkDuplicate: true, arp }],
      toMe,
      v4None,
      IPUTILS_V,
    ],
    ['v4 del, iputils', [{ type: 'vip', address: '192.168.0.4/24', arp }], toOther, v4Held, IPUTILS_V],
    ['v4 add, Habets', [{ type: 'vip', address: '192.168.0.4/24', interface: 'eth0', arp }], toMe, v4None, HABETS_V],
    ['v6 add (route-detected interface)', [{ type: 'vip', address: 'fd00:77::100/64', arp }], toMe, v6None, IPUTILS_V],
    ['v6 del', [{ type: 'vip', address: 'fd00:77::100/64', arp }], toOther, v6Held, IPUTILS_V],
  ];
  for (const [name, actions, event, addr, arpingV] of cases) {
    const allowed = rules(await sudoersText(config(actions), opts, host(arpingV), 'h')).map((r) =>
      JSON.stringify(unescapeRule(r)),
    );
    const planned = await plannedPrivileged(
      actions,
      event,
      addr,
      arpingV,
      arpingV === HABETS_V ? { ...ok(), exitCode: 1 } : ok(IPUTILS_DAD_FREE),
    );
    assert.ok(planned.length >= 1, `${name}: something ran`);
    for (const argv of planned)
      assert.ok(
        allowed.includes(JSON.stringify(argv)),
        `${name}: ${argv.join(' ')} is not in the sudoers rules:\n${allowed.join('\n')}`,
      );
  }
});

test('an exec with no arguments is pinned to none: a bare command in sudoers would allow any', async () => {
  const text = await sudoersText(
    config([{ type: 'exec', run: ['/usr/bin/id'], privilege: 'sudo' }]),
    opts,
    host(),
    'h',
  );
  assert.deepEqual(rules(text), ['/usr/bin/id ""']);
});

test('values copied into the header (config path, host name) cannot start a line of their own: no rule but ours', async () => {
  const injected = '\nredis ALL=(ALL) NOPASSWD: ALL\n';
  for (const [configPath, hostName] of [
    [`/etc/sentinel-hook/x${injected}# .yaml`, 'h'],
    ['/etc/sentinel-hook/config.yaml', `h${injected}`],
    ['/etc/sentinel-hook/x\r\nDefaults:redis !authenticate\r\n', 'h'],
    ['/etc/sentinel-hook/x\\', 'h\\'],
  ]) {
    const text = await sudoersText(
      config([{ type: 'exec', run: ['/usr/bin/id'], privilege: 'sudo' }]),
      { user: 'redis', configPath: configPath! },
      host(),
      hostName,
    );
    const lines = text.split('\n');
    assert.deepEqual(
      lines.filter((l) => !l.startsWith('# ')),
      ['Defaults:redis !requiretty', 'redis ALL=(root) NOPASSWD: /usr/bin/id ""', ''],
      JSON.stringify(configPath),
    );
    // sudo would join a line ending in a backslash with the next one.
    assert.ok(
      lines.every((l) => !l.endsWith('\\') && !/[\0-\x1f\x7f]/.test(l)),
      text,
    );
  }
});
