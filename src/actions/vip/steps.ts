import { nowMs } from '../../clock.ts';
import { Failure, failure } from '../../failures.ts';
import { commandFailure, delay, type Launcher, runArgv } from '../../launch.ts';
import type { CommandResult } from '../../runner.ts';
import type { ApplyContext, TaskOutcome, TaskStep } from '../plugin.ts';
import type { Vip } from './address.ts';
import type { Arping, Shot } from './commands.ts';

/** Every packet and probe goes through the same runner path as a command step. */
function launch(argv: string[], timeoutMs: number, launcher: Launcher, ctx: ApplyContext) {
  return runArgv(argv, { privileged: launcher.privileged, sudo: launcher.sudo, timeoutMs }, ctx);
}

/**
 * A burst of neighbour updates: every shot starts at its own offset, so one slow process never delays
 * the next packet. Nothing is ever announced for an address this host should no longer hold: before
 * each shot, the address must still be here and no newer event for the master have started on this
 * host (a shot already running is killed with the run's signal then); a delayed burst also asks the
 * Sentinels first (ctx.mayAnnounce). A shot left out for one of these reasons is not a failure.
 */
export function burstStep(
  description: string,
  address: string,
  shots: Shot[],
  launcher: Launcher,
  deferMs?: number,
): TaskStep {
  return {
    kind: 'task',
    description,
    detail: { privileged: launcher.privileged, commands: shots.map((s) => ({ atMs: s.atMs, argv: s.argv })) },
    ...(deferMs ? { deferMs } : {}),
    async run(ctx): Promise<TaskOutcome> {
      // Shots due at the same moment share one look (it may start `ip` when the address seems gone).
      let looking: Promise<string | undefined> | undefined;
      const stopReason = (): Promise<string | undefined> => {
        const superseded = ctx.superseded?.();
        if (superseded || !ctx.holdsAddress) return Promise.resolve(superseded);
        looking ??= ctx.holdsAddress(address).then(
          (held) => {
            looking = undefined;
            return held ? ctx.superseded?.() : `${address} is no longer on this host`;
          },
          () => {
            looking = undefined;
            return ctx.superseded?.();
          },
        );
        return looking;
      };
      const before = (await stopReason()) ?? (deferMs ? await ctx.mayAnnounce?.() : undefined);
      if (before) return { ok: true, summary: `not sent: ${before}` };
      let stopped: string | undefined;
      let sent = 0;
      const results = await Promise.all(
        shots.map(async (shot) => {
          await delay(shot.atMs, ctx.signal);
          const why = stopped ?? (await stopReason());
          if (why) {
            stopped ??= why;
            return undefined;
          }
          if (ctx.signal.aborted) return failure('deadline-passed');
          const ran = await launch(shot.argv, shot.timeoutMs, launcher, ctx);
          if (ran instanceof Failure) return ran;
          if (ran.result.exitCode !== undefined && shot.okExitCodes.includes(ran.result.exitCode)) {
            sent++;
            return undefined;
          }
          // iputils' arping exits 2 ("Cannot assign requested address") once the address is gone.
          const after = await stopReason();
          if (after) {
            stopped ??= after;
            return undefined;
          }
          return commandFailure(shot.argv, ran.result, launcher.privileged);
        }),
      );
      const failed = results.filter((r) => r !== undefined);
      const first = failed[0];
      if (first)
        return {
          ok: false,
          summary: `${failed.length} of ${shots.length} sends failed: ${first.line()}`,
          code: first.code,
        };
      if (stopped)
        return { ok: true, summary: `stopped after ${sent} of ${shots.length} packet-sending runs: ${stopped}` };
      return { ok: true, summary: `${shots.length} packet-sending runs done` };
    },
  };
}

const MAC = /([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5})/;
/** The old master's own hook usually removes the address within this time. */
export const DUPLICATE_WAIT_MS = 2000;
const PROBE_PAUSE_MS = 200;
const MAX_PROBES = 10;

export type ProbeVerdict = { kind: 'free' } | { kind: 'held'; mac: string } | { kind: 'error'; failure: Failure };

/** Read one probe's result: each arping says "someone answered" its own way. */
export function probeVerdict(
  kind: Arping['kind'],
  argv: readonly string[],
  r: CommandResult,
  launcher: Launcher,
): ProbeVerdict {
  const mac = MAC.exec(r.stdout)?.[1]?.toLowerCase();
  if (kind === 'iputils') {
    if (r.exitCode === 0) return { kind: 'free' };
    if (r.exitCode === 1 && mac) return { kind: 'held', mac };
  } else {
    if (r.exitCode === 0 && mac) return { kind: 'held', mac };
    if (r.exitCode === 1 && !r.stderr.trim()) return { kind: 'free' };
  }
  return { kind: 'error', failure: commandFailure(argv, r, launcher.privileged) };
}

/** Before adding: probe until nobody answers, for up to DUPLICATE_WAIT_MS; still held means do not add. */
export function duplicateCheckStep(
  vip: Vip,
  dev: string,
  arping: Arping,
  argv: string[],
  launcher: Launcher,
): TaskStep {
  return {
    kind: 'task',
    description: `check that no other host holds ${vip.ip} on ${dev} ($ ${launcher.privileged ? 'sudo -n ' : ''}${argv.join(' ')}, for up to ${DUPLICATE_WAIT_MS} ms)`,
    detail: { privileged: launcher.privileged, argv, waitMs: DUPLICATE_WAIT_MS },
    async run(ctx): Promise<TaskOutcome> {
      const started = nowMs();
      let last: ProbeVerdict | undefined;
      for (let probe = 1; probe <= MAX_PROBES; probe++) {
        const ran = await launch(argv, 3000, launcher, ctx);
        if (ran instanceof Failure) return { ok: false, summary: ran.line(), code: ran.code };
        last = probeVerdict(arping.kind, argv, ran.result, launcher);
        if (last.kind === 'free') return { ok: true, summary: `nobody answers for ${vip.ip} (probe ${probe})` };
        if (last.kind === 'error') {
          const why = last.failure.within('duplicate check failed');
          return { ok: false, summary: why.line(), code: why.code };
        }
        ctx.logger.warn(
          { vip: vip.ip, holder: last.mac, probe },
          'another host answers for the VIP; waiting for it to let go',
        );
        if (nowMs() - started + PROBE_PAUSE_MS >= DUPLICATE_WAIT_MS || ctx.signal.aborted) break;
        await delay(PROBE_PAUSE_MS, ctx.signal);
      }
      const holder = last?.kind === 'held' ? last.mac : 'unknown';
      const held = failure('vip-held-elsewhere', { ip: vip.ip, mac: holder, waitedMs: nowMs() - started });
      return { ok: false, summary: held.line(), code: held.code, detail: { holder } };
    },
  };
}
