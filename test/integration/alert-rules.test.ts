// The shipped alert rules (examples/prometheus), checked by Prometheus's own promtool: they parse, and
// each alert fires on the series that mean trouble and stays silent on a healthy deployment.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { parse, stringify } from 'yaml';

const RULES = resolve(import.meta.dirname, '../../examples/prometheus/sentinel-hook.rules.yml');

function promtool(): string {
  if (spawnSync('promtool', ['--version']).status !== 0) {
    const apt = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'prometheus'], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      encoding: 'utf8',
      timeout: 300_000,
    });
    assert.equal(apt.status, 0, `promtool is needed (Debian package prometheus): ${apt.stderr}`);
  }
  return 'promtool';
}

// Two hosts of one deployment (instance a and b), one master; 1m apart. Each case is its own series set.
const cases = `
rule_files: [sentinel-hook.rules.yml]
evaluation_interval: 15s
tests:
  - name: healthy
    interval: 15s
    input_series:
      - { series: 'sentinel_hook_vip_held{master="m",instance="a"}', values: '1x8' }
      - { series: 'sentinel_hook_vip_held{master="m",instance="b"}', values: '0x8' }
      - { series: 'sentinel_hook_consistent{master="m",instance="a"}', values: '1x8' }
      - { series: 'sentinel_hook_sentinel_connected{sentinel="s1:26379",instance="a"}', values: '1x8' }
      - { series: 'sentinel_hook_last_run_success{master="m",instance="a"}', values: '1x8' }
      - { series: 'up{job="sentinel-hook",instance="a"}', values: '1x8' }
    alert_rule_test:
      - { eval_time: 2m, alertname: SentinelHookVipHeldByNone, exp_alerts: [] }
      - { eval_time: 2m, alertname: SentinelHookVipHeldByTwo, exp_alerts: [] }
      - { eval_time: 2m, alertname: SentinelHookInconsistent, exp_alerts: [] }
      - { eval_time: 2m, alertname: SentinelHookSentinelDisconnected, exp_alerts: [] }
      - { eval_time: 2m, alertname: SentinelHookLastRunFailed, exp_alerts: [] }
      - { eval_time: 2m, alertname: SentinelHookWatchDown, exp_alerts: [] }
  - name: trouble
    interval: 15s
    input_series:
      - { series: 'sentinel_hook_vip_held{master="none",instance="a"}', values: '0x8' }
      - { series: 'sentinel_hook_vip_held{master="none",instance="b"}', values: '0x8' }
      - { series: 'sentinel_hook_vip_held{master="two",instance="a"}', values: '1x8' }
      - { series: 'sentinel_hook_vip_held{master="two",instance="b"}', values: '1x8' }
      - { series: 'sentinel_hook_consistent{master="m",instance="a"}', values: '0x8' }
      - { series: 'sentinel_hook_consistent{master="brief",instance="a"}', values: '0 0 1x6' }
      - { series: 'sentinel_hook_sentinel_connected{sentinel="s1:26379",instance="a"}', values: '0x8' }
      - { series: 'sentinel_hook_last_run_success{master="m",instance="a"}', values: '0x8' }
      - { series: 'up{job="sentinel-hook",instance="a"}', values: '0x8' }
    alert_rule_test:
      - eval_time: 2m
        alertname: SentinelHookVipHeldByNone
        exp_alerts: [{ exp_labels: { master: none, severity: critical } }]
      - eval_time: 2m
        alertname: SentinelHookVipHeldByTwo
        exp_alerts: [{ exp_labels: { master: two, severity: critical } }]
      # Inconsistent for 2 minutes fires; for 30 s (a failover being applied) does not.
      - eval_time: 2m
        alertname: SentinelHookInconsistent
        exp_alerts: [{ exp_labels: { master: m, instance: a, severity: warning } }]
      - eval_time: 2m
        alertname: SentinelHookSentinelDisconnected
        exp_alerts: [{ exp_labels: { sentinel: 's1:26379', instance: a, severity: warning } }]
      - eval_time: 2m
        alertname: SentinelHookLastRunFailed
        exp_alerts: [{ exp_labels: { master: m, instance: a, severity: warning } }]
      - eval_time: 2m
        alertname: SentinelHookWatchDown
        exp_alerts: [{ exp_labels: { job: sentinel-hook, instance: a, severity: critical } }]
`;

test('the example alert rules: promtool accepts them, each fires on trouble and none on a healthy deployment', (t) => {
  const tool = promtool();
  const dir = mkdtempSync(join(tmpdir(), `sh-alerts-${process.pid}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const check = spawnSync(tool, ['check', 'rules', RULES], { encoding: 'utf8' });
  assert.equal(check.status, 0, check.stdout + check.stderr);
  // promtool compares annotations too: the cases are about which alert fires, with which labels.
  const rules = parse(readFileSync(RULES, 'utf8')) as { groups: { rules: { annotations?: unknown }[] }[] };
  for (const group of rules.groups) for (const rule of group.rules) delete rule.annotations;
  writeFileSync(join(dir, 'sentinel-hook.rules.yml'), stringify(rules));
  writeFileSync(join(dir, 'cases.yml'), cases);
  const run = spawnSync(tool, ['test', 'rules', 'cases.yml'], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /SUCCESS/);
});
