import type * as z from 'zod/mini';
import { actionPlugins, pluginFor } from '../actions/index.ts';
import { hookError } from '../errors.ts';
import { readOwnedFile } from '../ownership.ts';
import { configSchema, type HookConfig, withStateDir } from './schema.ts';

export const DEFAULT_CONFIG_PATH = '/etc/sentinel-hook/config.yaml';

export function configPath(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return flag ?? env.SENTINEL_HOOK_CONFIG ?? DEFAULT_CONFIG_PATH;
}

/**
 * Sentinel runs the hook with its own privileges (often root, or a user with sudo rules):
 * whoever can write the config decides what runs, so only its owner may, and only root or us may own it.
 * The same goes for every directory above it, and above every symlink on the way to it: whoever may
 * write one (or owns it, and so may chmod it) can put another file or link in its place. The file is
 * opened once, checked through that descriptor and read from it, so it cannot be swapped between the
 * check and the read.
 */
export function readConfigFile(path: string, uid: number): string {
  return readOwnedFile(path, uid, { noun: 'config', fix: 'pass --config FILE or set SENTINEL_HOOK_CONFIG' }).toString(
    'utf8',
  );
}

export async function loadConfig(path: string, uid: number): Promise<HookConfig> {
  return parseConfigText(readConfigFile(path, uid), path);
}

export async function parseConfigText(text: string, path: string): Promise<HookConfig> {
  // Editors that save a UTF-8 byte-order mark: neither parser skips it.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let raw: unknown;
  try {
    raw = parseJson(text) ?? (await parseYaml(text));
  } catch (err) {
    throw hookError('config-syntax', { path, detail: (err as Error).message.split('\n')[0] ?? '' });
  }
  return validateConfig(raw, path);
}

/**
 * JSON is a subset of YAML, but the JSON parser is much cheaper on the failover path. Text that starts
 * with "{" and is not JSON is a YAML flow mapping: undefined sends it to the YAML parser.
 */
function parseJson(text: string): unknown {
  if (!/^\s*\{/.test(text)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  // JSON.parse keeps the last of two equal keys where YAML refuses them: one rule for both.
  const key = duplicateJsonKey(text);
  if (key !== undefined) throw new Error(`duplicate key ${JSON.stringify(key)}`);
  return raw;
}

/** The first key repeated within one object of text, which JSON.parse has already accepted. */
function duplicateJsonKey(text: string): string | undefined {
  // One entry per open object (its keys so far) or array (null).
  const open: (Set<string> | null)[] = [];
  let keyNext = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      if (keyNext) {
        // Decoded, so "a" and "\u0061" are the same key.
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        const keys = open.at(-1)!;
        if (keys.has(key)) return key;
        keys.add(key);
        keyNext = false;
      }
      i = end;
    } else if (c === '{') {
      open.push(new Set());
      keyNext = true;
    } else if (c === '[') {
      open.push(null);
    } else if (c === '}' || c === ']') {
      open.pop();
    } else if (c === ',') {
      keyNext = open.at(-1) != null;
    }
  }
  return undefined;
}

async function parseYaml(text: string): Promise<unknown> {
  // logLevel error: a warning is refused below rather than printed, many lines, on stderr.
  const doc = (await loadYaml()).parseDocument(text, { prettyErrors: true, logLevel: 'error' });
  // A warning is YAML the parser guessed at (an unknown tag such as !shell read as a plain list): refuse it.
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) throw problem;
  return doc.toJS();
}

async function loadYaml(): Promise<typeof import('yaml')> {
  const mod = await import('yaml');
  // Bundled, the CommonJS build of yaml arrives as a default export.
  return (mod as { default?: typeof import('yaml') }).default ?? mod;
}

export function validateConfig(raw: unknown, path: string): HookConfig {
  const result = configSchema.safeParse(raw);
  if (!result.success) throw hookError('config-invalid', { path, issue: formatIssue(result.error.issues, raw) });
  const shared = sharedClaim(result.data);
  if (shared) throw hookError('claim-shared', { path, ...shared });
  return withStateDir(result.data, raw);
}

/**
 * The first thing two entries both claim (see ActionPlugin.claims), in the config's order. Within one
 * master too: the same VIP listed twice is a copy-paste slip at best, and two entries with different
 * settings for it (interface, prefix) would fight over it on every run.
 */
function sharedClaim(
  config: Pick<HookConfig, 'masters'>,
): { claim: string; first: string; second: string; sameMaster: boolean } | undefined {
  const owners = new Map<string, { master: string; where: string }>();
  for (const [master, actions] of Object.entries(config.masters)) {
    for (const [i, a] of actions.entries()) {
      const where = `masters.${master}[${i}]`;
      for (const claim of new Set(pluginFor(a).claims?.(a))) {
        const owner = owners.get(claim);
        if (owner) return { claim, first: owner.where, second: where, sameMaster: owner.master === master };
        owners.set(claim, { master, where });
      }
    }
  }
  return undefined;
}

/** "masters.mymaster[1].interface: unknown key", the first problem only: one line, one fix at a time. */
export function formatIssue(issues: readonly z.core.$ZodIssue[], raw: unknown): string {
  const issue = pickIssue(issues);
  const path = issue.path.reduce<string>(
    (acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)),
    '',
  );
  let message = issue.message;
  if (issue.code === 'unrecognized_keys')
    message = `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  if (issue.code === 'invalid_union' && 'note' in issue && issue.note === 'No matching discriminator') {
    message = `unknown action type; expected one of ${actionPlugins.map((t) => t.type).join(', ')}`;
  } else if (message === ZOD_DEFAULT_MESSAGE) {
    message = expectedText(issue, valueAt(raw, issue.path));
  }
  const where = path || '(top level)';
  return `${where}: ${message}`;
}

// zod/mini ships no locale: an issue without its own message says only this.
const ZOD_DEFAULT_MESSAGE = 'Invalid input';

/** What the schema wanted, from the issue's code; of the value, only its kind (it may be a secret). */
function expectedText(issue: z.core.$ZodIssue, value: unknown): string {
  switch (issue.code) {
    case 'invalid_type':
      return value === undefined
        ? `required (expected ${typeName(issue.expected)})`
        : `expected ${typeName(issue.expected)}, got ${kindOf(value)}`;
    case 'invalid_value':
      return `expected ${issue.values.length === 1 ? '' : 'one of '}${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
    case 'too_big': {
      const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      const word = issue.code === 'too_small' ? 'at least' : 'at most';
      if (issue.origin === 'array') return `expected ${word} ${bound} item(s)`;
      if (issue.origin === 'string') return `expected ${word} ${bound} character(s)`;
      return `expected a number ${issue.inclusive ? word : issue.code === 'too_small' ? 'above' : 'below'} ${bound}`;
    }
    case 'invalid_union': {
      const kinds = issue.errors.flatMap((branch) =>
        branch[0]?.code === 'invalid_type' && branch[0].path.length === 0 ? [typeName(branch[0].expected)] : [],
      );
      if (kinds.length === issue.errors.length)
        return `expected ${[...new Set(kinds)].join(' or ')}, got ${kindOf(value)}`;
      return 'does not match any allowed form (see `sentinel-hook schema`)';
    }
    case 'invalid_format':
      return `expected a ${issue.format}`;
    default:
      return `not accepted here (${issue.code})`;
  }
}

function typeName(expected: string): string {
  const names: Record<string, string> = {
    array: 'a list',
    tuple: 'a list',
    object: 'a mapping',
    record: 'a mapping',
    int: 'a whole number',
    boolean: 'true or false',
    number: 'a number',
    string: 'a string',
    undefined: 'nothing',
  };
  return Object.hasOwn(names, expected) ? names[expected]! : expected;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'boolean') return String(value);
  return `a ${typeof value}`;
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let value = raw;
  for (const key of path) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function pickIssue(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue {
  const issue = issues[0]!;
  // A discriminated union reports its branch's problems nested; surface the real one with its full path.
  if (issue.code === 'invalid_union' && issue.errors.length === 1 && issue.errors[0]!.length > 0) {
    const inner = pickIssue(issue.errors[0]!);
    return { ...inner, path: [...issue.path, ...inner.path] } as z.core.$ZodIssue;
  }
  // A record key that failed its own check: its message says why, the path names the key.
  if (issue.code === 'invalid_key' && issue.issues.length > 0)
    return { ...issue.issues[0]!, path: issue.path } as z.core.$ZodIssue;
  return issue;
}
