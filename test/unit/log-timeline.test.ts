// Logs an operator can read: watch's lines on a terminal, `sentinel-hook log`'s timeline from the hook's
// log and watch's journal lines, and the what-if dry-run (--assume-current) of an event the Sentinels call stale.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { main } from '../../src/cli.ts';
import { groupRuns, logCommand, parseLogLines, renderRun } from '../../src/commands/log.ts';
import { validateConfig } from '../../src/config/load.ts';
import { parseEvent } from '../../src/event.ts';
import { stdoutLogger } from '../../src/log.ts';
import { runHook } from '../../src/pipeline/run.ts';
import type { CommandRunner } from '../../src/runner.ts';
import { FakeRunner, fakeDeps } from '../support/fakes.ts';

test('watch at a terminal: readable lines; under journald: JSON led by the syslog priority', () => {
  const lines: string[] = [];
  const log = stdoutLogger(
    'info',
    { run: 'r1', watch: true },
    { journal: false, readable: true, write: (l) => lines.push(l) },
  );
  log.child({ master: 'm' }).warn({ reason: 'no majority' }, 'not converged');
  assert.match(lines[0]!, /^\d\d:\d\d:\d\d\.\d{3} warn {2}not converged {2}watch=true master=m reason=no majority\n$/);
  const journal: string[] = [];
  stdoutLogger('info', {}, { journal: true, write: (l) => journal.push(l) }).warn({}, 'careful');
  assert.match(journal[0]!, /^<4>\{"level":40,.*"msg":"careful"\}\n$/);
});

// Two hook runs (as the hook's log file has them) and one watch run (its journal lines), one master.
const HOOK_LOG = [
  '{"level":30,"time":"2026-12-03T12:00:00.000Z","run":"h1","master":"mymaster","event":{"master":"mymaster","role":"leader","state":"start","fromIp":"10.0.0.1","fromPort":6379,"toIp":"10.0.0.2","toPort":6379},"dryRun":false,"msg":"hook start"}',
  '{"level":30,"time":"2026-12-03T12:00:00.020Z","run":"h1","master":"mymaster","freshness":"current","answers":[{},{},{}],"msg":"event freshness checked"}',
  '{"level":30,"time":"2026-12-03T12:00:00.030Z","run":"h1","master":"mymaster","intent":"event","plan":[{"action":"vip","steps":[{"description":"add 10.0.0.100/24 on eth0"}]}],"msg":"plan"}',
  'not json: a stray line',
  '{"level":30,"time":"2026-12-03T12:00:00.045Z","run":"h1","master":"mymaster","action":"vip","step":"add 10.0.0.100/24 on eth0","ms":12,"msg":"step done"}',
  '{"level":30,"time":"2026-12-03T12:00:00.050Z","run":"h1","master":"mymaster","exitCode":0,"outcome":"applied","ms":50,"msg":"hook end"}',
  '{"level":30,"time":"2026-12-03T12:05:00.000Z","run":"h2","master":"other","event":{"master":"other","role":"observer","state":"start","fromIp":"10.0.1.1","fromPort":6379,"toIp":"10.0.1.2","toPort":6379},"msg":"hook start"}',
  '{"level":50,"time":"2026-12-03T12:05:00.100Z","run":"h2","master":"other","error":"lock held\\u001b[2J","exitCode":1,"ms":100,"msg":"hook end"}',
].join('\n');
const JOURNAL = [
  '{"level":30,"time":"2026-12-03T12:10:00.000Z","run":"w","watch":true,"msg":"watch start"}',
  '{"level":30,"time":"2026-12-03T12:10:01.000Z","run":"w","watch":true,"master":"mymaster","sentinel":"10.0.0.3:26379","to":"10.0.0.3:6379","msg":"+switch-master"}',
  '{"level":30,"time":"2026-12-03T12:10:01.040Z","run":"w","watch":true,"master":"mymaster","intent":"state","state":{"ip":"10.0.0.3","port":6379,"epoch":9},"plan":[{"action":"vip","steps":[{"description":"remove 10.0.0.100/24 from eth0"}]}],"msg":"plan"}',
  '{"level":30,"time":"2026-12-03T12:10:01.060Z","run":"w","watch":true,"master":"mymaster","action":"vip","step":"remove 10.0.0.100/24 from eth0","ms":9,"msg":"step done"}',
  '{"level":30,"time":"2026-12-03T12:10:01.070Z","run":"w","watch":true,"master":"mymaster","why":"+switch-master","outcome":"converged","msg":"converged"}',
  '{"level":20,"time":"2026-12-03T12:10:11.000Z","run":"w","watch":true,"master":"mymaster","why":"interval","outcome":"nothing-to-do","msg":"in line"}',
].join('\n');

test('the timeline: hook runs by run id, watch runs cut per master at their report, in time order, control characters shown', () => {
  const runs = groupRuns([...parseLogLines(HOOK_LOG, 'file'), ...parseLogLines(JOURNAL, 'journal')]);
  assert.deepEqual(
    runs.map((r) => [r.master, r.source, r.records.length]),
    [
      ['mymaster', 'file', 5],
      ['other', 'file', 2],
      ['mymaster', 'journal', 4],
    ],
  );
  assert.equal(
    renderRun(runs[0]!),
    [
      '2026-12-03 12:00:00.000 UTC  mymaster  hook h1  -> applied',
      '     +0 ms       event: leader start: 10.0.0.1:6379 -> 10.0.0.2:6379',
      '    +20 ms       the Sentinels say the event is current (3 answers)',
      '    +30 ms       decided: vip: add 10.0.0.100/24 on eth0',
      '    +45 ms       ok      vip: add 10.0.0.100/24 on eth0 (12 ms)',
      '    +50 ms       end: applied, exit 0 (50 ms)',
    ].join('\n'),
  );
  assert.match(renderRun(runs[1]!), /-> failed\n.*\n\s+\+100 ms ERROR end: exit 1 \(100 ms\): lock held\\x1b\[2J$/);
  assert.equal(
    renderRun(runs[2]!),
    [
      '2026-12-03 12:10:01.000 UTC  mymaster  watch w#2 (journal)  -> converged',
      '     +0 ms       +switch-master  to=10.0.0.3:6379 sentinel=10.0.0.3:26379',
      '    +40 ms       decided for master 10.0.0.3:6379 (epoch 9): vip: remove 10.0.0.100/24 from eth0',
      '    +60 ms       ok      vip: remove 10.0.0.100/24 from eth0 (9 ms)',
      '    +70 ms       converged  why=+switch-master outcome=converged',
    ].join('\n'),
  );
});

test('log --master --last: the newest runs of that master; the journal read with journalctl when there is one', async () => {
  const config = validateConfig(
    { log: { file: '/var/log/x.log' }, masters: { mymaster: [{ type: 'exec', run: ['/bin/true'] }] } },
    'c',
  );
  const journalctl = new FakeRunner([
    {
      argv: [
        '/usr/bin/journalctl',
        '--no-pager',
        '-q',
        '-o',
        'cat',
        '-n',
        '10000',
        '-u',
        'sentinel-hook-watch.service',
        '-u',
        'sentinel-hook-reconcile.service',
      ],
      result: { stdout: JOURNAL },
    },
  ]);
  const out = await logCommand(
    config,
    { master: 'mymaster', last: 1 },
    {
      readFile: (f) => (f === '/var/log/x.log' ? HOOK_LOG : undefined),
      runner: journalctl,
      which: (p) => `/usr/bin/${p}`,
    },
  );
  assert.equal(out.found, 1);
  assert.match(out.text, /^2026-12-03 12:10:01\.000 UTC {2}mymaster {2}watch/);
  assert.match(out.text, /\n\n1 run from \/var\/log\/x\.log and the journal/);
  // No journalctl, no log file: it says so, and finds nothing.
  const none = await logCommand(
    config,
    { last: 5 },
    { readFile: () => undefined, runner: new FakeRunner([]) as CommandRunner, which: () => undefined },
  );
  assert.equal(
    none.text,
    'no runs in /var/log/x.log; cannot read the hook log /var/log/x.log; no journalctl here: the journal was not read',
  );
});

// What a failover to 10.0.0.2 would do now, though the Sentinels have moved on to 10.0.0.7.
test('what-if: --dry-run --assume-current plans the event the Sentinels call stale, says so, and runs nothing', async () => {
  const lockDir = mkdtempSync(join(tmpdir(), `sh-whatif-${process.pid}-`));
  try {
    const config = validateConfig(
      {
        lockDir,
        sentinels: { addresses: ['10.0.0.9:26379'], settle: 0 },
        masters: { mymaster: [{ type: 'exec', run: ['/bin/echo', '{toIp}'] }] },
      },
      'c',
    );
    const event = parseEvent(['mymaster', 'leader', 'start', '10.0.0.1', '6379', '10.0.0.2', '6379']);
    const says = async (address: string) => ({ address, master: { ip: '10.0.0.7', port: 6379 }, epoch: 7 });
    const plain = await runHook(event, config, fakeDeps({ askSentinel: says }), { dryRun: true });
    assert.equal(plain.outcome, 'stale');
    assert.equal(plain.plans.length, 0);
    const runner = new FakeRunner([]);
    const drill = await runHook(event, config, fakeDeps({ runner, askSentinel: says }), {
      dryRun: true,
      assumeCurrent: true,
    });
    assert.equal(drill.outcome, 'dry-run');
    assert.equal(drill.exitCode, 0);
    assert.match(String(drill.assumed), /a real call would be refused as stale; planned as if it were current/);
    assert.deepEqual(
      drill.plans.flatMap((p) => p.steps.map((s) => s.description)),
      ['run /bin/echo 10.0.0.2'],
    );
    assert.equal(runner.calls.length, 0, 'nothing run');
    // Never for a real run: the staleness check stands.
    const real = await runHook(event, config, fakeDeps({ runner, askSentinel: says }), {
      dryRun: false,
      assumeCurrent: true,
    });
    assert.equal(real.outcome, 'stale');
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
});

test('--assume-current without --dry-run: refused, exit 2, with the line to type', async () => {
  const err: string[] = [];
  const io = { out: () => {}, err: (t: string) => err.push(t), env: {}, isTty: false };
  const code = await main(
    ['--assume-current', 'mymaster', 'leader', 'start', '10.0.0.1', '6379', '10.0.0.2', '6379'],
    io,
  );
  assert.equal(code, 2);
  assert.match(
    err.join(''),
    /--assume-current plans an event the Sentinels may call stale: it is for a dry-run only \(add --dry-run/,
  );
});
