// Real-system support for the vip and sudoers integration tests: a network namespace of our own with a
// veth pair to a "neighbour" namespace, the built CLI run as the unprivileged redis user inside it,
// and a sudoers drop-in installed for the test. Everything is named with this process's pid and
// removed by name in teardown(); no process outlives its spawnSync call.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { reachablePath } from '../support/checkout.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BIN = join(ROOT, 'bin/sentinel-hook.cjs');
export const USER = 'redis';

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** argv only, bounded in time. */
export function sh(argv: string[], timeoutMs = 30_000): Ran {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL' });
  return { code: r.status, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

export function must(argv: string[], timeoutMs = 30_000): string {
  const r = sh(argv, timeoutMs);
  assert.equal(r.code, 0, `${argv.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

const PACKAGES: Record<string, string> = {
  '/usr/sbin/ip': 'iproute2',
  '/usr/bin/arping': 'iputils-arping',
  '/usr/bin/ndptool': 'libndp-tools',
  '/usr/bin/sudo': 'sudo',
  '/usr/sbin/visudo': 'sudo',
};

/** Root, the built CLI, the redis user and the Debian packages the action uses (installed when missing). */
export function preflight(): void {
  assert.equal(process.getuid?.(), 0, 'these tests need root (network namespaces, sudoers); run them as root');
  assert.ok(existsSync(BIN) && existsSync(join(ROOT, 'dist/sentinel-hook.cjs')), 'build first: npm run build');
  const missing = [
    ...new Set(
      Object.entries(PACKAGES)
        .filter(([path]) => !existsSync(path))
        .map(([, pkg]) => pkg),
    ),
  ];
  if (sh(['id', '-u', USER]).code !== 0) missing.push('redis-server');
  if (missing.length) {
    must(['apt-get', 'update'], 300_000);
    must(['apt-get', 'install', '-y', '--no-install-recommends', ...missing], 600_000);
  }
}

export interface Netns {
  ns: string;
  peer: string;
  dir: string;
  /** The hook's interface inside `ns` and its MAC. */
  dev: string;
  mac: string;
  sudoersFile: string | undefined;
}

/** ns (this host, 10.213.7.2) <-veth-> peer (a neighbour, 10.213.7.9); addresses exist only inside them. */
export function createNetns(prefix: string): Netns {
  const ns = `${prefix}-${process.pid}`;
  const peer = `${ns}-p`;
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  chmodSync(dir, 0o755);
  const env: Netns = { ns, peer, dir, dev: 'v0', mac: '', sudoersFile: undefined };
  try {
    must(['ip', 'netns', 'add', ns]);
    must(['ip', 'netns', 'add', peer]);
    must(['ip', 'link', 'add', 'v0', 'netns', ns, 'type', 'veth', 'peer', 'name', 'v1', 'netns', peer]);
    for (const [n, dev, v4, v6] of [
      [ns, 'v0', '10.213.7.2/24', 'fd00:213::2/64'],
      [peer, 'v1', '10.213.7.9/24', 'fd00:213::9/64'],
    ] as const) {
      must(['ip', '-n', n, 'link', 'set', 'lo', 'up']);
      must(['ip', '-n', n, 'link', 'set', dev, 'up']);
      must(['ip', '-n', n, 'addr', 'add', v4, 'dev', dev]);
      must(['ip', '-n', n, 'addr', 'add', v6, 'dev', dev, 'nodad']);
    }
    env.mac = (JSON.parse(must(['ip', '-n', ns, '-j', 'link', 'show', 'v0'])) as { address: string }[])[0]!.address;
    // The hook's own files: config root-owned and not writable by redis (the hook checks), log and lock writable.
    for (const sub of ['log', 'lock']) {
      mkdirSync(join(dir, sub));
      chownSync(join(dir, sub), uidOf(USER), 0);
    }
  } catch (err) {
    teardown(env);
    throw err;
  }
  return env;
}

function uidOf(user: string): number {
  return Number(must(['id', '-u', user]).trim());
}

let configs = 0;
export function writeConfig(env: Netns, actions: unknown[]): string {
  const file = join(env.dir, `config-${++configs}.json`);
  writeFileSync(
    file,
    `${JSON.stringify({ log: { file: join(env.dir, 'log', 'hook.log'), level: 'debug' }, lockDir: join(env.dir, 'lock'), deadline: '30s', masters: { mymaster: actions } }, null, 2)}\n`,
  );
  chmodSync(file, 0o644);
  return file;
}

/** The built CLI in the namespace as redis, with the bare environment Sentinel gives it (no PATH). */
export function hookAsRedis(env: Netns, args: string[], timeoutMs = 40_000): Ran {
  return sh(
    [
      'ip',
      'netns',
      'exec',
      env.ns,
      'runuser',
      '-u',
      USER,
      '--',
      '/usr/bin/env',
      '-i',
      process.execPath,
      reachablePath(BIN),
      ...args,
    ],
    timeoutMs,
  );
}

export function asRedis(env: Netns, argv: string[]): Ran {
  return sh(['ip', 'netns', 'exec', env.ns, 'runuser', '-u', USER, '--', ...argv]);
}

/**
 * Generate with the CLI (validated by its own --check), then install atomically; visudo -cf again on the live name.
 * From the path the hook runs from: sudo matches a command by its file and then runs the path the rule
 * names, which must be the one that path reaches (a clone redis cannot enter runs from a bind mount).
 */
export function installSudoers(env: Netns, config: string): string {
  const text = must([
    'ip',
    'netns',
    'exec',
    env.ns,
    process.execPath,
    reachablePath(BIN),
    'sudoers',
    '--user',
    USER,
    '--config',
    config,
    '--check',
  ]);
  // No '.' in the name: sudo skips such files in sudoers.d.
  const target = `/etc/sudoers.d/${env.ns.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  writeFileSync(`${target}-new`, text, { mode: 0o440 });
  env.sudoersFile = target;
  renameSync(`${target}-new`, target);
  must(['visudo', '-cf', target]);
  return text;
}

export function removeSudoers(env: Netns): void {
  if (env.sudoersFile && existsSync(env.sudoersFile)) unlinkSync(env.sudoersFile);
  env.sudoersFile = undefined;
}

/** Where the address is in `ns`, as the kernel says: [{dev, prefixlen, tentative}]. */
export function holders(ns: string, address: string): { dev: string; prefixlen: number; tentative: boolean }[] {
  const links = JSON.parse(must(['ip', '-n', ns, '-j', 'addr', 'show'])) as {
    ifname: string;
    addr_info: { local: string; prefixlen: number; tentative?: boolean }[];
  }[];
  return links.flatMap((l) =>
    l.addr_info
      .filter((a) => a.local === address)
      .map((a) => ({ dev: l.ifname, prefixlen: a.prefixlen, tentative: Boolean(a.tentative) })),
  );
}

export function neighbourMac(ns: string, address: string): string | undefined {
  const entries = JSON.parse(must(['ip', '-n', ns, '-j', 'neigh', 'show', address])) as { lladdr?: string }[];
  return entries[0]?.lladdr?.toLowerCase();
}

export function logText(env: Netns): string {
  const file = join(env.dir, 'log', 'hook.log');
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

export function teardown(env: Netns): void {
  removeSudoers(env);
  for (const n of [env.ns, env.peer]) sh(['ip', 'netns', 'del', n]);
  rmSync(env.dir, { recursive: true, force: true });
}
