// How the CLI reads its arguments: a hook call by its shape whatever the master is named, a command
// by its name, a privileged helper only through its own entry. No process is started here.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { actionPlugins } from '../../src/actions/index.ts';
import { helperMain, hookCall, main } from '../../src/cli.ts';
import { COMMANDS } from '../../src/cli-commands.ts';

const OPERANDS = ['leader', 'start', '10.0.0.1', '6379', '10.0.0.2', '6379'];

function fakeIo() {
  const io = { out: [] as string[], err: [] as string[] };
  return {
    io,
    fake: { out: (t: string) => io.out.push(t), err: (t: string) => io.err.push(t), env: {}, isTty: false },
  };
}

test('a hook call is taken by its shape, whatever the first word: every command name, help, version', () => {
  for (const name of [...COMMANDS.map((c) => c.name), 'help', 'version', 'hosts-write', 'mymaster']) {
    assert.deepEqual(hookCall([name, ...OPERANDS]), { operands: [name, ...OPERANDS], opts: {} }, name);
    assert.deepEqual(hookCall([name, 'observer', ...OPERANDS.slice(1)])?.operands[0], name);
  }
});

test("the hook's own options, in every form commander takes, before or among the operands", () => {
  const hook = (argv: string[]) => hookCall(argv)?.opts;
  assert.deepEqual(hook(['--config', 'c.yaml', '--dry-run', '--json', 'check', ...OPERANDS]), {
    config: 'c.yaml',
    dryRun: true,
    json: true,
  });
  assert.deepEqual(hook(['-c', 'c.yaml', '-n', 'check', ...OPERANDS]), { config: 'c.yaml', dryRun: true });
  assert.deepEqual(hook(['--config=c.yaml', 'check', ...OPERANDS]), { config: 'c.yaml' });
  assert.deepEqual(hook(['-cc.yaml', 'check', ...OPERANDS]), { config: 'c.yaml' });
  assert.deepEqual(hook(['-nc', 'c.yaml', 'check', ...OPERANDS]), { config: 'c.yaml', dryRun: true });
  assert.deepEqual(hook(['check', ...OPERANDS, '--dry-run']), { dryRun: true });
  assert.deepEqual(hookCall(['--', 'check', ...OPERANDS])?.operands, ['check', ...OPERANDS]);
});

test('not a hook call: a command, an option the hook does not take, no role second', () => {
  assert.equal(hookCall(['check', '--config', 'c.yaml']), undefined);
  assert.equal(hookCall(['--frobnicate', 'mymaster', ...OPERANDS]), undefined);
  assert.equal(hookCall(['reconcile', '--master', 'leader']), undefined);
  assert.equal(hookCall(['notify', '--', '-sdown', 'master mymaster 10.0.0.1 6379']), undefined);
  assert.equal(hookCall(['mymaster', 'king', ...OPERANDS.slice(1)]), undefined);
  assert.equal(hookCall(['--config']), undefined);
  assert.equal(hookCall([]), undefined);
});

test('a role second and the wrong count is still the hook\'s: "expected 7 operands", even after a command name', async () => {
  for (const name of ['check', 'mymaster']) {
    const { io, fake } = fakeIo();
    assert.equal(await main([name, ...OPERANDS.slice(0, 5)], fake), 2);
    assert.match(io.err.join(''), /^sentinel-hook: expected 7 operands <master-name> <role> .*, got 6 \(/);
  }
});

test('an unknown command is one line, exit 2, with the command it resembles', async () => {
  const cases: [string, string][] = [
    ['chek', "sentinel-hook: unknown command 'chek' (did you mean check?)"],
    ['reconcil', "sentinel-hook: unknown command 'reconcil' (did you mean reconcile?)"],
    ['sudoer', "sentinel-hook: unknown command 'sudoer' (did you mean sudoers?)"],
    ['hosts-write', "sentinel-hook: unknown command 'hosts-write' (commands: "],
  ];
  for (const [word, line] of cases) {
    const { io, fake } = fakeIo();
    assert.equal(await main([word], fake), 2, word);
    assert.equal(io.err.length, 1, io.err.join('|'));
    assert.ok(io.err[0]!.startsWith(line), io.err[0]);
    assert.deepEqual(io.out, []);
  }
});

test('--version and -V: the version, the Node it runs on, the install; exit 0', async () => {
  for (const flag of ['--version', '-V']) {
    const { io, fake } = fakeIo();
    assert.equal(await main([flag], fake), 0);
    const lines = io.out.join('').trim().split('\n');
    assert.equal(lines.length, 3, lines.join('|'));
    assert.match(lines[0]!, /^sentinel-hook \S/);
    assert.equal(lines[1], `node ${process.version} (${process.execPath})`);
    // Run from source, not as bin/sentinel-hook.cjs: said, not guessed.
    assert.match(lines[2]!, /^installed in unknown \(started as /);
  }
});

test('helpers: reached by name through helperMain only; an unknown name (or one every object has) is exit 2 before stdin is read', async () => {
  for (const name of ['no-such-helper', 'constructor', 'toString']) {
    const { io, fake } = fakeIo();
    assert.equal(await helperMain(name, ['/etc/hosts', 'redis-master'], fake), 2);
    assert.deepEqual(io.err, [
      `sentinel-hook: no privileged helper named ${JSON.stringify(name)} (privileged helpers start from their own scripts in bin/, which sudoers pins)`,
    ]);
  }
  const names = actionPlugins.flatMap((p) => Object.keys(p.helpers ?? {}));
  assert.ok(names.length > 0);
  assert.equal(new Set(names).size, names.length, `a helper name declared twice: ${names.join(', ')}`);
});
