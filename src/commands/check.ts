import * as z from 'zod/mini';
import { actionTypes } from '../actions/index.ts';
import { configSchema, type HookConfig } from '../config/schema.ts';
import { formatDuration } from '../values.ts';
import { DEFAULT_LOG_FILE } from '../log.ts';

/** What each master's failover would do, in words: the answer to "is my config what I meant?". */
export function checkCommand(config: HookConfig): string {
  const lines = [`config OK: deadline ${formatDuration(config.deadline)}, log ${config.log.file ?? DEFAULT_LOG_FILE} (${config.log.level})`];
  lines.push(config.sentinels ? `stale-event guard: asks ${config.sentinels.addresses.join(', ')}` : 'stale-event guard: off (no "sentinels")');
  for (const [master, actions] of Object.entries(config.masters)) {
    lines.push(`master ${master}:`);
    actions.forEach((action, i) => {
      const type = actionTypes.find((t) => t.type === action.type)!;
      const filter = [action.when.role !== 'any' ? `role ${action.when.role}` : '', action.when.host !== 'any' ? `host ${action.when.host}` : ''].filter(Boolean).join(', ');
      lines.push(`  ${i + 1}. ${action.type}: ${(type.summarize as (a: typeof action) => string)(action)}${filter ? ` [only ${filter}]` : ''}`);
    });
  }
  for (const n of config.notify) lines.push(`notify: run ${JSON.stringify(n.run)} on ${n.events?.join(', ') ?? 'every event'}`);
  return lines.join('\n');
}

export function schemaCommand(): string {
  return JSON.stringify(z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }), null, 2);
}
