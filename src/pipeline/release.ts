import { applyPlans } from './apply.ts';
import type { HookConfig } from '../config/schema.ts';
import type { FailoverEvent } from '../event.ts';
import { observeGeneration } from '../state/generation.ts';
import { acquireLock } from '../state/lock.ts';
import type { Logger } from '../log.ts';
import { addressCheck, describeStep, planEvent, type HookDeps } from './hook.ts';

/**
 * Quorum loss: this host could not reach a majority of the Sentinels for `release.noQuorumFor`.
 * Only the vip actions that opted in (`release`) run, planned as on a host that is not the new master:
 * the VIP leaves this host if it holds it. Nothing else changes (a hosts entry has no "nobody").
 * After the heal, the normal reconcile puts the VIP where the Sentinels say. True when nothing failed.
 */
export async function releaseVip(
  master: string,
  config: HookConfig,
  deps: HookDeps,
  log: Logger,
  opts: { dryRun: boolean; signal: AbortSignal; remainingMs(): number; silentFor: number },
): Promise<boolean> {
  const vips = (Object.hasOwn(config.masters, master) ? config.masters[master]! : []).filter((a) => 'release' in a && a.release !== undefined);
  if (vips.length === 0) return true;
  const subset: HookConfig = { ...config, masters: { [master]: vips } };
  // "Nobody here": an address no host has, so every planner removes rather than adds.
  const event: FailoverEvent = { master, role: 'observer', state: 'release', fromIp: '', fromPort: 0, toIp: '0.0.0.0', toPort: 0 };
  const generation = observeGeneration(config.lockDir, master);
  const signal = AbortSignal.any([opts.signal, generation.signal]);
  const lock = opts.dryRun ? undefined : await acquireLock(config.lockDir, master, opts.remainingMs(), signal);
  try {
    const plans = await planEvent(event, subset, deps, signal, { toAddresses: ['0.0.0.0'], dryRun: opts.dryRun });
    const steps = plans.flatMap((p) => p.steps);
    log.warn(
      { master, silentForMs: opts.silentFor, plan: plans.map((p) => ({ action: p.action, note: p.note, steps: p.steps.map(describeStep) })) },
      opts.dryRun
        ? 'paused: no majority of the Sentinels reachable; would release the VIP'
        : 'no majority of the Sentinels reachable for too long: releasing the VIP',
    );
    if (opts.dryRun || steps.length === 0) return true;
    const outcomes = await applyPlans(
      plans,
      { runner: deps.runner, signal, logger: log, remainingMs: opts.remainingMs, superseded: generation.superseded, holdsAddress: addressCheck(deps, signal) },
      { sudo: deps.which('sudo') },
    );
    const failed = outcomes.filter((o) => !o.ok);
    if (failed.length) log.error({ master, failed: failed.map((f) => f.error) }, 'releasing the VIP failed; trying again');
    return failed.length === 0;
  } finally {
    lock?.release();
    generation.stop();
  }
}
