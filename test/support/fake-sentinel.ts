import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { resolve } from 'node:path';
import type { TestContext } from 'node:test';
import { createServer as createTlsServer } from 'node:tls';
import { decodeReply } from '../../src/sentinel/resp.ts';

function bulk(s: string): string {
  return `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
}

function array(items: string[]): string {
  return `*${items.length}\r\n${items.map(bulk).join('')}`;
}

/** What the fake Sentinel says the master is, for every master name it is asked about. */
export interface FakeMaster {
  ip: string;
  port: number;
  epoch: number;
}

/** Another Sentinel of its group, as SENTINEL SENTINELS lists it. */
export interface FakePeer {
  ip: string;
  port: number;
  runid: string;
}

export interface FakeSentinel {
  address: string;
  /** Connections that sent SUBSCRIBE, oldest first. */
  subscribers: Socket[];
  /** Every other command, as received. */
  seen: string[][];
  /** Publish to the subscribers still connected, in Redis's framing. */
  publish(channel: string, message: string): void;
  close(): Promise<void>;
}

/**
 * A Sentinel on 127.0.0.1 that answers the questions the hook and watch ask (SENTINEL MASTER,
 * get-master-addr-by-name) from `master()`, confirms SUBSCRIBE as Redis does, and lets a test
 * misbehave on the n-th subscription (from 1) once it is confirmed. With `tls` (PEM files), over TLS.
 * With `id`, it answers SENTINEL MYID; with `peers`, SENTINEL SENTINELS (else both are unknown
 * commands, as to an ACL user without them). `delayMs` holds each answer back that long, in order,
 * as a Sentinel that is busy or far away would.
 */
export async function fakeSentinel(
  opts: {
    master?: (name: string) => FakeMaster;
    afterSubscribe?: (socket: Socket, n: number) => void;
    tls?: { cert: string; key: string };
    id?: string;
    peers?: () => FakePeer[];
    delayMs?: () => number;
  } = {},
): Promise<FakeSentinel> {
  const master = opts.master ?? (() => ({ ip: '127.0.0.1', port: 6379, epoch: 0 }));
  const subscribers: Socket[] = [];
  const seen: string[][] = [];
  const sockets = new Set<Socket>();
  const answer = (command: string[]): string => {
    const [verb, sub, name = ''] = command;
    const m = master(name);
    if (verb?.toUpperCase() === 'SENTINEL' && sub?.toUpperCase() === 'MASTER')
      return array([
        'name',
        name,
        'ip',
        m.ip,
        'port',
        String(m.port),
        'flags',
        'master',
        'config-epoch',
        String(m.epoch),
      ]);
    if (verb?.toUpperCase() === 'SENTINEL' && sub === 'get-master-addr-by-name') return array([m.ip, String(m.port)]);
    if (verb?.toUpperCase() === 'SENTINEL' && sub?.toUpperCase() === 'MYID' && opts.id) return bulk(opts.id);
    if (verb?.toUpperCase() === 'SENTINEL' && sub?.toUpperCase() === 'SENTINELS' && opts.peers) {
      const peers = opts.peers();
      // Redis lists each as a flat field/value array; the fields we do not read are left out.
      return `*${peers.length}\r\n${peers
        .map((p) => array(['name', `${p.ip}:${p.port}`, 'ip', p.ip, 'port', String(p.port), 'runid', p.runid]))
        .join('')}`;
    }
    if (verb?.toUpperCase() === 'PING') return '+PONG\r\n';
    return `-ERR unknown command '${verb}'\r\n`;
  };
  const serve = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket)).on('error', () => {});
    let buf = Buffer.alloc(0);
    // Held-back answers leave in the order they were asked; with none held back, at once.
    let queue = Promise.resolve();
    let held = 0;
    const send = (text: string, ms: number) => {
      if (ms <= 0 && held === 0) {
        socket.write(text);
        return;
      }
      held++;
      queue = queue
        .then(() => new Promise((ok) => setTimeout(ok, ms).unref()))
        .then(() => {
          held--;
          if (!socket.destroyed) socket.write(text);
        });
    };
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      // Our own client sends well-formed commands; anything else ends this connection.
      for (let i = 0; i < 100; i++) {
        const parsed = decodeReply(buf);
        if (!parsed) return;
        buf = buf.subarray(parsed.next);
        const command = (parsed.value as string[]).map(String);
        if (command[0]?.toUpperCase() !== 'SUBSCRIBE') {
          seen.push(command);
          send(answer(command), opts.delayMs?.() ?? 0);
          continue;
        }
        subscribers.push(socket);
        const channels = command.slice(1);
        send(channels.map((c, j) => `*3\r\n${bulk('subscribe')}${bulk(c)}:${j + 1}\r\n`).join(''), 0);
        opts.afterSubscribe?.(socket, subscribers.length);
      }
    });
  };
  const server: Server = opts.tls
    ? createTlsServer({ cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key) }, serve).on(
        'tlsClientError',
        () => {},
      )
    : createServer(serve);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    address: `127.0.0.1:${(server.address() as { port: number }).port}`,
    subscribers,
    seen,
    publish: (channel, message) => {
      for (const s of subscribers) if (!s.destroyed) s.write(array(['message', channel, message]));
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((ok) => server.close(() => ok()));
    },
  };
}

/** One JSON line a probe printed. */
export type ProbeEvent = Record<string, unknown>;

/**
 * Runs a script of test/support in a child of its own (under tsx) and collects the JSON lines it
 * prints. For code that may wedge its event loop: the test's process stays free to time out, and the
 * child is killed (by its pid) when the test ends.
 */
export function startProbe(
  t: TestContext,
  script: string,
  args: readonly string[],
): {
  events: ProbeEvent[];
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
} {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', resolve(import.meta.dirname, script), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: ProbeEvent[] = [];
  let out = '';
  let pending = '';
  child.stdout!.on('data', (b: Buffer) => {
    out += b.toString();
    pending += b.toString();
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      try {
        events.push(JSON.parse(line) as ProbeEvent);
      } catch {
        // not one of the probe's lines
      }
    }
  });
  child.stderr!.on('data', (b: Buffer) => {
    out += b.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>((ok) =>
    child.on('exit', (code, signal) => ok({ code, signal, ms: performance.now() - started })),
  );
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { events, output: () => out, exited };
}
