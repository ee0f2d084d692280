// The hook SIGKILLed in the middle of a push (Sentinel's 60 s limit, an OOM kill): every remote
// file must hold the old or the new content — never a torn or empty one.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { editHosts } from '../../src/actions/hosts/edit.ts';
import { waitUntil } from '../lab/wait.ts';
import { type SshLab, startSshLab } from '../support/sshd.ts';
import { hostsConfig, runHook, targetRows, writeConfig } from '../support/sshd-hook.ts';

const NAME = 'redis-master.myservice.com';
// ~2 MB per file, so that each write takes long enough to be cut in the middle.
const filler = Array.from(
  { length: 60_000 },
  (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255} host-${i}.internal # filler`,
).join('\n');
const original = (i: number) => `127.0.0.1 localhost\n10.9.9.1 ${NAME}\n# server ${i}\n${filler}\n`;

describe('hook killed mid-push', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, () => {
  let lab: SshLab;
  before(async () => {
    lab = await startSshLab({ count: 12, hostsContent: original });
  });
  after(async () => {
    await lab?.close();
  });

  test('SIGKILL during the fan-out leaves each file old or new; the re-run finishes only the rest', async () => {
    const config = writeConfig(lab.dir, hostsConfig(lab, { concurrency: 2, timeout: '20s' }, {}, { deadline: '50s' }));
    const olds = lab.servers.map((s) => readFileSync(s.hostsFile, 'latin1'));
    const news = olds.map((t) => editHosts(t, [NAME], '10.9.9.2'));
    let pid = 0;
    const running = runHook(config, '10.9.9.2', { onSpawn: (p) => (pid = p) });
    // Bounded poll: kill as soon as one file is new, while others are still in flight.
    let killedAfter = -1;
    for (let i = 0; i < 1500 && killedAfter < 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
      const done = lab.servers.filter((s, k) => readFileSync(s.hostsFile, 'latin1') === news[k]).length;
      if (done >= 1) {
        process.kill(pid, 'SIGKILL');
        killedAfter = done;
      }
    }
    const run = await running;
    assert.equal(run.signal, 'SIGKILL', 'the hook finished before it could be killed: make the pushes slower');
    // sftp-server may still finish a request (a rename) that arrived before the connection dropped:
    // wait until two looks 300 ms apart agree, at most 10 s.
    const look = () => lab.servers.map((s) => readFileSync(s.hostsFile, 'latin1'));
    let texts = look();
    await waitUntil(
      'the remote files to settle after the kill',
      async () => {
        await new Promise((r) => setTimeout(r, 300));
        const now = look();
        const same = now.every((t, k) => t === texts[k]);
        texts = now;
        return same;
      },
      { timeoutMs: 10_000, intervalMs: 1, maxAttempts: 30 },
    );
    const states = texts.map((text, k) => {
      assert.ok(text === olds[k] || text === news[k], `server ${k}: torn file (${text.length} bytes)`);
      return text === news[k] ? 'new' : 'old';
    });
    assert.ok(
      states.includes('old'),
      `every file was already new (${states.join(',')}): the kill came too late to test anything`,
    );

    const retry = await runHook(config, '10.9.9.2');
    assert.equal(retry.code, 0, retry.stderr);
    const rows = targetRows(retry);
    lab.servers.forEach((s, k) => {
      assert.equal(readFileSync(s.hostsFile, 'latin1'), news[k]);
      assert.equal(rows[k]!.status, states[k] === 'new' ? 'unchanged' : 'changed');
    });
  });
});
