import type { HookConfig } from '../config/schema.ts';
import { codeOf, errorLine } from '../errors.ts';
import { failure } from '../failures.ts';
import type { Logger } from '../log.ts';
import type { PipelineDeps } from '../pipeline/deps.ts';
import {
  askMasterState,
  type ReconcileResult,
  reconcileMaster,
  releaseEntries,
  releaseMaster,
} from '../pipeline/run.ts';
import { askSentinel, readSecret, type SentinelAnswer, type SentinelPeer } from '../sentinel/client.ts';
import { decideMaster, foreignSentinels, whoAnswered } from '../sentinel/decide.ts';
import { type Connector, type SentinelMessage, SentinelSubscription } from '../sentinel/subscribe.ts';
import { readActedEpoch, sameSentinels } from '../state/epoch.ts';
import { writeHeartbeat } from '../state/last-run.ts';
import { lockDirGone } from '../state/lock.ts';

export const DEFAULT_INTERVAL_MS = 10_000;
/** The same failover announced by several Sentinels within this time is one event. */
const DUPLICATE_WINDOW_MS = 30_000;
/**
 * +promoted-slave comes only from the failover's leader, about 50-100 ms before any Sentinel's
 * +switch-master: Sentinel sets the master's config epoch to the one it won the election with and
 * flushes its config before publishing it, the failover can no longer be aborted from then on, and the
 * leader runs its client-reconfig-script at that same moment. So it proves the new master as well as
 * +switch-master does; the others' +switch-master that follows is the same failover (a duplicate).
 */
/** What watch subscribes to on every Sentinel (doctor checks the ACL allows it). */
export const CHANNELS = ['+promoted-slave', '+switch-master'];

export interface WatchOptions {
  intervalMs: number;
  /** How sockets to the Sentinels are made (plain TCP unless sentinels.tls). */
  connector?: Connector;
  /**
   * Milliseconds on a clock that only moves forward (default performance.now): the duplicate window and
   * noQuorumFor are spans in memory, and a wall clock stepped by NTP or by hand would widen or shorten
   * them (stepped an hour forward, it released the VIP at the next unanswered check).
   */
  now?: () => number;
  /** The lock directory is gone (removed by hand): every run would fail until it is made again. */
  onLockDirGone?: (dir: string) => void;
  /** What the metrics (metrics.listen) count; absent: none served. */
  metrics?: WatchMetrics;
}

/** What watch tells its metrics (src/watch/metrics.ts), kept apart so that the watcher never loads a client library. */
export interface WatchMetrics {
  /** A Sentinel announced a failover of one of our masters (kind: the channel). */
  event(kind: string): void;
  /** A run for `master` ended (a reconcile, a failover, a release); `reconcile`: it was a timed or requested reconcile. */
  ran(master: string, result: ReconcileResult, reconcile: boolean): void;
  /** A reconcile ended in an error rather than a result. */
  reconcileFailed(master: string): void;
  sentinel(address: string, connected: boolean): void;
  /** From the failover announcement acted on (heard) to its first change in place here (a VIP added). */
  applied(seconds: number): void;
  /** The configured masters and Sentinels, at start and on each reload. */
  configured(masters: readonly string[], sentinels: readonly string[]): void;
}

interface MasterWatch {
  /** The convergence in progress for this master, if any (periodic or event). */
  busy: Promise<unknown> | undefined;
  /**
   * When the first timed question since a majority of the configured Sentinels last answered was asked
   * (not: when a connection looked open); undefined while they answer. Counted from the question, not
   * from the last answer: an answer received just before a cut says nothing about how long the host has
   * been cut off, and counting from it would release up to one check period before noQuorumFor.
   */
  noMajoritySince: number | undefined;
  released: boolean;
  /** The master and epoch a reconcile in progress is converging to, once it has decided. */
  converging: { ip: string; port: number; epoch: number } | undefined;
  /**
   * The failover last acted on (its new master, "<ip>:<port>") and when: the same one announced by the
   * other Sentinels within DUPLICATE_WINDOW_MS is a duplicate. Set only once an announcement is
   * confirmed and acted on: one that could not be confirmed must not swallow the others'.
   */
  handled: { key: string; at: number } | undefined;
  /** Announcements being confirmed now, each with its own Sentinel: the first to confirm acts. */
  confirming: Set<{ sentinel: string; key: string }>;
  /**
   * Each Sentinel's last answer, by address, with the Sentinels it knows: learnt by every full question
   * (at start, after each (re)connection, every interval), so that telling whether an announcing Sentinel
   * is of the group costs the failover path nothing.
   */
  answers: Map<string, SentinelAnswer>;
  /** Sentinels already reported as not of the group: said once, not every interval. */
  foreign: Set<string>;
}

/**
 * `sentinel-hook watch`: a long-running process that keeps this host in the state the Sentinels say
 * is true. It subscribes to every configured Sentinel and acts in-process on the first announcement
 * that proves a failover (the leader's +promoted-slave or a +switch-master; no process start on the
 * failover path), deduplicated across Sentinels and
 * ordered by config epoch; it reconciles every master at start, after every (re)connection and every
 * `interval`; it never gives up. It shares the per-master lock, generation, epoch and once-per-failover
 * records with the hook, so both may run on one host.
 */
export class Watcher {
  private subscriptions: SentinelSubscription[] = [];
  private readonly masters = new Map<string, MasterWatch>();
  private timer: NodeJS.Timeout | undefined;
  private releaseTimer: NodeJS.Timeout | undefined;
  private readonly stopping = new AbortController();
  private readonly inflight = new Set<Promise<unknown>>();
  /** Counters for the log and tests. */
  readonly stats = { events: 0, duplicates: 0, late: 0, converged: 0, reconciles: 0, foreign: 0, releases: 0 };
  /** Each master's latest outcome, for the heartbeat record. */
  private readonly outcomes = new Map<string, string>();
  private readonly startedAt = new Date().toISOString();

  constructor(
    private config: HookConfig,
    private readonly deps: PipelineDeps,
    private readonly log: Logger,
    private opts: WatchOptions,
  ) {}

  private get now(): number {
    return (this.opts.now ?? performance.now.bind(performance))();
  }

  start(): void {
    this.heartbeat();
    this.subscribe();
    this.reconcileAll('start');
    this.schedule();
  }

  /** Stop listening and wait for work in progress. The VIP stays where it is: stopping the service must not move traffic. */
  async stop(): Promise<void> {
    for (const s of this.subscriptions) s.stop();
    this.subscriptions = [];
    clearTimeout(this.timer);
    clearInterval(this.releaseTimer);
    this.stopping.abort();
    await Promise.allSettled([...this.inflight]);
  }

  /**
   * SIGHUP: a new config, already validated and prepared, with the connector made from its TLS files as
   * they are now (a rotated CA must not wait for a restart). Subscriptions are made anew for it.
   */
  reload(config: HookConfig, connector: Connector | undefined): void {
    for (const s of this.subscriptions) s.stop();
    this.config = config;
    this.opts = { ...this.opts, connector };
    this.subscribe();
    this.reconcileAll('reload');
  }

  private state(master: string): MasterWatch {
    let s = this.masters.get(master);
    if (!s) {
      s = {
        busy: undefined,
        noMajoritySince: undefined,
        released: false,
        converging: undefined,
        handled: undefined,
        confirming: new Set(),
        answers: new Map(),
        foreign: new Set(),
      };
      this.masters.set(master, s);
    }
    return s;
  }

  private subscribe(): void {
    const sentinels = this.config.sentinels!;
    this.opts.metrics?.configured(Object.keys(this.config.masters), sentinels.addresses);
    const password = sentinels.password ? readSecret(sentinels.password, this.deps.env) : undefined;
    const auth = () =>
      password === undefined
        ? undefined
        : sentinels.username
          ? ['AUTH', sentinels.username, password]
          : ['AUTH', password];
    this.subscriptions = sentinels.addresses.map(
      (address) =>
        new SentinelSubscription(
          address,
          CHANNELS,
          auth,
          {
            message: (m) => this.onMessage(m),
            subscribed: (sentinel) => {
              this.opts.metrics?.sentinel(sentinel, true);
              this.log.info({ sentinel }, 'subscribed');
              // Pub/sub forgets what was published while we were away: read the state again.
              this.reconcileAll(`subscribed to ${sentinel}`);
            },
            lost: (sentinel, reason, retryInMs) => {
              this.opts.metrics?.sentinel(sentinel, false);
              this.log.warn({ sentinel, reason, retryInMs }, 'Sentinel connection lost; retrying');
            },
          },
          this.opts.connector,
        ),
    );
    for (const s of this.subscriptions) s.start();
    this.armRelease();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    // Stopped from inside the timer's own run (the lock directory found gone): no next interval.
    if (this.stopping.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.heartbeat();
      this.reconcileAll('interval');
      this.schedule();
    }, this.opts.intervalMs);
  }

  /**
   * "watch is alive, and this is what it last found": refreshed every interval, for `status` (the
   * unit's ProtectProc=invisible hides the process from other users). A no-op reconcile leaves the
   * last-run records alone; this is where it shows.
   */
  private heartbeat(): void {
    this.checkLockDir();
    try {
      writeHeartbeat(this.config.lockDir, {
        pid: process.pid,
        started: this.startedAt,
        at: new Date().toISOString(),
        intervalMs: this.opts.intervalMs,
        lastReconcile: { at: new Date().toISOString(), outcomes: Object.fromEntries(this.outcomes) },
      });
    } catch (err) {
      this.log.warn({ error: (err as Error).message }, 'cannot write the heartbeat record');
    }
  }

  /** Looked at each interval and after a failed run (a lock that could not be made): one lstat. */
  private checkLockDir(): void {
    if (this.opts.onLockDirGone && lockDirGone(this.config.lockDir)) this.opts.onLockDirGone(this.config.lockDir);
  }

  /** Keep `work` counted until it ends, so stop() can wait for it. */
  private track<T>(work: Promise<T>): Promise<T> {
    this.inflight.add(work);
    void work.finally(() => this.inflight.delete(work)).catch(() => undefined);
    return work;
  }

  /** `work` is what this master is busy with until it ends (unless newer work took its place). */
  private busyWith(master: string, work: Promise<unknown>): void {
    const s = this.state(master);
    s.busy = this.track(work);
    void s.busy.finally(() => {
      if (s.busy === work) s.busy = undefined;
    });
  }

  private reconcileAll(why: string): void {
    if (this.stopping.signal.aborted) return;
    for (const master of Object.keys(this.config.masters)) {
      // One at a time per master: an event or a reconcile in progress will leave it right.
      if (this.state(master).busy) continue;
      this.busyWith(master, this.reconcile(master, why));
    }
  }

  /**
   * One run's signal: ends at the run's deadline or when the service stops. One controller, one timer
   * and one listener on the service's signal, all let go by done(): AbortSignal.any and
   * AbortSignal.timeout would keep something per run alive on the long-lived signal, or for the whole
   * deadline, and a service makes many runs.
   */
  private runOptions(deadline = this.config.deadline) {
    const started = performance.now();
    const run = new AbortController();
    const end = () => run.abort();
    const timer = setTimeout(end, deadline);
    this.stopping.signal.addEventListener('abort', end, { once: true });
    if (this.stopping.signal.aborted) run.abort();
    return {
      // Paused or not is the pipeline's to judge (reconcile and release are pausable).
      dryRun: false,
      signal: run.signal,
      remainingMs: () => Math.max(0, deadline - (performance.now() - started)),
      done: () => {
        clearTimeout(timer);
        this.stopping.signal.removeEventListener('abort', end);
      },
    };
  }

  private async reconcile(master: string, why: string): Promise<ReconcileResult | undefined> {
    this.stats.reconciles++;
    const { done, ...opts } = this.runOptions();
    try {
      const askedAt = this.now;
      const answers = await askMasterState(master, this.config, this.deps, opts.signal);
      this.noteReachability(master, answers, askedAt);
      const decision = decideMaster(answers, this.config.sentinels!.addresses.length);
      this.noteForeign(master, decision.answers);
      if (decision.clear) this.state(master).converging = decision.state;
      const result = await reconcileMaster(master, this.config, this.deps, { ...opts, announce: false, decision });
      this.report(master, why, result);
      this.opts.metrics?.ran(master, result, true);
      // Asked after the failover last acted on, the Sentinels named another master (the leader alone had
      // named it, and the others had not switched yet): their announcement of it, when it comes, is no
      // duplicate.
      const handled = this.state(master).handled;
      if (
        handled &&
        handled.at <= askedAt &&
        result.state &&
        handled.key !== `${result.state.ip}:${result.state.port}` &&
        (result.outcome === 'converged' || result.outcome === 'nothing-to-do')
      )
        this.state(master).handled = undefined;
      return result;
    } catch (err) {
      this.log.error(
        { master, why, error: errorLine(err), code: codeOf(err) },
        'reconcile failed; trying again at the next interval',
      );
      this.opts.metrics?.reconcileFailed(master);
      this.checkLockDir();
      return undefined;
    } finally {
      this.state(master).converging = undefined;
      done();
    }
  }

  private report(master: string, why: string, r: ReconcileResult): void {
    const fields = {
      master,
      why,
      outcome: r.outcome,
      ...(r.state ? { state: r.state } : {}),
      ...(r.reason ? { reason: r.reason } : {}),
    };
    this.outcomes.set(master, r.outcome);
    if (r.paused)
      this.log.warn(
        {
          ...fields,
          paused: r.paused,
          plan: r.plans
            .filter((p) => p.steps.length)
            .map((p) => ({ action: p.action, steps: p.steps.map((s) => s.description) })),
        },
        'paused: would do this; nothing changed',
      );
    else if (r.outcome === 'converged') this.log.info(fields, 'converged');
    else if (r.outcome === 'unsure' || r.outcome === 'older-epoch' || r.outcome === 'failed')
      this.log.warn(fields, 'not converged');
    else this.log.debug(fields, 'in line');
    if (r.outcome === 'converged') this.stats.converged++;
  }

  /** A Sentinel not of the group is no part of the quorum either. */
  private noteReachability(master: string, answers: readonly SentinelAnswer[], askedAt: number): void {
    const s = this.state(master);
    for (const a of answers) if ('master' in a) s.answers.set(a.address, a);
    const foreign = foreignSentinels(answers, this.config.sentinels!.addresses.length);
    const answered = answers.filter((a) => 'master' in a && !foreign.has(a.address)).length;
    if (answered >= Math.floor(this.config.sentinels!.addresses.length / 2) + 1) {
      s.noMajoritySince = undefined;
      s.released = false;
    } else {
      s.noMajoritySince ??= askedAt;
    }
  }

  private noteForeign(master: string, answers: readonly SentinelAnswer[]): void {
    const s = this.state(master);
    for (const a of answers) {
      const foreign = 'foreign' in a && a.foreign === true;
      if (foreign && !s.foreign.has(a.address)) {
        const why = failure('sentinel-foreign', { address: a.address, master });
        this.log.warn({ master, sentinel: a.address, answer: a, code: why.code }, why.line());
      }
      if (foreign) s.foreign.add(a.address);
      else if ('master' in a) s.foreign.delete(a.address);
    }
  }

  /**
   * Is the announcing Sentinel of the configured group, and which Sentinels does it know? Judged from its
   * answer with what each Sentinel told of the others at the last full question (its own list only if it
   * is still the same Sentinel): no question on the failover path.
   */
  private groupOf(master: string, answer: SentinelAnswer): { member: boolean; peers: SentinelPeer[] } {
    const s = this.state(master);
    const addresses = this.config.sentinels!.addresses;
    const known = s.answers.get(answer.address);
    const sameOne =
      known && 'master' in known && 'master' in answer && (!known.id || !answer.id || known.id === answer.id);
    const fresh = sameOne && known.peers ? { ...answer, peers: known.peers } : answer;
    const answers = addresses.map(
      (address): SentinelAnswer =>
        address === answer.address ? fresh : (s.answers.get(address) ?? { address, error: 'not asked yet' }),
    );
    return {
      member: !foreignSentinels(answers, addresses.length).has(answer.address),
      peers: 'peers' in fresh ? (fresh.peers ?? []) : [],
    };
  }

  /**
   * A new master announced by any Sentinel: the leader's +promoted-slave ("slave <name> <new-ip>
   * <new-port> @ <master> <old-ip> <old-port>") or a +switch-master ("<master> <old-ip> <old-port>
   * <new-ip> <new-port>"). Acted on once per failover: the first announcement confirmed wins, the same
   * one from the others is then a duplicate, and one whose epoch this host has already acted on (a late
   * message from a Sentinel that was cut off) never moves anything back. Until one is confirmed, each
   * Sentinel's announcement is asked of that Sentinel: a leader too slow to answer must not hold up the
   * others' +switch-master, which follow it by some 65 ms.
   */
  private onMessage(m: SentinelMessage): void {
    const announced = newMaster(m);
    if (!announced) return;
    const { master, ip, port } = announced;
    if (!Object.hasOwn(this.config.masters, master)) return;
    this.stats.events++;
    this.opts.metrics?.event(m.channel);
    // Compared with the last failover acted on for this master only: A -> B -> A is two failovers, the
    // second A no duplicate. The leader announces twice (+promoted-slave, +switch-master about 1 s
    // later): asked once while the first is being confirmed.
    const key = `${ip}:${port}`;
    const s = this.state(master);
    if (this.handled(s, key) || [...s.confirming].some((c) => c.key === key && c.sentinel === m.sentinel)) {
      this.stats.duplicates++;
      return;
    }
    const confirming = { sentinel: m.sentinel, key };
    s.confirming.add(confirming);
    const heardAt = performance.now();
    this.log.info({ master, sentinel: m.sentinel, to: key }, m.channel);
    this.busyWith(
      master,
      this.onFailover(master, m.sentinel, m.channel, ip, Number(port), heardAt).finally(() =>
        s.confirming.delete(confirming),
      ),
    );
  }

  private handled(s: MasterWatch, key: string): boolean {
    return s.handled?.key === key && this.now - s.handled.at < DUPLICATE_WINDOW_MS;
  }

  private async onFailover(
    master: string,
    sentinel: string,
    channel: string,
    ip: string,
    port: number,
    heardAt: number,
  ): Promise<void> {
    const { done, ...opts } = this.runOptions();
    const sentinels = this.config.sentinels!;
    const s = this.state(master);
    const key = `${ip}:${port}`;
    let acting: MasterWatch['handled'];
    try {
      // The announcing Sentinel's config epoch orders this failover (one round trip, to it alone).
      const password = sentinels.password ? readSecret(sentinels.password, this.deps.env) : undefined;
      const ask = this.deps.askSentinel ?? askSentinel;
      const question = this.runOptions(sentinels.timeout);
      const answer = await ask(sentinel, master, sentinels, password, { signal: question.signal, epoch: true }).finally(
        question.done,
      );
      if (
        !('master' in answer) ||
        answer.epoch === undefined ||
        answer.master.ip !== ip ||
        answer.master.port !== port
      ) {
        // Another Sentinel's announcement of the same failover, confirmed or being confirmed, decides.
        if (this.handled(s, key) || [...s.confirming].some((c) => c.key === key && c.sentinel !== sentinel)) {
          this.log.info(
            { master, sentinel, answer },
            'the announcing Sentinel does not confirm with an epoch; another announcement of this failover decides',
          );
          return;
        }
        // It moved on already, or could not say: the full question decides.
        this.log.info(
          { master, sentinel, answer },
          'the announcing Sentinel does not confirm with an epoch; reconciling',
        );
        await this.reconcile(master, `${channel} not confirmed`);
        return;
      }
      // Another Sentinel's announcement of it was confirmed first, and acted on.
      if (this.handled(s, key)) {
        this.stats.duplicates++;
        return;
      }
      // One Sentinel's word is enough only from one of the group: a Sentinel configured by mistake
      // (another deployment's, whose master has the same name) would move the VIP off the real master.
      const group = this.groupOf(master, answer);
      if (!group.member) {
        const why = failure('sentinel-foreign', { address: sentinel, master });
        this.log.warn({ master, sentinel, answer, code: why.code }, `${channel} ignored: ${why.line()}`);
        this.stats.foreign++;
        return;
      }
      const acted = readActedEpoch(this.config.stateDir, master);
      if (acted && acted.epoch >= answer.epoch) {
        // The same Sentinels, the same failover or an older one: done. Another address at the same
        // epoch, or a Sentinel this host never heard from (rebuilt: its epochs start again from 0), is
        // not for one announcement to judge: the full question decides (see the pipeline's epoch floor).
        const same = acted.epoch > answer.epoch || (acted.ip === ip && acted.port === port);
        if (same && sameSentinels(acted.ids, answer.id ? [answer.id] : [])) {
          s.handled = { key, at: this.now };
          this.stats.late++;
          this.log.info(
            { master, epoch: answer.epoch, acted },
            'already acted on this failover or a newer one: nothing to do',
          );
          return;
        }
        await this.reconcile(master, `${channel} from Sentinels this host has no record of`);
        return;
      }
      // A follower Sentinel announces the switch when it learns of it, often seconds later: a reconcile
      // started meanwhile (at start, after a reconnection) may be converging to this very failover.
      // Superseding it would only stop it halfway and do its work again.
      const converging = this.state(master).converging;
      if (converging && converging.ip === ip && converging.port === port && converging.epoch >= answer.epoch) {
        s.handled = { key, at: this.now };
        this.stats.late++;
        this.log.info(
          { master, epoch: answer.epoch },
          'a reconcile in progress is converging to this failover already: nothing more to do',
        );
        return;
      }
      // The Sentinels this epoch belongs to are the leader and those it knows: exec's once-per-failover
      // record names them all, so that the hook, confirmed a moment later by another of them, finds it done.
      const who = whoAnswered([answer]);
      const ids = [...new Set([...(who.ids ?? []), ...group.peers.flatMap((p) => (p.id ? [p.id] : []))])].sort();
      const state = { ip, port, epoch: answer.epoch, ...who, ...(ids.length ? { ids } : {}) };
      acting = { key, at: this.now };
      s.handled = acting;
      // A new failover: announce the VIP (a fresh master's neighbours must learn it), and take over
      // from whatever an older run still has pending.
      let appliedAt: number | undefined;
      const result = await reconcileMaster(master, this.config, this.deps, {
        ...opts,
        // The first change in place (the VIP added): its announcements and the other actions come after.
        onStepDone: () => {
          appliedAt ??= performance.now();
        },
        announce: true,
        claim: true,
        decision: { clear: true, state, answers: [answer] },
      });
      this.report(master, channel, result);
      this.opts.metrics?.ran(master, result, false);
      if (result.outcome === 'converged' && appliedAt !== undefined)
        this.opts.metrics?.applied((appliedAt - heardAt) / 1000);
      // Not acted on after all: another Sentinel's announcement of it may still try.
      if (result.outcome === 'failed' || result.outcome === 'unsure' || result.outcome === 'older-epoch')
        this.forget(s, acting);
    } catch (err) {
      this.forget(s, acting);
      this.log.error(
        { master, error: errorLine(err), code: codeOf(err) },
        `acting on ${channel} failed; the next reconcile tries again`,
      );
      this.checkLockDir();
    } finally {
      done();
    }
  }

  private forget(s: MasterWatch, acting: MasterWatch['handled']): void {
    if (acting && s.handled === acting) s.handled = undefined;
  }

  /**
   * Quorum loss (opt-in, vip `release.noQuorumFor`): the host holding the VIP that has not reached a
   * majority of the configured Sentinels for that long lets the VIP go. Judged by timed questions,
   * asked here often enough to tell a blip from an outage.
   */
  private armRelease(): void {
    clearInterval(this.releaseTimer);
    const limits = Object.keys(this.config.masters).flatMap((master) => {
      const entries = releaseEntries(this.config, master);
      return entries.length ? [{ master, ms: Math.min(...entries.map((e) => e.after)) }] : [];
    });
    if (limits.length === 0) return;
    const every = Math.max(250, Math.min(1000, Math.floor(Math.min(...limits.map((l) => l.ms)) / 4)));
    this.releaseTimer = setInterval(() => {
      for (const { master, ms } of limits) void this.track(this.checkQuorum(master, ms));
    }, every);
  }

  private async checkQuorum(master: string, noQuorumFor: number): Promise<void> {
    const s = this.state(master);
    const askedAt = this.now;
    const question = this.runOptions(this.config.sentinels!.timeout + 100);
    const answers = await askMasterState(master, this.config, this.deps, question.signal)
      .catch(() => [])
      .finally(question.done);
    this.noteReachability(master, answers, askedAt);
    const since = s.noMajoritySince;
    if (s.released || since === undefined || this.now - since < noQuorumFor) return;
    s.released = true;
    this.stats.releases++;
    // Not released (a step failed): the next check tries again.
    const { done, ...opts } = this.runOptions();
    s.released = await releaseMaster(master, this.config, this.deps, { ...opts, silentForMs: this.now - since })
      .then(
        (r) => {
          this.opts.metrics?.ran(master, r, false);
          return r.exitCode === 0;
        },
        () => false,
      )
      .finally(done);
  }
}

/** The master and its new address a Sentinel message announces, if it is one of ours. */
function newMaster(m: SentinelMessage): { master: string; ip: string; port: string } | undefined {
  const words = m.message.split(' ');
  if (m.channel === '+switch-master') {
    const [master, , , ip, port] = words;
    return master && ip && port ? { master, ip, port } : undefined;
  }
  if (m.channel === '+promoted-slave') {
    const [kind, , ip, port, at, master] = words;
    return kind === 'slave' && at === '@' && master && ip && port ? { master, ip, port } : undefined;
  }
  return undefined;
}
