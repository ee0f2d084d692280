// What the push's parts share (the fan-out, its two transports, the runner, the report's table):
// shapes only, in their own module, so that none of them imports another for a type.

/** What one successful attempt did to one target. */
export interface AttemptOutcome {
  status: 'changed' | 'unchanged';
  /** How the file was replaced: rename (atomic) or in-place (rename impossible there). */
  method?: 'rename' | 'in-place';
  note?: string;
  /** With observeOnly: the file's text as read. */
  observed?: string;
}

/** A failure that the same attempt a second later would meet again (host key, authentication, no file): not retried in this run. */
export class PermanentTargetError extends Error {}

/** Nothing written, on purpose: a newer event has taken over (the message says which way). Not a failure, never retried. */
export class NotWritten extends Error {}

/**
 * Asked right before a target's file is written: why this run may no longer write, if it may not. The
 * leader of the next failover may be another host that has pushed the newer address already.
 */
export type WriteGate = () => Promise<string | undefined>;

/**
 * What one target's attempts in this run share. `afterOwed`: this run changed the file and its
 * `after` has not succeeded since — a retry that finds the file right must run it all the same, and
 * the target is not done (the run exits 1) until it has.
 */
export interface TargetState {
  afterOwed: boolean;
}

/** One row of the per-target table: the log, the CLI table and --json all show these. */
export interface TargetResult {
  target: string;
  /** skipped: not written, because this run's event is no longer the one to act on (see NotWritten). */
  status: 'changed' | 'unchanged' | 'failed' | 'skipped';
  /** Why it failed; or how it was written. */
  reason?: string;
  method?: 'rename' | 'in-place';
  attempts: number;
  ms: number;
}

/**
 * What one hosts action will do, as plain data: its plan step's detail (what a dry-run shows, in
 * --json whole) and everything the run acts on (runHosts reads nothing else from the config).
 */
// A type, not an interface: a step's detail is a plain record.
export type HostsWork = {
  /** Names pointed at `address`, in every file below. */
  names: string[];
  address: string;
  /**
   * This host's file and what the plan found there. The run reads it again right before writing
   * (another writer may have been there since) and writes only when it still differs.
   */
  local?: { file: string; state: LocalFileState; privileged?: PrivilegedWrite };
  push?: PushWork;
};

/**
 * privilege: sudo: the command that writes the file as root, the address on its stdin (see
 * privileged.ts), or why there is none on this host (the write then fails, naming it).
 */
export type PrivilegedWrite = { argv: string[] } | { missing: string };

export type LocalFileState = 'will change' | 'already correct' | `unreadable (${string})`;

/** The push to app servers: the settings every target shares, then each target. */
export interface PushWork {
  /** ssh: each target's own file edited over SFTP; rsync: `source` copied whole over OpenSSH. */
  transport: 'ssh' | 'rsync';
  user: string;
  /** Read when the push is due (never at plan time in a real run: the actions before it must not wait). */
  identityFile: string;
  knownHostsFile: string;
  /** rsync: this host's file, sent after its own edit (a link as its target: rsync would skip a link). */
  source?: string;
  /** rsync: the programs it runs, found in the system directories; null: missing, and every target fails naming it. */
  programs?: { rsync: string | null; ssh: string | null };
  /** Run on a target after its file changed, owed until it succeeds. */
  after?: string[];
  concurrency: number;
  /** Per target and attempt. */
  timeoutMs: number;
  /** Further attempts per target, within the run's deadline. */
  retries: number;
  targets: PlannedTarget[];
}

/** One app server and what is written there. */
export interface PlannedTarget {
  /** As written in the config: how the log and the table name it. */
  label: string;
  host: string;
  port: number;
  transport: PushWork['transport'];
  remotePath: string;
}
