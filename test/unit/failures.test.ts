// The catalogue is a contract: every code has words, an exit status Sentinel understands and a fix,
// and what returns or throws a failure carries its code, so that callers never read the text.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HostReader } from '../../src/actions/plugin.ts';
import { parseVip } from '../../src/actions/vip/address.ts';
import { detectArping, vipOf } from '../../src/actions/vip/commands.ts';
import {
  ConfigError,
  codeOf,
  errorLine,
  errorOf,
  exitCodeOf,
  failureOf,
  hookError,
  RetryableError,
  UsageError,
} from '../../src/errors.ts';
import { EXIT, FAILURES, Failure, type FailureArgs, type FailureCode, failure } from '../../src/failures.ts';
import { commandFailure, runArgv, sudoUnavailable } from '../../src/launch.ts';
import { memoryLogger } from '../../src/log.ts';
import { applyPlans } from '../../src/pipeline/apply.ts';
import type { CommandResult } from '../../src/runner.ts';
import { FakeRunner } from '../support/fakes.ts';

const state = { epoch: 3, ip: '10.0.0.2', port: 6379 };

/** One set of words per code: typed against the catalogue, so a new entry without a sample does not compile. */
const SAMPLES: { [C in FailureCode]: FailureArgs<C> } = {
  'operands-count': [{ usage: '<master-name> …', got: 3 }],
  'operand-invalid': [{ name: 'to-port', value: 'x', problem: 'expected a port', usage: '<master-name> …' }],
  'option-not-for-command': [{ command: 'check', flag: '--dry-run' }],
  'systemd-mode-conflict': [],
  'option-invalid': [{ option: '--interval', value: '0s', expected: 'expected 1s to 1h', command: 'watch' }],
  'install-unknown': [{ startedAs: '/tmp/x.js' }],
  'user-invalid': [{ user: '-redis' }],
  'master-not-in-config': [{ master: 'gamma', known: ['alpha'] }],
  'event-type-invalid': [{ type: 'sdown' }],
  'event-master-invalid': [{ master: '-rf', type: '+sdown', problem: 'may not start with -' }],
  'command-unknown': [{ word: 'chek', near: 'check', names: ['check', 'watch'], usage: '<master-name> …' }],
  'helper-unknown': [{ name: 'hosts-wipe' }],
  'helper-usage': [{ problem: 'stdin must be one IP address, got ""' }],
  'file-unreadable': [{ noun: 'config', path: '/etc/x.yaml', errno: 'ENOENT', fix: 'pass --config FILE' }],
  'file-not-regular': [{ what: 'config /etc/x.yaml' }],
  'owner-untrusted': [{ what: 'config file /etc/x.yaml', owner: 1000, trusted: 'root', fix: 'chown root /etc/x.yaml' }],
  'writable-by-others': [{ what: 'config file /etc/x.yaml', mode: '666', besides: 'its owner', path: '/etc/x.yaml' }],
  'secret-exposed': [{ what: 'sentinels.tls.key file /k', mode: '644', path: '/k' }],
  'config-syntax': [{ path: '/etc/x.yaml', detail: 'bad indentation' }],
  'config-invalid': [{ path: '/etc/x.yaml', issue: 'masters.m[0].type: unknown' }],
  'claim-shared': [
    { path: '/etc/x.yaml', claim: 'VIP 10.0.0.100', first: 'masters.a[0]', second: 'masters.b[0]', sameMaster: false },
  ],
  'master-unconfigured': [{ master: 'gamma', known: [] }],
  'sentinels-required': [{ by: 'watch' }],
  'vip-address-invalid': [{ problem: '10.0.0.0 is the network address of 10.0.0.0/24, not a host address' }],
  'vip-label-mismatch': [{ label: 'eth1:vip', dev: 'eth0', cidr: '10.0.0.4/24' }],
  'configured-program-missing': [{ program: 'notify-team', atRun: true }],
  'setup-program-missing': [{ program: 'ip', install: 'iproute2' }],
  'helper-missing': [{}],
  'unit-path-unsafe': [{ what: 'lockDir', path: '/run/a b' }],
  'sudoers-unpinnable': [{ arg: 'a b', why: 'blank, quote or pattern character' }],
  'sudoers-relative-program': [{ program: 'ip' }],
  'program-unresolvable': [{ path: '/usr/sbin/x', errno: 'ENOENT' }],
  'sudoers-nothing-to-allow': [{ configPath: '/etc/x.yaml' }],
  'secret-unset': [{ where: 'sentinels.password', env: 'SH_PW' }],
  'secret-unreadable': [{ where: 'sentinels.password', file: '/etc/pw', errno: 'EACCES' }],
  'sentinel-auth-refused': [{ address: '10.0.0.1:26379', said: 'WRONGPASS' }],
  'sentinel-noperm': [
    { addresses: ['10.0.0.1:26379'], command: 'SENTINEL MASTER', rule: '+sentinel|master', user: 'sentinel-hook' },
  ],
  'sentinel-tls-refused': [
    { address: '10.0.0.1:26379', said: 'TLS: expired', fix: "renew the Sentinel's certificate" },
  ],
  'tls-ca-empty': [{ ca: '/etc/ca.pem' }],
  'tls-unusable': [{ files: '/c / /k', detail: 'key values mismatch' }],
  'push-credential-unreadable': [{ field: 'identityFile', path: '/k', errno: 'ENOENT' }],
  'identity-encrypted': [{ path: '/k' }],
  'identity-unusable': [{ path: '/k', detail: 'unsupported key format' }],
  'known-hosts-unusable': [{ file: '/kh', types: ['ssh-dss'], target: 'app1', lines: [3], host: 'app1' }],
  'sudo-missing': [],
  'sudo-not-executable': [{ path: '/usr/bin/sudo' }],
  'sudo-refused': [{ command: '/usr/sbin/ip addr add', said: 'sudo: a password is required' }],
  'sudo-no-new-privileges': [
    { command: '/usr/sbin/ip addr add', how: 'exited 1', said: 'sudo: The "no new privileges" flag is set' },
  ],
  'spawn-failed': [{ program: 'sudo', reason: 'spawn EACCES' }],
  'command-timeout': [{ command: '/bin/sleep 30', afterMs: 1000 }],
  'command-failed': [{ command: '/bin/false', how: 'exited 1', said: '' }],
  'output-too-large': [{ command: '/bin/sh', detail: 'output over 4 MiB' }],
  'program-missing': [{ program: 'arping', install: 'iputils-arping' }],
  'arping-unknown': [{ path: '/usr/sbin/arping', said: 'BusyBox v1.36', install: 'iputils-arping' }],
  'arping-unrunnable': [{ path: '/usr/sbin/arping', detail: 'EACCES' }],
  'deadline-passed': [],
  'sentinels-slow': [{ deadlineMs: 500, observing: true }],
  'dns-unresolved': [{ host: 'redis-2.lab', detail: 'no such host' }],
  'lock-dir-unusable': [{ dir: '/run/sentinel-hook', problem: 'is not a directory' }],
  'lock-dir-missing': [{ dir: '/run/sentinel-hook' }],
  'lock-dir-gone': [{ dir: '/run/sentinel-hook' }],
  'watch-unprivileged': [{ problems: ['masters.m[0] (vip) needs CAP_NET_ADMIN handed on to its commands'] }],
  'state-dir-unusable': [{ dir: '/var/lib/sentinel-hook', problem: 'is missing and cannot be created (EACCES)' }],
  'generation-unrecordable': [{ dir: '/run/sentinel-hook', errno: 'EROFS' }],
  'lock-uncreatable': [{ path: '/run/sentinel-hook/m.lock', errno: 'EACCES' }],
  'assume-current-without-dry-run': [],
  'metrics-listen-failed': [{ host: '127.0.0.1', port: 9469, errno: 'EADDRINUSE' }],
  'lock-held': [{ what: 'master m', path: '/run/sentinel-hook/m.lock', waitedMs: 1500 }],
  'sentinels-unsure': [{ answered: 1, configured: 3, needed: 2 }],
  'sentinels-disagree': [{ epoch: 4, named: ['10.0.0.1:6379', '10.0.0.2:6379'] }],
  'sentinel-foreign': [{ address: '10.9.9.5:26379', master: 'mymaster' }],
  'sentinels-rebuilt': [{ epoch: 1, acted: 2, ids: 3 }],
  'epoch-older-outlasted': [{ epoch: 1, acted: 2, sinceMs: 200_000, limitMs: 180_000 }],
  'epoch-older': [{ state, acted: { ...state, epoch: 5 } }],
  'reconcile-failed': [{ master: 'm', detail: 'boom' }],
  'ip-read-failed': [{ what: 'ip addr show', detail: 'Cannot open netlink socket' }],
  'ip-output-unparsable': [{ what: 'ip -j addr', detail: 'expected a JSON array' }],
  'vip-no-route': [{ cidr: '10.0.0.4/24' }],
  'vip-held-elsewhere': [{ ip: '10.0.0.4', mac: '0e:64:68:84:b2:1d', waitedMs: 2000 }],
  'visudo-rejected': [{ said: 'syntax error' }],
  'dns-key-invalid': [{ path: '/etc/k.key', problem: 'its key block has no "algorithm ...;"' }],
  'dns-key-exposed': [{ path: '/etc/k.key', problem: 'has mode 0644, more than 0640 allows' }],
  'dns-key-rejected': [{ server: '10.0.0.53:53', key: 'failover', said: 'BADSIG' }],
  'dns-clock-skew': [{ server: '10.0.0.53:53', skewSeconds: -412 }],
  'dns-zone-refused': [
    { server: '10.0.0.53:53', zone: 'example.internal.', asked: 'update', said: 'NOTAUTH', fix: 'correct "zone"' },
  ],
  'dns-no-address': [{ master: '10.0.0.2', records: ['AAAA'], addresses: ['10.0.0.2'] }],
  'dns-unanswered': [{ detail: '10.0.0.53:53 (UDP): no answer within 2000 ms' }],
  'dns-update-contended': [{ names: 'redis.example.internal.', tries: 3 }],
  'dns-readback-mismatch': [
    { server: '10.0.0.53:53', name: 'redis.example.internal.', got: '10.0.0.1', want: '10.0.0.2' },
  ],
};

test('every catalogue entry has a message, an exit code Sentinel understands (1 or 2) and a fix, each one line', () => {
  const codes = Object.keys(FAILURES) as FailureCode[];
  assert.deepEqual(
    codes.filter((c) => !(c in SAMPLES)),
    [],
    'a sample for every code',
  );
  for (const code of codes) {
    assert.match(code, /^[a-z]+(-[a-z]+)*$/, `${code}: a code is kebab-case`);
    const f = (failure as (c: FailureCode, ...args: unknown[]) => Failure)(code, ...SAMPLES[code]);
    assert.equal(f.code, code);
    for (const [what, text] of [
      ['message', f.message],
      ['fix', f.fix],
    ] as const) {
      assert.ok(text.trim().length > 0, `${code}: empty ${what}`);
      assert.doesNotMatch(text, /\n/, `${code}: ${what} is one line`);
      assert.doesNotMatch(text, /undefined|\[object Object\]/, `${code}: ${what} leaks a missing value: ${text}`);
    }
    assert.ok(f.exitCode === EXIT.retry || f.exitCode === EXIT.never, `${code}: exit ${f.exitCode}`);
    assert.equal(f.exitCode, FAILURES[code].exit);
    assert.equal(
      FAILURES[code].exit,
      FAILURES[code].kind === 'retry' ? EXIT.retry : EXIT.never,
      `${code}: its kind decides its exit status`,
    );
    assert.equal(f.line(), `${f.message} (${f.fix})`);
  }
});

test('thrown, a failure is the HookError of its kind, with its code, message and fix as the hint', () => {
  const expected = { usage: UsageError, config: ConfigError, retry: RetryableError } as const;
  for (const code of Object.keys(FAILURES) as FailureCode[]) {
    const f = (failure as (c: FailureCode, ...args: unknown[]) => Failure)(code, ...SAMPLES[code]);
    const err = errorOf(f);
    assert.ok(err instanceof expected[FAILURES[code].kind], `${code} is a ${expected[FAILURES[code].kind].name}`);
    assert.equal(err.code, code);
    assert.equal(codeOf(err), code);
    assert.equal(err.exitCode, f.exitCode);
    assert.equal(exitCodeOf(err), f.exitCode);
    assert.equal(err.message, f.message);
    assert.equal(err.hint, f.fix);
    assert.equal(errorLine(err), f.line());
    assert.deepEqual(failureOf(err), f);
  }
  const held = hookError('lock-held', { what: 'master m', path: '/run/l/m.lock', waitedMs: 1500 });
  assert.ok(held instanceof RetryableError);
  assert.equal(
    held.line(),
    'another run for master m still holds /run/l/m.lock after 1.5 s (Sentinel will retry this event)',
  );
  // within() places a failure without changing what it is.
  const placed = failure('program-missing', { program: 'ip', install: 'iproute2' }).within('vip');
  assert.equal(placed.code, 'program-missing');
  assert.equal(placed.line(), 'vip: ip not found in the system directories (install iproute2)');
  // Not ours: no code to match.
  assert.equal(codeOf(new Error('plain')), undefined);
  assert.equal(failureOf(new Error('plain')), undefined);
});

function result(over: Partial<CommandResult>): CommandResult {
  return {
    exitCode: 0,
    signal: undefined,
    stdout: '',
    stderr: '',
    durationMs: 1,
    timedOut: false,
    spawnError: undefined,
    ...over,
  };
}

const ctx = (runner: FakeRunner) => ({ runner, signal: new AbortController().signal, remainingMs: () => 10_000 });

test('runArgv: a value either way, the result of the run or a Failure with a code when it cannot start', async () => {
  const runner = new FakeRunner([{ argv: ['/usr/bin/sudo', '-n', '/usr/sbin/ip', 'addr'] }]);
  const ran = await runArgv(
    ['/usr/sbin/ip', 'addr'],
    { privileged: true, sudo: '/usr/bin/sudo', timeoutMs: 3000 },
    ctx(runner),
  );
  assert.ok(!(ran instanceof Failure));
  assert.equal(ran.result.exitCode, 0);
  assert.equal(ran.timeoutMs, 3000);

  // No sudo found by the lookup: nothing is started. (The real sudo here is either absent or executable.)
  const none = await runArgv(
    ['/usr/sbin/ip', 'addr'],
    { privileged: true, sudo: undefined, timeoutMs: 3000 },
    ctx(new FakeRunner([])),
  );
  assert.ok(none instanceof Failure);
  assert.equal(none.code, 'sudo-missing');
  assert.equal(none.exitCode, EXIT.retry);
  assert.match(none.line(), /^sudo not found in the system directories \(install sudo, or set privilege: none/);
});

test('"sudo not found" only when there is none: one installed but not executable here (NoExecPaths, noexec) is said so', () => {
  assert.equal(sudoUnavailable(() => undefined).code, 'sudo-missing');
  const blocked = sudoUnavailable(() => '/usr/bin/sudo');
  assert.equal(blocked.code, 'sudo-not-executable');
  assert.match(blocked.message, /^sudo is installed at \/usr\/bin\/sudo, but this process may not execute it/);
  assert.doesNotMatch(blocked.line(), /install sudo/);
  assert.match(blocked.fix, /AmbientCapabilities/);
});

const NNP_STDERR =
  'sudo: The "no new privileges" flag is set, which prevents sudo from running as root.\n' +
  'sudo: If sudo is running in a container, you may need to adjust the container configuration to disable the flag.';

test('sudo under NoNewPrivileges: the line that says what is wrong is kept (not the container hint), with the fix', () => {
  const f = commandFailure(
    ['/usr/sbin/ip', 'addr', 'add', '10.0.0.4/24', 'dev', 'eth0'],
    result({ exitCode: 1, stderr: NNP_STDERR }),
    true,
  );
  assert.equal(f.code, 'sudo-no-new-privileges');
  assert.equal(f.exitCode, EXIT.retry);
  assert.equal(
    f.message,
    '/usr/sbin/ip addr add 10.0.0.4/24 dev eth0 exited 1: sudo: The "no new privileges" flag is set, which prevents sudo from running as root',
  );
  assert.doesNotMatch(f.line(), /container/);
  assert.match(f.fix, /AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW/);
  assert.match(f.fix, /privilege: none/);
  // Not privileged: a program's own words about the flag are just its output.
  assert.equal(
    commandFailure(['/bin/thing'], result({ exitCode: 1, stderr: NNP_STDERR }), false).code,
    'command-failed',
  );
});

test('commandFailure: one code per way a command fails', () => {
  const argv = ['/usr/sbin/thing', 'x'];
  const code = (r: Partial<CommandResult>, privileged = false, timeoutMs?: number) =>
    commandFailure(argv, result(r), privileged, timeoutMs).code;
  assert.equal(code({ exitCode: undefined, spawnError: 'spawn EACCES' }, true), 'spawn-failed');
  assert.equal(code({ exitCode: undefined, error: 'output over 4 MiB' }), 'output-too-large');
  assert.equal(code({ exitCode: undefined, signal: 'SIGTERM', timedOut: true }, false, 1000), 'command-timeout');
  assert.equal(code({ exitCode: 1, stderr: 'sudo: a password is required' }, true), 'sudo-refused');
  assert.equal(code({ exitCode: 1, stderr: 'sudo: a password is required' }, false), 'command-failed');
  assert.equal(code({ exitCode: 2, stderr: 'RTNETLINK answers: File exists' }), 'command-failed');
  assert.equal(code({ exitCode: undefined, signal: 'SIGKILL' }), 'command-failed');
  const spawn = commandFailure(argv, result({ exitCode: undefined, spawnError: 'spawn EACCES' }), true);
  assert.equal(spawn.message, 'sudo could not start (spawn EACCES)');
  const refused = commandFailure(argv, result({ exitCode: 1, stderr: 'sudo: a password is required' }), true);
  assert.equal(
    refused.line(),
    'sudo refused /usr/sbin/thing x: sudo: a password is required (install the rules from "sentinel-hook sudoers --user USER")',
  );
});

test('a failed step carries the code: the applier passes on what runArgv and commandFailure say', async () => {
  const runner = new FakeRunner([
    { argv: ['/usr/bin/sudo', '-n', '/usr/sbin/ip', 'addr', 'add'], result: { exitCode: 1, stderr: NNP_STDERR } },
  ]);
  const step = (argv: string[]) => ({
    kind: 'command' as const,
    description: argv.join(' '),
    argv,
    privileged: true,
    timeoutMs: 1000,
  });
  const run = (sudo: string | undefined, r: FakeRunner) =>
    applyPlans(
      [{ action: 'vip#0', steps: [step(['/usr/sbin/ip', 'addr', 'add'])] }],
      { ...ctx(r), logger: memoryLogger() },
      { sudo },
    );
  const [nnp] = await run('/usr/bin/sudo', runner);
  assert.equal(nnp!.ok, false);
  assert.equal(nnp!.code, 'sudo-no-new-privileges');
  assert.match(nnp!.error!, /exited 1: sudo: The "no new privileges" flag is set/);
  const [missing] = await run(undefined, new FakeRunner([]));
  assert.equal(missing!.code, 'sudo-missing');
  assert.match(missing!.error!, /sudo not found/);
});

function host(programs: Record<string, string>, read: HostReader['read'] = async () => result({})): HostReader {
  return { which: (p) => programs[p], read, readFile: () => undefined };
}

test('vip lookups return failures as values: which arping, and the configured address', async () => {
  const missing = await detectArping(host({}));
  assert.ok(missing instanceof Failure);
  assert.equal(missing.code, 'program-missing');
  assert.equal(missing.line(), 'arping not found in the system directories (install iputils-arping)');

  const busybox = await detectArping(
    host({ arping: '/usr/sbin/arping' }, async () =>
      result({ exitCode: 1, stderr: 'BusyBox v1.36.1 multi-call binary.' }),
    ),
  );
  assert.ok(busybox instanceof Failure);
  assert.equal(busybox.code, 'arping-unknown');
  assert.match(busybox.line(), /neither iputils' nor Thomas Habets' arping.*BusyBox.*\(install iputils-arping\)/);

  const unrunnable = await detectArping(
    host({ arping: '/usr/sbin/arping' }, async () => {
      throw new Error('EACCES');
    }),
  );
  assert.ok(unrunnable instanceof Failure);
  assert.equal(unrunnable.code, 'arping-unrunnable');

  const iputils = await detectArping(
    host({ arping: '/usr/sbin/arping' }, async () => result({ stdout: 'arping from iputils 20221126' })),
  );
  assert.deepEqual(iputils, { path: '/usr/sbin/arping', kind: 'iputils' });

  const bad = parseVip('10.0.0.0/24');
  assert.ok(bad instanceof Failure);
  assert.equal(bad.code, 'vip-address-invalid');
  assert.equal(bad.message, '10.0.0.0 is the network address of 10.0.0.0/24, not a host address');
  assert.throws(
    () => vipOf({ type: 'vip', address: '10.0.0.0/24' } as Parameters<typeof vipOf>[0]),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.code === 'vip-address-invalid' &&
      err.message === 'vip: address 10.0.0.0/24: 10.0.0.0 is the network address of 10.0.0.0/24, not a host address',
  );
});
