import { resultLines } from './actions/index.ts';
import type { ActionPlan } from './actions/plugin.ts';
import type { FailoverEvent } from './event.ts';
import { describeStep, type HookResult } from './pipeline/run.ts';
import { formatDuration } from './values.ts';

export function eventLine(e: FailoverEvent): string {
  return `${e.master} ${e.role} ${e.state}: ${e.fromIp}:${e.fromPort} -> ${e.toIp}:${e.toPort}`;
}

export function planText(plans: readonly ActionPlan[]): string[] {
  const lines: string[] = [];
  for (const plan of plans) {
    lines.push(
      `${plan.action}: ${plan.note ?? (plan.steps.length ? `${plan.steps.length} step(s)` : 'nothing to do')}`,
    );
    for (const w of plan.warnings ?? []) lines.push(`  warning: ${w}`);
    plan.steps.forEach((step, i) => {
      const when = step.deferMs ? ` (after ${formatDuration(step.deferMs)}, in the background)` : '';
      const argv =
        step.kind === 'command'
          ? `\n       $ ${step.privileged ? 'sudo -n ' : ''}${step.argv.map(shellQuote).join(' ')}`
          : '';
      lines.push(`  ${i + 1}. ${step.description}${when}${argv}`);
    });
  }
  return lines;
}

/** For display only: commands never pass through a shell. */
function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function resultText(event: FailoverEvent, result: HookResult): string[] {
  const lines = [`${result.outcome === 'dry-run' ? 'dry-run' : 'event'}: ${eventLine(event)}`];
  if (result.freshness) {
    const f = result.freshness;
    lines.push(
      f.verdict === 'current'
        ? `event is current: ${f.confirmedBy} names ${event.toIp} as master`
        : f.verdict === 'stale'
          ? result.assumed
            ? `WHAT-IF: ${result.assumed}`
            : result.converged
              ? `event is STALE: no Sentinel names the to-ip as master any more; this host converged to what they say: ${result.converged.outcome}${result.converged.state ? ` (${result.converged.state.ip}:${result.converged.state.port}, config epoch ${result.converged.state.epoch})` : ''}${result.converged.reason ? ` - ${result.converged.reason}` : ''}`
              : 'event is STALE: no Sentinel names the to-ip as master any more; nothing to do'
          : 'no Sentinel answered; acting on the arguments',
    );
  }
  lines.push(...planText(result.plans));
  for (const step of result.steps) {
    lines.push(
      `${step.ok ? 'ok    ' : 'FAILED'} ${step.action}: ${step.description} (${step.durationMs} ms)${step.ok ? (step.summary ? ` - ${step.summary}` : '') : ` - ${step.error}`}`,
    );
    lines.push(...resultLines(step.detail));
  }
  lines.push(`exit ${result.exitCode} (${result.outcome})`);
  return lines;
}

/** What --json prints for a hook run. */
export function resultReport(event: FailoverEvent, result: HookResult): Record<string, unknown> {
  return {
    event,
    outcome: result.outcome,
    exitCode: result.exitCode,
    freshness: result.freshness,
    ...(result.assumed ? { assumed: result.assumed } : {}),
    converged: result.converged,
    plans: result.plans.map((p) => ({
      action: p.action,
      note: p.note,
      warnings: p.warnings,
      steps: p.steps.map(describeStep),
    })),
    steps: result.steps,
  };
}
