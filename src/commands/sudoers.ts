import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pluginFor } from '../actions/index.ts';
import type { HostReader } from '../actions/plugin.ts';
import type { HookConfig } from '../config/schema.ts';
import { HookError, hookError } from '../errors.ts';
import { resolveOwnedPath } from '../ownership.ts';
import type { CommandRunner } from '../runner.ts';

/** A login name sudoers can take bare (no '%' group, no '#uid', no '-' start). */
const USER = /^[a-z_][a-z0-9_-]{0,31}\$?$/;

/**
 * One argument as a sudoers Cmnd word. sudoers wants ',' ':' '=' '\' escaped in arguments; blanks
 * would split the word and '*' '?' '[' ']' would make it a pattern that matches more than itself,
 * so those are refused outright (no validated value contains them).
 */
export function sudoersWord(arg: string): string {
  if (arg === '' || /[\s*?[\]"'#!()\0]/.test(arg))
    throw hookError('sudoers-unpinnable', { arg, why: 'blank, quote or pattern character' });
  // sudo 1.9.10 and later read an argument that starts with ^ and ends with $ as a regular expression.
  if (arg.startsWith('^') && arg.endsWith('$'))
    throw hookError('sudoers-unpinnable', { arg, why: 'sudo reads ^…$ as a regular expression' });
  return arg.replace(/[\\,:=]/g, (c) => `\\${c}`);
}

export function sudoersLine(argv: readonly string[]): string {
  if (!argv[0]?.startsWith('/')) throw hookError('sudoers-relative-program', { program: argv[0] });
  // sudo matches the arguments joined by blanks: a first one starting with ^ and a last one ending
  // with $ make the whole list one regular expression, which can match far more than this argv.
  if (argv.length > 1 && argv[1]!.startsWith('^') && argv.at(-1)!.endsWith('$')) {
    throw hookError('sudoers-unpinnable', {
      arg: argv.join(' '),
      why: 'sudo reads arguments from ^ to $ as a regular expression',
    });
  }
  // A bare command in sudoers allows it with ANY arguments; "" means exactly none.
  return argv.length === 1 ? `${sudoersWord(argv[0])} ""` : argv.map(sudoersWord).join(' ');
}

export interface SudoersOptions {
  user: string;
  configPath: string;
  /** Refuses a program that a root rule must not pin (the CLI passes rootOnlyProgram). */
  checkProgram?: (path: string) => void;
}

/**
 * A root rule for a program is a root rule for whoever may change it: the file must be root's and
 * writable by nobody else, and so must every directory above its real path and above the link that
 * leads there (whoever may write one may put another file in its place), as for the config file.
 */
export function rootOnlyProgram(path: string): void {
  let real: string;
  try {
    // uid 0: for a root rule only root may own what leads to the program.
    real = resolveOwnedPath(path, 0, 'program', path);
  } catch (err) {
    if (err instanceof HookError) throw err;
    throw hookError('program-unresolvable', { path, errno: (err as NodeJS.ErrnoException).code });
  }
  const what = `program ${real === path ? path : `${path} (${real})`}`;
  const st = statSync(real);
  if (!st.isFile()) throw hookError('file-not-regular', { what });
  if (st.uid !== 0)
    throw hookError('owner-untrusted', {
      what,
      owner: st.uid,
      trusted: 'root',
      risk: 'a root rule for it would let its owner run anything as root',
      fix: `chown root ${real}`,
    });
  if (st.mode & 0o022)
    throw hookError('writable-by-others', {
      what,
      mode: (st.mode & 0o777).toString(8),
      besides: 'root',
      risk: 'they could run anything as root',
      path: real,
    });
}

/**
 * Exactly the command lines this config runs with privilege sudo on this host, built by the same
 * functions the planner uses: a rule and a run cannot disagree about an argument.
 */
export async function sudoersText(
  config: HookConfig,
  opts: SudoersOptions,
  host: HostReader,
  hostName = hostname(),
): Promise<string> {
  if (!USER.test(opts.user)) throw hookError('user-invalid', { user: opts.user });
  const lines: string[][] = [];
  const detected: string[] = [];
  const skipped: string[] = [];
  const rootOnly: string[] = [];
  for (const [master, actions] of Object.entries(config.masters)) {
    for (const [index, action] of actions.entries()) {
      const where = `masters.${master}[${index}]`;
      const got = await pluginFor(action).privilegedCommands?.(action, host, where);
      if (!got) continue;
      lines.push(...got.lines);
      detected.push(...(got.detected ?? []));
      rootOnly.push(...(got.rootOnly ?? []));
      if (got.notCovered) skipped.push(`${where} (${got.notCovered.what}): ${got.notCovered.why}`);
    }
  }
  const unique = [...new Map(lines.map((l) => [JSON.stringify(l), l])).values()];
  for (const program of new Set([...unique.map((l) => l[0]!), ...rootOnly])) opts.checkProgram?.(program);
  if (unique.length === 0) throw hookError('sudoers-nothing-to-allow', { configPath: opts.configPath });
  const header = [
    `# sudoers drop-in for sentinel-hook, from ${opts.configPath} on host ${hostName}.`,
    `# Generated by: sentinel-hook sudoers --user ${opts.user} --config ${opts.configPath}`,
    '# It allows exactly the command lines that config runs with privilege: sudo, nothing else.',
    '# Install: visudo -cf FILE && install -m 0440 -o root FILE /etc/sudoers.d/sentinel-hook (no "." in the name: sudo skips such files).',
  ];
  if (detected.length) {
    header.push(`# Interfaces detected from this host's routes (not set in the config): ${detected.join(', ')}.`);
    header.push('# Another host may route the VIP through another interface: generate this file on each host.');
  }
  for (const s of skipped) header.push(`# NOT covered: ${s}`);
  const rules = unique.map(sudoersLine);
  return `${[...header.map(commentLine), `Defaults:${opts.user} !requiretty`, `${opts.user} ALL=(root) NOPASSWD: ${rules.join(', \\\n    ')}`].join('\n')}\n`;
}

/**
 * A header line with the values copied into it (config path, host name) made safe: a newline would end
 * the comment and make the rest a rule visudo accepts, and a backslash at the end would join the next
 * line to it. Control characters and backslashes are written as \xNN; the rules have their own checks.
 */
function commentLine(line: string): string {
  return line.replace(/[\0-\x1f\x7f\\]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** visudo -cf on a temporary copy: the text is never installed by us. */
export async function checkSudoers(
  text: string,
  runner: CommandRunner,
  which: (p: string) => string | undefined,
): Promise<string> {
  const visudo = which('visudo');
  if (!visudo) throw hookError('program-missing', { program: 'visudo', install: 'sudo' });
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-hook-sudoers-'));
  try {
    const file = join(dir, 'sudoers');
    writeFileSync(file, text, { mode: 0o440 });
    const r = await runner.run([visudo, '-cf', file], { timeoutMs: 10_000 });
    if (r.exitCode !== 0)
      throw hookError('visudo-rejected', { said: (r.stderr || r.stdout).trim().split('\n')[0] ?? '' });
    return `visudo -cf: the rules parse (${visudo})`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
