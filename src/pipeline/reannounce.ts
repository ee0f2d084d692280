import { applyPlans, type StepOutcome } from './apply.ts';
import { pluginFor } from '../actions/index.ts';
import type { HookConfig } from '../config/schema.ts';
import { errorLine } from '../errors.ts';
import { observeGeneration } from '../state/generation.ts';
import { addressCheck, announceGuard, hostReader, sentinelAsk, type HookDeps } from './hook.ts';
import { failingStep, type ActionPlan } from '../actions/plugin.ts';

/**
 * An instance of `master` is reachable again ("-sdown", see notify). An old master back from a cut-off may still hold the VIP for a moment and point neighbours at itself;
 * the host that a majority of the configured Sentinels name master, if it holds the VIP, sends the
 * ARP bursts again (each action whose plugin can: `reannounce`). A majority of those configured, not of those answering: the returning host's own
 * Sentinel still names it master until it hears from the others, and must not win alone.
 */
export async function planReannounces(master: string, config: HookConfig, deps: HookDeps, signal: AbortSignal): Promise<ActionPlan[]> {
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
  if (!verdict.thisHost) return skipped(`${votes} of ${sentinels.addresses.length} Sentinels name this host master, ${needed} needed`);
  const host = hostReader(deps, signal);
  const plans: ActionPlan[] = [];
  for (const { a, reannounce, label } of wanted)
    plans.push({ ...(await reannounce.plan(a, { ...host, logger: deps.logger.child({ action: label }) })), action: label });
  return plans;
}

/**
 * The re-announce through the pipeline: planned as above, applied with the guards every announcement
 * has (the address still here, the rule asked again before a delayed burst). A re-announce is no event
 * of its own: it starts no generation, but stops as soon as a failover event for this master starts
 * here, like any older run; followed from before the Sentinels are asked, so an event that starts
 * meanwhile is seen. One that cannot even be planned (no password variable, ip failing) is a failed step.
 */
export async function reannounceMaster(
  master: string,
  config: HookConfig,
  deps: HookDeps,
  opts: { signal: AbortSignal; remainingMs(): number },
): Promise<{ plans: ActionPlan[]; steps: StepOutcome[] }> {
  const log = deps.logger;
  const generation = Object.hasOwn(config.masters, master) ? observeGeneration(config.lockDir, master) : undefined;
  const signal = generation ? AbortSignal.any([opts.signal, generation.signal]) : opts.signal;
  try {
    const plans = await planReannounces(master, config, deps, signal).catch((err: unknown): ActionPlan[] => {
      if (generation?.superseded()) return [{ action: 'reannounce', note: `not planned: ${generation.superseded()}`, steps: [] }];
      log.error({ error: errorLine(err) }, 'reannounce could not be planned');
      return [{ action: 'reannounce', steps: [failingStep('announce again', errorLine(err))] }];
    });
    if (plans.length) log.info({ plan: plans.map((p) => ({ action: p.action, note: p.note, steps: p.steps.map((st) => st.description) })) }, 'reannounce plan');
    const sentinels = config.sentinels;
    const steps = await applyPlans(
      plans,
      {
        runner: deps.runner,
        logger: log,
        signal,
        remainingMs: opts.remainingMs,
        holdsAddress: addressCheck(deps, signal),
        ...(generation ? { superseded: generation.superseded } : {}),
        ...(sentinels ? { mayAnnounce: announceGuard(master, sentinels, deps, signal, log) } : {}),
      },
      { sudo: deps.which('sudo') },
    );
    return { plans, steps };
  } finally {
    generation?.stop();
  }
}
