// The reference docs and the man page, made from what the CLI itself runs on, so they cannot drift:
// - the command reference (docs/reference/commands.md) and sentinel-hook(1) from the commander program
//   that src/cli.ts builds from src/cli-commands.ts's specs: the same text `--help` prints;
// - the config's JSON Schema (docs/reference/config.schema.json, what `sentinel-hook schema` prints) from
//   the zod schema and its descriptions, and from that schema the key tables of docs/reference/config.md
//   and of each action's page.
// Hand-written prose stays around the generated parts, which sit between BEGIN/END GENERATED markers.
//
//   node scripts/docs.mjs man      sentinel-hook(1) as roff, on stdout (what the Debian package installs)
//   node scripts/docs.mjs write    regenerate the committed files
//   node scripts/docs.mjs check    exit 1, naming them, when committed files differ from what write makes
//
// It loads the TypeScript sources through tsx (a devDependency), so it needs no build and no root.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = resolve(import.meta.dirname, '..');
const HELP_WIDTH = 100;
const MAN_PAGE = 'docs/man/sentinel-hook.1';
const SCHEMA_FILE = 'docs/reference/config.schema.json';

/** Every generated file, by path from the repository root, with the content `write` gives it. */
export async function generatedFiles() {
  const [{ Command, CommanderError }, commands, { commandProgram }, { schemaCommand }] = await Promise.all([
    import('commander'),
    import('../src/cli-commands.ts'),
    import('../src/cli.ts'),
    import('../src/commands/check.ts'),
  ]);
  const silent = { out() {}, err() {}, env: {}, isTty: false };
  const program = commandProgram({ Command, CommanderError }, commands, silent, () => {});
  for (const c of [program, ...program.commands]) c.configureHelp({ ...c.configureHelp(), helpWidth: HELP_WIDTH });
  const schemaText = `${schemaCommand()}\n`;
  const schema = JSON.parse(schemaText);
  const actions = actionSchemas(schema);

  const files = new Map();
  files.set(SCHEMA_FILE, schemaText);
  files.set(MAN_PAGE, manPage(program, readRepo('docs/reference/exit-codes.md')));
  files.set('docs/reference/commands.md', fill('docs/reference/commands.md', { commands: commandsMarkdown(program) }));
  files.set(
    'docs/reference/config.md',
    fill('docs/reference/config.md', { 'config-keys': keysTable(schema, { actionsDir: 'actions/' }) }),
  );
  for (const [type, node] of actions) {
    const page = `docs/reference/actions/${type}.md`;
    files.set(page, fill(page, { 'action-keys': keysTable(node) }));
  }
  return files;
}

function readRepo(path) {
  return readFileSync(join(ROOT, path), 'utf8');
}

const begin = (name) =>
  `<!-- BEGIN GENERATED ${name}: made by scripts/docs.mjs from the sources; edit those, then run node scripts/docs.mjs write -->`;
const end = (name) => `<!-- END GENERATED ${name} -->`;

/** The page with each named generated part replaced; the hand-written rest as it is on disk. */
function fill(path, parts) {
  let text = readRepo(path);
  for (const [name, body] of Object.entries(parts)) {
    const a = text.indexOf(begin(name));
    const b = text.indexOf(end(name));
    if (a < 0 || b < a) throw new Error(`${path}: no "${begin(name)}" ... "${end(name)}" markers`);
    text = `${text.slice(0, a)}${begin(name)}\n\n${body.trim()}\n\n${text.slice(b)}`;
  }
  return text;
}

// ---- commands

function commandsMarkdown(program) {
  const out = [
    '## The hook call, and every command',
    '',
    "What `sentinel-hook --help` prints. Without a command, the seven operands are Sentinel's call.",
    '',
    '```text',
    program.helpInformation().trimEnd(),
    '```',
  ];
  for (const c of program.commands) {
    out.push('', `## ${c.name()}`, '', '```text', c.helpInformation().trimEnd(), '```');
  }
  return out.join('\n');
}

function sentence(text) {
  const t = text.trim();
  return `${t[0].toUpperCase()}${t.slice(1)}${/[.!?]$/.test(t) ? '' : '.'}`;
}

// ---- the man page

/** roff text: backslashes and dashes escaped, a leading dot or quote made literal. */
function roff(text) {
  return text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/^([.'])/gm, '\\&$1')
    .replace(/[^\x00-\x7f]/gu, (c) => `\\[u${c.codePointAt(0).toString(16).toUpperCase().padStart(4, '0')}]`);
}

/** Inline markdown (code spans, emphasis, links) as roff. */
function roffInline(md) {
  const parts = md.split(/(`[^`]*`)/);
  return parts
    .map((p) =>
      p.startsWith('`') && p.endsWith('`') && p.length > 1
        ? `\\fB${roff(p.slice(1, -1))}\\fR`
        : roff(p.replace(/\[([^\]]+)\]\([^)]*\)/g, '$1').replace(/\*\*?([^*]+)\*\*?/g, '$1')),
    )
    .join('');
}

function manOption(help, o) {
  return ['.TP', `.B ${roff(help.optionTerm(o))}`, roff(help.optionDescription(o))];
}

function manPage(program, exitCodesMd) {
  const pkg = JSON.parse(readRepo('package.json'));
  const help = program.createHelp();
  const lines = [
    `.\\" Generated by scripts/docs.mjs from src/cli-commands.ts; do not edit.`,
    `.TH SENTINEL\\-HOOK 1 "" "sentinel\\-hook ${roff(pkg.version)}" "User Commands"`,
    '.SH NAME',
    `sentinel\\-hook \\- ${roff(pkg.description)}`,
    '.SH SYNOPSIS',
    `.B sentinel\\-hook`,
    roff(help.commandUsage(program).replace(/^sentinel-hook /, '')),
    '.br',
    '.B sentinel\\-hook',
    '.I command',
    '[\\fIoptions\\fR] [\\fIarguments\\fR]',
    '.SH DESCRIPTION',
    `${roff(sentence(program.description()))}`,
    '.PP',
    roff(
      'Redis Sentinel runs it as its client-reconfig-script with seven operands when it promotes a replica; ' +
        'it then brings this host in line with the new master through the actions the config lists for that ' +
        'master (vip, hosts, exec, dns), and exits with the code Sentinel needs. The commands below check and ' +
        'generate what it needs, and run it as a service (watch) or by hand (reconcile).',
    ),
    '.SH OPTIONS',
    'Of the hook call; a command takes only its own options.',
    ...help.visibleOptions(program).flatMap((o) => manOption(help, o)),
    '.SH COMMANDS',
  ];
  for (const c of program.commands) {
    const h = c.createHelp();
    lines.push(`.SS ${roff(c.name())}`, `.B ${roff(h.commandUsage(c))}`, '.br', roff(sentence(c.description())));
    const args = h.visibleArguments(c);
    // Every command has --help: said once, under OPTIONS.
    const opts = h.visibleOptions(c).filter((o) => o.long !== '--help');
    if (args.length > 0 || opts.length > 0) lines.push('.RS');
    for (const a of args) lines.push('.TP', `.I ${roff(h.argumentTerm(a))}`, roff(h.argumentDescription(a)));
    for (const o of opts) lines.push(...manOption(h, o));
    if (args.length > 0 || opts.length > 0) lines.push('.RE');
  }
  lines.push('.SH EXIT STATUS');
  for (const row of markdownTable(exitCodesMd)) {
    const [code, meaning, sentinel] = row;
    lines.push('.TP', `.B ${roff(code)}`, `${roffInline(meaning)}.`);
    if (sentinel && !sentinel.startsWith('(')) lines.push(`Sentinel: ${roffInline(sentinel)}.`);
  }
  lines.push(
    '.SH ENVIRONMENT',
    '.TP',
    '.B SENTINEL_HOOK_CONFIG',
    roff('The config file when no --config is given; else /etc/sentinel-hook/config.yaml.'),
    '.TP',
    '.B SENTINEL_HOOK_NODE',
    roff("The node the hooks/ wrappers start (Sentinel's bare environment often has no PATH)."),
    '.TP',
    '.B SENTINEL_HOOK_JITLESS',
    roff("1: the wrappers start node --jitless (under Sentinel's MemoryDenyWriteExecute=yes)."),
    '.SH FILES',
    '.TP',
    '.I /etc/sentinel\\-hook/config.yaml',
    roff('The config (YAML or JSON); its JSON Schema: sentinel-hook schema.'),
    '.TP',
    '.I /var/log/sentinel\\-hook/hook.log',
    roff("The hook's log, JSON lines (log.file)."),
    '.TP',
    '.I /run/sentinel\\-hook',
    roff('Locks and generations (lockDir).'),
    '.TP',
    '.I /var/lib/sentinel\\-hook',
    roff('The pause and the records kept across reboots (stateDir).'),
    '.SH SEE ALSO',
    '.BR redis\\-sentinel (1),',
    '.BR sudoers (5),',
    '.BR systemd.exec (5),',
    '.BR ip (8),',
    '.BR arping (8)',
    '.PP',
    roff('docs/ in the source: the runbook, operations, the configuration reference and the design.'),
  );
  return `${lines.join('\n')}\n`;
}

/** The body rows of the first table in a markdown text, as cells. */
function markdownTable(md) {
  const rows = md
    .split('\n')
    .filter((l) => l.startsWith('|'))
    .map((l) =>
      l
        .slice(1, -1)
        .split(/(?<!\\)\|/)
        .map((c) => c.trim()),
    );
  return rows.slice(2);
}

// ---- the config reference

/** Each action type's schema, from the union under masters. */
function actionSchemas(schema) {
  const union = schema.properties.masters.additionalProperties.items.oneOf;
  return new Map(union.map((node) => [node.properties.type.const, node]));
}

function cell(text) {
  return String(text).replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function typeOf(node, ctx) {
  if (node.const !== undefined) return `\`${JSON.stringify(node.const)}\``;
  if (node.enum) return node.enum.map((v) => `\`${v}\``).join(' or ');
  const alternatives = node.anyOf ?? node.oneOf;
  if (alternatives) {
    const types = alternatives.map((a) => a.type);
    if (types.length === 2 && types.includes('string') && types.includes('integer')) return 'duration (`5s`, `200ms`)';
    if (alternatives.every((a) => a.type === 'object' && a.properties))
      return alternatives.map((a) => `\`{ ${Object.keys(a.properties).join(', ')} }\``).join(' or ');
    return alternatives.map((a) => typeOf(a, ctx)).join(' or ');
  }
  switch (node.type) {
    case 'array':
      if (node.prefixItems) return 'argv: list of strings';
      return `list of ${typeOf(node.items, ctx).replace(/^(string|integer|boolean|object)$/, '$1s')}`;
    case 'object':
      if (node.properties) return 'object';
      if (node.additionalProperties?.items?.oneOf && ctx?.actionsDir)
        return `map: name → list of actions (${node.additionalProperties.items.oneOf
          .map((a) => `[${a.properties.type.const}](${ctx.actionsDir}${a.properties.type.const}.md)`)
          .join(', ')})`;
      return 'map';
    case 'integer': {
      const range = node.minimum !== undefined && node.maximum !== undefined ? ` ${node.minimum}–${node.maximum}` : '';
      return `integer${range}`;
    }
    default:
      return node.type ?? 'any';
  }
}

function defaultOf(node, required) {
  if (required) return 'required';
  if (node.default === undefined) return '';
  if (typeof node.default === 'object' && !Array.isArray(node.default)) return '';
  return `\`${typeof node.default === 'string' ? node.default : JSON.stringify(node.default)}\``;
}

function keyRows(node, prefix, ctx, rows) {
  const required = new Set(node.required ?? []);
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const path = `${prefix}${key}`;
    rows.push(
      `| \`${path}\` | ${cell(typeOf(child, ctx))} | ${defaultOf(child, required.has(key))} | ${cell(child.description ?? (child.const !== undefined ? 'the action type' : ''))} |`,
    );
    if (child.type === 'object' && child.properties) keyRows(child, `${path}.`, ctx, rows);
    if (child.type === 'array' && child.items?.type === 'object') keyRows(child.items, `${path}[].`, ctx, rows);
  }
  return rows;
}

function keysTable(node, ctx) {
  return ['| key | type | default | what it is for |', '| --- | --- | --- | --- |', ...keyRows(node, '', ctx, [])].join(
    '\n',
  );
}

// ---- the command line

async function cli(mode) {
  const { register } = await import('tsx/esm/api');
  register();
  if (mode === 'man') {
    const files = await generatedFiles();
    process.stdout.write(files.get(MAN_PAGE));
    return 0;
  }
  if (mode === 'write' || mode === 'check') {
    const stale = [];
    for (const [path, content] of await generatedFiles()) {
      let current;
      try {
        current = readRepo(path);
      } catch {
        current = undefined;
      }
      if (current === content) continue;
      stale.push(path);
      if (mode === 'write') writeFileSync(join(ROOT, path), content);
    }
    if (mode === 'write') console.error(stale.length ? `written: ${stale.join(', ')}` : 'all current');
    else if (stale.length) console.error(`not current (run node scripts/docs.mjs write): ${stale.join(', ')}`);
    return mode === 'check' && stale.length ? 1 : 0;
  }
  console.error('usage: node scripts/docs.mjs man|write|check');
  return 2;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await cli(process.argv[2]);
}
