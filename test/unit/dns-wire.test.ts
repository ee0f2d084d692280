// The parts of the dns action dns-packet does not do, byte by byte: an UPDATE's prerequisite and delete
// records (class NONE/ANY, empty rdata) and TSIG signing, checked against the RFCs' layouts and a MAC
// computed here independently; plus the key file, the marker's rules and the nsupdate text.

import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as dnsPacket from 'dns-packet';
import { parseKeyFile, readKey, type TsigKey } from '../../src/actions/dns/key.ts';
import {
  decide,
  floorOf,
  markerStrings,
  type NameState,
  parseMarker,
  type Want,
} from '../../src/actions/dns/marker.ts';
import { encodeName, encodeUpdate, readHeader, recordOffsets } from '../../src/actions/dns/message.ts';
import { nsupdateInput } from '../../src/actions/dns/nsupdate.ts';
import { parseServer } from '../../src/actions/dns/schema.ts';
import { readTsig, sign, verify } from '../../src/actions/dns/tsig.ts';
import { updateFor, wantedAddresses } from '../../src/actions/dns/update.ts';
import { Failure } from '../../src/failures.ts';

const hex = (b: Buffer) => b.toString('hex');
const name = (n: string) => hex(encodeName(n));

test('an UPDATE: opcode 5, one zone (SOA IN), prerequisites and updates counted, and each record as RFC 2136 lays it out', () => {
  const m = encodeUpdate({
    id: 0x1234,
    zone: 'example.internal.',
    prerequisites: [
      { kind: 'absent', name: '_m.example.internal.', type: 'TXT' },
      { kind: 'exact', name: '_m.example.internal.', type: 'TXT', ttl: 99, data: [Buffer.from('a')] },
    ],
    updates: [
      { kind: 'delete', name: 'r.example.internal.', type: 'AAAA' },
      { kind: 'add', name: 'r.example.internal.', type: 'A', ttl: 5, data: '10.0.0.2' },
    ],
  });
  // ID, flags (QR 0, opcode 5 = 0x2800), ZOCOUNT 1, PRCOUNT 2, UPCOUNT 2, ADCOUNT 0.
  assert.equal(hex(m.subarray(0, 12)), '1234' + '2800' + '0001' + '0002' + '0002' + '0000');
  const h = readHeader(m);
  assert.deepEqual([h.opcode, h.response, h.counts], [5, false, [1, 2, 2, 0]]);
  const expected =
    // zone: example.internal. SOA IN
    `${name('example.internal.')}00060001` +
    // prerequisite "RRset does not exist": TXT, class NONE (254), TTL 0, RDLENGTH 0
    `${name('_m.example.internal.')}001000fe0000000000 00`.replace(' ', '') +
    // prerequisite "RRset exists (value dependent)": class IN, TTL 0 whatever was given, rdata "a"
    `${name('_m.example.internal.')}0010000100000000000201` +
    '61' +
    // update "delete an RRset": AAAA, class ANY (255), TTL 0, RDLENGTH 0
    `${name('r.example.internal.')}001c00ff000000000000` +
    // update "add to an RRset": A IN TTL 5, 10.0.0.2
    `${name('r.example.internal.')}00010001000000050004` +
    '0a000002';
  assert.equal(hex(m.subarray(12)), expected);
  assert.equal(recordOffsets(m).length, 4);
});

test("names: dns-packet's wire form, the canonical (lower-case) one for MACs, and the root", () => {
  assert.equal(name('Ab.c.'), '024162016300');
  assert.equal(hex(encodeName('Ab.c.', true)), '026162016300');
  assert.equal(name('.'), '00');
});

const KEY: TsigKey = { name: 'failover', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 7) };

/** The MAC of RFC 8945 4.3, computed from its description rather than from tsig.ts. */
function referenceMac(key: TsigKey, message: Buffer, time: number, requestMac?: Buffer): Buffer {
  const h = createHmac(key.algorithm.replace('hmac-', ''), key.secret);
  if (requestMac) h.update(Buffer.from([requestMac.length >> 8, requestMac.length & 255])).update(requestMac);
  h.update(message);
  h.update(encodeName(key.name.toLowerCase(), true));
  h.update(Buffer.from('00ff00000000', 'hex')); // class ANY, TTL 0
  h.update(encodeName(key.algorithm, true));
  const t = Buffer.alloc(6);
  t.writeUIntBE(time, 0, 6);
  h.update(t);
  h.update(Buffer.from('012c' + '0000' + '0000', 'hex')); // fudge 300, error 0, other length 0
  return h.digest();
}

test('TSIG sign: the record appended last (ARCOUNT + 1), its fields in order, and the MAC of RFC 8945 4.3', () => {
  const query = dnsPacket.encode({ type: 'query', id: 42, questions: [{ name: 'x.example.', type: 'A' }] });
  const time = 1_796_294_000;
  const signed = sign(query, KEY, time);
  assert.equal(readHeader(signed.message).counts[3], 1);
  assert.deepEqual(signed.mac, referenceMac(KEY, query, time));
  const r = readTsig(signed.message)!;
  assert.equal(r.keyName, 'failover');
  assert.equal(r.algorithm, 'hmac-sha256');
  assert.equal(r.timeSigned, time);
  assert.equal(r.fudge, 300);
  assert.equal(r.originalId, 42);
  assert.equal(r.error, 0);
  assert.deepEqual(r.unsigned, query);
  // dns-packet reads the record too: type TSIG, class ANY, TTL 0.
  const decoded = dnsPacket.decode(signed.message);
  assert.equal(decoded.additionals![0]!.type, 'TSIG');
  assert.equal((decoded.additionals![0] as { class: string }).class, 'ANY');
});

test('TSIG: 48-bit time past 2106 and SHA-512 keys', () => {
  const query = dnsPacket.encode({ type: 'query', id: 1, questions: [{ name: 'x.', type: 'A' }] });
  const key: TsigKey = { name: 'K.Example', algorithm: 'hmac-sha512', secret: Buffer.alloc(64, 1) };
  const time = 2 ** 32 + 5;
  const signed = sign(query, key, time);
  assert.equal(signed.mac.length, 64);
  assert.deepEqual(signed.mac, referenceMac(key, query, time));
  assert.equal(readTsig(signed.message)!.timeSigned, time);
  assert.equal(
    verify(signed.message, { ...key, name: 'k.example.' }, time).ok,
    true,
    'names compare case-insensitively',
  );
});

test('TSIG verify: a changed byte, another key, a clock outside the fudge, no signature', () => {
  const query = dnsPacket.encode({ type: 'query', id: 7, questions: [{ name: 'x.example.', type: 'A' }] });
  const now = 1_796_294_000;
  const { message } = sign(query, KEY, now);
  assert.equal(verify(message, KEY, now + 300).ok, true);
  const tampered = Buffer.from(message);
  tampered[13] = tampered[13]! ^ 1; // the "x" of the question's name
  assert.deepEqual((verify(tampered, KEY, now) as { why: string }).why, 'bad-mac');
  const broken = Buffer.from(message);
  broken[14] = 0x65; // a label length no DNS name has
  assert.deepEqual((verify(broken, KEY, now) as { why: string }).why, 'malformed');
  assert.deepEqual((verify(message, { ...KEY, secret: Buffer.alloc(32, 8) }, now) as { why: string }).why, 'bad-mac');
  assert.deepEqual((verify(message, { ...KEY, name: 'other' }, now) as { why: string }).why, 'other-key');
  assert.deepEqual((verify(message, KEY, now + 301) as { why: string }).why, 'bad-time');
  assert.deepEqual((verify(query, KEY, now) as { why: string }).why, 'unsigned');
});

test("TSIG verify of a response: its MAC covers the request's MAC first, and its own ID is put back", () => {
  const now = 1_796_294_000;
  const request = sign(dnsPacket.encode({ type: 'query', id: 9, questions: [{ name: 'x.', type: 'A' }] }), KEY, now);
  const response = dnsPacket.encode({
    type: 'response',
    id: 9,
    flags: dnsPacket.AUTHORITATIVE_ANSWER,
    questions: [{ name: 'x.', type: 'A' }],
    answers: [{ name: 'x.', type: 'A', ttl: 5, data: '10.0.0.2' }],
  });
  const signed = sign(response, KEY, now, request.mac);
  assert.deepEqual(signed.mac, referenceMac(KEY, response, now, request.mac));
  assert.equal(verify(signed.message, KEY, now, request.mac).ok, true);
  assert.equal(verify(signed.message, KEY, now, Buffer.alloc(32)).ok, false, 'an answer to another request');
  // A proxy that rewrote the ID (as RFC 8945 5.3 allows for forwarders) keeps the MAC valid: original ID.
  const reId = Buffer.from(signed.message);
  reId.writeUInt16BE(77, 0);
  assert.equal(verify(reId, KEY, now, request.mac).ok, true);
});

const TSIG_KEYGEN = `key "failover" {
\talgorithm hmac-sha256;
\tsecret "nQeWG5fpxtY2o/3HUqNBtmNuP3v8HLHKmLnIg3OGmks=";
};
`;

test('a secret holding "//" (about one tsig-keygen key in a hundred) is a secret, not the start of a comment', () => {
  // 32 bytes whose base64 has "//" in it, as tsig-keygen writes one now and then (the dns tests that
  // failed once in a dozen runs: "its key block has no secret").
  const bytes = Buffer.from('000102ffff0405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
  const secret = bytes.toString('base64');
  assert.ok(secret.includes('//'), secret);
  const key = parseKeyFile(TSIG_KEYGEN.replace(/secret "[^"]+"/, `secret "${secret}"`)) as TsigKey;
  assert.equal(typeof key, 'object', String(key));
  assert.deepEqual(key.secret, bytes);
  // Comments after the block still go.
  const after = parseKeyFile(`${TSIG_KEYGEN.replace(/secret "[^"]+"/, `secret "${secret}"`)}// trailing\n# more\n`);
  assert.deepEqual((after as TsigKey).secret, bytes);
});

test('the key file as tsig-keygen writes it, with comments; one key, sound algorithms, a real secret', () => {
  const key = parseKeyFile(TSIG_KEYGEN) as TsigKey;
  assert.equal(key.name, 'failover');
  assert.equal(key.algorithm, 'hmac-sha256');
  assert.equal(key.secret.toString('base64'), 'nQeWG5fpxtY2o/3HUqNBtmNuP3v8HLHKmLnIg3OGmks=');
  const commented = `# made by hand\n// for the failover\n/* BIND syntax */ key failover.example { algorithm HMAC-SHA512.; secret "${Buffer.alloc(64, 3).toString('base64')}"; };`;
  assert.deepEqual(
    [(parseKeyFile(commented) as TsigKey).name, (parseKeyFile(commented) as TsigKey).algorithm],
    ['failover.example', 'hmac-sha512'],
  );
  assert.match(parseKeyFile('') as string, /no key "NAME"/);
  assert.match(parseKeyFile(TSIG_KEYGEN + TSIG_KEYGEN.replace('failover', 'other')) as string, /2 key blocks/);
  assert.match(
    parseKeyFile(TSIG_KEYGEN.replace('hmac-sha256', 'hmac-md5')) as string,
    /algorithm hmac-md5 is not one this action signs with/,
  );
  assert.match(parseKeyFile(TSIG_KEYGEN.replace(/secret "[^"]+"/, 'secret "c2hvcnQ="')) as string, /16 bytes or more/);
  assert.match(parseKeyFile(TSIG_KEYGEN.replace(/\tsecret.*\n/, '')) as string, /no secret/);
});

test("the key file's own rule: owner root (or the run's user), at most 0640, group-readable only by the run's group", (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sh-dns-key-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755);
  const file = join(dir, 'failover.key');
  writeFileSync(file, TSIG_KEYGEN);
  const asRoot = { uid: 0, gid: 0 };
  const modes: [number, string | undefined][] = [
    [0o600, undefined],
    [0o400, undefined],
    [0o640, undefined],
    [0o644, 'has mode 0644, more than 0640 allows'],
    [0o660, 'has mode 0660, more than 0640 allows'],
    [0o700, 'has mode 0700, more than 0640 allows'],
    [0o4600, 'has mode 4600, more than 0640 allows'],
  ];
  for (const [mode, problem] of modes) {
    chmodSync(file, mode);
    const key = readKey(file, asRoot);
    if (problem === undefined) assert.ok(!(key instanceof Failure), `${mode.toString(8)}: ${String(key)}`);
    else {
      assert.ok(key instanceof Failure && key.code === 'dns-key-exposed', mode.toString(8));
      assert.ok(key.message.includes(problem), key.message);
      assert.match(key.fix, /chmod 0640/);
    }
  }
  // Sentinel's user (not root) reads root:its-group 0640; a file of another group would be shared with that group.
  chmodSync(file, 0o640);
  assert.ok(!(readKey(file, { uid: 1000, gid: 0 }) instanceof Failure));
  const other = readKey(file, { uid: 1000, gid: 1000 });
  assert.ok(other instanceof Failure);
  assert.match(other.message, /is readable by group 0, not this user's group 1000/);
  // Someone else's file: that user could change the key.
  const notOurs = readKey(file, { uid: 1000, gid: 0 });
  assert.ok(!(notOurs instanceof Failure), 'root owns it: fine');
  const missing = readKey(join(dir, 'nope.key'), asRoot);
  assert.ok(missing instanceof Failure && missing.code === 'file-unreadable' && missing.exitCode === 2);
  writeFileSync(file, 'not a key');
  const bad = readKey(file, asRoot);
  assert.ok(bad instanceof Failure && bad.code === 'dns-key-invalid');
});

const state = (n: string, addresses: string[], marker?: string[], ttl = 30): NameState => ({
  name: n,
  addresses: addresses.map((address) => ({ type: address.includes(':') ? 'AAAA' : 'A', address, ttl })),
  markerRecords: marker ? [marker] : [],
});
const facts = (epoch: number | undefined, to = '10.0.0.2:6379', at = 1000, after?: number) =>
  markerStrings({ epoch, after, master: 'm', to, at });
const want = (epoch: number | undefined, addresses = ['10.0.0.2'], fromState = false): Want => ({
  epoch,
  addresses: wantedAddresses(addresses, ['A', 'AAAA']),
  fromState,
});
const N = 'r.example.';

test('the marker: written and read back; anything else is no marker of ours', () => {
  assert.deepEqual(parseMarker(facts(5)), { epoch: 5, master: 'm', to: '10.0.0.2:6379', at: 1000 });
  assert.deepEqual(parseMarker(facts(undefined, 'x:1', 7, 4)), { after: 4, master: 'm', to: 'x:1', at: 7 });
  assert.equal(parseMarker(['v=spf1 -all']), undefined);
  const long = markerStrings({ epoch: 1, master: 'm', to: `${'a.'.repeat(126)}b:6379`, at: 1 });
  assert.ok(
    long.every((x) => Buffer.byteLength(x) <= 255),
    'every TXT string fits its length byte',
  );
  assert.deepEqual(parseMarker(['sentinel-hook=1', 'epoch=x']), {});
});

test('decide: never back to an older epoch; nothing to do when the name and its marker are right', () => {
  const now = 2000;
  const hour = 3_600_000;
  assert.deepEqual(decide([state(N, [])], want(5), now, hour), { kind: 'update' });
  assert.equal(decide([state(N, ['10.0.0.2'], facts(5))], want(5), now, hour).kind, 'nothing');
  // Right address, older marker: the marker is brought up to this epoch.
  assert.equal(decide([state(N, ['10.0.0.2'], facts(4))], want(5), now, hour).kind, 'update');
  const newer = decide([state(N, ['10.0.0.3'], facts(6, '10.0.0.3:6379'))], want(5), now, hour);
  assert.equal(newer.kind, 'newer');
  assert.match(
    (newer as { why: string }).why,
    /a newer failover already moved the name \(marker of r\.example\.: config epoch 6, 10\.0\.0\.3:6379; this run: 5\)/,
  );
  // A reconcile (the Sentinels' majority) facing a newer marker older than rebuiltAfter: rebuilt Sentinels.
  const rebuilt = decide(
    [state(N, ['10.0.0.3'], facts(6, '10.0.0.3:6379', 0))],
    want(1, ['10.0.0.2'], true),
    2000,
    1000,
  );
  assert.equal(rebuilt.kind, 'update');
  assert.match((rebuilt as { warning: string }).warning, /the Sentinels were rebuilt/);
  // Recent, or from one Sentinel's call: still newer.
  assert.equal(decide([state(N, [], facts(6, 'x', 1999))], want(1, ['10.0.0.2'], true), 2000, 60_000).kind, 'newer');
  assert.equal(decide([state(N, [], facts(6, 'x', 0))], want(1), 2000, 1000).kind, 'newer');
  // Several names move together: one newer marker stops them all.
  assert.equal(decide([state(N, []), state('s.example.', [], facts(9))], want(5), now, hour).kind, 'newer');
  // A dual-stack master: both families must be there.
  assert.equal(decide([state(N, ['10.0.0.2'], facts(5))], want(5, ['10.0.0.2', 'fd00::2']), now, hour).kind, 'update');
});

test('the marker names the Sentinels (12 hex digits of each id); the ids tell a rebuilt set at once, whoever runs, while a shared id keeps the older epoch out', () => {
  const X = ['a'.repeat(40), 'b'.repeat(40)];
  const Y = ['c'.repeat(40), 'd'.repeat(40)];
  const strings = markerStrings({ epoch: 6, master: 'm', to: '10.0.0.3:6379', sentinels: X, at: 1999 });
  assert.ok(strings.includes(`sentinels=${'a'.repeat(12)},${'b'.repeat(12)}`), strings.join(' '));
  assert.deepEqual(parseMarker(strings)?.sentinels, ['a'.repeat(12), 'b'.repeat(12)]);
  const seven = markerStrings({ epoch: 1, master: 'm', to: 'x:1', sentinels: Array(7).fill('f'.repeat(40)), at: 1 });
  assert.ok(seven.every((x) => Buffer.byteLength(x) <= 255));
  const marked = [state(N, ['10.0.0.3'], strings)];
  // Written a second ago by X; now Y, at epoch 1: rebuilt, replaced at once, also on a Sentinel's call (the hook).
  const rebuilt = decide(marked, { ...want(1), sentinels: Y }, 2000, 60_000);
  assert.equal(rebuilt.kind, 'update');
  assert.match(
    (rebuilt as { warning: string }).warning,
    /from other Sentinels \(a{12},b{12}; now c{12},d{12}\): the Sentinels were rebuilt/,
  );
  // One id shared: the same group, its older answer stays out.
  assert.equal(decide(marked, { ...want(1), sentinels: [X[0]!, Y[0]!] }, 2000, 60_000).kind, 'newer');
  // No ids on one side (an ACL without MYID, a run one Sentinel confirmed): time decides, as before.
  assert.equal(decide(marked, want(1), 2000, 60_000).kind, 'newer');
  assert.equal(
    decide([state(N, ['10.0.0.3'], facts(6, 'x', 1999))], { ...want(1), sentinels: Y }, 2000, 60_000).kind,
    'newer',
  );
});

test('decide without an epoch: acts (the core found the master current), and its marker says which epoch it follows', () => {
  const states = [state(N, ['10.0.0.3'], facts(6, '10.0.0.3:6379'))];
  assert.equal(decide(states, want(undefined), 0, 1000).kind, 'update');
  assert.equal(floorOf(states), 6);
  const written = [state(N, ['10.0.0.2'], facts(undefined, '10.0.0.2:6379', 1000, 6))];
  assert.equal(decide(written, want(undefined), 0, 1000).kind, 'nothing');
  // after=6: a run at epoch 6 or older is older than it; epoch 7 is newer.
  assert.equal(decide(written, want(6, ['10.0.0.9']), 1000, 60_000).kind, 'newer');
  assert.equal(decide(written, want(7, ['10.0.0.9']), 1000, 60_000).kind, 'update');
  assert.equal(floorOf(written), 6);
  assert.equal(floorOf([state(N, [])]), undefined);
});

test('one update for all names: prerequisites on each marker as seen, the configured RRsets replaced, the marker rewritten', () => {
  const target = {
    servers: [parseServer('10.0.0.53')!],
    zone: 'example.',
    names: ['r.example.', 's.example.'],
    ttlSeconds: 5,
    key: '/k',
    records: ['A', 'AAAA'] as ('A' | 'AAAA')[],
    timeoutMs: 2000,
    rebuiltAfterMs: 180_000,
  };
  const states = [state('r.example.', ['10.0.0.1'], facts(4, '10.0.0.1:6379')), state('s.example.', [])];
  const m = updateFor(target, states, want(5, ['10.0.0.2', 'fd00::2']), { epoch: 5, master: 'm', to: 'x:1', at: 9 }, 1);
  const text = nsupdateInput(m, [
    { host: '10.0.0.53', port: 53 },
    { host: 'fd00::53', port: 5353 },
  ]);
  assert.equal(
    text,
    [
      'server 10.0.0.53 53',
      '; if it does not answer: server fd00::53 5353',
      'zone example.',
      'prereq yxrrset _sentinel-hook.r.example. IN TXT "sentinel-hook=1" "epoch=4" "master=m" "to=10.0.0.1:6379" "at=1000"',
      'prereq nxrrset _sentinel-hook.s.example. IN TXT',
      'update delete r.example. IN A',
      'update delete r.example. IN AAAA',
      'update add r.example. 5 IN A 10.0.0.2',
      'update add r.example. 5 IN AAAA fd00::2',
      'update delete _sentinel-hook.r.example. IN TXT',
      'update add _sentinel-hook.r.example. 5 IN TXT "sentinel-hook=1" "epoch=5" "master=m" "to=x:1" "at=9"',
      'update delete s.example. IN A',
      'update delete s.example. IN AAAA',
      'update add s.example. 5 IN A 10.0.0.2',
      'update add s.example. 5 IN AAAA fd00::2',
      'update delete _sentinel-hook.s.example. IN TXT',
      'update add _sentinel-hook.s.example. 5 IN TXT "sentinel-hook=1" "epoch=5" "master=m" "to=x:1" "at=9"',
      'send',
      'answer',
      '',
    ].join('\n'),
  );
  const h = readHeader(encodeUpdate(m));
  assert.deepEqual(h.counts, [1, 2, 12, 0]);
});

test('nsupdate quoting: quotes, backslashes and bytes outside printable ASCII in TXT strings', () => {
  const m = {
    id: 0,
    zone: 'z.',
    prerequisites: [],
    updates: [
      {
        kind: 'add' as const,
        name: 'n.z.',
        type: 'TXT' as const,
        ttl: 1,
        data: [Buffer.from('a"b\\c\n\xff', 'latin1')],
      },
    ],
  };
  assert.match(
    nsupdateInput(m, [{ host: '127.0.0.1', port: 53 }]),
    /update add n\.z\. 1 IN TXT "a\\"b\\\\c\\010\\255"\n/,
  );
});

test('addresses by family: A for IPv4, AAAA for IPv6, only the types configured', () => {
  assert.deepEqual(wantedAddresses(['10.0.0.2', 'fd00::2'], ['A']), [{ type: 'A', address: '10.0.0.2' }]);
  assert.deepEqual(wantedAddresses(['fd00::2'], ['A', 'AAAA']), [{ type: 'AAAA', address: 'fd00::2' }]);
  assert.deepEqual(wantedAddresses(['fd00::2'], ['A']), []);
});
