// zod/mini, not classic zod: its tree-shaken bundle is a twentieth of the size and it builds schemas
// several times faster — and every hook run builds them on Sentinel's failover path.
import { readFileSync } from 'node:fs';
import * as z from 'zod/mini';
import { hookError } from '../errors.ts';
import { formatDuration, isAbsolutePath, parseDuration } from '../values.ts';

const DURATION_EXPECTED = 'expected a duration like "200ms" or "5s" (a bare number is whole milliseconds)';

/** The message of the issue a bare number raises while check looks for them (see flaggingBareNumbers). */
export const BARE_NUMBER = 'a bare number: whole milliseconds';
let flagBare = false;

/**
 * Run `parse` with every bare-number duration but 0 raised as an issue (BARE_NUMBER) at its path: zod has
 * no warnings, and `check` wants each one's place. Bare numbers stay valid at run time: an upgraded host
 * with an old config must not start dropping failovers. Synchronous, so no other parse sees the flag.
 */
export function flaggingBareNumbers<T>(parse: () => T): T {
  flagBare = true;
  try {
    return parse();
  } finally {
    flagBare = false;
  }
}

/** What a duration out of range says: a bare number is asked what unit it meant, with the one that fits. */
function outOfRange(value: string | number, ms: number, min: number, max: number): string {
  const range = `from ${formatDuration(min)} to ${formatDuration(max)}`;
  if (typeof value !== 'number' || value === 0) return `expected a duration ${range}, got ${formatDuration(ms)}`;
  const unit =
    value * 1000 >= min && value * 1000 <= max ? 's' : value * 60_000 >= min && value * 60_000 <= max ? 'm' : undefined;
  return `${value} what? A bare number is milliseconds (${value}ms), and this takes ${range}${unit ? `: write ${value}${unit}` : ''}`;
}

/** A duration written as "200ms", "5s" or "1m" (a bare number is milliseconds, deprecated); parsed to milliseconds. */
export function duration(opts: { min?: number; max?: number } = {}) {
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = opts;
  return z.pipe(
    z.union([z.string(), z.int().check(z.nonnegative({ error: DURATION_EXPECTED }))], { error: DURATION_EXPECTED }),
    z.transform((value: string | number, ctx) => {
      const ms = typeof value === 'number' ? value : parseDuration(value);
      if (ms === undefined) {
        ctx.issues.push({
          code: 'custom',
          input: value,
          message: `expected a duration like "200ms" or "5s", got ${JSON.stringify(value)}`,
        });
        return z.NEVER;
      }
      if (ms < min || ms > max) {
        ctx.issues.push({ code: 'custom', input: value, message: outOfRange(value, ms, min, max) });
        return z.NEVER;
      }
      if (flagBare && typeof value === 'number' && value !== 0)
        ctx.issues.push({ code: 'custom', input: value, message: BARE_NUMBER });
      return ms;
    }),
  );
}

/**
 * A schema built on its first use, then kept. zod builds are not free, and a hook run on the failover path
 * builds only the action types its config names (see configSchemaFor).
 */
export function lazySchema<T>(build: () => T): () => T {
  let built: T | undefined;
  return () => (built ??= build());
}

/**
 * What a key is for: the description editors show from `sentinel-hook schema` and docs/reference lists.
 * Registered (a map entry), not a check: parsing a config pays nothing for it. The schema given must be
 * this key's own instance (a wrapper such as z.optional, or a clone of a shared one), or every key that
 * shares it would get this text.
 */
export function about<T extends z.core.$ZodType>(description: string, schema: T): T {
  if (z.globalRegistry.has(schema)) throw new Error(`described twice: ${description}`);
  z.globalRegistry.add(schema, { description });
  return schema;
}

export const absolutePath = lazySchema(() =>
  z.string().check(z.refine(isAbsolutePath, 'expected an absolute path without ".."')),
);

const whenObject = lazySchema(() =>
  z.strictObject({
    role: about(
      'leader: only on the Sentinel that ran the failover (for what must happen once); observer: only on the others',
      z._default(z.enum(['leader', 'observer', 'any']), 'any'),
    ),
    host: about(
      'new-master: only on the host that owns the to-ip; old-master: only where the from-ip is local',
      z._default(z.enum(['new-master', 'old-master', 'any']), 'any'),
    ),
  }),
);
/** Common to every action type. */
export const when = lazySchema(() =>
  about('which hook runs the action applies to', z._default(whenObject(), { role: 'any', host: 'any' })),
);
export type When = z.output<ReturnType<typeof whenObject>>;

/** Where a secret comes from; the value itself never sits in the config file or the log. */
export const secretRef = lazySchema(() =>
  z.union(
    [
      z.strictObject({
        env: about(
          'the environment variable that holds it (taken out of what commands the hook starts inherit)',
          z.string().check(z.regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name')),
        ),
      }),
      z.strictObject({
        file: about('the file that holds it (a last newline is not part of it)', absolutePath().clone()),
      }),
    ],
    { error: 'expected { env: VARIABLE } or { file: /path }: the secret itself never goes in the config' },
  ),
);
export type SecretRef = z.output<ReturnType<typeof secretRef>>;

/** Secrets taken out of an environment object, by variable name: see withholdSecret. */
const taken = new WeakMap<object, Map<string, string>>();

/**
 * The commands we start have no business with the Sentinels' password: its variable leaves `env` (the
 * environment children inherit) before any child starts, and stays readable for our own Sentinel
 * questions through readSecret, however many runs one process makes (a service, a reconcile of
 * several masters, a stale event that converges). Returns `env`.
 */
export function withholdSecret(env: NodeJS.ProcessEnv, ref: SecretRef | undefined): NodeJS.ProcessEnv {
  if (ref && 'env' in ref) {
    const value = Object.hasOwn(env, ref.env) ? env[ref.env] : undefined;
    if (value !== undefined) {
      let kept = taken.get(env);
      if (!kept) {
        kept = new Map();
        taken.set(env, kept);
      }
      kept.set(ref.env, value);
      delete env[ref.env];
    }
  }
  return env;
}

/** A variable's value, also after withholdSecret took it out of `env`. */
export function secretFromEnv(env: NodeJS.ProcessEnv, name: string): string | undefined {
  // Own keys only: a name such as `constructor` must not find Object's.
  return taken.get(env)?.get(name) ?? (Object.hasOwn(env, name) ? env[name] : undefined);
}

/** Secret files' contents a service read with its config, by environment object: see holdSecretFiles. */
const heldFiles = new WeakMap<object, ReadonlyMap<string, string>>();

/**
 * A service (watch) reads every secret file with its config, at start and on each reload, and uses what
 * it read until the next reload succeeds: a password file moved away or made unreadable meanwhile fails
 * that reload, not every run after it. Keyed by the environment object, as withholdSecret is. A process
 * that holds none (the hook, reconcile) reads the file at each use.
 */
export function holdSecretFiles(env: NodeJS.ProcessEnv, files: ReadonlyMap<string, string>): void {
  heldFiles.set(env, files);
}

export function heldSecretFile(env: NodeJS.ProcessEnv, file: string): string | undefined {
  return heldFiles.get(env)?.get(file);
}

/** A secret file as it is now, whatever a service holds; a last newline is the editor's, not the secret's. */
export function readSecretFile(file: string, where: string): string {
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw hookError('secret-unreadable', { where, file, errno: (err as NodeJS.ErrnoException).code });
  }
}

/** sudo: prefix "sudo -n" (exact argv, allowed by a sudoers rule); none: run as is (root or capabilities). */
export const privilege = lazySchema(() => z.enum(['sudo', 'none']));

/**
 * argv[0]: a program path or name; no spaces, no placeholders, no leading '-'. No ".." either: a name
 * is looked up as <system dir>/<name>, and "../../tmp/x" would leave the system directories.
 */
export const programName = lazySchema(() =>
  z.string().check(
    z.regex(/^[^\s{}-][^\s{}]*$/, 'expected a program path or name without spaces or placeholders'),
    z.refine((p) => !p.split('/').includes('..'), 'expected a program path or name without ".."'),
  ),
);
