// What `status` sees for one master: the Sentinels' answers and what each action observes now, judged
// against the state the Sentinels name. The same decide and observe stages as a run, and nothing after
// them: no guard, no lock, no record, no step. Each part that cannot be told (a password or key this
// user may not read, a host that does not answer) is unknown on its own; the others are still judged.
import { type ActionConfig, pluginFor } from '../actions/index.ts';
import type { Desired, StatusPart } from '../actions/plugin.ts';
import type { HookConfig } from '../config/schema.ts';
import { errorLine } from '../errors.ts';
import type { SentinelAnswer } from '../sentinel/client.ts';
import { type Decision, decideMaster } from '../sentinel/decide.ts';
import type { PipelineDeps } from './deps.ts';
import { hostView, resolveAll } from './host.ts';
import { actionsFor } from './plan.ts';
import { askMasterState } from './run.ts';
import { configSecrets, scrubText, withholdSecrets } from './secrets.ts';

export interface ActionStatus {
  /** "vip#0": the entry's type and place, as plans name it. */
  action: string;
  parts: StatusPart[];
}

export interface MasterObservation {
  master: string;
  /** Each configured Sentinel's answer; empty when they could not be asked (`sentinelsUnknown` says why). */
  answers: SentinelAnswer[];
  /** Why the Sentinels could not be asked at all (the password unreadable for this user). */
  sentinelsUnknown?: string;
  decision?: Decision;
  /** Which host should hold the master, when the Sentinels said it clearly. */
  holder?: Desired['holder'];
  actions: ActionStatus[];
}

/** Judge one entry: its own status part, else by whether a plan from what it observed has steps. */
async function judge(
  action: ActionConfig,
  label: string,
  desired: Desired | undefined,
  host: ReturnType<typeof hostView>,
): Promise<StatusPart[]> {
  const plugin = pluginFor(action);
  // What it claims names it shortly ("VIP 10.0.0.100"); its summary is a sentence.
  const what = plugin.claims?.(action)[0] ?? action.type;
  if (!plugin.convergent) {
    const observed = await plugin.observe(action, host, { remote: true });
    return [{ what: action.type, state: 'none', seen: plugin.describe?.(action, observed).join('; ') ?? 'nothing' }];
  }
  let observed: unknown;
  try {
    observed = await plugin.observe(
      action,
      { ...host, logger: host.logger.child({ action: label }) },
      {
        ...(desired ? { desired } : {}),
        remote: true,
      },
    );
  } catch (err) {
    return [{ what, state: 'unknown', seen: `cannot observe: ${errorLine(err)}` }];
  }
  const seen = plugin.describe?.(action, observed).join('; ') ?? 'observed';
  if (!desired)
    return [{ what, state: 'unknown', seen: `${seen} (no clear answer from the Sentinels to judge it by)` }];
  const own = plugin.status?.(action, desired, observed);
  if (own) return own;
  try {
    const plan = await plugin.plan(action, desired, observed, { ...host, announce: false, showOnly: false });
    if (plan.steps.length === 0) return [{ what, state: 'consistent', seen }];
    return [
      {
        what,
        state: 'inconsistent',
        seen: `${seen}; a run would: ${plan.steps.map((s) => s.description).join('; ')}`,
      },
    ];
  } catch (err) {
    return [{ what, state: 'unknown', seen: `${seen}; cannot plan: ${errorLine(err)}` }];
  }
}

/** Ask the Sentinels about `master`, then observe and judge each of its entries. Changes nothing. */
export async function observeMaster(
  master: string,
  config: HookConfig,
  deps: PipelineDeps,
  signal: AbortSignal,
): Promise<MasterObservation> {
  const secrets = withholdSecrets(deps.env, configSecrets(config));
  const out: MasterObservation = { master, answers: [], actions: [] };
  let desired: Desired | undefined;
  if (!config.sentinels) out.sentinelsUnknown = 'no "sentinels" in the config: nothing to judge this host by';
  else {
    try {
      out.answers = await askMasterState(master, config, deps, signal);
      out.decision = decideMaster(out.answers, config.sentinels.addresses.length);
      if (out.decision.clear) {
        const state = out.decision.state;
        const addresses = await resolveAll(state.ip, deps, signal);
        const local = deps.localAddresses();
        desired = {
          master,
          holder: addresses.some((a) => local.has(a)) ? 'this-host' : 'other-host',
          target: { ip: state.ip, port: state.port, addresses },
          epoch: state.epoch,
          source: { kind: 'state' },
        };
        out.holder = desired.holder;
      }
    } catch (err) {
      out.sentinelsUnknown = errorLine(err);
    }
  }
  const host = hostView(deps, signal);
  const actions = actionsFor(config, master);
  // In parallel: each push target's read has its own timeout, and a slow one must not hold the rest.
  out.actions = await Promise.all(
    actions.map(async (action, i) => {
      const label = `${action.type}#${i}`;
      const parts = await judge(action, label, desired, host).catch((err: unknown): StatusPart[] => [
        { what: action.type, state: 'unknown', seen: errorLine(err) },
      ]);
      return { action: label, parts };
    }),
  );
  return scrubText(out, secrets);
}
