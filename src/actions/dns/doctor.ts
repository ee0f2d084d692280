// doctor's check of a dns entry: one signed update per configured server whose only content is a
// prerequisite (RFC 2136 §2.4), so the server checks the key (TSIG) and that it is primary for the zone,
// then evaluates the prerequisite and changes nothing whatever the outcome: an update section is empty.
import { Failure } from '../../failures.ts';
import type { DoctorCheck, DoctorHost } from '../plugin.ts';
import { askServers } from './client.ts';
import { readKey } from './key.ts';
import { markerName } from './marker.ts';
import { encodeUpdate, RCODE, RCODE_NAMES, type UpdateMessage } from './message.ts';
import { type DnsAction, targetOf } from './schema.ts';

/** The probe: "the marker RRset of the first name does not exist", and no update at all. */
export function probeUpdate(zone: string, name: string, id: number): UpdateMessage {
  return { id, zone, prerequisites: [{ kind: 'absent', name: markerName(name), type: 'TXT' }], updates: [] };
}

export async function dnsChecks(a: DnsAction, host: DoctorHost): Promise<DoctorCheck[]> {
  const signal = host.signal;
  const t = targetOf(a);
  const key = readKey(a.key);
  if (key instanceof Failure) return [{ check: `dns key ${a.key}`, result: 'fail', detail: key.message, fix: key.fix }];
  const checks: DoctorCheck[] = [];
  // The update is signed as Sentinel's user: the key must be readable by it, not only by root.
  if ((await host.readableByUser?.(a.key)) === false)
    checks.push({
      check: `dns key ${a.key}`,
      result: 'fail',
      detail: `${host.user} cannot read it`,
      fix: `chown root:${host.user} ${a.key}; chmod 640 ${a.key}`,
    });
  for (const server of t.servers) {
    const check = `dns update on ${server.label} (zone ${t.zone})`;
    const got = await askServers(
      {
        servers: [server],
        zone: t.zone,
        key,
        timeoutMs: t.timeoutMs,
        signal,
        now: () => Math.floor(Date.now() / 1000),
      },
      (id) => [encodeUpdate(probeUpdate(t.zone, t.names[0]!, id()))],
      { update: true },
    );
    if (got instanceof Failure) {
      checks.push({ check, result: 'fail', detail: got.message, fix: got.fix });
      continue;
    }
    const rcode = got.answers[0]!.rcode;
    // YXRRSET: the marker exists, which is fine: the server took the key and the zone to get that far.
    const ok = rcode === RCODE.NOERROR || rcode === RCODE.YXRRSET || rcode === RCODE.NXRRSET;
    checks.push(
      ok
        ? {
            check,
            result: 'pass',
            detail: `key ${key.name} accepted; a prerequisite-only update answered ${RCODE_NAMES[rcode]}, nothing changed`,
          }
        : {
            check,
            result: 'fail',
            detail: `a prerequisite-only update answered ${RCODE_NAMES[rcode] ?? rcode}`,
            fix: `see the server's log for why it refused an update of ${t.zone} signed with ${key.name}`,
          },
    );
  }
  return checks;
}
