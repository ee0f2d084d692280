// The built CLI (bin/sentinel-hook.cjs → dist/), run as Sentinel runs it: exit codes, files, logs.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/sentinel-hook.cjs');
const dir = mkdtempSync(join(tmpdir(), 'sh-cli-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const EVENT = ['mymaster', 'leader', 'start', '10.0.0.1', '6379', '10.0.0.2', '6380'];
const recorder = join(dir, 'record.sh');
writeFileSync(
  recorder,
  '#!/bin/sh\nout=$1; shift\nprintf "%s|" "$@" >> "$out"\nprintf "env=%s,%s,%s\\n" "$SENTINEL_HOOK_MASTER" "$SENTINEL_HOOK_TO_IP" "$SENTINEL_HOOK_TO_PORT" >> "$out"\n',
);
chmodSync(recorder, 0o755);

let n = 0;
function writeConfig(yaml: string, mode = 0o644): string {
  const file = join(dir, `config-${++n}.yaml`);
  writeFileSync(file, yaml);
  chmodSync(file, mode);
  return file;
}
function baseConfig(actions: string, extra = ''): string {
  return writeConfig(
    `log: { file: ${join(dir, `hook-${n + 1}.log`)}, level: debug }\nlockDir: ${dir}\n${extra}masters:\n  mymaster:\n${actions}`,
  );
}

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH!, ...env },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('a real run: the exec action gets the placeholders and SENTINEL_HOOK_*; exit 0; the log tells the story', () => {
  const out = join(dir, 'real.out');
  const config = baseConfig(
    `    - type: exec\n      run: [${recorder}, ${out}, "{master}", "{toIp}:{toPort}", "{role}"]\n`,
  );
  const r = cli(['--config', config, ...EVENT]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(out, 'utf8'), 'mymaster|10.0.0.2:6380|leader|env=mymaster,10.0.0.2,6380\n');
  const log = readFileSync(join(dir, `hook-${n}.log`), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const msgs = log.map((l) => l.msg);
  assert.deepEqual(msgs, ['hook start', 'plan', 'step done', 'hook end']);
  assert.equal(new Set(log.map((l) => l.run)).size, 1, 'one run id on every record');
  assert.deepEqual(log[0].event.toPort, 6380);
  assert.equal(log.at(-1).exitCode, 0);
  assert.equal(typeof log[2].ms, 'number');
});

test('bad operands: one line on stderr, exit 2, nothing executed', () => {
  const out = join(dir, 'bad.out');
  const config = baseConfig(`    - type: exec\n      run: [${recorder}, ${out}]\n`);
  for (const args of [
    EVENT.slice(0, 6),
    [...EVENT.slice(0, 4), '0', ...EVENT.slice(5)],
    ['mymaster', 'king', ...EVENT.slice(2)],
  ]) {
    const r = cli(['--config', config, ...args]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^sentinel-hook: /);
  }
  assert.equal(existsSync(out), false);
});

test('an unknown option is exit 2 too (commander would say 1)', () => {
  const r = cli(['--frobnicate', ...EVENT]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown option '--frobnicate'/);
});

test('config problems: missing, unsafe mode, invalid, unknown master → one line, exit 2, nothing run', () => {
  const out = join(dir, 'cfg.out');
  const actions = `    - type: exec\n      run: [${recorder}, ${out}]\n`;
  const cases: [string[], RegExp][] = [
    [['--config', join(dir, 'nope.yaml')], /config file .*nope\.yaml not found/],
    [
      ['--config', writeConfig(`masters:\n  mymaster:\n${actions}`, 0o666)],
      /writable by users other than its owner.*chmod go-w/,
    ],
    [
      [
        '--config',
        writeConfig(`masters:\n  mymaster:\n    - type: exec\n      run: [${recorder}]\n      retries: 3\n`),
      ],
      /masters\.mymaster\[0\]: unknown key "retries"/,
    ],
    [
      ['--config', writeConfig(`masters:\n  other:\n${actions}`)],
      /no actions configured for master "mymaster" \(configured masters: other\)/,
    ],
  ];
  for (const [args, message] of cases) {
    const r = cli([...args, ...EVENT]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  }
  assert.equal(existsSync(out), false);
});

test('$SENTINEL_HOOK_CONFIG is used when --config is absent', () => {
  const out = join(dir, 'envcfg.out');
  const config = baseConfig(`    - type: exec\n      run: [${recorder}, ${out}, "{toIp}"]\n`);
  const r = cli(EVENT, { SENTINEL_HOOK_CONFIG: config });
  assert.equal(r.code, 0, r.stderr);
  assert.match(readFileSync(out, 'utf8'), /^10\.0\.0\.2\|/);
});

test("a child's exit 2 never leaks: the hook exits 1 so Sentinel retries", () => {
  const config = baseConfig(`    - type: exec\n      run: [/bin/sh, -c, "exit 2"]\n`);
  const r = cli(['--config', config, ...EVENT]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /FAILED exec#0: .* exited 2/);
});

test("the deadline kills a hung command and the run ends with 1, well before Sentinel's 60 s", () => {
  const config = baseConfig(`    - type: exec\n      run: [/bin/sleep, "30"]\n      timeout: 30s\n`, 'deadline: 1s\n');
  const started = performance.now();
  const r = cli(['--config', config, ...EVENT]);
  const took = performance.now() - started;
  assert.equal(r.code, 1);
  assert.ok(took < 10_000, `took ${Math.round(took)} ms`);
  assert.match(r.stdout, /killed after/);
});

test('--dry-run prints the plan and runs nothing; --json is machine-readable', () => {
  const out = join(dir, 'dry.out');
  const config = baseConfig(`    - type: exec\n      run: [${recorder}, ${out}, "{toIp}"]\n`);
  const text = cli(['--config', config, '--dry-run', ...EVENT]);
  assert.equal(text.code, 0);
  assert.match(
    text.stdout,
    new RegExp(
      `\\$ ${recorder.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} ${out.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} 10\\.0\\.0\\.2`,
    ),
  );
  const json = JSON.parse(cli(['--config', config, '--dry-run', '--json', ...EVENT]).stdout);
  assert.equal(json.outcome, 'dry-run');
  assert.deepEqual(json.plans[0].steps[0].argv, [recorder, out, '10.0.0.2']);
  assert.equal(existsSync(out), false);
});

test('runs for the same master on one host never overlap; the newest started one always runs, the older ones it overtook stop with exit 0', async () => {
  const out = join(dir, 'lock.out');
  const log = join(dir, 'lock-runs.log');
  // An overtaken run's exec is stopped (TERM): its trap notes that it ended, as "stopped".
  const config = writeConfig(
    `log: { file: ${log} }\nlockDir: ${dir}\nmasters:\n  mymaster:\n    - type: exec\n      run: [/bin/sh, -c, 'trap "echo stopped >> ${out}; exit 143" TERM; echo start $(date +%s%N) >> ${out}; sleep 0.4; echo end $(date +%s%N) >> ${out}']\n`,
  );
  const runOnce = () =>
    new Promise<number>((res) =>
      spawn(process.execPath, [BIN, '--config', config, ...EVENT], { stdio: 'ignore' }).on('exit', (code) =>
        res(code ?? -1),
      ),
    );
  const codes = await Promise.all([runOnce(), runOnce(), runOnce()]);
  assert.deepEqual(codes, [0, 0, 0], 'an overtaken run is not a failure: Sentinel must not retry it');
  const lines = readFileSync(out, 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(' ')[0]);
  // An exec already running is stopped by the newer run (it ends before the next one starts); a run
  // overtaken before its command started never starts it; the newest run's exec runs to its end.
  assert.ok(lines.length >= 2 && lines.length <= 6 && lines.length % 2 === 0, lines.join(' '));
  for (let i = 0; i < lines.length; i += 2) {
    assert.equal(lines[i], 'start', `overlapping runs: ${lines.join(' ')}`);
    assert.ok(['end', 'stopped'].includes(lines[i + 1]!), `overlapping runs: ${lines.join(' ')}`);
  }
  assert.deepEqual(lines.slice(-2), ['start', 'end'], `the newest run's exec ran to its end: ${lines.join(' ')}`);
  const ends = readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { msg: string; outcome?: string })
    .filter((r) => r.msg === 'hook end');
  assert.equal(ends.length, 3);
  assert.ok(
    ends.every((r) => r.outcome === 'applied' || r.outcome === 'superseded'),
    JSON.stringify(ends),
  );
  // The newest run waits for the others and is overtaken by none: it ends last, having applied its plan.
  assert.equal(ends.at(-1)!.outcome, 'applied');
});

test('check prints what each master would do; schema is JSON Schema', () => {
  const config = baseConfig(`    - type: exec\n      run: [/bin/echo, "{toIp}"]\n      when: { role: leader }\n`);
  const r = cli(['check', '--config', config]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /master mymaster:\n {2}1\. exec: run \["\/bin\/echo","\{toIp\}"\] \[only role leader\]/);
  const schema = JSON.parse(cli(['schema']).stdout);
  assert.ok(schema.properties.masters);
  assert.equal(schema.additionalProperties, false);
});

test('notify: logs the event and runs matching notify actions; -sdown style types are accepted via the hook wrapper', () => {
  const out = join(dir, 'notify.out');
  const config = writeConfig(
    `log: { file: ${join(dir, 'notify.log')} }\nnotify:\n  - run: [${recorder}, ${out}, "{eventType}", "{master}"]\n    events: [+switch-master, -sdown]\n  - run: [${recorder}, ${join(dir, 'never.out')}]\n    events: [+odown]\nmasters:\n  mymaster:\n    - type: exec\n      run: [/bin/true]\n`,
  );
  const r = spawnSync('/usr/bin/env', ['-i', join(ROOT, 'hooks/notify'), '-sdown', 'master mymaster 10.0.0.1 6379'], {
    encoding: 'utf8',
    env: {},
    timeout: 30_000,
  });
  // env -i: no SENTINEL_HOOK_CONFIG either — so pass it the way Sentinel's environment would.
  assert.equal(r.status, 2, 'without a config the wrapper reports it (exit 2)');
  const ok = spawnSync(join(ROOT, 'hooks/notify'), ['+switch-master', 'mymaster 10.0.0.1 6379 10.0.0.2 6379'], {
    encoding: 'utf8',
    env: { SENTINEL_HOOK_CONFIG: config },
    timeout: 30_000,
  });
  assert.equal(ok.status, 0, ok.stderr);
  const sdown = spawnSync(join(ROOT, 'hooks/notify'), ['-sdown', 'master mymaster 10.0.0.1 6379'], {
    encoding: 'utf8',
    env: { SENTINEL_HOOK_CONFIG: config },
    timeout: 30_000,
  });
  assert.equal(sdown.status, 0, sdown.stderr);
  assert.equal(readFileSync(out, 'utf8'), '+switch-master|mymaster|env=mymaster,,\n-sdown|mymaster|env=mymaster,,\n');
  assert.equal(existsSync(join(dir, 'never.out')), false);
  assert.match(readFileSync(join(dir, 'notify.log'), 'utf8'), /"eventType":"-sdown"/);
});

test('host names as operands (announce-hostnames) resolve inside the bundle', () => {
  const config = baseConfig(`    - type: exec\n      run: [/bin/echo, "{toIp}"]\n      when: { host: new-master }\n`);
  const r = cli([
    '--config',
    config,
    '--dry-run',
    '--json',
    'mymaster',
    'observer',
    'start',
    'gone.invalid',
    '6379',
    'localhost',
    '6379',
  ]);
  assert.equal(r.code, 0, r.stderr);
  // localhost is this host, so the new-master-only action is planned; the unresolvable from-name is only a warning.
  assert.deepEqual(JSON.parse(r.stdout).plans[0].steps[0].argv, ['/bin/echo', 'localhost']);
});

// A nameserver that never answers, seen only by the hook: its own mount namespace, its own resolv.conf.
const canUnshare = process.getuid?.() === 0 && spawnSync('unshare', ['-m', '--', 'true']).status === 0;
test('a nameserver that never answers: the deadline still ends the run (exit 1, one line), the lookup does not outlive it', {
  skip: !canUnshare && 'needs root and unshare -m',
}, async (t) => {
  const { createSocket } = await import('node:dgram');
  const blackhole = createSocket('udp4');
  const ns = `127.53.${1 + (process.pid % 250)}.${1 + ((process.pid >> 8) % 250)}`;
  await new Promise<void>((ok, fail) => blackhole.once('error', fail).bind(53, ns, () => ok()));
  t.after(() => blackhole.close());
  let queries = 0;
  blackhole.on('message', () => queries++);
  const resolv = join(dir, 'resolv.blackhole');
  // Answered by nobody for 2 × 3 s per name and family: what a dead nameserver costs with glibc.
  writeFileSync(resolv, `nameserver ${ns}\noptions timeout:3 attempts:2\n`);
  const log = join(dir, 'blackhole.log');
  const config = writeConfig(
    `deadline: 1s\nlog: { file: ${log} }\nlockDir: ${dir}\nmasters:\n  mymaster:\n    - type: exec\n      run: [/bin/true]\n`,
  );
  const started = performance.now();
  // Asynchronous: the blackhole lives in this process and must keep reading while the hook runs.
  const child = spawn(
    'unshare',
    [
      '-m',
      '--',
      'sh',
      '-c',
      'mount --bind "$0" /etc/resolv.conf && exec "$@"',
      resolv,
      process.execPath,
      BIN,
      '--config',
      config,
      'mymaster',
      'leader',
      'start',
      'redis-1.sh-test',
      '6379',
      'redis-2.sh-test',
      '6379',
    ],
    { env: { PATH: process.env.PATH! } },
  );
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c));
  const code = await new Promise<number | null>((done) => child.on('close', done));
  const took = performance.now() - started;
  assert.ok(queries > 0, 'the lookup did reach the dead nameserver');
  assert.equal(code, 1, stderr);
  assert.equal(stderr.trim().split('\n').length, 1, stderr);
  assert.match(
    stderr,
    /cannot resolve redis-2\.sh-test: no answer before the run's deadline \(check DNS or \/etc\/hosts/,
  );
  assert.ok(
    took < 5000,
    `the process ended soon after its 1 s deadline, not when the resolver gave up (at least 6 s) (${Math.round(took)} ms)`,
  );
  assert.match(readFileSync(log, 'utf8'), /"exitCode":1/);
});

test('a notify action naming a missing program: exit 2, nothing run', () => {
  const out = join(dir, 'notify-missing.out');
  const config = writeConfig(
    `log: { file: ${join(dir, 'notify2.log')} }\nnotify:\n  - run: [${recorder}, ${out}]\n  - run: [no-such-notifier]\nmasters:\n  mymaster:\n    - type: exec\n      run: [/bin/true]\n`,
  );
  const r = spawnSync(join(ROOT, 'hooks/notify'), ['+odown', 'master mymaster 10.0.0.1 6379 #quorum 2/2'], {
    encoding: 'utf8',
    env: { SENTINEL_HOOK_CONFIG: config },
    timeout: 30_000,
  });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /notify\[1\]: program no-such-notifier not found/);
  assert.equal(existsSync(out), false);
});

test("hooks/client-reconfig works from Sentinel's bare environment (no PATH)", () => {
  const out = join(dir, 'bare.out');
  const config = baseConfig(`    - type: exec\n      run: [${recorder}, ${out}, "{toIp}"]\n`);
  const r = spawnSync(join(ROOT, 'hooks/client-reconfig'), EVENT, {
    encoding: 'utf8',
    env: { SENTINEL_HOOK_CONFIG: config },
    timeout: 30_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(readFileSync(out, 'utf8'), /^10\.0\.0\.2\|/);
});

test("any master name works: for every command's name (and help, version) check accepts it and the hook call is a hook call", async () => {
  const { COMMANDS } = await import('../../src/cli-commands.ts');
  const names = [...COMMANDS.map((c) => c.name), 'help', 'version', 'hosts-write'];
  const actions = (name: string) => `  ${name}:\n    - type: exec\n      run: [/bin/echo, "${name}", "{toIp}"]\n`;
  const config = writeConfig(
    `log: { file: ${join(dir, 'names.log')} }\nlockDir: ${dir}\nmasters:\n${names.map(actions).join('')}`,
  );
  const check = cli(['check', '--config', config]);
  assert.equal(check.code, 0, check.stderr);
  for (const name of names)
    assert.match(check.stdout, new RegExp(`^master ${name}:\\n {2}1\\. exec: run \\["/bin/echo","${name}"`, 'm'));
  for (const name of names) {
    const r = cli(['--config', config, '--dry-run', name, 'leader', 'start', '10.0.0.1', '6379', '10.0.0.2', '6379']);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    assert.equal(r.stderr, '', name);
    assert.match(r.stdout, new RegExp(`\\$ /bin/echo ${name} 10\\.0\\.0\\.2`), `${name}: ${r.stdout}`);
  }
});

test("Sentinel's own call for a master named like a command runs its actions (exit 0), as for any other", () => {
  for (const name of ['check', 'notify', 'hosts-write']) {
    const out = join(dir, `named-${name}.out`);
    const config = writeConfig(
      `log: { file: ${join(dir, 'named.log')} }\nlockDir: ${dir}\nmasters:\n  ${name}:\n    - type: exec\n      run: [${recorder}, ${out}, "{master}", "{toIp}"]\n`,
    );
    const r = spawnSync(
      join(ROOT, 'hooks/client-reconfig'),
      [name, 'observer', 'start', '10.0.0.1', '6379', '10.0.0.2', '6379'],
      {
        encoding: 'utf8',
        env: { SENTINEL_HOOK_CONFIG: config },
        timeout: 30_000,
      },
    );
    assert.equal(r.status, 0, `${name}: ${r.stderr}`);
    assert.match(readFileSync(out, 'utf8'), new RegExp(`^${name}\\|10\\.0\\.0\\.2\\|`));
  }
});

test("an unknown command says so, with the one it resembles: exit 2, one line, not the hook's operand count", () => {
  const r = cli(['chek']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, "sentinel-hook: unknown command 'chek' (did you mean check?)\n");
  assert.equal(r.stdout, '');
});

test('--version and -V: the package version, the Node it runs on, the install it runs from; exit 0', () => {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) {
    const r = cli([flag]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      `sentinel-hook ${version}\nnode ${process.version} (${process.execPath})\ninstalled in ${ROOT}\n`,
    );
  }
});
