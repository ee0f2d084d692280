import { applyPlans } from '../apply.ts';
import { loadConfig } from '../config/load.ts';
import type { HookConfig } from '../config/schema.ts';
import { ConfigError, EXIT, UsageError, errorLine, exitCodeOf, type ExitCode } from '../errors.ts';
import { createFileLogger, DEFAULT_LOG_FILE, runId, type Logger } from '../log.ts';
import type { ActionPlan } from '../plan.ts';
import { systemDeps } from '../system.ts';

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
  const master = at >= 0 ? words[at + 1] : words[0] === 'master' ? words[1] : type === '+switch-master' ? words[0] : undefined;
  return { type, description, master };
}

export function planNotify(event: NotifyEvent, config: HookConfig, which: (p: string) => string | undefined): ActionPlan[] {
  const values: Record<string, string> = { eventType: event.type, description: event.description, master: event.master ?? '' };
  return config.notify.map((n, i) => {
    const action = `notify#${i}`;
    if (n.events && !n.events.includes(event.type)) return { action, note: `skipped: not one of ${n.events.join(', ')}`, steps: [] };
    const [program, ...args] = n.run.map((a) => a.replace(/\{(eventType|description|master)\}/g, (_, k: string) => values[k]!));
    const path = which(program!);
    // Refused before anything runs, as for exec actions: a config naming a missing program.
    if (!path) throw new ConfigError(`notify[${i}]: program ${program} not found or not executable`, 'install it, or give its absolute path as the first element of "run"');
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

export async function notifyCommand(type: string, description: string, path: string, io: { isTty: boolean; err(t: string): void }): Promise<ExitCode> {
  const event = parseNotifyEvent(type, description);
  const config = await loadConfig(path, process.getuid?.() ?? 0);
  const created = await createFileLogger(
    { file: config.log.file ?? DEFAULT_LOG_FILE, level: config.log.level, tty: io.isTty },
    { run: runId(), notify: event.type, ...(event.master ? { master: event.master } : {}) },
  );
  const logger: Logger = created.logger;
  if (created.warning) io.err(`sentinel-hook: ${created.warning}`);
  logger.info({ eventType: event.type, description: event.description }, 'sentinel event');
  const deps = systemDeps(logger);
  let plans: ActionPlan[];
  try {
    plans = planNotify(event, config, deps.which);
  } catch (err) {
    logger.error({ error: errorLine(err), exitCode: exitCodeOf(err) }, 'notify end');
    throw err;
  }
  const deadline = AbortSignal.timeout(config.deadline);
  const started = performance.now();
  const steps = await applyPlans(plans, { runner: deps.runner, signal: deadline, logger, remainingMs: () => config.deadline - (performance.now() - started) }, { sudo: undefined });
  const failed = steps.some((s) => !s.ok);
  const exitCode = failed ? EXIT.retry : EXIT.ok;
  logger.info({ exitCode }, 'notify end');
  return exitCode;
}
