// `sentinel-hook notify -sdown …`: the vip action's ARP bursts again, on the host a majority of the
// configured Sentinels name master and only there, only if it holds the VIP. Fakes: each Sentinel's
// answer, and a runner that fails on any command it was not told to expect.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseNotifyEvent, reannounceTarget } from '../../src/commands/notify.ts';
import { validateConfig } from '../../src/config/load.ts';
import { applyPlans } from '../../src/pipeline/apply.ts';
import { planReannounces } from '../../src/pipeline/run.ts';
import type { AskSentinel } from '../../src/sentinel/client.ts';
import { type Expectation, FakeRunner, fakeDeps } from '../support/fakes.ts';
import { addrJson } from './vip-samples.ts';

const IP = '/usr/sbin/ip';
const ARPING = '/usr/bin/arping';
const SUDO = '/usr/bin/sudo';
const PROGRAMS = { ip: IP, arping: ARPING, sudo: SUDO };
const SENTINELS = ['192.168.0.1:26379', '192.168.0.2:26379', '192.168.0.3:26379'];
// This host is redis3 (192.168.0.3), the new master after redis1 was cut off; redis1 is back.
const ME = '192.168.0.3';
const sdownOldMaster = parseNotifyEvent(
  '-sdown',
  'slave 192.168.0.1:6379 192.168.0.1 6379 @ mymaster 192.168.0.3 6379',
);

function config(
  vip: Record<string, unknown> = {},
  top: Record<string, unknown> = { sentinels: { addresses: SENTINELS } },
) {
  return validateConfig(
    {
      ...top,
      masters: {
        mymaster: [
          {
            type: 'vip',
            address: '192.168.0.4/24',
            interface: 'eth0',
            arp: { count: 2, interval: '10ms', repeatAfter: 0 },
            ...vip,
          },
        ],
      },
    },
    'test.yaml',
  );
}

/** Each Sentinel names the master given for it (undefined: does not answer). */
function sentinelsSay(masters: (string | undefined)[]): { ask: AskSentinel; asked: string[] } {
  const asked: string[] = [];
  const ask: AskSentinel = async (address) => {
    asked.push(address);
    const ip = masters[SENTINELS.indexOf(address)];
    return ip ? { address, master: { ip, port: 6379 } } : { address, error: 'connect ETIMEDOUT' };
  };
  return { ask, asked };
}

const held = addrJson([
  {
    ifname: 'eth0',
    addrs: [
      { family: 'inet', local: ME, prefixlen: 24 },
      { family: 'inet', local: '192.168.0.4', prefixlen: 24 },
    ],
  },
]);
const notHeld = addrJson([{ ifname: 'eth0', addrs: [{ family: 'inet', local: ME, prefixlen: 24 }] }]);
const addrShow = (stdout: string): Expectation => ({ argv: [IP, '-j', '-4', 'addr', 'show'], result: { stdout } });
const garp = (kind: '-U' | '-A', times: number): Expectation => ({
  argv: [SUDO, '-n', ARPING, '-q', kind, '-c', '1', '-I', 'eth0', '192.168.0.4'],
  times,
});

async function reannounce(
  event: ReturnType<typeof parseNotifyEvent>,
  cfg: ReturnType<typeof config>,
  answers: (string | undefined)[],
  expectations: Expectation[],
  over: { resolve?: (host: string, signal?: AbortSignal) => Promise<string[]>; signal?: AbortSignal } = {},
) {
  const runner = new FakeRunner(expectations);
  const { ask, asked } = sentinelsSay(answers);
  const deps = fakeDeps({
    runner,
    programs: PROGRAMS,
    addresses: ['127.0.0.1', ME],
    askSentinel: ask,
    readFile: (p) => (p === ARPING ? Buffer.from('\x7fELF iputils-arping') : undefined),
    ...(over.resolve ? { resolve: over.resolve } : {}),
  });
  const signal = over.signal ?? new AbortController().signal;
  const master = reannounceTarget(event);
  const plans = master ? await planReannounces(master, cfg, deps, signal) : [];
  const steps = await applyPlans(
    plans,
    { runner, signal, logger: deps.logger, remainingMs: () => 10_000 },
    { sudo: SUDO },
  );
  return { plans, steps, runner, asked };
}

test('the old master is back (-sdown), two of three Sentinels name this host, it holds the VIP: both kinds of ARP again, nothing added or removed', async () => {
  const { plans, steps, runner } = await reannounce(
    sdownOldMaster,
    config(),
    [ME, ME, '192.168.0.1'],
    [addrShow(held), garp('-U', 2), garp('-A', 2)],
  );
  assert.equal(plans.length, 1);
  assert.ok(steps.length > 0 && steps.every((s) => s.ok), JSON.stringify(steps));
  assert.deepEqual(runner.unused(), []);
  assert.equal(
    runner.calls.filter((c) => c.argv.includes('addr') && (c.argv.includes('add') || c.argv.includes('del'))).length,
    0,
  );
});

test("only this host's own Sentinel names it (the returning old master, before it hears the others): no ARP, no ip either", async () => {
  // A majority of the configured Sentinels, not of those answering: one of one answering is not enough.
  for (const answers of [
    [ME, '192.168.0.1', '192.168.0.1'],
    [ME, undefined, undefined],
  ]) {
    const { plans, steps, runner } = await reannounce(sdownOldMaster, config(), answers, []);
    assert.equal(steps.length, 0);
    assert.match(plans[0]!.note ?? '', /skipped: 1 of 3 Sentinels name this host master, 2 needed/);
    assert.equal(runner.calls.length, 0);
  }
});

test('this host is the master but does not hold the VIP: nothing sent (a reannounce never adds it)', async () => {
  const { plans, steps } = await reannounce(sdownOldMaster, config(), [ME, ME, ME], [addrShow(notHeld)]);
  assert.equal(steps.length, 0);
  assert.match(plans[0]!.note ?? '', /not on this host/);
});

test('no reannounce: other event types, other masters, reannounce: false, or no "sentinels" (then said why)', async () => {
  const none = async (event: ReturnType<typeof parseNotifyEvent>, cfg: ReturnType<typeof config>) => {
    const r = await reannounce(event, cfg, [ME, ME, ME], []);
    assert.equal(r.steps.length, 0);
    assert.equal(r.runner.calls.length, 0);
    return r;
  };
  assert.deepEqual(
    (
      await none(
        parseNotifyEvent('+sdown', 'slave 192.168.0.1:6379 192.168.0.1 6379 @ mymaster 192.168.0.3 6379'),
        config(),
      )
    ).plans,
    [],
  );
  assert.deepEqual(
    (
      await none(
        parseNotifyEvent('-sdown', 'slave 192.168.0.1:6379 192.168.0.1 6379 @ other 192.168.0.3 6379'),
        config(),
      )
    ).plans,
    [],
  );
  const off = await none(sdownOldMaster, config({ reannounce: false }));
  assert.deepEqual(off.plans, []);
  assert.equal(off.asked.length, 0);
  const noSentinels = await none(sdownOldMaster, config({}, {}));
  assert.match(noSentinels.plans[0]!.note ?? '', /needs "sentinels"/);
});

test('Sentinels that answer with host names (announce-hostnames): each name looked up once, this host counted when it resolves here', async () => {
  const looked: string[] = [];
  const resolve = async (host: string) => {
    looked.push(host);
    return host === 'redis3.example' ? [ME] : ['192.168.0.1'];
  };
  const { steps } = await reannounce(
    sdownOldMaster,
    config(),
    ['redis3.example', 'redis3.example', 'redis1.example'],
    [addrShow(held), garp('-U', 2), garp('-A', 2)],
    { resolve },
  );
  assert.ok(steps.length > 0 && steps.every((s) => s.ok));
  assert.deepEqual(looked.sort(), ['redis1.example', 'redis3.example']);
});

test('a name lookup that never answers ends at the deadline: not counted, nothing sent, and planning returns', async () => {
  const never = () => new Promise<string[]>(() => {});
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 200);
  const started = performance.now();
  const { plans, steps } = await reannounce(sdownOldMaster, config(), ['redis3.example', 'redis3.example', ME], [], {
    resolve: never,
    signal: controller.signal,
  });
  assert.ok(performance.now() - started < 3000, 'planning must end at the deadline');
  assert.equal(steps.length, 0);
  assert.match(plans[0]!.note ?? '', /1 of 3 Sentinels name this host master/);
});
