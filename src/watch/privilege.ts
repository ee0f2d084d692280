// Can this watch act at all? Under its unit, an action that lacks the privilege it needs fails every
// interval while the unit stays "active (running)" and the VIP sits on a read-only replica (issue 16,
// finding 2). Two routes exist: the capabilities the action's commands need, handed on to them (the
// units' AmbientCapabilities=), or sudo -n, which NoNewPrivs (the units' NoNewPrivileges=true) stops for
// good: sudo is setuid root, and the kernel ignores setuid under that flag.
import { pluginFor } from '../actions/index.ts';
import type { HostReader } from '../actions/plugin.ts';
import type { HookConfig } from '../config/schema.ts';
import { capabilitiesFrom } from '../system.ts';

/**
 * What /proc/self/status says of this process: its capabilities as its children get them, and NoNewPrivs.
 * The capabilities any plugin declares today are the two capabilitiesFrom reads; another would read as missing.
 */
export interface OwnPrivilege {
  /** Capability names held and handed on through execve (root: the effective set; others: effective and ambient). */
  handedOn: ReadonlySet<string>;
  noNewPrivs: boolean;
  root: boolean;
}

export function ownPrivilegeFrom(status: string, euid: number): OwnPrivilege {
  const caps = capabilitiesFrom(status, euid);
  const handedOn = new Set([...(caps.netAdmin ? ['CAP_NET_ADMIN'] : []), ...(caps.netRaw ? ['CAP_NET_RAW'] : [])]);
  return { handedOn, noNewPrivs: /^NoNewPrivs:\s*1$/m.test(status), root: euid === 0 };
}

/**
 * One line per config entry that cannot act with what this process holds: it needs capabilities it does
 * not hand on, and sudo cannot stand in (NoNewPrivs set, or the entry does not use sudo). An entry that
 * runs through sudo when it may is not judged further: whether sudoers allows it shows at its first run.
 */
export async function unprivilegedEntries(config: HookConfig, own: OwnPrivilege, host: HostReader): Promise<string[]> {
  const problems: string[] = [];
  for (const [master, actions] of Object.entries(config.masters)) {
    for (const [i, action] of actions.entries()) {
      const plugin = pluginFor(action);
      const where = `masters.${master}[${i}] (${action.type})`;
      // A missing program is check's and the first run's to report; here only privilege counts.
      const needs = await plugin.sandbox?.(action, host, where).catch(() => undefined);
      const caps = needs?.capabilities ?? [];
      const sudo = plugin.runsWithSudo?.(action) === true;
      const missing = caps.filter((c) => !own.handedOn.has(c));
      const sudoWorks = sudo && (own.root || !own.noNewPrivs);
      if (caps.length && !missing.length) continue;
      if (sudoWorks) continue;
      if (!caps.length && !sudo) continue;
      const why = sudo
        ? "and sudo cannot stand in: this process has NoNewPrivs set (the unit's NoNewPrivileges=true)"
        : 'and the entry does not use sudo (privilege: none)';
      problems.push(
        caps.length
          ? `${where} needs ${missing.join(' and ')} handed on to its commands, which this process lacks, ${why}`
          : `${where} runs its commands through sudo -n, which this process cannot: it has NoNewPrivs set (the unit's NoNewPrivileges=true)`,
      );
    }
  }
  return problems;
}
