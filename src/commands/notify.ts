import type { ActionPlan } from '../actions/plugin.ts';
import { nowMs } from '../clock.ts';
import { loadConfig } from '../config/load.ts';
import type { HookConfig } from '../config/schema.ts';
import { EXIT, type ExitCode, errorLine, errorOf, exitCodeOf, hookError } from '../errors.ts';
import { masterName } from '../event.ts';
import { failure } from '../failures.ts';
import { createFileLogger, DEFAULT_LOG_FILE, type Logger, runId } from '../log.ts';
import { reannounceMaster, runNotifyEntries } from '../pipeline/run.ts';
import { systemDeps } from '../system.ts';

export interface NotifyEvent {
  type: string;
  description: string;
  /** The master the event is about: "master mymaster 10.0.0.1 6379" or "slave … @ mymaster 10.0.0.1 6379". */
  master: string | undefined;
}

export function parseNotifyEvent(type: string, description: string): NotifyEvent {
  if (!/^[+-][A-Za-z0-9-]+$/.test(type)) throw hookError('event-type-invalid', { type });
  const words = description.trim().split(/\s+/);
  const at = words.indexOf('@');
  const named = at >= 0 || words[0] === 'master' || type === '+switch-master';
  if (!named) return { type, description, master: undefined };
  const master = at >= 0 ? words[at + 1] : words[0] === 'master' ? words[1] : words[0];
  // The hook's own rule for a master name: {master} becomes an argument of the user's program, and
  // a word such as "-rf" must never reach it as an option.
  const checked = masterName().safeParse(master ?? '');
  if (!checked.success) {
    throw hookError('event-master-invalid', { master: master ?? '', type, problem: checked.error.issues[0]!.message });
  }
  return { type, description, master: checked.data };
}

export function planNotify(
  event: NotifyEvent,
  config: HookConfig,
  which: (p: string) => string | undefined,
): ActionPlan[] {
  const values: Record<string, string> = {
    eventType: event.type,
    description: event.description,
    master: event.master ?? '',
  };
  return config.notify.map((n, i) => {
    const action = `notify#${i}`;
    if (n.events && !n.events.includes(event.type))
      return { action, note: `skipped: not one of ${n.events.join(', ')}`, steps: [] };
    const [program, ...args] = n.run.map((a) =>
      a.replace(/\{(eventType|description|master)\}/g, (_, k: string) => values[k]!),
    );
    const path = which(program!);
    // Refused before anything runs, as for exec actions: a config naming a missing program.
    if (!path)
      throw errorOf(failure('configured-program-missing', { program: program!, atRun: true }).within(`notify[${i}]`));
    return {
      action,
      steps: [
        {
          kind: 'command',
          description: `run ${path}`,
          argv: [path, ...args],
          privileged: false,
          timeoutMs: n.timeout,
          env: {
            SENTINEL_HOOK_EVENT_TYPE: event.type,
            SENTINEL_HOOK_EVENT_DESCRIPTION: event.description,
            SENTINEL_HOOK_MASTER: event.master ?? '',
          },
        },
      ],
    };
  });
}

/** The event on which actions that can announce themselves again (a plugin's `reannounce`) do. */
const REANNOUNCE_ON = '-sdown';

/**
 * "-sdown": an instance of the master (its old master, a replica, a Sentinel) is reachable again: the
 * master it names is re-announced (see reannounce.ts). Undefined for every other event.
 */
export function reannounceTarget(event: NotifyEvent): string | undefined {
  return event.type === REANNOUNCE_ON ? event.master : undefined;
}

export async function notifyCommand(
  type: string,
  description: string,
  path: string,
  io: { isTty: boolean; err(t: string): void },
): Promise<ExitCode> {
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
  // The pipeline withholds every secret of the config before anything starts.
  const deps = systemDeps(logger);
  const deadline = AbortSignal.timeout(config.deadline);
  const started = nowMs();
  const remainingMs = () => config.deadline - (nowMs() - started);
  let own: ActionPlan[];
  try {
    own = planNotify(event, config, deps.which);
  } catch (err) {
    logger.error({ error: errorLine(err), exitCode: exitCodeOf(err) }, 'notify end');
    throw err;
  }
  // The master's state through the pipeline (a re-announce on -sdown), and the user's own entries
  // (their alerting, not the master's state: they run to the end whatever happens), side by side.
  const [reannounce, ownSteps] = await Promise.all([
    reannounceTarget(event)
      ? reannounceMaster(reannounceTarget(event)!, config, deps, { signal: deadline, remainingMs })
      : { plans: [], steps: [] },
    runNotifyEntries(own, config, deps, { signal: deadline, remainingMs }),
  ]);
  const failed = [...reannounce.steps, ...ownSteps].some((s) => !s.ok);
  const exitCode = failed ? EXIT.retry : EXIT.ok;
  logger.info({ exitCode }, 'notify end');
  return exitCode;
}
