import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';

export type RespValue = string | number | null | RespValue[] | RespError;
export class RespError {
  constructor(readonly message: string) {}
}

/** How a peer's bytes fail to be RESP2: one code per way, for tests and logs. */
export type RespFault = 'type' | 'number' | 'framing' | 'too-large' | 'too-deep';

/**
 * The peer does not speak RESP2 as Redis writes it (a Sentinel with a bug, a proxy in front of one,
 * something else on the port). Nothing after it on that connection can be trusted to be framed
 * right: the connection is dropped, never read on.
 */
export class RespProtocolError extends Error {
  override readonly name = 'RespProtocolError';
  constructor(
    readonly fault: RespFault,
    detail: string,
  ) {
    super(`protocol error: ${detail}`);
  }
}

/**
 * The most one command reply may take. The largest answer the hook and watch ask for is SENTINEL
 * MASTER: 643 bytes from redis-sentinel 7.0.15 for one master (41 fields), a few KB with host names.
 * A MiB is a thousand times that, so a healthy Sentinel is never cut off (a cut-off Sentinel counts as
 * one that did not answer, which weighs in every verdict), and a few questions in flight hold a few
 * MiB at worst, not whatever a peer announces.
 */
export const COMMAND_REPLY_LIMIT = 1 << 20;
/**
 * The most one pub/sub message may take. What we subscribe to (+switch-master, +promoted-slave, their
 * confirmations) is a master name and two addresses: under 1 KiB even with two 253-character host
 * names. Past 64 KiB the subscription is dropped, which costs a reconnect and a reconcile, nothing more.
 */
export const PUBSUB_MESSAGE_LIMIT = 64 << 10;
/** Sentinel's replies are flat or one level deep (SENTINEL MASTERS); deeper than this is not Redis. */
const MAX_DEPTH = 8;
/** The longest length or integer Redis writes: -9223372036854775808. */
const MAX_HEADER = 20;
/** `-1` (nil) or a size, as Redis writes them: no sign, no leading zero, no spaces. */
const LENGTH = /^(?:-1|0|[1-9]\d*)$/;
const INTEGER = /^-?(?:0|[1-9]\d*)$/;
const CR = 0x0d;
const LF = 0x0a;
const TYPES = new Set([0x2b, 0x2d, 0x3a, 0x24, 0x2a]); // + - : $ *

/** Encode a command as a RESP array of bulk strings (what redis-cli sends). */
export function encodeCommand(args: readonly string[]): Buffer {
  const parts = [`*${args.length}\r\n`];
  for (const arg of args) parts.push(`$${Buffer.byteLength(arg)}\r\n${arg}\r\n`);
  return Buffer.from(parts.join(''));
}

/**
 * Parse the RESP2 reply at the start of `buf`: the value and where the next one starts (always past
 * this one's first byte), or undefined while more bytes are needed. Throws RespProtocolError for
 * anything Redis would not write, and as soon as the reply is known to need more than `limit` bytes
 * (a 100 MB bulk is refused at its header, not buffered), so that a caller's read loop always moves
 * on or waits, and what it buffers stays below `limit` plus one read.
 */
export function decodeReply(buf: Buffer, limit = COMMAND_REPLY_LIMIT): { value: RespValue; next: number } | undefined {
  const tooLarge = (what: string) =>
    new RespProtocolError('too-large', `${what}: past the limit of ${limit} bytes for one reply`);

  /** The index of the CR ending the line whose type byte is at `at`; undefined until its LF is here. */
  const lineEnd = (at: number, header: boolean): number | undefined => {
    // Where the LF may be at the latest (exclusive): a header holds a number, any line ends within the limit.
    const latest = Math.min(limit, header ? at + 1 + MAX_HEADER + 2 : limit);
    const lf = buf.subarray(0, latest).indexOf(LF, at + 1);
    if (lf < 0) {
      if (buf.length < latest) return undefined;
      if (latest === limit) throw tooLarge('a line that does not end');
      throw new RespProtocolError(
        'framing',
        `a header longer than ${MAX_HEADER} characters after ${JSON.stringify(String.fromCharCode(buf[at]!))}`,
      );
    }
    if (lf === at + 1 || buf[lf - 1] !== CR) throw new RespProtocolError('framing', 'a line ended by LF without CR');
    if (buf.indexOf(CR, at + 1) < lf - 1) throw new RespProtocolError('framing', 'a CR without LF inside a line');
    return lf - 1;
  };

  const size = (text: string, what: string): number => {
    if (LENGTH.test(text)) return Number(text);
    const shown = JSON.stringify(text);
    throw new RespProtocolError(
      'number',
      /^-\d+$/.test(text) ? `${what} ${shown} is negative and not -1 (nil)` : `${what} ${shown} is not a number`,
    );
  };

  const read = (at: number, depth: number): { value: RespValue; next: number } | undefined => {
    if (at >= buf.length) return undefined;
    const type = buf[at]!;
    if (!TYPES.has(type)) {
      const printable = type > 0x20 && type < 0x7f ? ` (${JSON.stringify(String.fromCharCode(type))})` : '';
      throw new RespProtocolError(
        'type',
        `type byte 0x${type.toString(16).padStart(2, '0')}${printable} is not one of + - : $ *`,
      );
    }
    const cr = lineEnd(at, type !== 0x2b && type !== 0x2d);
    if (cr === undefined) return undefined;
    const text = buf.toString('utf8', at + 1, cr);
    const after = cr + 2;
    if (type === 0x2b) return { value: text, next: after };
    if (type === 0x2d) return { value: new RespError(text), next: after };
    if (type === 0x3a) {
      if (!INTEGER.test(text)) throw new RespProtocolError('number', `integer ${JSON.stringify(text)} is not a number`);
      return { value: Number(text), next: after };
    }
    if (type === 0x24) {
      const len = size(text, 'bulk length');
      if (len < 0) return { value: null, next: after };
      const end = after + len;
      if (end + 2 > limit) throw tooLarge(`a bulk string of ${len} bytes`);
      // A wrong terminator is told as soon as it is here: waiting for the rest would not change it.
      if ((buf.length > end && buf[end] !== CR) || (buf.length > end + 1 && buf[end + 1] !== LF))
        throw new RespProtocolError('framing', `a bulk string of ${len} bytes not followed by CRLF`);
      if (buf.length < end + 2) return undefined;
      return { value: buf.toString('utf8', after, end), next: end + 2 };
    }
    const count = size(text, 'array count');
    if (count < 0) return { value: null, next: after };
    if (depth > MAX_DEPTH) throw new RespProtocolError('too-deep', `arrays nested deeper than ${MAX_DEPTH}`);
    // Every element takes 3 bytes at least ("+\r\n"): a count that cannot fit is refused before a wait.
    if (after + count * 3 > limit) throw tooLarge(`an array of ${count} elements`);
    const items: RespValue[] = [];
    let next = after;
    for (let i = 0; i < count; i++) {
      const item = read(next, depth + 1);
      if (!item) return undefined;
      items.push(item.value);
      next = item.next;
    }
    return { value: items, next };
  };

  return read(0, 1);
}

type NodeTls = typeof import('node:tls');
let nodeTlsModule: Promise<NodeTls> | undefined;

/**
 * node:tls, loaded only when a Sentinel is asked over TLS: it costs a cold start that plain TCP does
 * not pay. In the CommonJS bundle (run from a vm.Script for its code cache) a dynamic import() has no
 * loader behind it on Node 20, so require() it there; under tsx (tests) it is an ES module.
 */
export function loadNodeTls(): Promise<NodeTls> {
  nodeTlsModule ??=
    typeof require === 'function' ? Promise.resolve(require('node:tls') as NodeTls) : import('node:tls');
  return nodeTlsModule;
}

/** A TLS connection's settings: the context holds the trusted CA (and our certificate). */
export interface TlsOptions {
  secureContext: SecureContext;
  /** The name the certificate must carry (and SNI); absent: `host` itself, an IP checked against IP SANs. */
  servername?: string | undefined;
}

/**
 * Send a few commands on one connection and collect one reply each, all within `timeoutMs`, or
 * until `signal` aborts (the run's deadline); the socket is closed either way. With `tls`, over TLS,
 * the certificate verified (a failure rejects with Node's error, its `code` saying why).
 * Small on purpose: the hook only ever asks Sentinels two questions.
 */
export async function sendCommands(
  host: string,
  port: number,
  commands: readonly string[][],
  timeoutMs: number,
  signal?: AbortSignal,
  tls?: TlsOptions,
): Promise<RespValue[]> {
  const tlsConnect = tls ? (await loadNodeTls()).connect : undefined;
  return new Promise((resolve, reject) => {
    let socket: Socket | undefined;
    let buf = Buffer.alloc(0);
    const replies: RespValue[] = [];
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket?.destroy();
      if (err) reject(err);
      else resolve(replies);
    };
    const onAbort = () => finish(new Error("no answer before the run's deadline"));
    const timer = setTimeout(() => finish(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const send = () => socket!.write(Buffer.concat(commands.map(encodeCommand)));
    if (tlsConnect && tls) {
      const { secureContext, servername } = tls;
      socket = tlsConnect({
        host,
        port,
        secureContext,
        ...(servername ? { servername } : {}),
        rejectUnauthorized: true,
      });
      socket.on('secureConnect', send);
    } else {
      // node:net (and node:stream under it) loaded here, not imported at the top: the bundle would load it at
      // every start, dry-runs and exec-only runs included (~5 ms).
      socket = process.getBuiltinModule('node:net').connect({ host, port });
      socket.on('connect', send);
    }
    socket.setNoDelay(true);
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      try {
        while (replies.length < commands.length) {
          const parsed = decodeReply(buf, COMMAND_REPLY_LIMIT);
          if (!parsed) break;
          replies.push(parsed.value);
          buf = buf.subarray(parsed.next);
        }
      } catch (err) {
        finish(err as Error);
        return;
      }
      if (replies.length === commands.length) finish();
    });
    socket.on('error', (err) => finish(err));
    socket.on('close', () => finish(new Error('connection closed before the reply')));
  });
}
