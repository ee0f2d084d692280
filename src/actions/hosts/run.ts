import { readFileSync } from 'node:fs';
import { nowMs } from '../../clock.ts';
import { ConfigError, errorLine } from '../../errors.ts';
import type { ApplyContext, TaskOutcome } from '../plugin.ts';
import { checkPushCredentials, type PushCredentials } from './credentials.ts';
import { editHosts } from './edit.ts';
import { fanOut } from './fanout.ts';
import type { HostsWriteResult } from './privileged.ts';
import type { HostsWork, PlannedTarget, PrivilegedWrite, TargetResult, TargetState } from './types.ts';

/** sudo, node --jitless and one file: a few hundred milliseconds; more means something hangs. */
const HELPER_TIMEOUT_MS = 10_000;

import { parseKnownHosts } from './knownhosts.ts';
import { resolveHostsFile, writeFileReplacing } from './localfile.ts';
import { pushOverRsync } from './rsync.ts';
import { pushOverSsh } from './ssh.ts';

/**
 * Do what the plan says (see HostsWork): this host's file first (rsync sends it), then every target
 * in parallel.
 */
export async function runHosts(work: HostsWork, ctx: ApplyContext): Promise<TaskOutcome> {
  const log = ctx.logger;
  const { names, address, local, push } = work;
  const results: TargetResult[] = [];
  const record = (r: TargetResult) => {
    if (r.status === 'failed')
      log.error(
        { target: r.target, status: r.status, reason: r.reason, attempts: r.attempts, ms: r.ms },
        'hosts target failed',
      );
    else
      log.info(
        { target: r.target, status: r.status, method: r.method, attempts: r.attempts, ms: r.ms },
        'hosts target done',
      );
  };
  // Runs for different masters may edit the same file (one hosts file, several names): each edit is a
  // read-modify-replace, so two at once would lose one. Serialised per file on this host; Sentinels on
  // other hosts pushing other masters to the same servers are not (see docs/reference/actions/hosts.md).
  // body gets what is left of waitMs after the wait: a target's attempt never outlasts its timeout.
  const exclusive = async <T>(
    resource: string,
    waitMs: number,
    body: (leftMs: number) => Promise<T> | T,
  ): Promise<T> => {
    const started = nowMs();
    const held = await ctx.lock?.(`@hosts:${resource}`, waitMs);
    try {
      return await body(Math.max(1, Math.round(waitMs - (nowMs() - started))));
    } finally {
      held?.release();
    }
  };
  let localFailed = false;
  // The push's problem that no retry can fix, if any, and the results it failed (the run may then exit 2).
  let problem: string | undefined;
  const permanent = new Set<TargetResult>();
  // What rsync sends: the file written here, as its real path once resolved (rsync without --links skips a link).
  let sent = push?.source;
  if (local) {
    const { file, privileged } = local;
    const r = await exclusive(file, ctx.remainingMs(), (left): TargetResult | Promise<TargetResult> => {
      const refused = ctx.superseded?.();
      if (refused)
        return { target: `local:${file}`, status: 'skipped', reason: `not written: ${refused}`, attempts: 0, ms: 0 };
      const resolved = (real: string) => {
        sent = real;
      };
      return privileged
        ? writeLocalWithSudo(file, privileged, address, ctx, left, resolved)
        : writeLocal(file, names, address, resolved);
    }).catch(
      (err: Error): TargetResult => ({
        target: `local:${file}`,
        status: 'failed',
        reason: err.message,
        attempts: 1,
        ms: 0,
      }),
    );
    localFailed = r.status === 'failed';
    results.push(r);
    record(r);
  }
  if (push && push.targets.length > 0) {
    const { targets } = push;
    const beforeWrite = async () => ctx.superseded?.() ?? (await ctx.stillCurrent?.());
    const limits = {
      concurrency: push.concurrency,
      timeoutMs: push.timeoutMs,
      retries: push.retries,
      remainingMs: ctx.remainingMs,
      signal: ctx.signal,
    };
    const failAll = (reason: string) =>
      targets.map((t): TargetResult => {
        const r: TargetResult = { target: t.label, status: 'failed', reason, attempts: 0, ms: 0 };
        record(r);
        return r;
      });
    // What no retry can fix (an encrypted key), asked only now that the push is due, not at plan time:
    // the actions before this one (the VIP) have run by now, whatever the push's fate; its failures
    // are permanent, so a run that failed only on them exits 2 instead of being retried for hours.
    let credentials: PushCredentials | undefined;
    try {
      credentials = await checkPushCredentials(push, targets);
    } catch (err) {
      problem = errorLine(err);
      const failures = failAll(problem);
      results.push(...failures);
      if (err instanceof ConfigError) for (const r of failures) permanent.add(r);
    }
    if (credentials && push.transport === 'rsync') {
      const rsync = push.programs?.rsync;
      const ssh = push.programs?.ssh;
      if (localFailed || !sent) results.push(...failAll(`not sent: ${push.source} could not be written here`));
      else if (!rsync || !ssh)
        results.push(
          ...failAll(
            `${!rsync ? 'rsync' : 'ssh'} not found in the system directories; install it (apt-get install rsync openssh-client)`,
          ),
        );
      else {
        const settings = {
          rsync,
          ssh,
          user: push.user,
          identityFile: push.identityFile,
          knownHostsFile: push.knownHostsFile,
          file: sent,
          after: push.after,
          beforeWrite,
        };
        const attempt = (t: PlannedTarget, ms: number, state: TargetState, signal: AbortSignal) =>
          exclusive(targetFile(push.user, t), ms, (left) =>
            pushOverRsync(ctx.runner, t, { ...settings, remotePath: t.remotePath }, left, signal, state),
          );
        results.push(...(await fanOut(targets, limits, attempt, record)));
      }
    } else if (credentials) {
      const settings = {
        user: push.user,
        privateKey: credentials.privateKey,
        knownHosts: parseKnownHosts(credentials.knownHostsText),
        knownHostsFile: push.knownHostsFile,
        names,
        address,
        after: push.after,
        beforeWrite,
      };
      const attempt = (t: PlannedTarget, ms: number, state: TargetState, signal: AbortSignal) =>
        exclusive(targetFile(push.user, t), ms, (left) =>
          pushOverSsh(t, { ...settings, remotePath: t.remotePath }, left, signal, state),
        );
      results.push(...(await fanOut(targets, limits, attempt, record)));
    }
  }
  const count = (s: TargetResult['status']) => results.filter((r) => r.status === s).length;
  const failed = results.filter((r) => r.status === 'failed');
  const summary = `${count('changed')} changed, ${count('unchanged')} unchanged, ${count('skipped') ? `${count('skipped')} not written (superseded), ` : ''}${failed.length} failed${failed.length ? ` (${failed.map((r) => r.target).join(', ')})` : ''}${problem ? `: ${problem}` : ''}`;
  return {
    ok: failed.length === 0,
    summary,
    detail: { address, names, targets: results },
    ...(failed.length > 0 && failed.every((r) => permanent.has(r)) ? { permanent: true } : {}),
  };
}

function writeLocal(
  file: string,
  names: readonly string[],
  address: string,
  resolved: (real: string) => void,
): TargetResult {
  const started = nowMs();
  const label = `local:${file}`;
  const took = () => Math.round(nowMs() - started);
  try {
    const real = resolveHostsFile(file);
    resolved(real);
    // Read again now: the plan was made a moment ago and another writer may have been here since.
    const before = readFileSync(real, 'latin1');
    const after = editHosts(before, names, address);
    if (after === before) return { target: label, status: 'unchanged', attempts: 1, ms: took() };
    const written = writeFileReplacing(real, after, before);
    return {
      target: label,
      status: 'changed',
      method: written.method,
      attempts: 1,
      ms: took(),
      ...(written.backup ? {} : { reason: 'no backup: the directory refused it' }),
    };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return {
      target: label,
      status: 'failed',
      reason: `cannot rewrite ${file}: ${code ?? errorLine(err)}${code === 'EACCES' || code === 'EPERM' ? " (Sentinel's user needs write access to it)" : ''}`,
      attempts: 1,
      ms: took(),
    };
  }
}

/** The helper writes the file as root (see privileged.ts): the address on its stdin, its result on its stdout. */
async function writeLocalWithSudo(
  file: string,
  privileged: PrivilegedWrite,
  address: string,
  ctx: ApplyContext,
  leftMs: number,
  resolved: (real: string) => void,
): Promise<TargetResult> {
  const label = `local:${file}`;
  if ('missing' in privileged)
    return {
      target: label,
      status: 'failed',
      reason: `cannot rewrite ${file} with sudo: ${privileged.missing}`,
      attempts: 1,
      ms: 0,
    };
  const r = await ctx.runner.run(privileged.argv, {
    timeoutMs: Math.min(leftMs, HELPER_TIMEOUT_MS),
    input: `${address}\n`,
    // As for a command step: a write halfway through is let finish once superseded.
    signal: ctx.commandSignal ?? ctx.signal,
  });
  let result: HostsWriteResult | undefined;
  try {
    result = r.exitCode === 0 ? (JSON.parse(r.stdout) as HostsWriteResult) : undefined;
  } catch {
    // reported below
  }
  if (!result) {
    const why = r.timedOut
      ? `timed out after ${r.durationMs} ms`
      : (r.stderr.trim().split('\n').at(-1) ?? '') ||
        r.spawnError ||
        r.error ||
        (r.exitCode === 0
          ? `unexpected output ${JSON.stringify(r.stdout.slice(0, 80))}`
          : `exit ${r.exitCode ?? r.signal}`);
    return {
      target: label,
      status: 'failed',
      reason: `cannot rewrite ${file} with ${privileged.argv.slice(0, 3).join(' ')}: ${why} (install the rules of "sentinel-hook sudoers")`,
      attempts: 1,
      ms: r.durationMs,
    };
  }
  resolved(result.real);
  return {
    target: label,
    status: result.status,
    ...(result.method ? { method: result.method } : {}),
    attempts: 1,
    ms: r.durationMs,
    ...(result.status === 'changed' && !result.backup ? { reason: 'no backup: the directory refused it' } : {}),
  };
}

/** One remote file, however the config spells its host (labels keep the user's case; host is lowercased). */
function targetFile(user: string, t: PlannedTarget): string {
  return `${user}@[${t.host}]:${t.port}${t.remotePath}`;
}
