// The catalogue of everything that can go wrong, in the manner of semantic-release's error
// definitions: one code per failure kind, with the words for it, the exit status Sentinel needs and
// what the operator should do. Code decides by `code`; the words are for people and may change.
// Nothing here imports the rest of the tree: errors.ts, launch.ts and the actions all build on it.

/**
 * Sentinel's contract for a client-reconfig-script: 1 makes it retry (30 s, doubling, up to 10 runs),
 * 2 or more drops the event for good (a failed execve reads as 2 too).
 */
export const EXIT = { ok: 0, retry: 1, never: 2 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * Commands Sentinel never runs say more: a reconcile that only planned (--dry-run, or paused) and found
 * work it did not do (4: 0 would hide a wrong host from a monitor, and 1 and 2 mean the run itself went
 * wrong); `status`, a monitoring plugin, says UNKNOWN (3) when it cannot tell. status reads 1 and 2 the
 * monitoring way (inconsistent within its grace period, inconsistent), not as retry and never-retry.
 * And a watch that could never act (sysexits' EX_NOPERM): its unit's RestartPreventExitStatus= leaves it
 * failed, since restarting cannot give it a privilege; a config error (2) restarts until the file is fixed.
 */
export const COMMAND_EXIT = { ...EXIT, unknown: 3, wouldChange: 4, unprivileged: 77 } as const;
export type CommandExitCode = (typeof COMMAND_EXIT)[keyof typeof COMMAND_EXIT];

/**
 * Which HookError a failure is thrown as: bad operands or flags and a bad config fail the same way
 * on every retry (exit 2); anything outside us (a command, a host, DNS, a lock) may pass (exit 1).
 */
export type FailureKind = 'usage' | 'config' | 'retry';

interface Entry<P> {
  readonly kind: FailureKind;
  readonly exit: ExitCode;
  /** What is wrong, one line. */
  message(p: P): string;
  /** What to do about it, one line (printed in parentheses after the message). */
  fix(p: P): string;
  /** Lines a person at a terminal sees under the line (a parser's code frame); never in a log record. */
  shown?(p: P): string | undefined;
}

type Words<P> = Pick<Entry<P>, 'message' | 'fix' | 'shown'>;
// The kind fixes the exit status: an entry cannot say "usage" and ask for a retry.
const usage = <P = undefined>(e: Words<P>): Entry<P> => ({ kind: 'usage', exit: EXIT.never, ...e });
const config = <P = undefined>(e: Words<P>): Entry<P> => ({ kind: 'config', exit: EXIT.never, ...e });
const retry = <P = undefined>(e: Words<P>): Entry<P> => ({ kind: 'retry', exit: EXIT.retry, ...e });

/** How an operator creates the lock directory for Sentinel's user, now and at every boot. */
/** How an operator creates the state directory: it persists, so made once (the units' StateDirectory= does it). */
export function stateDirFix(dir: string, user = 'redis'): string {
  return `create it for the user Sentinel runs as: install -d -m 0700 -o ${user} -g ${user} ${dir}`;
}

export function lockDirFix(dir: string, user = 'redis'): string {
  return `create it for the user Sentinel runs as: install -d -m 0700 -o ${user} -g ${user} ${dir}; at boot, a tmpfiles.d line: d ${dir} 0700 ${user} ${user} -`;
}

const SENTINELS_NEEDED = {
  reconcile: [
    'reconcile needs "sentinels" in the config: it acts on what they say the master is',
    'add sentinels: { addresses: [...] } (every Sentinel of the deployment)',
  ],
  watch: [
    'watch needs "sentinels" in the config: it follows what they say the master is',
    'add sentinels: { addresses: [...] } (every Sentinel of the deployment)',
  ],
  units: [
    'the watch and reconcile units need "sentinels" in the config: they follow what the Sentinels say',
    'add sentinels: { addresses: [...] }, or generate the hook setup: sentinel-hook systemd --hook',
  ],
} as const;

export const FAILURES = {
  // ---- the command line (exit 2) ----
  'operands-count': usage({
    message: (p: { usage: string; got: number }) => `expected 7 operands ${p.usage}, got ${p.got}`,
    fix: () =>
      'this is what Sentinel passes to a client-reconfig-script; for a manual test try: sentinel-hook --dry-run mymaster leader start 10.0.0.1 6379 10.0.0.2 6379',
  }),
  'operand-invalid': usage({
    message: (p: { name: string; value: string; problem: string; usage: string }) =>
      `invalid ${p.name} ${JSON.stringify(p.value)}: ${p.problem}`,
    fix: (p) =>
      `Sentinel passes ${p.usage}; check the client-reconfig-script line of sentinel.conf, or the operands typed by hand`,
  }),
  'option-not-for-command': usage({
    message: (p: { command: string; flag: string }) => `${p.command} does not take ${p.flag}`,
    fix: (p) =>
      `${p.flag} is for the hook call with 7 operands; run "sentinel-hook ${p.command} --help" for what it takes`,
  }),
  'assume-current-without-dry-run': usage({
    message: () => '--assume-current plans an event the Sentinels may call stale: it is for a dry-run only',
    fix: () =>
      'add --dry-run: sentinel-hook --dry-run --assume-current <master> leader start <from-ip> <from-port> <to-ip> <to-port>',
  }),
  'systemd-mode-conflict': usage({
    message: () => '--watch and --hook exclude each other',
    fix: () => 'choose one setup (--watch is recommended)',
  }),
  'option-invalid': usage({
    message: (p: { option: string; value: string; expected: string; command: string }) =>
      `${p.option} ${p.value}: ${p.expected}`,
    fix: (p) => `run "sentinel-hook ${p.command} --help" for what it takes`,
  }),
  'install-unknown': usage({
    message: (p: { startedAs: string | undefined }) =>
      `cannot tell where sentinel-hook is installed (started as ${JSON.stringify(p.startedAs)})`,
    fix: () => 'run it as /path/to/sentinel-hook/bin/sentinel-hook.cjs systemd',
  }),
  'user-invalid': usage({
    message: (p: { user: string }) => `--user ${JSON.stringify(p.user)} is not a plain login name`,
    fix: () => 'give the user Sentinel runs as, e.g. --user redis',
  }),
  'master-not-in-config': usage({
    message: (p: { master: string | undefined; known: readonly string[] }) =>
      `no master ${JSON.stringify(p.master)} in the config`,
    fix: (p) => `configured masters: ${p.known.join(', ')}`,
  }),
  'event-type-invalid': usage({
    message: (p: { type: string }) =>
      `invalid event type ${JSON.stringify(p.type)}: expected a Sentinel event such as +switch-master`,
    fix: () =>
      'Sentinel calls a notification-script with <event-type> <event-description>; a type starting with "-" goes after "--"',
  }),
  'event-master-invalid': usage({
    message: (p: { master: string; type: string; problem: string }) =>
      `invalid master name ${JSON.stringify(p.master)} in the ${p.type} event's description: ${p.problem}`,
    fix: () => "Sentinel's descriptions name a master as 'master NAME IP PORT' or '… @ NAME IP PORT'",
  }),
  'command-unknown': usage({
    message: (p: { word: string; near: string | undefined; names: readonly string[]; usage: string }) =>
      `unknown command '${p.word}'`,
    fix: (p) => (p.near ? `did you mean ${p.near}?` : `commands: ${p.names.join(', ')}; a hook call is ${p.usage}`),
  }),
  'helper-unknown': usage({
    message: (p: { name: string }) => `no privileged helper named ${JSON.stringify(p.name)}`,
    fix: () => 'privileged helpers start from their own scripts in bin/, which sudoers pins',
  }),
  'helper-usage': usage({
    message: (p: { problem: string }) => `hosts-write: ${p.problem}`,
    fix: () => 'usage: hosts-write FILE NAME... (address on stdin)',
  }),

  // ---- the config, and the files it names (exit 2: a retry reads the same) ----
  'file-unreadable': config({
    message: (p: { noun: string; path: string; errno: string; fix: string }) =>
      p.errno === 'ENOENT' ? `${p.noun} file ${p.path} not found` : `cannot read ${p.noun} file ${p.path}: ${p.errno}`,
    fix: (p) => p.fix,
  }),
  'file-not-regular': config({
    message: (p: { what: string }) => `${p.what} is not a regular file`,
    fix: () => 'point it at a regular file',
  }),
  'owner-untrusted': config({
    message: (p: { what: string; owner: number; trusted: string; risk?: string; fix: string }) =>
      `${p.what} is owned by uid ${p.owner}, not ${p.trusted}${p.risk ? `: ${p.risk}` : ''}`,
    fix: (p) => p.fix,
  }),
  'writable-by-others': config({
    message: (p: { what: string; mode: string; besides: string; risk?: string; path: string }) =>
      `${p.what} is writable by users other than ${p.besides} (mode ${p.mode})${p.risk ? `: ${p.risk}` : ''}`,
    fix: (p) => `chmod go-w ${p.path}`,
  }),
  'secret-exposed': config({
    message: (p: { what: string; mode: string; path: string }) =>
      `${p.what} is readable by users other than its owner (mode ${p.mode})`,
    fix: (p) => `chmod go-rwx ${p.path}`,
  }),
  'config-syntax': config({
    message: (p: { path: string; detail: string; frame?: string }) =>
      `config ${p.path} is not valid YAML/JSON: ${p.detail}`,
    fix: (p) => `correct it; "sentinel-hook check --config ${p.path}" says when it reads`,
    shown: (p) => p.frame,
  }),
  'config-invalid': config({
    message: (p: { path: string; issue: string; more?: number }) =>
      `config ${p.path}: ${p.issue}${p.more ? `, and ${p.more} more (run sentinel-hook check)` : ''}`,
    fix: (p) => `correct that field; "sentinel-hook check --config ${p.path}" says when the config is right`,
  }),
  /** Two entries that own one thing on a host (ActionPlugin.claims): each run undoes the other's, and exits 0. */
  'claim-shared': config({
    message: (p: { path: string; claim: string; first: string; second: string; sameMaster: boolean }) =>
      `config ${p.path}: ${p.first} and ${p.second} both claim ${p.claim}: ${p.sameMaster ? 'one master lists it twice' : "a run for either master undoes the other's (remove, add, remove …) on every run"}`,
    fix: (p) =>
      p.sameMaster
        ? 'keep one of the two entries'
        : 'a thing on a host can follow one master only: give each master its own, or remove it from one',
  }),
  'master-unconfigured': config({
    message: (p: { master: string; known: readonly string[] }) =>
      `no actions configured for master ${JSON.stringify(p.master)}`,
    fix: (p) => `configured masters: ${p.known.join(', ') || '(none)'}`,
  }),
  'sentinels-required': config({
    message: (p: { by: keyof typeof SENTINELS_NEEDED }) => SENTINELS_NEEDED[p.by][0],
    fix: (p) => SENTINELS_NEEDED[p.by][1],
  }),
  'vip-address-invalid': config({
    message: (p: { problem: string }) => p.problem,
    fix: () => 'write a host address with its prefix length, e.g. 10.0.0.100/24 or fd00::100/64',
  }),
  'vip-label-mismatch': config({
    message: (p: { label: string; dev: string; cidr: string }) =>
      `vip: label ${p.label} does not start with "${p.dev}:", the interface detected for ${p.cidr}`,
    fix: () => 'set "interface", or a label starting with it',
  }),
  /** A program the config names (exec's run, notify's run) is not on this host. */
  'configured-program-missing': config({
    message: (p: { program: string; atRun?: boolean }) =>
      `program ${p.program} not found${p.atRun ? ' or not executable' : ''}`,
    fix: (p) => `install it, or give its absolute path${p.atRun ? ' as the first element of "run"' : ''}`,
  }),
  /** `sudoers`, `systemd`: a program the rules or units must name is not here (a rule for it would fail at the worst time). */
  'setup-program-missing': config({
    message: (p: { program: string; install: string; neededBy?: string }) =>
      `${p.program} not found in the system directories${p.neededBy ? `: ${p.neededBy} needs it` : ''}`,
    fix: (p) => `install ${p.install}`,
  }),
  'helper-missing': config({
    message: () => 'cannot find bin/sentinel-hook-hosts-write',
    fix: (p: { command?: string }) =>
      `run sentinel-hook as <install>/bin/sentinel-hook.cjs${p.command ? ` ${p.command}` : ''}`,
  }),
  'unit-path-unsafe': config({
    message: (p: { what: string; path: string }) =>
      `${p.what} ${JSON.stringify(p.path)} cannot go into a unit file (expected an absolute path without blanks, quotes, backslashes, %, $, ; or ..)`,
    fix: () => 'move it to a plain path',
  }),
  'sudoers-unpinnable': config({
    message: (p: { arg: string; why: string }) => `cannot pin ${JSON.stringify(p.arg)} in a sudoers rule (${p.why})`,
    fix: () =>
      'use values without blanks, quotes or pattern characters in the config (plain paths, names and addresses)',
  }),
  'sudoers-relative-program': config({
    message: (p: { program: string | undefined }) =>
      `sudoers needs an absolute program path, got ${JSON.stringify(p.program)}`,
    fix: () => 'give the program as an absolute path in the config',
  }),
  'program-unresolvable': config({
    message: (p: { path: string; errno: string | undefined }) => `cannot resolve program ${p.path}: ${p.errno}`,
    fix: () => 'install it, or give its absolute path',
  }),
  'sudoers-nothing-to-allow': config({
    message: (p: { configPath: string }) =>
      `config ${p.configPath}: no action runs with privilege: sudo, so there is nothing to allow`,
    fix: () => 'no sudoers file is needed',
  }),
  /** A secret of the config (`where`: sentinels.password, or the entry that declares it). */
  'secret-unset': config({
    message: (p: { where: string; env: string }) =>
      `${p.where}: environment variable ${p.env} is not set in this process's environment`,
    fix: () => 'set it where Sentinel (or the watch service) starts, or use { file: PATH }',
  }),
  'secret-unreadable': config({
    message: (p: { where: string; file: string; errno: string | undefined }) =>
      `${p.where}: cannot read ${p.file}: ${p.errno}`,
    fix: () => "make it readable by Sentinel's user (and the watch service's) only (chmod 600)",
  }),
  /** A Sentinel answered and refused us (password, ACL): asking again is refused the same. */
  'sentinel-auth-refused': config({
    message: (p: { address: string; said: string }) => `Sentinel ${p.address} refused the stale-event check: ${p.said}`,
    fix: () =>
      "set sentinels.username / sentinels.password (or that ACL user's permissions) to what the Sentinel expects; a retry would be refused the same",
  }),
  /**
   * A Sentinel refused one of our questions to our ACL user (NOPERM): asking again is refused the same.
   * `rule`: what `ACL SETUSER` takes ("+sentinel|master", "+subscribe &+switch-master").
   */
  'sentinel-noperm': config({
    message: (p: { addresses: readonly string[]; command: string; rule: string; user: string }) =>
      `${p.addresses.length === 1 ? 'Sentinel' : 'Sentinels'} ${p.addresses.join(', ')} refused ${p.command} (NOPERM): add ${p.rule} for user ${p.user}`,
    fix: (p) =>
      `on each Sentinel: ACL SETUSER ${p.user} ${p.rule}, then SENTINEL FLUSHCONFIG to keep it in sentinel.conf; docs/reference/config.md ("Sentinel ACL users") lists what each mode needs`,
  }),
  /** TLS failed in a way asking again will not change (its certificate, or ours). */
  'sentinel-tls-refused': config({
    message: (p: { address: string; said: string; fix: string }) => `Sentinel ${p.address}: ${p.said}`,
    fix: (p) => p.fix,
  }),
  'tls-ca-empty': config({
    message: (p: { ca: string }) => `sentinels.tls.ca file ${p.ca} holds no PEM certificate`,
    fix: () => "point it at the CA certificate (BEGIN CERTIFICATE) that signed the Sentinels' certificates",
  }),
  'tls-unusable': config({
    message: (p: { files: string; detail: string }) => `sentinels.tls: cannot use ${p.files}: ${p.detail}`,
    fix: () => 'give PEM files: the CA certificate, and the client certificate with its own key',
  }),
  'push-credential-unreadable': config({
    message: (p: { field: 'identityFile' | 'knownHostsFile'; path: string; errno: string }) =>
      `cannot read ${p.field} ${p.path} (${p.errno})`,
    fix: (p) =>
      p.field === 'identityFile'
        ? 'it must exist and be readable by the user Sentinel runs as'
        : "write the targets' host keys there (ssh-keyscan, then verify)",
  }),
  'identity-encrypted': config({
    message: (p: { path: string }) =>
      `identityFile ${p.path} is encrypted: nobody is there to type a passphrase during a failover`,
    fix: (p) => `remove it: ssh-keygen -p -N '' -f ${p.path}`,
  }),
  'identity-unusable': config({
    message: (p: { path: string; detail: string }) =>
      `identityFile ${p.path} is not a private key the ssh transport can use (${p.detail})`,
    fix: () => 'generate one: ssh-keygen -t ed25519 -N "" -f FILE, and install its .pub on the targets',
  }),
  'known-hosts-unusable': config({
    message: (p: { file: string; types: readonly string[]; target: string; lines: readonly number[]; host: string }) =>
      `knownHostsFile ${p.file} has only ${p.types.join(', ')} host keys for ${p.target} (line ${p.lines.join(', ')}), which the ssh transport cannot check`,
    fix: (p) =>
      `add its ed25519, ecdsa or rsa key (ssh-keyscan -t ed25519 ${p.host}, then verify the fingerprint), or use transport rsync`,
  }),

  // ---- sudo, and starting commands (exit 1: the host can be fixed before the retry) ----
  'sudo-missing': retry({
    message: () => 'sudo not found in the system directories',
    fix: () => 'install sudo, or set privilege: none and run Sentinel as root or with CAP_NET_ADMIN and CAP_NET_RAW',
  }),
  /** access(2) refuses X_OK on a noexec mount, which is how systemd's NoExecPaths= works: installing sudo would not help. */
  'sudo-not-executable': retry({
    message: (p: { path: string }) =>
      `sudo is installed at ${p.path}, but this process may not execute it: systemd's NoExecPaths/ExecPaths, or a noexec mount`,
    fix: () =>
      'use the watch unit from "sentinel-hook systemd", whose AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW need no sudo, or set privilege: none where the process already has what the command needs',
  }),
  'sudo-refused': retry({
    message: (p: { command: string; said: string }) => `sudo refused ${p.command}: ${p.said}`,
    fix: () => 'install the rules from "sentinel-hook sudoers --user USER"',
  }),
  /** systemd's NoNewPrivileges=true (Debian's redis-sentinel.service has it), setpriv --nnp, some containers. */
  'sudo-no-new-privileges': retry({
    message: (p: { command: string; how: string; said: string }) => `${p.command} ${p.how}: ${p.said}`,
    fix: () =>
      'NoNewPrivileges stops sudo: use the watch unit from "sentinel-hook systemd", whose AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW let ip and arping run without sudo, or set privilege: none where the process already has what the command needs',
  }),
  'spawn-failed': retry({
    message: (p: { program: string; reason: string }) => `${p.program} could not start (${p.reason})`,
    fix: () =>
      "check that it is installed and that Sentinel's user may execute it: systemd's ExecPaths, a noexec mount",
  }),
  'command-timeout': retry({
    message: (p: { command: string; afterMs?: number | undefined }) =>
      `${p.command} killed${p.afterMs ? ` after ${Math.round(p.afterMs)} ms` : ''} by its step timeout or the run's deadline`,
    fix: () => "if it needs longer, raise its timeout, or the deadline below Sentinel's 60 s; Sentinel will retry",
  }),
  'command-failed': retry({
    message: (p: { command: string; how: string; said: string }) =>
      `${p.command} ${p.how}${p.said ? `: ${p.said}` : ''}`,
    fix: () => "run it by hand as Sentinel's user to see all it says; Sentinel will retry",
  }),
  'output-too-large': retry({
    message: (p: { command: string; detail: string }) => `${p.command} failed: ${p.detail}`,
    fix: () => 'it must print less: its output is held in memory',
  }),
  'program-missing': retry({
    message: (p: { program: string; install: string }) => `${p.program} not found in the system directories`,
    fix: (p) => `install ${p.install}`,
  }),
  'arping-unknown': retry({
    message: (p: { path: string; said: string; install: string }) =>
      `${p.path} is neither iputils' nor Thomas Habets' arping (arping -V said ${JSON.stringify(p.said.slice(0, 80))})`,
    fix: (p) => `install ${p.install}`,
  }),
  'arping-unrunnable': retry({
    message: (p: { path: string; detail: string }) => `cannot run ${p.path} -V: ${p.detail}`,
    fix: () => "check that Sentinel's user may execute it; Sentinel will retry",
  }),

  // ---- the run itself (exit 1) ----
  'deadline-passed': retry({
    message: () => 'not started: the run deadline has passed',
    fix: () =>
      "the steps before it took the run's time: make them shorter, or raise the deadline below Sentinel's 60 s; Sentinel will retry",
  }),
  'sentinels-slow': retry({
    message: (p: { deadlineMs: number; observing: boolean }) =>
      `the run's deadline (${p.deadlineMs} ms) passed while asking the Sentinels whether the event is current${p.observing ? ' and observing this host' : ''}`,
    fix: () => 'check that the Sentinels answer; Sentinel will retry',
  }),
  /** watch goes on without metrics: a monitoring problem must never stop the failovers. */
  'metrics-listen-failed': retry({
    message: (p: { host: string; port: number; errno: string }) =>
      `cannot serve metrics on ${p.host.includes(':') ? `[${p.host}]` : p.host}:${p.port} (${p.errno}); watch goes on without them`,
    fix: () => "free that port or set metrics.listen to another (9121 is redis_exporter's), then restart watch",
  }),
  'dns-unresolved': retry({
    message: (p: { host: string; detail: string }) => `cannot resolve ${p.host}: ${p.detail}`,
    fix: () => 'check DNS or /etc/hosts on this Sentinel host; Sentinel will retry',
  }),
  'lock-dir-unusable': retry({
    message: (p: { dir: string; problem: string }) => `lock directory ${p.dir} ${p.problem}`,
    fix: (p) => lockDirFix(p.dir),
  }),
  /** Root's commands leave a missing lock directory to what makes it for the services' user (issue 15 §5.4). */
  'lock-dir-missing': retry({
    message: (p: { dir: string }) =>
      `lock directory ${p.dir} is missing, and a command run as root does not create it: it would be root's (mode 700), and the hook run as Sentinel's user could not use it`,
    fix: (p) =>
      `make it as the boot does, for the services' user: systemd-tmpfiles --create /etc/tmpfiles.d/sentinel-hook.conf, or for /run/sentinel-hook systemctl restart sentinel-hook-watch.service (its RuntimeDirectory=); without those files: install -d -m 0700 -o redis -g redis ${p.dir}`,
  }),
  /** Removed while in use (by hand, to clear stale records): nothing can be locked until it is made again. */
  /** watch at start (exit COMMAND_EXIT.unprivileged) and on a reload (refused): it would fail every interval, looking healthy. */
  'watch-unprivileged': config({
    message: (p: { problems: readonly string[] }) => `watch cannot act: ${p.problems.join('; ')}`,
    fix: () =>
      'run it under the units from "sentinel-hook systemd" (their AmbientCapabilities= hand ip and arping what they need), or as root; entries that need sudo need a unit without NoNewPrivileges=true',
  }),
  'lock-dir-gone': retry({
    message: (p: { dir: string }) => `lock directory ${p.dir} is gone (removed while in use)`,
    fix: () =>
      'the watch unit makes it again as it restarts (RuntimeDirectory=), else systemd-tmpfiles --create /etc/tmpfiles.d/sentinel-hook.conf; stale records go with "sentinel-hook forget --master NAME", not by removing the directory',
  }),
  'state-dir-unusable': retry({
    message: (p: { dir: string; problem: string }) =>
      `state directory ${p.dir} ${p.problem}: the pause and the records (epoch acted on, once-per-failover, last run) are skipped`,
    fix: (p) => stateDirFix(p.dir),
  }),
  'generation-unrecordable': retry({
    message: (p: { dir: string; errno: string }) => `cannot record this event in ${p.dir}: ${p.errno}`,
    fix: (p) => lockDirFix(p.dir),
  }),
  'lock-uncreatable': retry({
    message: (p: { path: string; errno: string | undefined }) => `cannot create lock ${p.path}: ${p.errno}`,
    fix: () => 'check lockDir permissions',
  }),
  'lock-held': retry({
    message: (p: { what: string; path: string; waitedMs: number }) =>
      `another run for ${p.what} still holds ${p.path} after ${(p.waitedMs / 1000).toFixed(1)} s`,
    fix: () => 'Sentinel will retry this event',
  }),
  /** decideMaster: fewer than a majority of the configured Sentinels gave the master and its epoch. */
  'sentinels-unsure': retry({
    message: (p: { answered: number; configured: number; needed: number }) =>
      `${p.answered} of ${p.configured} Sentinels answered with the master and its epoch, ${p.needed} needed`,
    fix: () =>
      'nothing was changed; check that a majority of the configured Sentinels answer SENTINEL MASTER (ACL, password, network)',
  }),
  'sentinels-disagree': retry({
    message: (p: { epoch: number; named: readonly string[] }) =>
      `the Sentinels at config epoch ${p.epoch} name different masters (${p.named.join(', ')})`,
    fix: () => 'nothing was changed: a failover is probably under way; the next reconcile asks again',
  }),
  /** A configured Sentinel that the others do not know, nor it them: a warning's words (see foreignSentinels). */
  'sentinel-foreign': retry({
    message: (p: { address: string; master: string }) =>
      `the Sentinel at ${p.address} is not of the group the other configured Sentinels of ${p.master} form (SENTINEL SENTINELS: it names too few of them, and none of them names it); its answers and announcements do not count`,
    fix: () =>
      "check sentinels.addresses: an address of another deployment's Sentinel, or one that monitors another master under this name",
  }),
  /** The record's epoch came from Sentinels that are no longer there: not an error, a warning's words. */
  'sentinels-rebuilt': retry({
    message: (p: { epoch: number; acted: number; ids: number }) =>
      `the Sentinels were rebuilt: the ${p.ids} that answered all have new ids, and their config epochs started again (${p.epoch} now, ${p.acted} acted on here with the old ones)`,
    fix: () => 'nothing to do: this host follows them now and records their epoch instead',
  }),
  'epoch-older-outlasted': retry({
    message: (p: { epoch: number; acted: number; sinceMs: number; limitMs: number }) =>
      `the Sentinels have answered config epoch ${p.epoch}, older than ${p.acted} acted on here, for ${Math.round(p.sinceMs / 1000)} s: longer than the master's failover-timeout (${Math.round(p.limitMs / 1000)} s), so no failover is under way`,
    fix: () =>
      'nothing to do: this host follows them now; "sentinel-hook forget --master NAME" drops the old record at once',
  }),
  /** What this host acted on is newer than the Sentinels' newest answer: never go back. */
  'epoch-older': retry({
    message: (p: {
      state: { epoch: number; ip: string; port: number };
      acted: { epoch: number; ip: string; port: number };
    }) =>
      `the Sentinels' newest answer (config epoch ${p.state.epoch}, ${p.state.ip}:${p.state.port}) is older than epoch ${p.acted.epoch} (${p.acted.ip}:${p.acted.port}) acted on here`,
    fix: () => 'nothing changed: a failover may be under way, and the next reconcile asks again',
  }),
  'reconcile-failed': retry({
    message: (p: { master: string; detail: string }) => `reconcile of ${p.master}: ${p.detail}`,
    fix: () => "the next reconcile (or Sentinel's retry) tries again; the log says which step failed",
  }),

  // ---- the vip action's reads of this host (exit 1) ----
  'ip-read-failed': retry({
    message: (p: { what: string; detail: string }) => `${p.what} failed: ${p.detail}`,
    fix: () => "run it by hand as Sentinel's user (it needs no privilege); Sentinel will retry",
  }),
  'ip-output-unparsable': retry({
    message: (p: { what: string; detail: string }) => `cannot parse ${p.what} output: ${p.detail}`,
    fix: () => 'please report it with "ip -V"; Sentinel will retry',
  }),
  'vip-no-route': retry({
    message: (p: { cidr: string }) => `no route on this host covers ${p.cidr} (the default route does not count)`,
    fix: () => 'bring the interface up, or set "interface" for this VIP; Sentinel will retry',
  }),
  'vip-held-elsewhere': retry({
    message: (p: { ip: string; mac: string; waitedMs: number }) =>
      `${p.ip} is still held by MAC ${p.mac} after ${Math.round(p.waitedMs)} ms; not added`,
    fix: (p) => `Sentinel retries later; find that host with: ip neigh | grep -i ${p.mac}`,
  }),
  'visudo-rejected': retry({
    message: (p: { said: string }) => `visudo rejected the generated rules: ${p.said}`,
    fix: () => 'please report this as a bug',
  }),

  // ---- the dns action: the key and the server's refusals are the same on every retry (exit 2) ----
  'dns-key-invalid': config({
    message: (p: { path: string; problem: string }) => `TSIG key file ${p.path}: ${p.problem}`,
    fix: () => "write it with: tsig-keygen -a hmac-sha256 NAME > FILE (the key the zone's update-policy names)",
  }),
  'dns-key-exposed': config({
    message: (p: { path: string; problem: string }) => `TSIG key file ${p.path} ${p.problem}`,
    fix: (p) =>
      `chown root:SENTINEL-GROUP ${p.path}; chmod 0640 ${p.path} (the group of the user Sentinel runs as, as BIND keeps rndc.key)`,
  }),
  'dns-key-rejected': config({
    message: (p: { server: string; key: string; said: string }) =>
      `DNS server ${p.server} rejected TSIG key ${p.key}: ${p.said}`,
    fix: () =>
      "put the key the zone's update-policy (or allow-update) names in the key file, same name, algorithm and secret; no other server is tried, the key is the same for all",
  }),
  'dns-clock-skew': config({
    message: (p: { server: string; skewSeconds: number | undefined }) =>
      `DNS server ${p.server} refused the update's time (BADTIME)${p.skewSeconds === undefined ? '' : `: this host's clock is ${p.skewSeconds} s off the server's`}`,
    fix: () => 'synchronise the clocks of this host and the DNS server (chrony, systemd-timesyncd): TSIG allows 300 s',
  }),
  'dns-zone-refused': config({
    message: (p: { server: string; zone: string; asked: 'update' | 'query'; said: string; fix: string }) =>
      `DNS server ${p.server} refused ${p.asked === 'update' ? 'the update of' : 'to answer for'} zone ${p.zone}: ${p.said}`,
    fix: (p) => p.fix,
  }),
  'dns-no-address': config({
    message: (p: { master: string; records: readonly string[]; addresses: readonly string[] }) =>
      `the master ${p.master} has no address for ${p.records.join(' or ')} records (it has ${p.addresses.join(', ') || 'none'})`,
    fix: () => 'add the record type of its address family to "records" (A for IPv4, AAAA for IPv6)',
  }),
  // ---- the dns action: servers and races (exit 1) ----
  'dns-unanswered': retry({
    message: (p: { detail: string }) => `no DNS server took the update: ${p.detail}`,
    fix: () =>
      'check that the configured servers run and that this host reaches them on port 53 (UDP and TCP); Sentinel will retry',
  }),
  'dns-update-contended': retry({
    message: (p: { names: string; tries: number }) =>
      `the marker of ${p.names} changed under this run ${p.tries} times: another run is moving the name`,
    fix: () => 'Sentinel will retry; the newer failover wins by its epoch',
  }),
  'dns-readback-mismatch': retry({
    message: (p: { server: string; name: string; got: string; want: string }) =>
      `after the update, ${p.server} answers ${p.name} with ${p.got}, not ${p.want}`,
    fix: (p) =>
      `a CNAME or a wildcard may shadow the name: look with dig @${p.server.replace(/:\d+$/, '')} ${p.name} ANY; Sentinel will retry`,
  }),
};

export type FailureCode = keyof typeof FAILURES;
type ParamsOf<C extends FailureCode> = (typeof FAILURES)[C] extends Entry<infer P> ? P : never;
/** The arguments after the code: none for an entry whose words take nothing. */
export type FailureArgs<C extends FailureCode> = [ParamsOf<C>] extends [undefined] ? [] : [ParamsOf<C>];

/** One failure as a value: what a function returns instead of a string when something did not work. */
export class Failure {
  readonly code: FailureCode;
  readonly message: string;
  readonly fix: string;
  readonly exitCode: ExitCode;
  /** See Entry.shown. */
  readonly shown: string | undefined;
  constructor(code: FailureCode, message: string, fix: string, exitCode: ExitCode, shown?: string) {
    this.code = code;
    this.message = message;
    this.fix = fix;
    this.exitCode = exitCode;
    this.shown = shown;
  }
  /** One line for a step's error and stderr: what is wrong, then what to do. */
  line(): string {
    return `${this.message} (${this.fix})`;
  }
  /** The same failure, its message prefixed by where it happened ("vip 10.0.0.4/24", "masters.m[0]"). */
  within(where: string): Failure {
    return new Failure(this.code, `${where}: ${this.message}`, this.fix, this.exitCode, this.shown);
  }
}

export function failure<C extends FailureCode>(code: C, ...args: FailureArgs<C>): Failure {
  const entry = FAILURES[code] as Entry<unknown>;
  const params = args[0];
  return new Failure(code, entry.message(params), entry.fix(params), entry.exit, entry.shown?.(params));
}

export function kindOf(code: FailureCode): FailureKind {
  return FAILURES[code].kind;
}
