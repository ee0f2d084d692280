import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeReply, encodeCommand, RespError } from '../../src/sentinel/resp.ts';

test('commands are RESP arrays of bulk strings, byte lengths for UTF-8', () => {
  assert.equal(encodeCommand(['SENTINEL', 'get-master-addr-by-name', 'mé']).toString(), '*3\r\n$8\r\nSENTINEL\r\n$23\r\nget-master-addr-by-name\r\n$3\r\nmé\r\n');
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
