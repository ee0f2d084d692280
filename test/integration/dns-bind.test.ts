// The dns action against the real thing: a BIND 9 of the test's own on loopback, updates allowed for
// one TSIG key only. Through the built CLI: a failover moves the name, an older run never writes its
// address back, a wrong key, an unknown zone and a silent server each end as Sentinel's contract says.
// BIND's own tools check our wire format the other way round: nsupdate's packet against our verifier.

import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { askServers, queriesFor } from '../../src/actions/dns/client.ts';
import { readKey } from '../../src/actions/dns/key.ts';
import { readHeader } from '../../src/actions/dns/message.ts';
import { parseServer } from '../../src/actions/dns/schema.ts';
import { verify } from '../../src/actions/dns/tsig.ts';
import { Failure } from '../../src/failures.ts';
import { waitFor } from '../lab/wait.ts';
import { type Bind, startBind, tsigKeygen, ZONE } from '../support/bind.ts';
import { type FakeSentinel, fakeSentinel } from '../support/fake-sentinel.ts';

const BIN = resolve(import.meta.dirname, '../../bin/sentinel-hook.cjs');
const names = {
  moved: 'redis.example.internal.',
  stale: 'stale.example.internal.',
  late: 'late.example.internal.',
  errors: 'errors.example.internal.',
  next: 'next.example.internal.',
  nsupdate: 'manual.example.internal.',
  doctor: 'doctor.example.internal.',
  rebuilt: 'rebuilt.example.internal.',
};
/** In the zone, but not granted to the key: an update of it is refused by the update-policy. */
const UNGRANTED = 'other.example.internal.';

let bind: Bind;
test.before(async () => {
  bind = await startBind({ names: Object.values(names) });
});
test.after(() => bind?.stop());

const event = (role: string, to: string) => ['mymaster', role, 'start', '10.0.0.1', '6379', to, '6379'];

interface Entry {
  name: string;
  server?: string | string[];
  key?: string;
  zone?: string;
  timeout?: string;
}

function config(dir: string, entry: Entry, sentinel?: FakeSentinel): string {
  const file = join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`);
  const servers = [entry.server ?? `127.0.0.1:${bind.port}`].flat();
  writeFileSync(
    file,
    [
      `log: { file: ${join(dir, 'hook.log')} }`,
      `lockDir: ${dir}`,
      ...(sentinel ? [`sentinels: { addresses: ["${sentinel.address}"], timeout: 500ms, settle: 300ms }`] : []),
      'masters:',
      '  mymaster:',
      '    - type: dns',
      `      server: [${servers.map((s) => JSON.stringify(s)).join(', ')}]`,
      `      zone: ${entry.zone ?? ZONE}`,
      `      name: ${entry.name}`,
      '      ttl: 5s',
      `      key: ${entry.key ?? bind.keyFile}`,
      ...(entry.timeout ? [`      timeout: ${entry.timeout}`] : []),
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return file;
}

function workdir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'sh-dns-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The built CLI, run without blocking this process: the test's own sockets (relay, silent server) keep serving. */
async function hook(file: string, args: string[]): Promise<{ code: number | null; out: string; log: string }> {
  const child = spawn(process.execPath, [BIN, '--config', file, ...args], {
    env: { PATH: process.env.PATH! },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    out += d;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((r) => child.once('close', r));
  clearTimeout(timer);
  let log = '';
  try {
    log = readFileSync(join(dirname(file), 'hook.log'), 'utf8');
  } catch {
    // no log written
  }
  return { code, out, log };
}

/** Successful changes of `name`'s A RRset in BIND's log: one per update that moved it. */
function addsOf(name: string): number {
  const bare = name.replace(/\.$/, '');
  return bind
    .log()
    .split('\n')
    .filter((l) => l.includes(`adding an RR at '${bare}' A`)).length;
}

async function sentinelSaying(ip: string, epoch: number, t: { after: (fn: () => Promise<void>) => void }) {
  const s = await fakeSentinel({ master: () => ({ ip, port: 6379, epoch }) });
  t.after(() => s.close());
  return s;
}

test('a failover moves the name: BIND answers the new master (the time from the run to that answer measured); only the leader sends, once', async (t) => {
  const dir = workdir(t);
  const sentinel = await sentinelSaying('10.0.0.2', 5, t);
  const file = config(dir, { name: names.moved }, sentinel);
  const started = performance.now();
  const run = spawn(process.execPath, [BIN, '--config', file, ...event('leader', '10.0.0.2')], { stdio: 'ignore' });
  const answered = await waitFor(
    'BIND to answer the new master',
    async () => (bind.dig(names.moved).includes('10.0.0.2') ? performance.now() : undefined),
    { timeoutMs: 10_000, intervalMs: 10 },
  );
  const code = await new Promise<number | null>((r) => run.once('exit', r));
  assert.equal(code, 0);
  const records = readFileSync(join(dir, 'hook.log'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { msg: string; ms?: number; startupMs?: number });
  const step = records.find((r) => r.msg === 'step done')?.ms;
  const startup = records.find((r) => r.msg === 'hook start')?.startupMs;
  t.diagnostic(
    `from the hook's start to BIND answering the new master: ${Math.round(answered - started)} ms (node and the CLI starting: ${startup} ms; the dns step, look + update + read-back: ${step} ms)`,
  );
  assert.deepEqual(bind.dig(names.moved, 'A', ['+ttlid']).length, 1);
  assert.match(
    bind.dig(`_sentinel-hook.${names.moved}`, 'TXT').join(' '),
    /"epoch=5" "master=mymaster" "to=10.0.0.2:6379"/,
  );
  // Every Sentinel runs the hook; with when: { role: leader } by default the observers send nothing.
  for (const role of ['observer', 'observer', 'leader'])
    assert.equal((await hook(file, event(role, '10.0.0.2'))).code, 0);
  assert.equal(addsOf(names.moved), 1, 'one update reached BIND for this failover');
});

/**
 * A UDP relay in front of BIND that holds back the UPDATE it is sent until released: an older run's
 * update arriving after a newer failover's, as a slow network or a late retry makes it arrive.
 */
async function holdingRelay(t: { after: (fn: () => void) => void }) {
  const front = createSocket('udp4');
  const backs = new Map<string, UdpSocket>();
  const held: (() => void)[] = [];
  let holding = true;
  front.on('message', (msg, from) => {
    const key = `${from.address}:${from.port}`;
    let back = backs.get(key);
    if (!back) {
      back = createSocket('udp4');
      back.on('message', (answer) => front.send(answer, from.port, from.address));
      backs.set(key, back);
    }
    const forward = () => back!.send(msg, bind.port, '127.0.0.1');
    if (holding && readHeader(msg).opcode === 5) held.push(forward);
    else forward();
  });
  await new Promise<void>((r) => front.bind(0, '127.0.0.1', r));
  t.after(() => {
    front.close();
    for (const b of backs.values()) b.close();
  });
  return {
    address: `127.0.0.1:${front.address().port}`,
    held: () => held.length,
    release() {
      holding = false;
      for (const f of held.splice(0)) f();
    },
  };
}

test('a stale run never writes the older address: its update, arriving after the newer one, fails its prerequisite, and it exits 0', async (t) => {
  // Two hosts (each its own lock and state directory): on one host the newer run would supersede the older.
  const dir = workdir(t);
  const otherHost = workdir(t);
  // Two Sentinel views: an older failover at epoch 5 (to 10.0.0.2), a newer one at epoch 6 (to 10.0.0.3).
  const older = await sentinelSaying('10.0.0.2', 5, t);
  const newer = await sentinelSaying('10.0.0.3', 6, t);
  const relay = await holdingRelay(t);
  let child: ChildProcess | undefined;
  t.after(() => {
    if (child?.exitCode === null) child.kill('SIGKILL');
  });
  child = spawn(
    process.execPath,
    [BIN, '--config', config(dir, { name: names.stale, server: relay.address }, older), ...event('leader', '10.0.0.2')],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((r) => child!.once('exit', r));
  // The older run has looked (no marker yet) and sent its update, which the relay holds.
  await waitFor('the older run to send its update', async () => (relay.held() > 0 ? true : undefined), {
    timeoutMs: 10_000,
  });
  const newerRun = await hook(config(otherHost, { name: names.stale }, newer), event('leader', '10.0.0.3'));
  assert.equal(newerRun.code, 0, newerRun.out);
  assert.deepEqual(bind.dig(names.stale), ['10.0.0.3']);
  relay.release();
  assert.equal(await exited, 0, out);
  assert.match(readFileSync(join(dir, 'hook.log'), 'utf8'), /a newer failover already moved the name/);
  assert.deepEqual(bind.dig(names.stale), ['10.0.0.3'], 'the older address was never written');
  assert.match(
    bind.log(),
    /_sentinel-hook\.stale\.example\.internal\/TXT: 'rrset does not exist' prerequisite not satisfied/,
  );
  assert.equal(addsOf(names.stale), 1);
});

test('a run for an older epoch that starts after the newer one sends nothing and exits 0', async (t) => {
  const dir = workdir(t);
  const otherHost = workdir(t);
  const older = await sentinelSaying('10.0.0.2', 5, t);
  const newer = await sentinelSaying('10.0.0.3', 6, t);
  assert.equal((await hook(config(otherHost, { name: names.late }, newer), event('leader', '10.0.0.3'))).code, 0);
  const late = await hook(config(dir, { name: names.late }, older), event('leader', '10.0.0.2'));
  assert.equal(late.code, 0, late.out);
  assert.match(
    late.log,
    /a newer failover already moved the name \(marker of late\.example\.internal\.: config epoch 6/,
  );
  assert.deepEqual(bind.dig(names.late), ['10.0.0.3']);
  assert.equal(addsOf(names.late), 1);
});

test('the marker names the Sentinels that said it; rebuilt Sentinels (new ids, epochs from 0) move the name at once, from the hook too', async (t) => {
  const X = 'a'.repeat(40);
  const Y = 'c'.repeat(40);
  const before = await fakeSentinel({ id: X, master: () => ({ ip: '10.0.0.3', port: 6379, epoch: 6 }) });
  const rebuilt = await fakeSentinel({ id: Y, master: () => ({ ip: '10.0.0.2', port: 6379, epoch: 1 }) });
  t.after(() => Promise.all([before.close(), rebuilt.close()]));
  const first = await hook(config(workdir(t), { name: names.rebuilt }, before), event('leader', '10.0.0.3'));
  assert.equal(first.code, 0, first.out);
  assert.match(bind.dig(`_sentinel-hook.${names.rebuilt}`, 'TXT').join(' '), /"epoch=6" .*"sentinels=a{12}"/);
  // Another host (its own records), the rebuilt Sentinel's failover at epoch 1: below the marker's 6, but
  // from Sentinels none of which wrote it. Before the ids were in the marker this run said "a newer
  // failover already moved the name" and BIND kept the old master for the marker's failover-timeout.
  const next = await hook(config(workdir(t), { name: names.rebuilt }, rebuilt), event('leader', '10.0.0.2'));
  assert.equal(next.code, 0, next.out);
  assert.deepEqual(bind.dig(names.rebuilt), ['10.0.0.2']);
  assert.match(bind.dig(`_sentinel-hook.${names.rebuilt}`, 'TXT').join(' '), /"epoch=1" .*"sentinels=c{12}"/);
  assert.match(next.log, /from other Sentinels \(a{12}; now c{12}\): the Sentinels were rebuilt/);
  assert.equal(addsOf(names.rebuilt), 2);
});

/** A UDP socket that takes every datagram and answers none: a DNS server that does not answer. */
async function silentServer(t: { after: (fn: () => void) => void }) {
  const socket = createSocket('udp4');
  let received = 0;
  socket.on('message', () => {
    received++;
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  t.after(() => socket.close());
  return { address: `127.0.0.1:${socket.address().port}`, received: () => received };
}

function failedLine(out: string): string {
  const lines = out.split('\n').filter((l) => l.startsWith('FAILED'));
  assert.equal(lines.length, 1, out);
  return lines[0]!;
}

test('a wrong key (BADSIG), an unknown key (BADKEY), an unknown zone: exit 2, one line naming the fix, no next server asked', async (t) => {
  const dir = workdir(t);
  const next = await silentServer(t);
  const wrongSecret = join(dir, 'wrong.key');
  writeFileSync(wrongSecret, tsigKeygen(bind.keyName), { mode: 0o600 });
  const unknownKey = join(dir, 'unknown.key');
  writeFileSync(unknownKey, tsigKeygen('nobody-knows-me'), { mode: 0o600 });
  const cases = [
    {
      key: wrongSecret,
      zone: ZONE,
      name: names.errors,
      line: /rejected TSIG key failover: BADSIG \(put the key the zone's update-policy/,
    },
    { key: unknownKey, zone: ZONE, name: names.errors, line: /rejected TSIG key nobody-knows-me: BADKEY/ },
    {
      key: bind.keyFile,
      zone: 'other.internal.',
      name: 'redis.other.internal.',
      line: /refused to answer for zone other\.internal\.: REFUSED \(correct "zone"/,
    },
    {
      key: bind.keyFile,
      zone: ZONE,
      name: UNGRANTED,
      line: /refused the update of zone example\.internal\.: REFUSED \(point "server" at the zone's primary.*update-policy \{ grant failover name NAME A AAAA;/,
    },
  ];
  for (const c of cases) {
    const r = await hook(
      config(dir, { name: c.name, key: c.key, zone: c.zone, server: [`127.0.0.1:${bind.port}`, next.address] }),
      event('leader', '10.0.0.7'),
    );
    assert.equal(r.code, 2, r.out);
    assert.match(failedLine(r.out), c.line);
  }
  assert.equal(next.received(), 0, 'the next server was never asked: the key or the zone is wrong for all');
  assert.deepEqual(bind.dig(names.errors), []);
  assert.deepEqual(bind.dig(UNGRANTED), []);
});

test('a server that does not answer: the next one is asked; none answering is exit 1 within the timeouts', async (t) => {
  const dir = workdir(t);
  const silent = await silentServer(t);
  const started = performance.now();
  const alone = await hook(
    config(dir, { name: names.next, server: silent.address, timeout: '500ms' }),
    event('leader', '10.0.0.4'),
  );
  const took = performance.now() - started;
  assert.equal(alone.code, 1, alone.out);
  assert.match(
    failedLine(alone.out),
    /no DNS server took the update: 127\.0\.0\.1:\d+ \(UDP\): no answer within 500 ms \(check that/,
  );
  assert.ok(took < 5000, `bounded by the timeout (${Math.round(took)} ms)`);
  const r = await hook(
    config(dir, { name: names.next, server: [silent.address, `127.0.0.1:${bind.port}`], timeout: '500ms' }),
    event('leader', '10.0.0.4'),
  );
  assert.equal(r.code, 0, r.out);
  assert.deepEqual(bind.dig(names.next), ['10.0.0.4']);
  assert.ok(silent.received() >= 2);
  // A server given by name: each of its addresses in turn (named listens on 127.0.0.1 only, not ::1).
  const byName = await hook(
    config(dir, { name: names.next, server: `localhost:${bind.port}` }),
    event('leader', '10.0.0.5'),
  );
  assert.equal(byName.code, 0, byName.out);
  assert.deepEqual(bind.dig(names.next), ['10.0.0.5']);
});

test("BADTIME: a clock 20 minutes off is exit 2 naming the skew, and BIND's own time is read from its answer", async () => {
  const key = readKey(bind.keyFile);
  assert.ok(!(key instanceof Failure));
  const skew = 1200;
  const got = await askServers(
    {
      servers: [parseServer(`127.0.0.1:${bind.port}`)!],
      zone: ZONE,
      key,
      timeoutMs: 2000,
      signal: AbortSignal.timeout(5000),
      now: () => Math.floor(Date.now() / 1000) + skew,
    },
    queriesFor([names.moved], ['A']),
    { update: false },
  );
  assert.ok(got instanceof Failure, JSON.stringify(got));
  assert.equal(got.code, 'dns-clock-skew');
  assert.equal(got.exitCode, 2);
  const m = /this host's clock is (-?\d+) s off the server's/.exec(got.message);
  assert.ok(m && Math.abs(Number(m[1]) - skew) <= 2, got.line());
  assert.match(got.fix, /synchronise the clocks/);
});

test("nsupdate's signed packet passes our verifier (and fails it when one byte changes); our dry-run, fed to nsupdate -k, is accepted by BIND", async (t) => {
  const dir = workdir(t);
  const capture = createSocket('udp4');
  const packets: Buffer[] = [];
  capture.on('message', (m) => packets.push(m));
  await new Promise<void>((r) => capture.bind(0, '127.0.0.1', r));
  t.after(() => capture.close());
  const key = readKey(bind.keyFile);
  assert.ok(!(key instanceof Failure));
  const nsupdate = spawn('nsupdate', ['-k', bind.keyFile, '-t', '2', '-u', '1', '-r', '0'], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  t.after(() => {
    if (nsupdate.exitCode === null) nsupdate.kill('SIGKILL');
  });
  nsupdate.stdin!.end(
    `server 127.0.0.1 ${capture.address().port}\nzone ${ZONE}\nupdate add ${names.nsupdate} 5 IN A 10.0.0.9\nsend\n`,
  );
  await waitFor('nsupdate to send its update', async () => (packets.length > 0 ? true : undefined), {
    timeoutMs: 10_000,
  });
  nsupdate.kill('SIGKILL');
  const packet = packets[0]!;
  assert.equal(readHeader(packet).opcode, 5, 'an UPDATE');
  const verdict = verify(packet, key, Math.floor(Date.now() / 1000));
  assert.equal(verdict.ok, true, JSON.stringify(verdict));
  const tampered = Buffer.from(packet);
  tampered.writeUInt8(tampered.readUInt8(13) ^ 1, 13); // a byte of the zone's name
  assert.deepEqual((verify(tampered, key, Math.floor(Date.now() / 1000)) as { why: string }).why, 'bad-mac');

  // The dry-run's text is what nsupdate takes: sent by BIND's own tool, it moves the name.
  const file = config(dir, { name: names.nsupdate });
  const dry = await hook(file, ['--json', '--dry-run', ...event('leader', '10.0.0.9')]);
  assert.equal(dry.code, 0, dry.out);
  const secret = /secret "([^"]+)"/.exec(readFileSync(bind.keyFile, 'utf8'))![1]!;
  assert.ok(!dry.out.includes(secret), 'the secret is never printed');
  const step = JSON.parse(dry.out).plans[0].steps[0];
  assert.deepEqual(step.detail.nsupdate.argv, ['nsupdate', '-k', bind.keyFile]);
  const text = (await hook(file, ['--dry-run', ...event('leader', '10.0.0.9')])).out;
  assert.match(text, new RegExp(`as "nsupdate -k ${bind.keyFile}" takes it:`));
  assert.ok(text.includes(`prereq nxrrset _sentinel-hook.${names.nsupdate} IN TXT`), text);
  execFileSync('nsupdate', ['-k', bind.keyFile, '-t', '5'], { input: step.detail.nsupdate.input, timeout: 10_000 });
  assert.deepEqual(bind.dig(names.nsupdate), ['10.0.0.9']);
  assert.match(bind.dig(`_sentinel-hook.${names.nsupdate}`, 'TXT').join(''), /"epoch=none"/);
});

test('check: the key file under its own rule (0640 at most, never world-readable); a good one passes', async (t) => {
  const dir = workdir(t);
  const key = join(dir, 'k.key');
  writeFileSync(key, tsigKeygen('failover'), { mode: 0o600 });
  const file = config(dir, { name: names.moved, key });
  const checked = (mode: number) => {
    chmodSync(key, mode);
    return hook(file, ['check']);
  };
  const good = await checked(0o640);
  assert.equal(good.code, 0, good.out);
  const open = await checked(0o644);
  assert.equal(open.code, 2, open.out);
  assert.match(open.out, /TSIG key file .*k\.key has mode 0644, more than 0640 allows \(chown root:SENTINEL-GROUP/);
  writeFileSync(key, 'key "x" { algorithm hmac-md5; secret "AAAAAAAAAAAAAAAAAAAAAA=="; };\n', { mode: 0o600 });
  const weak = await checked(0o600);
  assert.equal(weak.code, 2, weak.out);
  assert.match(weak.out, /algorithm hmac-md5 is not one this action signs with \(hmac-sha256, hmac-sha512\)/);
});

test('doctor: a prerequisite-only update proves the key and the server and changes nothing; a wrong key fails with the fix', async (t) => {
  const dir = workdir(t);
  const wrong = join(dir, 'wrong.key');
  writeFileSync(wrong, tsigKeygen(bind.keyName), { mode: 0o600 });
  const serial = () => bind.dig(ZONE, 'SOA')[0]?.split(' ')[2];
  const before = serial();
  const dnsChecks = async (key: string) => {
    const r = await hook(config(dir, { name: names.doctor, key }), ['doctor', '--json']);
    const report = JSON.parse(r.out) as {
      exitCode: number;
      checks: { check: string; result: string; detail: string; fix?: string }[];
    };
    return { code: r.code, checks: report.checks.filter((c) => /dns update on/.test(c.check)) };
  };
  const good = await dnsChecks(bind.keyFile);
  assert.equal(good.checks.length, 1, JSON.stringify(good.checks));
  assert.equal(good.checks[0]!.result, 'pass', JSON.stringify(good.checks));
  assert.match(
    good.checks[0]!.detail,
    /key failover accepted; a prerequisite-only update answered (NOERROR|YXRRSET), nothing changed/,
  );
  const bad = await dnsChecks(wrong);
  assert.equal(bad.code, 1);
  assert.equal(bad.checks[0]!.result, 'fail');
  assert.match(bad.checks[0]!.detail, /rejected TSIG key failover: BADSIG/);
  assert.match(bad.checks[0]!.fix ?? '', /update-policy/);
  assert.equal(serial(), before, "the zone's serial did not move: nothing was changed");
  assert.deepEqual(bind.dig(names.doctor), []);
  assert.deepEqual(bind.dig(`_sentinel-hook.${names.doctor}`, 'TXT'), []);
});
