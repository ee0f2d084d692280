import type * as z from 'zod/mini';
import { actionPlugins, pluginFor } from '../actions/index.ts';
import { codeOf, hookError } from '../errors.ts';
import { type OwnedFile, openOwnedFile } from '../ownership.ts';
import { editDistance } from '../values.ts';
import { BARE_NUMBER, flaggingBareNumbers } from './common.ts';
import { readCompiled, writeCompiled } from './compiled.ts';
import { configSchema, configSchemaFor, type HookConfig, withStateDir } from './schema.ts';

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
  return openConfigFile(path, uid).data.toString('utf8');
}

export async function loadConfig(path: string, uid: number): Promise<HookConfig> {
  return (await loadConfigFrom(path, uid)).config;
}

/** The config, and whether it came compiled (see compiled.ts) or why it was parsed: the hook logs it. */
export async function loadConfigFrom(
  path: string,
  uid: number,
): Promise<{ config: HookConfig; compiled: true | string }> {
  const file = openConfigFile(path, uid);
  const text = file.data.toString('utf8');
  const compiled = readCompiled(file, text);
  if ('config' in compiled) return { config: compiled.config, compiled: true };
  return { config: await parseConfigText(text, path), compiled: compiled.why };
}

/**
 * `check`'s load: always parsed and validated from the text, then kept compiled for the failover path.
 * `compiled` says where, or why not (a user who may read the config but not write beside it, say).
 */
export async function compileConfig(
  path: string,
  uid: number,
): Promise<{ config: HookConfig; compiled: { path: string } | { why: string } }> {
  const file = openConfigFile(path, uid);
  const text = file.data.toString('utf8');
  const config = await parseConfigText(text, path);
  return { config, compiled: writeCompiled(file, text, config) };
}

function openConfigFile(path: string, uid: number): OwnedFile {
  return openOwnedFile(path, uid, { noun: 'config', fix: 'pass --config FILE or set SENTINEL_HOOK_CONFIG' });
}

export async function parseConfigText(text: string, path: string): Promise<HookConfig> {
  // Editors that save a UTF-8 byte-order mark: neither parser skips it.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const raw = await parseRaw(text, path);
  try {
    return validateConfig(raw, path);
  } catch (err) {
    // Only now, on the way out: the lines of the problems, from the YAML parser's positions.
    if (codeOf(err) === 'config-invalid') validateConfig(raw, path, await yamlLocator(text));
    throw err;
  }
}

async function parseRaw(text: string, path: string): Promise<unknown> {
  try {
    return parseJson(text) ?? (await parseYaml(text));
  } catch (err) {
    // The YAML parser's message ends with a code frame (the line, a caret under the column): shown under
    // the one line, where a person reads it.
    const [detail = '', ...frame] = (err as Error).message.trimEnd().split('\n');
    const shown = frame.join('\n').replace(/^\n+/, '');
    throw hookError('config-syntax', { path, detail: detail.replace(/:$/, ''), ...(shown ? { frame: shown } : {}) });
  }
}

/** A problem of a config, where it is: `line` from the YAML parser's positions when the text was at hand. */
export interface ConfigProblem {
  where: string;
  message: string;
  line?: number;
}

export function problemText(p: ConfigProblem): string {
  return `${p.line !== undefined ? `line ${p.line}: ` : ''}${p.where}: ${p.message}`;
}

/**
 * Everything `check` says of a config's text: every problem at once, in file order, with its line, and the
 * warnings (bare-number durations, deprecated). A text that does not parse throws config-syntax.
 */
export async function configReport(
  text: string,
  path: string,
): Promise<{ problems: ConfigProblem[]; warnings: ConfigProblem[] }> {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const raw = await parseRaw(text, path);
  const locate = await yamlLocator(text);
  const result = configSchema().safeParse(raw);
  if (!result.success) return { problems: located(listIssues(result.error.issues, raw), locate), warnings: [] };
  const shared = sharedClaim(result.data);
  const problems: ConfigProblem[] = shared
    ? [
        {
          where: shared.second,
          message: `${shared.first} and ${shared.second} both claim ${shared.claim}`,
          ...lineOf(locate, shared.secondPath),
        },
      ]
    : [];
  const flagged = flaggingBareNumbers(() => configSchema().safeParse(raw));
  const bare = flagged.success
    ? []
    : listIssues(flagged.error.issues, raw)
        .filter((i) => i.message === BARE_NUMBER)
        .map((i) => {
          const value = valueAt(raw, i.path) as number;
          return {
            ...i,
            message: `${value} is a bare number, read as ${value}ms: bare numbers are deprecated, write "${value}ms"${
              value >= 1000 && value % 1000 === 0 ? ` (or "${value / 1000}s")` : ''
            } (0 may stay bare)`,
          };
        });
  return { problems, warnings: located(bare, locate) };
}

function lineOf(locate: Locator | undefined, path: readonly PropertyKey[]): { line?: number } {
  const line = locate?.(path);
  return line === undefined ? {} : { line };
}

/** Problems with their lines, in file order (those without a line last, as found). */
function located(issues: readonly LocatedIssue[], locate: Locator | undefined): ConfigProblem[] {
  const withLines = issues.map((i, n) => ({ where: i.where, message: i.message, n, ...lineOf(locate, i.path) }));
  withLines.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER) || a.n - b.n);
  return withLines.map(({ n: _n, ...p }) => p);
}

/** The line (1-based) of the value at a path, else of the nearest part of it that is in the text. */
type Locator = (path: readonly PropertyKey[]) => number | undefined;

async function yamlLocator(text: string): Promise<Locator | undefined> {
  const yaml = await loadYaml();
  const lines = new yaml.LineCounter();
  const doc = yaml.parseDocument(text, { lineCounter: lines, logLevel: 'silent' });
  if (doc.errors.length) return undefined;
  return (path) => {
    for (let n = path.length; n >= 0; n--) {
      const parent = n > 0 ? doc.getIn(path.slice(0, n - 1), true) : undefined;
      // A key's own line: where an unknown key or a bad value's key is written.
      if (n > 0 && yaml.isMap(parent)) {
        const pair = parent.items.find((p) => yaml.isScalar(p.key) && String(p.key.value) === String(path[n - 1]));
        const range = (pair?.key as { range?: [number, number, number] } | undefined)?.range;
        if (range) return lines.linePos(range[0]).line;
      }
      const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node?.range) return lines.linePos(node.range[0]).line;
    }
    return undefined;
  };
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

/**
 * The config, or the first of its problems (in file order when `locate` knows the lines) with how many more:
 * one line on the failover path; `check` lists them all.
 */
export function validateConfig(raw: unknown, path: string, locate?: Locator): HookConfig {
  const result = configSchemaFor(raw).safeParse(raw);
  if (!result.success) {
    const problems = located(listIssues(result.error.issues, raw), locate);
    throw hookError('config-invalid', { path, issue: problemText(problems[0]!), more: problems.length - 1 });
  }
  const shared = sharedClaim(result.data);
  if (shared) {
    const { secondPath: _path, ...claim } = shared;
    throw hookError('claim-shared', { path, ...claim });
  }
  return withStateDir(result.data, raw);
}

/**
 * The first thing two entries both claim (see ActionPlugin.claims), in the config's order. Within one
 * master too: the same VIP listed twice is a copy-paste slip at best, and two entries with different
 * settings for it (interface, prefix) would fight over it on every run.
 */
function sharedClaim(
  config: Pick<HookConfig, 'masters'>,
): { claim: string; first: string; second: string; secondPath: PropertyKey[]; sameMaster: boolean } | undefined {
  const owners = new Map<string, { master: string; where: string }>();
  for (const [master, actions] of Object.entries(config.masters)) {
    for (const [i, a] of actions.entries()) {
      const where = `masters.${master}[${i}]`;
      for (const claim of new Set(pluginFor(a).claims?.(a))) {
        const owner = owners.get(claim);
        if (owner)
          return {
            claim,
            first: owner.where,
            second: where,
            secondPath: ['masters', master, i],
            sameMaster: owner.master === master,
          };
        owners.set(claim, { master, where });
      }
    }
  }
  return undefined;
}

interface LocatedIssue {
  path: PropertyKey[];
  where: string;
  message: string;
}

/** Every issue zod found, each as "masters.mymaster[1].interface" and what is wrong there. */
function listIssues(issues: readonly z.core.$ZodIssue[], raw: unknown): LocatedIssue[] {
  return expandIssues(issues).flatMap((issue) =>
    // One problem per unknown key: each has its own line and its own nearest known key.
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({
          path: [...issue.path, key],
          where: pathText(issue.path),
          message: unknownKeyText(key, knownKeys(issue.path, raw)),
        }))
      : [{ path: [...issue.path], where: pathText(issue.path), message: formatIssue(issue, raw) }],
  );
}

function pathText(path: readonly PropertyKey[]): string {
  const text = path.reduce<string>(
    (acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)),
    '',
  );
  return text || '(top level)';
}

function unknownKeyText(key: string, known: readonly string[]): string {
  const near = known
    .map((k) => ({ k, d: editDistance(key.toLowerCase(), k.toLowerCase()) }))
    .filter(({ k, d }) => d <= Math.max(1, Math.min(3, k.length >> 1)))
    .sort((a, b) => a.d - b.d)[0]?.k;
  return `unknown key ${JSON.stringify(key)}${near ? ` (did you mean "${near}"?)` : known.length ? ` (known here: ${known.join(', ')})` : ''}`;
}

/** The keys the schema knows at `path` of `raw` (an action's by its type), for a suggestion. */
function knownKeys(path: readonly PropertyKey[], raw: unknown): string[] {
  let schema: unknown = configSchema();
  let value = raw;
  for (const key of [...path, undefined]) {
    schema = unwrap(schema, value);
    const def = (schema as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
    if (!def) return [];
    if (key === undefined) return def.type === 'object' ? Object.keys(def.shape as object) : [];
    if (def.type === 'object') schema = (def.shape as Record<string, unknown>)[String(key)];
    else if (def.type === 'record') schema = def.valueType;
    else if (def.type === 'array') schema = def.element;
    else return [];
    value = value !== null && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[key] : undefined;
  }
  return [];
}

/** Through optional, default and pipe wrappers; a discriminated union to the option `value` names. */
function unwrap(schema: unknown, value: unknown): unknown {
  for (let i = 0; i < 20; i++) {
    const def = (schema as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
    if (!def) return schema;
    if (def.innerType) schema = def.innerType;
    else if (def.type === 'pipe') schema = def.in;
    else if (def.type === 'union' && typeof def.discriminator === 'string') {
      const want = (value as Record<string, unknown> | undefined)?.[def.discriminator];
      const option = (
        def.options as { _zod: { def: { shape?: Record<string, { _zod: { values?: Set<unknown> } }> } } }[]
      ).find((o) => o._zod.def.shape?.[def.discriminator as string]?._zod.values?.has(want));
      if (!option) return schema;
      schema = option;
    } else return schema;
  }
  return schema;
}

/** Nested issues (a discriminated union's branch, a record key) as issues of their own, with their full paths. */
function expandIssues(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  return issues.flatMap((issue) => {
    if (issue.code === 'invalid_union' && issue.errors.length === 1 && issue.errors[0]!.length > 0)
      return expandIssues(issue.errors[0]!).map(
        (inner) => ({ ...inner, path: [...issue.path, ...inner.path] }) as z.core.$ZodIssue,
      );
    if (issue.code === 'invalid_key' && issue.issues.length > 0)
      return [{ ...issue.issues[0]!, path: issue.path } as z.core.$ZodIssue];
    return [issue];
  });
}

/** What is wrong with one issue's value, in words. */
function formatIssue(issue: z.core.$ZodIssue, raw: unknown): string {
  let message = issue.message;
  if (issue.code === 'invalid_union' && 'note' in issue && issue.note === 'No matching discriminator') {
    message = `unknown action type; expected one of ${actionPlugins.map((t) => t.type).join(', ')}`;
  } else if (message === ZOD_DEFAULT_MESSAGE) {
    message = expectedText(issue, valueAt(raw, issue.path));
  }
  return message;
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
