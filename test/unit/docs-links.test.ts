// Docs live in many files now (README.md short, the rest under docs/): a moved section or a renamed
// heading must not leave a link pointing nowhere. Every relative link in every tracked-looking *.md file
// must name a file or directory that exists, and its #anchor a heading of that file, slugged as GitHub
// does.

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '../..');
const SKIP_DIRS = new Set(['node_modules', '.git']);

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.isDirectory())
      return SKIP_DIRS.has(e.name) || e.name.startsWith('dist') ? [] : markdownFiles(join(dir, e.name));
    return e.name.endsWith('.md') ? [join(dir, e.name)] : [];
  });
}

/** Lines outside fenced code blocks, with inline code spans blanked (a link inside backticks is text). */
function proseLines(text: string): string[] {
  let fence: string | undefined;
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(```+|~~~+)/.exec(line);
    if (m) {
      if (fence === undefined) fence = m[1]![0]!;
      else if (m[1]![0] === fence) fence = undefined;
      out.push('');
      continue;
    }
    out.push(fence === undefined ? line : '');
  }
  return out;
}

/** GitHub's heading anchor: the rendered text, lower-cased, punctuation other than `-` and `_` dropped,
 * each space a `-`; a repeated slug gets `-1`, `-2`, … */
export function githubSlug(heading: string): string {
  const rendered = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
    .replace(/<[^>]+>/g, '') // inline HTML tags
    .replace(/[*`]/g, '') // emphasis and code marks (underscores are kept: GitHub keeps them)
    .trim()
    .toLowerCase();
  return rendered.replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '').replace(/ /g, '-');
}

function anchorsOf(file: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const line of proseLines(readFileSync(file, 'utf8'))) {
    for (const m of line.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) anchors.add(m[1]!);
    const h = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!h) continue;
    const slug = githubSlug(h[1]!);
    const n = seen.get(slug);
    seen.set(slug, (n ?? -1) + 1);
    anchors.add(n === undefined ? slug : `${slug}-${n + 1}`);
  }
  return anchors;
}

interface Link {
  file: string;
  line: number;
  target: string;
}

function relativeLinks(file: string): Link[] {
  const links: Link[] = [];
  proseLines(readFileSync(file, 'utf8')).forEach((raw, i) => {
    const line = raw.replace(/`[^`]*`/g, '');
    const targets = [
      ...[...line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!),
      ...[...line.matchAll(/^\s*\[[^\]]+\]:\s+(\S+)/g)].map((m) => m[1]!),
    ];
    for (const target of targets) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:, …
      links.push({ file, line: i + 1, target });
    }
  });
  return links;
}

test('the GitHub slug of a heading', () => {
  assert.equal(
    githubSlug('watch: a service that keeps the host in line'),
    'watch-a-service-that-keeps-the-host-in-line',
  );
  assert.equal(githubSlug("Exit codes (Sentinel's contract)"), 'exit-codes-sentinels-contract');
  assert.equal(githubSlug('5a. Units for the watch setup (recommended)'), '5a-units-for-the-watch-setup-recommended');
  assert.equal(githubSlug('`when` (every action)'), 'when-every-action');
  assert.equal(githubSlug('arp_announce'), 'arp_announce');
  assert.equal(
    githubSlug('The hook in sentinel.conf, its wrappers, sudoers'),
    'the-hook-in-sentinelconf-its-wrappers-sudoers',
  );
});

test('every relative link in every *.md file resolves, file and #anchor', () => {
  const files = markdownFiles(ROOT);
  assert.ok(files.some((f) => relative(ROOT, f) === 'README.md'));
  const broken: string[] = [];
  const anchorCache = new Map<string, Set<string>>();
  const anchors = (f: string) => {
    const known = anchorCache.get(f) ?? anchorsOf(f);
    anchorCache.set(f, known);
    return known;
  };
  for (const file of files) {
    for (const { line, target } of relativeLinks(file)) {
      const [path, anchor] = target.split('#', 2) as [string, string | undefined];
      const dest = path === '' ? file : resolve(dirname(file), decodeURIComponent(path));
      const where = `${relative(ROOT, file)}:${line}: ${target}`;
      if (!existsSync(dest)) {
        broken.push(`${where} (no such file)`);
        continue;
      }
      if (anchor === undefined || anchor === '') continue;
      if (statSync(dest).isDirectory() || !dest.endsWith('.md')) {
        broken.push(`${where} (an anchor into something that is not a markdown file)`);
        continue;
      }
      if (!anchors(dest).has(decodeURIComponent(anchor)))
        broken.push(`${where} (no heading with that anchor in ${relative(ROOT, dest)})`);
    }
  }
  assert.deepEqual(broken, [], `broken links:\n${broken.join('\n')}`);
});
