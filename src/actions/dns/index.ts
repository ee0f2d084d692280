import { errorOf } from '../../errors.ts';
import { Failure, failure } from '../../failures.ts';
import { formatDuration } from '../../values.ts';
import type { ActionPlugin, Desired, TaskOutcome, TaskStep } from '../plugin.ts';
import type { Conversation } from './client.ts';
import { readKey, type TsigKey } from './key.ts';
import { decide, markerOf, type Want } from './marker.ts';
import { nsupdateInput } from './nsupdate.ts';
import { type DnsAction, type DnsTarget, dnsSchema, fqdn, listOf, targetOf } from './schema.ts';
import type { Observed } from './update.ts';

/** What the servers hold for the names, or why this host could not ask them. */
export type DnsObservation = { observed: Observed } | { problem: Failure };

const nowSeconds = () => Math.floor(Date.now() / 1000);

function conversation(t: DnsTarget, key: TsigKey, signal: AbortSignal): Conversation {
  return { servers: t.servers, zone: t.zone, key, timeoutMs: t.timeoutMs, signal, now: nowSeconds };
}

/** A step that fails with `f`: exit 2 for what no retry fixes, so that Sentinel drops the event. */
function failingStep(description: string, f: Failure): TaskStep {
  const outcome: TaskOutcome = {
    ok: false,
    summary: f.line(),
    code: f.code,
    ...(f.exitCode === 2 ? { permanent: true } : {}),
  };
  return { kind: 'task', description, detail: { reason: f.line(), code: f.code }, run: async () => outcome };
}

function wantFor(desired: Desired, addresses: Want['addresses']): Want {
  return {
    epoch: desired.epoch,
    addresses,
    fromState: desired.source.kind === 'state',
    ...(desired.sentinels ? { sentinels: desired.sentinels } : {}),
  };
}

const indent = (text: string) =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => `         ${l}`)
    .join('\n');

export const dnsAction: ActionPlugin<DnsAction, DnsObservation> = {
  type: 'dns',
  get schema() {
    return dnsSchema();
  },
  convergent: true,
  summarize(a) {
    const t = targetOf(a);
    return `point ${t.names.join(', ')} (${t.records.join(', ')}, TTL ${t.ttlSeconds} s) at the new master with one TSIG-signed update of zone ${t.zone} on ${t.servers.map((s) => s.label).join(', then ')} (key ${a.key})`;
  },
  claims: (a) => listOf(a.name).map((n) => `DNS name ${fqdn(n)}`),
  // The key file's content is then cut out of every log line by the core, whatever echoes it.
  secrets: (a) => [{ file: a.key }],
  async observe(a, host) {
    const t = targetOf(a);
    const key = readKey(a.key);
    if (key instanceof Failure) return { problem: key };
    // The wire code (sockets, HMAC) loads only when a run or a status asks the servers.
    const { observeNames } = await import('./update.ts');
    const observed = await observeNames(conversation(t, key, host.signal), t);
    return observed instanceof Failure ? { problem: observed } : { observed };
  },
  describe(_a, o) {
    if ('problem' in o) return [o.problem.line()];
    return o.observed.names.map((s) => {
      const m = markerOf(s);
      const addresses = s.addresses.map((x) => `${x.address} (TTL ${x.ttl} s)`).join(', ') || '(no address)';
      const marker = m
        ? `marker: config epoch ${m.epoch ?? 'unknown'}${m.to ? `, ${m.to}` : ''}${m.sentinels ? `, Sentinels ${m.sentinels.join(',')}` : ''}${m.at ? `, written ${new Date(m.at * 1000).toISOString()}` : ''}`
        : 'no marker';
      return `${s.name} -> ${addresses} on ${o.observed.server.label}; ${marker}`;
    });
  },
  // A key this user may not read (a monitoring agent) leaves the name unknown, not wrong.
  status: (a, _desired, o) =>
    'problem' in o
      ? [{ what: `dns ${targetOf(a).names.join(', ')}`, state: 'unknown', seen: o.problem.line() }]
      : undefined,
  async doctor(a, host) {
    return (await import('./doctor.ts')).dnsChecks(a, host);
  },
  async preflight(a) {
    // Offline: the names were checked by the schema; the key file is read as a run reads it.
    const key = readKey(a.key);
    return key instanceof Failure ? [key.line()] : [];
  },
  async sandbox() {
    // UDP and TCP to the servers (AF_INET, AF_INET6), no program, no privilege, nothing written.
    return { programs: [], addressFamilies: [], capabilities: [], writablePaths: [], needsSudo: false };
  },
  budget(a) {
    const t = targetOf(a);
    // Every server silent: the look, then the update, each waits out every server once.
    return {
      ms: 2 * t.servers.length * t.timeoutMs,
      what: `the DNS exchanges (${t.servers.length} server(s) silent, ${formatDuration(t.timeoutMs)} each, twice)`,
      field: 'timeout',
      lower: 'timeout, or the number of servers',
    };
  },
  async plan(a, desired, o, ctx) {
    const t = targetOf(a);
    const action = 'dns';
    // A name cannot point at nobody: it keeps the last master until one is known again.
    if (!desired.target) return { action, note: 'no master to point the names at: left as they are', steps: [] };
    const { wantedAddresses, updateFor, encodeUpdate, markerFacts } = await import('./update.ts');
    const addresses = wantedAddresses(desired.target.addresses, t.records);
    const description = `point ${t.names.join(', ')} at ${addresses.map((x) => x.address).join(', ') || desired.target.ip}`;
    const problem =
      addresses.length === 0
        ? failure('dns-no-address', {
            master: desired.target.ip,
            records: t.records,
            addresses: desired.target.addresses,
          })
        : 'problem' in o
          ? o.problem
          : undefined;
    if (problem) {
      // A dry-run refuses what no retry can fix (exit 2); a real run lets the other actions go first.
      if (ctx.showOnly && problem.exitCode === 2) throw errorOf(problem.within(`dns ${t.names.join(', ')}`));
      return { action, steps: [failingStep(description, problem)] };
    }
    if (!('observed' in o)) throw new Error('unreachable');
    const want = wantFor(desired, addresses);
    const verdict = decide(o.observed.names, want, nowSeconds(), t.rebuiltAfterMs);
    if (verdict.kind === 'nothing' || verdict.kind === 'newer') return { action, note: verdict.why, steps: [] };
    const key = readKey(a.key);
    if (key instanceof Failure) return { action, steps: [failingStep(description, key)] };
    const to = `${desired.target.ip}:${desired.target.port}`;
    const marker = { ...markerFacts({ want, master: desired.master, to }, o.observed.names), at: nowSeconds() };
    const message = updateFor(t, o.observed.names, want, marker, 0);
    const first = o.observed.server;
    const input = nsupdateInput(message, [
      { host: first.address, port: first.port },
      ...t.servers.filter((s) => s.label !== (first.server ?? first.label)),
    ]);
    const epoch = desired.epoch === undefined ? 'unknown config epoch' : `config epoch ${desired.epoch}`;
    const size = encodeUpdate(message).length;
    return {
      action,
      ...(verdict.warning ? { warnings: [verdict.warning] } : {}),
      steps: [
        {
          kind: 'task',
          description:
            `${description} (${epoch}) in one signed update to ${o.observed.server.label}` +
            (ctx.showOnly ? `, as "nsupdate -k ${a.key}" takes it:\n${indent(input)}` : ''),
          detail: {
            server: o.observed.server.label,
            zone: t.zone,
            names: t.names,
            addresses,
            epoch: desired.epoch ?? null,
            bytes: size,
            nsupdate: { argv: ['nsupdate', '-k', a.key], input },
          },
          run: async (apply) =>
            (await import('./update.ts')).runUpdate(
              { target: t, want, master: desired.master, to, observed: o.observed },
              conversation(t, key, apply.signal),
              apply,
            ),
        },
      ],
    };
  },
};
