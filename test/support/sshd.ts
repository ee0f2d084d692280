// Real OpenSSH servers on loopback for the hosts action's integration tests and benchmark.
// Each "app server" is one sshd on 127.0.0.1:<port> with its own host key and its own hosts file
// in a temp dir — never the machine's /etc/hosts. Every process started here is killed by pid.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SSHD = '/usr/sbin/sshd';

/** Debian packages the tests need; installed only when a program is missing (apt-get update first). */
export function ensureSshPackages(): void {
  const needed: string[] = [];
  if (!existsSync(SSHD)) needed.push('openssh-server');
  if (!existsSync('/usr/bin/ssh') || !existsSync('/usr/bin/ssh-keygen')) needed.push('openssh-client');
  if (!existsSync('/usr/bin/rsync')) needed.push('rsync');
  if (needed.length === 0) return;
  execFileSync('apt-get', ['update'], { stdio: 'ignore' });
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...needed], {
    stdio: 'ignore',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

export interface AppServer {
  port: number;
  /** The hosts file this server's tests edit (its "/etc/hosts"). */
  hostsFile: string;
  hostKeyPub: string;
  dir: string;
  process: ChildProcess | undefined;
  label: string;
}

export interface SshLab {
  dir: string;
  /**
   * The path every server calls its hosts file: each sshd runs in a private mount namespace where
   * its own directory is bind-mounted at `<dir>/remote`, so one config `remotePath` reaches N files.
   */
  remotePath: string;
  /** Client key used by the hook (no passphrase). */
  identityFile: string;
  knownHostsFile: string;
  servers: AppServer[];
  start(server: AppServer): Promise<void>;
  stop(server: AppServer): Promise<void>;
  /** Give a server a new host key (a reinstalled or impostor server) and restart it. */
  rekey(server: AppServer): Promise<void>;
  close(): Promise<void>;
}

/** Loopback ports that are free right now, from 22100 upwards (bounded scan). */
async function freePorts(count: number, from = 22100): Promise<number[]> {
  const ports: number[] = [];
  for (let port = from; port < from + 2000 && ports.length < count; port++) {
    if (await canBind(port)) ports.push(port);
  }
  if (ports.length < count) throw new Error(`only ${ports.length} free loopback ports from ${from}`);
  return ports;
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ port, host: '127.0.0.1' });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

function keygen(path: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'sentinel-hook-test', '-f', path], {
    stdio: 'ignore',
  });
}

export interface SshLabOptions {
  count: number;
  /** Initial content of every server's hosts file; `{i}` is replaced by the server's index. */
  hostsContent: (index: number) => string;
  /** Write known_hosts with hashed names (`ssh-keygen -H`). */
  hashKnownHosts?: boolean;
  /** Lines of sshd_config added to every server. */
  extraConfig?: string[];
  /**
   * Called once per server after its hosts file is written and before its sshd starts: mounts made
   * here under `server.dir` (a bind-mounted hosts file, a small tmpfs) are what that sshd sees, and
   * close() unmounts them.
   */
  prepare?: (server: AppServer, index: number) => void;
}

/** Mount points at or under `dir` in this mount namespace, deepest first. */
function mountsUnder(dir: string): string[] {
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => !!p)
    // mountinfo escapes blanks and backslashes as octal; our temp paths have none.
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

export async function startSshLab(opts: SshLabOptions): Promise<SshLab> {
  ensureSshPackages();
  // sshd refuses to start without its privilege separation directory.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-hook-sshd-'));
  chmodSync(dir, 0o755);
  const identityFile = join(dir, 'client_key');
  keygen(identityFile);
  const authorizedKeys = join(dir, 'authorized_keys');
  writeFileSync(authorizedKeys, readFileSync(`${identityFile}.pub`));
  const ports = await freePorts(opts.count);
  const servers: AppServer[] = ports.map((port, i) => {
    const sdir = join(dir, `app${i}`);
    mkdirSync(join(sdir, 'etc'), { recursive: true });
    // The server's own file, as the test sees it from outside.
    const hostsFile = join(sdir, 'etc', 'hosts');
    writeFileSync(hostsFile, opts.hostsContent(i), { mode: 0o644 });
    keygen(join(sdir, 'host_key'));
    return { port, hostsFile, hostKeyPub: '', dir: sdir, process: undefined, label: `127.0.0.1:${port}` };
  });
  try {
    servers.forEach((s, i) => {
      opts.prepare?.(s, i);
    });
  } catch (err) {
    for (const m of mountsUnder(dir)) execFileSync('umount', ['-l', m]);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const knownHostsFile = join(dir, 'known_hosts');
  const remoteRoot = join(dir, 'remote');
  mkdirSync(remoteRoot);

  const writeKnownHosts = () => {
    const lines = servers.map((s) => {
      s.hostKeyPub = readFileSync(join(s.dir, 'host_key.pub'), 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
      return `[127.0.0.1]:${s.port} ${s.hostKeyPub}`;
    });
    writeFileSync(knownHostsFile, `${lines.join('\n')}\n`);
    if (opts.hashKnownHosts) {
      execFileSync('ssh-keygen', ['-q', '-H', '-f', knownHostsFile], { stdio: 'ignore' });
      rmSync(`${knownHostsFile}.old`, { force: true });
    }
  };
  writeKnownHosts();

  const start = async (s: AppServer) => {
    const config = join(s.dir, 'sshd_config');
    writeFileSync(
      config,
      [
        `Port ${s.port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${join(s.dir, 'host_key')}`,
        `PidFile ${join(s.dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${authorizedKeys}`,
        'StrictModes no',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'PermitRootLogin prohibit-password',
        'Subsystem sftp internal-sftp',
        'LogLevel ERROR',
        'MaxStartups 200',
        'MaxSessions 50',
        ...(opts.extraConfig ?? []),
        '',
      ].join('\n'),
    );
    // unshare (no --fork) and sh both exec: the pid we hold is sshd's own, so killing it is exact.
    // --rbind: mounts that prepare() made under the server's directory come along.
    const child = spawn(
      'unshare',
      [
        '-m',
        '--propagation',
        'private',
        '--',
        '/bin/sh',
        '-c',
        'mount --rbind "$1" "$2" && exec "$3" -D -e -f "$4"',
        'sh',
        s.dir,
        remoteRoot,
        SSHD,
        config,
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    s.process = child;
    // Bounded wait for the listener: 100 × 50 ms.
    for (let i = 0; i < 100; i++) {
      if (child.exitCode !== null) throw new Error(`sshd on port ${s.port} exited ${child.exitCode}: ${stderr}`);
      if (await connects(s.port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`sshd on port ${s.port} did not listen within 5 s: ${stderr}`);
  };

  const stop = async (s: AppServer) => {
    const child = s.process;
    s.process = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await gone;
  };

  const lab: SshLab = {
    dir,
    remotePath: join(remoteRoot, 'etc', 'hosts'),
    identityFile,
    knownHostsFile,
    servers,
    start,
    stop,
    async rekey(s) {
      await stop(s);
      rmSync(join(s.dir, 'host_key'), { force: true });
      rmSync(join(s.dir, 'host_key.pub'), { force: true });
      keygen(join(s.dir, 'host_key'));
      await start(s);
    },
    async close() {
      await Promise.all(servers.map(stop));
      for (const m of mountsUnder(dir)) execFileSync('umount', ['-l', m]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all(servers.map(start));
  } catch (err) {
    await lab.close();
    throw err;
  }
  return lab;
}

/** The command line of the built CLI, as package.json's "bin" names it. */
export function cliArgv(): string[] {
  const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as {
    bin: Record<string, string>;
  };
  return [process.execPath, join(import.meta.dirname, '../..', pkg.bin['sentinel-hook']!)];
}
