// One DNS exchange with one server: UDP first, TCP when the answer is truncated or the message is too
// large for a plain UDP datagram (RFC 1035 4.2: 512 bytes without EDNS, which we do not send).
import { createSocket } from 'node:dgram';
import { readHeader } from './message.ts';

export const UDP_LIMIT = 512;

/** A server as the config names it, its host resolved to one address. */
export interface Endpoint {
  address: string;
  port: number;
  /** How messages name it: "10.0.0.53:53", "[fd00::53]:53", "ns1.example:53 (10.0.0.53)". */
  label: string;
  /** The server as the config names it (its label there), when it was given by name. */
  server?: string;
}

export class TransportError extends Error {
  readonly why: 'timeout' | 'unreachable' | 'malformed';
  constructor(why: TransportError['why'], message: string) {
    super(message);
    this.why = why;
  }
}

export interface ExchangeOptions {
  timeoutMs: number;
  signal: AbortSignal;
}

/** The answer to `message` (its ID matched), over UDP or TCP; throws a TransportError. */
export async function exchange(to: Endpoint, message: Buffer, o: ExchangeOptions): Promise<Buffer> {
  if (message.length > UDP_LIMIT) return exchangeTcp(to, message, o);
  const answer = await exchangeUdp(to, message, o);
  return readHeader(answer).truncated ? exchangeTcp(to, message, o) : answer;
}

function bounded<T>(
  o: ExchangeOptions,
  what: string,
  start: (settle: (result: Buffer | Error) => void) => () => void,
): Promise<T> {
  return new Promise((resolve, reject) => {
    let stop: () => void = () => {};
    let done = false;
    const settle = (result: Buffer | Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      o.signal.removeEventListener('abort', onAbort);
      stop();
      if (result instanceof Error) reject(result);
      else resolve(result as T);
    };
    const onAbort = () => settle(new TransportError('timeout', `${what}: the run's deadline passed`));
    const timer = setTimeout(
      () => settle(new TransportError('timeout', `${what}: no answer within ${o.timeoutMs} ms`)),
      o.timeoutMs,
    );
    if (o.signal.aborted) return onAbort();
    o.signal.addEventListener('abort', onAbort, { once: true });
    stop = start(settle);
  });
}

function exchangeUdp(to: Endpoint, message: Buffer, o: ExchangeOptions): Promise<Buffer> {
  const id = message.readUInt16BE(0);
  return bounded(o, `${to.label} (UDP)`, (settle) => {
    const socket = createSocket(to.address.includes(':') ? 'udp6' : 'udp4');
    socket.on('error', (err) => settle(new TransportError('unreachable', `${to.label} (UDP): ${err.message}`)));
    socket.on('message', (answer, from) => {
      // Anything else on this socket is not the answer (a late one from an earlier try, or a spoof).
      if (from.port !== to.port || answer.length < 12 || answer.readUInt16BE(0) !== id) return;
      if (!readHeader(answer).response) return;
      settle(answer);
    });
    socket.connect(to.port, to.address, () => {
      socket.send(message, (err) => {
        if (err) settle(new TransportError('unreachable', `${to.label} (UDP): ${err.message}`));
      });
    });
    return () => socket.close();
  });
}

function exchangeTcp(to: Endpoint, message: Buffer, o: ExchangeOptions): Promise<Buffer> {
  const id = message.readUInt16BE(0);
  return bounded(o, `${to.label} (TCP)`, (settle) => {
    // node:net (and node:stream under it) loaded here, not imported at the top: the bundle would load it at
    // every start, dry-runs and exec-only runs included (~5 ms).
    const socket = process.getBuiltinModule('node:net').connect({ host: to.address, port: to.port });
    let received = Buffer.alloc(0);
    socket.on('error', (err) => settle(new TransportError('unreachable', `${to.label} (TCP): ${err.message}`)));
    socket.on('connect', () => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(message.length, 0);
      socket.write(Buffer.concat([length, message]));
    });
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 2) return;
      const length = received.readUInt16BE(0);
      if (received.length < 2 + length) return;
      const answer = received.subarray(2, 2 + length);
      settle(
        answer.length >= 12 && answer.readUInt16BE(0) === id
          ? answer
          : new TransportError('malformed', `${to.label} (TCP): an answer to another message`),
      );
    });
    socket.on('end', () => settle(new TransportError('unreachable', `${to.label} (TCP): closed before answering`)));
    return () => socket.destroy();
  });
}
