// `status` and `doctor` in the real Sentinel lab (network namespaces, three redis-server +
// redis-sentinel as the redis user running hooks/client-reconfig, the vip action under the generated
// sudoers, a hosts push to an app host's sshd). One lab, the situations in turn, each judged by the
// exit code and what the command printed. The VIP is one of this run's own (its sudoers lines are
// then this run's alone: other labs on the machine install theirs for the lab's usual VIP). Needs root.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { type Lab, MASTER_NAME, SUBNET_PREFIX, vipHook, withLab } from '../lab/index.ts';
import { cliPath } from '../lab/lab.ts';
import { reachablePath } from '../support/checkout.ts';

const VIP = `${SUBNET_PREFIX}.${150 + (process.pid % 90)}/24`;
const NAME = 'redis-master.lab';

interface StatusJson {
  exitCode: number;
  masters: {
    verdict: string;
    fix?: string;
    paused: string | null;
    actions: { action: string; parts: { what: string; state: string; seen: string }[] }[];
  }[];
}

interface DoctorJson {
  exitCode: number;
  checks: { check: string; result: string; detail: string; fix?: string }[];
}

/** How long each command took, for the report (a figure, not an assertion: performance is for benchmarks). */
const took: Record<string, number[]> = {};

async function cli(lab: Lab, host: string, args: string[]): Promise<{ code: number; stdout: string }> {
  const started = performance.now();
  const r = await lab.exec(host, [process.execPath, cliPath(), ...args, '--config', lab.host(host).files.hookConfig], {
    timeoutMs: 60_000,
  });
  const name = args.filter((a) => !a.startsWith('-') && !a.includes('/')).join(' ');
  took[name] = [...(took[name] ?? []), Math.round(performance.now() - started)];
  return { code: r.code ?? -1, stdout: r.stdout + r.stderr };
}

async function status(lab: Lab, host: string): Promise<{ code: number; json: StatusJson; text: string }> {
  const [j, t] = await Promise.all([cli(lab, host, ['status', '--json']), cli(lab, host, ['status'])]);
  let json: StatusJson;
  try {
    json = JSON.parse(j.stdout) as StatusJson;
  } catch {
    throw new Error(`status on ${host} printed no JSON (exit ${j.code}): ${j.stdout}`);
  }
  assert.equal(t.code, j.code, 'text and JSON agree on the exit code');
  return { code: j.code, json, text: t.stdout };
}

async function doctor(lab: Lab, host: string): Promise<{ code: number; json: DoctorJson; text: string }> {
  const conf = ['--sentinel-conf', lab.host(host).files.sentinelConf];
  const j = await cli(lab, host, ['doctor', '--json', ...conf]);
  const t = await cli(lab, host, ['doctor', ...conf]);
  let json: DoctorJson;
  try {
    json = JSON.parse(j.stdout) as DoctorJson;
  } catch {
    throw new Error(`doctor on ${host} printed no JSON (exit ${j.code}): ${j.stdout}`);
  }
  return { code: j.code, json, text: t.stdout };
}

const parts = (s: StatusJson) => s.masters[0]!.actions.flatMap((a) => a.parts);
const checksNamed = (d: DoctorJson, re: RegExp) => d.checks.filter((c) => re.test(c.check));

test('status and doctor in the lab: consistent; a stale VIP is CRITICAL with reconcile; a push target down; a sudoers line missing; a paused host', {
  timeout: 300_000,
}, async (t: TestContext) => {
  const keys = mkdtempSync(join(tmpdir(), `sentinel-hook-status-${process.pid}-`));
  chmodSync(keys, 0o755);
  const redisUid = Number(execFileSync('id', ['-u', 'redis'], { encoding: 'utf8' }).trim());
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(keys, 'id')], { stdio: 'ignore' });
  chownSync(join(keys, 'id'), redisUid, redisUid);
  writeFileSync(join(keys, 'authorized_keys'), readFileSync(join(keys, 'id.pub')));
  const remoteHosts = join(keys, 'a1-hosts');
  try {
    await withLab(
      t,
      {
        vip: VIP,
        hook: vipHook({
          vip: VIP,
          sentinels: true,
          more: (_host, l) => [
            {
              type: 'hosts',
              names: [NAME],
              when: { role: 'leader' },
              push: {
                targets: [l.host('a1').ip],
                user: 'root',
                identityFile: join(keys, 'id'),
                knownHostsFile: join(keys, 'known_hosts'),
                remotePath: remoteHosts,
                timeout: '3s',
              },
            },
          ],
        }),
      },
      async (lab) => {
        writeFileSync(remoteHosts, `127.0.0.1 localhost\n${lab.host('r1').ip} ${NAME}\n`);
        const sshd = await lab.startSshd('a1', { authorizedKeysFile: join(keys, 'authorized_keys') });
        writeFileSync(
          join(keys, 'known_hosts'),
          `${lab.host('a1').ip} ${sshd.hostKeyPub.split(' ').slice(0, 2).join(' ')}\n`,
        );
        await lab.waitSentinelsAgree('r1', { timeoutMs: 20_000, replicas: 2 });
        const before = readFileSync(remoteHosts, 'utf8');

        // 1. Consistent: the VIP on the master, the app host's file names it.
        const ok = await status(lab, 'r1');
        t.diagnostic(`status on r1 (consistent):\n${ok.text}`);
        assert.equal(ok.code, 0, ok.text);
        assert.equal(ok.json.masters[0]!.verdict, 'consistent');
        assert.deepEqual(
          parts(ok.json).map((p) => p.state),
          ['consistent', 'consistent'],
        );
        assert.match(ok.text, /^mymaster: OK consistent/m);

        // A monitoring agent's own user (here nobody): the push key and the records are not its to read.
        // Those parts are UNKNOWN; the VIP and the Sentinels are still judged (exit 3, not a failure).
        const agent = await lab.exec(
          'r1',
          [
            'setpriv',
            '--reuid=nobody',
            '--regid=nogroup',
            '--clear-groups',
            process.execPath,
            reachablePath(cliPath()),
            'status',
            '--json',
            '--config',
            lab.host('r1').files.hookConfig,
          ],
          { timeoutMs: 60_000 },
        );
        const seen = JSON.parse(agent.stdout) as StatusJson & { masters: { unreadable?: string[] }[] };
        t.diagnostic(`status on r1 as nobody: exit ${agent.code}, ${JSON.stringify(parts(seen))}`);
        assert.equal(agent.code, 3, agent.stdout + agent.stderr);
        assert.deepEqual(
          parts(seen).map((p) => p.state),
          ['consistent', 'unknown'],
        );
        assert.match(parts(seen)[1]!.seen, /identityFile/);
        assert.ok(seen.masters[0]!.unreadable?.length, 'the lock directory (mode 700, redis) is unreadable to it');

        // doctor on r1, everything wired: sudo allows every planned line, the Sentinels answer, the push target takes a probe.
        const healthy = await doctor(lab, 'r1');
        t.diagnostic(`doctor on r1:\n${healthy.text}`);
        const sudo = checksNamed(healthy.json, /^sudo /);
        assert.ok(sudo.length >= 3, healthy.text);
        assert.deepEqual([...new Set(sudo.map((c) => c.result))], ['pass'], healthy.text);
        for (const name of [
          /^sentinel user$/,
          /^sentinels agree/,
          /^sentinel ids/,
          /push target/,
          /push identityFile/,
          /^runtime$/,
        ])
          assert.deepEqual(
            checksNamed(healthy.json, name).map((c) => c.result),
            ['pass'],
            `${name}: ${healthy.text}`,
          );
        assert.equal(checksNamed(healthy.json, /^sentinel\.conf: mymaster$/)[0]?.result, 'pass', healthy.text);
        assert.equal(readFileSync(remoteHosts, 'utf8'), before, 'doctor never changes the remote file');

        // 2. A stale VIP: r2 holds it too (a missed failover); r2's status is CRITICAL and says reconcile.
        await lab.ip('r2', ['addr', 'add', VIP, 'dev', 'eth0']);
        const stale = await status(lab, 'r2');
        t.diagnostic(`status on r2 (stale VIP):\n${stale.text}`);
        assert.equal(stale.code, 2, stale.text);
        assert.equal(stale.json.masters[0]!.verdict, 'inconsistent');
        assert.match(stale.json.masters[0]!.fix ?? '', /sentinel-hook reconcile --master mymaster/);
        assert.match(stale.text, /run: sentinel-hook reconcile --master mymaster/);
        assert.equal(parts(stale.json)[0]!.state, 'inconsistent');
        await lab.ip('r2', ['addr', 'del', VIP, 'dev', 'eth0']);

        // 3. A sudoers line missing: doctor fails exactly that line, with the fix.
        const file = lab.sudoersFile!;
        const full = readFileSync(file, 'utf8');
        const cut = full
          .split('\n')
          .filter((l) => !/ addr del /.test(l))
          .join('\n');
        assert.notEqual(cut, full, `no "addr del" rule in ${full}`);
        writeFileSync(`${file}-tmp`, cut, { mode: 0o440 });
        execFileSync('visudo', ['-cf', `${file}-tmp`], { stdio: 'ignore' });
        execFileSync('mv', [`${file}-tmp`, file]);
        const missing = await doctor(lab, 'r1');
        t.diagnostic(`doctor on r1 (a sudoers line missing):\n${missing.text}`);
        assert.equal(missing.code, 1, missing.text);
        const failed = checksNamed(missing.json, /^sudo /).filter((c) => c.result === 'fail');
        assert.equal(failed.length, 1, missing.text);
        assert.match(failed[0]!.check, / addr del /);
        assert.match(failed[0]!.fix ?? '', /sentinel-hook sudoers --user redis/);
        assert.match(missing.text, /^FAIL {2}sudo .* addr del .*\n {6}fix: sentinel-hook sudoers --user redis/m);

        // 4. The push target down: its part is UNKNOWN (the VIP still judged), doctor fails it with a fix.
        process.kill(sshd.proc.pid, 'SIGTERM');
        await lab.waitSentinelsAgree('r1', { timeoutMs: 5000, replicas: 2 });
        for (let i = 0; i < 50 && sshd.proc.exitedAt === undefined; i++) await new Promise((r) => setTimeout(r, 100));
        const down = await status(lab, 'r1');
        t.diagnostic(`status on r1 (push target down):\n${down.text}`);
        assert.equal(down.code, 3, down.text);
        assert.deepEqual(
          parts(down.json).map((p) => p.state),
          ['consistent', 'unknown'],
        );
        const target = await doctor(lab, 'r1');
        const push = checksNamed(target.json, /push target/);
        assert.equal(push[0]?.result, 'fail', target.text);
        assert.match(push[0]?.fix ?? '', /start sshd/);

        // 5. A paused host: shown, with its reason.
        assert.equal((await cli(lab, 'r3', ['pause', '--reason', 'drill 42'])).code, 0);
        const paused = await status(lab, 'r3');
        t.diagnostic(`status on r3 (paused):\n${paused.text}`);
        assert.match(paused.json.masters[0]!.paused ?? '', /drill 42/);
        assert.match(paused.text, /paused\s+yes\s+.*drill 42/);

        // 6. watch on r1 (as the redis user with CAP_NET_ADMIN and CAP_NET_RAW, as its unit runs it):
        // status sees it alive from its heartbeat; doctor finds its capabilities and its subscriptions allowed.
        lab.startWatch('r1', { intervalMs: 1000 });
        await lab.waitWatchReady('r1');
        const watched = await status(lab, 'r1');
        assert.match(watched.text, /watch\s+alive\s+alive \(pid \d+/, watched.text);
        const withWatch = await doctor(lab, 'r1');
        t.diagnostic(`doctor on r1 (watch running):\n${withWatch.text}`);
        assert.equal(checksNamed(withWatch.json, /^watch$/)[0]?.result, 'pass', withWatch.text);
        assert.equal(checksNamed(withWatch.json, /^watch capabilities$/)[0]?.result, 'pass', withWatch.text);
        const subscribed = checksNamed(withWatch.json, /pub\/sub$/);
        assert.equal(subscribed.length, 3, withWatch.text);
        assert.deepEqual([...new Set(subscribed.map((c) => c.result))], ['pass'], withWatch.text);
        assert.equal(MASTER_NAME, 'mymaster');
        t.diagnostic(`wall time per command (ms, each run): ${JSON.stringify(took)}`);
      },
    );
  } finally {
    rmSync(keys, { recursive: true, force: true });
  }
});
