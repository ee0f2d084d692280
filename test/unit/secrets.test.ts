// Every secret of a config read at once, as watch does with a new config (issue 15 §5.2): the Sentinels'
// password and whatever a plugin declares, each failure naming where the config names it; and a
// service's held file contents used by its runs until the next reload succeeds.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { registerActionPlugin } from '../../src/actions/index.ts';
import type { ActionPlugin } from '../../src/actions/plugin.ts';
import { holdSecretFiles, type SecretRef } from '../../src/config/common.ts';
import { validateConfig } from '../../src/config/load.ts';
import type { HookConfig } from '../../src/config/schema.ts';
import { ConfigError } from '../../src/errors.ts';
import { readConfigSecrets, withholdSecrets } from '../../src/pipeline/secrets.ts';
import { readSecret } from '../../src/sentinel/client.ts';

type FixtureEntry = { type: 'fixture-held-secret'; when: { role: 'any'; host: 'any' }; token: SecretRef };
const fixture: ActionPlugin<FixtureEntry> = {
  type: 'fixture-held-secret',
  schema: undefined as never,
  convergent: true,
  summarize: () => 'fixture',
  secrets: (a) => [a.token],
  observe: async () => ({}),
  plan: async () => ({ action: 'fixture', steps: [] }),
};
registerActionPlugin(fixture);

function configWith(password: SecretRef, token: SecretRef): HookConfig {
  const base = validateConfig(
    { sentinels: { addresses: ['10.0.0.1:26379'], password }, masters: { m: [{ type: 'exec', run: ['/bin/true'] }] } },
    't.yaml',
  );
  const entry: FixtureEntry = { type: 'fixture-held-secret', when: { role: 'any', host: 'any' }, token };
  return { ...base, masters: { m: [...base.masters.m!, entry] } } as unknown as HookConfig;
}

function refused(fn: () => unknown, code: string, line: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.code, code);
    assert.equal(err.exitCode, 2);
    assert.match(err.line(), line);
    return true;
  });
}

test('readConfigSecrets: every secret read now; a missing file or variable refused, named where the config names it', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sh-secrets-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const password = join(dir, 'password');
  const token = join(dir, 'token');
  writeFileSync(password, 'pw-1\n', { mode: 0o600 });
  writeFileSync(token, 'tok-1', { mode: 0o600 });
  const env: NodeJS.ProcessEnv = { TOKEN: 'tok-env' };
  const files = readConfigSecrets(configWith({ file: password }, { file: token }), env);
  assert.deepEqual(Object.fromEntries(files), { [password]: 'pw-1', [token]: 'tok-1' });
  assert.deepEqual(Object.fromEntries(readConfigSecrets(configWith({ file: password }, { env: 'TOKEN' }), env)), {
    [password]: 'pw-1',
  });

  refused(
    () => readConfigSecrets(configWith({ file: password }, { env: 'NOT_SET' }), env),
    'secret-unset',
    /^masters\.m\[1\]: environment variable NOT_SET is not set/,
  );
  unlinkSync(token);
  refused(
    () => readConfigSecrets(configWith({ file: password }, { file: token }), env),
    'secret-unreadable',
    new RegExp(`^masters\\.m\\[1\\]: cannot read ${token}: ENOENT`),
  );
  unlinkSync(password);
  refused(
    () => readConfigSecrets(configWith({ file: password }, { env: 'TOKEN' }), env),
    'secret-unreadable',
    new RegExp(`^sentinels\\.password: cannot read ${password}: ENOENT`),
  );
});

test('held secret files: what a service read with its config serves its runs (and is cut out of the log) after the file is gone', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sh-secrets-held-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'password');
  writeFileSync(file, 'pw-held\n', { mode: 0o600 });
  const env: NodeJS.ProcessEnv = {};
  holdSecretFiles(env, readConfigSecrets(configWith({ file }, { env: 'UNUSED' }), { UNUSED: 'x' }));
  writeFileSync(file, 'pw-rotated\n');
  assert.equal(readSecret({ file }, env), 'pw-held', 'the held value until a reload reads the file again');
  unlinkSync(file);
  assert.equal(readSecret({ file }, env), 'pw-held');
  assert.deepEqual(withholdSecrets(env, [{ file }]), ['pw-held']);
  // A process that holds nothing (the hook) reads the file at each use.
  refused(() => readSecret({ file }, {}), 'secret-unreadable', /^sentinels\.password: cannot read .*ENOENT/);
});
