import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { COMMANDS } from '../../src/cli-commands.ts';
import { configPath, loadConfig, parseConfigText, readConfigFile, validateConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/errors.ts';
import { actionsFor } from '../../src/pipeline/plan.ts';

const exec = { type: 'exec', run: ['/bin/true'] };

test('defaults: deadline 45 s, log level info, when any/any, exec timeout 10 s', () => {
  const c = validateConfig({ masters: { mymaster: [exec] } }, 'c.yaml');
  assert.equal(c.deadline, 45_000);
  assert.equal(c.log.level, 'info');
  const a = c.masters.mymaster![0]!;
  assert.deepEqual(a.when, { role: 'any', host: 'any' });
  assert.equal(a.type === 'exec' && a.timeout, 10_000);
});

test('durations: 200ms, 5s, 1m, 1.5s and bare milliseconds', async () => {
  const c = await parseConfigText(
    `deadline: 30s\nsentinels: { addresses: ["127.0.0.1:26379"], timeout: 200ms, settle: 1.5s }\nmasters:\n  m: [{ type: exec, run: [/bin/true], timeout: 30s }, { type: exec, run: [/bin/true], timeout: 250 }]\n`,
    'c.yaml',
  );
  assert.equal(c.deadline, 30_000);
  assert.equal(c.sentinels!.timeout, 200);
  assert.equal(c.sentinels!.settle, 1500);
  const a = c.masters.m![0]!;
  assert.equal(a.type === 'exec' && a.timeout, 30_000);
  const b = c.masters.m![1]!;
  assert.equal(b.type === 'exec' && b.timeout, 250);
});

const bad: [string, unknown, RegExp][] = [
  ['no masters', {}, /^config c.yaml: masters: /],
  ['unknown top-level key', { masters: { m: [exec] }, dedline: '5s' }, /\(top level\): unknown key "dedline"/],
  [
    'unknown action key, with its path',
    { masters: { m: [exec, { ...exec, interface: 'eth0' }] } },
    /masters\.m\[1\]: unknown key "interface"/,
  ],
  [
    'unknown action type',
    { masters: { m: [{ type: 'teleport' }] } },
    /masters\.m\[0\].*: unknown action type; expected one of exec/,
  ],
  ['empty action list', { masters: { m: [] } }, /masters\.m: expected at least one action/],
  [
    "deadline at Sentinel's 60 s limit",
    { deadline: '60s', masters: { m: [exec] } },
    /deadline: expected a duration from 1s to 58s, got 1m/,
  ],
  [
    'deadline not a duration',
    { deadline: 'soon', masters: { m: [exec] } },
    /deadline: expected a duration like "200ms" or "5s", got "soon"/,
  ],
  ['exec without run', { masters: { m: [{ type: 'exec' }] } }, /masters\.m\[0\]\.run/],
  ['exec with empty run', { masters: { m: [{ type: 'exec', run: [] }] } }, /masters\.m\[0\]\.run/],
  [
    'exec run as a shell string',
    { masters: { m: [{ type: 'exec', run: 'notify-team {master}' }] } },
    /masters\.m\[0\]\.run/,
  ],
  [
    'exec program with spaces',
    { masters: { m: [{ type: 'exec', run: ['/bin/sh -c x'] }] } },
    /masters\.m\[0\]\.run\[0\]: expected a program path or name/,
  ],
  ['exec program that reads as an option', { masters: { m: [{ type: 'exec', run: ['-rf'] }] } }, /run\[0\]/],
  [
    'unknown placeholder',
    { masters: { m: [{ type: 'exec', run: ['/bin/echo', '{newIp}'] }] } },
    /masters\.m\[0\]\.run\[1\]: unknown placeholder \{newIp\}/,
  ],
  ['when.role typo', { masters: { m: [{ ...exec, when: { role: 'leeder' } }] } }, /masters\.m\[0\]\.when\.role/],
  ['when with unknown key', { masters: { m: [{ ...exec, when: { hots: 'any' } }] } }, /when: unknown key "hots"/],
  ['bad master name', { masters: { 'my master': [exec] } }, /masters/],
  ['relative log file', { log: { file: 'hook.log' }, masters: { m: [exec] } }, /log\.file: expected an absolute path/],
  ['log file with ..', { log: { file: '/var/log/../x' }, masters: { m: [exec] } }, /log\.file/],
  [
    'sentinel address without port',
    { sentinels: { addresses: ['10.0.0.1'] }, masters: { m: [exec] } },
    /sentinels\.addresses\[0\]: expected host:port/,
  ],
  [
    'sentinel port out of range',
    { sentinels: { addresses: ['10.0.0.1:70000'] }, masters: { m: [exec] } },
    /sentinels\.addresses\[0\]/,
  ],
  [
    'no sentinel addresses',
    { sentinels: { addresses: [] }, masters: { m: [exec] } },
    /sentinels\.addresses: expected at least one/,
  ],
  [
    'password given inline',
    { sentinels: { addresses: ['10.0.0.1:26379'], password: 's3cret' }, masters: { m: [exec] } },
    /sentinels\.password/,
  ],
  [
    'password env name invalid',
    { sentinels: { addresses: ['10.0.0.1:26379'], password: { env: 'A-B' } }, masters: { m: [exec] } },
    /sentinels\.password/,
  ],
  [
    'stale guard that can outlast the deadline',
    {
      deadline: '5s',
      sentinels: { addresses: ['10.0.0.1:26379'], settle: '4s', timeout: '500ms' },
      masters: { m: [exec] },
    },
    /sentinels\.settle: settle \+ timeout \(4500 ms\) leaves less than 1 s of the 5000 ms deadline/,
  ],
  [
    'notify event type without sign',
    { notify: [{ events: ['switch-master'], run: ['/bin/true'] }], masters: { m: [exec] } },
    /notify\[0\]\.events\[0\]/,
  ],
];
for (const [name, raw, message] of bad) {
  test(`config refused (exit 2): ${name}`, () => {
    assert.throws(
      () => validateConfig(raw, 'c.yaml'),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.equal(err.exitCode, 2);
        assert.match(err.line(), message);
        assert.doesNotMatch(err.line(), /\n/);
        return true;
      },
    );
  });
}

test("a master may be named like any of sentinel-hook's commands: Sentinel's master names are the user's", () => {
  const names = [...COMMANDS.map((c) => c.name), 'help', 'version', 'hosts-write'];
  const c = validateConfig({ masters: Object.fromEntries(names.map((n) => [n, [exec]])) }, 'c.yaml');
  assert.deepEqual(Object.keys(c.masters), names);
});

test('invalid YAML is one line with exit 2', async () => {
  await assert.rejects(parseConfigText('masters: [unclosed\n  - x: {', 'c.yaml'), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.line(), /^config c\.yaml is not valid YAML\/JSON: /);
    assert.doesNotMatch(err.line(), /\n/);
    return true;
  });
});

test('JSON configs are read too', async () => {
  const c = await parseConfigText(JSON.stringify({ masters: { m: [exec] } }), 'c.json');
  assert.deepEqual(Object.keys(c.masters), ['m']);
});

test('a master with no entry names the configured masters', () => {
  const c = validateConfig({ masters: { alpha: [exec], beta: [exec] } }, 'c.yaml');
  assert.throws(
    () => actionsFor(c, 'gamma'),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.exitCode, 2);
      assert.match(err.line(), /no actions configured for master "gamma" \(configured masters: alpha, beta\)/);
      return true;
    },
  );
});

test('config path: flag, then $SENTINEL_HOOK_CONFIG, then /etc/sentinel-hook/config.yaml', () => {
  assert.equal(configPath('/a.yaml', { SENTINEL_HOOK_CONFIG: '/b.yaml' }), '/a.yaml');
  assert.equal(configPath(undefined, { SENTINEL_HOOK_CONFIG: '/b.yaml' }), '/b.yaml');
  assert.equal(configPath(undefined, {}), '/etc/sentinel-hook/config.yaml');
});

function throwsLine(fn: () => unknown, line: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.match(err.line(), line);
    return true;
  });
}

test('config files others can write, or owned by a stranger, are refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sh-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'config.yaml');
  writeFileSync(file, 'masters:\n  m: [{ type: exec, run: [/bin/true] }]\n');
  const uid = process.getuid!();

  chmodSync(file, 0o644);
  assert.doesNotThrow(() => readConfigFile(file, uid));
  assert.equal(Object.keys((await loadConfig(file, uid)).masters)[0], 'm');

  for (const mode of [0o666, 0o664, 0o646]) {
    chmodSync(file, mode);
    throwsLine(() => readConfigFile(file, uid), /writable by users other than its owner .*chmod go-w/);
  }
  chmodSync(file, 0o644);
  if (uid === 0) {
    chownSync(file, 4242, 4242);
    throwsLine(() => readConfigFile(file, 0), /owned by uid 4242, not root or the running user/);
    // The owner itself may use it.
    assert.doesNotThrow(() => readConfigFile(file, 4242));
  }
  throwsLine(
    () => readConfigFile(join(dir, 'missing.yaml'), uid),
    /config file .*missing\.yaml not found \(pass --config FILE or set SENTINEL_HOOK_CONFIG\)/,
  );
  chownSync(file, uid, uid);
  chmodSync(dir, 0o777);
  throwsLine(
    () => readConfigFile(file, uid),
    /config directory .* is writable by users other than its owner .*chmod go-w/,
  );
  chmodSync(dir, 0o1777);
  assert.doesNotThrow(() => readConfigFile(file, uid), 'a sticky directory (like /tmp) is fine');
  chmodSync(dir, 0o700);
  throwsLine(() => readConfigFile(dir, uid), /is not a regular file/);
});

test('a config under a directory another user owns is refused, even at mode 755 and even higher up', {
  skip: process.getuid?.() !== 0 && 'needs root to chown',
}, async (t) => {
  const nobody = 65534;
  const top = mkdtempSync(join(tmpdir(), 'sh-config-owner-'));
  t.after(() => rmSync(top, { recursive: true, force: true }));
  const theirs = join(top, 'theirs');
  mkdirSync(theirs, { mode: 0o755 });
  const file = join(theirs, 'config.yaml');
  writeFileSync(file, 'masters:\n  m: [{ type: exec, run: [/bin/true] }]\n', { mode: 0o644 });
  chownSync(theirs, nobody, nobody);
  // The file is root's and not writable by others: only the directory's owner can swap it.
  throwsLine(
    () => readConfigFile(file, 0),
    new RegExp(
      `^config directory ${theirs} is owned by uid ${nobody}, not root or the running user \\(uid 0\\): its owner could replace ${file} \\(chown root ${theirs}`,
    ),
  );
  await assert.rejects(
    loadConfig(file, 0),
    (err: unknown) => err instanceof ConfigError && err.exitCode === 2 && !/\n/.test(err.line()),
  );
  // An ancestor further up counts as much as the file's own directory.
  const inner = join(theirs, 'inner');
  mkdirSync(inner, { mode: 0o755 });
  writeFileSync(join(inner, 'config.yaml'), 'masters:\n  m: [{ type: exec, run: [/bin/true] }]\n', { mode: 0o644 });
  throwsLine(
    () => readConfigFile(join(inner, 'config.yaml'), 0),
    new RegExp(`config directory ${theirs} is owned by uid ${nobody}`),
  );
  // A symlink in a safe directory does not launder a file in an unsafe one: the real path is checked.
  const link = join(top, 'link.yaml');
  symlinkSync(file, link);
  throwsLine(
    () => readConfigFile(link, 0),
    new RegExp(`config directory ${theirs} is owned by uid ${nobody}.*\\(${file}\\)`),
  );
  // The directory's owner may use it; and once root owns it, root may.
  assert.doesNotThrow(() => readConfigFile(file, nobody));
  chownSync(theirs, 0, 0);
  assert.equal(Object.keys((await loadConfig(link, 0)).masters)[0], 'm', 'a symlink to a safe file is followed');
});

test('a FIFO in place of the config is refused, without waiting for a writer', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sh-config-fd-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const fifo = join(dir, 'fifo.yaml');
  execFileSync('mkfifo', ['-m', '600', fifo]);
  throwsLine(() => readConfigFile(fifo, process.getuid!()), /is not a regular file/);
});

test('a config reached through a symlink in a directory others can write is refused (item 7)', async (t) => {
  const top = mkdtempSync(join(tmpdir(), 'sh-config-link-'));
  t.after(() => rmSync(top, { recursive: true, force: true }));
  const uid = process.getuid!();
  const safe = join(top, 'safe');
  mkdirSync(safe, { mode: 0o755 });
  const file = join(safe, 'config.yaml');
  writeFileSync(file, 'masters:\n  m: [{ type: exec, run: [/bin/true] }]\n', { mode: 0o644 });
  const open = join(top, 'open');
  mkdirSync(open);
  chmodSync(open, 0o777);
  // Anyone may swap this link for one to their own file.
  symlinkSync(file, join(open, 'config.yaml'));
  throwsLine(
    () => readConfigFile(join(open, 'config.yaml'), uid),
    new RegExp(`^config directory ${open} is writable by users other than its owner .*chmod go-w ${open}`),
  );
  await assert.rejects(
    loadConfig(join(open, 'config.yaml'), uid),
    (err: unknown) => err instanceof ConfigError && err.exitCode === 2,
  );
  // A symlinked directory on the way counts the same.
  symlinkSync(safe, join(open, 'dir'));
  throwsLine(
    () => readConfigFile(join(open, 'dir', 'config.yaml'), uid),
    new RegExp(`config directory ${open} is writable`),
  );
  // Relative, from inside the writable directory.
  const cwd = process.cwd();
  process.chdir(open);
  try {
    throwsLine(() => readConfigFile('config.yaml', uid), new RegExp(`config directory ${open} is writable`));
  } finally {
    process.chdir(cwd);
  }
  // Once the directory is safe, the same links are followed.
  chmodSync(open, 0o755);
  assert.equal(Object.keys((await loadConfig(join(open, 'dir', 'config.yaml'), uid)).masters)[0], 'm');
});

// Issue 15 §5.7: two entries that both own one thing on a host pass every other check and then undo
// each other on every run (remove, add, remove: each exit 0). Refused at load, naming both and the thing.
const vip = (address: string) => ({ type: 'vip', address });
const hostsFile = (names: string[], file = '/etc/hosts') => ({ type: 'hosts', names, file });
const hostsPush = (names: string[], targets: string[], remotePath?: string) => ({
  type: 'hosts',
  names,
  push: {
    targets,
    user: 'deploy',
    identityFile: '/k/id',
    knownHostsFile: '/k/known_hosts',
    ...(remotePath ? { remotePath } : {}),
  },
});

const sharedClaims: [string, unknown, RegExp][] = [
  [
    'two masters, one VIP (written two ways)',
    { masters: { alpha: [exec, vip('fd00::100/64')], beta: [vip('fd00:0:0::100/80')] } },
    /^config c\.yaml: masters\.alpha\[1\] and masters\.beta\[0\] both claim VIP fd00::100: /,
  ],
  [
    'one master, one VIP twice',
    { masters: { alpha: [vip('10.0.0.100/24'), exec, vip('10.0.0.100/24')] } },
    /^config c\.yaml: masters\.alpha\[0\] and masters\.alpha\[2\] both claim VIP 10\.0\.0\.100: /,
  ],
  [
    'two masters, one name in one local hosts file (any case)',
    {
      masters: { alpha: [hostsFile(['cache.example.com'])], beta: [hostsFile(['a.example.com', 'Cache.Example.com'])] },
    },
    /masters\.alpha\[0\] and masters\.beta\[0\] both claim hosts name cache\.example\.com in \/etc\/hosts: /,
  ],
  [
    'two masters, one name pushed to one file on one target (default port spelt out or not)',
    {
      masters: {
        alpha: [hostsPush(['cache.example.com'], ['app1.example.com', 'app2.example.com'])],
        beta: [hostsPush(['cache.example.com'], ['APP2.example.com:22'], '/etc/hosts')],
      },
    },
    /masters\.alpha\[0\] and masters\.beta\[0\] both claim hosts name cache\.example\.com in \/etc\/hosts on app2\.example\.com:22: /,
  ],
];
for (const [name, raw, message] of sharedClaims) {
  test(`config refused (exit 2): ${name}`, () => {
    assert.throws(
      () => validateConfig(raw, 'c.yaml'),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.equal(err.exitCode, 2);
        assert.match(err.line(), message);
        assert.doesNotMatch(err.line(), /\n/);
        return true;
      },
    );
  });
}

test('claims that do not meet are fine: other VIPs, one name in two files, on two targets, or in two remote files', () => {
  const c = validateConfig(
    {
      masters: {
        alpha: [
          vip('10.0.0.100/24'),
          hostsFile(['cache.example.com']),
          hostsPush(['cache.example.com'], ['app1.example.com']),
        ],
        beta: [
          vip('10.0.0.101/24'),
          hostsFile(['cache.example.com'], '/etc/hosts.beta'),
          hostsPush(['cache.example.com'], ['app2.example.com']),
          hostsPush(['cache.example.com'], ['app1.example.com'], '/srv/hosts'),
        ],
      },
    },
    'c.yaml',
  );
  assert.deepEqual(Object.keys(c.masters), ['alpha', 'beta']);
});
