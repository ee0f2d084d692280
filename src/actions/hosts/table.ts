import type { TargetResult } from './types.ts';

/** Per-target rows, if this step's detail carries them (the hosts action's result). */
export function targetResults(detail: unknown): TargetResult[] | undefined {
  const targets = (detail as { targets?: unknown } | undefined)?.targets;
  if (!Array.isArray(targets) || !targets.every((t) => typeof t === 'object' && t && 'target' in t && 'status' in t))
    return undefined;
  return targets as TargetResult[];
}

/** The per-target table: one line per target, columns aligned, the reason last (it can be long). */
export function targetTable(results: readonly TargetResult[]): string[] {
  const width = Math.max(6, ...results.map((r) => r.target.length));
  const lines = [`    ${'TARGET'.padEnd(width)}  ${'STATUS'.padEnd(9)}  ${'MS'.padStart(6)}  DETAIL`];
  for (const r of results) {
    const detail =
      r.status === 'failed'
        ? (r.reason ?? '')
        : [r.method, r.attempts > 1 ? `${r.attempts} attempts` : '', r.reason ?? ''].filter(Boolean).join(', ');
    lines.push(
      `    ${r.target.padEnd(width)}  ${r.status.padEnd(9)}  ${String(r.ms).padStart(6)}  ${detail}`.trimEnd(),
    );
  }
  return lines;
}
