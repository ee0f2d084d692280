// RFC 2136 UPDATE messages and plain queries on the wire. dns-packet encodes names, questions and the
// rdata of ordinary records, and decodes answers; it has no class NONE and no empty rdata, which an
// UPDATE's prerequisite and delete records are made of: those few bytes are written here.
import * as dnsPacket from 'dns-packet';

/** What dns-packet exports at run time but its type definitions leave out. */
interface Codec<T> {
  encode(value: T, buf?: Buffer, offset?: number): Buffer;
  encodingLength(value: T): number;
  decode(buf: Buffer, offset?: number): T;
}
interface PacketCodecs {
  name: Codec<string> & { decode: { (buf: Buffer, offset?: number): string; bytes: number } };
  answer: Codec<dnsPacket.Answer>;
  question: Codec<dnsPacket.Question>;
}
const codecs = dnsPacket as unknown as PacketCodecs;

export const TYPE = { A: 1, SOA: 6, TXT: 16, AAAA: 28, TSIG: 250, ANY: 255 } as const;
export const CLASS = { IN: 1, NONE: 254, ANY: 255 } as const;
export const OPCODE = { QUERY: 0, UPDATE: 5 } as const;
export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  YXDOMAIN: 6,
  YXRRSET: 7,
  NXRRSET: 8,
  NOTAUTH: 9,
  NOTZONE: 10,
} as const;
export const RCODE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(RCODE).map(([k, v]) => [v, k]));

export type AddressType = 'A' | 'AAAA';

/** One record of an update's prerequisite or update section (RFC 2136 2.4 and 2.5). */
export type UpdateRecord =
  /** An RRset that must exist with exactly these records (value-dependent), or a record to add. */
  | { kind: 'exact' | 'add'; name: string; type: AddressType | 'TXT'; ttl: number; data: string | Buffer[] }
  /** Prerequisite "RRset does not exist" (class NONE), or update "delete the RRset" (class ANY). */
  | { kind: 'absent' | 'delete'; name: string; type: AddressType | 'TXT' };

export interface UpdateMessage {
  id: number;
  zone: string;
  prerequisites: UpdateRecord[];
  updates: UpdateRecord[];
}

function header(id: number, opcode: number, counts: [number, number, number, number]): Buffer {
  const buf = Buffer.alloc(12);
  buf.writeUInt16BE(id, 0);
  buf.writeUInt16BE(opcode << 11, 2);
  for (const [i, n] of counts.entries()) buf.writeUInt16BE(n, 4 + 2 * i);
  return buf;
}

/** A name in wire form, uncompressed; lower case where a MAC is computed over it (RFC 8945 4.3.3). */
export function encodeName(name: string, canonical = false): Buffer {
  return codecs.name.encode(canonical ? name.toLowerCase() : name);
}

function encodeRecord(r: UpdateRecord): Buffer {
  if (r.kind === 'exact' || r.kind === 'add') {
    // Prerequisite records carry TTL 0 (RFC 2136 2.4.2); dns-packet writes the rdata.
    // dns-packet turns TXT strings into Buffers in the array it is given: it gets a copy.
    const data = Array.isArray(r.data) ? [...r.data] : r.data;
    const answer = { name: r.name, type: r.type, class: 'IN', ttl: r.kind === 'add' ? r.ttl : 0, data };
    return codecs.answer.encode(answer as dnsPacket.Answer);
  }
  const name = encodeName(r.name);
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(TYPE[r.type], 0);
  fixed.writeUInt16BE(r.kind === 'absent' ? CLASS.NONE : CLASS.ANY, 2);
  // TTL 0 and RDLENGTH 0 stay as allocated.
  return Buffer.concat([name, fixed]);
}

export function encodeUpdate(m: UpdateMessage): Buffer {
  const question: dnsPacket.Question = { name: m.zone, type: 'SOA', class: 'IN' };
  // question.encode returns its input, not the bytes: they land in the buffer given.
  const zone = Buffer.alloc(codecs.question.encodingLength(question));
  codecs.question.encode(question, zone);
  return Buffer.concat([
    header(m.id, OPCODE.UPDATE, [1, m.prerequisites.length, m.updates.length, 0]),
    zone,
    ...m.prerequisites.map(encodeRecord),
    ...m.updates.map(encodeRecord),
  ]);
}

export function encodeQuery(id: number, name: string, type: AddressType | 'TXT' | 'SOA'): Buffer {
  // No recursion wanted: the zone's own primary answers with what it holds.
  return dnsPacket.encode({ type: 'query', id, flags: 0, questions: [{ name, type, class: 'IN' }] });
}

/** The fixed fields of a message, read without decoding the rest. */
export interface Header {
  id: number;
  response: boolean;
  opcode: number;
  truncated: boolean;
  authoritative: boolean;
  rcode: number;
  counts: [number, number, number, number];
}

export function readHeader(buf: Buffer): Header {
  if (buf.length < 12) throw new Error(`a DNS message of ${buf.length} bytes (12 at least)`);
  const flags = buf.readUInt16BE(2);
  return {
    id: buf.readUInt16BE(0),
    response: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    authoritative: (flags & 0x0400) !== 0,
    truncated: (flags & 0x0200) !== 0,
    rcode: flags & 0xf,
    counts: [buf.readUInt16BE(4), buf.readUInt16BE(6), buf.readUInt16BE(8), buf.readUInt16BE(10)],
  };
}

/** Where the name at `offset` ends (a compression pointer ends it after two bytes). */
export function skipName(buf: Buffer, offset: number): number {
  let at = offset;
  for (;;) {
    if (at >= buf.length) throw new Error('a name runs past the end of the message');
    const len = buf[at]!;
    if (len === 0) return at + 1;
    if ((len & 0xc0) === 0xc0) return at + 2;
    if (len & 0xc0) throw new Error(`label type 0x${len.toString(16)} is not one DNS uses`);
    at += 1 + len;
  }
}

export function decodeName(buf: Buffer, offset: number): string {
  return codecs.name.decode(buf, offset);
}

/** The offset of each resource record after the question section, in order. */
export function recordOffsets(buf: Buffer): number[] {
  const h = readHeader(buf);
  let at = 12;
  for (let i = 0; i < h.counts[0]; i++) at = skipName(buf, at) + 4;
  const offsets: number[] = [];
  const records = h.counts[1] + h.counts[2] + h.counts[3];
  for (let i = 0; i < records; i++) {
    offsets.push(at);
    const fixed = skipName(buf, at);
    if (fixed + 10 > buf.length) throw new Error('a record runs past the end of the message');
    at = fixed + 10 + buf.readUInt16BE(fixed + 8);
    if (at > buf.length) throw new Error('a record runs past the end of the message');
  }
  return offsets;
}

/** An answer section's records of one name and type: address text or TXT strings, and the TTL. */
export interface RRset {
  records: { ttl: number; data: string | Buffer[] }[];
}

/** The answers to a query, as dns-packet decodes them (a TSIG record, if any, is the caller's). */
export function answersOf(buf: Buffer, name: string, type: AddressType | 'TXT'): RRset {
  const decoded = dnsPacket.decode(buf);
  const wanted = name.toLowerCase().replace(/\.$/, '');
  const records = (decoded.answers ?? []).flatMap((a) => {
    if (a.type !== type || a.name.toLowerCase().replace(/\.$/, '') !== wanted) return [];
    const data = a.data as string | Buffer | Buffer[];
    return [{ ttl: a.ttl ?? 0, data: Buffer.isBuffer(data) ? [data] : data }];
  });
  return { records };
}
