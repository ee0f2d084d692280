// The dns plugin as the core sees it: its config, its parts (claims, secrets, sandbox, budget), and
// the plans it makes from what was observed — no network: observations are handed in.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type DnsObservation, dnsAction } from '../../src/actions/dns/index.ts';
import { markerStrings } from '../../src/actions/dns/marker.ts';
import type { DnsAction } from '../../src/actions/dns/schema.ts';
import type { Desired, PlanContext, TaskStep } from '../../src/actions/plugin.ts';
import { validateConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/errors.ts';
import { failure } from '../../src/failures.ts';
import { memoryLogger } from '../../src/log.ts';

const KEY_TEXT = `key "failover" {\n\talgorithm hmac-sha256;\n\tsecret "${Buffer.alloc(32, 5).toString('base64')}";\n};\n`;

function keyFile(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'sh-dns-plugin-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'failover.key');
  writeFileSync(file, KEY_TEXT, { mode: 0o640 });
  return file;
}

const parse = (entry: Record<string, unknown>, more: Record<string, unknown>[] = []) =>
  validateConfig(
    {
      masters: {
        mymaster: [
          {
            type: 'dns',
            server: '10.0.0.53',
            zone: 'example.internal.',
            name: 'redis.example.internal.',
            key: '/etc/k',
            ...entry,
          },
          ...more,
        ],
      },
    },
    'c.yaml',
  ).masters.mymaster![0] as DnsAction;

const refusal = (entry: Record<string, unknown>, more: Record<string, unknown>[] = []) => {
  try {
    parse(entry, more);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail('accepted');
};

test('defaults: TTL 5 s, A and AAAA, 2 s per server, the leader only', () => {
  const a = parse({});
  assert.equal(a.ttl, 5000);
  assert.deepEqual(a.records, ['A', 'AAAA']);
  assert.equal(a.timeout, 2000);
  assert.deepEqual(a.when, { role: 'leader', host: 'any' });
  assert.deepEqual(parse({ when: { role: 'any' } }).when, { role: 'any', host: 'any' });
});

test('refused at load: a TTL that is not whole seconds, a name outside the zone, bad servers, a relative key path', () => {
  assert.match(refusal({ ttl: '1500ms' }), /ttl: expected whole seconds/);
  assert.match(
    refusal({ name: ['redis.example.internal.', 'redis.elsewhere.'] }),
    /name\[1\]: redis\.elsewhere\. is not inside zone example\.internal\./,
  );
  assert.match(refusal({ server: '10.0.0.53:99999' }), /expected host, host:port/);
  assert.match(refusal({ server: [] }), /expected at least one server/);
  assert.match(refusal({ key: 'failover.key' }), /key: expected an absolute path/);
  assert.match(refusal({ name: ['a.example.internal.', 'A.example.internal'] }), /a name is listed twice/);
  assert.match(refusal({ server: ['10.0.0.53', '10.0.0.53:53'] }), /a server is listed twice/);
});

test('claims: one name in two entries (written with or without the final dot, in any case) is refused', () => {
  assert.deepEqual(dnsAction.claims!(parse({ name: ['Redis.Example.Internal', 'ro.example.internal.'] })), [
    'DNS name redis.example.internal.',
    'DNS name ro.example.internal.',
  ]);
  assert.match(
    refusal({}, [
      { type: 'dns', server: '10.0.0.54', zone: 'example.internal', name: 'REDIS.example.internal', key: '/etc/k' },
    ]),
    /both claim DNS name redis\.example\.internal\./,
  );
});

test('parts: the key file is a secret; no program, family, capability, write or sudo; a budget from the servers and timeout', async () => {
  const a = parse({ server: ['10.0.0.53', '[fd00::53]:5353'], timeout: '1s' });
  assert.deepEqual(dnsAction.secrets!(a), [{ file: '/etc/k' }]);
  const needs = await dnsAction.sandbox!(
    a,
    { which: () => undefined, read: () => Promise.reject(new Error('read')) },
    'm',
  );
  assert.deepEqual(needs, { programs: [], addressFamilies: [], capabilities: [], writablePaths: [], needsSudo: false });
  assert.equal(dnsAction.budget!(a)!.ms, 4000);
  assert.match(dnsAction.summarize(a), /10\.0\.0\.53:53, then \[fd00::53\]:5353/);
});

const desired = (epoch: number | undefined, addresses = ['10.0.0.2']): Desired => ({
  master: 'mymaster',
  holder: 'other-host',
  target: { ip: addresses[0]!, port: 6379, addresses },
  ...(epoch === undefined ? {} : { epoch }),
  source: { kind: 'state' },
});

const ctx = (showOnly = false): PlanContext => ({
  localAddresses: new Set(),
  read: () => Promise.reject(new Error('plan ran a command')),
  readFile: () => undefined,
  which: () => undefined,
  logger: memoryLogger(),
  signal: new AbortController().signal,
  announce: false,
  showOnly,
});

const seen = (addresses: string[], marker?: string[]): DnsObservation => ({
  observed: {
    server: { address: '10.0.0.53', port: 53, label: '10.0.0.53:53' },
    names: [
      {
        name: 'redis.example.internal.',
        addresses: addresses.map((address) => ({ type: 'A' as const, address, ttl: 30 })),
        markerRecords: marker ? [marker] : [],
      },
    ],
  },
});

test('plan: one task step that shows the update as nsupdate takes it (a dry-run), never the secret', async (t) => {
  const a = parse({ key: keyFile(t) });
  const plan = await dnsAction.plan(a, desired(5), seen(['10.0.0.1']), ctx(true));
  assert.equal(plan.steps.length, 1);
  const step = plan.steps[0] as TaskStep;
  assert.match(
    step.description,
    /point redis\.example\.internal\. at 10\.0\.0\.2 \(config epoch 5\) in one signed update to 10\.0\.0\.53:53, as "nsupdate -k .*failover\.key" takes it:\n {9}server 10\.0\.0\.53 53\n/,
  );
  const detail = step.detail as { nsupdate: { argv: string[]; input: string } };
  assert.match(detail.nsupdate.input, /prereq nxrrset _sentinel-hook\.redis\.example\.internal\. IN TXT\n/);
  assert.ok(!JSON.stringify(plan).includes(Buffer.alloc(32, 5).toString('base64')));
  // A real run's description is one line.
  const real = await dnsAction.plan(a, desired(5), seen(['10.0.0.1']), ctx());
  assert.ok(!real.steps[0]!.description.includes('\n'));
});

test('plan: nothing to do, a newer failover, no master: no steps and the reason', async (t) => {
  const a = parse({ key: keyFile(t) });
  const at = Math.floor(Date.now() / 1000);
  const marker = (epoch: number, to: string) => markerStrings({ epoch, master: 'mymaster', to, at });
  const same = await dnsAction.plan(a, desired(5), seen(['10.0.0.2'], marker(5, '10.0.0.2:6379')), ctx());
  assert.deepEqual(same.steps, []);
  assert.match(same.note!, /already point at the master at config epoch 5/);
  const newer = await dnsAction.plan(a, desired(5), seen(['10.0.0.3'], marker(6, '10.0.0.3:6379')), ctx());
  assert.deepEqual(newer.steps, []);
  assert.match(newer.note!, /a newer failover already moved the name/);
  const nobody = await dnsAction.plan(
    a,
    { ...desired(5), holder: 'nobody', target: undefined } as Desired,
    seen([]),
    ctx(),
  );
  assert.match(nobody.note!, /no master to point the names at/);
});

test('plan: what no retry fixes is a permanent failing step in a run (the other actions still run) and refused by a dry-run', async () => {
  const a = parse({});
  const problem = failure('dns-key-rejected', { server: '10.0.0.53:53', key: 'failover', said: 'BADSIG' });
  const plan = await dnsAction.plan(a, desired(5), { problem }, ctx());
  const outcome = await (plan.steps[0] as TaskStep).run({} as never);
  assert.deepEqual([outcome.ok, outcome.permanent, outcome.code], [false, true, 'dns-key-rejected']);
  await assert.rejects(dnsAction.plan(a, desired(5), { problem }, ctx(true)), (err: Error) => {
    assert.ok(err instanceof ConfigError);
    assert.match(
      err.message,
      /dns redis\.example\.internal\.: DNS server 10\.0\.0\.53:53 rejected TSIG key failover: BADSIG/,
    );
    return true;
  });
  const silent = failure('dns-unanswered', { detail: '10.0.0.53:53 (UDP): no answer within 2000 ms' });
  const retry = await (await dnsAction.plan(a, desired(5), { problem: silent }, ctx(true))).steps[0]!;
  const r = await (retry as TaskStep).run({} as never);
  assert.deepEqual([r.ok, r.permanent, r.code], [false, undefined, 'dns-unanswered']);
  // An IPv6 master with only A records configured: nothing to publish, every retry the same.
  const v6 = await dnsAction.plan(parse({ records: ['A'] }), desired(5, ['fd00::2']), seen([]), ctx());
  const out = await (v6.steps[0] as TaskStep).run({} as never);
  assert.deepEqual([out.ok, out.permanent, out.code], [false, true, 'dns-no-address']);
});
