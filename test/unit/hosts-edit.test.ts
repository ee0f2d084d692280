import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { editHosts, lookupHosts, MARKER } from '../../src/actions/hosts/edit.ts';

const NAME = 'redis-master.myservice.com';

test('seed 001 file: the master line is repointed, localhost lines untouched', () => {
  const before = [
    '127.0.0.1   localhost localhost.localdomain localhost4 localhost4.localdomain4',
    '::1         localhost localhost.localdomain localhost6 localhost6.localdomain6',
    '200.200.200.1 redis-master.myservice.com',
    '',
  ].join('\n');
  const after = editHosts(before, [NAME], '200.200.200.2');
  assert.equal(after, before.replace('200.200.200.1 redis', '200.200.200.2 redis'));
});

test('spacing, aliases and trailing comment of the edited line are kept', () => {
  const before = '10.0.0.1\t\t redis-master.myservice.com   REDIS-MASTER.myservice.com # primary\n';
  assert.equal(
    editHosts(before, [NAME], '10.0.0.9'),
    '10.0.0.9\t\t redis-master.myservice.com   REDIS-MASTER.myservice.com # primary\n',
  );
});

test('a name sharing a line with other names moves to its own line; the others stay where they were', () => {
  const before = '10.0.0.1 app-db redis-master.myservice.com cache # shared\n10.0.0.5 other\n';
  const after = editHosts(before, [NAME], '10.0.0.2');
  assert.equal(after, '10.0.0.1 app-db cache # shared\n10.0.0.2\tredis-master.myservice.com\n10.0.0.5 other\n');
  assert.deepEqual(lookupHosts(after, 'app-db'), ['10.0.0.1']);
  assert.deepEqual(lookupHosts(after, 'cache'), ['10.0.0.1']);
});

test('an absent name is appended with a marker; a file without a final newline gets one first', () => {
  assert.equal(
    editHosts('127.0.0.1 localhost', [NAME], '10.0.0.2'),
    `127.0.0.1 localhost\n10.0.0.2\t${NAME}\t${MARKER}\n`,
  );
  assert.equal(editHosts('', [NAME], '10.0.0.2'), `10.0.0.2\t${NAME}\t${MARKER}\n`);
});

test('IPv6: an IPv4 entry becomes IPv6 and vice versa; addresses compare canonically', () => {
  assert.equal(editHosts(`10.0.0.1 ${NAME}\n`, [NAME], 'FD00::0:2'), `fd00::2 ${NAME}\n`);
  assert.equal(editHosts(`fd00::1 ${NAME}\n`, [NAME], '10.0.0.2'), `10.0.0.2 ${NAME}\n`);
  const already = `fd00:0:0::2 ${NAME}\n`;
  assert.equal(editHosts(already, [NAME], 'fd00::2'), already);
});

test('the name is removed from every other address, so no resolver finds the old master', () => {
  const before = `10.0.0.1 ${NAME}\nfd00::1 ${NAME}\n# ${NAME} in a comment stays\n`;
  const after = editHosts(before, [NAME], '10.0.0.2');
  assert.equal(after, `10.0.0.2 ${NAME}\n10.0.0.2 ${NAME}\n# ${NAME} in a comment stays\n`);
  assert.deepEqual([...new Set(lookupHosts(after, NAME))], ['10.0.0.2']);
});

test('already correct: the very same string comes back (the caller writes nothing)', () => {
  const text = `# managed\r\n10.0.0.2 ${NAME}\r\n\r\n`;
  assert.equal(editHosts(text, [NAME], '10.0.0.2'), text);
});

test('CRLF files keep CRLF on inserted lines; non-IP first fields are left alone', () => {
  const before = `garbage ${NAME}\r\n10.0.0.1 a ${NAME}\r\n`;
  assert.equal(editHosts(before, [NAME], '10.0.0.2'), `garbage ${NAME}\r\n10.0.0.1 a\r\n10.0.0.2\t${NAME}\r\n`);
});

test('bytes outside ASCII (a Japanese comment read as latin1) survive unchanged', () => {
  const bytes = Buffer.from(`# アプリサーバ\n10.0.0.1 ${NAME}\n`, 'utf8');
  const after = Buffer.from(editHosts(bytes.toString('latin1'), [NAME], '10.0.0.2'), 'latin1');
  assert.equal(after.toString('utf8'), `# アプリサーバ\n10.0.0.2 ${NAME}\n`);
});

test('any C isspace byte separates fields, as in glibc: a stray \\r (\\r\\r\\n), \\f and \\v', () => {
  // "\r\r\n": the line's text ends in '\r', which glibc reads as a blank, not as part of the name.
  assert.equal(
    editHosts(`127.0.0.1 localhost\n10.0.0.1 ${NAME}\r\r\n`, [NAME], '10.0.0.2'),
    `127.0.0.1 localhost\n10.0.0.2 ${NAME}\r\r\n`,
  );
  assert.equal(editHosts(`10.0.0.1\f${NAME}\vother\n`, [NAME], '10.0.0.2'), `10.0.0.1\vother\n10.0.0.2\t${NAME}\n`);
  assert.equal(
    editHosts(`10.0.0.1 other\r${NAME}\r\r\n`, [NAME], '10.0.0.2'),
    `10.0.0.1 other\r\r\n10.0.0.2\t${NAME}\r\n`,
  );
  assert.deepEqual(lookupHosts(`10.0.0.1 ${NAME}\r\r\n`, NAME), ['10.0.0.1']);
});

/** What glibc itself answers for `name` with `text` as /etc/hosts (a private mount namespace; root only). */
function glibcLookup(text: string, name: string): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'hosts-glibc-'));
  try {
    const file = join(dir, 'hosts');
    writeFileSync(file, text, 'latin1');
    const r = spawnSync(
      'unshare',
      [
        '-m',
        '--propagation',
        'private',
        '--',
        'sh',
        '-c',
        'mount --bind "$1" /etc/hosts && exec getent ahosts "$2"',
        'sh',
        file,
        name,
      ],
      { encoding: 'utf8', timeout: 10_000 },
    );
    return [
      ...new Set(
        r.stdout
          .split('\n')
          .filter((l) => /\bSTREAM\b/.test(l))
          .map((l) => l.split(/\s+/)[0]!),
      ),
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('glibc agrees: after the edit the resolver answers only the new address, whatever the blanks', {
  skip: process.getuid?.() === 0 ? false : 'needs root (unshare -m, mount --bind over /etc/hosts)',
}, () => {
  const files = [
    `127.0.0.1 localhost\n10.0.0.1 ${NAME}\r\r\n`,
    `127.0.0.1 localhost\n10.0.0.1\f${NAME}\vother\n`,
    `127.0.0.1 localhost\r\n10.0.0.1 other\r${NAME}\r\r\n`,
  ];
  for (const before of files) {
    assert.deepEqual(glibcLookup(before, NAME), ['10.0.0.1'], `premise: ${JSON.stringify(before)}`);
    const after = editHosts(before, [NAME], '10.0.0.2');
    assert.deepEqual(glibcLookup(after, NAME), ['10.0.0.2'], JSON.stringify(after));
    if (before.includes('other')) assert.deepEqual(glibcLookup(after, 'other'), ['10.0.0.1'], JSON.stringify(after));
  }
});

test('a NUL byte ends a line for us as for glibc: the entry is found and repointed, not appended again', {
  skip: process.getuid?.() === 0 ? false : 'needs root (unshare -m, mount --bind over /etc/hosts)',
}, () => {
  const before = `127.0.0.1 localhost\n10.0.0.1 ${NAME}\0junk\n10.0.0.3 \0${NAME}\n`;
  // Premise, from glibc itself: the name before the NUL counts, the one after it does not.
  assert.deepEqual(glibcLookup(before, NAME), ['10.0.0.1']);
  assert.deepEqual(lookupHosts(before, NAME), glibcLookup(before, NAME));
  const after = editHosts(before, [NAME], '10.0.0.2');
  assert.equal(after, `127.0.0.1 localhost\n10.0.0.2 ${NAME}\0junk\n10.0.0.3 \0${NAME}\n`);
  assert.deepEqual(glibcLookup(after, NAME), ['10.0.0.2']);
});

test('refuses a non-IP address rather than writing a name into the address column', () => {
  assert.throws(() => editHosts('', [NAME], 'redis2.example.com'), /not an IP address/);
});

// ---- properties -------------------------------------------------------------------------------

const OURS = ['redis-master.myservice.com', 'cache-master'];
const OTHERS = ['localhost', 'app1', 'db.internal', 'ip6-localhost'];
const ADDRESSES = ['127.0.0.1', '10.0.0.1', '10.0.0.2', '::1', 'fd00::1', 'fd00::2', '192.168.1.7'];

// Any C isspace byte separates fields (glibc); a '\r' never ends a line here, so it stays inside it.
const blank = fc.constantFrom(' ', '\t', '  ', ' \t', '\f', '\v', ' \r', '\r\t');
const name = fc.oneof(
  fc.constantFrom(...OURS, ...OTHERS),
  fc.constantFrom(...OURS).map((n) => n.toUpperCase()),
);
const entryLine = fc
  .tuple(
    fc.constantFrom('', ' '),
    fc.constantFrom(...ADDRESSES),
    fc.array(fc.tuple(blank, name), { minLength: 1, maxLength: 4 }),
    fc.option(fc.constantFrom(' # note', '\t#x', '# 日本'), { nil: undefined }),
  )
  .map(([lead, ip, names, comment]) => `${lead}${ip}${names.map(([b, n]) => b + n).join('')}${comment ?? ''}`);
const otherLine = fc.oneof(
  fc.constant(''),
  fc.constantFrom('# comment', '#10.0.0.1 redis-master.myservice.com', 'not-an-ip app1', '   '),
);
const hostsFile = fc
  .tuple(
    fc.array(fc.oneof({ weight: 3, arbitrary: entryLine }, { weight: 1, arbitrary: otherLine }), { maxLength: 12 }),
    fc.constantFrom('\n', '\r\n'),
    fc.boolean(),
  )
  .map(([lines, eol, finalEol]) => lines.join(eol) + (finalEol && lines.length ? eol : ''));
const target = fc.constantFrom('10.0.0.2', 'fd00::2', '10.0.0.9');
const names = fc.subarray(OURS, { minLength: 1 });

const mentionsOurs = (line: string, ours: readonly string[]) => {
  const body = line
    .split('#')[0]!
    .trim()
    .split(/[ \t\r\f\v]+/);
  return body.slice(1).some((n) => ours.includes(n.toLowerCase()));
};

test('property: editing twice equals editing once', () => {
  fc.assert(
    fc.property(hostsFile, names, target, (text, ns, ip) => {
      const once = editHosts(text, ns, ip);
      assert.equal(editHosts(once, ns, ip), once);
    }),
    { numRuns: 500 },
  );
});

test('property: every listed name resolves to the new address and nowhere else', () => {
  fc.assert(
    fc.property(hostsFile, names, target, (text, ns, ip) => {
      const out = editHosts(text, ns, ip);
      for (const n of ns) assert.deepEqual([...new Set(lookupHosts(out, n))], [ip], `${n} in:\n${out}`);
    }),
    { numRuns: 500 },
  );
});

test('property: lines without our names are kept byte for byte and in order; other names keep their addresses', () => {
  fc.assert(
    fc.property(hostsFile, names, target, (text, ns, ip) => {
      const out = editHosts(text, ns, ip);
      const untouched = (t: string) => t.split(/\r?\n/).filter((l) => !mentionsOurs(l, ns) && l !== '');
      // Subsequence check: the untouched lines of the input appear in the output in the same order.
      const outLines = out.split(/\r?\n/);
      let at = 0;
      for (const line of untouched(text)) {
        while (at < outLines.length && outLines[at] !== line) at++;
        assert.ok(at < outLines.length, `line ${JSON.stringify(line)} lost`);
        at++;
      }
      for (const other of OTHERS) assert.deepEqual(lookupHosts(out, other), lookupHosts(text, other), `${other} moved`);
    }),
    { numRuns: 500 },
  );
});

test('property: no change means the identical string, and a file already right is never touched', () => {
  fc.assert(
    fc.property(hostsFile, names, target, (text, ns, ip) => {
      const out = editHosts(text, ns, ip);
      const alreadyRight = ns.every((n) => {
        const found = lookupHosts(text, n);
        return found.length > 0 && found.every((a) => a === ip);
      });
      if (alreadyRight) assert.equal(out, text);
    }),
    { numRuns: 500 },
  );
});
