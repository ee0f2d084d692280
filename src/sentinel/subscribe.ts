import type { Socket } from 'node:net';
import { failure } from '../failures.ts';
import { redactSecret } from '../log.ts';
import { isIpAddress } from '../values.ts';
import { refusedCommand, splitAddress } from './client.ts';
import type { TlsOptions } from './resp.ts';
import {
  decodeReply,
  encodeCommand,
  PUBSUB_MESSAGE_LIMIT,
  RespError,
  RespProtocolError,
  type RespValue,
} from './resp.ts';

/** One message a Sentinel published, e.g. +switch-master "mymaster 10.0.0.1 6379 10.0.0.2 6379". */
export interface SentinelMessage {
  sentinel: string;
  channel: string;
  message: string;
}

export interface SubscriptionEvents {
  message(m: SentinelMessage): void;
  /** Connected and subscribed: messages published while we were away are gone, so re-read the state now. */
  subscribed(sentinel: string): void;
  /** Lost (or never got) the connection; `retryInMs` until the next try. */
  lost(sentinel: string, reason: string, retryInMs: number): void;
}

/**
 * How the socket is made: plain TCP, or TLS (sentinels.tls, see tlsConnector). It calls `ready` once
 * commands can be written (after the TLS handshake for TLS). A callback, not a 'ready' event: every
 * net socket emits 'ready' on its own right after 'connect', and both were heard (AUTH and SUBSCRIBE
 * went out twice on every connection).
 */
export type Connector = (host: string, port: number, ready: () => void) => Socket;

/** TLS to the Sentinels, the certificate verified as for every question (sentinels.tls). */
export function tlsConnector(tls: typeof import('node:tls'), options: TlsOptions): Connector {
  return (host, port, ready) =>
    tls.connect(
      {
        host,
        port,
        secureContext: options.secureContext,
        ...(options.servername ? { servername: options.servername } : isIpAddress(host) ? {} : { servername: host }),
        rejectUnauthorized: true,
      },
      ready,
    );
}

const MIN_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 10_000;
/** A Sentinel that accepts the connection but never confirms the subscription is as good as down. */
const SUBSCRIBE_TIMEOUT_MS = 5000;

/**
 * A subscription to one Sentinel's pub/sub channels that never gives up: on any loss it reconnects
 * with a doubling pause (reset once subscribed), and says so, so the owner can re-read the state
 * (pub/sub is fire-and-forget). Pub/sub liveness is not judged here: a half-open connection looks
 * alive; the owner asks timed questions for that.
 */
export class SentinelSubscription {
  private socket: Socket | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private backoff = MIN_BACKOFF_MS;
  /**
   * The pause due when the last subscription was confirmed. A protocol error resumes the doubling
   * from there: a peer that garbles every connection right after confirming it would otherwise be
   * reconnected to, and every master reconciled, five times a second.
   */
  private backoffAtConfirm = MIN_BACKOFF_MS;

  constructor(
    readonly address: string,
    private readonly channels: readonly string[],
    private readonly auth: () => string[] | undefined,
    private readonly on: SubscriptionEvents,
    // node:net on first connect, not at the bundle's start (see resp.ts).
    private readonly connector: Connector = (host, port, ready) =>
      process.getBuiltinModule('node:net').connect({ host, port }, ready),
  ) {}

  start(): void {
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.socket?.destroy();
    this.socket = undefined;
  }

  private open(): void {
    if (this.stopped) return;
    const { host, port } = splitAddress(this.address);
    let buf: Buffer = Buffer.alloc(0);
    let subscribed = 0;
    let failed = false;
    const auth = this.auth();
    const socket = this.connector(host, port, () => {
      const commands = [...(auth ? [auth] : []), ['SUBSCRIBE', ...this.channels]];
      socket.write(Buffer.concat(commands.map(encodeCommand)));
    });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 5000);
    const fail = (reason: string, protocolError = false) => {
      if (failed) return;
      failed = true;
      clearTimeout(confirm);
      socket.destroy();
      if (this.socket === socket) this.socket = undefined;
      if (this.stopped) return;
      if (protocolError) this.backoff = Math.max(this.backoff, this.backoffAtConfirm);
      const wait = this.backoff;
      this.backoff = Math.min(MAX_BACKOFF_MS, this.backoff * 2);
      this.on.lost(this.address, reason, wait);
      this.timer = setTimeout(() => this.open(), wait);
    };
    const confirm = setTimeout(
      () => fail(`no subscription confirmed within ${SUBSCRIBE_TIMEOUT_MS} ms`),
      SUBSCRIBE_TIMEOUT_MS,
    );
    let authPending = auth !== undefined;
    socket.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      try {
        for (;;) {
          const parsed = decodeReply(buf, PUBSUB_MESSAGE_LIMIT);
          if (!parsed) break;
          buf = buf.subarray(parsed.next);
          const value: RespValue = parsed.value;
          if (authPending) {
            authPending = false;
            // A Sentinel without a password says so and still serves us; any other refusal is final for this try.
            if (
              value instanceof RespError &&
              !/without any password configured|no password is set|unknown command 'AUTH'/i.test(value.message)
            )
              return fail(`AUTH refused: ${value.message.split(' ')[0]}`);
            continue;
          }
          if (value instanceof RespError) {
            // Said in full: "refused: NOPERM" alone left the operator to guess which rule was missing.
            if (/^NOPERM\b/.test(value.message)) {
              const refused = refusedCommand(
                ['SUBSCRIBE', ...this.channels],
                auth?.length === 3 ? auth[1]! : 'default',
              );
              return fail(failure('sentinel-noperm', { addresses: [this.address], ...refused }).line());
            }
            return fail(`refused: ${value.message.split(' ')[0]}`);
          }
          if (!Array.isArray(value)) continue;
          const [kind, channel, payload] = value;
          if (kind === 'subscribe') {
            if (++subscribed === this.channels.length) {
              clearTimeout(confirm);
              this.backoffAtConfirm = this.backoff;
              this.backoff = MIN_BACKOFF_MS;
              this.on.subscribed(this.address);
            }
          } else if (kind === 'message' && typeof channel === 'string' && typeof payload === 'string') {
            this.on.message({ sentinel: this.address, channel, message: payload });
          }
        }
      } catch (err) {
        // The bytes that were wrong are quoted (a few at most): never with our password, should a peer echo it.
        if (err instanceof RespProtocolError) fail(redactSecret(err.message, auth?.at(-1)), true);
        else fail(`unreadable reply: ${(err as Error).message}`);
      }
    });
    socket.on('error', (err) => fail(err.message));
    socket.on('close', () => fail('connection closed'));
  }
}
