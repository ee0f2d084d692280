import { join } from 'node:path';
import type { StepOutcome } from './apply.ts';
import type { HookConfig } from './config/schema.ts';
import type { ActionPlan } from './plan.ts';
import { readSmallFile, writeSmallFile } from './lock.ts';
import type { SentinelAnswer } from './sentinel/stale.ts';

/** What the Sentinels say a master is now, when they say it clearly. */
export interface MasterState {
  ip: string;
  port: number;
  /** Sentinel's config epoch of the master: it grows with every failover. */
  epoch: number;
}

export type Decision = { clear: true; state: MasterState; answers: SentinelAnswer[] } | { clear: false; reason: string; answers: SentinelAnswer[] };

/**
 * "Do no harm": act only on a clear answer. A majority of the configured Sentinels (not of those
 * answering) must answer, and the newest config epoch among the answers must name one address. The
 * newest epoch wins over the majority: between the leader's promotion and the others' switch, the
 * leader alone names the new master at the new epoch while the rest still name the old one.
 */
export function decideMaster(answers: readonly SentinelAnswer[], configured: number): Decision {
  const all = [...answers];
  const needed = Math.floor(configured / 2) + 1;
  const known = answers.flatMap((a) =>
    'master' in a && typeof a.epoch === 'number' ? [{ address: a.address, ip: a.master.ip, port: a.master.port, epoch: a.epoch }] : [],
  );
  if (known.length < needed) {
    return { clear: false, reason: `${known.length} of ${configured} Sentinels answered with the master and its epoch, ${needed} needed`, answers: all };
  }
  const newest = Math.max(...known.map((k) => k.epoch));
  const named = [...new Set(known.filter((k) => k.epoch === newest).map((k) => `${k.ip}:${k.port}`))];
  if (named.length !== 1) return { clear: false, reason: `the Sentinels at config epoch ${newest} name different masters (${named.join(', ')})`, answers: all };
  const top = known.find((k) => k.epoch === newest)!;
  return { clear: true, state: { ip: top.ip, port: top.port, epoch: newest }, answers: all };
}

function epochPath(lockDir: string, master: string): string {
  return join(lockDir, `${encodeURIComponent(master)}.epoch`);
}

/**
 * The newest config epoch this host has acted on for a master, and the master it named: kept next to
 * the lock, where every process serving the master here (hook, reconcile, watch) reads and writes it.
 * A later answer naming an older epoch is a failover still under way, never a reason to go back.
 */
export function readActedEpoch(lockDir: string, master: string): MasterState | undefined {
  const text = readSmallFile(epochPath(lockDir, master));
  const m = text ? /^(\d+) (\S+) (\d+)\n?$/.exec(text) : null;
  return m ? { epoch: Number(m[1]), ip: m[2]!, port: Number(m[3]) } : undefined;
}

/** Record that this host now matches `state` (written by rename: a reader sees the old record or the new one). */
export function recordActedEpoch(lockDir: string, master: string, state: MasterState): void {
  const before = readActedEpoch(lockDir, master);
  // Never lower it: two processes may record at once, and the newer failover must win.
  if (before && before.epoch > state.epoch) return;
  writeSmallFile(epochPath(lockDir, master), `${state.epoch} ${state.ip} ${state.port}\n`);
}

/**
 * Non-convergent actions (exec) run at most once per failover, per master and config epoch, whichever
 * process gets there first (the hook, reconcile, watch): the record is a file per action next to the lock.
 */
export function onceDone(lockDir: string, master: string, action: string, epoch: number): boolean {
  const text = readSmallFile(join(lockDir, `${encodeURIComponent(master)}.${action}.done`));
  return text !== undefined && Number(text.trim()) >= epoch;
}

export function markOnce(lockDir: string, master: string, action: string, epoch: number): void {
  if (onceDone(lockDir, master, action, epoch)) return;
  writeSmallFile(join(lockDir, `${encodeURIComponent(master)}.${action}.done`), `${epoch}\n`);
}

/** The masters a reconcile covers: one (checked against the config), or all. */
export function mastersToReconcile(config: HookConfig, only: string | undefined): string[] {
  if (only === undefined) return Object.keys(config.masters);
  return Object.hasOwn(config.masters, only) ? [only] : [];
}

/** Non-convergent actions (exec) whose steps all succeeded are done for this failover on this host. */
export function markOnceDone(plans: readonly ActionPlan[], steps: readonly StepOutcome[], lockDir: string, master: string, epoch: number): void {
  for (const plan of plans) {
    if (!plan.once || plan.steps.length === 0) continue;
    const mine = steps.filter((s) => s.action === plan.action);
    if (mine.length === plan.steps.length && mine.every((s) => s.ok && !s.superseded)) markOnce(lockDir, master, plan.action, epoch);
  }
}

/** A plan without the exec actions already done on this host for this failover (the epoch known only after planning). */
export function withoutDone(plans: readonly ActionPlan[], lockDir: string, master: string, epoch: number): ActionPlan[] {
  return plans.map((p) =>
    p.once && p.steps.length > 0 && onceDone(lockDir, master, p.action, epoch)
      ? { action: p.action, note: `skipped: already ran on this host for this failover (config epoch ${epoch})`, steps: [] }
      : p,
  );
}
