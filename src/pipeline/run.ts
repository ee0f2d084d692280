// The one pipeline. Every command (the hook, notify, reconcile, watch) chooses an intent and renders
// the result; for any intent a master goes through the same stages:
//   decide (what should be: this host, another, nobody) -> guard (generation, lock, freshness, epoch
//   floor, pause: the table in guards.ts) -> observe and plan (each plugin) -> apply (one applier, one
//   apply context) -> record (acted epoch, once-per-failover, last run) -> exit code.

import { type ActionConfig, pluginFor } from '../actions/index.ts';
import type { ActionPlan, Desired } from '../actions/plugin.ts';
import { nowMs } from '../clock.ts';
import type { HookConfig } from '../config/schema.ts';
import { EXIT, type ExitCode, errorLine, HookError, hookError } from '../errors.ts';
import type { FailoverEvent } from '../event.ts';
import { type Failure, type FailureCode, failure } from '../failures.ts';
import { type Logger, runId as newRunId } from '../log.ts';
import type { Freshness, SentinelAnswer } from '../sentinel/client.ts';
import {
  confirmations,
  DEFAULT_FAILOVER_TIMEOUT_MS,
  type Decision,
  decideMaster,
  type MasterState,
  whoAnswered,
} from '../sentinel/decide.ts';
import {
  type ActedState,
  clearOlder,
  knownSentinels,
  olderSince,
  readActedEpoch,
  recordActedEpoch,
  sameSentinels,
} from '../state/epoch.ts';
import { readSmallFile } from '../state/files.ts';
import { claimGeneration, type Generation, observeGeneration } from '../state/generation.ts';
import { readLastRun, writeLastRun } from '../state/last-run.ts';
import { acquireLock, prepareLockDir } from '../state/lock.ts';
import { pausedBecause } from '../state/pause.ts';
import { prepareStateDir } from '../state/state-dir.ts';
import { applyPlans, type StepOutcome } from './apply.ts';
import type { PipelineDeps } from './deps.ts';
import { gaugesAfter, readTextfile, withLastRun, writeTextfile } from './gauges.ts';
import { applyContext, GUARDS, type IntentKind } from './guards.ts';
import { hostView, resolveAll, sentinelAsk } from './host.ts';
import { markOnceDone, withoutDone } from './once.ts';
import { actionsFor, desiredForEvent, type PlanOptions, planActions } from './plan.ts';
import { configSecrets, redactingLogger, scrubText, withholdSecrets } from './secrets.ts';

export type Intent =
  /** Sentinel's client-reconfig-script call: its seven values. */
  | { kind: 'event'; event: FailoverEvent }
  /**
   * Be what the Sentinels say (reconcile, watch, a stale event). `decision`: their answers when the
   * caller has them (else they are asked); `announce`: send a held VIP's neighbour updates again;
   * `claim`: start a new generation, as a failover does (watch acting on a failover newer than any
   * this host acted on); a plain reconcile waits its turn behind a run in progress.
   */
  | { kind: 'state'; announce: boolean; claim?: boolean; decision?: Decision }
  /** Quorum loss: nobody should hold what the opted-in entries hold. */
  | { kind: 'release'; silentForMs: number }
  /** An instance is reachable again (-sdown): the master's holder sends its announcements again. */
  | { kind: 'reannounce' };

export type Outcome =
  | 'applied'
  | 'converged'
  | 'released'
  | 'nothing-to-do'
  | 'dry-run'
  | 'failed'
  | 'stale'
  | 'superseded'
  | 'unsure'
  | 'older-epoch';

export interface RunResult {
  master: string;
  intent: IntentKind;
  outcome: Outcome;
  exitCode: ExitCode;
  /** Why it ended so, when the catalogue names it (failures.ts): callers match this, never `reason`'s text. */
  code?: FailureCode;
  reason?: string;
  /** The master this run acted for, at which config epoch, when the Sentinels said it. */
  state?: MasterState;
  answers: SentinelAnswer[];
  /** A Sentinel call: whether it was still current. */
  freshness?: Freshness;
  /** A stale Sentinel call: this host's convergence to what the Sentinels say instead. */
  converged?: { outcome: string; state?: MasterState; reason?: string };
  /** Paused for maintenance (see pause): only planned, nothing changed. */
  paused?: string;
  /** A what-if dry-run (--assume-current) planned an event the Sentinels call stale: says so. */
  assumed?: string;
  /** Who should hold what the master's holder holds (its VIP), as this run decided: the metrics' vip_held. */
  holder?: Desired['holder'];
  plans: ActionPlan[];
  steps: StepOutcome[];
}

export interface RunOptions {
  dryRun: boolean;
  /** Ends the whole run (a command's deadline or SIGTERM, a service's stop); absent: `deadline` from now. */
  signal?: AbortSignal;
  remainingMs?(): number;
  /** The run id the caller logs with (last-run record); absent: a new one. */
  runId?: string;
  /** A step of its plan succeeded (see ApplyOptions.onStepDone). */
  onStepDone?: () => void;
  /** With dryRun, an event call: plan it even when the Sentinels call it stale (an operator's drill). */
  assumeCurrent?: boolean;
}

/** One run's fixed parts, handed down the stages. */
interface Run {
  master: string;
  config: HookConfig;
  deps: PipelineDeps;
  dryRun: boolean;
  signal: AbortSignal;
  remainingMs(): number;
  secrets: string[];
  onStepDone: (() => void) | undefined;
  assumeCurrent: boolean;
}

/** The one exit-code rule: 0 when every step succeeded, 2 when every failure is one no retry fixes, else 1. */
export function exitCodeFor(steps: readonly StepOutcome[]): ExitCode {
  const failed = steps.filter((s) => !s.ok);
  return failed.length === 0 ? EXIT.ok : failed.every((s) => s.permanent) ? EXIT.never : EXIT.retry;
}

export function describeStep(step: ActionPlan['steps'][number]): Record<string, unknown> {
  if (step.kind === 'command') {
    return {
      kind: 'command',
      description: step.description,
      argv: step.argv,
      privileged: step.privileged,
      timeoutMs: step.timeoutMs,
      ...(step.deferMs ? { deferMs: step.deferMs } : {}),
      ...(step.okExitCodes ? { okExitCodes: step.okExitCodes } : {}),
    };
  }
  return {
    kind: 'task',
    description: step.description,
    ...(step.detail ? { detail: step.detail } : {}),
    ...(step.deferMs ? { deferMs: step.deferMs } : {}),
  };
}

/** The one plan-log line. Quiet when a service finds nothing to do (it asks every few seconds). */
function logPlan(log: Logger, intent: IntentKind, plans: readonly ActionPlan[], state?: MasterState): void {
  const planned = plans.some((p) => p.steps.length > 0);
  // Called as a method: pino's need their logger as `this`.
  log[intent === 'event' || intent === 'notify' || planned ? 'info' : 'debug'](
    {
      intent,
      ...(state ? { state } : {}),
      plan: plans.map((p) => ({ action: p.action, note: p.note, steps: p.steps.map(describeStep) })),
    },
    'plan',
  );
  if (intent === 'event' || planned)
    for (const p of plans)
      for (const warning of p.warnings ?? []) log.warn({ action: p.action, warning }, 'host set-up to fix');
}

function base(run: Run, intent: IntentKind): Pick<RunResult, 'master' | 'intent' | 'answers' | 'plans' | 'steps'> {
  return { master: run.master, intent, answers: [], plans: [], steps: [] };
}

function supersededResult(run: Run, intent: IntentKind, partial: Partial<RunResult>): RunResult {
  run.deps.logger.warn(
    { outcome: 'superseded' },
    'superseded: a newer event for this master started on this host; this run stopped and leaves the rest to it',
  );
  return { ...base(run, intent), ...partial, outcome: 'superseded', exitCode: EXIT.ok };
}

function claim(lockDir: string, master: string, epoch: number | undefined): Generation {
  try {
    return claimGeneration(lockDir, master, epoch);
  } catch (err) {
    throw hookError('generation-unrecordable', {
      dir: lockDir,
      errno: (err as NodeJS.ErrnoException).code ?? (err as Error).message,
    });
  }
}

/** A record is for later runs and for status: failing to write one never fails this run's failover. */
function keepRecord(run: Run, write: () => void): void {
  try {
    write();
  } catch (err) {
    run.deps.logger.warn(
      { stateDir: run.config.stateDir, error: errorLine(err) },
      'cannot write a record in the state directory',
    );
  }
}

/**
 * What stops a stoppable step (a user's command) once this run is overtaken: the deadline, or a run
 * for a newer failover (a higher epoch, or one not known). A run that takes over this same failover
 * (watch acting on the failover the hook is acting on) lets it finish: stopping it would only start it
 * again there.
 */
function stopOnNewerFailover(
  gen: Generation,
  deadline: AbortSignal,
  mine: number | undefined,
): { signal: AbortSignal; release(): void } {
  const stop = new AbortController();
  const onOvertaken = () => {
    const theirs = gen.claimantEpoch();
    if (mine === undefined || theirs === undefined || theirs > mine) stop.abort();
  };
  const onDeadline = () => stop.abort();
  gen.signal.addEventListener('abort', onOvertaken, { once: true });
  deadline.addEventListener('abort', onDeadline, { once: true });
  if (gen.signal.aborted) onOvertaken();
  if (deadline.aborted) onDeadline();
  return {
    signal: stop.signal,
    release: () => {
      gen.signal.removeEventListener('abort', onOvertaken);
      deadline.removeEventListener('abort', onDeadline);
    },
  };
}

/**
 * Apply `plans` under the intent's guards; the result's outcome and exit code by the one rule.
 * `record.epoch` false: `acted` is marked done once per failover, but not recorded as the epoch floor.
 */
async function applyAndRecord(
  run: Run,
  intent: IntentKind,
  plans: ActionPlan[],
  gen: Generation | undefined,
  signal: AbortSignal,
  target: Desired['target'],
  acted: MasterState | undefined,
  record: { replace?: boolean; epoch?: boolean } = {},
): Promise<{ steps: StepOutcome[]; superseded: boolean }> {
  const guards = GUARDS[intent];
  const stop = gen ? stopOnNewerFailover(gen, run.signal, acted?.epoch) : undefined;
  const steps = await applyPlans(
    plans,
    applyContext(run.config, run.deps, {
      ...(stop ? { stopSignal: stop.signal } : {}),
      guards,
      master: run.master,
      lockDir: run.config.lockDir,
      signal,
      commandSignal: run.signal,
      remainingMs: run.remainingMs,
      log: run.deps.logger,
      ...(gen ? { superseded: gen.superseded } : {}),
      ...(target ? { target } : {}),
    }),
    { sudo: run.deps.which('sudo'), ...(run.onStepDone ? { onStepDone: run.onStepDone } : {}) },
  );
  stop?.release();
  const overtaken = gen?.superseded() !== undefined;
  // Overtaken by a run for this same failover (watch taking over from the hook): what was done here is
  // done for it, and recorded, so that the other run does not do it again. A newer failover records its own.
  const theirs = gen?.claimantEpoch();
  const sameFailover = acted !== undefined && theirs !== undefined && theirs <= acted.epoch;
  if (overtaken && !sameFailover) return { steps, superseded: true };
  if (guards.record && acted) {
    // exec's records learn the group's ids from the epoch record too (a fast path names one Sentinel).
    const known = record.replace
      ? acted.ids
      : knownSentinels(readActedEpoch(run.config.stateDir, run.master)?.ids, acted.ids);
    keepRecord(run, () => markOnceDone(plans, steps, run.config.stateDir, run.master, acted.epoch, known));
    // What this host now matches, for "never go back" (only when nothing failed).
    if (record.epoch !== false && steps.every((s) => s.ok))
      keepRecord(run, () => recordActedEpoch(run.config.stateDir, run.master, acted, record.replace));
  }
  return { steps, superseded: overtaken };
}

/**
 * A Sentinel call: say this is now the newest event for the master here, take the master's lock, ask
 * whether the event is still current, observe and plan, then apply that same plan (or only show it,
 * for --dry-run). A newer event for the same master that starts meanwhile supersedes this run: it
 * stops at once (exit 0, nothing more changed), and the newer run takes over.
 */
async function runEvent(run: Run, event: FailoverEvent): Promise<RunResult> {
  const { config, deps, dryRun } = run;
  const log = deps.logger;
  const intent = 'event';
  let generation: Generation | undefined;
  try {
    const actions = actionsFor(config, event.master);
    const lockDir = dryRun ? config.lockDir : prepareLockDir(config.lockDir, deps.uid, 'sentinel');
    const sentinels = GUARDS.event.freshness ? config.sentinels : undefined;
    const toAddresses = sentinels ? await resolveAll(event.toIp, deps, run.signal) : undefined;
    const askFreshness = async (signal: AbortSignal): Promise<Freshness> => {
      // Loaded only when configured: node:net is a noticeable part of a cold start.
      const { checkFreshness, nopermFailures } = await import('../sentinel/client.ts');
      const f = await checkFreshness(event, toAddresses!, sentinels!, deps.env, {
        ...(deps.askSentinel ? { ask: deps.askSentinel } : {}),
        resolve: (host, s) => deps.resolve(host, s),
        signal,
      });
      log.info({ freshness: f.verdict, answers: f.answers }, 'event freshness checked');
      // The event goes on without the epoch, but exec's once-per-failover record, reconcile and watch need it.
      for (const refused of nopermFailures(f.answers)) log.warn({ code: refused.code }, refused.line());
      for (const answer of f.answers) {
        if ('refused' in answer && !answer.noperm)
          log.warn(
            { sentinel: answer.address, error: answer.error },
            'a Sentinel refused the stale-event check; the others decided',
          );
        if ('warning' in answer && answer.warning)
          log.warn(
            { sentinel: answer.address, warning: answer.warning },
            'a Sentinel answered, but the config does not fit it',
          );
      }
      return f;
    };
    const staleResult = (f: Freshness): RunResult => {
      log.warn(
        { answers: f.answers },
        dryRun
          ? 'stale event: no Sentinel names the to-ip as master any more; nothing done'
          : 'stale event: no Sentinel names the to-ip as master any more; converging to the master they name',
      );
      return { ...base(run, intent), outcome: 'stale', exitCode: EXIT.ok, freshness: f };
    };
    // Asked before this run claims the master's generation: a late retry of an overtaken event would
    // otherwise stop the newer event's run (its second burst, its pushes) before finding itself stale.
    let early: Freshness | undefined;
    if (sentinels && !dryRun) {
      early = await askFreshness(run.signal);
      if (early.verdict === 'stale') return staleResult(early);
      if (run.signal.aborted) throw hookError('sentinels-slow', { deadlineMs: config.deadline, observing: false });
    }
    // Before the lock: an older run still holding it (its second ARP burst pending) lets go within
    // POLL_MS instead of making this newer event wait seconds for it.
    generation = dryRun ? undefined : claim(lockDir, event.master, early ? confirmedState(early)?.epoch : undefined);
    const gen = generation;
    const signal = gen ? AbortSignal.any([run.signal, gen.signal]) : run.signal;
    const lock = dryRun ? undefined : await acquireLock(lockDir, event.master, run.remainingMs(), signal);
    try {
      if (lock && lock.waitedMs > 0) log.info({ waitedMs: lock.waitedMs }, 'waited for another run of this master');
      const options: PlanOptions = { announce: true, showOnly: dryRun };
      let freshness: Freshness | undefined;
      let assumed: string | undefined;
      let plans: ActionPlan[];
      let desired: Desired | undefined;
      const planFor = async (s: AbortSignal, epoch: number | undefined, once?: PlanOptions['once']) => {
        desired = await desiredForEvent(event, actions, deps, s, toAddresses, epoch, majorityIds(config, once?.ids));
        return planActions(desired, config, deps, s, { ...options, ...(once ? { once } : {}) });
      };
      if (sentinels && early && lock?.waitedMs === 0) {
        // Nothing ran for this master while we took the lock: the answer from a moment ago stands.
        freshness = early;
        if (freshness.verdict === 'unknown')
          log.warn({ answers: freshness.answers }, 'no Sentinel answered; acting on the arguments');
        const known = confirmedState(freshness);
        plans = await planFor(
          signal,
          known?.epoch,
          known ? { dir: config.stateDir, epoch: known.epoch, ...(known.ids ? { ids: known.ids } : {}) } : undefined,
        );
      } else if (sentinels) {
        // A dry-run, or a run that waited behind another: ask (again) now. A late retry that waited
        // behind a newer failover's run must see that newer master, not what the Sentinels said before.
        // Planning only observes, so it runs while the Sentinels are asked; its plan is applied only
        // if the event is current, and a stale verdict stops it (its reads are killed) before we return.
        const stopPlanning = new AbortController();
        const planning = planFor(AbortSignal.any([signal, stopPlanning.signal]), undefined).then(
          (value) => ({ value }),
          (error: unknown) => ({ error }),
        );
        const abandon = async () => {
          stopPlanning.abort();
          await planning;
        };
        // Exec's once-per-failover record needs the epoch this question brings: decided after it.
        freshness = await askFreshness(signal).catch(async (err: unknown) => {
          await abandon();
          throw err;
        });
        if (freshness.verdict === 'stale' && run.assumeCurrent) {
          // A drill: what this failover would do now, had the Sentinels not moved on (dry-run only).
          assumed =
            'the Sentinels do not name this to-ip as master: a real call would be refused as stale; planned as if it were current (--assume-current)';
          log.warn({ answers: freshness.answers }, assumed);
        } else if (freshness.verdict === 'stale') {
          await abandon();
          return staleResult(freshness);
        }
        const planned = await planning;
        if (signal.aborted && !gen?.superseded()) {
          throw hookError('sentinels-slow', { deadlineMs: config.deadline, observing: true });
        }
        if (freshness.verdict === 'unknown')
          log.warn({ answers: freshness.answers }, 'no Sentinel answered; acting on the arguments');
        if ('error' in planned) throw planned.error;
        const known = confirmedState(freshness);
        plans =
          known && !dryRun
            ? withoutDone(planned.value, config.stateDir, event.master, known.epoch, known.ids)
            : planned.value;
      } else {
        plans = await planFor(signal, undefined);
      }

      logPlan(run.deps.logger, intent, plans);
      const acted = freshness ? confirmedState(freshness) : undefined;
      const holder = (desired as Desired | undefined)?.holder;
      const partial = {
        ...(freshness ? { freshness } : {}),
        ...(acted ? { state: acted } : {}),
        ...(holder ? { holder } : {}),
        ...(assumed ? { assumed } : {}),
        plans,
      };
      if (dryRun) return { ...base(run, intent), ...partial, outcome: 'dry-run', exitCode: EXIT.ok };
      if (plans.every((p) => p.steps.length === 0))
        return { ...base(run, intent), ...partial, outcome: 'nothing-to-do', exitCode: EXIT.ok };
      const applied = await applyAndRecord(run, intent, plans, gen, signal, desired?.target, acted);
      if (applied.superseded) return supersededResult(run, intent, { ...partial, steps: applied.steps });
      const exitCode = exitCodeFor(applied.steps);
      return {
        ...base(run, intent),
        ...partial,
        steps: applied.steps,
        exitCode,
        outcome: exitCode === EXIT.ok ? 'applied' : 'failed',
      };
    } finally {
      lock?.release();
    }
  } catch (err) {
    // Whatever this run was doing when a newer event started (waiting for the lock, asking the
    // Sentinels, planning) ended because it must: the newer run decides now.
    if (generation?.superseded()) return supersededResult(run, intent, {});
    throw err;
  } finally {
    generation?.stop();
  }
}

/** Desired.sentinels: the ids, when they are a majority of the configured Sentinels (see there). */
function majorityIds(config: HookConfig, ids: readonly string[] | undefined): readonly string[] | undefined {
  const configured = config.sentinels?.addresses.length ?? 0;
  return ids && configured && ids.length >= Math.floor(configured / 2) + 1 ? ids : undefined;
}

/** The master and config epoch the confirming Sentinel gave, when it gave the epoch. */
function confirmedState(f: Freshness): MasterState | undefined {
  if (f.verdict !== 'current') return undefined;
  const answer = f.answers.find((a) => a.address === f.confirmedBy);
  return answer && 'master' in answer && answer.epoch !== undefined
    ? { ip: answer.master.ip, port: answer.master.port, epoch: answer.epoch, ...whoAnswered(f.answers) }
    : undefined;
}

/**
 * "Never go back to an older epoch" exists to ride out a failover in progress, and it must never wedge
 * the host. The Sentinels' newest answer is older than what this host acted on:
 * - rebuilt Sentinels (a majority of the configured ones answered, with ids none of which told this
 *   host what it acted on): their epochs started again from 0 and order nothing against the record;
 * - the same Sentinels, for longer than the master's failover-timeout: no failover is under way that
 *   long, so the answer is the truth (a record left by a set of Sentinels since replaced in part);
 * - otherwise a failover may be under way: refuse, and ask again later.
 * `void`: why the record no longer holds (the host follows the Sentinels and the record is replaced).
 */
function epochFloor(
  run: Run,
  state: MasterState,
  answers: readonly SentinelAnswer[],
): { refuse?: Failure; void?: string; acted?: ActedState; code?: FailureCode } | undefined {
  if (!GUARDS.state.epochFloor) return undefined;
  const { config, master } = run;
  const acted = readActedEpoch(config.stateDir, master);
  if (!acted || acted.epoch <= state.epoch) {
    if (!run.dryRun) keepRecord(run, () => clearOlder(config.stateDir, master));
    return undefined;
  }
  const needed = Math.floor(config.sentinels!.addresses.length / 2) + 1;
  const ids = answers.flatMap((a) => ('master' in a && !a.foreign && a.epoch !== undefined && a.id ? [a.id] : []));
  if (acted.ids?.length && ids.length >= needed && !sameSentinels(acted.ids, ids)) {
    return {
      acted,
      code: 'sentinels-rebuilt',
      void: failure('sentinels-rebuilt', { epoch: state.epoch, acted: acted.epoch, ids: ids.length }).line(),
    };
  }
  const limit = state.failoverTimeout ?? DEFAULT_FAILOVER_TIMEOUT_MS;
  const since = run.dryRun ? 0 : olderSince(config.stateDir, master, state.epoch, acted.epoch);
  if (since > limit) {
    return {
      acted,
      code: 'epoch-older-outlasted',
      void: failure('epoch-older-outlasted', {
        epoch: state.epoch,
        acted: acted.epoch,
        sinceMs: since,
        limitMs: limit,
      }).line(),
    };
  }
  return { refuse: failure('epoch-older', { state, acted }) };
}

/** Ask every configured Sentinel for the master's address and config epoch, all at once. */
export async function askMasterState(
  master: string,
  config: HookConfig,
  deps: PipelineDeps,
  signal: AbortSignal,
): Promise<SentinelAnswer[]> {
  const sentinels = config.sentinels!;
  const { askSentinel, readSecret } = await import('../sentinel/client.ts');
  const password = sentinels.password ? readSecret(sentinels.password, deps.env) : undefined;
  // A TLS file that is wrong is a config error (exit 2) here, not a Sentinel that did not answer.
  if (sentinels.tls) await (await import('../sentinel/tls.ts')).loadSentinelTls(sentinels.tls);
  const ask = deps.askSentinel ?? askSentinel;
  return Promise.all(
    sentinels.addresses.map((address) =>
      Promise.resolve()
        // With the Sentinels each knows: which of them belong together (see foreignSentinels).
        .then(() =>
          ask(address, master, sentinels, password, { signal, resolve: deps.resolve, epoch: true, peers: true }),
        )
        .catch((err: unknown): SentinelAnswer => ({ address, error: (err as Error)?.message ?? String(err) })),
    ),
  );
}

/**
 * Be what the Sentinels say `master` is now: act only on a clear answer, never on an epoch older than
 * this host has acted on.
 */
async function runState(run: Run, intent: Extract<Intent, { kind: 'state' }>): Promise<RunResult> {
  const { config, deps, master } = run;
  const log = deps.logger;
  const sentinels = config.sentinels;
  if (!sentinels) throw hookError('sentinels-required', { by: 'reconcile' });
  let decision = intent.decision;
  if (!decision) {
    const answers = await askMasterState(master, config, deps, run.signal);
    decision = decideMaster(answers, sentinels.addresses.length);
    log.info(
      { answers, ...(decision.clear ? { state: decision.state } : { reason: decision.reason }) },
      'what the Sentinels say',
    );
  }
  const partial = { ...base(run, 'state'), answers: decision.answers };
  if (!decision.clear) {
    log.warn({ reason: decision.reason }, 'no clear answer from the Sentinels: nothing changed');
    return { ...partial, outcome: 'unsure', exitCode: EXIT.retry, code: decision.code, reason: decision.reason };
  }
  const state = decision.state;
  // The floor moves only when a majority stands behind the epoch: right after a promotion (watch's fast
  // path, a reconcile at that moment) the leader alone names it, and a Sentinel that only looked like
  // one of the group (its SENTINEL SENTINELS unreadable) could name an epoch of another deployment.
  const confirmed = confirmations(decision.answers, state) >= Math.floor(sentinels.addresses.length / 2) + 1;
  // Set when the record of what this host acted on no longer orders anything (see epochFloor).
  let replace = false;
  const older = () => {
    const floor = epochFloor(run, state, decision.answers);
    if (floor?.void) {
      if (!replace) log.warn({ state, acted: floor.acted, code: floor.code }, floor.void);
      replace = true;
      return undefined;
    }
    return floor?.refuse;
  };
  const tooOld = older();
  if (tooOld) {
    log.warn({ state, code: tooOld.code }, tooOld.line());
    return {
      ...partial,
      state,
      outcome: 'older-epoch',
      exitCode: EXIT.retry,
      code: tooOld.code,
      reason: tooOld.line(),
    };
  }

  let generation: Generation | undefined;
  let lock: { release(): void } | undefined;
  try {
    // A plain reconcile starts no generation: it waits its turn behind a run in progress (which may be
    // the very failover it would converge to, not yet recorded), and any failover event overtakes it.
    if (!run.dryRun)
      generation = intent.claim
        ? claimGeneration(config.lockDir, master, state.epoch)
        : observeGeneration(config.lockDir, master);
    const gen = generation;
    const signal = gen ? AbortSignal.any([run.signal, gen.signal]) : run.signal;
    if (!run.dryRun) lock = await acquireLock(config.lockDir, master, run.remainingMs(), signal);
    // A hook run may have acted on a newer failover while we waited.
    const after = run.dryRun ? undefined : older();
    if (after)
      return {
        ...partial,
        state,
        outcome: 'older-epoch',
        exitCode: EXIT.retry,
        code: after.code,
        reason: after.line(),
      };

    const addresses = await resolveAll(state.ip, deps, signal);
    const local = deps.localAddresses();
    const sentinelIds = majorityIds(config, state.ids);
    const desired: Desired = {
      master,
      holder: addresses.some((a) => local.has(a)) ? 'this-host' : 'other-host',
      target: { ip: state.ip, port: state.port, addresses },
      epoch: state.epoch,
      ...(sentinelIds ? { sentinels: sentinelIds } : {}),
      source: { kind: 'state' },
    };
    const plans = await planActions(desired, config, deps, signal, {
      announce: intent.announce,
      showOnly: run.dryRun,
      stateOnly: true,
      once: { dir: config.stateDir, epoch: state.epoch, ...(state.ids ? { ids: state.ids } : {}) },
    });
    logPlan(run.deps.logger, 'state', plans, state);
    const planned = { ...partial, state, plans, holder: desired.holder };
    if (run.dryRun) return { ...planned, outcome: 'dry-run', exitCode: EXIT.ok };
    if (plans.every((p) => p.steps.length === 0)) {
      if (confirmed) keepRecord(run, () => recordActedEpoch(config.stateDir, master, state, replace));
      return { ...planned, outcome: 'nothing-to-do', exitCode: EXIT.ok };
    }
    const applied = await applyAndRecord(run, 'state', plans, gen, signal, desired.target, state, {
      replace,
      epoch: confirmed,
    });
    if (applied.superseded) return { ...planned, steps: applied.steps, outcome: 'superseded', exitCode: EXIT.ok };
    const exitCode = exitCodeFor(applied.steps);
    return { ...planned, steps: applied.steps, outcome: exitCode === EXIT.ok ? 'converged' : 'failed', exitCode };
  } catch (err) {
    if (generation?.superseded()) return { ...partial, state, outcome: 'superseded', exitCode: EXIT.ok };
    if (err instanceof HookError) throw err;
    throw hookError('reconcile-failed', { master, detail: (err as Error).message });
  } finally {
    lock?.release();
    generation?.stop();
  }
}

/** The entries that let go on quorum loss, with how long after. */
export function releaseEntries(
  config: HookConfig,
  master: string,
): { action: ActionConfig; after: number; what: string }[] {
  const actions = Object.hasOwn(config.masters, master) ? config.masters[master]! : [];
  return actions.flatMap((action) => {
    const release = pluginFor(action).release;
    const after = release?.after(action);
    return release && after !== undefined ? [{ action, after, what: release.what }] : [];
  });
}

/**
 * Quorum loss: this host could not reach a majority of the Sentinels for the entries' `after`. Only
 * the entries that opted in run, planned with nobody as the holder: what they hold leaves this host.
 * After the heal, the normal reconcile puts it where the Sentinels say.
 */
async function runRelease(run: Run, intent: Extract<Intent, { kind: 'release' }>): Promise<RunResult> {
  const { config, deps, master } = run;
  const entries = releaseEntries(config, master);
  const partial = { ...base(run, 'release'), holder: 'nobody' as const };
  if (entries.length === 0) return { ...partial, outcome: 'nothing-to-do', exitCode: EXIT.ok };
  const chosen = new Set(entries.map((e) => e.action));
  const generation = observeGeneration(config.lockDir, master);
  const signal = AbortSignal.any([run.signal, generation.signal]);
  const lock = run.dryRun ? undefined : await acquireLock(config.lockDir, master, run.remainingMs(), signal);
  try {
    const desired: Desired = { master, holder: 'nobody', source: { kind: 'release' } };
    const plans = await planActions(desired, config, deps, signal, {
      announce: false,
      showOnly: run.dryRun,
      stateOnly: true,
      only: (a) => chosen.has(a),
    });
    const what = [...new Set(entries.map((e) => e.what))].join(' and ');
    deps.logger.warn(
      {
        silentForMs: intent.silentForMs,
        plan: plans.map((p) => ({ action: p.action, note: p.note, steps: p.steps.map(describeStep) })),
      },
      run.dryRun
        ? `paused: no majority of the Sentinels reachable; would release ${what}`
        : `no majority of the Sentinels reachable for too long: releasing ${what}`,
    );
    if (run.dryRun) return { ...partial, plans, outcome: 'dry-run', exitCode: EXIT.ok };
    if (plans.every((p) => p.steps.length === 0))
      return { ...partial, plans, outcome: 'nothing-to-do', exitCode: EXIT.ok };
    const applied = await applyAndRecord(run, 'release', plans, generation, signal, undefined, undefined);
    if (applied.superseded)
      return { ...partial, plans, steps: applied.steps, outcome: 'superseded', exitCode: EXIT.ok };
    const exitCode = exitCodeFor(applied.steps);
    if (exitCode !== EXIT.ok)
      deps.logger.error(
        { failed: applied.steps.filter((s) => !s.ok).map((s) => s.error) },
        `releasing ${what} failed; trying again`,
      );
    return { ...partial, plans, steps: applied.steps, outcome: exitCode === EXIT.ok ? 'released' : 'failed', exitCode };
  } finally {
    lock?.release();
    generation.stop();
  }
}

/**
 * An instance of `master` is reachable again ("-sdown", see notify). An old master back from a
 * cut-off may still hold the VIP for a moment and point neighbours at itself; the host that a
 * majority of the configured Sentinels name master, if it holds the VIP, sends its announcements
 * again (each entry whose plugin can: `reannounce`). A majority of those configured, not of those
 * answering: the returning host's own Sentinel still names it master until it hears from the others,
 * and must not win alone. No event of its own: it starts no generation, but stops as soon as a
 * failover event for this master starts here, like any older run. One that cannot even be planned
 * (no password variable, ip failing) is a failed step.
 */
async function runReannounce(run: Run): Promise<RunResult> {
  const { config, deps, master } = run;
  const log = deps.logger;
  const partial = base(run, 'reannounce');
  const generation = Object.hasOwn(config.masters, master) ? observeGeneration(config.lockDir, master) : undefined;
  const signal = generation ? AbortSignal.any([run.signal, generation.signal]) : run.signal;
  try {
    const plans = await planReannounces(master, config, deps, signal).catch((err: unknown): ActionPlan[] => {
      if (generation?.superseded())
        return [{ action: 'reannounce', note: `not planned: ${generation.superseded()}`, steps: [] }];
      log.error({ error: errorLine(err) }, 'reannounce could not be planned');
      return [{ action: 'reannounce', steps: [failing('announce again', errorLine(err))] }];
    });
    if (plans.length) logPlan(run.deps.logger, 'reannounce', plans);
    const applied = await applyAndRecord(run, 'reannounce', plans, generation, signal, undefined, undefined);
    const exitCode = exitCodeFor(applied.steps);
    return {
      ...partial,
      plans,
      steps: applied.steps,
      exitCode,
      outcome: applied.steps.length === 0 ? 'nothing-to-do' : exitCode === EXIT.ok ? 'applied' : 'failed',
    };
  } finally {
    generation?.stop();
  }
}

function failing(description: string, reason: string): ActionPlan['steps'][number] {
  return { kind: 'task', description, detail: { reason }, run: async () => ({ ok: false, summary: reason }) };
}

/** What a re-announce would send, on the host a majority of the Sentinels name master; changes nothing. */
export async function planReannounces(
  master: string,
  config: HookConfig,
  deps: PipelineDeps,
  signal: AbortSignal,
): Promise<ActionPlan[]> {
  const wanted = (Object.hasOwn(config.masters, master) ? config.masters[master]! : []).flatMap((a, i) => {
    const reannounce = pluginFor(a).reannounce;
    return reannounce?.wanted(a) ? [{ a, reannounce, label: `${a.type}#${i} reannounce` }] : [];
  });
  if (wanted.length === 0) return [];
  const skipped = (why: string) => wanted.map(({ label }) => ({ action: label, note: `skipped: ${why}`, steps: [] }));
  const sentinels = config.sentinels;
  if (!sentinels) return skipped('needs "sentinels" to tell whether this host is the master');
  const { majorityNamesThisHost } = await import('../sentinel/holder.ts');
  // Each question and each name lookup ends at the deadline (getent is killed then; Node's own
  // lookup could not be, and would keep this process alive long after).
  const verdict = await majorityNamesThisHost(master, sentinels, sentinelAsk(deps, signal), signal);
  const { votes, needed } = verdict;
  deps.logger.info({ answers: verdict.answers, votes, needed }, 'is this host the master (for reannounce)');
  if (!verdict.thisHost)
    return skipped(`${votes} of ${sentinels.addresses.length} Sentinels name this host master, ${needed} needed`);
  const host = hostView(deps, signal);
  const plans: ActionPlan[] = [];
  for (const { a, reannounce, label } of wanted)
    plans.push({
      ...(await reannounce.plan(a, { ...host, logger: deps.logger.child({ action: label }) })),
      action: label,
    });
  return plans;
}

/** The last-run record: whenever a run planned steps or failed (a service's no-op reconcile leaves it). */
function recordLastRun(
  run: Run,
  intent: IntentKind,
  runId: string,
  started: number,
  result: RunResult | undefined,
  error?: unknown,
): void {
  if (run.dryRun) return;
  if (result && result.steps.length === 0 && result.exitCode === EXIT.ok) return;
  const state = result?.state;
  try {
    writeLastRun(run.config.stateDir, run.master, {
      at: new Date().toISOString(),
      run: runId,
      intent,
      outcome: result?.outcome ?? 'failed',
      exitCode: result?.exitCode ?? (error as { exitCode?: ExitCode })?.exitCode ?? EXIT.retry,
      ...(state ? { master: state } : {}),
      ms: Math.round(nowMs() - started),
      ...(error
        ? { reason: scrubText(errorLine(error), run.secrets) }
        : result?.reason
          ? { reason: result.reason }
          : {}),
    });
  } catch (err) {
    // A record for status: never what fails a failover.
    run.deps.logger.warn({ error: errorLine(err) }, 'cannot write the last-run record');
  }
}

/** The node_exporter textfile (metrics.textfile), after every run that may change something; never what fails a run. */
function recordGauges(run: Run, result: RunResult | undefined): void {
  const dir = run.config.metrics?.textfile;
  if (!dir || (run.dryRun && !result?.paused)) return;
  try {
    const previous = readTextfile(dir, run.master, (path) => readSmallFile(path, 4096));
    const now = result ? gaugesAfter(result, previous) : { ...previous, consistent: 0 as const };
    writeTextfile(dir, run.master, withLastRun(now, readLastRun(run.config.stateDir, run.master)));
  } catch (err) {
    run.deps.logger.warn({ error: errorLine(err), textfile: dir }, 'cannot write the metrics textfile');
  }
}

/** The one pipeline: run `master` through every stage for `intent`. */
export async function runMaster(
  master: string,
  intent: Intent,
  config: HookConfig,
  given: PipelineDeps,
  opts: RunOptions,
): Promise<RunResult> {
  const started = nowMs();
  let timer: NodeJS.Timeout | undefined;
  let signal = opts.signal;
  let remainingMs = opts.remainingMs;
  if (!signal) {
    const deadline = new AbortController();
    timer = setTimeout(() => deadline.abort(), config.deadline);
    signal = deadline.signal;
  }
  remainingMs ??= () => Math.max(0, config.deadline - (nowMs() - started));
  // Before the first child starts (getent for a host-name to-ip, planning's reads).
  const secrets = withholdSecrets(given.env, configSecrets(config));
  const logger = redactingLogger(intent.kind === 'event' ? given.logger : given.logger.child({ master }), secrets);
  // Before the pause is read: records an older version kept in the lock directory move over first.
  // Sentinel's calls (the hook, notify's reannounce) may make a missing lock directory that holds the records.
  const by = intent.kind === 'event' || intent.kind === 'reannounce' ? 'sentinel' : 'command';
  const stateProblem = opts.dryRun ? undefined : prepareStateDir(config.stateDir, config.lockDir, given.uid, by);
  if (stateProblem)
    logger.warn(
      { stateDir: config.stateDir, code: 'state-dir-unusable' },
      failure('state-dir-unusable', { dir: config.stateDir, problem: stateProblem }).line(),
    );
  const paused = GUARDS[intent.kind].pausable ? pausedBecause(config.stateDir) : undefined;
  const run: Run = {
    master,
    config,
    deps: { ...given, logger },
    dryRun: opts.dryRun || paused !== undefined,
    signal,
    remainingMs,
    secrets,
    onStepDone: opts.onStepDone,
    // Never for a run that may change something: the staleness check is what keeps a late retry harmless.
    assumeCurrent: opts.dryRun && opts.assumeCurrent === true,
  };
  const runId = opts.runId ?? newRunId();
  let result: RunResult | undefined;
  try {
    if (intent.kind === 'event') {
      result = await runEvent(run, intent.event);
      if (result.outcome === 'stale' && !run.dryRun && config.sentinels) result = await convergeStale(run, result);
    } else if (intent.kind === 'state') result = await runState(run, intent);
    else if (intent.kind === 'release') result = await runRelease(run, intent);
    else result = await runReannounce(run);
    result = {
      ...result,
      plans: scrubText(result.plans, secrets),
      steps: scrubText(result.steps, secrets),
      ...(paused ? { paused } : {}),
    };
    recordLastRun(run, intent.kind, runId, started, result);
    recordGauges(run, result);
    return result;
  } catch (err) {
    recordLastRun(run, intent.kind, runId, started, undefined, err);
    recordGauges(run, undefined);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A stale event still says something: this host may hold what the newer master should have (a VIP
 * left by a run that Sentinel is retrying). Converge to what the Sentinels say, as reconcile would,
 * once this run's lock and generation are let go. Their answers are the stale verdict's own: every
 * Sentinel was asked (none confirmed, so none cut the round short), epochs included. A paused host
 * only plans it (the state intent is pausable).
 */
async function convergeStale(run: Run, stale: RunResult): Promise<RunResult> {
  const decision = decideMaster(stale.freshness!.answers, run.config.sentinels!.addresses.length);
  const paused = pausedBecause(run.config.stateDir);
  const converged = await runState(
    { ...run, dryRun: paused !== undefined },
    { kind: 'state', announce: false, decision },
  );
  run.deps.logger.info(
    { outcome: converged.outcome, state: converged.state, reason: converged.reason, ...(paused ? { paused } : {}) },
    'stale event: converged this host to what the Sentinels say',
  );
  // No clear answer to converge to: the stale event is done all the same, as before (reconcile and
  // watch keep trying); only a convergence that failed halfway asks Sentinel for a retry.
  const exitCode = converged.outcome === 'unsure' || converged.outcome === 'older-epoch' ? EXIT.ok : converged.exitCode;
  return {
    ...stale,
    exitCode,
    plans: converged.plans,
    steps: converged.steps,
    ...(converged.holder ? { holder: converged.holder } : {}),
    converged: {
      outcome: converged.outcome,
      ...(converged.state ? { state: converged.state } : {}),
      ...(converged.reason ? { reason: converged.reason } : {}),
    },
    ...(paused ? { paused } : {}),
  };
}

/** The hook's intent: Sentinel's call. */
export function runHook(
  event: FailoverEvent,
  config: HookConfig,
  deps: PipelineDeps,
  opts: { dryRun: boolean; runId?: string; assumeCurrent?: boolean },
): Promise<RunResult> {
  return runMaster(event.master, { kind: 'event', event }, config, deps, opts);
}

/** reconcile's and watch's intent: be what the Sentinels say. */
export function reconcileMaster(
  master: string,
  config: HookConfig,
  deps: PipelineDeps,
  opts: {
    dryRun: boolean;
    announce: boolean;
    claim?: boolean;
    decision?: Decision;
    signal: AbortSignal;
    remainingMs(): number;
    runId?: string;
    onStepDone?: () => void;
  },
): Promise<RunResult> {
  const { announce, claim: claimIt, decision, ...run } = opts;
  return runMaster(
    master,
    { kind: 'state', announce, ...(claimIt ? { claim: true } : {}), ...(decision ? { decision } : {}) },
    config,
    deps,
    run,
  );
}

/**
 * notify's own entries (config.notify): the user's alerting, run with the same applier and the same
 * secrets withheld, under no guard of a master's.
 */
export async function runNotifyEntries(
  plans: ActionPlan[],
  config: HookConfig,
  given: PipelineDeps,
  opts: { signal: AbortSignal; remainingMs(): number },
): Promise<StepOutcome[]> {
  const secrets = withholdSecrets(given.env, configSecrets(config));
  const deps = { ...given, logger: redactingLogger(given.logger, secrets) };
  if (plans.length) logPlan(deps.logger, 'notify', plans);
  const ctx = applyContext(config, deps, {
    guards: GUARDS.notify,
    master: '',
    lockDir: config.lockDir,
    signal: opts.signal,
    commandSignal: opts.signal,
    remainingMs: opts.remainingMs,
    log: deps.logger,
  });
  return scrubText(await applyPlans(plans, ctx, { sudo: deps.which('sudo') }), secrets);
}

/** notify's -sdown intent: the master's holder announces again. */
export function reannounceMaster(
  master: string,
  config: HookConfig,
  deps: PipelineDeps,
  opts: { signal: AbortSignal; remainingMs(): number },
): Promise<RunResult> {
  return runMaster(master, { kind: 'reannounce' }, config, deps, { dryRun: false, ...opts });
}

/** watch's intent on quorum loss. */
export function releaseMaster(
  master: string,
  config: HookConfig,
  deps: PipelineDeps,
  opts: { dryRun: boolean; signal: AbortSignal; remainingMs(): number; silentForMs: number },
): Promise<RunResult> {
  const { silentForMs, ...run } = opts;
  return runMaster(master, { kind: 'release', silentForMs }, config, deps, run);
}

export type HookResult = RunResult;
export type ReconcileResult = RunResult;
