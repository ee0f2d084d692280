import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, realpathSync } from 'node:fs';
import { dirname } from 'node:path';
import type * as z from 'zod/mini';
import { ConfigError } from '../errors.ts';
import { actionTypes } from '../actions/index.ts';
import { configSchema, type HookConfig } from './schema.ts';

export const DEFAULT_CONFIG_PATH = '/etc/sentinel-hook/config.yaml';

export function configPath(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return flag ?? env.SENTINEL_HOOK_CONFIG ?? DEFAULT_CONFIG_PATH;
}

/**
 * Sentinel runs the hook with its own privileges (often root, or a user with sudo rules):
 * whoever can write the config decides what runs, so only its owner may, and only root or us may own it.
 * The same goes for every directory above it: whoever may write one (or owns it, and so may chmod it)
 * can put another file in its place. The file is opened once, checked through that descriptor and read
 * from it, so it cannot be swapped between the check and the read.
 */
export function readConfigFile(path: string, uid: number): string {
  const fail = (err: unknown): never => {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      code === 'ENOENT' ? `config file ${path} not found` : `cannot read config file ${path}: ${code ?? (err as Error).message}`,
      'pass --config FILE or set SENTINEL_HOOK_CONFIG',
    );
  };
  let real: string;
  try {
    real = realpathSync(path);
  } catch (err) {
    return fail(err);
  }
  const shown = real === path ? path : `${path} (${real})`;
  checkAncestors(real, shown, uid);
  let fd: number;
  try {
    // O_NOFOLLOW: a symlink put in place since realpath is refused (ELOOP), not followed.
    // O_NONBLOCK: a FIFO must not hang the run; fstat refuses it below.
    fd = openSync(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    return fail(err);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ConfigError(`config ${shown} is not a regular file`);
    if (st.uid !== 0 && st.uid !== uid) {
      throw new ConfigError(`config file ${shown} is owned by uid ${st.uid}, not root or the running user (uid ${uid})`, `chown root ${real}`);
    }
    if (st.mode & 0o022) {
      throw new ConfigError(`config file ${shown} is writable by users other than its owner (mode ${(st.mode & 0o777).toString(8)})`, `chmod go-w ${real}`);
    }
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * Every directory from the file's up to /: owned by root or us, writable by nobody else unless sticky (/tmp).
 * `label` names what the directory holds in the messages (the sudoers rules check their programs too).
 */
export function checkAncestors(real: string, shown: string, uid: number, label = 'config directory'): void {
  for (let dir = dirname(real); ; dir = dirname(dir)) {
    let st;
    try {
      st = lstatSync(dir);
    } catch (err) {
      throw new ConfigError(`cannot check ${label} ${dir}: ${(err as NodeJS.ErrnoException).code}`, 'pass --config FILE or set SENTINEL_HOOK_CONFIG');
    }
    if (!st.isDirectory()) throw new ConfigError(`${label} ${dir} changed while being checked (not a directory any more)`, 'run again');
    if (st.uid !== 0 && st.uid !== uid) {
      throw new ConfigError(`${label} ${dir} is owned by uid ${st.uid}, not root or the running user (uid ${uid}): its owner could replace ${shown}`, `chown root ${dir}, or move the config to a directory root owns`);
    }
    // Whoever may write the directory may replace the file; a sticky directory (/tmp) forbids that.
    if (st.mode & 0o022 && !(st.mode & 0o1000)) {
      throw new ConfigError(`${label} ${dir} is writable by users other than its owner (mode ${(st.mode & 0o777).toString(8)}): they could replace ${shown}`, `chmod go-w ${dir}`);
    }
    if (dir === dirname(dir)) return;
  }
}

export async function loadConfig(path: string, uid: number): Promise<HookConfig> {
  return parseConfigText(readConfigFile(path, uid), path);
}

export async function parseConfigText(text: string, path: string): Promise<HookConfig> {
  let raw: unknown;
  try {
    // JSON is a subset of YAML, but the JSON parser is much cheaper on the failover path.
    raw = /^\s*\{/.test(text) ? JSON.parse(text) : (await loadYaml()).parse(text, { prettyErrors: true });
  } catch (err) {
    throw new ConfigError(`config ${path} is not valid YAML/JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  return validateConfig(raw, path);
}

async function loadYaml(): Promise<typeof import('yaml')> {
  const mod = await import('yaml');
  // Bundled, the CommonJS build of yaml arrives as a default export.
  return (mod as { default?: typeof import('yaml') }).default ?? mod;
}

export function validateConfig(raw: unknown, path: string): HookConfig {
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(`config ${path}: ${formatIssue(result.error.issues)}`);
  return result.data;
}

/** "masters.mymaster[1].interface: unknown key", the first problem only: one line, one fix at a time. */
export function formatIssue(issues: readonly z.core.$ZodIssue[]): string {
  const issue = pickIssue(issues);
  const path = issue.path.reduce<string>(
    (acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)),
    '',
  );
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') message = `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  if (issue.code === 'invalid_type' && /received undefined/.test(message)) message = `required (expected ${issue.expected})`;
  if (issue.code === 'invalid_union' && 'note' in issue && issue.note === 'No matching discriminator') {
    message = `unknown action type; expected one of ${actionTypes.map((t) => t.type).join(', ')}`;
  }
  const where = path || '(top level)';
  return `${where}: ${message}`;
}

function pickIssue(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue {
  const issue = issues[0]!;
  // A discriminated union reports its branch's problems nested; surface the real one with its full path.
  if (issue.code === 'invalid_union' && issue.errors.length === 1 && issue.errors[0]!.length > 0) {
    const inner = pickIssue(issue.errors[0]!);
    return { ...inner, path: [...issue.path, ...inner.path] } as z.core.$ZodIssue;
  }
  // A record key that failed its own check: its message says why, the path names the key.
  if (issue.code === 'invalid_key' && issue.issues.length > 0) return { ...issue.issues[0]!, path: issue.path } as z.core.$ZodIssue;
  return issue;
}
