// Item 13 of issue 8: one parser rule for JSON and YAML configs, and type errors that say what was expected.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfigText, validateConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/errors.ts';

const exec = { type: 'exec', run: ['/bin/true'] };

async function refused(text: string, line: RegExp): Promise<void> {
  await assert.rejects(parseConfigText(text, 'c.yaml'), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.exitCode, 2);
    assert.match(err.line(), line);
    assert.doesNotMatch(err.line(), /\n/);
    return true;
  });
}

test('config text: duplicate keys are refused in JSON as in YAML', async () => {
  await refused(
    'masters:\n  m: [{ type: exec, run: [/bin/true] }]\nmasters:\n  n: [{ type: exec, run: [/bin/true] }]\n',
    /^config c\.yaml is not valid YAML\/JSON: .*unique/,
  );
  await refused(
    '{"masters": {"m": [{"type": "exec", "run": ["/bin/true"]}]}, "masters": {"n": [{"type": "exec", "run": ["/bin/true"]}]}}',
    /^config c\.yaml is not valid YAML\/JSON: duplicate key "masters"/,
  );
  // Deeper down, and spelt differently: the same key once decoded.
  await refused(
    '{"masters": {"m": [{"type": "exec", "run": ["/bin/true"], "timeout": "1s", "time\\u006fut": "2s"}]}}',
    /duplicate key "timeout"/,
  );
  // Equal keys in different objects are not duplicates.
  const c = await parseConfigText(
    '{"masters": {"m": [{"type": "exec", "run": ["/bin/true"]}, {"type": "exec", "run": ["/bin/false"]}]}}',
    'c.json',
  );
  assert.equal(c.masters.m!.length, 2);
});

test('config text: a YAML flow mapping that starts with { is read as YAML', async () => {
  const c = await parseConfigText('{ masters: { m: [ { type: exec, run: [/bin/true] } ] } }\n', 'c.yaml');
  assert.deepEqual(Object.keys(c.masters), ['m']);
});

test('config text: a UTF-8 byte-order mark is accepted, in YAML and JSON', async () => {
  const yaml = await parseConfigText('\uFEFFmasters:\n  m: [{ type: exec, run: [/bin/true] }]\n', 'c.yaml');
  assert.deepEqual(Object.keys(yaml.masters), ['m']);
  const json = await parseConfigText(`\uFEFF${JSON.stringify({ masters: { m: [exec] } })}`, 'c.json');
  assert.deepEqual(Object.keys(json.masters), ['m']);
});

test('config text: an unknown YAML tag is an error (exit 2, one line), not a warning', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.message);
  process.on('warning', onWarning);
  try {
    await refused(
      'masters:\n  m: [{ type: exec, run: !shell [/bin/true] }]\n',
      /^config c\.yaml is not valid YAML\/JSON: .*tag.*!shell/i,
    );
  } finally {
    process.off('warning', onWarning);
  }
  assert.deepEqual(warnings, []);
});

const typeErrors: [string, unknown, RegExp][] = [
  [
    'privilege: yes',
    { masters: { m: [{ ...exec, privilege: 'yes' }] } },
    /masters\.m\[0\]\.privilege: expected one of "sudo", "none"/,
  ],
  ['deadline: -1', { deadline: -1, masters: { m: [exec] } }, /deadline: expected a duration like "200ms" or "5s"/],
  [
    'timeout: 1.5 (a bare number is whole milliseconds)',
    { masters: { m: [{ ...exec, timeout: 1.5 }] } },
    /masters\.m\[0\]\.timeout: expected a duration like "200ms" or "5s"/,
  ],
  ['an action list that is a mapping', { masters: { m: {} } }, /masters\.m: expected a list, got a mapping/],
  ['log that is a number', { log: 5, masters: { m: [exec] } }, /log: expected a mapping, got a number/],
  [
    'log level typo',
    { log: { level: 'loud' }, masters: { m: [exec] } },
    /log\.level: expected one of "debug", "info", "warn", "error"/,
  ],
  [
    'password inline',
    { sentinels: { addresses: ['10.0.0.1:26379'], password: 's3cret' }, masters: { m: [exec] } },
    /sentinels\.password: expected \{ env: VARIABLE \} or \{ file: \/path \}/,
  ],
  [
    'a number in run',
    { masters: { m: [{ type: 'exec', run: ['/bin/echo', 5] }] } },
    /masters\.m\[0\]\.run\[1\]: expected a string, got a number/,
  ],
  [
    'a required key missing',
    { masters: { m: [{ type: 'exec' }] } },
    /masters\.m\[0\]\.run: required \(expected a list\)/,
  ],
  ['a list for the whole config', [], /\(top level\): expected a mapping, got a list/],
];
for (const [name, raw, line] of typeErrors) {
  test(`config type error names what was expected: ${name}`, () => {
    assert.throws(
      () => validateConfig(raw, 'c.yaml'),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.equal(err.exitCode, 2);
        assert.doesNotMatch(err.line(), /Invalid input/);
        assert.match(err.line(), line);
        assert.doesNotMatch(err.line(), /s3cret/);
        return true;
      },
    );
  });
}

test('a config is checked with only the action types and top-level parts it has, and gets what the whole schema gives', async () => {
  const { configSchema } = await import('../../src/config/schema.ts');
  const { readFileSync, readdirSync } = await import('node:fs');
  const { parse } = await import('yaml');
  const examples = new URL('../../examples/', import.meta.url);
  for (const dir of readdirSync(examples)) {
    let text: string;
    try {
      text = readFileSync(new URL(`${dir}/config.yaml`, examples), 'utf8');
    } catch {
      continue;
    }
    const raw = parse(text);
    const { stateDir: _s, ...got } = validateConfig(raw, 'c.yaml');
    const { stateDir: _t, ...all } = configSchema().parse(raw) as typeof got & { stateDir?: string };
    assert.deepEqual(got, all, dir);
  }
  // sentinels, metrics and notify are built only when the file has them: with them, the same result too.
  const full = {
    sentinels: { addresses: ['10.0.0.1:26379'], password: { env: 'P' }, tls: { ca: '/etc/ca.pem' } },
    metrics: { listen: '9469', textfile: '/var/lib/node_exporter' },
    notify: [{ events: ['+odown'], run: ['/bin/true', '{master}'] }],
    masters: { m: [exec] },
  };
  const { stateDir: _u, ...withParts } = validateConfig(full, 'c.yaml');
  const { stateDir: _v, ...allParts } = configSchema().parse(full) as typeof withParts & { stateDir?: string };
  assert.deepEqual(withParts, allParts);
  assert.throws(
    () => validateConfig({ ...full, notify: [{ run: ['/bin/true'], events: ['odown'] }] }, 'c.yaml'),
    /notify\[0\]\.events\[0\]: expected a Sentinel event type such as "\+switch-master"/,
  );
  // One entry of a type the config does not otherwise name: its problem reads as with every type.
  const bad = { masters: { m: [exec, { type: 'vip', address: '10.0.0.1/24', arp: { count: 0 } }] } };
  assert.throws(() => validateConfig(bad, 'c.yaml'), /masters\.m\[1\]\.arp\.count: expected at least 1/);
  // A type nobody registered: the message names every type there is.
  assert.throws(
    () => validateConfig({ masters: { m: [exec, { type: 'nope' }] } }, 'c.yaml'),
    (err: unknown) => {
      for (const type of ['exec', 'hosts', 'vip', 'dns'])
        assert.match(String((err as Error).message), new RegExp(type));
      return true;
    },
  );
});
