// Every secret the config names (the Sentinels' password, and whatever each action's plugin declares)
// is withheld from the processes we start and cut out of every log line, by the core, once: a new
// action only declares its secrets.
import { pluginFor } from '../actions/index.ts';
import { heldSecretFile, readSecretFile, type SecretRef, secretFromEnv, withholdSecret } from '../config/common.ts';
import type { HookConfig } from '../config/schema.ts';
import { hookError } from '../errors.ts';
import { type Logger, redactSecret } from '../log.ts';

export function configSecrets(config: HookConfig): SecretRef[] {
  return placedSecrets(config).map((s) => s.ref);
}

/** Every secret of the config with the place that names it (for messages). */
function placedSecrets(config: HookConfig): { ref: SecretRef; where: string }[] {
  const placed = config.sentinels?.password ? [{ ref: config.sentinels.password, where: 'sentinels.password' }] : [];
  for (const [master, actions] of Object.entries(config.masters))
    actions.forEach((a, i) => {
      for (const ref of pluginFor(a).secrets?.(a) ?? []) placed.push({ ref, where: `masters.${master}[${i}]` });
    });
  return placed;
}

/**
 * Every secret of `config`, read now from its variable or file: a service checks them with the rest of
 * a new config, so that a password file moved away is a refused reload (or a refused start, exit 2)
 * rather than a failure of every run after it. Returns the files' contents, for holdSecretFiles.
 */
export function readConfigSecrets(config: HookConfig, env: NodeJS.ProcessEnv): Map<string, string> {
  const files = new Map<string, string>();
  for (const { ref, where } of placedSecrets(config)) {
    if (!('env' in ref)) files.set(ref.file, readSecretFile(ref.file, where));
    else if (secretFromEnv(env, ref.env) === undefined) throw hookError('secret-unset', { where, env: ref.env });
  }
  return files;
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
        value = heldSecretFile(env, ref.file) ?? readSecretFile(ref.file, '');
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
