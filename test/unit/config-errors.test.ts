// Errors that teach: check lists every problem at once in file order with its line; a run shows the first
// and how many more; an unknown key names the nearest known one; a bare number out of range is asked for
// its unit; bare-number durations are deprecated by check's warnings but still run; YAML's code frame stays.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configReport, parseConfigText, problemText } from '../../src/config/load.ts';

const CONFIG = `deadline: 45
sentinels:
  adresses: [127.0.0.1:26379]
masters:
  mymaster:
    - type: vip
      address: 10.0.0.100/24
      interfce: eth0
    - type: exec
      run: [/bin/true]
      timout: 3s
`;

test('check: every problem at once, in file order, each with its line; unknown keys with the nearest known one', async () => {
  const { problems, warnings } = await configReport(CONFIG, 'c.yaml');
  assert.deepEqual(problems.map(problemText), [
    'line 1: deadline: 45 what? A bare number is milliseconds (45ms), and this takes from 1s to 58s: write 45s',
    'line 2: sentinels.addresses: required (expected a list)',
    'line 3: sentinels: unknown key "adresses" (did you mean "addresses"?)',
    'line 8: masters.mymaster[0]: unknown key "interfce" (did you mean "interface"?)',
    'line 11: masters.mymaster[1]: unknown key "timout" (did you mean "timeout"?)',
  ]);
  assert.deepEqual(warnings, []);
});

test('a run: the first problem in file order, and how many more, pointing at check', async () => {
  await assert.rejects(parseConfigText(CONFIG, '/etc/c.yaml'), (err: Error & { line(): string; exitCode: number }) => {
    assert.equal(err.exitCode, 2);
    assert.match(
      err.line(),
      /^config \/etc\/c\.yaml: line 1: deadline: 45 what\? .*: write 45s, and 4 more \(run sentinel-hook check\) \(correct that field/,
    );
    return true;
  });
});

test('JSON configs get lines too; a key far from any known one lists the keys that are', async () => {
  const json =
    '{\n  "masters": {\n    "m": [\n      { "type": "exec", "run": ["/bin/true"], "zzzzzz": 1 }\n    ]\n  }\n}\n';
  const { problems } = await configReport(json, 'c.json');
  assert.equal(problems.length, 1);
  assert.match(
    problemText(problems[0]!),
    /^line 4: masters\.m\[0\]: unknown key "zzzzzz" \(known here: type, .*run.*\)$/,
  );
});

test('bare-number durations: valid at run time (0 too), one deprecation warning each from check, with the line', async () => {
  const text = `deadline: 45000
masters:
  m:
    - type: exec
      run: [/bin/true]
      timeout: 250
    - type: exec
      run: [/bin/true]
      timeout: 2s
notify:
  - run: [/bin/true]
    timeout: 10000
`;
  const config = await parseConfigText(text, 'c.yaml');
  assert.equal(config.deadline, 45_000);
  const { problems, warnings } = await configReport(text, 'c.yaml');
  assert.deepEqual(problems, []);
  assert.deepEqual(warnings.map(problemText), [
    'line 1: deadline: 45000 is a bare number, read as 45000ms: bare numbers are deprecated, write "45000ms" (or "45s") (0 may stay bare)',
    'line 6: masters.m[0].timeout: 250 is a bare number, read as 250ms: bare numbers are deprecated, write "250ms" (0 may stay bare)',
    'line 12: notify[0].timeout: 10000 is a bare number, read as 10000ms: bare numbers are deprecated, write "10000ms" (or "10s") (0 may stay bare)',
  ]);
  // 0 is 0 in any unit.
  const zero = await configReport(
    'masters:\n  m:\n    - type: vip\n      address: 10.0.0.100/24\n      interface: eth0\n      arp: { repeatAfter: 0 }\n',
    'c.yaml',
  );
  assert.deepEqual(zero.warnings, []);
});

test('a bare number out of range that fits no unit: asked what it meant, with the range', async () => {
  const { problems } = await configReport(
    'deadline: 100000\nmasters: { m: [{ type: exec, run: [/bin/true] }] }\n',
    'c',
  );
  assert.deepEqual(problems.map(problemText), [
    'line 1: deadline: 100000 what? A bare number is milliseconds (100000ms), and this takes from 1s to 58s',
  ]);
});

test("YAML that does not parse: one line with the fix, and the parser's code frame shown under it", async () => {
  await assert.rejects(
    parseConfigText('masters:\n  m:\n    - type: exec\n     run: [/bin/true]\n', 'c.yaml'),
    (err: Error & { line(): string; shown?: string }) => {
      assert.match(err.line(), /^config c\.yaml is not valid YAML\/JSON: .* at line 4, column \d+ \(correct it; /);
      assert.doesNotMatch(err.line(), /\n/);
      assert.match(String(err.shown), /^ *- type: exec\n *run: \[\/bin\/true\]\n\^/);
      return true;
    },
  );
});

test('check: two entries claiming one thing is a problem at the second entry, with its line', async () => {
  const text = `masters:
  a:
    - type: vip
      address: 10.0.0.100/24
      interface: eth0
  b:
    - type: vip
      address: 10.0.0.100/24
      interface: eth0
`;
  const { problems } = await configReport(text, 'c.yaml');
  assert.equal(problems.length, 1);
  assert.match(problemText(problems[0]!), /^line 7: masters\.b\[0\]: masters\.a\[0\] and masters\.b\[0\] both claim /);
});
