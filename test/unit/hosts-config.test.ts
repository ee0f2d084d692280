import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HostsAction } from '../../src/actions/hosts/index.ts';
import { validateConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/errors.ts';

const push = {
  targets: ['app1.example.com', '10.0.1.2:2222'],
  user: 'deploy',
  identityFile: '/var/lib/redis/.ssh/id_ed25519',
  knownHostsFile: '/var/lib/redis/.ssh/known_hosts',
};
const config = (action: Record<string, unknown>) => ({
  masters: { mymaster: [{ type: 'hosts', names: ['redis-master.myservice.com'], ...action }] },
});

test('the issue example parses, with its defaults', () => {
  const c = validateConfig(
    config({
      file: '/etc/hosts',
      push: { ...push, after: ['/usr/sbin/nscd', '-i', 'hosts'] },
      when: { role: 'leader' },
    }),
    'c.yaml',
  );
  const a = c.masters.mymaster![0] as HostsAction;
  assert.deepEqual(a.push, {
    ...push,
    after: ['/usr/sbin/nscd', '-i', 'hosts'],
    remotePath: '/etc/hosts',
    transport: 'ssh',
    concurrency: 16,
    timeout: 5000,
    retries: 2,
  });
  assert.deepEqual(a.when, { role: 'leader', host: 'any' });
});

const bad: [string, Record<string, unknown>, RegExp][] = [
  ['no file, no push', {}, /masters\.mymaster\[0\]\.file: nothing to do/],
  [
    'rsync without file',
    { push: { ...push, transport: 'rsync' } },
    /push\.transport: transport rsync copies "file" whole/,
  ],
  ['name with a space', { names: ['redis master'], file: '/etc/hosts' }, /names\[0\]: expected a host name/],
  ['name starting with -', { names: ['-x'], file: '/etc/hosts' }, /names\[0\]: expected a host name/],
  ['no names', { names: [], file: '/etc/hosts' }, /names: expected at least one name/],
  ['a name twice', { names: ['a.b', 'A.b'], file: '/etc/hosts' }, /names: a name is listed twice/],
  ['relative file', { file: 'etc/hosts' }, /file: expected an absolute path/],
  ['file with ..', { file: '/etc/../hosts' }, /file: expected an absolute path without/],
  [
    'file with a colon (rsync would read it as remote)',
    { file: '/etc/a:b' },
    /file: expected an absolute path of letters/,
  ],
  ['file with a blank', { file: '/etc/my hosts' }, /file: expected an absolute path of letters/],
  [
    'target option injection',
    { push: { ...push, targets: ['-oProxyCommand=touch /tmp/x'] } },
    /push\.targets\[0\]: expected host, host:port/,
  ],
  ['target port out of range', { push: { ...push, targets: ['app1:70000'] } }, /push\.targets\[0\]/],
  ['target with user@', { push: { ...push, targets: ['root@app1'] } }, /push\.targets\[0\]/],
  ['no targets', { push: { ...push, targets: [] } }, /push\.targets: expected at least one target/],
  ['duplicate target', { push: { ...push, targets: ['a', 'a'] } }, /push\.targets: a target is listed twice/],
  ['user starting with -', { push: { ...push, user: '-oX' } }, /push\.user: expected a login name/],
  ['user with a space', { push: { ...push, user: 'a b' } }, /push\.user/],
  ['identity with quotes', { push: { ...push, identityFile: "/k/'id'" } }, /push\.identityFile/],
  ['known_hosts relative', { push: { ...push, knownHostsFile: 'known_hosts' } }, /push\.knownHostsFile/],
  ['remotePath relative', { push: { ...push, remotePath: 'hosts' } }, /push\.remotePath/],
  ['unknown transport', { push: { ...push, transport: 'scp' } }, /push\.transport/],
  ['concurrency 0', { push: { ...push, concurrency: 0 } }, /push\.concurrency: expected at least 1/],
  ['concurrency not an integer', { push: { ...push, concurrency: 1.5 } }, /push\.concurrency/],
  ['timeout not a duration', { push: { ...push, timeout: 'soon' } }, /push\.timeout: expected a duration/],
  ['timeout above the Sentinel limit', { push: { ...push, timeout: '2m' } }, /push\.timeout: expected a duration from/],
  ['negative retries', { push: { ...push, retries: -1 } }, /push\.retries/],
  ['after program relative', { push: { ...push, after: ['nscd', '-i', 'hosts'] } }, /push\.after\[0\]/],
  ['after empty', { push: { ...push, after: [] } }, /push\.after/],
  ['after with NUL', { push: { ...push, after: ['/bin/true', 'a\0b'] } }, /push\.after\[1\]: NUL byte/],
  ['unknown key in push', { push: { ...push, password: 'x' } }, /push: unknown key "password"/],
  ['unknown key in action', { file: '/etc/hosts', target: 'x' }, /unknown key "target"/],
  ['when role typo', { file: '/etc/hosts', when: { role: 'leaders' } }, /when\.role/],
];

for (const [what, action, message] of bad) {
  test(`refused: ${what}`, () => {
    assert.throws(
      () => validateConfig(config({ names: ['redis-master.myservice.com'], ...action }), 'c.yaml'),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.equal(err.exitCode, 2);
        assert.match(err.message, message);
        assert.doesNotMatch(err.message, /\n/);
        return true;
      },
    );
  });
}
