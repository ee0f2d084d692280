import * as z from 'zod/mini';
import { type ActionConfig, actionPlugins, pluginFor } from '../actions/index.ts';
import { masterName } from '../event.ts';

/** Where the per-master locks, generations and records live unless the config says otherwise. */
export const DEFAULT_LOCK_DIR = '/run/sentinel-hook';

import { isHostname, isIpAddress } from '../values.ts';
import { about, absolutePath, duration, lazySchema, programName, secretRef } from './common.ts';

export type { ActionConfig } from '../actions/index.ts';

/** Every registered action type, in the registry's order. */
const ALL_TYPES: readonly string[] = actionPlugins.map((p) => p.type);

/** One entry of the action types given (registry order kept): each plugin's schema is built on first use. */
function actionSchema(types: readonly string[]): z.ZodMiniType<ActionConfig, unknown> {
  const [first, ...rest] = actionPlugins.filter((p) => types.includes(p.type)).map((p) => p.schema);
  return z.discriminatedUnion('type', [first!, ...rest] as unknown as [
    z.ZodMiniObject,
    ...z.ZodMiniObject[],
  ]) as unknown as z.ZodMiniType<ActionConfig, unknown>;
}

const sentinelAddress = lazySchema(() =>
  z.string().check(
    z.refine((text) => {
      const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text);
      if (!m) return false;
      const host = m[1] ?? m[2]!;
      const port = Number(m[3]);
      return (isIpAddress(host) || isHostname(host)) && port >= 1 && port <= 65535;
    }, 'expected host:port, e.g. 10.0.0.1:26379 or [fd00::1]:26379'),
  ),
);

/** The port the examples use for watch's metrics: see docs/reference/metrics.md for whose port it is. */
const METRICS_PORT = 9469;

/**
 * Where watch serves metrics: "host:port", "[v6]:port" or a port alone (then loopback: metrics say which host
 * holds the VIP, not for every network to read). Parsed to { host, port }.
 */
const LISTEN_EXPECTED = `expected an IP address and port such as "127.0.0.1:${METRICS_PORT}", or a port alone ("${METRICS_PORT}", loopback)`;
const metricsListen = lazySchema(() =>
  z.pipe(
    z.string({ error: LISTEN_EXPECTED }),
    z.transform((text: string, ctx) => {
      const m = /^(?:(?:\[([^\]]+)\]|([^:\s[\]]+)):)?(\d{1,5})$/.exec(text);
      const host = m ? (m[1] ?? m[2] ?? '127.0.0.1') : '';
      const port = m ? Number(m[3]) : 0;
      if (!m || !isIpAddress(host) || port < 1 || port > 65535) {
        ctx.issues.push({ code: 'custom', input: text, message: LISTEN_EXPECTED });
        return z.NEVER;
      }
      return { host, port };
    }),
  ),
);

const sentinelTls = lazySchema(() =>
  z
    .strictObject({
      ca: about(
        "PEM file of the CA(s) that signed the Sentinels' certificates: the only ones trusted",
        absolutePath().clone(),
      ),
      cert: about(
        'client certificate (PEM), for Sentinels with `tls-auth-clients yes`; needs key',
        z.optional(absolutePath()),
      ),
      key: about(
        "the client certificate's private key (PEM), readable by its owner only; needs cert",
        z.optional(absolutePath()),
      ),
      servername: about(
        "the name the Sentinels' certificates must carry; default: each address's host when it is a name, else its IP",
        z.optional(
          z
            .string()
            .check(
              z.refine(
                isHostname,
                'expected a host name (without it, an IP address is checked against the certificate as is)',
              ),
            ),
        ),
      ),
    })
    .check(
      z.superRefine((t, ctx) => {
        // One without the other is a half-made setting, not "no client certificate".
        if ((t.cert === undefined) !== (t.key === undefined)) {
          const missing = t.cert === undefined ? 'cert' : 'key';
          ctx.issues.push({
            code: 'custom',
            input: t,
            path: [missing],
            message: `required with ${missing === 'cert' ? 'key' : 'cert'} (a client certificate needs both)`,
          });
        }
      }),
    ),
);

/**
 * The top-level keys whose schemas are built only when a file has them: for an absent one, a stand-in gives
 * what the real one gives an absent key (nothing, or the default) without building it.
 */
const PARTS = ['sentinels', 'metrics', 'notify'] as const;

function buildConfigSchema(action: z.ZodMiniType<ActionConfig, unknown>, parts: ReadonlySet<string>) {
  return z
    .strictObject({
      // Sentinel SIGKILLs the hook at 60 s, and we must end our children before that.
      deadline: about(
        "the whole run's time limit, below Sentinel's 60 s SIGKILL; commands still running then are killed",
        z._default(duration({ min: 1000, max: 58_000 }), 45_000),
      ),
      log: about(
        "the hook's own log: JSON lines (Sentinel throws a script's output away)",
        z._default(
          z.strictObject({
            file: about(
              'where the JSON lines go; without it, stderr (watch and `reconcile --log-to journal`: stdout)',
              z.optional(absolutePath()),
            ),
            level: about('the lowest level written', z._default(z.enum(['debug', 'info', 'warn', 'error']), 'info')),
          }),
          { level: 'info' },
        ),
      ),
      lockDir: about(
        'the per-master locks and generations, shared by every process serving a master on this host; owned by ' +
          "Sentinel's user (or root) and writable by nobody else",
        z._default(absolutePath(), DEFAULT_LOCK_DIR),
      ),
      // A config that names a lockDir of its own and no stateDir keeps them in lockDir, as before (check
      // warns when that is emptied at reboot).
      stateDir: about(
        'what must outlive a reboot: the pause, the epoch this host acted on, once-per-failover and last-run ' +
          'records; default /var/lib/sentinel-hook (with a lockDir of its own: that lockDir)',
        z.optional(absolutePath()),
      ),
      sentinels: parts.has('sentinels')
        ? about(
            'the Sentinels to ask whether an event is still current before acting (a retry can come hours late); ' +
              'needed by reconcile and watch',
            z.optional(
              z.strictObject({
                addresses: about(
                  'every Sentinel of the group, host:port',
                  z.array(sentinelAddress()).check(z.minLength(1, 'expected at least one Sentinel address')),
                ),
                username: about(
                  'ACL user to log in as (AUTH username password)',
                  z.optional(z.string().check(z.minLength(1))),
                ),
                password: about(
                  "where the Sentinels' password is: { env: VARIABLE } or { file: /path }",
                  z.optional(secretRef()),
                ),
                timeout: about('per Sentinel, to connect and reply', z._default(duration({ min: 50, max: 5000 }), 500)),
                settle: about(
                  'how long to keep asking while no Sentinel names the to-ip yet',
                  z._default(duration({ min: 0, max: 10_000 }), 3000),
                ),
                tls: about(
                  'talk to the Sentinels over TLS (their tls-port), the certificate always verified',
                  z.optional(sentinelTls()),
                ),
              }),
            ),
          )
        : (z.optional(z.never()) as never),
      metrics: parts.has('metrics')
        ? about(
            'Prometheus metrics: served by watch (listen), or written by each hook run for node_exporter (textfile)',
            z.optional(
              z.strictObject({
                listen: about(
                  'where watch serves GET /metrics: "host:port", "[v6]:port", or a port alone for 127.0.0.1, e.g. "127.0.0.1:9469"',
                  z.optional(metricsListen()),
                ),
                textfile: about(
                  "a directory node_exporter's textfile collector reads: each run replaces sentinel_hook_<master>.prom there",
                  z.optional(absolutePath()),
                ),
              }),
            ),
          )
        : (z.optional(z.never()) as never),
      // No name is reserved: the CLI tells a hook call from a command by its shape, never by the master's name.
      masters: about(
        "one list of actions per master name (the name in Sentinel's `sentinel monitor` line)",
        z.record(masterName(), z.array(action).check(z.minLength(1, 'expected at least one action'))),
      ),
      notify: parts.has('notify')
        ? about(
            "commands for `sentinel-hook notify` (Sentinel's notification-script)",
            z._default(
              z.array(
                z.strictObject({
                  events: about(
                    'event types to act on, e.g. ["+switch-master", "+odown"]; all when absent',
                    z.optional(
                      z.array(
                        z
                          .string()
                          .check(
                            z.regex(/^[+-][A-Za-z0-9-]+$/, 'expected a Sentinel event type such as "+switch-master"'),
                          ),
                      ),
                    ),
                  ),
                  run: about(
                    'argv, never a shell; placeholders {eventType} {description} {master}',
                    z.tuple([programName()], z.string()),
                  ),
                  timeout: about('for the command', z._default(duration({ min: 1, max: 58_000 }), 10_000)),
                }),
              ),
              [],
            ),
          )
        : (z._default(z.array(z.never()), []) as never),
    })
    .check(
      z.superRefine((c, ctx) => {
        // The guard runs inside the run's deadline; one that can outlast it leaves no time to act.
        const guard = c.sentinels ? c.sentinels.settle + c.sentinels.timeout : 0;
        if (c.sentinels && guard >= c.deadline - 1000) {
          ctx.issues.push({
            code: 'custom',
            input: c.sentinels,
            path: ['sentinels', 'settle'],
            message: `settle + timeout (${guard} ms) leaves less than 1 s of the ${c.deadline} ms deadline to act`,
          });
        }
        // Steps that cannot end before the deadline fail every run, and every retry.
        for (const [master, actions] of Object.entries(c.masters)) {
          actions.forEach((a, i) => {
            const budget = pluginFor(a).budget?.(a);
            if (!budget || guard + budget.ms + 1000 <= c.deadline) return;
            ctx.issues.push({
              code: 'custom',
              input: (a as Record<string, unknown>)[budget.field],
              path: ['masters', master, i, budget.field],
              message: `${budget.what} take ${budget.ms} ms${guard ? ` after up to ${guard} ms of the Sentinel check` : ''}: more than the ${c.deadline} ms deadline allows (1 s kept for the rest); raise "deadline" or lower ${budget.lower}`,
            });
          });
        }
      }),
    );
}
type ConfigSchema = ReturnType<typeof buildConfigSchema>;

const built = new Map<string, ConfigSchema>();
function configSchemaOf(types: readonly string[], parts: readonly string[] = PARTS): ConfigSchema {
  const key = `${types.join(' ')}|${parts.join(' ')}`;
  let schema = built.get(key);
  if (!schema) {
    schema = buildConfigSchema(actionSchema(types), new Set(parts));
    built.set(key, schema);
  }
  return schema;
}

/** The config's schema with every action type: for `schema`, `check` and a config's problems. */
export function configSchema(): ConfigSchema {
  return configSchemaOf(ALL_TYPES);
}

/**
 * The schema `raw` is parsed with on the failover path: with only the action types it names, as a discriminated
 * union takes the one branch an entry's type names and the rest are never used. Building every type's schema
 * cost a dry-run milliseconds. A config with an entry of no known type (or not a list of entries) gets them
 * all, so that its problems are told exactly as before. Likewise `sentinels`, `metrics` and `notify` only
 * when the file has them.
 */
export function configSchemaFor(raw: unknown): ConfigSchema {
  return configSchemaOf(
    typesNamed(raw) ?? ALL_TYPES,
    isRecord(raw) ? PARTS.filter((p) => Object.hasOwn(raw, p)) : PARTS,
  );
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

function typesNamed(raw: unknown): string[] | undefined {
  const masters = isRecord(raw) ? raw.masters : undefined;
  if (!isRecord(masters)) return undefined;
  const named = new Set<string>();
  for (const actions of Object.values(masters)) {
    if (!Array.isArray(actions)) return undefined;
    for (const a of actions) {
      const type = isRecord(a) ? a.type : undefined;
      if (typeof type !== 'string' || !ALL_TYPES.includes(type)) return undefined;
      named.add(type);
    }
  }
  return named.size > 0 ? ALL_TYPES.filter((t) => named.has(t)) : undefined;
}

/** The directory the pause and the epoch, once-per-failover and last-run records live in by default. */
export const DEFAULT_STATE_DIR = '/var/lib/sentinel-hook';

/** A parsed config, with its state directory decided (see stateDir). */
export type HookConfig = Omit<z.infer<ConfigSchema>, 'stateDir'> & { stateDir: string };

/**
 * stateDir as given; else lockDir when the file names a lockDir of its own (its records stay where they
 * were: a lab's or a test's per-host directory); else the default. The default lockDir written out
 * (as the reference shows it) is no lockDir of its own: /run forgets at every reboot.
 */
export function withStateDir(parsed: z.infer<ConfigSchema>, raw: unknown): HookConfig {
  const ownLockDir =
    typeof raw === 'object' && raw !== null && Object.hasOwn(raw, 'lockDir') && parsed.lockDir !== DEFAULT_LOCK_DIR;
  return { ...parsed, stateDir: parsed.stateDir ?? (ownLockDir ? parsed.lockDir : DEFAULT_STATE_DIR) };
}
