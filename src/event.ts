import * as z from 'zod/mini';
import { lazySchema } from './config/common.ts';
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

/**
 * Each operand's rule, and what to say when it fails. One set of rules serves both the zod schema below (the
 * specification, and the verdict on a bad operand) and the check a hook run makes first: loading zod and
 * building the schema cost a hook run about 2 ms of its ~10 above Node's own start (docs/measurements.md),
 * so an event whose operands all pass, every call Sentinel makes, is read without zod; any other gets
 * zod's verdict. test/unit/event.test.ts holds the two to the same answers.
 */
const MASTER_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const STATE = /^[A-Za-z0-9_][A-Za-z0-9_+-]{0,31}$/;
const PORT = /^\d{1,5}$/;
const isAddress = (s: string) => isIpAddress(s) || isHostname(s);
const isPort = (n: number) => n >= 1 && n <= 65535;
const MESSAGES = {
  master: 'expected a Sentinel master name (letters, digits, . _ : -)',
  role: 'expected "leader" or "observer"',
  state: 'expected a single word such as "start"',
  address: 'expected an IPv4 or IPv6 address or a host name',
  port: 'expected a port number',
  portRange: 'expected a port from 1 to 65535',
} as const;

/** Master names become file names (the lock) and log fields: keep them to a safe alphabet. */
export const masterName = lazySchema(() => z.string().check(z.regex(MASTER_NAME, MESSAGES.master)));

const operands = lazySchema(() => {
  const address = z.string().check(z.refine(isAddress, MESSAGES.address));
  const port = z.pipe(
    z.string().check(z.regex(PORT, MESSAGES.port)),
    z.pipe(z.transform(Number), z.number().check(z.refine(isPort, MESSAGES.portRange))),
  );
  return z.tuple([
    masterName(),
    z.enum(['leader', 'observer'], { error: MESSAGES.role }),
    z.string().check(z.regex(STATE, MESSAGES.state)),
    address,
    port,
    address,
    port,
  ]);
});

/** The schema's answer for operands that pass every rule, without zod: undefined for any other. */
export function quickOperands(args: readonly string[]): z.output<ReturnType<typeof operands>> | undefined {
  if (args.length !== 7) return undefined;
  const [master, role, state, fromIp, fromPort, toIp, toPort] = args as [string, ...string[]];
  if (!MASTER_NAME.test(master) || (role !== 'leader' && role !== 'observer') || !STATE.test(state!)) return undefined;
  if (!isAddress(fromIp!) || !isAddress(toIp!) || !PORT.test(fromPort!) || !PORT.test(toPort!)) return undefined;
  if (!isPort(Number(fromPort)) || !isPort(Number(toPort))) return undefined;
  return [master, role, state!, fromIp!, Number(fromPort), toIp!, Number(toPort)];
}

/** zod's answer: the operands, or the first problem with its index. */
export function schemaOperands(args: readonly string[]) {
  return operands().safeParse(args);
}

const NAMES = ['master-name', 'role', 'state', 'from-ip', 'from-port', 'to-ip', 'to-port'] as const;
export const EVENT_USAGE = `<${NAMES.join('> <')}>`;

export function parseEvent(args: readonly string[]): FailoverEvent {
  if (args.length !== 7) {
    throw hookError('operands-count', { usage: EVENT_USAGE, got: args.length });
  }
  let data = quickOperands(args);
  if (!data) {
    const parsed = schemaOperands(args);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const index = Number(issue.path[0]);
      const name = NAMES[index] ?? 'operands';
      throw hookError('operand-invalid', {
        name,
        value: args[index] ?? '',
        problem: issue.message,
        usage: EVENT_USAGE,
      });
    }
    data = parsed.data;
  }
  const [master, role, state, fromIp, fromPort, toIp, toPort] = data;
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
