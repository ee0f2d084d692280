import { run, runOk } from './run.ts';

/** Debian packages the lab needs, and the program each provides (checked first: cheaper than dpkg). */
export const LAB_PACKAGES = [
  'redis-server',
  'redis-sentinel',
  'redis-tools',
  'iputils-arping',
  'sudo',
  'iproute2',
  'util-linux',
  'procps',
] as const;

let updated = false;

async function installed(pkg: string): Promise<boolean> {
  const r = await run(['dpkg-query', '-W', '-f', '${Status}', pkg], { timeoutMs: 10_000 });
  return r.code === 0 && /install ok installed/.test(r.stdout);
}

/**
 * Install what is missing: `apt-get update` once per process, then one `apt-get install -y`.
 * Must run as root. Installing redis-server may start Debian's own server on 127.0.0.1:6379 in the
 * root namespace: the lab never uses it and never touches it.
 */
export async function ensurePackages(
  packages: readonly string[] = LAB_PACKAGES,
  log: (line: string) => void = () => {},
): Promise<string[]> {
  const missing: string[] = [];
  for (const pkg of packages) if (!(await installed(pkg))) missing.push(pkg);
  if (missing.length === 0) return [];
  // Habets' arping conflicts with iputils-arping; the lab and the seed script speak iputils flags.
  log(`installing Debian packages: ${missing.join(' ')}`);
  const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', DEBIAN_FRONTEND: 'noninteractive', LANG: 'C' };
  if (!updated) {
    await runOk(['apt-get', 'update'], { timeoutMs: 300_000, env });
    updated = true;
  }
  await runOk(['apt-get', 'install', '-y', '--no-install-recommends', ...missing], { timeoutMs: 600_000, env });
  return missing;
}
