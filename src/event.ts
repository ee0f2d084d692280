import * as z from 'zod/mini';
import { hookError } from './errors.ts';
import { canonicalIp, isHostname, isIpAddress } from './values.ts';

/** The seven operands Sentinel passes to a client-reconfig-script, validated. */
export interface FailoverEvent {
  master: string;
  role: 'leader' | 'observer';
  /** "start" in every current Sentinel; recorded, never interpreted. */
  state: string;
  fromIp: string;
  fromPort: number;
  toIp: string;
  toPort: number;
}

/** Master names become file names (the lock) and log fields: keep them to a safe alphabet. */
export const masterName = z
  .string()
  .check(z.regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'expected a Sentinel master name (letters, digits, . _ : -)'));

const address = z
  .string()
  .check(z.refine((s) => isIpAddress(s) || isHostname(s), 'expected an IPv4 or IPv6 address or a host name'));

const port = z.pipe(
  z.string().check(z.regex(/^\d{1,5}$/, 'expected a port number')),
  z.pipe(
    z.transform(Number),
    z.number().check(z.refine((n) => n >= 1 && n <= 65535, 'expected a port from 1 to 65535')),
  ),
);

const operands = z.tuple([
  masterName,
  z.enum(['leader', 'observer'], { error: 'expected "leader" or "observer"' }),
  z.string().check(z.regex(/^[A-Za-z0-9_][A-Za-z0-9_+-]{0,31}$/, 'expected a single word such as "start"')),
  address,
  port,
  address,
  port,
]);

const NAMES = ['master-name', 'role', 'state', 'from-ip', 'from-port', 'to-ip', 'to-port'] as const;
export const EVENT_USAGE = `<${NAMES.join('> <')}>`;

export function parseEvent(args: readonly string[]): FailoverEvent {
  if (args.length !== 7) {
    throw hookError('operands-count', { usage: EVENT_USAGE, got: args.length });
  }
  const parsed = operands.safeParse(args);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const index = Number(issue.path[0]);
    const name = NAMES[index] ?? 'operands';
    throw hookError('operand-invalid', { name, value: args[index] ?? '', problem: issue.message, usage: EVENT_USAGE });
  }
  const [master, role, state, fromIp, fromPort, toIp, toPort] = parsed.data;
  return {
    master,
    role,
    state,
    fromIp: isIpAddress(fromIp) ? canonicalIp(fromIp) : fromIp,
    fromPort,
    toIp: isIpAddress(toIp) ? canonicalIp(toIp) : toIp,
    toPort,
  };
}

/** Placeholder values, shared by argv templates and SENTINEL_HOOK_* environment variables. */
export function eventValues(event: FailoverEvent): Record<string, string> {
  return {
    master: event.master,
    role: event.role,
    state: event.state,
    fromIp: event.fromIp,
    fromPort: String(event.fromPort),
    toIp: event.toIp,
    toPort: String(event.toPort),
  };
}

export function eventEnv(event: FailoverEvent): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(eventValues(event))) {
    env[`SENTINEL_HOOK_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`] = value;
  }
  return env;
}
