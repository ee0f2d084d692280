// The one pipeline's guards, where they once drifted apart: a hosts push under `watch` and `reconcile`
// (a desired state, not a Sentinel call) asks the Sentinels again before each remote write, as the
// hook's push always did; and a secret that an action plugin declares reaches no process we start
// and no log line. Fakes: Sentinels that answer what the test says, a runner that fails on any
// command it was not told to expect; the secrets test runs a real /bin/sh.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TargetResult } from '../../src/actions/hosts/types.ts';
import { registerActionPlugin } from '../../src/actions/index.ts';
import type { ActionPlugin } from '../../src/actions/plugin.ts';
import { validateConfig } from '../../src/config/load.ts';
import type { HookConfig } from '../../src/config/schema.ts';
import { parseEvent } from '../../src/event.ts';
import { reconcileMaster, runHook } from '../../src/pipeline/run.ts';
import { createRunner } from '../../src/runner.ts';
import type { AskSentinel } from '../../src/sentinel/client.ts';
import { FakeRunner, fakeDeps } from '../support/fakes.ts';

const SENTINELS = ['192.0.2.11:26379', '192.0.2.12:26379', '192.0.2.13:26379'];
const NEW_MASTER = '10.0.0.2';
const NEWER_MASTER = '10.0.0.9';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'sh-pipeline-guards-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function hostsPushConfig(dir: string) {
  const file = join(dir, 'hosts');
  // What the watch unit's tmpfiles.d line (or a hook run) makes.
  mkdirSync(join(dir, 'lock'), { mode: 0o700 });
  writeFileSync(file, '127.0.0.1 localhost\n10.0.0.1 redis-master\n');
  for (const f of ['id', 'known_hosts']) writeFileSync(join(dir, f), '', { mode: 0o600 });
  const config = validateConfig(
    {
      lockDir: join(dir, 'lock'),
      sentinels: { addresses: SENTINELS, settle: 0 },
      masters: {
        mymaster: [
          {
            type: 'hosts',
            names: ['redis-master'],
            file,
            // rsync: the push starts a program, which the fake runner refuses unless told to expect it.
            push: {
              transport: 'rsync',
              targets: ['app1', 'app2'],
              user: 'deploy',
              identityFile: join(dir, 'id'),
              knownHostsFile: join(dir, 'known_hosts'),
            },
          },
        ],
      },
    },
    'test.yaml',
  );
  return { file, config };
}

/** A newer failover has happened by the time of the push: every Sentinel names NEWER_MASTER at epoch 8. */
function newerFailover(asked: string[]): AskSentinel {
  return async (address, master) => {
    asked.push(`${address} ${master}`);
    return { address, master: { ip: NEWER_MASTER, port: 6379 }, epoch: 8 };
  };
}

for (const [name, how] of [
  [
    'watch acting on a failover (the announcing Sentinel confirmed it)',
    { claim: true, announce: true, confirmed: true },
  ],
  ['reconcile (and watch every interval)', { claim: false, announce: false, confirmed: true }],
] as const) {
  test(`hosts push under ${name}: the Sentinels are asked again before the remote writes; a newer failover's master is never overwritten`, async (t) => {
    const dir = tempDir(t);
    const { file, config } = hostsPushConfig(dir);
    const asked: string[] = [];
    const runner = new FakeRunner([]);
    const deps = fakeDeps({
      runner,
      addresses: ['10.0.0.3'],
      askSentinel: newerFailover(asked),
      programs: { rsync: '/usr/bin/rsync', ssh: '/usr/bin/ssh' },
    });
    const state = { ip: NEW_MASTER, port: 6379, epoch: 7 };
    const r = await reconcileMaster('mymaster', config, deps, {
      dryRun: false,
      announce: how.announce,
      claim: how.claim,
      // What watch passes: the decision it already has (the announcing Sentinel's answer, or the interval's question).
      decision: {
        clear: true,
        state,
        answers: [{ address: SENTINELS[0]!, master: { ip: NEW_MASTER, port: 6379 }, epoch: 7 }],
      },
      signal: new AbortController().signal,
      remainingMs: () => 10_000,
    });
    assert.equal(r.exitCode, 0, JSON.stringify(r.steps));
    // The local file follows the decision; no target was written (no rsync started: the fake runner would have thrown).
    assert.match(readFileSync(file, 'utf8'), /^10\.0\.0\.2 redis-master$/m);
    const rows = (r.steps[0]!.detail as { targets: TargetResult[] }).targets;
    assert.deepEqual(
      rows.map((row) => `${row.target} ${row.status}`),
      [`local:${file} changed`, 'app1 skipped', 'app2 skipped'],
    );
    assert.ok(asked.length >= 1 && asked.every((a) => a.endsWith(' mymaster')), asked.join('; '));
    assert.deepEqual(runner.calls, []);
  });
}

test("a plugin's declared secret reaches no process we start and no log line (a fixture plugin, registered only here)", async (t) => {
  const dir = tempDir(t);
  const secret = 'tok-5f2b9c7e1d-x81';
  const envFile = join(dir, 'child-env');
  const fixture: ActionPlugin<
    { type: 'fixture-secret'; when: { role: 'any'; host: 'any' }; token: { env: string } },
    { nothing: string }
  > = {
    type: 'fixture-secret',
    schema: undefined as never,
    convergent: true,
    summarize: () => 'fixture',
    secrets: (a) => [a.token],
    observe: async () => ({ nothing: 'fixture' }),
    async plan(a, _desired, _observed, ctx) {
      // A careless plugin: it logs the secret it reads. The core must cut it out all the same.
      ctx.logger.info(
        { token: process.env[a.token.env] ?? 'gone from the environment', note: `token ${secret}` },
        'fixture planning',
      );
      return {
        action: 'fixture',
        steps: [
          {
            kind: 'command',
            description: 'print the environment, then fail saying the secret',
            // The child writes what it inherited, then echoes the secret on stderr (which a failed step reports).
            argv: ['/bin/sh', '-c', `env > '${envFile}'; echo "leaked ${secret}" >&2; exit 3`],
            privileged: false,
            timeoutMs: 5000,
          },
        ],
      };
    },
  };
  registerActionPlugin(fixture);
  const exec = validateConfig(
    {
      lockDir: join(dir, 'lock'),
      masters: { mymaster: [{ type: 'exec', run: ['/bin/sh', '-c', `env > '${envFile}.exec'`] }] },
    },
    't.yaml',
  );
  const config = {
    ...exec,
    masters: {
      mymaster: [
        ...exec.masters.mymaster!,
        { type: 'fixture-secret', when: { role: 'any', host: 'any' }, token: { env: 'FIXTURE_TOKEN' } },
      ],
    },
  } as unknown as HookConfig;
  const env: NodeJS.ProcessEnv = { PATH: '/usr/bin:/bin', FIXTURE_TOKEN: secret };
  const deps = fakeDeps({ runner: createRunner(env), env, addresses: ['10.0.0.3'] });
  const r = await runHook(
    parseEvent(['mymaster', 'leader', 'start', '10.0.0.1', '6379', '10.0.0.3', '6379']),
    config,
    deps,
    { dryRun: false },
  );
  // The exec entry ran and the fixture's step failed as it should (exit 3): both children really ran.
  assert.equal(r.exitCode, 1);
  for (const file of [envFile, `${envFile}.exec`]) {
    const childEnv = readFileSync(file, 'utf8');
    assert.match(childEnv, /^PATH=/m, file);
    assert.doesNotMatch(childEnv, /FIXTURE_TOKEN|tok-5f2b9c7e1d/, file);
  }
  const everything = JSON.stringify(deps.logger.records) + JSON.stringify(r);
  assert.doesNotMatch(everything, /tok-5f2b9c7e1d/);
  // Redacted, not dropped: the lines are there, without the secret.
  assert.match(JSON.stringify(deps.logger.records), /token \[redacted\]/);
  assert.match(JSON.stringify(r.steps), /leaked \[redacted\]/);
});
