// The local hosts file written with privilege: sudo. sudoers pins a command's exact argv, and the
// address changes with every failover, so it cannot be an argument: the rule pins the helper, the
// file and the names, and the address comes on stdin, where the helper refuses anything but one IP.
// Whoever may run the rule can point exactly those names at some address in exactly that file:
// what the Sentinel user tells every client about the master anyway, and nothing more of the host.
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { hookError } from '../../errors.ts';
import { canonicalIp, isAbsolutePath, isHostname, isIpAddress } from '../../values.ts';
import { editHosts } from './edit.ts';
import { resolveHostsFile, writeFileReplacing } from './localfile.ts';

/** Inside the install: a root-owned shell script that starts this action's `hosts-write` helper with a clean environment. */
export const HELPER = 'bin/sentinel-hook-hosts-write';

/** The same characters the config accepts for `file` (see hostsSchema): nothing sudoers would read as a pattern. */
const PLAIN_PATH = /^\/[A-Za-z0-9._@+=,/-]*$/;

/**
 * The helper of the install this CLI runs from (bin/sentinel-hook.cjs is argv[1]), by its real path:
 * what sudoers pins and a run executes must be the same string. Undefined when started some other way.
 */
export function helperPath(): string | undefined {
  const bin = process.argv[1] ? resolve(process.argv[1]) : '';
  if (!bin.endsWith('/bin/sentinel-hook.cjs') || !existsSync(bin)) return undefined;
  const helper = resolve(dirname(realpathSync(bin)), '..', HELPER);
  return existsSync(helper) ? helper : undefined;
}

/** The one command line, for the run and for `sentinel-hook sudoers` alike (without "sudo -n"). */
export function hostsWriteArgv(helper: string, file: string, names: readonly string[]): string[] {
  return [helper, file, ...names];
}

/**
 * What the helper must be able to trust besides itself, since it runs them as root: the CLI and its
 * bundles. Each must be root's and writable by nobody else (sudoers checks, as for the program).
 */
export function helperRuns(helper: string): string[] {
  const root = dirname(dirname(helper));
  return [`${root}/bin/sentinel-hook.cjs`, `${root}/dist/sentinel-hook.cjs`];
}

/** What the helper prints (one JSON line) when it succeeds. */
export interface HostsWriteResult {
  status: 'changed' | 'unchanged';
  /** The file written, links followed (what rsync sends). */
  real: string;
  method?: 'rename' | 'in-place';
  backup?: boolean;
}

/**
 * The `hosts-write` helper: `sentinel-hook-hosts-write FILE NAME...` with the address on stdin, run as
 * root by sudo. Everything it acts on is checked again here, though sudoers pinned the arguments: the rule
 * may have been written by hand, and stdin is the caller's alone.
 */
export function hostsWrite(args: readonly string[], stdin: string): HostsWriteResult {
  const [file, ...names] = args;
  if (!file || !PLAIN_PATH.test(file) || !isAbsolutePath(file))
    throw hookError('helper-usage', { problem: `${JSON.stringify(file ?? '')} is not a plain absolute path` });
  if (names.length === 0 || !names.every((n) => isHostname(n) && !n.endsWith('.')))
    throw hookError('helper-usage', { problem: `expected host names after the file, got ${JSON.stringify(names)}` });
  const lines = stdin.split('\n');
  const address = lines[0]!.trim();
  if (!isIpAddress(address) || lines.slice(1).some((l) => l.trim() !== ''))
    throw hookError('helper-usage', {
      problem: `stdin must be one IP address, got ${JSON.stringify(stdin.slice(0, 60))}`,
    });
  const real = resolveHostsFile(file);
  const before = readFileSync(real, 'latin1');
  const after = editHosts(before, names, canonicalIp(address));
  if (after === before) return { status: 'unchanged', real };
  const written = writeFileReplacing(real, after, before);
  return { status: 'changed', real, method: written.method, backup: written.backup !== undefined };
}
