import { type AskSentinel, askSentinel, readSecret, type SentinelAnswer, type SentinelsConfig } from './client.ts';
import { loadSentinelTls } from './tls.ts';

export interface HolderVerdict {
  /** A majority of the configured Sentinels name this host master. */
  thisHost: boolean;
  votes: number;
  needed: number;
  answers: SentinelAnswer[];
}

/**
 * May this host announce the master's address now? The one rule for every announcement that is not
 * the failover's first burst (a delayed second burst, a re-announce after -sdown): a majority of the
 * configured Sentinels, not of those answering, name this host master. Not "one Sentinel": an old
 * master back from a cut-off has its own Sentinel still naming it until it hears from the others,
 * and it must not win alone. The first burst needs no such vote: the freshness check that precedes
 * it has just found a Sentinel naming this host, during the seconds when the others may still name
 * the old master. Ends as soon as a majority has said yes.
 */
export async function majorityNamesThisHost(
  master: string,
  cfg: SentinelsConfig,
  deps: {
    env: NodeJS.ProcessEnv;
    ask?: AskSentinel;
    resolve?: (host: string, signal?: AbortSignal) => Promise<string[]>;
    isThisHost(host: string): Promise<boolean>;
  },
  signal: AbortSignal,
): Promise<HolderVerdict> {
  const ask = deps.ask ?? askSentinel;
  const password = cfg.password ? readSecret(cfg.password, deps.env) : undefined;
  if (cfg.tls) await loadSentinelTls(cfg.tls);
  const needed = Math.floor(cfg.addresses.length / 2) + 1;
  const answers: SentinelAnswer[] = [];
  let votes = 0;
  const question = new AbortController();
  const stop = AbortSignal.any([signal, question.signal]);
  await new Promise<void>((done) => {
    let left = cfg.addresses.length;
    for (const address of cfg.addresses) {
      Promise.resolve()
        .then(() =>
          ask(address, master, cfg, password, { signal: stop, ...(deps.resolve ? { resolve: deps.resolve } : {}) }),
        )
        .then(
          // A name that cannot be told to be this host is not this host (and never leaves the vote hanging).
          async (answer) => ({
            answer,
            here: 'master' in answer ? await deps.isThisHost(answer.master.ip).catch(() => false) : false,
          }),
          (err: unknown) => ({
            answer: { address, error: (err as Error)?.message ?? String(err) } as SentinelAnswer,
            here: false,
          }),
        )
        .then(({ answer, here }) => {
          answers.push(answer);
          if (here) votes++;
          left--;
          // Only a yes ends early (a second burst is waiting for it); a no waits for every answer,
          // so that what it says (how many named this host) is the whole count.
          if (votes >= needed || left === 0) done();
        });
    }
  });
  question.abort();
  return { thisHost: votes >= needed, votes, needed, answers };
}
