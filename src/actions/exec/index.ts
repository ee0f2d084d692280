import * as z from 'zod/mini';
import { about, duration, lazySchema, privilege, programName, when } from '../../config/common.ts';
import { errorOf } from '../../errors.ts';
import { eventEnv, eventValues, type FailoverEvent } from '../../event.ts';
import { failure } from '../../failures.ts';
import type { ActionPlugin, Desired, HostView } from '../plugin.ts';

export const PLACEHOLDERS = ['master', 'role', 'state', 'fromIp', 'fromPort', 'toIp', 'toPort'] as const;
const PLACEHOLDER = /\{([A-Za-z]+)\}/g;

const argTemplate = lazySchema(() =>
  z.string().check(
    z.superRefine((arg, ctx) => {
      for (const [, name] of arg.matchAll(PLACEHOLDER)) {
        if (!(PLACEHOLDERS as readonly string[]).includes(name!)) {
          ctx.addIssue({
            code: 'custom',
            input: arg,
            message: `unknown placeholder {${name}}; known: ${PLACEHOLDERS.map((p) => `{${p}}`).join(' ')}`,
          });
        }
      }
    }),
  ),
);

export const execSchema = lazySchema(() =>
  z.strictObject({
    type: z.literal('exec'),
    run: about(
      'argv, never a shell: the program (absolute path, or a name looked up in the system directories) and its ' +
        'arguments, with placeholders {master} {role} {state} {fromIp} {fromPort} {toIp} {toPort}',
      z.tuple([programName()], argTemplate()),
    ),
    timeout: about(
      'for the command, with everything it started',
      z._default(duration({ min: 1, max: 58_000 }), 10_000),
    ),
    privilege: about(
      'sudo: prefix "sudo -n" (an exact sudoers rule); none: run as is',
      z._default(privilege(), 'none'),
    ),
    // Off by default: a command is not a state.
    reconcile: about(
      'also run by `reconcile` and `watch` when they bring this host to a failover it has not acted on (once per failover)',
      z._default(z.boolean(), false),
    ),
    onSuperseded: about(
      'when a newer event for the master supersedes the run: stop sends the command TERM, then KILL 2 s later; ' +
        'finish lets it run to its end or its timeout, holding the newer run back',
      z._default(z.enum(['stop', 'finish']), 'stop'),
    ),
    when: when(),
  }),
);
export type ExecAction = z.output<ReturnType<typeof execSchema>>;

/** Fill placeholders: each argument stays one argv element whatever the value holds. */
export function expand(template: readonly string[], values: Record<string, string>): string[] {
  return template.map((arg) => arg.replace(PLACEHOLDER, (_, name: string) => values[name] ?? `{${name}}`));
}

/**
 * Where sudo would find `program`, when we may not execute it ourselves (a root-only mode 700): only
 * sudo can tell, and `sudo -n -l ARGV` answers with the command's full path when a rule allows it.
 * Undefined when sudo says there is no such command (or there is no sudo). When it refuses (no rule
 * yet), the program as given: the step then fails as any step without its rule does (exit 1, retried).
 */
async function askSudo(
  program: string,
  args: string[],
  ctx: Pick<HostView, 'which' | 'read'>,
): Promise<string | undefined> {
  const sudo = ctx.which('sudo');
  if (!sudo) return undefined;
  const r = await ctx.read([sudo, '-n', '-l', program, ...args]);
  if (r.exitCode === 0) {
    const path = r.stdout.split(/\s/)[0]!;
    return path.startsWith('/') ? path : program;
  }
  return /command not found/.test(r.stderr) ? undefined : program;
}

/** The program's path as a run finds it: in the system directories, else, with sudo, as sudo sees it. */
async function findProgram(
  program: string,
  args: string[],
  privilege: ExecAction['privilege'],
  ctx: Pick<HostView, 'which' | 'read'>,
): Promise<string | undefined> {
  return ctx.which(program) ?? (privilege === 'sudo' ? await askSudo(program, args, ctx) : undefined);
}

/**
 * The seven values a command's placeholders and SENTINEL_HOOK_* variables take. A Sentinel call brings
 * them; a desired state (reconcile, watch) has no call, so they say what it decided: the master's
 * address as to-ip, "leader" on the host that should hold it and "observer" elsewhere, the intent as
 * the state, and no old master (from-ip empty, from-port 0), as they always have for those runs.
 */
function valuesFor(desired: Desired): FailoverEvent {
  if (desired.source.kind === 'event') return desired.source.event;
  return {
    master: desired.master,
    role: desired.holder === 'this-host' ? 'leader' : 'observer',
    state: desired.source.kind === 'state' ? 'reconcile' : desired.source.kind,
    fromIp: '',
    fromPort: 0,
    toIp: desired.target?.ip ?? '',
    toPort: desired.target?.port ?? 0,
  };
}

/** A command is a thing done, not a state: there is nothing on the host to look at. */
export interface ExecObservation {
  nothing: string;
}

export const execAction: ActionPlugin<ExecAction, ExecObservation> = {
  type: 'exec',
  get schema() {
    return execSchema();
  },
  observe: async () => ({ nothing: 'exec runs a command: it leaves no state here to observe' }),
  describe: (_a, o) => [o.nothing],
  // A command is not a state: running it again is not "nothing to do".
  convergent: false,
  runsWithSudo: (a) => a.privilege === 'sudo',
  reconcileSkip: (a) => (a.reconcile ? undefined : 'exec runs in a reconcile only with "reconcile: true"'),
  async privilegedCommands(a, host, where) {
    if (a.privilege !== 'sudo') return { lines: [] };
    const [program, ...args] = a.run;
    if (a.run.some((arg) => PLACEHOLDERS.some((p) => arg.includes(`{${p}}`)))) {
      // Its arguments change with every event: no exact rule can cover it, and a pattern would widen sudo.
      return {
        lines: [],
        notCovered: {
          what: `exec ${program}`,
          why: 'its arguments hold placeholders; allow it yourself or use privilege: none',
        },
      };
    }
    const path = host.which(program);
    if (!path) throw errorOf(failure('configured-program-missing', { program }).within(where));
    return { lines: [[path, ...args]] };
  },
  async sandbox(a, host, where) {
    const [program] = a.run;
    const path = host.which(program);
    if (!path) throw errorOf(failure('configured-program-missing', { program }).within(where));
    const sudo = a.privilege === 'sudo' ? host.which('sudo') : undefined;
    if (a.privilege === 'sudo' && !sudo)
      throw errorOf(failure('setup-program-missing', { program: 'sudo', install: 'sudo' }).within(where));
    // A script is executed through its interpreter, which must be executable too.
    const shebang = /^#!\s*(\/\S+)/.exec(host.readFile?.(path)?.subarray(0, 256).toString('latin1') ?? '')?.[1];
    return {
      programs: [path, ...(shebang ? [shebang] : []), ...(sudo ? [sudo] : [])],
      addressFamilies: [],
      capabilities: [],
      writablePaths: [],
      needsSudo: a.privilege === 'sudo',
      ...(a.privilege === 'sudo'
        ? {
            notes: [
              `${where} runs ${program} as root through sudo: it may write only where ReadWritePaths= allows and has only the capabilities in CapabilityBoundingSet=; add what it needs`,
            ],
          }
        : {}),
    };
  },
  summarize: (a) => `run ${JSON.stringify(a.run)}${a.privilege === 'sudo' ? ' with sudo -n' : ''}`,
  async preflight(a, host) {
    // run[0] holds no placeholder (the schema refuses one), so this is the program every run looks up;
    // sudo is asked with the arguments unfilled: only its "command not found" is a problem, as in a run.
    const [program, ...args] = a.run;
    return (await findProgram(program, args, a.privilege, host))
      ? []
      : [failure('configured-program-missing', { program, atRun: true }).line()];
  },
  async plan(a, desired, _observed, ctx) {
    const event = valuesFor(desired);
    const [program, ...args] = expand(a.run, eventValues(event));
    const path = await findProgram(program!, args, a.privilege, ctx);
    if (!path) {
      // Refused before anything runs: a half-applied failover is worse than none.
      throw errorOf(failure('configured-program-missing', { program: program!, atRun: true }).within('exec'));
    }
    return {
      action: 'exec',
      steps: [
        {
          kind: 'command',
          description: `run ${[path, ...args].join(' ')}`,
          argv: [path, ...args],
          privileged: a.privilege === 'sudo',
          timeoutMs: a.timeout,
          env: eventEnv(event),
          // A user's command is most often a notification or a call that a newer failover redoes: not
          // worth holding the newer run back for, up to its whole timeout (issue 15 §5.9).
          onSuperseded: a.onSuperseded,
        },
      ],
    };
  },
};
