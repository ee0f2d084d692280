// UDP first, TCP when the answer is truncated or the message is too large for a plain datagram: against
// a server of the test's own on loopback (UDP and TCP on one port) that truncates as told.

import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import * as dnsPacket from 'dns-packet';
import { encodeQuery } from '../../src/actions/dns/message.ts';
import { exchange, TransportError, UDP_LIMIT } from '../../src/actions/dns/transport.ts';

async function server(t: { after: (fn: () => void) => void }, opts: { truncate: boolean }) {
  const seen: ('udp' | 'tcp')[] = [];
  const answer = (query: Buffer, truncated: boolean) =>
    dnsPacket.encode({
      type: 'response',
      id: query.readUInt16BE(0),
      flags: truncated ? dnsPacket.TRUNCATED_RESPONSE : 0,
      questions: [{ name: 'x.example.', type: 'A' }],
      answers: truncated ? [] : [{ name: 'x.example.', type: 'A', ttl: 5, data: '10.0.0.2' }],
    });
  const tcp = createServer((socket: Socket) => {
    socket.once('data', (chunk) => {
      seen.push('tcp');
      const a = answer(chunk.subarray(2), false);
      const len = Buffer.alloc(2);
      len.writeUInt16BE(a.length, 0);
      // In two pieces: a reader must wait for the whole message.
      socket.write(Buffer.concat([len, a.subarray(0, 5)]));
      setTimeout(() => socket.end(a.subarray(5)), 20);
    });
  });
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  const port = (tcp.address() as { port: number }).port;
  const udp = createSocket('udp4');
  udp.on('message', (m, from) => {
    seen.push('udp');
    udp.send(answer(m, opts.truncate), from.port, from.address);
  });
  await new Promise<void>((r) => udp.bind(port, '127.0.0.1', r));
  t.after(() => {
    udp.close();
    tcp.close();
  });
  return { endpoint: { address: '127.0.0.1', port, label: `127.0.0.1:${port}` }, seen };
}

const o = () => ({ timeoutMs: 2000, signal: AbortSignal.timeout(5000) });

test('a plain answer over UDP; a truncated one asked again over TCP (read whole across pieces)', async (t) => {
  const plain = await server(t, { truncate: false });
  const a = await exchange(plain.endpoint, encodeQuery(1, 'x.example.', 'A'), o());
  assert.deepEqual(plain.seen, ['udp']);
  assert.equal((dnsPacket.decode(a).answers![0] as { data: unknown }).data, '10.0.0.2');
  const tc = await server(t, { truncate: true });
  const b = await exchange(tc.endpoint, encodeQuery(2, 'x.example.', 'A'), o());
  assert.deepEqual(tc.seen, ['udp', 'tcp']);
  assert.equal((dnsPacket.decode(b).answers![0] as { data: unknown }).data, '10.0.0.2');
});

test('a message larger than a plain UDP datagram goes over TCP at once', async (t) => {
  const s = await server(t, { truncate: false });
  const big = encodeQuery(3, `${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.`, 'A');
  const padded = Buffer.concat([big, Buffer.alloc(UDP_LIMIT + 1 - big.length)]);
  await exchange(s.endpoint, padded, o());
  assert.deepEqual(s.seen, ['tcp']);
});

test('no answer: a TransportError after the timeout; a closed port: unreachable at once', async (t) => {
  const silent = createSocket('udp4');
  await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
  let open = true;
  t.after(() => {
    if (open) silent.close();
  });
  const port = silent.address().port;
  const started = performance.now();
  await assert.rejects(
    exchange({ address: '127.0.0.1', port, label: 'silent' }, encodeQuery(4, 'x.', 'A'), {
      timeoutMs: 300,
      signal: AbortSignal.timeout(5000),
    }),
    (err: Error) =>
      err instanceof TransportError && err.why === 'timeout' && /no answer within 300 ms/.test(err.message),
  );
  assert.ok(performance.now() - started < 2000);
  silent.close();
  open = false;
  await assert.rejects(
    exchange({ address: '127.0.0.1', port, label: 'closed' }, encodeQuery(5, 'x.', 'A'), o()),
    (err: Error) => err instanceof TransportError && err.why === 'unreachable',
  );
});
