// The Debian package's text files (scripts/deb.ts), without building a package: what dpkg and an
// operator read in them.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import {
  bashCompletionText,
  changelogText,
  configProblemsLine,
  controlText,
  copyrightText,
  debianVersion,
  dep5License,
  postinstText,
  postrmText,
  prermText,
  watchLeftOffLine,
} from '../../scripts/deb.ts';
import { COMMANDS } from '../../src/cli-commands.ts';
import { PACKAGED_NEEDS, packagedFiles, packagedGap } from '../../src/systemd/units.ts';

test('versions: npm release and pre-release to Debian versions that sort as they should', () => {
  assert.equal(debianVersion('0.1.0'), '0.1.0-1');
  assert.equal(debianVersion('1.0.0-rc.1'), '1.0.0~rc.1-1');
  assert.equal(debianVersion('1.0.0', 2), '1.0.0-2');
  assert.throws(() => debianVersion('1.0'), /not semver/);
  // dpkg's own comparison: the pre-release sorts before its release.
  const lt = spawnSync('dpkg', ['--compare-versions', '1.0.0~rc.1-1', 'lt', '1.0.0-1']);
  assert.equal(lt.status, 0);
});

test('control: amd64, the runtime named, and Depends on what the node binary links and on redis-sentinel', () => {
  const text = controlText({ version: '0.1.0-1', installedSizeKiB: 123, runtime: '24.22.3' });
  const fields = Object.fromEntries(
    text
      .split('\n')
      .filter((l) => /^[A-Z][\w-]*: /.test(l))
      .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]),
  );
  assert.equal(fields.Package, 'sentinel-hook');
  assert.equal(fields.Version, '0.1.0-1');
  assert.equal(fields.Architecture, 'amd64');
  assert.equal(fields['Installed-Size'], '123');
  assert.match(fields.Depends!, /libc6 \(>= 2\.28\)/);
  assert.match(fields.Depends!, /\bredis-sentinel\b/);
  assert.match(text, /Node\.js 24\.22\.3/);
  // Every continuation line of Description starts with one space; an empty line is " ."
  const description = text.slice(text.indexOf('Description:')).split('\n').slice(1, -1);
  assert.ok(description.every((l) => l.startsWith(' ') && l.trim() !== ''));
  assert.ok(text.endsWith('\n') && !text.endsWith('\n\n'));
});

test('copyright: every bundled package with its licence, MIT as Expat, texts once, common licences referred to', () => {
  const text = copyrightText({
    ownLicense: 'MIT License\n\nCopyright (c) 2026 sentinel-hook contributors\n\nPermission is hereby granted',
    ownCopyright: 'sentinel-hook contributors',
    runtimeVersion: '24.22.3',
    runtimeLicense: 'Node.js is licensed for use as follows:\n\n"""\nCopyright Node.js contributors.\n"""',
    bundled: [
      { name: 'zod', version: '4.0.0', license: 'MIT', copyright: ['2025 Colin McDonnell'], licenseText: 'MIT text A' },
      { name: 'pino', version: '10.0.0', license: 'MIT', copyright: [], licenseText: 'MIT text B' },
      { name: 'yaml', version: '2.0.0', license: 'ISC', copyright: ['Eemeli Aro'], licenseText: 'ISC text\n\nmore' },
      { name: 'x', version: '1.0.0', license: 'Apache-2.0', copyright: ['X'], licenseText: 'APACHE FULL TEXT' },
      { name: 'y', version: '1.0.0', license: '(MIT OR Apache-2.0)', copyright: ['Y'] },
    ],
  });
  assert.match(text, /^Format: https:\/\/www\.debian\.org\/doc\/packaging-manuals\/copyright-format\/1\.0\/$/m);
  for (const name of ['zod', 'pino', 'yaml', 'x', 'y'])
    assert.match(text, new RegExp(`^Files: node_modules/${name}/\\*$`, 'm'));
  assert.match(text, /^Files: \/usr\/lib\/sentinel-hook\/bin\/node\nCopyright: .*\nLicense: Node\.js$/m);
  assert.match(text, /Files: node_modules\/zod\/\*\nCopyright: 2025 Colin McDonnell\nLicense: Expat\n/);
  assert.match(text, /Files: node_modules\/pino\/\*\nCopyright: the pino authors\n/);
  assert.match(text, /Files: node_modules\/y\/\*\nCopyright: Y\nLicense: Expat or Apache-2\.0\n/);
  // One standalone paragraph per licence: Expat's text once, Apache-2.0 by reference, ISC's text with " ." lines.
  assert.equal(text.match(/^License: Expat\n /gm)?.length, 1);
  assert.match(
    text,
    /^License: Apache-2\.0\n On Debian systems the full text is in \/usr\/share\/common-licenses\/Apache-2\.0\.$/m,
  );
  assert.doesNotMatch(text, /APACHE FULL TEXT/);
  assert.match(text, /^License: ISC\n ISC text\n \.\n more$/m);
  assert.match(text, /^License: Node\.js\n Node\.js is licensed for use as follows:/m);
  assert.throws(
    () =>
      copyrightText({
        ownLicense: 'MIT',
        ownCopyright: 'c',
        runtimeVersion: '24',
        runtimeLicense: 'n',
        bundled: [{ name: 'q', version: '1', license: 'BSD-3-Clause', copyright: [] }],
      }),
    /no licence text for BSD-3-Clause/,
  );
  assert.equal(dep5License('(MIT OR ISC)'), 'Expat or ISC');
});

test('changelog: the version, the commit and an RFC 2822 date from the commit time', () => {
  const text = changelogText('0.1.0-1', 'abc123', new Date(Date.UTC(2026, 11, 3, 12, 0, 5)));
  assert.match(text, /^sentinel-hook \(0\.1\.0-1\) unstable; urgency=medium\n\n {2}\* .*abc123/);
  assert.match(text, /\n -- .+ <.+@.+> {2}Thu, 03 Dec 2026 12:00:05 \+0000\n$/);
  // dpkg-parsechangelog reads it as Debian's tools do.
  const dir = mkdtempSync(join(tmpdir(), `sh-deb-${process.pid}-`));
  try {
    writeFileSync(join(dir, 'changelog'), text);
    const parsed = spawnSync('dpkg-parsechangelog', ['-l', join(dir, 'changelog'), '-S', 'Version'], {
      encoding: 'utf8',
    });
    assert.equal(parsed.status, 0, parsed.stderr);
    assert.equal(parsed.stdout.trim(), '0.1.0-1');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('maintainer scripts: POSIX sh, try-restart of watch on upgrade, stop only on remove, purge keeps the config', () => {
  for (const script of [postinstText(), prermText(), postrmText()]) {
    assert.ok(script.startsWith('#!/bin/sh\nset -e\n'));
    const r = spawnSync('dash', ['-n'], { input: script, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }
  assert.match(postinstText(), /if \[ -n "\$2" \]; then[\s\S]*try-restart 'sentinel-hook-watch\.service'/);
  assert.match(
    prermText(),
    /"\$1" = remove[\s\S]*stop 'sentinel-hook-watch\.service' 'sentinel-hook-reconcile\.service'/,
  );
  const postrm = postrmText();
  assert.match(
    postrm,
    /rm -rf "\$\{DPKG_ROOT:-\}\/var\/lib\/sentinel-hook" "\$\{DPKG_ROOT:-\}\/var\/log\/sentinel-hook"/,
  );
  assert.doesNotMatch(postrm, /rm -rf[^\n]*\/etc\/sentinel-hook/);
  // Nothing in them deletes a file of the package: dpkg replaces each by rename, and a hook may start meanwhile.
  for (const script of [postinstText(), prermText()]) assert.doesNotMatch(script, /\brm\b/);
});

test('bash completion: every command of the CLI, and its options', () => {
  const text = bashCompletionText(COMMANDS);
  for (const c of COMMANDS) {
    assert.match(text, new RegExp(`compgen -W '[^']*\\b${c.name}\\b`));
    for (const o of c.options ?? []) {
      const long = /--[a-z-]+/.exec(o.flags)![0];
      assert.match(text, new RegExp(`\\t\\t${c.name}\\) opts='[^']*${long}\\b`));
    }
  }
  const r = spawnSync('bash', ['-n'], { input: text, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

test('packaged units: idle until the config exists; the vip+exec superset; a hosts config needs a drop-in', () => {
  const files = packagedFiles();
  assert.deepEqual(
    files.map((f) => f.path),
    [
      '/lib/systemd/system/sentinel-hook-watch.service',
      '/lib/systemd/system/sentinel-hook-reconcile.service',
      '/usr/lib/tmpfiles.d/sentinel-hook.conf',
    ],
  );
  for (const unit of files.slice(0, 2)) {
    assert.match(unit.text, /^ConditionPathExists=\/etc\/sentinel-hook\/config\.yaml$/m);
    assert.match(
      unit.text,
      /^ExecStart=\/usr\/lib\/sentinel-hook\/bin\/node \/usr\/lib\/sentinel-hook\/bin\/sentinel-hook\.cjs /m,
    );
    assert.match(unit.text, /^AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW$/m);
    assert.match(unit.text, /^RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK AF_PACKET$/m);
  }
  assert.match(files[2]!.text, /^d \/var\/log\/sentinel-hook 0750 redis adm -$/m);
  // The hook setup has no unit making the lock directory (watch off): tmpfiles.d makes it for redis.
  assert.match(files[2]!.text, /^d \/run\/sentinel-hook 0700 redis redis -$/m);
  // The hook log redis's before root's first run by hand could create it as root's.
  assert.match(files[2]!.text, /^f \/var\/log\/sentinel-hook\/hook\.log 0640 redis adm -$/m);
  const defaults = { lockDir: '/run/sentinel-hook', stateDir: '/var/lib/sentinel-hook' };
  assert.deepEqual(packagedGap(defaults, PACKAGED_NEEDS, 'redis'), []);
  assert.deepEqual(
    packagedGap(defaults, { ...PACKAGED_NEEDS, writablePaths: ['/etc/hosts'], needsSudo: true }, 'redis'),
    ['/etc/hosts written', 'sudo (privilege: sudo)'],
  );
});

function isLink(path: string): boolean {
  return lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink() === true;
}

/**
 * The postinst run by dash as dpkg runs it, against a temporary root: the real deb-systemd-helper (pointed
 * at that root by DPKG_ROOT, in a wrapper only: the script itself must not see DPKG_ROOT), and fakes for
 * what would touch the running system, each noting in `unexpected` any call it was not made for.
 */
function postinstHost() {
  const root = mkdtempSync(join(tmpdir(), `sh-postinst-${process.pid}-`));
  const bin = join(root, 'fake-bin');
  const sentinelConf = join(root, 'etc/redis/sentinel.conf');
  const runDir = join(root, 'run/systemd/system');
  mkdirSync(bin, { recursive: true });
  mkdirSync(dirname(sentinelConf), { recursive: true });
  mkdirSync(runDir, { recursive: true });
  mkdirSync(join(root, 'active'));
  for (const file of packagedFiles().filter((f) => f.path.startsWith('/lib/systemd/system/'))) {
    mkdirSync(join(root, dirname(file.path)), { recursive: true });
    writeFileSync(join(root, file.path), file.text);
  }
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const fake = (name: string, body: string) =>
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\necho "${name} $*" >> ${q(join(root, 'unexpected'))}\n`, {
      mode: 0o755,
    });
  fake('deb-systemd-helper', `DPKG_ROOT=${q(root)} exec /usr/bin/deb-systemd-helper "$@"`);
  // deb-systemd-invoke's rule: start only an enabled unit; try-restart changes nothing that is stopped.
  fake(
    'deb-systemd-invoke',
    `case "$1" in
start) [ -L ${q(join(root, 'etc/systemd/system/multi-user.target.wants'))}/"$2" ] && touch ${q(join(root, 'active'))}/"$2"; exit 0 ;;
try-restart) exit 0 ;;
esac`,
  );
  fake('systemctl', '[ "$*" = "--system daemon-reload" ] && exit 0');
  fake('systemd-tmpfiles', '[ "$*" = "--create sentinel-hook.conf" ] && exit 0');
  const script = join(root, 'postinst');
  const config = join(root, 'etc/sentinel-hook/config.yaml');
  const cli = join(root, 'usr/bin/sentinel-hook');
  mkdirSync(dirname(config), { recursive: true });
  mkdirSync(dirname(cli), { recursive: true });
  writeFileSync(script, postinstText({ sentinelConf, systemdRunDir: runDir, config, cli }));
  const wants = join(root, 'etc/systemd/system/multi-user.target.wants', 'sentinel-hook-watch.service');
  return {
    root,
    sentinelConf,
    config,
    /** The installed CLI, faked: it notes its arguments and exits with `status`. */
    installCli(status: number) {
      writeFileSync(cli, `#!/bin/sh\necho "$*" >> ${q(join(root, 'cli-calls'))}\nexit ${status}\n`, { mode: 0o755 });
    },
    cliCalls: () => (existsSync(join(root, 'cli-calls')) ? readFileSync(join(root, 'cli-calls'), 'utf8') : ''),
    /** dpkg's call: `configure` with no version on a first install, the old version on an upgrade. */
    configure(oldVersion?: string) {
      // What dpkg sets for a maintainer script (deb-systemd-helper refuses to run without it).
      const env = {
        PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin`,
        DPKG_MAINTSCRIPT_PACKAGE: 'sentinel-hook',
        DPKG_MAINTSCRIPT_NAME: 'postinst',
      };
      const r = spawnSync('dash', [script, 'configure', ...(oldVersion ? [oldVersion] : [])], {
        encoding: 'utf8',
        env,
      });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(spawnSync('cat', [join(root, 'unexpected')], { encoding: 'utf8' }).stdout, '');
      return r.stdout;
    },
    // The links name /lib/systemd/system/…, absent outside the temporary root: the link itself is the state.
    watchEnabled: () => isLink(wants),
    watchStarted: () => existsSync(join(root, 'active', 'sentinel-hook-watch.service')),
    reconcileEnabled: () =>
      isLink(join(root, 'etc/systemd/system/multi-user.target.wants', 'sentinel-hook-reconcile.service')),
    /** What `systemctl enable` / `disable` of watch leave on disk. */
    operatorEnables: () => symlinkSync('/lib/systemd/system/sentinel-hook-watch.service', wants),
    operatorDisables: () => rmSync(wants),
    [Symbol.dispose]: () => rmSync(root, { recursive: true, force: true }),
  };
}

test('postinst with a config: check compiles it for this version; a config this version refuses gets one line', () => {
  using host = postinstHost();
  host.installCli(0);
  assert.equal(host.configure(), '', 'no config yet: check is not run');
  assert.equal(host.cliCalls(), '');
  writeFileSync(host.config, 'masters: {}\n');
  assert.equal(host.configure('0.1.0-1'), '');
  assert.equal(host.cliCalls(), `check --config ${host.config}\n`);
  host.installCli(2);
  assert.equal(host.configure('0.1.1-1'), `${configProblemsLine(host.config)}\n`);
  assert.match(configProblemsLine(), /^sentinel-hook: \/etc\/sentinel-hook\/config\.yaml has problems/);
});

const HOOK_LINE = 'sentinel client-reconfig-script mymaster /opt/sentinel-hook/hooks/client-reconfig\n';

test('postinst, first install without the hook in sentinel.conf: watch enabled and started, reconcile enabled', () => {
  using host = postinstHost();
  writeFileSync(host.sentinelConf, 'port 26379\nsentinel monitor mymaster 10.0.0.1 6379 2\n');
  assert.equal(host.configure(), '');
  assert.ok(host.watchEnabled() && host.watchStarted() && host.reconcileEnabled());
});

test('postinst, first install where Sentinel runs the hook: watch left off, one line why; later upgrades keep the choice', () => {
  using host = postinstHost();
  writeFileSync(host.sentinelConf, `port 26379\nsentinel monitor mymaster 10.0.0.1 6379 2\n${HOOK_LINE}`);
  assert.equal(host.configure(), `${watchLeftOffLine(host.sentinelConf)}\n`);
  assert.match(watchLeftOffLine(), /^sentinel-hook: \/etc\/redis\/sentinel\.conf .* systemctl enable --now \S+$/);
  assert.ok(!host.watchEnabled() && !host.watchStarted());
  assert.ok(host.reconcileEnabled(), 'the boot-time reconcile serves the hook setup too');
  // An upgrade: still off, and nothing printed (the operator has been told).
  assert.equal(host.configure('0.1.0-1'), '');
  assert.ok(!host.watchEnabled() && !host.watchStarted());
  // The operator wants watch after all: upgrades keep it enabled, hook or not.
  host.operatorEnables();
  assert.equal(host.configure('0.1.1-1'), '');
  assert.ok(host.watchEnabled());
});

test('postinst, upgrade of a watch host whose sentinel.conf gained the hook: watch stays as the operator left it', () => {
  using host = postinstHost();
  assert.equal(host.configure(), '', 'no sentinel.conf at all: the default');
  assert.ok(host.watchEnabled());
  writeFileSync(host.sentinelConf, HOOK_LINE);
  assert.equal(host.configure('0.1.0-1'), '');
  assert.ok(host.watchEnabled(), 'an upgrade never disables what was enabled');
  host.operatorDisables();
  assert.equal(host.configure('0.1.1-1'), '');
  assert.ok(!host.watchEnabled(), 'an upgrade never enables what the operator disabled');
});

test('postinst, hook detection: Sentinel syntax, any install; other scripts and comments do not count', () => {
  const wired = [
    'sentinel client-reconfig-script mymaster /usr/lib/sentinel-hook/hooks/client-reconfig',
    'SENTINEL Client-Reconfig-Script my-master "/srv/sh/hooks/client-reconfig"',
    '  sentinel client-reconfig-script m /opt/sentinel-hook/hooks/client-reconfig  ',
  ];
  const notWired = [
    '# sentinel client-reconfig-script mymaster /usr/lib/sentinel-hook/hooks/client-reconfig',
    'sentinel client-reconfig-script mymaster /usr/local/bin/move-vip.sh',
    'sentinel notification-script mymaster /usr/lib/sentinel-hook/hooks/reannounce',
    'sentinel client-reconfig-script mymaster /opt/x/hooks/client-reconfig.old',
  ];
  for (const [line, off] of [...wired.map((l) => [l, true] as const), ...notWired.map((l) => [l, false] as const)]) {
    using host = postinstHost();
    writeFileSync(host.sentinelConf, `port 26379\n${line}\n`);
    host.configure();
    assert.equal(host.watchEnabled(), !off, line);
  }
});
