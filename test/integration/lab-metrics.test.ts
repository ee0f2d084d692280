// Metrics around a real failover, in the Sentinel lab (network namespaces, redis-server and redis-sentinel,
// watch on every Redis host as a service runs it): /metrics scraped on each host's own loopback before and
// after the master's redis-server is killed, and the node_exporter textfile the same runs write. Needs root.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Lab, type LabHook, labSentinels, sleep, watchHook, withLab } from '../lab/index.ts';

const PORT = 9469;

/** One sample's value from the text format, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** GET /metrics from inside `host`'s namespace (its own loopback). */
async function scrape(lab: Lab, host: string): Promise<string> {
  const script = `fetch('http://127.0.0.1:${PORT}/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))`;
  return lab.execOk(host, [process.execPath, '-e', script], { timeoutMs: 10_000 });
}

/** Scrape every Redis host until `ok` holds for all of them (every 250 ms, bounded), or fail with what was seen. */
async function scrapeUntil(
  lab: Lab,
  ok: (texts: Record<string, string>) => boolean,
  timeoutMs: number,
  what: string,
): Promise<Record<string, string>> {
  let texts: Record<string, string> = {};
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < Math.ceil(timeoutMs / 250) + 1 && Date.now() < deadline; i++) {
    texts = {};
    for (const h of lab.redisHosts) texts[h.name] = await scrape(lab, h.name).catch((e: Error) => e.message);
    if (ok(texts)) return texts;
    await sleep(250);
  }
  throw new Error(`${what}: not seen within ${timeoutMs} ms; last scrapes:\n${JSON.stringify(texts, null, 1)}`);
}

const M = 'master="mymaster"';

test('metrics around a failover: vip_held moves to the new master, the epoch rises, the event is counted and timed, the textfile follows', {
  timeout: 240_000,
}, async (t) => {
  const base = watchHook() as LabHook & { kind: 'sentinel-hook' };
  const hook: LabHook = {
    ...base,
    extraConfig: (host, lab) => ({
      ...labSentinels(lab),
      // The lab user's own directory: watch runs as redis, and writes the textfile as its runs end.
      metrics: { listen: `127.0.0.1:${PORT}`, textfile: host.runDir },
    }),
  };
  await withLab(t, { hook }, async (lab) => {
    for (const h of lab.redisHosts) lab.startWatch(h.name, { intervalMs: 2000 });
    for (const h of lab.redisHosts) await lab.waitWatchReady(h.name);
    const old = lab.initialMaster;
    const before = await scrapeUntil(
      lab,
      (x) =>
        lab.redisHosts.every(
          (h) =>
            sample(x[h.name]!, `sentinel_hook_consistent{${M}}`) === 1 &&
            sample(x[h.name]!, `sentinel_hook_vip_held{${M}}`) === (h.name === old ? 1 : 0),
        ),
      30_000,
      'before: every host consistent, the VIP on the initial master only',
    );
    const epochBefore = sample(before[old]!, `sentinel_hook_master_epoch{${M}}`);
    assert.ok(epochBefore !== undefined, 'the epoch is reported');
    for (const h of lab.redisHosts) {
      const text = before[h.name]!;
      assert.equal(sample(text, 'sentinel_hook_up'), 1);
      for (const s of lab.redisHosts)
        assert.equal(
          sample(text, `sentinel_hook_sentinel_connected{sentinel="${s.ip}:26379"}`),
          1,
          `${h.name} → ${s.name}`,
        );
      assert.equal(sample(text, 'sentinel_hook_event_to_applied_seconds_count'), 0, 'no failover yet');
    }

    lab.killRedis(old);
    const next = await lab.waitNewMaster(old, { timeoutMs: 30_000 });
    const after = await scrapeUntil(
      lab,
      (x) =>
        lab.redisHosts.every(
          (h) =>
            sample(x[h.name]!, `sentinel_hook_vip_held{${M}}`) === (h.name === next ? 1 : 0) &&
            (sample(x[h.name]!, `sentinel_hook_master_epoch{${M}}`) ?? -1) > epochBefore,
        ) &&
        // Timed where the announcement did the work (an interval reconcile may beat it on a host, rarely on all).
        lab.redisHosts.some((h) => (sample(x[h.name]!, 'sentinel_hook_event_to_applied_seconds_count') ?? 0) >= 1),
      30_000,
      `after: the VIP on ${next} only, a newer epoch everywhere, the failover timed`,
    );
    console.log(
      `lab-metrics: ${old} -> ${next}; epoch ${epochBefore} -> ${sample(after[next]!, `sentinel_hook_master_epoch{${M}}`)}; ` +
        `event to applied (s): ${lab.redisHosts.map((h) => `${h.name} ${sample(after[h.name]!, 'sentinel_hook_event_to_applied_seconds_sum')}`).join(', ')}`,
    );
    const heard = (text: string) =>
      (sample(text, 'sentinel_hook_events_total{kind="+switch-master"}') ?? 0) +
      (sample(text, 'sentinel_hook_events_total{kind="+promoted-slave"}') ?? 0);
    for (const h of lab.redisHosts) {
      assert.ok(heard(after[h.name]!) >= 1, `${h.name} counted the announcements`);
      assert.equal(sample(after[h.name]!, `sentinel_hook_consistent{${M}}`), 1, `${h.name} consistent after`);
    }
    // The last run that changed something on the new master succeeded, and says when.
    assert.equal(sample(after[next]!, `sentinel_hook_last_run_success{${M}}`), 1);
    assert.ok((sample(after[next]!, `sentinel_hook_last_run_timestamp_seconds{${M}}`) ?? 0) > Date.now() / 1000 - 120);

    // The textfile the same runs write (the hook setup's metrics) says the same.
    const textfile = (name: string) => readFileSync(join(lab.host(name).runDir, 'sentinel_hook_mymaster.prom'), 'utf8');
    assert.equal(sample(textfile(next), `sentinel_hook_vip_held{${M}}`), 1);
    assert.equal(sample(textfile(old), `sentinel_hook_vip_held{${M}}`), 0);
  });
});
