// A BIND 9 of the test's own: named started as a child on 127.0.0.1 and a free port, with its own
// directory, one zone, and updates allowed with one TSIG key only. Nothing of Debian's named is used.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePackages } from '../lab/packages.ts';
import { waitFor } from '../lab/wait.ts';
import { freePort } from './loopback-redis.ts';

export const ZONE = 'example.internal.';
export const NAME = 'redis.example.internal.';

export interface Bind {
  port: number;
  dir: string;
  /** The key BIND accepts, as tsig-keygen wrote it, in a file of the test's (mode 0600). */
  keyFile: string;
  keyName: string;
  /** What BIND logged so far (update and security categories included). */
  log(): string;
  /** `dig @127.0.0.1 -p PORT name type +short`, one line per record. */
  dig(name: string, type?: string, extra?: string[]): string[];
  stop(): Promise<void>;
}

export async function ensureBind(): Promise<void> {
  await ensurePackages(['bind9', 'bind9-dnsutils']);
}

/** A key file as tsig-keygen writes it. */
export function tsigKeygen(name: string, algorithm = 'hmac-sha256'): string {
  return execFileSync('tsig-keygen', ['-a', algorithm, name], { encoding: 'utf8' });
}

export async function startBind(
  opts: {
    keyName?: string;
    algorithm?: string;
    zoneRecords?: string[];
    names?: string[];
    /** A network namespace to run named (and dig) in, listening on `address` there (the lab's benchmarks). */
    netns?: { name: string; address: string; port: number };
  } = {},
): Promise<Bind> {
  await ensureBind();
  const dir = mkdtempSync(join(tmpdir(), 'sh-bind-'));
  chmodSync(dir, 0o755);
  const keyName = opts.keyName ?? 'failover';
  const key = tsigKeygen(keyName, opts.algorithm);
  const keyFile = join(dir, 'failover.key');
  writeFileSync(keyFile, key, { mode: 0o600 });
  const port = opts.netns?.port ?? (await freePort());
  const address = opts.netns?.address ?? '127.0.0.1';
  const inNs = (argv: string[]) => (opts.netns ? ['ip', 'netns', 'exec', opts.netns.name, ...argv] : argv);
  const zoneFile = join(dir, 'example.internal.db');
  writeFileSync(
    zoneFile,
    [
      '$TTL 300',
      `@ IN SOA ns.${ZONE} hostmaster.${ZONE} 1 3600 600 86400 60`,
      `@ IN NS ns.${ZONE}`,
      'ns IN A 127.0.0.1',
      ...(opts.zoneRecords ?? []),
      '',
    ].join('\n'),
  );
  const conf = join(dir, 'named.conf');
  writeFileSync(
    conf,
    `options {
  directory "${dir}";
  pid-file "${dir}/named.pid";
  session-keyfile "${dir}/session.key";
  listen-on port ${port} { ${address}; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  notify no;
};
controls { };
${key}
zone "${ZONE}" {
  type primary;
  file "${zoneFile}";
  update-policy {
${(opts.names ?? [NAME]).map((n) => `    grant ${keyName} name ${n} A AAAA;\n    grant ${keyName} name _sentinel-hook.${n} TXT;`).join('\n')}
  };
};
logging {
  channel file_log { file "${dir}/named.log"; severity info; print-time yes; print-category yes; };
  category default { file_log; };
  category update { file_log; };
  category update-security { file_log; };
  category security { file_log; };
  category general { file_log; };
};
`,
  );
  // -f: foreground, logging as configured (-g would send it all to stderr and ignore the channels).
  // setpriv --pdeathsig: named ends with this process even when the test is killed before stop().
  const [program, ...args] = inNs([
    '/usr/bin/setpriv',
    '--pdeathsig',
    'KILL',
    '--',
    '/usr/sbin/named',
    '-f',
    '-n',
    '1',
    '-c',
    conf,
  ]);
  const child: ChildProcess = spawn(program!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const log = () => {
    try {
      return readFileSync(join(dir, 'named.log'), 'utf8');
    } catch {
      return '';
    }
  };
  const dig = (name: string, type = 'A', extra: string[] = []) => {
    const [digProgram, ...digArgs] = inNs([
      'dig',
      `@${address}`,
      '-p',
      String(port),
      '+short',
      '+time=1',
      '+tries=1',
      ...extra,
      name,
      type,
    ]);
    return execFileSync(digProgram!, digArgs, { encoding: 'utf8', timeout: 5000 }).split('\n').filter(Boolean);
  };
  const stop = async () => {
    if (child.exitCode === null && child.pid) {
      child.kill('SIGTERM');
      await waitFor('named to stop', async () => (child.exitCode !== null || child.signalCode ? true : undefined), {
        timeoutMs: 5000,
      }).catch(() => child.kill('SIGKILL'));
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      'named to answer',
      async () => {
        if (child.exitCode !== null) throw new Error(`named exited ${child.exitCode}: ${stderr}`);
        return dig(ZONE, 'SOA').length > 0 ? true : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${stderr}\n${log()}`);
  }
  return { port, dir, keyFile, keyName, log, dig, stop };
}
