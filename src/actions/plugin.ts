import type * as z from 'zod/mini';
import type { FailoverEvent } from '../event.ts';
import type { When } from '../config/common.ts';
import type { CommandRunner, CommandResult } from '../runner.ts';
import type { Logger } from '../log.ts';
import { Failure, type FailureCode } from '../failures.ts';

/** One concrete change: an exact argv run by the runner. */
export interface CommandStep {
  kind: 'command';
  /** Human text for dry-run output and the log. */
  description: string;
  argv: string[];
  /** Prefix "sudo -n": the argv must then match a sudoers line exactly (see `sentinel-hook sudoers`). */
  privileged: boolean;
  timeoutMs: number;
  env?: Record<string, string>;
  /** Exit codes that count as success besides 0 (Habets' arping exits 1 when nobody replies to a gratuitous ARP). */
  okExitCodes?: number[];
  /** Start this step this long after the previous one ended, in the background: later actions run meanwhile. */
  deferMs?: number;
}

/** A change that is not one command (an SSH push, a file write); it runs in-process under the same deadline. */
export interface TaskStep {
  kind: 'task';
  description: string;
  /** What dry-run shows and the log records (never secrets). */
  detail?: Record<string, unknown>;
  deferMs?: number;
  run(ctx: ApplyContext): Promise<TaskOutcome>;
}

export type Step = CommandStep | TaskStep;

export interface TaskOutcome {
  ok: boolean;
  /** One line: what happened, or why it failed. */
  summary: string;
  /** Structured result for the log and --json (e.g. per push target). */
  detail?: unknown;
  /** Failed in a way no retry can fix (an encrypted key): the run may exit 2 rather than be retried for hours. */
  permanent?: boolean;
  /** When it failed: the catalogue's code for why (failures.ts), for whoever must tell failures apart. */
  code?: FailureCode;
}

export interface ApplyContext {
  runner: CommandRunner;
  signal: AbortSignal;
  logger: Logger;
  /** Milliseconds left before the whole-run deadline. */
  remainingMs(): number;
  /**
   * A host-wide lock on a shared resource (a file that runs for several masters edit), waited for up
   * to waitMs; release it when done. Absent where nothing else can run at once (tests, notify).
   */
  lock?(resource: string, waitMs: number): Promise<{ release(): void }>;
  /**
   * Why this run must change nothing more (a newer event for this master started on this host), if it
   * must. Checked before every step, every packet-sending run and every file write: what an older
   * event still had pending must never undo what a newer one did.
   */
  superseded?(): string | undefined;
  /**
   * What ends a command step already running (an `ip addr` change, the user's exec): the run's
   * deadline only. Once superseded, no new step starts and bursts and pushes stop at once, but a
   * command halfway through is let finish: killing it could leave what it does half-done. Absent: `signal`.
   */
  commandSignal?: AbortSignal;
  /** Is this address on this host now: a burst stops once its address is gone (see addressCheck). */
  holdsAddress?(address: string): Promise<boolean>;
  /**
   * With `sentinels`: why this host may not announce the master's address now, if it may not. The
   * rule for a delayed burst and for a re-announce: a majority of the configured Sentinels name this
   * host master (see sentinel/holder.ts). Absent without `sentinels`.
   */
  mayAnnounce?(): Promise<string | undefined>;
  /**
   * With `sentinels`: why this run's event is no longer current, if it is not (no Sentinel names its
   * to-ip): asked before each remote write, since another host may have pushed a newer failover's
   * address there already.
   */
  stillCurrent?(): Promise<string | undefined>;
}

/** What an action saw and what it will do about it. */
export interface ActionPlan {
  action: string;
  /** Why there are no steps, when there are none ("VIP already absent", "when: role leader"). */
  note?: string;
  /** Not convergent (exec): its steps run at most once per failover on a host (see converge.ts). */
  once?: boolean;
  /** Something on this host the user should fix, though the steps can run: logged as a warning, shown by dry-run. */
  warnings?: string[];
  steps: Step[];
}

/**
 * Capabilities this process has and hands on to the programs it starts: with CAP_NET_ADMIN and
 * CAP_NET_RAW (a service under systemd with AmbientCapabilities) ip, arping and ndptool run as we
 * are, with no sudo, whatever `privilege` says; one config serves that service and a hook under sudo.
 */
export interface Capabilities {
  netAdmin: boolean;
  netRaw: boolean;
}

/** Read-only access to the host, handed to an action's planner. */
export interface ObserveContext {
  event: FailoverEvent;
  /** This host's own addresses, canonical text. */
  localAddresses: ReadonlySet<string>;
  /** to-ip / from-ip resolved (host names under announce-hostnames), canonical text. */
  toAddresses: readonly string[];
  fromAddresses: readonly string[];
  /** Runs a read-only command (observation); never a change. */
  read(argv: string[], opts?: { timeoutMs?: number }): Promise<CommandResult>;
  /** A file's bytes, or undefined when it cannot be read; cheaper than running a program to ask it. */
  readFile(path: string): Buffer | undefined;
  /** Absolute path of a program, looked up in the system directories (Sentinel's PATH is not to be trusted). */
  which(program: string): string | undefined;
  /** Absent: none (privileged commands go through sudo as configured). */
  capabilities?: Capabilities;
  logger: Logger;
  signal: AbortSignal;
  /** Planning for a desired state, not a Sentinel call: a VIP already here is announced again only when `announce`. */
  reconcile?: { announce: boolean };
  /**
   * Only the plan will be shown: nothing runs after planning, so what a step would find out when it
   * runs (a push's credentials) is checked now, and refused at once (exit 2).
   */
  dryRun?: boolean;
}

/** The host, read-only, without an event: what `check` and `sudoers` hand a plugin. */
export type HostReader = Pick<ObserveContext, 'read' | 'which'> & Partial<Pick<ObserveContext, 'readFile'>>;

/** What `sentinel-hook sudoers` must allow for one config entry: built by the same functions as its steps. */
export interface PrivilegedCommands {
  /** Exact command lines (absolute program path first) the entry runs with "sudo -n". */
  lines: string[][];
  /** Found on this host rather than configured ("10.0.0.100/24 -> eth0"): each host needs its own rules. */
  detected?: string[];
  /** Files the rules' programs run as root (a helper's code): each must be root's alone, as the program is. */
  rootOnly?: string[];
  /** What the entry runs with sudo that no exact rule can cover, and why (the rules' header says so). */
  notCovered?: { what: string; why: string };
}

/**
 * What one config entry needs of the systemd sandbox it runs in (the watch unit, or Sentinel's own unit
 * when it runs the hook): `sentinel-hook systemd` builds units and drop-ins from these and nothing else.
 */
export interface SandboxNeeds {
  /** Absolute paths of the programs it starts on this host (what NoExecPaths=/ must let through). */
  programs: string[];
  /** Socket families beyond AF_INET AF_INET6 AF_UNIX, e.g. AF_NETLINK for ip. */
  addressFamilies: string[];
  /** Capabilities its programs need, handed on as ambient capabilities (then they run without sudo). */
  capabilities: string[];
  /** System calls its programs make beyond what Debian's filter allows (~@privileged @resources). */
  systemCalls?: string[];
  /** Files and directories it writes on this host. */
  writablePaths: string[];
  /** It runs commands through sudo, which NoNewPrivileges=true stops. */
  needsSudo: boolean;
  /** What the unit cannot provide or pin (shown as a comment in the output). */
  notes?: string[];
}

/** The longest an entry's own steps may take of one run: the config is refused when it cannot fit the deadline. */
export interface TimeBudget {
  ms: number;
  /** What takes that long, as the message names it ("the ARP bursts"). */
  what: string;
  /** The entry's field that sets it, and what in it lowers the time. */
  field: string;
  lower: string;
}

/**
 * Every action type is one of these, and brings all its parts: the commands loop over plugins and
 * never ask which type an entry is. A plugin returns data (a summary, problems, a plan of concrete
 * steps, command lines, a time budget); the core does the I/O and runs the plan.
 */
export interface ActionPlugin<C extends { type: string; when: When }> {
  type: C['type'];
  /** Strict schema of one config entry (zod/mini or classic zod: both are zod core types). */
  schema: z.core.$ZodType<C, unknown>;
  /** One line for `sentinel-hook check`. */
  summarize(config: C): string;
  /** Observe the host (read-only) and return the concrete steps a run applies and a dry-run shows. */
  plan(config: C, ctx: ObserveContext): Promise<ActionPlan>;
  /**
   * For `check`: what a run would fail on that can be seen on this host without changing anything
   * or contacting another host, with the run's verdict; one line per problem. `read` only for
   * read-only questions the run asks too (`sudo -n -l`).
   */
  preflight?(config: C, host: Pick<ObserveContext, 'which' | 'read'>): Promise<string[]>;
  /**
   * true: the action brings the host to a state, and planning it again once there changes nothing.
   * false: it is a thing done (a command), not a state: the core runs it at most once per failover
   * on a host (per master and config epoch), and in a reconcile only when `reconcileSkip` lets it.
   */
  convergent: boolean;
  /** For a non-convergent action: why this entry stays out of a reconcile, if it does. Absent: it always does. */
  reconcileSkip?(config: C): string | undefined;
  /**
   * For `sentinel-hook sudoers`: the command lines this entry runs with privilege sudo on this host
   * (none when it runs without). Missing tools are errors here: a rule for a program that is not
   * there would fail at the worst time. `where` names the entry for messages (masters.NAME[i]).
   */
  privilegedCommands?(config: C, host: HostReader, where: string): Promise<PrivilegedCommands>;
  /**
   * For `sentinel-hook systemd`: what this entry needs of a systemd sandbox on this host. Missing
   * tools are errors here, as for sudoers. Absent: nothing beyond running node.
   */
  sandbox?(config: C, host: HostReader, where: string): Promise<SandboxNeeds>;
  /**
   * For `sentinel-hook notify` on "-sdown", on the host a majority of the Sentinels name master (the
   * caller checks that): what the action sends again, nothing added or removed. `wanted`: whether
   * this entry asks for it.
   */
  reannounce?: {
    wanted(config: C): boolean;
    plan(config: C, host: Pick<ObserveContext, 'read' | 'which' | 'readFile' | 'logger'>): Promise<ActionPlan>;
  };
  /** How long this entry's steps may take of a run; the config check adds the Sentinel check and a second. */
  budget?(config: C): TimeBudget | undefined;
  /** Lines under a step's result in the text report, when `detail` is one this action's steps return (the push's table). */
  resultLines?(detail: unknown): string[] | undefined;
}

/** A step that can only fail: the reason is known at plan time, and the steps before it still run. */
export function failingStep(description: string, reason: string | Failure): TaskStep {
  const summary = reason instanceof Failure ? reason.line() : reason;
  const code = reason instanceof Failure ? { code: reason.code } : {};
  return { kind: 'task', description, detail: { reason: summary, ...code }, run: async () => ({ ok: false, summary, ...code }) };
}
