import { nowMs } from '../clock.ts';
import { hookError } from '../errors.ts';
import type { FailoverEvent } from '../event.ts';
import { type Failure, failure } from '../failures.ts';
import { delay } from '../launch.ts';
import { redactSecret } from '../log.ts';

/** What a freshness question is about: a Sentinel call's master and to-ip, or a desired state's master. */
export type FreshnessTarget = Pick<FailoverEvent, 'master' | 'toIp' | 'toPort'>;

import { heldSecretFile, readSecretFile, type SecretRef, secretFromEnv } from '../config/common.ts';
import { canonicalIp, isIpAddress } from '../values.ts';
import { RespError, type RespValue, sendCommands, type TlsOptions } from './resp.ts';
import { loadSentinelTls, type SentinelTlsConfig, tlsRefusal } from './tls.ts';

export interface SentinelsConfig {
  addresses: string[];
  username?: string | undefined;
  password?: SecretRef | undefined;
  timeout: number;
  settle: number;
  tls?: SentinelTlsConfig | undefined;
}

/** Another Sentinel a Sentinel knows for the master (SENTINEL SENTINELS): where it announces itself, its run id. */
export interface SentinelPeer {
  ip: string;
  port: number;
  id?: string;
}

/** A command a Sentinel refused our ACL user (NOPERM): which, the rule that allows it, and for whom. */
export interface NoPerm {
  /** As we sent it, without the master's name: "SENTINEL MASTER". */
  command: string;
  /** The ACL rule to add: "+sentinel|master". */
  rule: string;
  /** The ACL user we are: sentinels.username, or "default" (none set, or no password, so no AUTH). */
  user: string;
}

export type SentinelAnswer =
  /** `warning`: it answered, but something in our config is wrong for it (a password it does not have). */
  | {
      address: string;
      master: { ip: string; port: number };
      warning?: string;
      /** What it refused of the question (SENTINEL MYID, MASTER, SENTINELS): the answer lacks what those give. */
      noperm?: NoPerm[];
      epoch?: number;
      /** SENTINEL MYID: a rebuilt Sentinel has a new one (and its epochs start again from 0). */
      id?: string;
      /** The master's failover-timeout (ms, from SENTINEL MASTER): no failover is under way for longer. */
      failoverTimeout?: number;
      /** The other Sentinels it knows for the master (SENTINEL SENTINELS): which group it belongs to. */
      peers?: SentinelPeer[];
      /** Set by decideMaster: it does not belong with the configured Sentinels, and did not count. */
      foreign?: true;
    }
  | { address: string; error: string }
  /**
   * It answered, but refused us (wrong password, no permission), or TLS failed in a way asking again
   * will not change (its certificate did not verify, it refused ours; `fix` says what to change):
   * not a Sentinel that is down.
   */
  | { address: string; error: string; refused: true; fix?: string; noperm?: NoPerm[] };

/** A TCP port as Redis writes it: 1 to 65535, no sign, no leading zero. */
const PORT = /^(?:[1-9]\d{0,3}|[1-5]\d{4}|6[0-4]\d{3}|65[0-4]\d{2}|655[0-2]\d|6553[0-5])$/;

/** Replies that mean "your credentials or your ACL user are wrong", never "I am not here". */
const REFUSAL = /^(WRONGPASS|NOAUTH|NOPERM)\b|^ERR invalid password/;
const NOPERM = /^NOPERM\b/;

/**
 * What to grant for a command a Sentinel refused with NOPERM. Built from what we sent, never from the
 * reply: Redis 7.0 names the command there and 7.2 the user too, but a peer may write anything in it.
 */
export function refusedCommand(sent: readonly string[], user: string): NoPerm {
  const [verb = '', ...args] = sent;
  if (verb.toUpperCase() === 'SUBSCRIBE')
    // Since Redis 7 a user gets no channel unless granted (acl-pubsub-default resetchannels).
    return { command: sent.join(' '), rule: ['+subscribe', ...args.map((c) => `&${c}`)].join(' '), user };
  // Only a SENTINEL subcommand is named: any other argument may be a value (a password, a key).
  const sub = verb.toUpperCase() === 'SENTINEL' ? args[0] : undefined;
  return sub === undefined
    ? { command: verb, rule: `+${verb.toLowerCase()}`, user }
    : { command: `${verb} ${sub}`, rule: `+${verb.toLowerCase()}|${sub.toLowerCase()}`, user };
}

/** The NOPERMs among `answers`, one failure per command refused (naming every Sentinel that refused it). */
export function nopermFailures(answers: readonly SentinelAnswer[]): Failure[] {
  const byRule = new Map<string, { n: NoPerm; addresses: string[] }>();
  for (const a of answers)
    for (const n of ('noperm' in a && a.noperm) || []) {
      const key = `${n.user} ${n.rule}`;
      const seen = byRule.get(key) ?? byRule.set(key, { n, addresses: [] }).get(key)!;
      seen.addresses.push(a.address);
    }
  return [...byRule.values()].map(({ n, addresses }) => failure('sentinel-noperm', { addresses, ...n }));
}

/**
 * AUTH answered by a Sentinel that has no password (Redis 6/7: "AUTH <password> called without any
 * password configured for the default user", Redis 5: "Client sent AUTH, but no password is set",
 * a Sentinel older than 5.0.1: no AUTH command at all). It still answers what follows.
 */
const NO_PASSWORD =
  /^ERR (AUTH .* called without any password configured|Client sent AUTH, but no password is set|unknown command .AUTH.)/s;

export type Freshness =
  /** At least one Sentinel names the event's to-ip as master now. */
  | { verdict: 'current'; confirmedBy: string; answers: SentinelAnswer[] }
  /** Sentinels answered, none names the to-ip: a later failover has overtaken this event. */
  | { verdict: 'stale'; answers: SentinelAnswer[] }
  /** No Sentinel could be asked: act on the arguments, as Sentinel itself decided. */
  | { verdict: 'unknown'; answers: SentinelAnswer[] };

export interface AskOptions {
  /** Aborted when this question's time is up (its `timeout`, or the run's deadline): stop, close, end children. */
  signal?: AbortSignal;
  /** How to resolve a Sentinel's host name (killable at `signal`); else the socket's own lookup. */
  resolve?: (host: string, signal?: AbortSignal) => Promise<string[]>;
  /**
   * Also ask the master's config epoch (SENTINEL MASTER), in the same round trip. The address still
   * comes from get-master-addr-by-name: during a failover the leader's SENTINEL MASTER keeps the old
   * address until the switch, while its epoch is already the new one; get-master-addr-by-name names
   * the promoted replica from the promotion on.
   */
  epoch?: boolean;
  /** Also ask which other Sentinels it knows (SENTINEL SENTINELS), in the same round trip. */
  peers?: boolean;
}

export type AskSentinel = (
  address: string,
  master: string,
  cfg: SentinelsConfig,
  password: string | undefined,
  opts?: AskOptions,
) => Promise<SentinelAnswer>;

export function readSecret(ref: SecretRef, env: NodeJS.ProcessEnv, where = 'sentinels.password'): string {
  if ('env' in ref) {
    const value = secretFromEnv(env, ref.env);
    if (value === undefined) throw hookError('secret-unset', { where, env: ref.env });
    return value;
  }
  return heldSecretFile(env, ref.file) ?? readSecretFile(ref.file, where);
}

export function splitAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address)!;
  return { host: m[1] ?? m[2]!, port: Number(m[3]) };
}

export const askSentinel: AskSentinel = async (address, master, cfg, password, opts = {}) => {
  const { host, port } = splitAddress(address);
  // Loaded once per config (callers load it first, so that a bad file is a config error, not an answer).
  const tls = cfg.tls ? await loadSentinelTls(cfg.tls) : undefined;
  // A name is what the certificate must carry, whichever of its addresses we reach; an IP address
  // is checked against the certificate's IP entries.
  const tlsOptions: TlsOptions | undefined = tls && {
    secureContext: tls.context,
    servername: tls.servername ?? (isIpAddress(host) ? undefined : host),
  };
  const commands: string[][] = [];
  if (password !== undefined) commands.push(cfg.username ? ['AUTH', cfg.username, password] : ['AUTH', password]);
  // Without AUTH the connection is the default user's, whatever sentinels.username says.
  const user = password !== undefined && cfg.username ? cfg.username : 'default';
  // MYID and MASTER ride along in the same round trip: who answers (a rebuilt Sentinel is a new one)
  // and at which config epoch, with the master's failover-timeout.
  if (opts.epoch) commands.push(['SENTINEL', 'MYID'], ['SENTINEL', 'MASTER', master]);
  if (opts.peers) commands.push(['SENTINEL', 'SENTINELS', master]);
  commands.push(['SENTINEL', 'get-master-addr-by-name', master]);
  const first = password === undefined ? 0 : 1;
  const at = { myid: first, info: first + 1, peers: first + (opts.epoch ? 2 : 0) };
  let targets = [host];
  if (opts.resolve && !isIpAddress(host)) {
    try {
      targets = await opts.resolve(host, opts.signal);
      if (targets.length === 0) return { address, error: `${host} resolves to no address` };
    } catch (err) {
      return { address, error: `cannot resolve ${host}: ${(err as Error).message}` };
    }
  }
  // A name may list an address Sentinel does not listen on (IPv6 first, Sentinel bound to IPv4):
  // try each in turn, all within the one `timeout`.
  const until = nowMs() + cfg.timeout;
  let lastError = `no answer within ${cfg.timeout} ms`;
  let refusal: { error: string; fix: string } | undefined;
  for (const [i, target] of targets.entries()) {
    // The first address gets the whole timeout as configured, so its error names that figure.
    const left = i === 0 ? cfg.timeout : Math.round(until - nowMs());
    if (left <= 0 || opts.signal?.aborted) break;
    try {
      const replies = await sendCommands(target, port, commands, left, opts.signal, tlsOptions);
      // Whatever a peer says is kept (answers are logged and printed) only with the password cut out:
      // some echo what they were sent.
      // `question`: the SENTINEL command refused; never AUTH, whose arguments are the password.
      const failed = (reply: RespError, question?: readonly string[]): SentinelAnswer => {
        const error = redactSecret(reply.message, password);
        if (question && NOPERM.test(reply.message))
          return { address, error, refused: true, noperm: [refusedCommand(question, user)] };
        return REFUSAL.test(reply.message) ? { address, error, refused: true } : { address, error };
      };
      // AUTH and the question are answered one by one: a Sentinel without a password refuses the
      // first and answers the second, and that answer is a verdict, not "no answer".
      const auth = password === undefined ? undefined : replies[0];
      let warning: string | undefined;
      if (auth instanceof RespError) {
        if (!NO_PASSWORD.test(auth.message)) return failed(auth);
        warning = `this Sentinel has no password, but sentinels.password is set (it said: ${redactSecret(auth.message, password)}); remove sentinels.password, or give every Sentinel that password (requirepass)`;
      }
      const reply = replies.at(-1) as RespValue;
      if (reply instanceof RespError) return failed(reply, commands.at(-1)!);
      if (!Array.isArray(reply) || typeof reply[0] !== 'string')
        return { address, error: `does not monitor a master named ${master}` };
      // Framed right but not an address (a proxy, a bug): taken as one, port NaN would be a verdict
      // naming no master at all, enough to call a current event stale.
      if (typeof reply[1] !== 'string' || !PORT.test(reply[1]))
        return {
          address,
          error: redactSecret(
            `protocol error: get-master-addr-by-name answered the port ${JSON.stringify(reply[1] ?? null)}`,
            password,
          ),
        };
      // The epoch only adds to an answer: a Sentinel that does not give it (an ACL without SENTINEL
      // MASTER, an old or odd peer) still gives its verdict on the address.
      const info = opts.epoch ? (replies[at.info] as RespValue) : undefined;
      const epoch = info === undefined ? undefined : masterField(info, 'config-epoch');
      const failoverTimeout = info === undefined ? undefined : masterField(info, 'failover-timeout');
      // A Sentinel that refuses MYID (an ACL without it) answers all the same, without an identity.
      const myid = opts.epoch ? replies[at.myid] : undefined;
      const id = typeof myid === 'string' && RUN_ID.test(myid) ? myid : undefined;
      // Likewise without SENTINEL SENTINELS: then nobody can tell which group it belongs to.
      const peers = opts.peers ? peerList(replies[at.peers] as RespValue) : undefined;
      // Said, not dropped: without MASTER's epoch reconcile and watch cannot act on this answer.
      const asked = [...(opts.epoch ? [at.myid, at.info] : []), ...(opts.peers ? [at.peers] : [])];
      const noperm = asked.flatMap((i) => {
        const r = replies[i];
        return r instanceof RespError && NOPERM.test(r.message) ? [refusedCommand(commands[i]!, user)] : [];
      });
      return {
        address,
        master: masterAddress(reply[0], Number(reply[1]), password),
        ...(warning === undefined ? {} : { warning }),
        ...(noperm.length ? { noperm } : {}),
        ...(epoch === undefined ? {} : { epoch }),
        ...(id === undefined ? {} : { id }),
        ...(failoverTimeout === undefined ? {} : { failoverTimeout }),
        ...(peers === undefined ? {} : { peers }),
      };
    } catch (err) {
      refusal ??= tlsRefusal(err);
      const message = redactSecret((err as Error).message, password);
      lastError = targets.length > 1 ? `${target}: ${message}` : message;
    }
  }
  if (refusal) return { address, error: refusal.error, refused: true, fix: refusal.fix };
  return { address, error: lastError };
};

const RUN_ID = /^[0-9a-f]{40}$/;

/** SENTINEL SENTINELS: one flat field/value list per other Sentinel; undefined for a refusal. */
function peerList(reply: RespValue): SentinelPeer[] | undefined {
  if (!Array.isArray(reply)) return undefined;
  return reply.flatMap((fields) => {
    if (!Array.isArray(fields)) return [];
    const field = (name: string) => {
      for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
      return undefined;
    };
    const [ip, port, runid] = [field('ip'), field('port'), field('runid')];
    if (typeof ip !== 'string' || typeof port !== 'string' || !PORT.test(port)) return [];
    return [{ ip, port: Number(port), ...(typeof runid === 'string' && RUN_ID.test(runid) ? { id: runid } : {}) }];
  });
}

/** A numeric field of SENTINEL MASTER's flat field/value list. */
function masterField(info: RespValue, name: 'config-epoch' | 'failover-timeout'): number | undefined {
  if (!Array.isArray(info)) return undefined;
  for (let i = 0; i + 1 < info.length; i += 2) {
    if (info[i] === name && typeof info[i + 1] === 'string' && /^\d{1,15}$/.test(info[i + 1] as string))
      return Number(info[i + 1]);
  }
  return undefined;
}

/**
 * A master's address exactly as the Sentinel gave it: it decides whether the event is current (a host
 * name that shares a few characters with the password must still match the to-ip). Only where it is
 * written out (the log, --json) is the password cut out of it, whatever a peer put there.
 */
function masterAddress(ip: string, port: number, password: string | undefined): { ip: string; port: number } {
  const master = { ip, port };
  if (password !== undefined)
    Object.defineProperty(master, 'toJSON', { value: () => ({ ip: redactSecret(ip, password), port }) });
  return master;
}

function names(answer: SentinelAnswer, event: FreshnessTarget, toAddresses: ReadonlySet<string>): boolean {
  if (!('master' in answer)) return false;
  const ip = answer.master.ip;
  return answer.master.port === event.toPort && (ip === event.toIp || toAddresses.has(canonicalIp(ip)));
}

/** A question's own timeout wins over ours when both are due: its message says more. */
const ASK_GRACE_MS = 50;

/**
 * Is this event still the current configuration? One Sentinel naming the to-ip is enough: the
 * Sentinel that ran us switched before calling, the others follow within seconds, so a majority
 * vote would drop fresh events. Asked again for up to `settle` while nobody names it yet.
 * Every question ends within its `timeout` or at the run's deadline (`signal`), whatever `ask`
 * does: one that has not answered by then counts as a Sentinel that did not answer.
 */
export async function checkFreshness(
  event: FreshnessTarget,
  toAddresses: readonly string[],
  cfg: SentinelsConfig,
  env: NodeJS.ProcessEnv,
  deps: {
    ask?: AskSentinel;
    sleep?: (ms: number) => Promise<void>;
    now?: () => number;
    signal?: AbortSignal;
    resolve?: (host: string, signal?: AbortSignal) => Promise<string[]>;
  } = {},
): Promise<Freshness> {
  const ask = deps.ask ?? askSentinel;
  const signal = deps.signal;
  const sleep = deps.sleep ?? ((ms) => delay(ms, signal));
  const now = deps.now ?? (() => nowMs());
  const password = cfg.password ? readSecret(cfg.password, env) : undefined;
  if (cfg.tls) await loadSentinelTls(cfg.tls);
  const wanted = new Set(toAddresses.map(canonicalIp));
  // A Sentinel's host name is looked up once per check, not once per round.
  const lookups = new Map<string, Promise<string[]>>();
  const resolve = deps.resolve;
  const cachedResolve = resolve
    ? (host: string, s?: AbortSignal) => {
        let p = lookups.get(host);
        if (!p) {
          p = resolve(host, s);
          lookups.set(host, p);
          p.catch(() => lookups.delete(host));
        }
        return p;
      }
    : undefined;
  const askOne = (address: string, round: AbortSignal) =>
    new Promise<SentinelAnswer>((done) => {
      const question = new AbortController();
      let settled = false;
      const settle = (answer: SentinelAnswer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onDeadline);
        // Whatever the question still holds (a socket, a lookup's child) ends with it.
        question.abort();
        done(answer);
      };
      const onDeadline = () => settle({ address, error: "no answer before the run's deadline" });
      const timer = setTimeout(
        () => settle({ address, error: `no answer within ${cfg.timeout} ms` }),
        cfg.timeout + ASK_GRACE_MS,
      );
      if (signal?.aborted) return onDeadline();
      signal?.addEventListener('abort', onDeadline, { once: true });
      round.addEventListener('abort', () => settle({ address, error: 'not waited for: another Sentinel confirmed' }), {
        once: true,
      });
      // Through a promise: an ask that throws at once is an answer-less Sentinel, not a hung round.
      Promise.resolve()
        // With the config epoch: a run that acts records it, so that reconcile never goes back past it
        // and exec runs once per failover (one round trip all the same).
        .then(() =>
          ask(address, event.master, cfg, password, {
            signal: question.signal,
            epoch: true,
            ...(cachedResolve ? { resolve: cachedResolve } : {}),
          }),
        )
        .then(settle, (err: unknown) => settle({ address, error: (err as Error)?.message ?? String(err) }));
    });
  const started = now();
  const maxRounds = 1 + Math.ceil(cfg.settle / 250);
  let answers: SentinelAnswer[] = [];
  // A round ends at the first confirming answer: when the old master's host is down, its Sentinel
  // would otherwise hold every failover for the whole `timeout`, on the new master's critical path.
  const askRound = () =>
    new Promise<SentinelAnswer[]>((done) => {
      const round = new AbortController();
      const got: SentinelAnswer[] = new Array(cfg.addresses.length);
      let left = cfg.addresses.length;
      cfg.addresses.forEach(
        (address, i) =>
          void askOne(address, round.signal).then((answer) => {
            got[i] = answer;
            if (names(answer, event, wanted)) round.abort();
            if (--left === 0) done(got);
          }),
      );
    });
  for (let round = 0; round < maxRounds; round++) {
    answers = await askRound();
    const confirming = answers.find((a) => names(a, event, wanted));
    if (confirming) return { verdict: 'current', confirmedBy: confirming.address, answers };
    // A refusal does not change by asking again.
    if (now() - started >= cfg.settle || signal?.aborted || answers.every((a) => 'refused' in a)) break;
    await sleep(Math.min(250, Math.max(0, cfg.settle - (now() - started))));
    if (signal?.aborted) break;
  }
  if (answers.some((a) => 'master' in a)) return { verdict: 'stale', answers };
  // Counted as "no answer", a wrong password (or a CA that does not verify the Sentinels) would switch
  // the guard off for good: every late retry of an overtaken failover would act. Without any verdict,
  // refuse the event instead.
  const refused = answers.find((a): a is Extract<SentinelAnswer, { refused: true }> => 'refused' in a);
  if (refused?.fix)
    throw hookError('sentinel-tls-refused', { address: refused.address, said: refused.error, fix: refused.fix });
  if (refused?.noperm?.[0]) throw hookError('sentinel-noperm', { addresses: [refused.address], ...refused.noperm[0] });
  if (refused) throw hookError('sentinel-auth-refused', { address: refused.address, said: refused.error });
  return { verdict: 'unknown', answers };
}
