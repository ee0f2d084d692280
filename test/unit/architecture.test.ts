// The layout is the architecture: which folder may import which is checked here, on the real tree,
// so that a shortcut across a boundary fails the build instead of growing into a second pipeline.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const SRC = resolve(import.meta.dirname, '../../src');

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

interface Edge {
  from: string;
  to: string;
  typeOnly: boolean;
}

/** Every relative import of a file, static or dynamic, as paths relative to src/. */
function importsOf(file: string): Edge[] {
  const text = readFileSync(file, 'utf8');
  const edges: Edge[] = [];
  const from = relative(SRC, file);
  for (const m of text.matchAll(
    /(?:^|\n)\s*(import\s+type\s|export\s+type\s)?[^;\n]*?(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g,
  )) {
    edges.push({ from, to: relative(SRC, resolve(dirname(file), m[2]!)), typeOnly: m[1] !== undefined });
  }
  return edges;
}

const files = walk(SRC);
const edges = files.flatMap(importsOf);
const top = (path: string) => (path.includes('/') ? path.slice(0, path.indexOf('/')) : path);

/** What a folder may never import (by top-level name under src/). */
const FORBIDDEN: Record<string, string[]> = {
  actions: ['pipeline', 'commands', 'watch', 'cli.ts', 'state', 'report.ts'],
  state: ['pipeline', 'commands', 'watch', 'cli.ts', 'actions', 'sentinel', 'config', 'systemd', 'report.ts'],
  sentinel: ['pipeline', 'commands', 'watch', 'cli.ts', 'actions', 'state', 'report.ts'],
  pipeline: ['commands', 'watch', 'cli.ts'],
  watch: ['commands', 'cli.ts'],
  systemd: ['pipeline', 'commands', 'watch', 'cli.ts', 'state'],
  config: ['pipeline', 'commands', 'watch', 'cli.ts', 'state'],
};

test('imports point down: actions never import the pipeline or commands, state imports nothing above it', () => {
  const wrong = edges
    .filter((e) => (FORBIDDEN[top(e.from)] ?? []).includes(top(e.to)))
    .map((e) => `${e.from} -> ${e.to}`);
  assert.deepEqual(wrong, []);
});

test('commands never import each other', () => {
  const wrong = edges
    .filter((e) => top(e.from) === 'commands' && top(e.to) === 'commands')
    .map((e) => `${e.from} -> ${e.to}`);
  assert.deepEqual(wrong, []);
});

test('no import cycle (type-only imports aside)', () => {
  const graph = new Map<string, string[]>();
  for (const e of edges) if (!e.typeOnly) graph.set(e.from, [...(graph.get(e.from) ?? []), e.to]);
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const visit = (node: string, path: string[]) => {
    if (state.get(node) === 'done') return;
    if (state.get(node) === 'open') {
      cycles.push([...path.slice(path.indexOf(node)), node].join(' -> '));
      return;
    }
    state.set(node, 'open');
    for (const next of graph.get(node) ?? []) visit(next, [...path, node]);
    state.set(node, 'done');
  };
  for (const f of files) visit(relative(SRC, f), []);
  assert.deepEqual(cycles, []);
});

test('the checker sees the tree: it finds imports in every layer it rules on', () => {
  for (const layer of ['actions', 'state', 'sentinel', 'pipeline', 'commands', 'watch']) {
    assert.ok(
      edges.some((e) => top(e.from) === layer),
      `no import found from src/${layer}/`,
    );
  }
});
