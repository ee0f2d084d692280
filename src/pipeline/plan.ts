// Observe and plan every action of a master for what the core decided (Desired): the `when` filters,
// exec's once-per-failover, and each plugin's observe then plan. Changes nothing.
import { type ActionConfig, pluginFor } from '../actions/index.ts';
import type { ActionPlan, Desired } from '../actions/plugin.ts';
import type { When } from '../config/common.ts';
import type { HookConfig } from '../config/schema.ts';
import { hookError } from '../errors.ts';
import type { FailoverEvent } from '../event.ts';
import { onceDone } from '../state/once.ts';
import type { PipelineDeps } from './deps.ts';
import { hostView, resolveAll } from './host.ts';

export function actionsFor(config: HookConfig, master: string): ActionConfig[] {
  // Own keys only: the name comes from Sentinel's operands, and `constructor` is on every object.
  const actions = Object.hasOwn(config.masters, master) ? config.masters[master] : undefined;
  if (!actions) {
    const known = Object.keys(config.masters);
    throw hookError('master-unconfigured', { master, known });
  }
  return actions;
}

/**
 * Why an entry's `when` leaves it out of this run, if it does. A Sentinel call has a role and an old
 * master; a desired state has neither: the host that should hold the master plays the leader (so
 * `role: leader` entries such as pushes to app servers run there once), every other host the
 * observer, and `host: old-master` never matches.
 */
export function whenSkip(when: When, desired: Desired, local: ReadonlySet<string>): string | undefined {
  const source = desired.source;
  const role = source.kind === 'event' ? source.event.role : desired.holder === 'this-host' ? 'leader' : 'observer';
  if (when.role !== 'any' && when.role !== role) return `when.role is ${when.role}, this run is ${role}`;
  if (when.host === 'new-master' && desired.holder !== 'this-host')
    return 'when.host is new-master, this host does not own the to-ip';
  if (when.host === 'old-master') {
    const from = source.kind === 'event' ? source.fromAddresses : [];
    if (!from.some((a) => local.has(a))) return 'when.host is old-master, this host does not own the from-ip';
  }
  return undefined;
}

const FROM_LOOKUP_MS = 2000;

/**
 * A Sentinel call as a desired state: this host holds the master when the to-ip is one of its own
 * addresses. `toAddresses`: the to-ip's addresses when the caller has resolved them already (one
 * lookup per run).
 */
export async function desiredForEvent(
  event: FailoverEvent,
  actions: readonly ActionConfig[],
  deps: PipelineDeps,
  signal: AbortSignal,
  toAddresses?: string[],
  epoch?: number,
  sentinels?: readonly string[],
): Promise<Desired> {
  const [to, fromAddresses] = await Promise.all([
    toAddresses ?? resolveAll(event.toIp, deps, signal),
    // The old master's name may be gone from DNS (a replaced host or pod): it only decides
    // `when.host: old-master`, so a name that does not resolve means "not this host", not a failed
    // run. A lookup with no answer yet is another matter: it gets a couple of seconds, then, if an
    // action is for the old master only, the run is retried rather than that action dropped for good.
    (async () => {
      const budget = AbortSignal.timeout(FROM_LOOKUP_MS);
      try {
        return await resolveAll(event.fromIp, deps, AbortSignal.any([signal, budget]));
      } catch (err) {
        if (budget.aborted && !signal.aborted && actions.some((a) => a.when.host === 'old-master')) {
          throw hookError('dns-unresolved', {
            host: `from-ip ${event.fromIp}`,
            detail: `no answer within ${FROM_LOOKUP_MS} ms, and an action is for the old master only`,
          });
        }
        deps.logger.warn(
          {
            fromIp: event.fromIp,
            error: budget.aborted ? `no answer within ${FROM_LOOKUP_MS} ms` : (err as Error).message,
          },
          'from-ip does not resolve; treated as not this host',
        );
        return [];
      }
    })(),
  ]);
  const local = deps.localAddresses();
  return {
    master: event.master,
    holder: to.some((a) => local.has(a)) ? 'this-host' : 'other-host',
    target: { ip: event.toIp, port: event.toPort, addresses: to },
    ...(epoch !== undefined ? { epoch } : {}),
    ...(sentinels?.length ? { sentinels } : {}),
    source: { kind: 'event', event, fromAddresses },
  };
}

export interface PlanOptions {
  /** See PlanContext.announce. */
  announce: boolean;
  /** See PlanContext.showOnly (a dry-run). */
  showOnly: boolean;
  /** Which entries take part: all (undefined), or those a filter keeps (release: those that opted in). */
  only?: (action: ActionConfig) => boolean;
  /**
   * The failover's config epoch when known (from the Sentinels): non-convergent actions (exec) run
   * once per failover, whichever process of this host gets there first.
   */
  once?: { dir: string; epoch: number; ids?: readonly string[] };
  /** A desired state (not a Sentinel call): non-convergent actions run only where they opt in. */
  stateOnly?: boolean;
}

/** Why a non-convergent action does not run in this plan: not opted in to reconcile, or done for this failover already. */
function convergenceSkip(action: ActionConfig, label: string, master: string, o: PlanOptions): string | undefined {
  const plugin = pluginFor(action);
  if (plugin.convergent) return undefined;
  if (o.stateOnly) {
    const out = plugin.reconcileSkip
      ? plugin.reconcileSkip(action)
      : `${action.type} is not convergent and never runs in a reconcile`;
    if (out) return out;
  }
  if (o.once && onceDone(o.once.dir, master, label, o.once.epoch, o.once.ids))
    return `already ran on this host for this failover (config epoch ${o.once.epoch})`;
  return undefined;
}

/** Observe and plan every entry of the master that takes part in this run. */
export async function planActions(
  desired: Desired,
  config: HookConfig,
  deps: PipelineDeps,
  signal: AbortSignal,
  o: PlanOptions,
): Promise<ActionPlan[]> {
  const actions = actionsFor(config, desired.master);
  const host = hostView(deps, signal);
  const plans: ActionPlan[] = [];
  for (const [index, action] of actions.entries()) {
    if (o.only && !o.only(action)) continue;
    const label = `${action.type}#${index}`;
    const skip =
      whenSkip(action.when, desired, host.localAddresses) ?? convergenceSkip(action, label, desired.master, o);
    if (skip) {
      plans.push({ action: label, note: `skipped: ${skip}`, steps: [] });
      continue;
    }
    const plugin = pluginFor(action);
    const logger = deps.logger.child({ action: label });
    // A dry-run also looks at what the entry changes elsewhere (a push's targets); a real run reads them as it writes.
    const observed = await plugin.observe(
      action,
      { ...host, logger },
      { desired, ...(o.showOnly ? { remote: true } : {}) },
    );
    const plan = await plugin.plan(action, desired, observed, {
      ...host,
      logger,
      announce: o.announce,
      showOnly: o.showOnly,
    });
    plans.push({ ...plan, action: label, ...(plugin.convergent ? {} : { once: true }) });
  }
  return plans;
}
