import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import * as z from 'zod/mini';
import { pluginFor } from '../actions/index.ts';
import type { HostView } from '../actions/plugin.ts';
import { configSchema, type HookConfig } from '../config/schema.ts';
import { failure } from '../failures.ts';
import { DEFAULT_LOG_FILE } from '../log.ts';
import { describeLockDir, lockDirProblem } from '../state/lock.ts';
import { formatDuration } from '../values.ts';

/**
 * What each master's failover would do, in words: the answer to "is my config what I meant?"; and
 * what a run on this host would fail on (a missing program, interface, key or file), found without
 * changing anything or contacting another host. Problems make the exit 2.
 */
export async function checkCommand(
  config: HookConfig,
  host: Pick<HostView, 'which' | 'read'>,
  systemd: SentinelUnitCheck = {},
): Promise<{ text: string; problems: string[]; warnings: string[] }> {
  const problems: string[] = [];
  for (const [master, actions] of Object.entries(config.masters)) {
    for (const [i, action] of actions.entries()) {
      const found = (await pluginFor(action).preflight?.(action, host)) ?? [];
      for (const p of found) problems.push(`masters.${master}[${i}] (${action.type}): ${p}`);
    }
  }
  const unprivileged = Object.values(config.masters).some((actions) =>
    actions.some((a) => pluginFor(a).runsWithSudo?.(a) === true),
  );
  const lockDir = describeLockDir(config.lockDir, process.getuid?.() ?? 0, unprivileged);
  if (lockDir.problem) problems.push(lockDir.problem);
  const head = problems.length
    ? `config NOT OK on this host: ${problems.length} problem(s), listed at the end;`
    : 'config OK:';
  const lines = [
    `${head} deadline ${formatDuration(config.deadline)}, log ${config.log.file ?? DEFAULT_LOG_FILE} (${config.log.level})`,
  ];
  lines.push(lockDir.line);
  lines.push(...stateDirLines(config));
  lines.push(
    config.sentinels
      ? `stale-event guard: asks ${config.sentinels.addresses.join(', ')}`
      : 'stale-event guard: off (no "sentinels")',
  );
  for (const [master, actions] of Object.entries(config.masters)) {
    lines.push(`master ${master}:`);
    actions.forEach((action, i) => {
      const filter = [
        action.when.role !== 'any' ? `role ${action.when.role}` : '',
        action.when.host !== 'any' ? `host ${action.when.host}` : '',
      ]
        .filter(Boolean)
        .join(', ');
      lines.push(
        `  ${i + 1}. ${action.type}: ${pluginFor(action).summarize(action)}${filter ? ` [only ${filter}]` : ''}`,
      );
    });
  }
  for (const n of config.notify)
    lines.push(`notify: run ${JSON.stringify(n.run)} on ${n.events?.join(', ') ?? 'every event'}`);
  const warning = await sentinelUnitWarning(config, host, systemd);
  if (warning) lines.push(`warning: ${warning}`);
  const packaged = await packagedUnitsWarning(config, host, systemd);
  if (packaged) lines.push(`warning: ${packaged}`);
  const runtime = systemd.nodeVersion ? runtimeWarning(systemd.nodeVersion, new Date()) : undefined;
  if (runtime) lines.push(`warning: ${runtime}`);
  for (const p of problems) lines.push(`problem: ${p}`);
  lines.push('(the static check: "sentinel-hook doctor" checks live what a failover needs on this host)');
  const warnings = lines.filter((l) => l.startsWith('warning: ')).map((l) => l.slice('warning: '.length));
  return { text: lines.join('\n'), problems, warnings };
}

/** The config's JSON Schema, with each key's description: what editors read, and docs/reference is made from. */
export function schemaCommand(): string {
  const schema = z.toJSONSchema(configSchema(), {
    io: 'input',
    unrepresentable: 'any',
    override({ zodSchema, jsonSchema }) {
      // A duration's default is milliseconds once parsed, so zod leaves it out of the input schema: give
      // it as a user writes it.
      const def = zodSchema._zod.def;
      if (def.type === 'default' && typeof def.defaultValue === 'number' && def.innerType._zod.def.type === 'pipe')
        jsonSchema.default = formatDuration(def.defaultValue);
    },
  });
  return JSON.stringify(schema, null, 2);
}

export interface SentinelUnitCheck {
  /** systemd's unit directories (tests pass their own). */
  unitDirs?: readonly string[];
  /** Where /proc is; undefined: /proc. */
  proc?: string;
  installDir?: string;
  node?: string;
  /** The Node this runs on (process.versions.node): a warning when it is past its end of life. */
  nodeVersion?: string;
}

/**
 * One line when Sentinel's unit (and its drop-ins), or the running Sentinel, would stop this config's
 * hook: it runs with every restriction of that unit. A warning, not a problem: with `watch`, Sentinel
 * runs no hook at all.
 */
async function sentinelUnitWarning(
  config: HookConfig,
  host: Pick<HostView, 'which' | 'read'>,
  opts: SentinelUnitCheck,
): Promise<string | undefined> {
  const { readUnit, hookBlockers, runningSentinel, processBlockers, SENTINEL_UNITS, UNIT_DIRS } = await import(
    '../systemd/sentinel-unit.ts'
  );
  const { configSandbox } = await import('../systemd/units.ts');
  const name = SENTINEL_UNITS.find((n) => readUnit(n, opts.unitDirs ?? UNIT_DIRS));
  if (!name) return undefined;
  const unit = readUnit(name, opts.unitDirs ?? UNIT_DIRS)!;
  // A missing program is reported by the preflight above.
  const needs = await configSandbox(config, host).catch(() => undefined);
  if (!needs) return undefined;
  const writable = [dirname(config.log.file ?? DEFAULT_LOG_FILE), config.lockDir, ...needs.writablePaths];
  const programs = ['sh', 'readlink'].map((p) => host.which(p)).filter((p): p is string => p !== undefined);
  const reasons = hookBlockers(unit, needs, {
    writable,
    programs,
    ...(opts.installDir ? { installDir: opts.installDir } : {}),
    ...(opts.node ? { node: opts.node } : {}),
  });
  const running = runningSentinel(opts.proc);
  if (running) reasons.push(...processBlockers(running, needs));
  if (!reasons.length) return undefined;
  const dropIns = unit.files.length - 1;
  return `${name} (${unit.files[0]}${dropIns ? ` + ${dropIns} drop-in(s)` : ''}) would stop this hook: ${reasons.join('; ')}; run sentinel-hook watch under the units from "sentinel-hook systemd" (recommended), or install the drop-in from "sentinel-hook systemd --hook"`;
}

/**
 * On a packaged install, what this config needs beyond the packaged units (made once for vip and exec
 * actions): watch would start and fail its actions every interval. The drop-in from `sentinel-hook systemd`
 * adds it; once it is installed, nothing to say.
 */
async function packagedUnitsWarning(
  config: HookConfig,
  host: Pick<HostView, 'which' | 'read'>,
  opts: SentinelUnitCheck,
): Promise<string | undefined> {
  const { PACKAGED_INSTALL_DIR, packagedGap, configSandbox, WATCH_UNIT } = await import('../systemd/units.ts');
  if (opts.installDir !== PACKAGED_INSTALL_DIR || !config.sentinels) return undefined;
  const needs = await configSandbox(config, host).catch(() => undefined);
  if (!needs) return undefined;
  const gap = packagedGap(config, needs, 'redis');
  const dropIn = `/etc/systemd/system/${WATCH_UNIT}.d/sentinel-hook-config.conf`;
  if (!gap.length || existsSync(dropIn)) return undefined;
  return `the packaged ${WATCH_UNIT} cannot serve this config (${gap.join('; ')}): install the drop-in "sentinel-hook systemd" prints (${dropIn}), then systemctl daemon-reload && systemctl restart ${WATCH_UNIT}`;
}

/** Node's end-of-life dates (nodejs.org/en/about/previous-releases), by major version. */
const NODE_END_OF_LIFE: Record<number, string> = {
  18: '2025-04-30',
  20: '2026-04-30',
  22: '2027-04-30',
  24: '2028-04-30',
  26: '2029-04-30',
};

/**
 * A clone install on a Node past its end of life: a warning here, never a refusal when Sentinel runs the
 * hook (an exit 2 would drop the failover). The package carries a supported one.
 */
export function runtimeWarning(version: string, now: Date): string | undefined {
  const major = Number(version.split('.')[0]);
  const end = NODE_END_OF_LIFE[major] ?? (major < 18 ? '2025-04-30' : undefined);
  if (!end || now < new Date(`${end}T00:00:00Z`)) return undefined;
  return `Node ${version} is past its end of life (${end}): no security fixes; install the sentinel-hook package (it carries Node 24) or a supported Node`;
}

/**
 * Where the pause and the records live, and what would keep them from lasting: a state directory on a
 * tmpfs forgets the pause at the next reboot (the boot reconcile and watch would act mid-maintenance).
 * Warnings, not problems: a failover never depends on them.
 */
function stateDirLines(config: HookConfig): string[] {
  const dir = config.stateDir;
  const where = dir === config.lockDir ? ' (the lock directory: the config names lockDir and no stateDir)' : '';
  const lines = [`state directory: ${dir}${where}`];
  if (/^\/(run|tmp|dev\/shm)(\/|$)/.test(dir))
    lines.push(
      `warning: state directory ${dir} is emptied at every reboot: a pause would end and the records go with it; set stateDir: /var/lib/sentinel-hook`,
    );
  const problem = existsSync(dir) ? lockDirProblem(dir, process.getuid?.() ?? 0) : undefined;
  if (problem) lines.push(`warning: ${failure('state-dir-unusable', { dir, problem }).line()}`);
  return lines;
}
