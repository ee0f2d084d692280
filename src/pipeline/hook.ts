import { pluginFor } from '../actions/index.ts';
import { applyPlans, type StepOutcome } from './apply.ts';
import { claimGeneration, type Generation } from '../state/generation.ts';
import { decideMaster, type MasterState } from '../sentinel/decide.ts';
import { recordActedEpoch } from '../state/epoch.ts';
import { onceDone } from '../state/once.ts';
import { markOnceDone, withoutDone } from './once.ts';
import type { ActionConfig, HookConfig } from '../config/schema.ts';
import { withholdSecret, type When } from '../config/common.ts';
import { ConfigError, EXIT, RetryableError, type ExitCode } from '../errors.ts';
import type { FailoverEvent } from '../event.ts';
import { acquireLock, lockDirFix, prepareLockDir } from '../state/lock.ts';
import type { Logger } from '../log.ts';
import type { ActionPlan, ApplyContext, Capabilities, ObserveContext } from '../actions/plugin.ts';
import type { CommandRunner } from '../runner.ts';
import type { AskSentinel, Freshness } from '../sentinel/client.ts';
import { canonicalIp, isIpAddress } from '../values.ts';

/** Everything the orchestrator touches outside itself: tests pass fakes, the CLI passes the real system. */
export interface HookDeps {
  runner: CommandRunner;
  logger: Logger;
  env: NodeJS.ProcessEnv;
  uid: number;
  localAddresses(): Set<string>;
  /** A host name's addresses; `signal` aborts at the run's deadline (the lookup must stop then). */
  resolve(host: string, signal?: AbortSignal): Promise<string[]>;
  which(program: string): string | undefined;
  readFile(path: string): Buffer | undefined;
  /** What this process can do without sudo, decided once per process (see processCapabilities); absent: nothing. */
  capabilities?: Capabilities;
  askSentinel?: AskSentinel;
}

export interface HookResult {
  exitCode: ExitCode;
  outcome: 'applied' | 'failed' | 'nothing-to-do' | 'stale' | 'dry-run' | 'superseded';
  freshness?: Freshness;
  /** A stale event's convergence to the master the Sentinels name (see reconcile). */
  converged?: { outcome: string; state?: { ip: string; port: number; epoch: number }; reason?: string };
  plans: ActionPlan[];
  steps: StepOutcome[];
}

export function actionsFor(config: HookConfig, master: string): ActionConfig[] {
  // Own keys only: the name comes from Sentinel's operands, and `constructor` is on every object.
  const actions = Object.hasOwn(config.masters, master) ? config.masters[master] : undefined;
  if (!actions) {
    const known = Object.keys(config.masters);
    throw new ConfigError(`no actions configured for master ${JSON.stringify(master)}`, `configured masters: ${known.join(', ') || '(none)'}`);
  }
  return actions;
}

export function matchesWhen(
  when: When,
  event: FailoverEvent,
  ctx: Pick<ObserveContext, 'localAddresses' | 'toAddresses' | 'fromAddresses'>,
): string | undefined {
  if (when.role !== 'any' && when.role !== event.role) return `when.role is ${when.role}, this run is ${event.role}`;
  const mine = (addresses: readonly string[]) => addresses.some((a) => ctx.localAddresses.has(a));
  if (when.host === 'new-master' && !mine(ctx.toAddresses)) return 'when.host is new-master, this host does not own the to-ip';
  if (when.host === 'old-master' && !mine(ctx.fromAddresses)) return 'when.host is old-master, this host does not own the from-ip';
  return undefined;
}

/** Why a non-convergent action does not run in this plan: not opted in to reconcile, or done for this failover already. */
function convergenceSkip(action: ActionConfig, label: string, master: string, known: PlanOptions): string | undefined {
  const plugin = pluginFor(action);
  if (plugin.convergent) return undefined;
  if (known.reconcile) {
    const out = plugin.reconcileSkip ? plugin.reconcileSkip(action) : `${action.type} is not convergent and never runs in a reconcile`;
    if (out) return out;
  }
  if (known.once && onceDone(known.once.lockDir, master, label, known.once.epoch))
    return `already ran on this host for this failover (config epoch ${known.once.epoch})`;
  return undefined;
}

/**
 * Settles as `work` does, or rejects with `late()` as soon as `signal` aborts, whichever comes first;
 * leaves no listener behind. What `work` still holds is its own business: it gets the same signal.
 */
function beforeDeadline<T>(work: Promise<T>, signal: AbortSignal, late: () => Error): Promise<T> {
  if (signal.aborted) {
    work.catch(() => {});
    return Promise.reject(late());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(late());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

export async function resolveAll(host: string, deps: HookDeps, signal: AbortSignal): Promise<string[]> {
  if (isIpAddress(host)) return [canonicalIp(host)];
  try {
    const addresses = await beforeDeadline(deps.resolve(host, signal), signal, () => new Error("no answer before the run's deadline"));
    if (addresses.length === 0) throw new Error('no addresses');
    return addresses.map(canonicalIp);
  } catch (err) {
    throw new RetryableError(`cannot resolve ${host}: ${(err as Error).message}`, 'check DNS or /etc/hosts on this Sentinel host; Sentinel will retry');
  }
}

const FROM_LOOKUP_MS = 2000;

/** The host, read-only, as planners see it: commands end at the run's deadline. */
export function hostReader(deps: HookDeps, signal: AbortSignal): Pick<ObserveContext, 'read' | 'which' | 'readFile' | 'capabilities'> {
  return {
    read: (argv, opts) => deps.runner.run(argv, { timeoutMs: opts?.timeoutMs ?? 5000, signal }),
    which: deps.which,
    readFile: deps.readFile,
    ...(deps.capabilities ? { capabilities: deps.capabilities } : {}),
  };
}

/**
 * Observe and plan every action that applies to this run; changes nothing.
 * `toAddresses`: the to-ip's addresses when the caller has resolved them already (one lookup per run).
 */
export interface PlanOptions {
  /** The to-ip's addresses when the caller has resolved them already (one lookup per run). */
  toAddresses?: string[];
  dryRun?: boolean;
  /**
   * Planning for a desired state (reconcile, a stale event converging) rather than a Sentinel call:
   * a VIP already here is announced again only when asked; `exec` runs only where it opts in.
   */
  reconcile?: { announce: boolean };
  /**
   * The failover's config epoch when known (from the Sentinels): non-convergent actions (exec) run
   * once per failover, whichever process of this host gets there first.
   */
  once?: { lockDir: string; epoch: number };
}

export async function planEvent(event: FailoverEvent, config: HookConfig, deps: HookDeps, signal: AbortSignal, known: PlanOptions = {}): Promise<ActionPlan[]> {
  const actions = actionsFor(config, event.master);
  const [toAddresses, fromAddresses] = await Promise.all([
    known.toAddresses ?? resolveAll(event.toIp, deps, signal),
    // The old master's name may be gone from DNS (a replaced host or pod): it only decides
    // `when.host: old-master`, so a name that does not resolve means "not this host", not a failed
    // run. A lookup with no answer yet is another matter: it gets a couple of seconds, then, if an
    // action is for the old master only, the run is retried rather than that action dropped for good.
    (async () => {
      // A desired state has no old master.
      if (event.fromIp === '') return [];
      const budget = AbortSignal.timeout(FROM_LOOKUP_MS);
      try {
        return await resolveAll(event.fromIp, deps, AbortSignal.any([signal, budget]));
      } catch (err) {
        if (budget.aborted && !signal.aborted && actions.some((a) => a.when.host === 'old-master')) {
          throw new RetryableError(
            `cannot resolve from-ip ${event.fromIp}: no answer within ${FROM_LOOKUP_MS} ms, and an action is for the old master only`,
            'check DNS or /etc/hosts on this Sentinel host; Sentinel will retry',
          );
        }
        deps.logger.warn(
          { fromIp: event.fromIp, error: budget.aborted ? `no answer within ${FROM_LOOKUP_MS} ms` : (err as Error).message },
          'from-ip does not resolve; treated as not this host',
        );
        return [];
      }
    })(),
  ]);
  const ctx: ObserveContext = {
    event,
    localAddresses: deps.localAddresses(),
    toAddresses,
    fromAddresses,
    ...hostReader(deps, signal),
    logger: deps.logger,
    signal,
    dryRun: known.dryRun === true,
    ...(known.reconcile ? { reconcile: known.reconcile } : {}),
  };
  const plans: ActionPlan[] = [];
  for (const [index, action] of actions.entries()) {
    const label = `${action.type}#${index}`;
    const skip = matchesWhen(action.when, event, ctx) ?? convergenceSkip(action, label, event.master, known);
    if (skip) {
      plans.push({ action: label, note: `skipped: ${skip}`, steps: [] });
      continue;
    }
    const plugin = pluginFor(action);
    const plan = await plugin.plan(action, { ...ctx, logger: deps.logger.child({ action: label }) });
    plans.push({ ...plan, action: label, ...(plugin.convergent ? {} : { once: true }) });
  }
  return plans;
}

/**
 * One hook run: say this is now the newest event for the master here, take the master's lock, ask
 * whether the event is still current, observe and plan, then apply that same plan (or only show it,
 * for --dry-run). A newer event for the same master that starts meanwhile supersedes this run: it
 * stops at once (exit 0, nothing more changed), and the newer run takes over.
 */
export async function runHook(event: FailoverEvent, config: HookConfig, deps: HookDeps, opts: { dryRun: boolean }): Promise<HookResult> {
  const started = performance.now();
  const result = await runEvent(event, config, deps, opts);
  if (result.outcome !== 'stale' || opts.dryRun || !config.sentinels) return result;
  // A stale event still says something: this host may hold what the newer master should have (a
  // VIP left by a run that Sentinel is retrying). Converge to what the Sentinels say, as reconcile
  // would, once this run's lock and generation are let go. Their answers are the stale verdict's own:
  // every Sentinel was asked (none confirmed, so none cut the round short), epochs included.
  const remaining = config.deadline - (performance.now() - started);
  const { convergeTo } = await import('./converge.ts');
  const decision = decideMaster(result.freshness!.answers, config.sentinels.addresses.length);
  const converged = await convergeTo(event.master, decision, config, deps, {
    dryRun: false,
    announce: false,
    signal: AbortSignal.timeout(Math.max(1, Math.floor(remaining))),
    remainingMs: () => Math.max(0, config.deadline - (performance.now() - started)),
  });
  deps.logger.info(
    { outcome: converged.outcome, state: converged.state, reason: converged.reason },
    'stale event: converged this host to what the Sentinels say',
  );
  // No clear answer to converge to: the stale event is done all the same, as before (reconcile and
  // watch keep trying); only a convergence that failed halfway asks Sentinel for a retry.
  const exitCode = converged.outcome === 'unsure' || converged.outcome === 'older-epoch' ? EXIT.ok : converged.exitCode;
  return {
    ...result,
    exitCode,
    plans: converged.plans,
    steps: converged.steps,
    converged: {
      outcome: converged.outcome,
      ...(converged.state ? { state: converged.state } : {}),
      ...(converged.reason ? { reason: converged.reason } : {}),
    },
  };
}

async function runEvent(event: FailoverEvent, config: HookConfig, deps: HookDeps, opts: { dryRun: boolean }): Promise<HookResult> {
  const started = performance.now();
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), config.deadline);
  const remainingMs = () => Math.max(0, config.deadline - (performance.now() - started));
  const log = deps.logger;
  let generation: Generation | undefined;
  try {
    actionsFor(config, event.master);
    const lockDir = opts.dryRun ? config.lockDir : prepareLockDir(config.lockDir, deps.uid);
    const sentinels = config.sentinels;
    // Before the first child (getent for a host-name to-ip) and planning's reads start.
    const ownEnv = sentinels ? withholdSecret(deps.env, sentinels.password) : deps.env;
    const toAddresses = sentinels ? await resolveAll(event.toIp, deps, deadline.signal) : undefined;
    const askFreshness = async (signal: AbortSignal): Promise<Freshness> => {
      // Loaded only when configured: node:net is a noticeable part of a cold start.
      const { checkFreshness } = await import('../sentinel/client.ts');
      const f = await checkFreshness(event, toAddresses!, sentinels!, ownEnv, {
        ...(deps.askSentinel ? { ask: deps.askSentinel } : {}),
        resolve: (host, s) => deps.resolve(host, s),
        signal,
      });
      log.info({ freshness: f.verdict, answers: f.answers }, 'event freshness checked');
      for (const answer of f.answers) {
        if ('refused' in answer) log.warn({ sentinel: answer.address, error: answer.error }, 'a Sentinel refused the stale-event check; the others decided');
        if ('warning' in answer && answer.warning)
          log.warn({ sentinel: answer.address, warning: answer.warning }, 'a Sentinel answered, but the config does not fit it');
      }
      return f;
    };
    const staleResult = (f: Freshness): HookResult => {
      log.warn(
        { answers: f.answers },
        opts.dryRun
          ? 'stale event: no Sentinel names the to-ip as master any more; nothing done'
          : 'stale event: no Sentinel names the to-ip as master any more; converging to the master they name',
      );
      return { exitCode: EXIT.ok, outcome: 'stale', freshness: f, plans: [], steps: [] };
    };
    // Asked before this run claims the master's generation: a late retry of an overtaken event would
    // otherwise stop the newer event's run (its second burst, its pushes) before finding itself stale.
    let early: Freshness | undefined;
    if (sentinels && !opts.dryRun) {
      early = await askFreshness(deadline.signal);
      if (early.verdict === 'stale') return staleResult(early);
      if (deadline.signal.aborted)
        throw new RetryableError(
          `the run's deadline (${config.deadline} ms) passed while asking the Sentinels whether the event is current`,
          'check that the Sentinels answer; Sentinel will retry',
        );
    }
    // Before the lock: an older run still holding it (its second ARP burst pending) lets go within
    // POLL_MS instead of making this newer event wait seconds for it.
    generation = opts.dryRun ? undefined : claim(lockDir, event.master);
    const gen = generation;
    const signal = gen ? AbortSignal.any([deadline.signal, gen.signal]) : deadline.signal;
    const lock = opts.dryRun ? undefined : await acquireLock(lockDir, event.master, remainingMs(), signal);
    try {
      if (lock && lock.waitedMs > 0) log.info({ waitedMs: lock.waitedMs }, 'waited for another run of this master');
      let freshness: Freshness | undefined;
      let plans: ActionPlan[];
      if (sentinels && early && lock?.waitedMs === 0) {
        // Nothing ran for this master while we took the lock: the answer from a moment ago stands.
        freshness = early;
        if (freshness.verdict === 'unknown') log.warn({ answers: freshness.answers }, 'no Sentinel answered; acting on the arguments');
        plans = await planEvent(event, config, deps, signal, { toAddresses: toAddresses!, dryRun: opts.dryRun, ...onceFor(freshness, lockDir) });
      } else if (sentinels) {
        // A dry-run, or a run that waited behind another: ask (again) now. A late retry that waited
        // behind a newer failover's run must see that newer master, not what the Sentinels said before.
        // Planning only observes, so it runs while the Sentinels are asked; its plan is applied only
        // if the event is current, and a stale verdict stops it (its reads are killed) before we return.
        const stopPlanning = new AbortController();
        const planning = planEvent(event, config, deps, AbortSignal.any([signal, stopPlanning.signal]), {
          toAddresses: toAddresses!,
          dryRun: opts.dryRun,
        }).then(
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
        if (freshness.verdict === 'stale') {
          await abandon();
          return staleResult(freshness);
        }
        const planned = await planning;
        if (signal.aborted && !gen?.superseded()) {
          throw new RetryableError(
            `the run's deadline (${config.deadline} ms) passed while asking the Sentinels whether the event is current and observing this host`,
            'check that the Sentinels answer; Sentinel will retry',
          );
        }
        if (freshness.verdict === 'unknown') log.warn({ answers: freshness.answers }, 'no Sentinel answered; acting on the arguments');
        if ('error' in planned) throw planned.error;
        const known = freshness.verdict === 'current' ? confirmedState(freshness) : undefined;
        plans = known && !opts.dryRun ? withoutDone(planned.value, lockDir, event.master, known.epoch) : planned.value;
      } else {
        plans = await planEvent(event, config, deps, signal, { dryRun: opts.dryRun });
      }

      log.info({ plan: plans.map((p) => ({ action: p.action, note: p.note, steps: p.steps.map(describeStep) })) }, 'plan');
      for (const p of plans) for (const warning of p.warnings ?? []) log.warn({ action: p.action, warning }, 'host set-up to fix');
      const base = { ...(freshness ? { freshness } : {}), plans };
      if (opts.dryRun) return { ...base, exitCode: EXIT.ok, outcome: 'dry-run', steps: [] };
      if (plans.every((p) => p.steps.length === 0)) return { ...base, exitCode: EXIT.ok, outcome: 'nothing-to-do', steps: [] };
      const guards = sentinels && toAddresses ? sentinelGuards(event, toAddresses, sentinels, { ...deps, env: ownEnv }, signal, log) : {};
      const steps = await applyPlans(
        plans,
        {
          runner: deps.runner,
          signal,
          logger: log,
          remainingMs,
          lock: (resource, waitMs) => acquireLock(lockDir, resource, Math.min(waitMs, remainingMs()), signal, resource),
          ...(gen ? { superseded: gen.superseded, commandSignal: deadline.signal } : {}),
          holdsAddress: addressCheck(deps, signal),
          ...guards,
        },
        { sudo: deps.which('sudo') },
      );
      if (gen?.superseded()) return supersededResult(log, base, steps);
      const acted = freshness?.verdict === 'current' ? confirmedState(freshness) : undefined;
      if (acted) markOnceDone(plans, steps, lockDir, event.master, acted.epoch);
      const failed = steps.filter((s) => !s.ok);
      // What this host now matches, for reconcile's "never go back" (only when nothing failed).
      if (acted && failed.length === 0) recordActedEpoch(lockDir, event.master, acted);
      return {
        ...base,
        exitCode: failed.length === 0 ? EXIT.ok : failed.every((s) => s.permanent) ? EXIT.never : EXIT.retry,
        outcome: failed.length ? 'failed' : 'applied',
        steps,
      };
    } finally {
      lock?.release();
    }
  } catch (err) {
    // Whatever this run was doing when a newer event started (waiting for the lock, asking the
    // Sentinels, planning) ended because it must: the newer run decides now.
    if (generation?.superseded()) return supersededResult(log, { plans: [] }, []);
    throw err;
  } finally {
    generation?.stop();
    clearTimeout(timer);
  }
}

/** The master and config epoch the confirming Sentinel gave, when it gave the epoch. */
function confirmedState(f: Extract<Freshness, { verdict: 'current' }>): MasterState | undefined {
  const answer = f.answers.find((a) => a.address === f.confirmedBy);
  return answer && 'master' in answer && answer.epoch !== undefined ? { ip: answer.master.ip, port: answer.master.port, epoch: answer.epoch } : undefined;
}

function onceFor(f: Freshness | undefined, lockDir: string): Pick<PlanOptions, 'once'> {
  const state = f?.verdict === 'current' ? confirmedState(f) : undefined;
  return state ? { once: { lockDir, epoch: state.epoch } } : {};
}

function claim(lockDir: string, master: string): Generation {
  try {
    return claimGeneration(lockDir, master);
  } catch (err) {
    throw new RetryableError(`cannot record this event in ${lockDir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, lockDirFix(lockDir));
  }
}

function supersededResult(log: Logger, base: Pick<HookResult, 'plans' | 'freshness'>, steps: StepOutcome[]): HookResult {
  log.warn({ outcome: 'superseded' }, 'superseded: a newer event for this master started on this host; this run stopped and leaves the rest to it');
  return { ...base, exitCode: EXIT.ok, outcome: 'superseded', steps };
}

/**
 * With `sentinels`, what later steps ask before they announce or write: the Sentinels' answers change
 * while a run goes on (its second burst comes seconds later; another host may lead the next failover).
 */
function sentinelGuards(
  event: FailoverEvent,
  toAddresses: readonly string[],
  sentinels: NonNullable<HookConfig['sentinels']>,
  deps: HookDeps,
  signal: AbortSignal,
  log: Logger,
): Pick<ApplyContext, 'mayAnnounce' | 'stillCurrent'> {
  const mayAnnounce = announceGuard(event.master, sentinels, deps, signal, log);
  // Concurrent pushes share one question, and its answer for a moment.
  let recent: { at: number; answer: Promise<string | undefined> } | undefined;
  const stillCurrent = (): Promise<string | undefined> => {
    if (recent && performance.now() - recent.at < CURRENT_REUSE_MS) return recent.answer;
    const answer = (async () => {
      const { checkFreshness } = await import('../sentinel/client.ts');
      const f = await checkFreshness(event, toAddresses, { ...sentinels, settle: 0 }, deps.env, {
        ...(deps.askSentinel ? { ask: deps.askSentinel } : {}),
        resolve: (host, s) => deps.resolve(host, s),
        signal,
      });
      if (f.verdict !== 'stale') return undefined;
      log.warn({ answers: f.answers }, 'the event went stale during the run: no Sentinel names the to-ip any more');
      return 'no Sentinel names the to-ip as master any more (a newer failover)';
    })();
    recent = { at: performance.now(), answer };
    return answer;
  };
  return { mayAnnounce, stillCurrent };
}

const CURRENT_REUSE_MS = 250;

/**
 * Is `address` on this host now? The kernel's interface list first (no process); an address missing
 * there is confirmed with `ip -j addr`, since that list leaves out interfaces without carrier (a
 * blip must not cost a burst its packets). When `ip` cannot tell, the address counts as here: a
 * failed read never silences a burst on its own.
 */
export function addressCheck(deps: Pick<HookDeps, 'localAddresses' | 'which' | 'runner'>, signal: AbortSignal): (address: string) => Promise<boolean> {
  return async (address) => {
    if (deps.localAddresses().has(address)) return true;
    const ip = deps.which('ip');
    if (!ip) return true;
    const r = await deps.runner.run([ip, '-j', 'addr', 'show'], { timeoutMs: 2000, signal });
    if (r.exitCode !== 0) return true;
    try {
      const links = JSON.parse(r.stdout) as { addr_info?: { local?: string }[] }[];
      return links.some((l) => l.addr_info?.some((a) => a.local !== undefined && canonicalIp(a.local) === address));
    } catch {
      return true;
    }
  };
}

/**
 * The one rule for every announcement after a failover's first burst (a delayed burst, a re-announce,
 * whoever runs it: hook, reconcile, watch, notify): a majority of the configured Sentinels name this
 * host master (sentinel/holder.ts). Why not, when they do not.
 */
export function announceGuard(
  master: string,
  sentinels: NonNullable<HookConfig['sentinels']>,
  deps: HookDeps,
  signal: AbortSignal,
  log: Logger,
): () => Promise<string | undefined> {
  return async () => {
    const { majorityNamesThisHost } = await import('../sentinel/holder.ts');
    const verdict = await majorityNamesThisHost(master, sentinels, sentinelAsk(deps, signal), signal);
    log.info({ votes: verdict.votes, needed: verdict.needed, answers: verdict.answers }, 'do the Sentinels name this host master (before announcing again)');
    return verdict.thisHost ? undefined : `${verdict.votes} of ${sentinels.addresses.length} Sentinels name this host master, ${verdict.needed} needed`;
  };
}

/** What majorityNamesThisHost needs: ask (tests' fake or the real one) and "is that name this host". */
export function sentinelAsk(deps: HookDeps, signal: AbortSignal) {
  const lookups = new Map<string, Promise<boolean>>();
  return {
    env: deps.env,
    ...(deps.askSentinel ? { ask: deps.askSentinel } : {}),
    resolve: deps.resolve,
    // A name that does not resolve (in time) is not this host; each name is looked up once.
    isThisHost: (host: string) => {
      let answer = lookups.get(host);
      if (!answer) {
        answer = resolveAll(host, deps, signal).then(
          (addresses) => {
            const local = deps.localAddresses();
            return addresses.some((a) => local.has(a));
          },
          () => false,
        );
        lookups.set(host, answer);
      }
      return answer;
    },
  };
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
  return { kind: 'task', description: step.description, ...(step.detail ? { detail: step.detail } : {}), ...(step.deferMs ? { deferMs: step.deferMs } : {}) };
}
