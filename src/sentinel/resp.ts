import { connect, type Socket } from 'node:net';
import type { SecureContext } from 'node:tls';

export type RespValue = string | number | null | RespValue[] | RespError;
export class RespError {
  constructor(readonly message: string) {}
}

/** Encode a command as a RESP array of bulk strings (what redis-cli sends). */
export function encodeCommand(args: readonly string[]): Buffer {
  const parts = [`*${args.length}\r\n`];
  for (const arg of args) parts.push(`$${Buffer.byteLength(arg)}\r\n${arg}\r\n`);
  return Buffer.from(parts.join(''));
}

/** Parse one complete RESP2 value at `offset`; undefined while more bytes are needed. */
export function decodeReply(buf: Buffer, offset = 0): { value: RespValue; next: number } | undefined {
  const lineEnd = buf.indexOf('\r\n', offset);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buf[offset]!);
  const line = buf.toString('utf8', offset + 1, lineEnd);
  const after = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, next: after };
    case '-':
      return { value: new RespError(line), next: after };
    case ':':
      return { value: Number(line), next: after };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, next: after };
      if (buf.length < after + len + 2) return undefined;
      return { value: buf.toString('utf8', after, after + len), next: after + len + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, next: after };
      const items: RespValue[] = [];
      let next = after;
      for (let i = 0; i < count; i++) {
        const item = decodeReply(buf, next);
        if (!item) return undefined;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`);
  }
}

type NodeTls = typeof import('node:tls');
let nodeTlsModule: Promise<NodeTls> | undefined;

/**
 * node:tls, loaded only when a Sentinel is asked over TLS: it costs a cold start that plain TCP does
 * not pay. In the CommonJS bundle (run from a vm.Script for its code cache) a dynamic import() has no
 * loader behind it on Node 20, so require() it there; under tsx (tests) it is an ES module.
 */
export function loadNodeTls(): Promise<NodeTls> {
  nodeTlsModule ??= typeof require === 'function' ? Promise.resolve(require('node:tls') as NodeTls) : import('node:tls');
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
      socket = tlsConnect({ host, port, secureContext, ...(servername ? { servername } : {}), rejectUnauthorized: true });
      socket.on('secureConnect', send);
    } else {
      socket = connect({ host, port });
      socket.on('connect', send);
    }
    socket.setNoDelay(true);
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      try {
        while (replies.length < commands.length) {
          const parsed = decodeReply(buf);
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
