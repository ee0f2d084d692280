import type * as z from 'zod/mini';
import type { SecretRef, When } from '../config/common.ts';
import type { FailoverEvent } from '../event.ts';
import { Failure, type FailureCode } from '../failures.ts';
import type { Logger } from '../log.ts';
import type { CommandResult, CommandRunner } from '../runner.ts';

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
  /**
   * What becomes of it when it is already running as a newer event for the master supersedes the run.
   * 'finish' (absent): let it end, since one stopped halfway could leave what it changes half-done (an
   * `ip addr` change). 'stop': TERM, then KILL after a short grace (the applier's
   * SUPERSEDED_STOP_GRACE_MS), for a command that would otherwise hold the newer run back for as long
   * as it takes (a user's exec command).
   */
  onSuperseded?: 'stop' | 'finish';
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
   * What ends a command step already running (an `ip addr` change, a local hosts write): the run's
   * deadline only. Once superseded, no new step starts and bursts and pushes stop at once, but a
   * command halfway through is let finish, unless its step says it may be stopped
   * (CommandStep.onSuperseded: then `signal` stops it, with a grace). Absent: `signal`.
   */
  commandSignal?: AbortSignal;
  /**
   * What stops a step marked onSuperseded: 'stop' once this run is overtaken: a run for a newer failover
   * (or one whose failover is unknown), or the deadline; not a run that takes over the same failover.
   * Absent: `signal`.
   */
  stopSignal?: AbortSignal;
  /** Is this address on this host now: a burst stops once its address is gone (see addressCheck). */
  holdsAddress?(address: string): Promise<boolean>;
  /**
   * With `sentinels`: why this host may not announce the master's address now, if it may not. The
   * rule for a delayed burst and for a re-announce: a majority of the configured Sentinels name this
   * host master (see sentinel/holder.ts). Absent without `sentinels`.
   */
  mayAnnounce?(): Promise<string | undefined>;
  /**
   * With `sentinels`: why this run's master is no longer current, if it is not (no Sentinel names it
   * any more): asked before each remote write, whatever started the run (a Sentinel call, reconcile,
   * watch), since another host may have pushed a newer failover's address there already.
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

/** Read-only access to this host, handed to an action's observe and plan. */
export interface HostView {
  /** This host's own addresses, canonical text. */
  localAddresses: ReadonlySet<string>;
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
}

/**
 * What the core decided this host should look like for one master: plugins plan from this, never from
 * the shape of a Sentinel call. The core works it out from the intent (a Sentinel event, the
 * Sentinels' answers, a quorum loss, a re-announce) and this host's addresses.
 */
export interface Desired {
  master: string;
  /** Who should hold the master's address: this host, another host, or nobody (quorum lost: let go). */
  holder: 'this-host' | 'other-host' | 'nobody';
  /**
   * The master: its address as Sentinel gives it (an IP, or a host name under announce-hostnames), its
   * port, and the addresses that resolves to (canonical text). Absent when nobody holds it.
   */
  target?: { ip: string; port: number; addresses: readonly string[] };
  /** The master's config epoch, when the Sentinels said it. */
  epoch?: number;
  /**
   * Who said it: SENTINEL MYID of the Sentinels the decision rests on, sorted, when they are a majority of
   * the configured ones (two such sets of one group always share an id: none shared means the Sentinels
   * were rebuilt, and their epochs order nothing against a record of the others). Absent otherwise.
   */
  sentinels?: readonly string[];
  /** Where the decision came from: a Sentinel call brings its seven values (exec's placeholders need them). */
  source:
    | { kind: 'event'; event: FailoverEvent; fromAddresses: readonly string[] }
    | { kind: 'state' }
    | { kind: 'release' }
    | { kind: 'reannounce' };
}

/** What an observation should cover. */
export interface ObserveScope {
  /** What the run is for, when there is one: an action may skip reads the plan will not need. */
  desired?: Desired;
  /** Also what other hosts hold (a push's targets): for status and dry-run; a real run reads them as it writes. */
  remote?: boolean;
}

/** How a plan is made: options the core sets from the intent, never from which command runs. */
export interface PlanContext extends HostView {
  /**
   * Send the neighbour updates for an address this host holds already: a failover's own run, or an
   * explicit refresh (reconcile --announce). Otherwise a state already right is left alone.
   */
  announce: boolean;
  /**
   * Only the plan will be shown: nothing runs after planning, so what a step would find out when it
   * runs (a push's credentials) is checked now, and refused at once (exit 2).
   */
  showOnly: boolean;
}

/**
 * One thing `status` judged, what should be against what is: a monitor reads `state`, people `seen`.
 * 'none': nothing to judge (exec leaves no state behind).
 */
export interface StatusPart {
  /** What it is, for people: "/etc/hosts", "app1:22", "VIP 10.0.0.100". */
  what: string;
  state: 'consistent' | 'inconsistent' | 'unknown' | 'none';
  /** What was seen, or why it cannot be told (a key this user may not read, a host that does not answer). */
  seen: string;
}

/** One live check of `doctor`: what a failover will need, whether this host has it now, and what to do if not. */
export interface DoctorCheck {
  check: string;
  /** warn: works now, but will hurt (a runtime past its end of life); skip: cannot be checked from here. */
  result: 'pass' | 'fail' | 'warn' | 'skip';
  detail: string;
  fix?: string;
}

/** What `doctor` hands a plugin: this host, read-only, with the liberty to send probes that change nothing. */
export interface DoctorHost extends HostView {
  /** Running as root: raw-socket probes (arping -D) can be sent. */
  root: boolean;
  /** The user Sentinel runs the hook as, when known. */
  user?: string;
  /** Whether that user can read `path` (with its groups), when it can be told from here. */
  readableByUser?(path: string): Promise<boolean | undefined>;
}

/** The host, read-only, without an event: what `check` and `sudoers` hand a plugin. */
export type HostReader = Pick<HostView, 'read' | 'which'> & Partial<Pick<HostView, 'readFile'>>;

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
export interface ActionPlugin<C extends { type: string; when: When }, O = unknown> {
  type: C['type'];
  /** Strict schema of one config entry (zod/mini or classic zod: both are zod core types). */
  schema: z.core.$ZodType<C, unknown>;
  /** One line for `sentinel-hook check`. */
  summarize(config: C): string;
  /**
   * What this entry holds on this host now (and, with `remote`, on the hosts it changes): read-only.
   * The same data `plan` starts from and `status` shows.
   */
  observe(config: C, host: HostView, scope: ObserveScope): Promise<O>;
  /** The concrete steps a run applies and a dry-run shows, from what should be and what is. */
  plan(config: C, desired: Desired, observed: O, ctx: PlanContext): Promise<ActionPlan>;
  /** One line per thing observed, for people (status, dry-run). */
  describe?(config: C, observed: O): string[];
  /**
   * For `status`: each thing observed, judged against `desired`. Absent, or undefined: the core judges
   * the entry whole, by whether its plan has steps (a non-convergent entry has nothing to judge).
   */
  status?(config: C, desired: Desired, observed: O): StatusPart[] | undefined;
  /**
   * For `doctor`: what a failover will need of this entry, checked live on this host (and with the
   * hosts it changes) with probes that change nothing. One check per line; never throws for a failed check.
   */
  doctor?(config: C, host: DoctorHost): Promise<DoctorCheck[]>;
  /**
   * What this entry owns on a host, as keys that name it for people ("VIP 10.0.0.100"): two entries
   * claiming one key undo each other's work on every run (remove, add, remove, each exiting 0), so the
   * config is refused when any key is claimed twice. Keys of one thing must be equal however it is written.
   */
  claims?(config: C): string[];
  /**
   * Secrets this entry uses. The core withholds each from the environment of every process it starts
   * (an { env } one) and cuts its value out of every log line; one in a file stays protected by the file's mode.
   */
  secrets?(config: C): SecretRef[];
  /**
   * Opt-in release on quorum loss (watch): `after` says how long this host may go without a majority of
   * the Sentinels before the entry lets go of what it holds (planned with nobody as the holder);
   * undefined: never. `what` names that for the log ("the VIP").
   */
  release?: { after(config: C): number | undefined; what: string };
  /**
   * For `check`: what a run would fail on that can be seen on this host without changing anything
   * or contacting another host, with the run's verdict; one line per problem. `read` only for
   * read-only questions the run asks too (`sudo -n -l`).
   */
  preflight?(config: C, host: Pick<HostView, 'which' | 'read'>): Promise<string[]>;
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
    plan(
      config: C,
      host: Pick<HostView, 'read' | 'which' | 'readFile' | 'logger' | 'capabilities'>,
    ): Promise<ActionPlan>;
  };
  /** The entry runs something through `sudo -n` (so Sentinel may run unprivileged): `check` judges the lock directory for that user. */
  runsWithSudo?(config: C): boolean;
  /** How long this entry's steps may take of a run; the config check adds the Sentinel check and a second. */
  budget?(config: C): TimeBudget | undefined;
  /** Lines under a step's result in the text report, when `detail` is one this action's steps return (the push's table). */
  resultLines?(detail: unknown): string[] | undefined;
  /**
   * Programs this action runs as root through sudo, by name: a script of the install starts one
   * through the CLI's own helper entry (never the hook's argv, so no master name can reach it), and
   * its result is printed as one JSON line. Names are unique across actions.
   */
  helpers?: Readonly<Record<string, PrivilegedHelper>>;
}

/**
 * Runs as root: it must check everything it is given again, though sudoers pinned the arguments (the
 * rule may be hand-written, and stdin is the caller's alone). Throws a HookError to refuse.
 */
export type PrivilegedHelper = (args: readonly string[], stdin: string) => unknown;

/** A step that can only fail: the reason is known at plan time, and the steps before it still run. */
export function failingStep(description: string, reason: string | Failure): TaskStep {
  const summary = reason instanceof Failure ? reason.line() : reason;
  const code = reason instanceof Failure ? { code: reason.code } : {};
  return {
    kind: 'task',
    description,
    detail: { reason: summary, ...code },
    run: async () => ({ ok: false, summary, ...code }),
  };
}
