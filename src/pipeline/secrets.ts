// Every secret the config names (the Sentinels' password, and whatever each action's plugin declares)
// is withheld from the processes we start and cut out of every log line, by the core, once: a new
// action only declares its secrets.
import { readFileSync } from 'node:fs';
import { pluginFor } from '../actions/index.ts';
import { type SecretRef, secretFromEnv, withholdSecret } from '../config/common.ts';
import type { HookConfig } from '../config/schema.ts';
import { type Logger, redactSecret } from '../log.ts';

export function configSecrets(config: HookConfig): SecretRef[] {
  const refs: SecretRef[] = config.sentinels?.password ? [config.sentinels.password] : [];
  for (const actions of Object.values(config.masters))
    for (const a of actions) refs.push(...(pluginFor(a).secrets?.(a) ?? []));
  return refs;
}

/**
 * Take every { env } secret out of `env` (what children inherit) before the first child starts; they
 * stay readable for our own use (secretFromEnv). Returns the values to keep out of the log: those of
 * the variables, and of secret files this process can read (a file's mode is its own protection, but
 * its content must not reach a log line either).
 */
export function withholdSecrets(env: NodeJS.ProcessEnv, refs: readonly SecretRef[]): string[] {
  const values: string[] = [];
  for (const ref of refs) {
    withholdSecret(env, ref);
    let value: string | undefined;
    if ('env' in ref) value = secretFromEnv(env, ref.env);
    else {
      try {
        value = readFileSync(ref.file, 'utf8').replace(/\r?\n$/, '');
      } catch {
        // unreadable here: nothing of it can reach our log either
      }
    }
    if (value) values.push(value);
  }
  return values;
}

function scrub(value: unknown, secrets: readonly string[], depth = 0): unknown {
  if (typeof value === 'string') return secrets.reduce((text, s) => redactSecret(text, s), value);
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, secrets, depth + 1));
  if (value instanceof Error) return scrub(value.message, secrets);
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v, secrets, depth + 1)]));
}

/** A logger that cuts every secret value (or what a peer echoed of it) out of each record. */
export function redactingLogger(logger: Logger, secrets: readonly string[]): Logger {
  if (secrets.length === 0) return logger;
  const at =
    (write: Logger['info']) =>
    (obj: Record<string, unknown>, msg?: string): void =>
      write(
        scrub(obj, secrets) as Record<string, unknown>,
        msg === undefined ? undefined : (scrub(msg, secrets) as string),
      );
  return {
    debug: at(logger.debug.bind(logger)),
    info: at(logger.info.bind(logger)),
    warn: at(logger.warn.bind(logger)),
    error: at(logger.error.bind(logger)),
    child: (bindings) => redactingLogger(logger.child(bindings), secrets),
  };
}

/** The same, for text that leaves through a result (a failed step's stderr line). */
export function scrubText<T>(value: T, secrets: readonly string[]): T {
  return secrets.length ? (scrub(value, secrets) as T) : value;
}
