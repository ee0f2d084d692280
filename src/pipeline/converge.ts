import { applyPlans, type StepOutcome } from './apply.ts';
import type { HookConfig } from '../config/schema.ts';
import { decideMaster, type Decision, type MasterState } from '../sentinel/decide.ts';
import { readActedEpoch, recordActedEpoch } from '../state/epoch.ts';
import { markOnceDone } from './once.ts';
import { EXIT, RetryableError, type ExitCode } from '../errors.ts';
import type { FailoverEvent } from '../event.ts';
import { claimGeneration, observeGeneration, type Generation } from '../state/generation.ts';
import { acquireLock } from '../state/lock.ts';
import { addressCheck, announceGuard, describeStep, planEvent, resolveAll, type HookDeps } from './hook.ts';
import type { ActionPlan } from '../actions/plugin.ts';
import { askSentinel, type SentinelAnswer } from '../sentinel/client.ts';
import { loadSentinelTls } from '../sentinel/tls.ts';

export interface ReconcileResult {
  master: string;
  /**
   * converged: changes made; nothing-to-do: this host already matches; unsure: no clear answer, nothing
   * changed; older-epoch: the Sentinels' newest answer is older than what this host acted on (a failover
   * under way), nothing changed; failed: a step failed; superseded: a failover event took over.
   */
  outcome: 'converged' | 'nothing-to-do' | 'unsure' | 'older-epoch' | 'failed' | 'dry-run' | 'superseded';
  exitCode: ExitCode;
  reason?: string;
  state?: MasterState;
  answers: SentinelAnswer[];
  plans: ActionPlan[];
  steps: StepOutcome[];
}

export interface ReconcileOptions {
  dryRun: boolean;
  /** Send a VIP's neighbour updates even where it already is (an explicit refresh). */
  announce: boolean;
  /**
   * Start a new generation (supersede what older runs still have pending), as a failover event does:
   * for `watch` acting on a failover newer than anything this host acted on. A plain reconcile waits.
   */
  claim?: boolean;
  /** Ends the whole reconcile (the command's deadline; a service's stop). */
  signal: AbortSignal;
  remainingMs(): number;
}

/** Ask every configured Sentinel for the master's address and config epoch, all at once. */
export async function askMasterState(master: string, config: HookConfig, deps: HookDeps, signal: AbortSignal): Promise<SentinelAnswer[]> {
  const sentinels = config.sentinels!;
  const { readSecret } = await import('../sentinel/client.ts');
  const password = sentinels.password ? readSecret(sentinels.password, deps.env) : undefined;
  // A TLS file that is wrong is a config error (exit 2) here, not a Sentinel that did not answer.
  if (sentinels.tls) await loadSentinelTls(sentinels.tls);
  const ask = deps.askSentinel ?? askSentinel;
  return Promise.all(
    sentinels.addresses.map((address) =>
      Promise.resolve()
        .then(() => ask(address, master, sentinels, password, { signal, resolve: deps.resolve, epoch: true }))
        .catch((err: unknown): SentinelAnswer => ({ address, error: (err as Error)?.message ?? String(err) })),
    ),
  );
}

/**
 * Bring this host in line with what the Sentinels say `master` is now: the same planners as a hook
 * call, with that master as the target. Acts only on a clear answer, never on an epoch older than
 * this host has acted on. Outside a hook call there is no leader or observer: the new master's host
 * plays the leader (so `when: { role: leader }` actions, such as pushes to app servers, run there),
 * every other host the observer; there is no old master (`when: { host: old-master }` never matches).
 */
export async function reconcileMaster(master: string, config: HookConfig, deps: HookDeps, opts: ReconcileOptions): Promise<ReconcileResult> {
  const log = deps.logger.child({ master });
  const answers = await askMasterState(master, config, deps, opts.signal);
  const decision = decideMaster(answers, config.sentinels!.addresses.length);
  log.info({ answers, ...(decision.clear ? { state: decision.state } : { reason: decision.reason }) }, 'what the Sentinels say');
  return convergeTo(master, decision, config, deps, opts);
}

/** The part after the question: also how a stale hook event converges to the master the Sentinels name. */
export async function convergeTo(master: string, decision: Decision, config: HookConfig, deps: HookDeps, opts: ReconcileOptions): Promise<ReconcileResult> {
  const log = deps.logger.child({ master });
  const base = { master, answers: decision.answers, plans: [] as ActionPlan[], steps: [] as StepOutcome[] };
  if (!decision.clear) {
    log.warn({ reason: decision.reason }, 'no clear answer from the Sentinels: nothing changed');
    return { ...base, outcome: 'unsure', exitCode: EXIT.retry, reason: decision.reason };
  }
  const state = decision.state;
  const older = (acted: MasterState | undefined) =>
    acted && acted.epoch > state.epoch
      ? `the Sentinels' newest answer (config epoch ${state.epoch}, ${state.ip}:${state.port}) is older than epoch ${acted.epoch} (${acted.ip}:${acted.port}) acted on here: a failover may be under way; nothing changed`
      : undefined;
  const tooOld = older(readActedEpoch(config.lockDir, master));
  if (tooOld) {
    log.warn({ state }, tooOld);
    return { ...base, state, outcome: 'older-epoch', exitCode: EXIT.retry, reason: tooOld };
  }

  let generation: Generation | undefined;
  let lock: { release(): void } | undefined;
  try {
    // A plain reconcile starts no generation: it waits its turn behind a run in progress (which may be
    // the very failover it would converge to, not yet recorded), and any failover event overtakes it.
    if (!opts.dryRun) generation = opts.claim ? claimGeneration(config.lockDir, master) : observeGeneration(config.lockDir, master);
    const gen = generation;
    const signal = gen ? AbortSignal.any([opts.signal, gen.signal]) : opts.signal;
    if (!opts.dryRun) lock = await acquireLock(config.lockDir, master, opts.remainingMs(), signal);
    // A hook run may have acted on a newer failover while we waited.
    const after = opts.dryRun ? undefined : older(readActedEpoch(config.lockDir, master));
    if (after) return { ...base, state, outcome: 'older-epoch', exitCode: EXIT.retry, reason: after };

    const toAddresses = await resolveAll(state.ip, deps, signal);
    const local = deps.localAddresses();
    const here = toAddresses.some((a) => local.has(a));
    const event: FailoverEvent = {
      master,
      role: here ? 'leader' : 'observer',
      state: 'reconcile',
      fromIp: '',
      fromPort: 0,
      toIp: state.ip,
      toPort: state.port,
    };
    const plans = await planEvent(event, config, deps, signal, {
      toAddresses,
      dryRun: opts.dryRun,
      reconcile: { announce: opts.announce },
      once: { lockDir: config.lockDir, epoch: state.epoch },
    });
    // Quiet when there is nothing to do: a service asks every few seconds.
    (plans.some((p) => p.steps.length > 0) ? log.info : log.debug)(
      { state, plan: plans.map((p) => ({ action: p.action, note: p.note, steps: p.steps.map(describeStep) })) },
      'reconcile plan',
    );
    const planned = { ...base, state, plans };
    if (opts.dryRun) return { ...planned, outcome: 'dry-run', exitCode: EXIT.ok };
    if (plans.every((p) => p.steps.length === 0)) {
      recordActedEpoch(config.lockDir, master, state);
      return { ...planned, outcome: 'nothing-to-do', exitCode: EXIT.ok };
    }
    const steps = await applyPlans(
      plans,
      {
        runner: deps.runner,
        signal,
        logger: log,
        remainingMs: opts.remainingMs,
        lock: (resource, waitMs) => acquireLock(config.lockDir, resource, Math.min(waitMs, opts.remainingMs()), signal, resource),
        ...(gen ? { superseded: gen.superseded, commandSignal: opts.signal } : {}),
        holdsAddress: addressCheck(deps, signal),
        mayAnnounce: announceGuard(master, config.sentinels!, deps, signal, log),
      },
      { sudo: deps.which('sudo') },
    );
    if (gen?.superseded()) return { ...planned, steps, outcome: 'superseded', exitCode: EXIT.ok };
    markOnceDone(plans, steps, config.lockDir, master, state.epoch);
    const failed = steps.filter((s) => !s.ok);
    if (failed.length === 0) recordActedEpoch(config.lockDir, master, state);
    return {
      ...planned,
      steps,
      outcome: failed.length ? 'failed' : 'converged',
      exitCode: failed.length === 0 ? EXIT.ok : failed.every((s) => s.permanent) ? EXIT.never : EXIT.retry,
    };
  } catch (err) {
    if (generation?.superseded()) return { ...base, state, outcome: 'superseded', exitCode: EXIT.ok };
    if (err instanceof RetryableError || (err as { exitCode?: number }).exitCode !== undefined) throw err;
    throw new RetryableError(`reconcile of ${master}: ${(err as Error).message}`);
  } finally {
    lock?.release();
    generation?.stop();
  }
}
