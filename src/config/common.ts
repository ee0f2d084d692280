import { z } from 'zod';
import { formatDuration, isAbsolutePath, parseDuration } from '../values.ts';

/** A duration written as "200ms", "5s" or "1m" (a bare number is milliseconds); parsed to milliseconds. */
export function duration(opts: { min?: number; max?: number } = {}) {
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = opts;
  return z
    .union([z.string(), z.number().int().nonnegative()])
    .transform((value, ctx) => {
      const ms = typeof value === 'number' ? value : parseDuration(value);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected a duration like "200ms" or "5s", got ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      if (ms < min || ms > max) {
        ctx.addIssue({ code: 'custom', message: `expected a duration from ${formatDuration(min)} to ${formatDuration(max)}, got ${formatDuration(ms)}` });
        return z.NEVER;
      }
      return ms;
    })
    .meta({ description: 'duration such as "200ms", "5s" or "1m"' });
}

export const absolutePath = z.string().refine(isAbsolutePath, 'expected an absolute path without ".."');

/** Which hook runs an action applies to. Common to every action type. */
export const when = z
  .strictObject({
    /** leader: only the Sentinel that ran the failover; observer: only the others. */
    role: z.enum(['leader', 'observer', 'any']).default('any'),
    /** new-master: only on the host that owns the to-ip; old-master: only on the host that owns the from-ip. */
    host: z.enum(['new-master', 'old-master', 'any']).default('any'),
  })
  .default({ role: 'any', host: 'any' });
export type When = z.infer<typeof when>;

/** Where a secret comes from; the value itself never sits in the config file or the log. */
export const secretRef = z.union([
  z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name') }),
  z.strictObject({ file: absolutePath }),
]);
export type SecretRef = z.infer<typeof secretRef>;

/** sudo: prefix "sudo -n" (exact argv, allowed by a sudoers rule); none: run as is (root or capabilities). */
export const privilege = z.enum(['sudo', 'none']);
