// An update as `nsupdate -k KEYFILE` takes it on its standard input: what a dry-run prints, so that an
// operator can read it, or send it by hand. Never the secret: nsupdate reads that from the key file.
import type { UpdateMessage, UpdateRecord } from './message.ts';

/** A TXT string in zone-file quoting: `"` and `\` escaped, bytes outside printable ASCII as \DDD. */
function quote(s: string): string {
  let out = '"';
  for (const ch of Buffer.from(s, 'latin1')) {
    if (ch === 0x22 || ch === 0x5c) out += `\\${String.fromCharCode(ch)}`;
    else if (ch < 0x20 || ch > 0x7e) out += `\\${ch.toString().padStart(3, '0')}`;
    else out += String.fromCharCode(ch);
  }
  return `${out}"`;
}

function rdata(r: Extract<UpdateRecord, { data: unknown }>): string {
  return typeof r.data === 'string' ? r.data : r.data.map((b) => quote(b.toString('latin1'))).join(' ');
}

function line(section: 'prereq' | 'update', r: UpdateRecord): string {
  switch (r.kind) {
    case 'absent':
      return `prereq nxrrset ${r.name} IN ${r.type}`;
    case 'exact':
      return `prereq yxrrset ${r.name} IN ${r.type} ${rdata(r)}`;
    case 'delete':
      return `update delete ${r.name} IN ${r.type}`;
    case 'add':
      return `${section} add ${r.name} ${r.ttl} IN ${r.type} ${rdata(r)}`;
  }
}

/** The input; the first server is the one asked first, the others follow only when it does not answer. */
export function nsupdateInput(m: UpdateMessage, servers: readonly { host: string; port: number }[]): string {
  const [first, ...others] = servers.map((s) => `${s.host} ${s.port}`);
  return [
    `server ${first}`,
    ...others.map((s) => `; if it does not answer: server ${s}`),
    `zone ${m.zone}`,
    ...m.prerequisites.map((r) => line('prereq', r)),
    ...m.updates.map((r) => line('update', r)),
    'send',
    'answer',
    '',
  ].join('\n');
}
