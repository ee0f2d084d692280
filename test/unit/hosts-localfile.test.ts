import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { lookupHosts } from '../../src/actions/hosts/edit.ts';
import { padTo, writeFileReplacing } from '../../src/actions/hosts/localfile.ts';
import { reachableCheckout, reachablePath } from '../support/checkout.ts';

const OLD = '127.0.0.1 localhost\n10.0.0.1 redis-master\n';
const NEW = '127.0.0.1 localhost\n10.0.0.2 redis-master\n';
const root = process.getuid?.() === 0;

function withDir(fn: (dir: string) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'hosts-local-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('rename path: new content, mode and owner kept, one backup, no temp file left', () => {
  withDir((dir) => {
    const file = join(dir, 'hosts');
    writeFileSync(file, OLD);
    chmodSync(file, 0o640);
    if (root) chownSync(file, 4321, 4322);
    const inodeBefore = statSync(file).ino;
    const r = writeFileReplacing(file, NEW, OLD);
    assert.equal(r.method, 'rename');
    assert.equal(readFileSync(file, 'utf8'), NEW);
    const st = statSync(file);
    assert.notEqual(st.ino, inodeBefore, 'replaced by rename, not rewritten');
    assert.equal(st.mode & 0o7777, 0o640);
    if (root) assert.deepEqual([st.uid, st.gid], [4321, 4322]);
    assert.equal(readFileSync(`${file}.sentinel-hook.bak`, 'utf8'), OLD);
    assert.deepEqual(readdirSync(dir).sort(), ['hosts', 'hosts.sentinel-hook.bak']);
    // A second change keeps one backup: the previous content.
    writeFileReplacing(file, OLD, NEW);
    assert.equal(readFileSync(`${file}.sentinel-hook.bak`, 'utf8'), NEW);
    assert.equal(readdirSync(dir).length, 2);
  });
});

test("bind-mounted file (a container's /etc/hosts): rename fails with EBUSY, the in-place write lands in the mounted file", {
  skip: root ? false : 'needs root for unshare -m and mount --bind',
}, () => {
  withDir((dir) => {
    const real = join(dir, 'real-hosts');
    const mounted = join(dir, 'etc-hosts');
    // Longer old content: the in-place write must also cut the tail off.
    writeFileSync(real, `${OLD}# a long trailing comment that the new content does not have\n`);
    writeFileSync(mounted, 'placeholder under the mount\n');
    chmodSync(real, 0o604);
    const script = join(dir, 'in-namespace.mts');
    // nobody must reach the module and tsx: from a checkout it cannot enter (a clone in root's home), the bind mount.
    const module = reachablePath(resolve(import.meta.dirname, '../../src/actions/hosts/localfile.ts'));
    writeFileSync(
      script,
      [
        `import { execFileSync } from 'node:child_process';`,
        `import { renameSync, writeFileSync } from 'node:fs';`,
        `import { writeFileReplacing } from ${JSON.stringify(module)};`,
        `execFileSync('mount', ['--bind', ${JSON.stringify(real)}, ${JSON.stringify(mounted)}]);`,
        // Prove the premise: a plain rename onto the mount point really fails here.
        `writeFileSync(${JSON.stringify(join(dir, 'probe'))}, 'x');`,
        `let code = 'none'; try { renameSync(${JSON.stringify(join(dir, 'probe'))}, ${JSON.stringify(mounted)}); } catch (e) { code = e.code; }`,
        `const r = writeFileReplacing(${JSON.stringify(mounted)}, ${JSON.stringify(NEW)}, 'old');`,
        `console.log(JSON.stringify({ code, method: r.method }));`,
      ].join('\n'),
    );
    const r = spawnSync(
      'unshare',
      ['-m', '--propagation', 'private', '--', process.execPath, '--import', 'tsx', script],
      {
        encoding: 'utf8',
        timeout: 30_000,
        cwd: resolve(import.meta.dirname, '../..'),
      },
    );
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { code: string; method: string };
    assert.equal(out.code, 'EBUSY');
    assert.equal(out.method, 'in-place');
    // The namespace is gone with the process: the write is in the file that was mounted.
    assert.equal(readFileSync(real, 'utf8'), NEW);
    assert.equal(statSync(real).mode & 0o777, 0o604);
    assert.equal(readFileSync(mounted, 'utf8'), 'placeholder under the mount\n');
    assert.equal(readFileSync(`${mounted}.sentinel-hook.bak`, 'utf8'), 'old');
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith('.tmp')),
      [],
    );
  });
});

test('directory not writable by us: falls back to writing the file in place', () => {
  withDir((dir) => {
    const file = join(dir, 'hosts');
    writeFileSync(file, OLD);
    if (!root) {
      chmodSync(dir, 0o555);
      try {
        const r = writeFileReplacing(file, NEW, OLD);
        assert.equal(r.method, 'in-place');
        assert.equal(r.backup, undefined);
        assert.equal(readFileSync(file, 'utf8'), NEW);
      } finally {
        chmodSync(dir, 0o755);
      }
      return;
    }
    // Root ignores directory permissions: run the write as nobody, who owns the file but not the directory.
    chmodSync(dir, 0o755);
    chownSync(file, 65534, 65534);
    // nobody must reach the module and tsx: from a checkout it cannot enter (a clone in root's home), the bind mount.
    const module = reachablePath(resolve(import.meta.dirname, '../../src/actions/hosts/localfile.ts'));
    const script = `import { writeFileReplacing } from ${JSON.stringify(module)}; const r = writeFileReplacing(${JSON.stringify(file)}, ${JSON.stringify(NEW)}, ${JSON.stringify(OLD)}); console.log(JSON.stringify({ method: r.method, backup: r.backup ?? null }));`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      uid: 65534,
      gid: 65534,
      encoding: 'utf8',
      cwd: reachableCheckout(),
      env: { PATH: process.env.PATH, HOME: dir },
      timeout: 30_000,
    });
    assert.equal(child.status, 0, child.stderr);
    assert.deepEqual(JSON.parse(child.stdout.trim().split('\n').at(-1)!), { method: 'in-place', backup: null });
    assert.equal(readFileSync(file, 'utf8'), NEW);
    assert.deepEqual(readdirSync(dir), ['hosts']);
  });
});

test('in place, shorter content: killed between the write and the truncate, the file is the new content plus a comment line, never an old tail', {
  skip: !root ? 'needs root for unshare -m and mount --bind' : !existsSync('/usr/bin/strace') ? 'needs strace' : false,
}, () => {
  withDir((dir) => {
    const real = join(dir, 'real-hosts');
    const mounted = join(dir, 'etc-hosts');
    // The old address is longer than the new one: the new content is 9 bytes shorter.
    const old = '127.0.0.1 localhost\nfd00:aaaa:bbbb::100 redis-master\n10.5.5.5 app1\n';
    const next = '127.0.0.1 localhost\n10.0.0.2 redis-master\n10.5.5.5 app1\n';
    writeFileSync(real, old);
    writeFileSync(mounted, 'placeholder under the mount\n');
    const script = join(dir, 'in-namespace.mts');
    // nobody must reach the module and tsx: from a checkout it cannot enter (a clone in root's home), the bind mount.
    const module = reachablePath(resolve(import.meta.dirname, '../../src/actions/hosts/localfile.ts'));
    writeFileSync(
      script,
      `import { writeFileReplacing } from ${JSON.stringify(module)};\nwriteFileReplacing(${JSON.stringify(mounted)}, ${JSON.stringify(next)}, ${JSON.stringify(old)});\nconsole.log('finished');\n`,
    );
    // strace SIGKILLs the process at its first ftruncate: the moment between writing and cutting.
    const r = spawnSync(
      'unshare',
      [
        '-m',
        '--propagation',
        'private',
        '--',
        '/bin/sh',
        '-c',
        'mount --bind "$1" "$2" && shift 2 && exec "$@"',
        'sh',
        real,
        mounted,
        'strace',
        '-f',
        '-qq',
        '-o',
        '/dev/null',
        '-e',
        'trace=ftruncate',
        '-e',
        'inject=ftruncate:signal=SIGKILL',
        process.execPath,
        '--import',
        'tsx',
        script,
      ],
      { encoding: 'utf8', timeout: 60_000, cwd: resolve(import.meta.dirname, '../..') },
    );
    assert.equal(r.signal ?? r.status, 'SIGKILL', `the write was not killed at the truncate: ${r.stdout}${r.stderr}`);
    assert.doesNotMatch(r.stdout, /finished/);
    const text = readFileSync(real, 'latin1');
    assert.equal(text, `${next}#${' '.repeat(old.length - next.length - 2)}\n`);
    assert.deepEqual(
      [lookupHosts(text, 'redis-master'), lookupHosts(text, 'app1'), lookupHosts(text, 'localhost')],
      [['10.0.0.2'], ['10.5.5.5'], ['127.0.0.1']],
    );
  });
});

test('padTo: a comment line of the missing length; nothing when the content is long enough', () => {
  const pad = (s: string, n: number) => padTo(Buffer.from(s, 'latin1'), n).toString('latin1');
  assert.equal(pad('10.0.0.2 a\n', 11), '10.0.0.2 a\n');
  assert.equal(pad('10.0.0.2 a\n', 5), '10.0.0.2 a\n');
  assert.equal(pad('10.0.0.2 a\n', 12), '10.0.0.2 a\n\n');
  assert.equal(pad('10.0.0.2 a\n', 15), '10.0.0.2 a\n#  \n');
  // No final newline: the '#' makes the rest a comment on the last line, which still names a.
  assert.deepEqual(lookupHosts(pad('10.0.0.2 a', 20), 'a'), ['10.0.0.2']);
  assert.equal(pad('10.0.0.2 a', 20).length, 20);
});
