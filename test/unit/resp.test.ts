import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeReply, encodeCommand, RespError } from '../../src/sentinel/resp.ts';

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
  assert.throws(() => decodeReply(Buffer.from('?x\r\n')), /unexpected RESP type/);
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
