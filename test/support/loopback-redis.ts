import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { decodeReply, type RespValue, sendCommands, type TlsOptions } from '../../src/sentinel/resp.ts';
import { ensurePackages } from '../lab/packages.ts';
import { waitFor } from '../lab/wait.ts';

/**
 * `count` distinct free loopback ports, chosen by the kernel. Every listener stays open until all
 * have their port: closed one by one, the kernel could hand the same port out twice.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    return await Promise.all(
      servers.map(
        (srv) =>
          new Promise<number>((resolve, reject) => {
            srv.once('error', reject);
            srv.listen(0, '127.0.0.1', () => resolve((srv.address() as { port: number }).port));
          }),
      ),
    );
  } finally {
    await Promise.all(servers.map((srv) => new Promise((r) => (srv.listening ? srv.close(r) : r(undefined)))));
  }
}

/** A free loopback port, chosen by the kernel. */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}

/**
 * A fake Sentinel on loopback that answers each command with the raw RESP text `reply` returns
 * (e.g. "-WRONGPASS invalid username-password pair\r\n"): for replies a real one gives only in
 * some versions or set-ups. `seen` holds every command it was sent.
 */
export async function scriptedSentinel(
  reply: (command: string[]) => string,
): Promise<{ address: string; seen: string[][]; close(): Promise<void> }> {
  const seen: string[][] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    let buf = Buffer.alloc(0);
    socket.on('close', () => sockets.delete(socket)).on('error', () => {});
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      for (let parsed = decodeReply(buf); parsed; parsed = decodeReply(buf)) {
        buf = buf.subarray(parsed.next);
        const command = (parsed.value as string[]).map(String);
        seen.push(command);
        socket.write(reply(command));
      }
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    address: `127.0.0.1:${(server.address() as { port: number }).port}`,
    seen,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((ok) => server.close(() => ok()));
    },
  };
}

/** A PEM certificate and its key (mode 600), made by openssl for a test. */
export interface TestCert {
  cert: string;
  key: string;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
}

/** A throwaway CA in `dir` (files `<name>.crt`, `<name>.key`); P-256 keys: quick to make. */
export function makeTestCa(dir: string, name: string): TestCert {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
  ]);
  chmodSync(key, 0o600);
  return { cert, key };
}

/** A certificate signed by `ca` for `altNames` (e.g. "IP:127.0.0.1", "DNS:localhost"; none for a client). */
export function issueCert(ca: TestCert, dir: string, name: string, altNames: string[] = []): TestCert {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  openssl([
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    key,
    '-out',
    csr,
    '-subj',
    `/CN=${name}`,
  ]);
  chmodSync(key, 0o600);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, altNames.length > 0 ? `subjectAltName=${altNames.join(',')}\n` : 'basicConstraints=CA:FALSE\n');
  openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-set_serial',
    `0x${randomBytes(8).toString('hex')}`,
    '-days',
    '2',
    '-extfile',
    ext,
    '-out',
    cert,
  ]);
  return { cert, key };
}

/**
 * A master, a replica and one Sentinel on 127.0.0.1 (real Debian redis-server / redis-sentinel),
 * for tests of what the hook asks Sentinel. Every process is tracked by pid and killed by stop().
 */
export class LoopbackSentinel {
  readonly dir = mkdtempSync(join(tmpdir(), 'sh-sentinel-'));
  private readonly children: ChildProcess[] = [];
  masterPort = 0;
  replicaPort = 0;
  sentinelPort = 0;
  /** With `tls`: the CA that signed the Sentinel's certificate (for IP 127.0.0.1 and DNS localhost). */
  ca: TestCert | undefined;

  /**
   * `tls`: the Sentinel serves clients on TLS only (`port 0`, its `tls-port` is `sentinelPort`), with
   * `tls-auth-clients optional`: no client certificate is fine, one its CA did not sign is refused.
   * It watches the (plain) master over plain TCP: `tls-replication` is off.
   */
  constructor(readonly opts: { password?: string; master?: string; tls?: boolean } = {}) {}

  get masterName(): string {
    return this.opts.master ?? 'mymaster';
  }

  async start(): Promise<void> {
    await ensurePackages(['redis-server', 'redis-sentinel', 'redis-tools', ...(this.opts.tls ? ['openssl'] : [])]);
    [this.masterPort, this.replicaPort, this.sentinelPort] = (await freePorts(3)) as [number, number, number];
    this.spawn('/usr/bin/redis-server', [
      '--port',
      String(this.masterPort),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      this.dir,
      '--daemonize',
      'no',
    ]);
    this.spawn('/usr/bin/redis-server', [
      '--port',
      String(this.replicaPort),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      this.dir,
      '--daemonize',
      'no',
      '--replicaof',
      '127.0.0.1',
      String(this.masterPort),
    ]);
    const conf = join(this.dir, 'sentinel.conf');
    let listen = [`port ${this.sentinelPort}`];
    if (this.opts.tls) {
      this.ca = makeTestCa(this.dir, 'sentinel-ca');
      const server = issueCert(this.ca, this.dir, 'sentinel', ['IP:127.0.0.1', 'DNS:localhost']);
      listen = [
        'port 0',
        `tls-port ${this.sentinelPort}`,
        `tls-cert-file ${server.cert}`,
        `tls-key-file ${server.key}`,
        `tls-ca-cert-file ${this.ca.cert}`,
        'tls-auth-clients optional',
      ];
    }
    this.sentinelListen = listen;
    this.writeSentinelConf(this.masterPort);
    this.sentinelChild = this.spawn('/usr/bin/redis-sentinel', [conf]);
    await this.waitSentinelReady();
  }

  private sentinelListen: string[] = [];
  private sentinelChild: ChildProcess | undefined;

  /** A sentinel.conf as configuration management writes it: no myid, no epochs, monitoring `port`. */
  private writeSentinelConf(port: number): void {
    writeFileSync(
      join(this.dir, 'sentinel.conf'),
      [
        ...this.sentinelListen,
        'bind 127.0.0.1',
        `dir ${this.dir}`,
        `sentinel monitor ${this.masterName} 127.0.0.1 ${port} 1`,
        `sentinel down-after-milliseconds ${this.masterName} 1000`,
        `sentinel failover-timeout ${this.masterName} 5000`,
        ...(this.opts.password ? [`requirepass "${this.opts.password}"`] : []),
        '',
      ].join('\n'),
    );
  }

  /**
   * The Sentinel rebuilt the way configuration management does it: stopped (by pid), its sentinel.conf
   * written afresh for the current master, started again. It comes back with a new SENTINEL MYID and
   * its config epochs start again from 0.
   */
  async rebuildSentinel(): Promise<void> {
    const master = (await this.currentMasterPort()) ?? this.masterPort;
    const replica = master === this.masterPort ? this.replicaPort : this.masterPort;
    // Not in the middle of a failover: the old master has been made a replica of the new one.
    await this.waitSentinelReady(replica);
    const child = this.sentinelChild;
    if (child?.pid && child.exitCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await gone;
    }
    this.writeSentinelConf(master);
    this.sentinelChild = this.spawn('/usr/bin/redis-sentinel', [join(this.dir, 'sentinel.conf')]);
    await this.waitSentinelReady(replica);
  }

  private async waitSentinelReady(replicaPort = this.replicaPort): Promise<void> {
    await waitFor(
      'replica in sync',
      async () => {
        const [info] = await sendCommands('127.0.0.1', replicaPort, [['INFO', 'replication']], 500);
        return typeof info === 'string' && info.includes('master_link_status:up') ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    await waitFor(
      'sentinel sees the replica',
      async () => {
        const replies = await this.sentinel([['SENTINEL', 'replicas', this.masterName]]);
        return Array.isArray(replies) && replies.length > 0 ? true : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
  }

  /** Ask the Sentinel one command (authenticating when it has a password). */
  async sentinel(commands: string[][]): Promise<RespValue> {
    const auth = this.opts.password ? [['AUTH', this.opts.password]] : [];
    const tls: TlsOptions | undefined = this.ca && {
      secureContext: createSecureContext({ ca: readFileSync(this.ca.cert) }),
    };
    const replies = await sendCommands('127.0.0.1', this.sentinelPort, [...auth, ...commands], 1000, undefined, tls);
    return replies.at(-1)!;
  }

  async currentMasterPort(): Promise<number | undefined> {
    const reply = await this.sentinel([['SENTINEL', 'get-master-addr-by-name', this.masterName]]);
    return Array.isArray(reply) ? Number(reply[1]) : undefined;
  }

  /** A real failover (SENTINEL FAILOVER), waited for with a bound. Returns the new master's port. */
  async failover(): Promise<number> {
    const before = await this.currentMasterPort();
    // Right after a failover or a rebuild the Sentinel may not know a good replica yet (NOGOODSLAVE):
    // asked again, bounded.
    await waitFor(
      'Sentinel accepts SENTINEL FAILOVER',
      async () => {
        const reply = await this.sentinel([['SENTINEL', 'FAILOVER', this.masterName]]);
        return reply === 'OK' ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    return waitFor(
      'failover switched the master',
      async () => {
        const now = await this.currentMasterPort();
        return now !== undefined && now !== before ? now : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 50 },
    );
  }

  private spawn(file: string, args: string[]): ChildProcess {
    const child = spawn(file, args, { stdio: 'ignore' });
    child.on('error', () => {});
    this.children.push(child);
    return child;
  }

  stop(): void {
    for (const child of this.children) if (child.pid && child.exitCode === null) child.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
