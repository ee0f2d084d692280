// TSIG (RFC 8945): a MAC over the message and a few variables, with a key both ends hold. Signing and
// verifying are the same computation; a response's MAC also covers the request's MAC, which ties the
// answer to the question we asked.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ALGORITHMS, type TsigKey } from './key.ts';
import { CLASS, decodeName, encodeName, readHeader, recordOffsets, skipName, TYPE } from './message.ts';

/** TSIG error codes (RFC 8945 3): carried in the TSIG record, with rcode NOTAUTH in the header. */
export const TSIG_ERROR = { BADSIG: 16, BADKEY: 17, BADTIME: 18, BADTRUNC: 22 } as const;
export const TSIG_ERROR_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(TSIG_ERROR).map(([k, v]) => [v, k]),
);

/** What BIND and nsupdate use: five minutes either way. */
export const FUDGE_SECONDS = 300;

interface Variables {
  keyName: string;
  algorithm: string;
  timeSigned: number;
  fudge: number;
  error: number;
  other: Buffer;
}

function u48(seconds: number): Buffer {
  const buf = Buffer.alloc(6);
  buf.writeUInt16BE(Math.floor(seconds / 2 ** 32), 0);
  buf.writeUInt32BE(seconds % 2 ** 32, 2);
  return buf;
}

/** RFC 8945 4.3.3: the TSIG variables in the MAC, names canonical (lower case, uncompressed). */
function variables(v: Variables): Buffer {
  const classTtl = Buffer.alloc(6);
  classTtl.writeUInt16BE(CLASS.ANY, 0);
  const tail = Buffer.alloc(6);
  tail.writeUInt16BE(v.fudge, 0);
  tail.writeUInt16BE(v.error, 2);
  tail.writeUInt16BE(v.other.length, 4);
  return Buffer.concat([
    encodeName(v.keyName, true),
    classTtl,
    encodeName(v.algorithm, true),
    u48(v.timeSigned),
    tail,
    v.other,
  ]);
}

function mac(key: TsigKey, requestMac: Buffer | undefined, message: Buffer, v: Variables): Buffer {
  const hmac = createHmac(ALGORITHMS[key.algorithm], key.secret);
  if (requestMac) {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(requestMac.length, 0);
    hmac.update(len).update(requestMac);
  }
  return hmac.update(message).update(variables(v)).digest();
}

export interface Signed {
  message: Buffer;
  /** What the response's MAC must cover (see verify). */
  mac: Buffer;
}

/** `message` with a TSIG record appended (ARCOUNT + 1). `now`: seconds since the epoch. */
export function sign(message: Buffer, key: TsigKey, now: number, requestMac?: Buffer): Signed {
  const v: Variables = {
    keyName: key.name,
    algorithm: key.algorithm,
    timeSigned: now,
    fudge: FUDGE_SECONDS,
    error: 0,
    other: Buffer.alloc(0),
  };
  const digest = mac(key, requestMac, message, v);
  const macSize = Buffer.alloc(2);
  macSize.writeUInt16BE(digest.length, 0);
  // Original ID, then error and other length, both 0.
  const after = Buffer.alloc(6);
  after.writeUInt16BE(message.readUInt16BE(0), 0);
  const fudge = Buffer.alloc(2);
  fudge.writeUInt16BE(v.fudge, 0);
  const rdata = Buffer.concat([encodeName(v.algorithm), u48(v.timeSigned), fudge, macSize, digest, after]);
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(TYPE.TSIG, 0);
  fixed.writeUInt16BE(CLASS.ANY, 2);
  fixed.writeUInt16BE(rdata.length, 8);
  const signed = Buffer.concat([message, encodeName(key.name), fixed, rdata]);
  signed.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return { message: signed, mac: digest };
}

/** The TSIG record at the end of a message, as sent. */
export interface TsigRecord {
  keyName: string;
  algorithm: string;
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  other: Buffer;
  /** The message as it was before signing: without this record, ARCOUNT and ID as the signer had them. */
  unsigned: Buffer;
}

/** The message's TSIG record, if it has one (it must be the last record: RFC 8945 5.1). */
export function readTsig(buf: Buffer): TsigRecord | undefined {
  const offsets = recordOffsets(buf);
  const h = readHeader(buf);
  const start = offsets.at(-1);
  if (start === undefined || h.counts[3] === 0) return undefined;
  const fixed = skipName(buf, start);
  if (buf.readUInt16BE(fixed) !== TYPE.TSIG) return undefined;
  let at = fixed + 10;
  const algorithm = decodeName(buf, at);
  at = skipName(buf, at);
  const timeSigned = buf.readUInt16BE(at) * 2 ** 32 + buf.readUInt32BE(at + 2);
  const fudge = buf.readUInt16BE(at + 6);
  const macSize = buf.readUInt16BE(at + 8);
  const macBytes = Buffer.from(buf.subarray(at + 10, at + 10 + macSize));
  at += 10 + macSize;
  const originalId = buf.readUInt16BE(at);
  const error = buf.readUInt16BE(at + 2);
  const otherLen = buf.readUInt16BE(at + 4);
  const other = Buffer.from(buf.subarray(at + 6, at + 6 + otherLen));
  const unsigned = Buffer.from(buf.subarray(0, start));
  unsigned.writeUInt16BE(originalId, 0);
  unsigned.writeUInt16BE(h.counts[3] - 1, 10);
  return {
    keyName: decodeName(buf, start),
    algorithm,
    timeSigned,
    fudge,
    mac: macBytes,
    originalId,
    error,
    other,
    unsigned,
  };
}

export type Verdict =
  | { ok: true; record: TsigRecord }
  | { ok: false; why: 'malformed' | 'unsigned' | 'other-key' | 'bad-mac' | 'bad-time'; record?: TsigRecord };

/**
 * Check a signed message with `key`: a request as a server would (no requestMac), or the response to
 * our request (its MAC). `now` in seconds. A response that reports a TSIG error carries no MAC to check.
 */
export function verify(buf: Buffer, key: TsigKey, now: number, requestMac?: Buffer): Verdict {
  let record: TsigRecord | undefined;
  try {
    record = readTsig(buf);
  } catch {
    return { ok: false, why: 'malformed' };
  }
  if (!record) return { ok: false, why: 'unsigned' };
  const sameName = (a: string, b: string) => a.toLowerCase().replace(/\.$/, '') === b.toLowerCase().replace(/\.$/, '');
  if (!sameName(record.keyName, key.name) || !sameName(record.algorithm, key.algorithm))
    return { ok: false, why: 'other-key', record };
  const expected = mac(key, requestMac, record.unsigned, record);
  if (expected.length !== record.mac.length || !timingSafeEqual(expected, record.mac))
    return { ok: false, why: 'bad-mac', record };
  if (Math.abs(now - record.timeSigned) > record.fudge) return { ok: false, why: 'bad-time', record };
  return { ok: true, record };
}
