import type * as z from 'zod/mini';
import type { FailoverEvent } from './event.ts';
import type { When } from './config/common.ts';
import type { CommandRunner, CommandResult } from './runner.ts';
import type { Logger } from './log.ts';

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

/** Every action type is one of these: a strict schema and a planner that returns concrete steps. */
export interface ActionType<C extends { type: string; when: When }> {
  type: C['type'];
  /** Strict schema of one config entry (zod/mini or classic zod: both are zod core types). */
  schema: z.core.$ZodType<C, any>;
  /** One line for `sentinel-hook check`. */
  summarize(config: C): string;
  plan(config: C, ctx: ObserveContext): Promise<ActionPlan>;
  /**
   * For `check`: what a run would fail on that can be seen on this host without changing anything
   * or contacting another host, with the run's verdict; one line per problem. `read` only for
   * read-only questions the run asks too (`sudo -n -l`).
   */
  preflight?(config: C, host: Pick<ObserveContext, 'which' | 'read'>): Promise<string[]>;
}
