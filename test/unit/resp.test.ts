import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeReply, encodeCommand, RespError } from '../../src/sentinel/resp.ts';

/** A typed protocol error (checked by name and fault, so that this file also runs against a decoder without one). */
function protocolError(what: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof Error, `not an Error: ${String(err)}`);
    assert.equal(err.name, 'RespProtocolError', `${err.name}: ${err.message}`);
    assert.equal(typeof (err as { fault?: unknown }).fault, 'string');
    assert.match(err.message, what);
    return true;
  };
}

test('commands are RESP arrays of bulk strings, byte lengths for UTF-8', () => {
  assert.equal(
    encodeCommand(['SENTINEL', 'get-master-addr-by-name', 'mé']).toString(),
    '*3\r\n$8\r\nSENTINEL\r\n$23\r\nget-master-addr-by-name\r\n$3\r\nmé\r\n',
  );
});

test('replies: arrays, bulk, nil, errors, integers, and partial input', () => {
  const reply = Buffer.from('*2\r\n$8\r\n10.0.0.2\r\n$4\r\n6379\r\n');
  assert.deepEqual(decodeReply(reply)!.value, ['10.0.0.2', '6379']);
  assert.equal(decodeReply(reply.subarray(0, 20)), undefined);
  assert.equal(decodeReply(Buffer.from('*-1\r\n'))!.value, null);
  assert.equal(decodeReply(Buffer.from('$-1\r\n'))!.value, null);
  assert.equal(decodeReply(Buffer.from(':42\r\n'))!.value, 42);
  const err = decodeReply(Buffer.from('-WRONGPASS invalid username-password pair\r\n'))!.value;
  assert.ok(err instanceof RespError);
  assert.match(err.message, /WRONGPASS/);
  assert.throws(() => decodeReply(Buffer.from('?x\r\n')), protocolError(/type byte/));
});

test('well-formed edge cases: empty bulk and array, a bulk holding CRLF, nesting within the depth, every prefix incomplete', () => {
  assert.equal(decodeReply(Buffer.from('$0\r\n\r\n'))!.value, '');
  assert.deepEqual(decodeReply(Buffer.from('*0\r\n'))!.value, []);
  assert.equal(decodeReply(Buffer.from(':-5\r\n'))!.value, -5);
  assert.equal(decodeReply(Buffer.from('+\r\n'))!.value, '');
  assert.equal(decodeReply(Buffer.from('$4\r\na\r\nb\r\n'))!.value, 'a\r\nb');
  const nested = Buffer.from(`${'*1\r\n'.repeat(8)}:1\r\n`);
  assert.deepEqual(decodeReply(nested)!.value, [[[[[[[[1]]]]]]]]);
  const message = Buffer.from(
    '*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n$40\r\nmymaster 10.0.0.1 6379 10.0.0.2 6379 xyz\r\n',
  );
  for (let end = 0; end < message.length; end++)
    assert.equal(decodeReply(message.subarray(0, end)), undefined, `prefix of ${end} bytes`);
  assert.deepEqual(decodeReply(message), {
    value: ['message', '+switch-master', 'mymaster 10.0.0.1 6379 10.0.0.2 6379 xyz'],
    next: message.length,
  });
});

/**
 * Issue 15 §5.1: "$x" from a Sentinel (or a proxy) made the length NaN, subarray(NaN) kept the whole
 * buffer and the read loop spun for good. Every malformed header, count, terminator and depth must be
 * a typed protocol error, never a value with a bogus `next`, nor "incomplete" for input that can never
 * complete.
 */
const MALFORMED: [what: string, input: string, error: RegExp][] = [
  ['a type byte RESP2 does not have', '?x\r\n', /type byte/],
  ['a RESP3 map (we never ask for RESP3)', '%1\r\n+a\r\n+b\r\n', /type byte/],
  ['a NUL type byte', '\0\r\n', /type byte/],
  ['an inline reply (no type byte)', 'OK\r\n', /type byte/],
  ['a bulk length that is not a number', '$x\r\n', /bulk length "x"/],
  ['an empty bulk length', '$\r\n', /bulk length ""/],
  ['a fractional bulk length', '$1.5\r\nabc\r\n', /bulk length/],
  ['a bulk length in hex', '$0x3\r\nabc\r\n', /bulk length/],
  ['a bulk length with a plus sign', '$+3\r\nabc\r\n', /bulk length/],
  ['a bulk length with a space', '$ 3\r\nabc\r\n', /bulk length/],
  ['a bulk length with a leading zero', '$03\r\nabc\r\n', /bulk length/],
  ['a negative bulk length other than -1', '$-2\r\n', /bulk length "-2"/],
  [
    'a bulk length beyond any integer',
    '$99999999999999999999\r\n',
    /bulk string of 100000000000000000000 bytes.*limit/,
  ],
  ['a 100 MB bulk (refused at its header, not buffered)', '$104857600\r\n', /104857600 bytes.*limit/],
  ['a bulk not followed by CRLF', '$3\r\nabcXY', /not followed by CRLF/],
  ['a bulk followed by CR and something else', '$3\r\nabc\rX', /not followed by CRLF/],
  ['an array count that is not a number', '*x\r\n', /array count "x"/],
  ['a negative array count other than -1', '*-2\r\n', /array count "-2"/],
  ['an array count that no reply within the limit can hold', '*100000000\r\n', /100000000 elements.*limit/],
  ['an integer that is not a number', ':x\r\n', /integer "x"/],
  ['an empty integer', ':\r\n', /integer ""/],
  ['a line ended by LF alone', '+OK\n', /LF without CR/],
  ['a header ended by LF alone', '$3\nabc\r\n', /LF without CR/],
  ['a CR inside a line', '+O\rK\r\n', /CR without LF/],
  ['a length header that never ends', `$${'1'.repeat(40)}`, /header longer than/],
  ['arrays nested deeper than 8', `${'*1\r\n'.repeat(9)}:1\r\n`, /nested deeper than 8/],
  ['a malformed element inside an array', '*2\r\n$1\r\na\r\n$x\r\n', /bulk length "x"/],
  [
    'the pub/sub message of issue 15',
    '*3\r\n$7\r\nmessage\r\n$14\r\n+switch-master\r\n$x\r\nmymaster 10.0.0.1 6379 10.0.0.2 6379\r\n',
    /bulk length "x"/,
  ],
];

for (const [what, input, error] of MALFORMED) {
  test(`malformed: ${what} is a protocol error`, () => {
    assert.throws(() => decodeReply(Buffer.from(input, 'latin1')), protocolError(error));
  });
}

test('the size limit: a reply of exactly the limit is read, one byte more is refused before it is all there', () => {
  const limit = 1024;
  const body = 'a'.repeat(limit - '$1017\r\n\r\n'.length);
  const exact = Buffer.from(`$${body.length}\r\n${body}\r\n`);
  assert.equal(exact.length, limit);
  assert.equal(decodeReply(exact, limit)!.value, body);
  const over = Buffer.from(`$${body.length + 1}\r\n`);
  assert.throws(() => decodeReply(over, limit), protocolError(/limit of 1024 bytes/));
  // A line that never ends is refused once it passes the limit, not buffered for ever.
  assert.equal(decodeReply(Buffer.from(`+${'a'.repeat(limit - 2)}`), limit), undefined);
  assert.throws(() => decodeReply(Buffer.from(`+${'a'.repeat(limit)}`), limit), protocolError(/limit of 1024 bytes/));
  // The limit counts the whole reply, elements included.
  assert.throws(
    () => decodeReply(Buffer.from(`*2\r\n$600\r\n${'a'.repeat(600)}\r\n$600\r\n`), limit),
    protocolError(/limit of 1024 bytes/),
  );
});

test('any bytes at all: a value that moves forward, "incomplete", or a protocol error; never a stall', () => {
  const token = fc.constantFrom(
    '*',
    '$',
    ':',
    '+',
    '-',
    '%',
    '\r\n',
    '\r',
    '\n',
    '0',
    '1',
    '2',
    '3',
    '-1',
    '-2',
    'x',
    'a',
    ' ',
    '99999999999',
    '1.5',
  );
  fc.assert(
    fc.property(fc.array(token, { maxLength: 40 }), (tokens) => {
      const buf = Buffer.from(tokens.join(''));
      let parsed: ReturnType<typeof decodeReply>;
      try {
        parsed = decodeReply(buf, 256);
      } catch (err) {
        return protocolError(/./)(err);
      }
      if (parsed === undefined) return true;
      assert.ok(
        Number.isInteger(parsed.next) && parsed.next > 0 && parsed.next <= buf.length,
        `next ${parsed.next} of ${buf.length}`,
      );
      return true;
    }),
    { numRuns: 3000 },
  );
});

test('a server that accepts and never replies: the query ends at its timeout, or at once when the signal aborts; the socket is closed', async (t) => {
  const { createServer } = await import('node:net');
  const { sendCommands } = await import('../../src/sentinel/resp.ts');
  let closed = 0;
  const server = createServer((socket) =>
    socket
      .on('close', () => closed++)
      .on('error', () => {})
      .resume(),
  );
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  t.after(() => server.close());
  const port = (server.address() as { port: number }).port;
  await assert.rejects(sendCommands('127.0.0.1', port, [['PING']], 200), /no answer within 200 ms/);
  const deadline = new AbortController();
  const started = performance.now();
  const pending = sendCommands('127.0.0.1', port, [['PING']], 30_000, deadline.signal);
  setTimeout(() => deadline.abort(), 100);
  await assert.rejects(pending, /no answer before the run's deadline/);
  assert.ok(performance.now() - started < 3000);
  await assert.rejects(
    sendCommands('127.0.0.1', port, [['PING']], 30_000, deadline.signal),
    /before the run's deadline/,
    'already past the deadline: not even a connection',
  );
  for (let i = 0; i < 50 && closed < 2; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(closed, 2, 'both connections closed');
});

test('a question answered with "$x" ends with a protocol error, not a wedged loop (run in a child: a wedge there cannot hang this test)', {
  timeout: 30_000,
}, async (t) => {
  const { createServer } = await import('node:net');
  const { startProbe } = await import('../support/fake-sentinel.ts');
  const server = createServer((socket) =>
    socket.on('error', () => {}).once('data', () => socket.write('$x\r\n10.0.0.2\r\n')),
  );
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  t.after(() => server.close());
  const probe = startProbe(t, 'resp-probe.ts', ['ask', `127.0.0.1:${(server.address() as { port: number }).port}`]);
  const timer = new Promise<'wedged'>((ok) => setTimeout(() => ok('wedged'), 10_000).unref());
  const how = await Promise.race([probe.exited, timer]);
  assert.notEqual(how, 'wedged', `the question did not end within 10 s; the probe said: ${probe.output()}`);
  assert.deepEqual(probe.events, [
    { event: 'error', name: 'RespProtocolError', message: 'protocol error: bulk length "x" is not a number' },
  ]);
});

test('a question whose reply would pass 1 MiB is dropped at once: a 100 MB bulk by its header, a line that never ends once past the limit', async (t) => {
  const { createServer } = await import('node:net');
  const { sendCommands } = await import('../../src/sentinel/resp.ts');
  let closed = 0;
  const replies = [`$104857600\r\n${'a'.repeat(1000)}`, `+${'a'.repeat(2 << 20)}`];
  let n = 0;
  const server = createServer((socket) => {
    const reply = replies[n++]!;
    socket
      .on('close', () => closed++)
      .on('error', () => {})
      .once('data', () => socket.write(reply));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  t.after(() => server.close());
  const port = (server.address() as { port: number }).port;
  for (let i = 0; i < replies.length; i++) {
    const started = performance.now();
    await assert.rejects(sendCommands('127.0.0.1', port, [['PING']], 5000), protocolError(/limit of 1048576 bytes/));
    assert.ok(
      performance.now() - started < 2500,
      `reply ${i} refused only after ${Math.round(performance.now() - started)} ms`,
    );
  }
  for (let i = 0; i < 50 && closed < 2; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(closed, 2, 'both connections closed');
});

test('askSentinel: an address whose port is not a port is that Sentinel failing to answer, not a verdict on the event', async (t) => {
  const { scriptedSentinel } = await import('../support/loopback-redis.ts');
  const { askSentinel } = await import('../../src/sentinel/client.ts');
  const bulk = (s: string) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
  const ports = ['x', '0', '65536', '', '6379 '];
  let n = 0;
  const sentinel = await scriptedSentinel(() => `*2\r\n${bulk('10.0.0.2')}${bulk(ports[n++ % ports.length]!)}`);
  t.after(() => sentinel.close());
  const cfg = { addresses: [sentinel.address], timeout: 2000, settle: 0 };
  for (const port of ports) {
    const answer = await askSentinel(sentinel.address, 'mymaster', cfg, undefined);
    assert.deepEqual(answer, {
      address: sentinel.address,
      error: `protocol error: get-master-addr-by-name answered the port ${JSON.stringify(port)}`,
    });
  }
  const valid = await scriptedSentinel(() => `*2\r\n${bulk('10.0.0.2')}${bulk('6379')}`);
  t.after(() => valid.close());
  assert.deepEqual(await askSentinel(valid.address, 'mymaster', { ...cfg, addresses: [valid.address] }, undefined), {
    address: valid.address,
    master: { ip: '10.0.0.2', port: 6379 },
  });
});
