import { applyPlans, type StepOutcome } from '../apply.ts';
import { loadConfig } from '../config/load.ts';
import { withholdSecret } from '../config/common.ts';
import type { HookConfig } from '../config/schema.ts';
import { pluginFor } from '../actions/index.ts';
import { masterName } from '../event.ts';
import { ConfigError, EXIT, UsageError, errorLine, exitCodeOf, type ExitCode } from '../errors.ts';
import { createFileLogger, DEFAULT_LOG_FILE, runId, type Logger } from '../log.ts';
import { addressCheck, hostReader, sentinelAsk, type HookDeps } from '../orchestrator.ts';
import { failingStep, type ActionPlan } from '../plan.ts';
import { systemDeps } from '../system.ts';
import { observeGeneration } from '../generation.ts';

export interface NotifyEvent {
  type: string;
  description: string;
  /** The master the event is about: "master mymaster 10.0.0.1 6379" or "slave … @ mymaster 10.0.0.1 6379". */
  master: string | undefined;
}

export function parseNotifyEvent(type: string, description: string): NotifyEvent {
  if (!/^[+-][A-Za-z0-9-]+$/.test(type)) throw new UsageError(`invalid event type ${JSON.stringify(type)}: expected a Sentinel event such as +switch-master`);
  const words = description.trim().split(/\s+/);
  const at = words.indexOf('@');
  const named = at >= 0 || words[0] === 'master' || type === '+switch-master';
  if (!named) return { type, description, master: undefined };
  const master = at >= 0 ? words[at + 1] : words[0] === 'master' ? words[1] : words[0];
  // The hook's own rule for a master name: {master} becomes an argument of the user's program, and
  // a word such as "-rf" must never reach it as an option.
  const checked = masterName.safeParse(master ?? '');
  if (!checked.success) {
    throw new UsageError(
      `invalid master name ${JSON.stringify(master ?? '')} in the ${type} event's description: ${checked.error.issues[0]!.message}`,
      "Sentinel's descriptions name a master as 'master NAME IP PORT' or '… @ NAME IP PORT'",
    );
  }
  return { type, description, master: checked.data };
}

export function planNotify(event: NotifyEvent, config: HookConfig, which: (p: string) => string | undefined): ActionPlan[] {
  const values: Record<string, string> = { eventType: event.type, description: event.description, master: event.master ?? '' };
  return config.notify.map((n, i) => {
    const action = `notify#${i}`;
    if (n.events && !n.events.includes(event.type)) return { action, note: `skipped: not one of ${n.events.join(', ')}`, steps: [] };
    const [program, ...args] = n.run.map((a) => a.replace(/\{(eventType|description|master)\}/g, (_, k: string) => values[k]!));
    const path = which(program!);
    // Refused before anything runs, as for exec actions: a config naming a missing program.
    if (!path)
      throw new ConfigError(
        `notify[${i}]: program ${program} not found or not executable`,
        'install it, or give its absolute path as the first element of "run"',
      );
    return {
      action,
      steps: [
        {
          kind: 'command',
          description: `run ${path}`,
          argv: [path, ...args],
          privileged: false,
          timeoutMs: n.timeout,
          env: { SENTINEL_HOOK_EVENT_TYPE: event.type, SENTINEL_HOOK_EVENT_DESCRIPTION: event.description, SENTINEL_HOOK_MASTER: event.master ?? '' },
        },
      ],
    };
  });
}

/** The event on which actions that can announce themselves again (a plugin's `reannounce`) do. */
const REANNOUNCE_ON = '-sdown';

/**
 * "-sdown": an instance of the master (its old master, a replica, a Sentinel) is reachable again. An
 * old master back from a cut-off may still hold the VIP for a moment and point neighbours at itself;
 * the host that a majority of the configured Sentinels name master, if it holds the VIP, sends the
 * ARP bursts again (each action whose plugin can: `reannounce`). A majority of those configured, not of those answering: the returning host's own
 * Sentinel still names it master until it hears from the others, and must not win alone.
 */
export async function planReannounces(event: NotifyEvent, config: HookConfig, deps: HookDeps, signal: AbortSignal): Promise<ActionPlan[]> {
  if (event.type !== REANNOUNCE_ON || !event.master) return [];
  const master = event.master;
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

export async function notifyCommand(type: string, description: string, path: string, io: { isTty: boolean; err(t: string): void }): Promise<ExitCode> {
  const event = parseNotifyEvent(type, description);
  const config = await loadConfig(path, process.getuid?.() ?? 0);
  const created = await createFileLogger(
    { file: config.log.file ?? DEFAULT_LOG_FILE, level: config.log.level, tty: io.isTty },
    { run: runId(), notify: event.type, ...(event.master ? { master: event.master } : {}) },
  );
  const logger: Logger = created.logger;
  if (created.warning) io.err(`sentinel-hook: ${created.warning}`);
  try {
    return await notifyRun(event, config, logger);
  } finally {
    created.close();
  }
}

async function notifyRun(event: NotifyEvent, config: HookConfig, logger: Logger): Promise<ExitCode> {
  logger.info({ eventType: event.type, description: event.description }, 'sentinel event');
  const deps = systemDeps(logger);
  // Before anything starts: reannounce's commands and the user's notify entries alike.
  const ownEnv = withholdSecret(deps.env, config.sentinels?.password);
  const deadline = AbortSignal.timeout(config.deadline);
  const started = performance.now();
  // A re-announce is no event of its own: it starts no generation, but stops as soon as a failover
  // event for this master starts here, like any older run. Followed from before the Sentinels are
  // asked, so an event that starts meanwhile is seen. The user's own notify entries (their alerting)
  // are not the master's state: they run to the end whatever happens.
  const master = event.master;
  const generation = master && Object.hasOwn(config.masters, master) ? observeGeneration(config.lockDir, master) : undefined;
  const signal = generation ? AbortSignal.any([deadline, generation.signal]) : deadline;
  let steps: StepOutcome[];
  try {
    // A reannounce that cannot even be planned (no password variable, ip failing) is a failed step:
    // the user's own notify entries still run.
    const reannounce = await planReannounces(event, config, { ...deps, env: ownEnv }, signal).catch((err: unknown): ActionPlan[] => {
      if (generation?.superseded()) return [{ action: 'vip reannounce', note: `not planned: ${generation.superseded()}`, steps: [] }];
      logger.error({ error: errorLine(err) }, 'reannounce could not be planned');
      return [{ action: 'vip reannounce', steps: [failingStep('announce the VIP again', errorLine(err))] }];
    });
    let own: ActionPlan[];
    try {
      own = planNotify(event, config, deps.which);
    } catch (err) {
      logger.error({ error: errorLine(err), exitCode: exitCodeOf(err) }, 'notify end');
      throw err;
    }
    const plans = [...reannounce, ...own];
    if (plans.length) logger.info({ plan: plans.map((p) => ({ action: p.action, note: p.note, steps: p.steps.map((st) => st.description) })) }, 'plan');
    const base = { runner: deps.runner, logger, remainingMs: () => config.deadline - (performance.now() - started) };
    const sentinels = config.sentinels;
    const outcomes = await Promise.all([
      applyPlans(
        reannounce,
        {
          ...base,
          signal,
          holdsAddress: addressCheck(deps, signal),
          ...(generation ? { superseded: generation.superseded } : {}),
          // The same rule as the planning above, asked again before a delayed (second) burst.
          ...(sentinels && master
            ? {
                mayAnnounce: async () => {
                  const { majorityNamesThisHost } = await import('../sentinel/holder.ts');
                  const v = await majorityNamesThisHost(master, sentinels, sentinelAsk({ ...deps, env: ownEnv }, signal), signal);
                  return v.thisHost ? undefined : `${v.votes} of ${sentinels.addresses.length} Sentinels name this host master, ${v.needed} needed`;
                },
              }
            : {}),
        },
        { sudo: deps.which('sudo') },
      ),
      applyPlans(own, { ...base, signal: deadline }, { sudo: deps.which('sudo') }),
    ]);
    steps = outcomes.flat();
  } finally {
    generation?.stop();
  }
  const failed = steps.some((s) => !s.ok);
  const exitCode = failed ? EXIT.retry : EXIT.ok;
  logger.info({ exitCode }, 'notify end');
  return exitCode;
}
