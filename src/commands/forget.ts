import { loadConfig } from '../config/load.ts';
import { hookError } from '../errors.ts';
import { acquireLock } from '../state/lock.ts';
import { forgetMaster } from '../state/state-dir.ts';

/**
 * `forget --master NAME`: this host's records for a master (the epoch acted on, exec's
 * once-per-failover records, the older-answer count, the last run) are removed, so that the next
 * reconcile follows what the Sentinels say now as on a new host. The way out when the records no
 * longer match the Sentinels (see the epoch floor); the pause is not touched (resume ends it).
 * Taken under the master's lock: a run in progress finishes first.
 */
export async function forgetCommand(path: string, master: string): Promise<string> {
  const uid = process.getuid?.() ?? 0;
  const config = await loadConfig(path, uid);
  if (!Object.hasOwn(config.masters, master))
    throw hookError('master-not-in-config', { master, known: Object.keys(config.masters) });
  const lock = await acquireLock(config.lockDir, master, 10_000).catch(() => undefined);
  try {
    const removed = [...new Set([...forgetMaster(config.stateDir, master), ...forgetMaster(config.lockDir, master)])];
    const head = removed.length
      ? `forgot master ${master} on this host: ${removed.length} record(s) removed`
      : `no records of master ${master} on this host`;
    return [
      head,
      ...removed.map((f) => `  ${f}`),
      'the next reconcile (and watch) follows what the Sentinels say now',
    ].join('\n');
  } finally {
    lock?.release();
  }
}
