import { canonicalIp, isIpAddress } from '../../values.ts';

/** Trailing comment of every line this tool appends, so an operator can tell where it came from. */
export const MARKER = '# added by sentinel-hook';

/** One line of a hosts file, split so that it can be rebuilt byte for byte. */
interface HostsLine {
  /** The line without its end-of-line bytes. */
  text: string;
  /** '\n', '\r\n' or '' (last line without a newline). */
  eol: string;
}

function splitLines(text: string): HostsLine[] {
  const lines: HostsLine[] = [];
  const re = /\r?\n/g;
  let start = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    lines.push({ text: text.slice(start, m.index), eol: m[0] });
    start = m.index + m[0].length;
  }
  if (start < text.length) lines.push({ text: text.slice(start), eol: '' });
  return lines;
}

/** A whitespace-separated field with its offset, so one field can be replaced or cut without touching the others. */
interface Field {
  value: string;
  start: number;
  end: number;
}

/**
 * What glibc's hosts parser takes for a blank: isspace() in the C locale, so a stray '\r' (a line
 * ending in "\r\r\n"), '\f' and '\v' separate fields just as ' ' and '\t' do.
 */
const BLANK = /[ \t\r\f\v]/;
const FIELD = /[^ \t\r\f\v]+/g;

/**
 * glibc ends a hosts entry at the first '#', wherever it is, and at the first NUL byte (it reads each
 * line as a C string); what follows is kept as it was.
 */
function fields(lineText: string): Field[] {
  const end = lineText.search(/[#\0]/);
  const body = end === -1 ? lineText : lineText.slice(0, end);
  const out: Field[] = [];
  for (const m of body.matchAll(FIELD)) out.push({ value: m[0], start: m.index, end: m.index + m[0].length });
  return out;
}

/**
 * Make every name in `names` resolve to `address`, and only to it, changing as little as possible:
 * - a line whose names are all ours gets its address field replaced (spacing, aliases, comment kept);
 * - a line that also carries other names loses ours (they move to a line of their own, inserted
 *   right after it), so the other names keep pointing where they pointed;
 * - a line already carrying `address` is left alone;
 * - a name found nowhere is appended with a marker comment.
 * Every other byte stays as it was; when nothing needs to change the input comes back identical,
 * which is how callers know not to write at all. Names compare case-insensitively, as the resolver does.
 */
export function editHosts(text: string, names: readonly string[], address: string): string {
  if (!isIpAddress(address)) throw new Error(`editHosts: ${JSON.stringify(address)} is not an IP address`);
  const wanted = canonicalIp(address);
  const ours = new Set(names.map((n) => n.toLowerCase()));
  const lines = splitLines(text);
  const defaultEol = lines.find((l) => l.eol)?.eol ?? '\n';
  const placed = new Set<string>();
  const out: string[] = [];

  for (const line of lines) {
    const f = fields(line.text);
    const [ip, ...hostFields] = f;
    const mine = hostFields.filter((h) => ours.has(h.value.toLowerCase()));
    if (!ip || !isIpAddress(ip.value) || mine.length === 0) {
      out.push(line.text + line.eol);
      continue;
    }
    for (const h of mine) placed.add(h.value.toLowerCase());
    if (canonicalIp(ip.value) === wanted) {
      out.push(line.text + line.eol);
      continue;
    }
    if (mine.length === hostFields.length) {
      out.push(line.text.slice(0, ip.start) + wanted + line.text.slice(ip.end) + line.eol);
      continue;
    }
    // Cut each of our names together with the blank run in front of it; the other names and the comment stay.
    let kept = line.text;
    for (const h of [...mine].reverse()) {
      let cut = h.start;
      while (cut > 0 && BLANK.test(kept[cut - 1]!)) cut--;
      kept = kept.slice(0, cut) + kept.slice(h.end);
    }
    const eol = line.eol || defaultEol;
    out.push(kept + eol);
    out.push(`${wanted}\t${mine.map((h) => h.value).join(' ')}${line.eol}`);
  }

  const absent = names.filter(
    (n, i) => !placed.has(n.toLowerCase()) && names.findIndex((m) => m.toLowerCase() === n.toLowerCase()) === i,
  );
  if (absent.length === 0) return out.join('');
  let result = out.join('');
  if (result.length > 0 && !result.endsWith('\n')) result += defaultEol;
  for (const name of absent) result += `${wanted}\t${name}\t${MARKER}${defaultEol}`;
  return result;
}

/**
 * What a resolver reading `text` would answer for `name`: the addresses of every entry naming it, in
 * file order (glibc answers the first; getaddrinfo with AF_UNSPEC may return one per family).
 */
export function lookupHosts(text: string, name: string): string[] {
  const wantedName = name.toLowerCase();
  const found: string[] = [];
  for (const line of splitLines(text)) {
    const [ip, ...hosts] = fields(line.text);
    if (ip && isIpAddress(ip.value) && hosts.some((h) => h.value.toLowerCase() === wantedName))
      found.push(canonicalIp(ip.value));
  }
  return found;
}
