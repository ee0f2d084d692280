// The Debian package's text files (scripts/deb.ts), without building a package: what dpkg and an
// operator read in them.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  bashCompletionText,
  changelogText,
  controlText,
  copyrightText,
  debianVersion,
  dep5License,
  postinstText,
  postrmText,
  prermText,
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
  const defaults = { lockDir: '/run/sentinel-hook', stateDir: '/var/lib/sentinel-hook' };
  assert.deepEqual(packagedGap(defaults, PACKAGED_NEEDS, 'redis'), []);
  assert.deepEqual(
    packagedGap(defaults, { ...PACKAGED_NEEDS, writablePaths: ['/etc/hosts'], needsSudo: true }, 'redis'),
    ['/etc/hosts written', 'sudo (privilege: sudo)'],
  );
});
