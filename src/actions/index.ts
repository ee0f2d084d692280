import type * as z from 'zod/mini';
import type { When } from '../config/common.ts';
import { dnsAction } from './dns/index.ts';
import { execAction } from './exec/index.ts';
import { hostsAction } from './hosts/index.ts';
import type { ActionPlugin } from './plugin.ts';
import { vipAction } from './vip/index.ts';

/** Every action type the config may name. A new type is one folder and one entry here. */
export const actionPlugins = [execAction, hostsAction, vipAction, dnsAction] as const;

/** One config entry of any action type; the type is derived from the registered plugins. */
export type ActionConfig = z.output<(typeof actionPlugins)[number]['schema']>;

const byType = new Map<string, ActionPlugin<ActionConfig>>(
  actionPlugins.map((p) => [p.type, p as ActionPlugin<ActionConfig>]),
);

/**
 * Add a plugin at run time: for a test's fixture plugin (its entries are built by hand: the config
 * schema is made from the list above when this module loads). A type registered twice is a bug.
 */
export function registerActionPlugin<C extends { type: string; when: When }>(plugin: ActionPlugin<C, unknown>): void {
  if (byType.has(plugin.type)) throw new Error(`action type ${JSON.stringify(plugin.type)} is registered already`);
  byType.set(plugin.type, plugin as unknown as ActionPlugin<ActionConfig>);
}

/** The plugin of a parsed config entry: the schema admits no other types. */
export function pluginFor(action: ActionConfig): ActionPlugin<ActionConfig> {
  const plugin = byType.get(action.type);
  if (!plugin) throw new Error(`no plugin for action type ${JSON.stringify(action.type)}`);
  return plugin;
}

/** Lines under a step's result in the text report: what the action that made it shows for its detail. */
export function resultLines(detail: unknown): string[] {
  for (const plugin of actionPlugins) {
    const lines = plugin.resultLines?.(detail);
    if (lines) return lines;
  }
  return [];
}
