// The command reference, the man page, the config's JSON Schema and the key tables are made by
// scripts/docs.mjs from the CLI's own specs and the zod schema. A spec or a schema changed without
// `node scripts/docs.mjs write` would leave docs that say something the CLI no longer does.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { generatedFiles } from '../../scripts/docs.mjs';
import { main } from '../../src/cli.ts';

const ROOT = resolve(import.meta.dirname, '../..');

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), env: {}, isTty: false }, out, err };
}

test('every generated doc is what scripts/docs.mjs makes now (else: node scripts/docs.mjs write)', async () => {
  const files = await generatedFiles();
  assert.deepEqual([...files.keys()].sort(), [
    'docs/man/sentinel-hook.1',
    'docs/reference/actions/dns.md',
    'docs/reference/actions/exec.md',
    'docs/reference/actions/hosts.md',
    'docs/reference/actions/vip.md',
    'docs/reference/commands.md',
    'docs/reference/config.md',
    'docs/reference/config.schema.json',
  ]);
  const stale = [...files].filter(([path, content]) => readFileSync(join(ROOT, path), 'utf8') !== content);
  assert.deepEqual(
    stale.map(([path]) => path),
    [],
    'not current: run node scripts/docs.mjs write and commit the result',
  );
});

test('the command reference holds what `sentinel-hook help <command>` prints, for every command', async () => {
  const reference = readFileSync(join(ROOT, 'docs/reference/commands.md'), 'utf8');
  const top = capture();
  assert.equal(await main(['--help'], top.io), 0);
  const names = [...(top.out.join('').split('\nCommands:\n')[1] ?? '').matchAll(/^ {2}([a-z]+) /gm)]
    .map((m) => m[1]!)
    .filter((n) => n !== 'help');
  assert.ok(names.includes('reconcile') && names.includes('notify'), `commands listed by --help: ${names}`);
  for (const name of names) {
    const c = capture();
    assert.equal(await main([name, '--help'], c.io), 0);
    // The terminal's width decides where commander wraps; the words are the same.
    const words = (text: string) => text.split(/\s+/).filter(Boolean).join(' ');
    const section = reference.split(`\n## ${name}\n`)[1]?.split('\n## ')[0] ?? '';
    assert.ok(words(section).includes(words(c.out.join(''))), `docs/reference/commands.md: ## ${name} is not its help`);
  }
});

test('the config schema file is what `sentinel-hook schema` prints, and every key says what it is for', async () => {
  const c = capture();
  assert.equal(await main(['schema'], c.io), 0);
  const committed = readFileSync(join(ROOT, 'docs/reference/config.schema.json'), 'utf8');
  assert.equal(c.out.join(''), committed.trimEnd());
  const undescribed: string[] = [];
  const visit = (node: Record<string, unknown>, path: string) => {
    const properties = (node.properties ?? {}) as Record<string, Record<string, unknown>>;
    for (const [key, child] of Object.entries(properties)) {
      const at = `${path}${key}`;
      if (typeof child.description !== 'string' && child.const === undefined) undescribed.push(at);
      for (const sub of [child, child.items, ...((child.anyOf ?? child.oneOf ?? []) as unknown[])])
        if (sub && typeof sub === 'object') visit(sub as Record<string, unknown>, `${at}.`);
    }
    const actions = (node.additionalProperties as { items?: { oneOf?: Record<string, unknown>[] } } | undefined)?.items
      ?.oneOf;
    for (const a of actions ?? []) visit(a, `${path}<${(a.properties as { type: { const: string } }).type.const}>.`);
  };
  visit(JSON.parse(committed), '');
  assert.deepEqual(undescribed, [], 'keys without a description: give each about(…) in its schema');
});

test('`node scripts/docs.mjs man` prints the committed sentinel-hook(1), and groff reads it without a warning', () => {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/docs.mjs'), 'man'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, readFileSync(join(ROOT, 'docs/man/sentinel-hook.1'), 'utf8'));
  assert.match(r.stdout, /^\.TH SENTINEL\\-HOOK 1 /m);
  const groff = spawnSync('groff', ['-man', '-ww', '-z'], { input: r.stdout, encoding: 'utf8', timeout: 30_000 });
  assert.equal(groff.error, undefined, 'groff is needed (Debian package groff)');
  assert.equal(groff.stderr, '');
  assert.equal(groff.status, 0);
});
