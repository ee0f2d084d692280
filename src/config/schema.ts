import { z } from 'zod';
import { actionTypes } from '../actions/index.ts';
import { masterName } from '../event.ts';
import { isHostname, isIpAddress } from '../values.ts';
import { absolutePath, duration, secretRef } from './common.ts';

/** One config entry of any action type; the type is derived from the registered action types. */
export type ActionConfig = z.output<(typeof actionTypes)[number]['schema']>;
const [first, ...rest] = actionTypes.map((t) => t.schema);
export const actionSchema = z.discriminatedUnion('type', [first!, ...rest] as unknown as [z.ZodObject, ...z.ZodObject[]]) as unknown as z.ZodType<ActionConfig, unknown>;

const sentinelAddress = z.string().refine((text) => {
  const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text);
  if (!m) return false;
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  return (isIpAddress(host) || isHostname(host)) && port >= 1 && port <= 65535;
}, 'expected host:port, e.g. 10.0.0.1:26379 or [fd00::1]:26379');

export const configSchema = z.strictObject({
  /** Whole-run time limit; Sentinel SIGKILLs the hook at 60 s, and we must end our children before that. */
  deadline: duration({ min: 1000, max: 58_000 }).default(45_000),
  log: z
    .strictObject({
      file: absolutePath.optional(),
      level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
    })
    .default({ level: 'info' }),
  /** Directory for the per-master lock; default /run/sentinel-hook, else the temp directory. */
  lockDir: absolutePath.optional(),
  /** When set, an event is checked against these Sentinels before acting (a retry can come hours late). */
  sentinels: z
    .strictObject({
      addresses: z.array(sentinelAddress).min(1),
      username: z.string().min(1).optional(),
      password: secretRef.optional(),
      /** Per Sentinel, connect and reply. */
      timeout: duration({ min: 50, max: 5000 }).default(500),
      /** How long to keep asking while no Sentinel names the to-ip yet. */
      settle: duration({ min: 0, max: 10_000 }).default(3000),
    })
    .optional(),
  masters: z.record(masterName, z.array(actionSchema).min(1, 'expected at least one action')),
  /** Actions for `sentinel-hook notify` (Sentinel's notification-script). */
  notify: z
    .array(
      z.strictObject({
        /** Event types to act on, e.g. ["+switch-master", "+odown"]; all when absent. */
        events: z.array(z.string().regex(/^[+-][A-Za-z0-9-]+$/, 'expected a Sentinel event type such as "+switch-master"')).optional(),
        run: z.tuple([z.string().regex(/^[^\s{}-][^\s{}]*$/, 'expected a program path or name')], z.string()),
        timeout: duration({ min: 1, max: 58_000 }).default(10_000),
      }),
    )
    .default([]),
});

export type HookConfig = z.infer<typeof configSchema>;
