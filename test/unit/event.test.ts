import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { test } from 'node:test';
import fc from 'fast-check';
import { UsageError } from '../../src/errors.ts';
import { eventEnv, parseEvent, quickOperands, schemaOperands } from '../../src/event.ts';
import { canonicalIp, ipVersion } from '../../src/values.ts';

const good = ['mymaster', 'leader', 'start', '10.0.0.1', '6379', '10.0.0.2', '6379'];

test('a valid event parses to typed values', () => {
  assert.deepEqual(parseEvent(good), {
    master: 'mymaster',
    role: 'leader',
    state: 'start',
    fromIp: '10.0.0.1',
    fromPort: 6379,
    toIp: '10.0.0.2',
    toPort: 6379,
  });
});

test('IPv6 and host names (announce-hostnames) are accepted; IPv6 is canonicalised', () => {
  const e = parseEvent(['m', 'observer', 'failover', 'FD00:0:0::1', '6379', 'redis-2.example.com', '6380']);
  assert.equal(e.fromIp, 'fd00::1');
  assert.equal(e.toIp, 'redis-2.example.com');
  assert.equal(e.toPort, 6380);
});

const bad: [string, string[], RegExp][] = [
  ['no operands', [], /expected 7 operands .* got 0/],
  ['six operands', good.slice(0, 6), /got 6/],
  ['eight operands', [...good, 'x'], /got 8/],
  [
    'bad role',
    ['m', 'boss', 'start', '10.0.0.1', '6379', '10.0.0.2', '6379'],
    /invalid role "boss": expected "leader" or "observer"/,
  ],
  ['empty state', ['m', 'leader', '', '10.0.0.1', '6379', '10.0.0.2', '6379'], /invalid state/],
  [
    'state that reads as an option',
    ['m', 'leader', '--version', '10.0.0.1', '6379', '10.0.0.2', '6379'],
    /invalid state/,
  ],
  ['state with spaces', ['m', 'leader', 'a b', '10.0.0.1', '6379', '10.0.0.2', '6379'], /invalid state/],
  [
    'port 0',
    ['m', 'leader', 'start', '10.0.0.1', '0', '10.0.0.2', '6379'],
    /invalid from-port "0": expected a port from 1 to 65535/,
  ],
  ['port 65536', ['m', 'leader', 'start', '10.0.0.1', '6379', '10.0.0.2', '65536'], /invalid to-port "65536"/],
  [
    'port text',
    ['m', 'leader', 'start', '10.0.0.1', 'http', '10.0.0.2', '6379'],
    /invalid from-port "http": expected a port number/,
  ],
  ['negative port', ['m', 'leader', 'start', '10.0.0.1', '-1', '10.0.0.2', '6379'], /invalid from-port/],
  [
    'address 999.1.1.1 is a bad IP and a bad host name',
    ['m', 'leader', 'start', '10.0.0.1', '6379', '999.1.1.1.', '6379'],
    /invalid to-ip/,
  ],
  [
    'address with a shell metacharacter',
    ['m', 'leader', 'start', '10.0.0.1;rm', '6379', '10.0.0.2', '6379'],
    /invalid from-ip "10.0.0.1;rm"/,
  ],
  [
    'address that reads as an option',
    ['m', 'leader', 'start', '10.0.0.1', '6379', '-oProxyCommand=x', '6379'],
    /invalid to-ip/,
  ],
  ['empty address', ['m', 'leader', 'start', '', '6379', '10.0.0.2', '6379'], /invalid from-ip ""/],
  [
    'master name with a slash',
    ['../etc', 'leader', 'start', '10.0.0.1', '6379', '10.0.0.2', '6379'],
    /invalid master-name/,
  ],
  [
    'master name starting with -',
    ['-m', 'leader', 'start', '10.0.0.1', '6379', '10.0.0.2', '6379'],
    /invalid master-name/,
  ],
];
for (const [name, args, message] of bad) {
  test(`refused with exit 2: ${name}`, () => {
    assert.throws(
      () => parseEvent(args),
      (err: unknown) => {
        assert.ok(err instanceof UsageError);
        assert.equal(err.exitCode, 2);
        assert.match(err.line(), message);
        assert.doesNotMatch(err.line(), /\n/);
        return true;
      },
    );
  });
}

test('event values become SENTINEL_HOOK_* variables', () => {
  assert.deepEqual(eventEnv(parseEvent(good)), {
    SENTINEL_HOOK_MASTER: 'mymaster',
    SENTINEL_HOOK_ROLE: 'leader',
    SENTINEL_HOOK_STATE: 'start',
    SENTINEL_HOOK_FROM_IP: '10.0.0.1',
    SENTINEL_HOOK_FROM_PORT: '6379',
    SENTINEL_HOOK_TO_IP: '10.0.0.2',
    SENTINEL_HOOK_TO_PORT: '6379',
  });
});

test('ipVersion agrees with node:net isIP on generated addresses and near-misses', () => {
  const v6 = fc.ipV6();
  const v4 = fc.ipV4();
  const noise = fc.stringMatching(/^[0-9a-fA-F:.]{1,20}$/);
  fc.assert(
    fc.property(fc.oneof(v4, v6, noise, fc.ipV4Extended()), (text) => ipVersion(text) === isIP(text)),
    { numRuns: 3000 },
  );
});

test('canonicalIp makes equal addresses compare equal', () => {
  assert.equal(canonicalIp('::ffff:10.1.2.3'), '10.1.2.3');
  assert.equal(canonicalIp('2001:DB8:0:0::1'), '2001:db8::1');
  assert.equal(canonicalIp('[fe80::0:1]'), 'fe80::1');
});

test('the quick check and the zod schema agree on every operand: same verdict, same values', () => {
  const values: readonly (readonly string[])[] = [
    ['mymaster', 'a', 'm.y-m_a:s', '0', '9'.repeat(128), 'x'.repeat(129), '', '-m', 'my master', 'm/y', 'é', 'm\n'],
    ['leader', 'observer', 'Leader', 'leader ', '', 'observers'],
    ['start', 'a_b+c-d', '_x', '', '-start', 'x'.repeat(32), 'x'.repeat(33), 'two words', 'st/art'],
    [
      '10.0.0.1',
      '::1',
      '2001:db8::1',
      '::ffff:10.0.0.1',
      'redis-1.example',
      'host.',
      '999.1.1.1',
      '10.0.0.256',
      '-x',
      '',
      'a b',
      'fe80::1%eth0',
      '1::2::3',
    ],
    ['6379', '1', '65535', '65536', '0', '00001', '123456', '-1', '', ' 6379', '6379.0', '0x10', '１'],
  ];
  const slot = [0, 1, 2, 3, 4, 3, 4];
  const valid = ['mymaster', 'leader', 'start', '10.0.0.1', '6379', '10.0.0.2', '6380'];
  let compared = 0;
  for (const [i, kind] of slot.entries()) {
    for (const value of values[kind]!) {
      const args = valid.map((v, j) => (j === i ? value : v));
      const quick = quickOperands(args);
      const schema = schemaOperands(args);
      if (quick) {
        assert.ok(schema.success, `quick accepts ${JSON.stringify(args)}, zod does not`);
        assert.deepEqual(quick, schema.data);
      } else {
        assert.ok(!schema.success, `zod accepts ${JSON.stringify(args)}, the quick check does not`);
      }
      compared++;
    }
  }
  assert.equal(compared, 79);
});

test('the quick check and the zod schema agree on arbitrary operands', () => {
  const near = fc.oneof(
    fc.string(),
    fc.constantFrom('mymaster', 'leader', 'observer', 'start', '10.0.0.1', '::1', 'redis.example', '6379', '65535'),
    fc.integer({ min: -10, max: 70000 }).map(String),
    fc.stringMatching(/^[A-Za-z0-9._:+-]{1,40}$/),
  );
  fc.assert(
    fc.property(fc.array(near, { minLength: 7, maxLength: 7 }), (args) => {
      const quick = quickOperands(args);
      const schema = schemaOperands(args);
      assert.equal(Boolean(quick), schema.success, JSON.stringify(args));
      if (quick && schema.success) assert.deepEqual(quick, schema.data);
    }),
    { numRuns: 3000 },
  );
});
