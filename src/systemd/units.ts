import { existsSync } from 'node:fs';
import { dirname, posix } from 'node:path';
import { pluginFor } from '../actions/index.ts';
import type { HostReader, SandboxNeeds } from '../actions/plugin.ts';
import { DEFAULT_LOCK_DIR, DEFAULT_STATE_DIR, type HookConfig } from '../config/schema.ts';
import { errorOf, hookError } from '../errors.ts';
import { COMMAND_EXIT, failure } from '../failures.ts';
import { DEFAULT_LOG_FILE } from '../log.ts';
import { realPath } from './sentinel-unit.ts';

/** A login name (as sudoers takes it): copied into User=, Group= and the tmpfiles.d line. */
const USER = /^[a-z_][a-z0-9_-]{0,31}$/;

export const WATCH_UNIT = 'sentinel-hook-watch.service';
export const RECONCILE_UNIT = 'sentinel-hook-reconcile.service';
export const SENTINEL_UNIT = 'redis-sentinel.service';
export const HOOK_DROP_IN = `${SENTINEL_UNIT}.d/sentinel-hook.conf`;
const UNIT_DIR = '/etc/systemd/system';

/** Debian's sudo loads libsudo_util and its plugins from here, outside the ExecPaths Debian's unit grants (/usr/lib). */
const SUDO_LIBEXEC = '/usr/libexec/sudo';

/** The families every setup needs: the Sentinels over TCP, and pipes to the programs we start. */
const BASE_FAMILIES = ['AF_INET', 'AF_INET6', 'AF_UNIX'];

export interface SystemdOptions {
  mode: 'watch' | 'hook';
  user: string;
  configPath: string;
  /** The install: it holds bin/sentinel-hook.cjs and hooks/. */
  installDir: string;
  /** Absolute path of the node that runs it. */
  node: string;
}

/** One file the operator installs, and where. */
export interface InstallFile {
  path: string;
  text: string;
}

/**
 * A path copied into unit text: systemd splits values on blanks, unquotes quotes and backslashes,
 * expands `%` specifiers and (in ExecStart) `$` variables, and a newline would start a new setting.
 * Only plain absolute paths are copied; anything else is refused (exit 2).
 */
export function unitPath(path: string, what: string): string {
  if (!path.startsWith('/') || /[\s"'\\%$;\0-\x1f\x7f]/.test(path) || path.split('/').includes('..')) {
    throw hookError('unit-path-unsafe', { what, path });
  }
  return posix.normalize(path);
}

function unique(values: Iterable<string>): string[] {
  return [...new Set(values)];
}

/** Everything the config's entries need of a sandbox, merged: each plugin says what its own entries need. */
export async function configSandbox(config: HookConfig, host: HostReader): Promise<Required<SandboxNeeds>> {
  const all: Required<SandboxNeeds> = {
    programs: [],
    addressFamilies: [],
    capabilities: [],
    systemCalls: [],
    writablePaths: [],
    needsSudo: false,
    notes: [],
  };
  for (const [master, actions] of Object.entries(config.masters)) {
    for (const [index, action] of actions.entries()) {
      const where = `masters.${master}[${index}]`;
      const got = await pluginFor(action).sandbox?.(action, host, where);
      if (!got) continue;
      all.programs.push(...got.programs.map((p) => unitPath(p, `${where}: program`)));
      all.addressFamilies.push(...got.addressFamilies);
      all.capabilities.push(...got.capabilities);
      all.systemCalls.push(...(got.systemCalls ?? []));
      all.writablePaths.push(...got.writablePaths.map((p) => unitPath(p, `${where}: file`)));
      all.needsSudo ||= got.needsSudo;
      all.notes.push(...(got.notes ?? []));
    }
  }
  for (const [index, n] of config.notify.entries()) {
    const path = host.which(n.run[0]);
    if (!path) throw errorOf(failure('configured-program-missing', { program: n.run[0] }).within(`notify[${index}]`));
    all.programs.push(unitPath(path, `notify[${index}]: program`));
  }
  for (const key of ['programs', 'addressFamilies', 'capabilities', 'systemCalls', 'writablePaths', 'notes'] as const)
    all[key] = unique(all[key]);
  for (const value of [...all.addressFamilies, ...all.capabilities, ...all.systemCalls]) {
    // Plugin constants, not config values; checked all the same, since they are copied into unit text.
    if (!/^[A-Za-z0-9_@]+$/.test(value)) throw new Error(`sandbox value ${JSON.stringify(value)} is not a plain word`);
  }
  return all;
}

/** Comment lines: a value that holds a newline must not end the comment. */
function comment(...lines: string[]): string[] {
  return lines.map((l) => `# ${l.replace(/[\0-\x1f\x7f]/g, ' ')}`);
}

/**
 * systemd turns NoNewPrivileges on by itself for a service that runs as a user other than root and uses
 * any seccomp-based option (the system call filter, address families, MemoryDenyWriteExecute, Protect*
 * that filter calls…): NoNewPrivileges=no alone leaves sudo as powerless as before. Every one of them
 * has to go, which is why sudo costs a unit nearly all of its hardening.
 */
function sudoRelaxation(): string[] {
  return [
    ...comment(
      'Cost: sudo must raise privileges, so NoNewPrivileges goes, and with it every option systemd enforces through',
      'seccomp for a non-root service (it would turn NoNewPrivileges back on): the system call filter, the socket',
      'family list, MemoryDenyWriteExecute and the Protect*/Restrict* options below. Whoever controls the process',
      'may then run anything the sudoers rules allow, as root. Prefer privilege: none for these entries.',
      'sudo, setuid root, also needs capabilities to become root at all (setuid, setgroups, audit): the bounding',
      "set goes back to the full set, and PrivateUsers goes, whose root would be root of the unit's namespace only.",
    ),
    'NoNewPrivileges=no',
    'CapabilityBoundingSet=~',
    'PrivateUsers=no',
    'SystemCallFilter=',
    'SystemCallArchitectures=',
    'RestrictAddressFamilies=',
    'MemoryDenyWriteExecute=no',
    'RestrictNamespaces=no',
    'RestrictRealtime=no',
    'RestrictSUIDSGID=no',
    'LockPersonality=no',
    'PrivateDevices=no',
    'ProtectClock=no',
    'ProtectHostname=no',
    'ProtectKernelLogs=no',
    'ProtectKernelModules=no',
    'ProtectKernelTunables=no',
  ];
}

/** The sandbox of the watch and reconcile units: least privilege for what the config's actions do. */
function serviceSandbox(needs: Required<SandboxNeeds>, writable: string[]): string[] {
  const caps = needs.capabilities.join(' ');
  const lines = [
    'UMask=0077',
    ...(caps
      ? [
          ...comment('Only what the actions need: ip and arping run directly with these, no sudo.'),
          `AmbientCapabilities=${caps}`,
          `CapabilityBoundingSet=${caps}`,
        ]
      : [
          ...comment('No action needs a capability: none, and a user namespace of its own.'),
          'CapabilityBoundingSet=',
          'PrivateUsers=true',
        ]),
    ...(needs.needsSudo ? [] : ['NoNewPrivileges=true']),
    `RestrictAddressFamilies=${unique([...BASE_FAMILIES, ...needs.addressFamilies]).join(' ')}`,
    ...comment('Read-only everywhere but the lock directory and the local hosts files (it logs to the journal).'),
    'ProtectSystem=strict',
    `ReadWritePaths=${writable.join(' ')}`,
    'ProtectHome=true',
    'PrivateTmp=true',
    'PrivateDevices=true',
    'ProtectKernelTunables=true',
    'ProtectKernelModules=true',
    'ProtectKernelLogs=true',
    'ProtectControlGroups=true',
    'ProtectClock=true',
    'ProtectHostname=true',
    'ProtectProc=invisible',
    'RestrictNamespaces=true',
    'LockPersonality=true',
    'RestrictRealtime=true',
    'RestrictSUIDSGID=true',
    'RemoveIPC=true',
    'SystemCallArchitectures=native',
    ...comment(
      "MemoryDenyWriteExecute stays off: V8's JIT needs writable and executable pages. A call outside the",
      'filter fails with EPERM rather than killing the process (node tries io_uring and setrlimit, and copes).',
    ),
    'SystemCallFilter=@system-service',
    'SystemCallFilter=~@privileged @resources',
    ...(needs.systemCalls.length ? [`SystemCallFilter=${needs.systemCalls.join(' ')}`] : []),
    'SystemCallErrorNumber=EPERM',
  ];
  return needs.needsSudo ? [...lines, ...sudoRelaxation()] : lines;
}

/**
 * The default lock directory as the units' own: systemd makes it (owned by User=, mode 700) before each
 * start, so a watch that exits because it was removed (issue 15 §5.4) finds it again when restarted; at
 * boot the reconcile unit, started first or alongside, makes it too. Kept when a unit stops: the oneshot
 * stops at once, and the hook and root's runs by hand share the directory with watch.
 */
function runtimeDirectoryLines(): string[] {
  return [
    ...comment('The lock directory, made for this unit before each start, and kept when it stops.'),
    `RuntimeDirectory=${DEFAULT_LOCK_DIR.slice('/run/'.length)}`,
    'RuntimeDirectoryMode=0700',
    'RuntimeDirectoryPreserve=yes',
  ];
}

function header(opts: SystemdOptions, what: string): string[] {
  return comment(
    what,
    `Generated by: sentinel-hook systemd --${opts.mode} --user ${opts.user} --config ${opts.configPath}`,
  );
}

function watchFiles(
  config: Pick<HookConfig, 'lockDir' | 'stateDir' | 'metrics'>,
  opts: SystemdOptions,
  needs: Required<SandboxNeeds>,
  cli: string[],
  packaged?: { unitDir: string; tmpfilesDir: string; condition: string },
): InstallFile[] {
  const lockDir = unitPath(config.lockDir, 'lockDir');
  const stateDir = unitPath(config.stateDir, 'stateDir');
  // metrics.textfile: every run rewrites its master's file there (ProtectSystem=strict makes the rest read-only).
  const textfile = config.metrics?.textfile ? [unitPath(config.metrics.textfile, 'metrics.textfile')] : [];
  const writable = unique([lockDir, stateDir, ...textfile, ...needs.writablePaths]);
  // RuntimeDirectory= names a directory under /run by its last part only: the default lockDir qualifies.
  const runtimeDirectory = lockDir === DEFAULT_LOCK_DIR;
  const sandbox = [...(runtimeDirectory ? runtimeDirectoryLines() : []), ...serviceSandbox(needs, writable)];
  const identity = [`User=${opts.user}`, `Group=${opts.user}`];
  const notes = needs.notes.flatMap((n) => comment(`Note: ${n}`));
  const title = (what: string) => (packaged ? packagedHeader(what) : header(opts, what));
  // Installed by the package on every host, configured or not: idle until the operator writes the config.
  const condition = packaged ? ['Documentation=man:sentinel-hook(1)', `ConditionPathExists=${packaged.condition}`] : [];
  const watch = [
    ...title('sentinel-hook watch: keeps this host in line with the Sentinels (VIP, hosts files, commands).'),
    '[Unit]',
    'Description=sentinel-hook watch (follows the Redis Sentinels: VIP, hosts files, commands)',
    'After=network-online.target redis-sentinel.service',
    'Wants=network-online.target redis-sentinel.service',
    ...condition,
    ...comment(
      'No start limit: a config it cannot use (a password file moved away) makes it exit 2 at start, and',
      'the default limit (5 starts in 10 s) would leave it stopped for good; it must come back by itself',
      'once the file is fixed. (RestartSteps=, a growing delay, needs systemd 254; Debian 12 has 252.)',
    ),
    'StartLimitIntervalSec=0',
    '',
    '[Service]',
    'Type=simple',
    ...identity,
    `ExecStart=${[...cli, 'watch', '--config', opts.configPath].join(' ')}`,
    ...comment('SIGHUP reloads the config; a bad one is logged and the running one kept.'),
    'ExecReload=/bin/kill -HUP $MAINPID',
    ...comment('Stopping it leaves the VIP where it is; it must come back on its own.'),
    'Restart=always',
    'RestartSec=2s',
    ...comment(
      '77: watch lacks the privilege its actions need (capabilities, or sudo under NoNewPrivileges); a restart',
      'cannot change that, so the unit stays failed and says why in the journal.',
    ),
    `RestartPreventExitStatus=${COMMAND_EXIT.unprivileged}`,
    ...notes,
    ...sandbox,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
  ];
  const reconcile = [
    ...title('sentinel-hook reconcile at boot: the VIP and hosts files as the Sentinels say, once.'),
    '[Unit]',
    'Description=sentinel-hook reconcile (once at boot, as the Redis Sentinels say)',
    'After=network-online.target redis-sentinel.service',
    'Wants=network-online.target',
    ...condition,
    ...comment(
      `Not Before=${WATCH_UNIT}: that held watch back while this run waited for its second ARP burst (~9 s).`,
      'Both take the same per-master lock, so they never act at once, and a failover watch hears meanwhile',
      'supersedes what this run still has pending; the second burst still goes out when nothing newer came.',
    ),
    '',
    '[Service]',
    'Type=oneshot',
    ...identity,
    ...comment(
      '--boot: a peer still down (after a power cut), an older epoch or a pause is no failure here; watch',
      'converges once the Sentinels agree. It logs to the journal: ProtectSystem=strict keeps log.file read-only.',
    ),
    `ExecStart=${[...cli, 'reconcile', '--boot', '--log-to', 'journal', '--config', opts.configPath].join(' ')}`,
    ...notes,
    ...sandbox,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
  ];
  const tmpfiles = [
    ...title(
      runtimeDirectory
        ? `The state directory (the lock directory ${lockDir} is the units' RuntimeDirectory=).`
        : 'The lock directory, made at boot for the watch and reconcile units (the service may not create it under ProtectSystem=strict).',
    ),
    ...(runtimeDirectory ? [] : [`d ${lockDir} 0700 ${opts.user} ${opts.user} -`]),
    // The state directory persists (the pause, the records): made once, never emptied at boot.
    ...(stateDir !== lockDir ? [`d ${stateDir} 0700 ${opts.user} ${opts.user} -`] : []),
  ];
  const unitDir = packaged?.unitDir ?? UNIT_DIR;
  return [
    { path: `${unitDir}/${WATCH_UNIT}`, text: `${watch.join('\n')}\n` },
    { path: `${unitDir}/${RECONCILE_UNIT}`, text: `${reconcile.join('\n')}\n` },
    { path: `${packaged?.tmpfilesDir ?? '/etc/tmpfiles.d'}/sentinel-hook.conf`, text: `${tmpfiles.join('\n')}\n` },
  ];
}

function packagedHeader(what: string): string[] {
  return comment(
    what,
    'Installed by the sentinel-hook package for any config: the privileges of vip and exec actions. A config that',
    `needs more (hosts files to write): sentinel-hook systemd prints a drop-in for /etc/systemd/system/${WATCH_UNIT}.d/.`,
  );
}

/** Where the Debian package installs the runtime and the CLI (bin/, hooks/, dist/ below it). */
export const PACKAGED_INSTALL_DIR = '/usr/lib/sentinel-hook';
export const PACKAGED_CONFIG = '/etc/sentinel-hook/config.yaml';

/**
 * What the packaged units grant: they are made once, at build time, so not from the operator's config but for
 * the common setups, a VIP (ip and iputils' arping with capabilities) and exec actions. What a config needs
 * beyond it comes as a drop-in (packagedDropIn); `check` says when one is needed.
 */
export const PACKAGED_NEEDS: Required<SandboxNeeds> = {
  programs: [],
  addressFamilies: ['AF_NETLINK', 'AF_PACKET'],
  capabilities: ['CAP_NET_ADMIN', 'CAP_NET_RAW'],
  systemCalls: ['capset', 'setuid'],
  writablePaths: [],
  needsSudo: false,
  notes: [],
};

/** The watch and reconcile units and the tmpfiles.d entry the package ships (paths inside the package). */
export function packagedFiles(): InstallFile[] {
  const opts: SystemdOptions = {
    mode: 'watch',
    user: 'redis',
    configPath: PACKAGED_CONFIG,
    installDir: PACKAGED_INSTALL_DIR,
    node: `${PACKAGED_INSTALL_DIR}/bin/node`,
  };
  const files = watchFiles(
    { lockDir: DEFAULT_LOCK_DIR, stateDir: DEFAULT_STATE_DIR },
    opts,
    PACKAGED_NEEDS,
    [opts.node, `${opts.installDir}/bin/sentinel-hook.cjs`],
    { unitDir: '/lib/systemd/system', tmpfilesDir: '/usr/lib/tmpfiles.d', condition: PACKAGED_CONFIG },
  );
  // The hook, run by Sentinel as redis, writes its log here (log.file's default); adm reads logs on Debian.
  const log = comment('The hook log (log.file by default), written by redis, as Sentinel runs the hook.');
  // The units make the lock directory (RuntimeDirectory=), but in the hook setup watch may be off and
  // Sentinel runs the hook: made at boot and by postinst too, as redis's (root's runs by hand never make it,
  // and the hook could not: /run is root's, read-only under Sentinel's ProtectSystem=strict). Seen on booted
  // Debian 12 hosts: without it, root's `sentinel-hook reconcile` refused and every hook run failed.
  const lock = comment('The lock directory, for the hook setup too (the units also make it: RuntimeDirectory=).');
  // The file too, redis's: root's first run by hand (the runbook's reconcile) would otherwise create it as
  // root's, and every later hook run as redis would log to stderr, which Sentinel throws away (seen on booted
  // Debian 12 hosts: the VIP moved, hook.log said nothing).
  const extra = [
    ...lock,
    `d ${DEFAULT_LOCK_DIR} 0700 redis redis -`,
    ...log,
    `d ${dirname(DEFAULT_LOG_FILE)} 0750 redis adm -`,
    `f ${DEFAULT_LOG_FILE} 0640 redis adm -`,
  ];
  return files.map((f) => (f.path.includes('tmpfiles.d') ? { ...f, text: `${f.text}${extra.join('\n')}\n` } : f));
}

/** What a config needs that the packaged units do not grant, one line each (empty: they serve it as shipped). */
export function packagedGap(
  config: Pick<HookConfig, 'lockDir' | 'stateDir' | 'metrics'>,
  needs: Required<SandboxNeeds>,
  user: string,
): string[] {
  const beyond = (key: 'addressFamilies' | 'capabilities' | 'systemCalls' | 'writablePaths') =>
    needs[key].filter((v) => !PACKAGED_NEEDS[key].includes(v));
  return [
    ...(user !== 'redis' ? [`it runs as ${user}, the units as redis`] : []),
    ...(config.lockDir !== DEFAULT_LOCK_DIR ? [`lockDir ${config.lockDir} (the units make ${DEFAULT_LOCK_DIR})`] : []),
    ...(config.stateDir !== DEFAULT_STATE_DIR
      ? [`stateDir ${config.stateDir} (the units write ${DEFAULT_STATE_DIR})`]
      : []),
    ...beyond('writablePaths').map((p) => `${p} written`),
    ...beyond('capabilities').map((c) => `capability ${c}`),
    ...beyond('addressFamilies').map((f) => `${f} sockets`),
    ...beyond('systemCalls').map((c) => `system call ${c}`),
    ...(needs.needsSudo ? ['sudo (privilege: sudo)'] : []),
  ];
}

/**
 * The drop-in for Debian's redis-sentinel.service (NoExecPaths=/, MemoryDenyWriteExecute, an empty
 * capability set, ~@privileged, AF_INET AF_INET6 AF_UNIX only, ProtectSystem=strict): only what the
 * config's actions need, each with what it costs. Sentinel itself gets every relaxation.
 */
function hookFiles(
  config: HookConfig,
  opts: SystemdOptions,
  needs: Required<SandboxNeeds>,
  host: HostReader,
): InstallFile[] {
  const sh = host.which('sh');
  const readlink = host.which('readlink');
  if (!sh || !readlink)
    throw hookError('setup-program-missing', {
      program: sh ? 'readlink' : 'sh',
      install: 'coreutils and dash',
      neededBy: 'hooks/client-reconfig',
    });
  const execPaths = unique([
    opts.installDir,
    realPath(opts.installDir),
    ...[sh, readlink, opts.node, ...needs.programs].map((p) => unitPath(realPath(p), 'program')),
    // sudo maps its own libraries and plugins from there (libsudo_util, sudoers.so): exec must be allowed.
    ...(needs.needsSudo && existsSync(SUDO_LIBEXEC) ? [SUDO_LIBEXEC] : []),
  ]);
  const log = unitPath(dirname(config.log.file ?? DEFAULT_LOG_FILE), 'log directory');
  // "-": a missing path must not stop Sentinel from starting; the hook reports its own failure.
  const writable = unique([
    log,
    unitPath(config.lockDir, 'lockDir'),
    unitPath(config.stateDir, 'stateDir'),
    ...(config.metrics?.textfile ? [unitPath(config.metrics.textfile, 'metrics.textfile')] : []),
    ...needs.writablePaths,
  ]).map((p) => `-${p}`);
  const caps = needs.capabilities.join(' ');
  const families = needs.addressFamilies.filter((f) => !BASE_FAMILIES.includes(f));
  const lines = [
    ...header(opts, `Drop-in for ${SENTINEL_UNIT}: lets Sentinel run sentinel-hook as its client-reconfig-script.`),
    ...comment(
      'Every line below widens what whoever takes over Sentinel (it faces the network) may do on this host.',
      `The recommended setup keeps Sentinel's sandbox as shipped: sentinel-hook systemd --watch.`,
      `Install, then: systemctl daemon-reload && systemctl restart ${SENTINEL_UNIT}`,
    ),
    '[Service]',
    ...comment(
      'Cost: Sentinel may execute these too (shipped: redis-sentinel and libraries only): a shell among them.',
    ),
    `ExecPaths=${execPaths.join(' ')}`,
    ...comment(
      "Node's JIT needs writable and executable memory, which MemoryDenyWriteExecute=true forbids: the hook runs",
      'node --jitless instead (a slower start, tens of milliseconds a run), so Sentinel keeps that protection.',
    ),
    'Environment=SENTINEL_HOOK_JITLESS=1',
    ...comment('Cost: the log, lock and local hosts files become writable for Sentinel too.'),
    `ReadWritePaths=${writable.join(' ')}`,
    ...(families.length
      ? [
          ...comment(
            `Cost: ${families.join(' ')} sockets for Sentinel: netlink reconfigures the host's network, packet sockets send any frame.`,
          ),
          `RestrictAddressFamilies=${families.join(' ')}`,
        ]
      : []),
    ...(caps
      ? [
          ...comment(
            `Cost: Sentinel itself holds ${caps}: it may change this host's addresses, routes and firewall and send`,
            'raw packets. Outside a user namespace of its own, or the capabilities would not reach the network.',
          ),
          `CapabilityBoundingSet=${caps}`,
          `AmbientCapabilities=${caps}`,
          'PrivateUsers=no',
        ]
      : []),
    ...(needs.systemCalls.length
      ? [
          ...comment(
            `Cost: ${needs.systemCalls.join(', ')} allowed again (the programs drop their privileges with them).`,
          ),
          `SystemCallFilter=${needs.systemCalls.join(' ')}`,
        ]
      : []),
    ...comment(
      'Cost: nothing in privilege: the system call filter stays as shipped; a call outside it fails with EPERM',
      'instead of killing the process. Node calls pkey_alloc at start, outside @system-service: without this',
      'line every run dies by SIGSYS before it logs a line, and Sentinel retries without a word.',
      // With sudo the relaxation below clears the filter, and this line changes nothing; it stays all the
      // same: one drop-in for both, and a filter set again by a later drop-in still fails calls, not the hook.
      ...(needs.needsSudo
        ? ['With sudo the filter is cleared below and this changes nothing; it stays for a filter set again later.']
        : []),
    ),
    'SystemCallErrorNumber=EPERM',
    ...needs.notes.flatMap((n) => comment(`Note: ${n}`)),
    ...(needs.needsSudo ? sudoRelaxation() : []),
  ];
  return [{ path: `${UNIT_DIR}/${HOOK_DROP_IN}`, text: `${lines.join('\n')}\n` }];
}

/**
 * On a packaged install the units are there already: what this config needs beyond them, as drop-ins that
 * systemd merges into both units (the lists below add to the shipped ones; User= replaces). None when the
 * packaged units serve the config as shipped.
 */
function packagedDropIn(
  config: HookConfig,
  opts: SystemdOptions,
  needs: Required<SandboxNeeds>,
  cli: string[],
): InstallFile[] {
  const gap = packagedGap(config, needs, opts.user);
  if (gap.length === 0) return [];
  const lockDir = unitPath(config.lockDir, 'lockDir');
  const stateDir = unitPath(config.stateDir, 'stateDir');
  const writable = unique([lockDir, stateDir, ...needs.writablePaths]).filter(
    (p) => p !== DEFAULT_LOCK_DIR && p !== DEFAULT_STATE_DIR,
  );
  const beyond = (key: 'addressFamilies' | 'capabilities' | 'systemCalls') =>
    needs[key].filter((v) => !PACKAGED_NEEDS[key].includes(v));
  const caps = beyond('capabilities').join(' ');
  const families = beyond('addressFamilies').join(' ');
  const calls = beyond('systemCalls').join(' ');
  const lines = [
    ...comment(
      `Drop-in for the packaged ${WATCH_UNIT} and ${RECONCILE_UNIT}: what this config needs beyond them:`,
      ...gap.map((g) => `  ${g}`),
      `Generated by: ${[...cli.slice(1), 'systemd', '--watch', '--user', opts.user, '--config', opts.configPath].join(' ')}`,
      `Install, then: systemctl daemon-reload && systemctl restart ${WATCH_UNIT}`,
    ),
    '[Service]',
    ...(opts.user !== 'redis' ? [`User=${opts.user}`, `Group=${opts.user}`] : []),
    ...(writable.length ? [`ReadWritePaths=${writable.join(' ')}`] : []),
    ...(caps ? [`AmbientCapabilities=${caps}`, `CapabilityBoundingSet=${caps}`] : []),
    ...(families ? [`RestrictAddressFamilies=${families}`] : []),
    ...(calls ? [`SystemCallFilter=${calls}`] : []),
    ...needs.notes.flatMap((n) => comment(`Note: ${n}`)),
    ...(needs.needsSudo ? sudoRelaxation() : []),
  ];
  const text = `${lines.join('\n')}\n`;
  const dirs = unique([lockDir, stateDir]).filter((p) => p !== DEFAULT_LOCK_DIR && p !== DEFAULT_STATE_DIR);
  return [
    { path: `${UNIT_DIR}/${WATCH_UNIT}.d/sentinel-hook-config.conf`, text },
    { path: `${UNIT_DIR}/${RECONCILE_UNIT}.d/sentinel-hook-config.conf`, text },
    ...(dirs.length || opts.user !== 'redis'
      ? [
          {
            // The same name as the package's /usr/lib/tmpfiles.d/sentinel-hook.conf: this one replaces it.
            path: '/etc/tmpfiles.d/sentinel-hook.conf',
            text: `${[
              ...comment(`Replaces the packaged entry: the directories this config names, for ${opts.user}.`),
              ...(lockDir !== DEFAULT_LOCK_DIR ? [`d ${lockDir} 0700 ${opts.user} ${opts.user} -`] : []),
              ...(stateDir !== lockDir ? [`d ${stateDir} 0700 ${opts.user} ${opts.user} -`] : []),
              `d ${dirname(DEFAULT_LOG_FILE)} 0750 ${opts.user} adm -`,
            ].join('\n')}\n`,
          },
        ]
      : []),
  ];
}

/** The files for the chosen setup, from the config and this host's programs. */
export async function systemdFiles(config: HookConfig, opts: SystemdOptions, host: HostReader): Promise<InstallFile[]> {
  if (!USER.test(opts.user)) throw hookError('user-invalid', { user: opts.user });
  unitPath(opts.configPath, 'config path');
  unitPath(opts.installDir, 'install directory');
  unitPath(opts.node, 'node');
  const needs = await configSandbox(config, host);
  const cli = [opts.node, `${opts.installDir}/bin/sentinel-hook.cjs`];
  if (opts.mode === 'hook') return hookFiles(config, opts, needs, host);
  if (!config.sentinels) throw hookError('sentinels-required', { by: 'units' });
  return opts.installDir === PACKAGED_INSTALL_DIR
    ? packagedDropIn(config, opts, needs, cli)
    : watchFiles(config, opts, needs, cli);
}

/** Each file preceded by a comment line naming where it goes. */
export function systemdText(files: readonly InstallFile[]): string {
  return files.map((f) => `# ---- ${f.path}\n${f.text}`).join('\n');
}
