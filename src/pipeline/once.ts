import type { ActionPlan } from '../actions/plugin.ts';
import { markOnce, onceDone } from '../state/once.ts';
import type { StepOutcome } from './apply.ts';

/** Non-convergent actions (exec) whose steps all succeeded are done for this failover on this host. */
export function markOnceDone(
  plans: readonly ActionPlan[],
  steps: readonly StepOutcome[],
  dir: string,
  master: string,
  epoch: number,
  ids?: readonly string[],
): void {
  for (const plan of plans) {
    if (!plan.once || plan.steps.length === 0) continue;
    const mine = steps.filter((s) => s.action === plan.action);
    if (mine.length === plan.steps.length && mine.every((s) => s.ok && !s.superseded))
      markOnce(dir, master, plan.action, epoch, ids);
  }
}

/** A plan without the exec actions already done on this host for this failover (the epoch known only after planning). */
export function withoutDone(
  plans: readonly ActionPlan[],
  dir: string,
  master: string,
  epoch: number,
  ids?: readonly string[],
): ActionPlan[] {
  return plans.map((p) =>
    p.once && p.steps.length > 0 && onceDone(dir, master, p.action, epoch, ids)
      ? {
          action: p.action,
          note: `skipped: already ran on this host for this failover (config epoch ${epoch})`,
          steps: [],
        }
      : p,
  );
}
