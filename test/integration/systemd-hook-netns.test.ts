// The hook under Sentinel's unit, emulated without systemd as PID 1, in a network namespace of its own:
// hooks/client-reconfig started as redis with the settings of Debian's redis-sentinel.service, then with
// the drop-in `sentinel-hook systemd --hook` prints for this config added. The settings are read from
// the unit texts themselves and applied with what the kernel offers directly:
// - NoExecPaths=/ + ExecPaths: a private mount namespace (unshare -m) where every mount is remounted
//   noexec and each ExecPaths entry is bind-mounted over itself with exec allowed (as systemd does);
// - MemoryDenyWriteExecute: prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN) through a small C helper;
// - SystemCallFilter + SystemCallErrorNumber: a seccomp BPF filter installed by the same helper, for the
//   calls of systemd's @pkey group (pkey_mprotect, pkey_alloc, pkey_free: node calls pkey_alloc at start,
//   and @system-service does not hold them on systemd 252). Without SystemCallErrorNumber it kills the
//   process (SIGSYS), as systemd's filter does; with it the call fails with that errno. Every other call
//   is allowed: only the filter's verdict on @pkey is emulated (x86_64 only; other architectures pass);
// - NoNewPrivileges, User=, CapabilityBoundingSet, AmbientCapabilities: setpriv;
// - Environment=SENTINEL_HOOK_JITLESS=1: set for the hook.
// Not emulated: RestrictAddressFamilies, the rest of SystemCallFilter, ProtectSystem, PrivateUsers (the
// watch unit's own test and systemd-analyze cover the unit text; here it is the hook's start-up that matters).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { reachablePath } from '../support/checkout.ts';
import { DEBIAN_SENTINEL_UNIT } from '../support/debian-units.ts';
import {
  BIN,
  createNetns,
  holders,
  installSudoers,
  must,
  type Netns,
  preflight,
  ROOT,
  removeSudoers,
  teardown,
  USER,
  writeConfig,
} from './vip-netns.ts';

const VIP = '10.213.7.179';
/** This host (the namespace's v0 address) is the new master: the hook must add the VIP here. */
const EVENT = ['mymaster', 'leader', 'start', '10.213.7.9', '6379', '10.213.7.2', '6379'];
const HAS_CC = existsSync('/usr/bin/cc');
let env: Netns | undefined;
let config = '';
let helper = '';
let skipReason: string | undefined;

/**
 * As root, before anything else: $1 "1" sets PR_SET_MDWE (65) with PR_MDWE_REFUSE_EXEC_GAIN (1); $2 is
 * "-" (no filter), "kill" or an errno number: a seccomp filter whose verdict on the @pkey calls
 * (x86_64: pkey_mprotect 329, pkey_alloc 330, pkey_free 331) is SECCOMP_RET_KILL_PROCESS (what systemd
 * does without SystemCallErrorNumber) or SECCOMP_RET_ERRNO with that errno; everything else, and every
 * other architecture, is allowed. Then exec: both are inherited by everything it starts. Root holds
 * CAP_SYS_ADMIN, so the filter needs no no_new_privs (setpriv --nnp sets that apart, as the unit says).
 */
const HELPER_C = `#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
int main(int argc, char **argv) {
  if (argc < 4) return 125;
  if (strcmp(argv[1], "1") == 0 && prctl(65, 1, 0, 0, 0) != 0) { perror("prctl(PR_SET_MDWE)"); return 125; }
  if (strcmp(argv[2], "-") != 0) {
    unsigned int verdict = strcmp(argv[2], "kill") == 0 ? SECCOMP_RET_KILL_PROCESS : SECCOMP_RET_ERRNO | (atoi(argv[2]) & SECCOMP_RET_DATA);
    struct sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 329, 0, 2),
      BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, 331, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, verdict),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { sizeof code / sizeof code[0], code };
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) { perror("prctl(PR_SET_SECCOMP)"); return 125; }
  }
  execv(argv[3], argv + 3);
  perror(argv[3]);
  return 127;
}
`;

/**
 * Run as root in a fresh private mount namespace: $1 jitless (0|1), $2 nnp (0|1), $3 bounding set,
 * $4 ambient capabilities ('' for none), then the ExecPaths up to "--", then the command. Every
 * mount becomes noexec, "/" last (mount itself lives there); only the ExecPaths and setpriv, which
 * starts the hook, stay executable. Nothing here reaches the host's mounts: the namespace is private.
 */
const SANDBOX_SH = `set -e
jitless=$1 nnp=$2 bounding=$3 ambient=$4
shift 4
mounts=$(while read -r _ _ _ _ mp _; do echo "$mp"; done < /proc/self/mountinfo)
exec_paths=
while [ "$1" != -- ]; do
  if [ -e "$1" ]; then mount --bind "$1" "$1"; mount -o remount,bind,exec "$1"; exec_paths="$exec_paths $1"; fi
  shift
done
shift
mount --bind /usr/bin/setpriv /usr/bin/setpriv
for mp in $mounts; do
  # An ExecPaths entry that is a mount point already (the checkout's bind mount, from a clone in a
  # directory redis cannot enter) was just made executable on top: leave it so.
  case " $exec_paths " in *" $mp "*) continue ;; esac
  [ "$mp" = / ] || mount -o remount,bind,noexec "$mp" 2>/dev/null || true
done
mount -o remount,bind,noexec /
[ "$jitless" = 1 ] && export SENTINEL_HOOK_JITLESS=1
set -- --reuid ${USER} --regid ${USER} --init-groups --bounding-set "$bounding" "$@"
[ -n "$ambient" ] && set -- --inh-caps "$ambient" --ambient-caps "$ambient" "$@"
[ "$nnp" = 1 ] && set -- --nnp "$@"
exec /usr/bin/setpriv "$@"
`;

before(() => {
  if (!HAS_CC) {
    skipReason = 'needs cc for the PR_SET_MDWE and seccomp helper';
    return;
  }
  preflight();
  env = createNetns('shhk');
  writeFileSync(join(env.dir, 'helper.c'), HELPER_C);
  helper = join(env.dir, 'helper');
  must(['cc', '-O', '-o', helper, join(env.dir, 'helper.c')]);
  for (const [mdwe, filter] of [
    ['1', '-'],
    ['0', 'kill'],
  ]) {
    const probe = spawnSync(helper, [mdwe!, filter!, '/usr/bin/true'], { encoding: 'utf8' });
    if (probe.status !== 0)
      skipReason = `this kernel refuses the helper (${mdwe === '1' ? 'PR_SET_MDWE' : 'a seccomp filter'}): ${probe.stderr.trim()}`;
  }
  writeFileSync(join(env.dir, 'sandbox.sh'), SANDBOX_SH);
  // privilege: sudo and no sudoers rule: only what the drop-in hands Sentinel (the capabilities) can move it.
  config = writeConfig(env, [
    { type: 'vip', address: `${VIP}/24`, interface: 'v0', arp: { count: 1, interval: '100ms', repeatAfter: 0 } },
  ]);
});

after(() => {
  if (env) teardown(env);
});

interface Sandbox {
  execPaths: string[];
  jitless: boolean;
  noNewPrivileges: boolean;
  memoryDenyWriteExecute: boolean;
  bounding: string[];
  ambient: string[];
  /** The filter's verdict on the @pkey calls, when a filter is set: allowed, or not (then killed, or the errno). */
  systemCallFilter?: { pkeyAllowed: boolean };
  /** SystemCallErrorNumber as a number; undefined: unset, empty or "kill". */
  systemCallErrorNumber?: number;
}

/** The names that hold pkey_alloc in systemd 252's tables (systemd-analyze syscall-filter). */
const PKEY = ['@pkey', 'pkey_alloc', '@known'];

/** What systemd makes of a unit and its drop-ins, for the settings emulated here (a list setting empty resets it). */
function sandboxOf(units: string[]): Sandbox {
  const s: Sandbox = {
    execPaths: [],
    jitless: false,
    noNewPrivileges: false,
    memoryDenyWriteExecute: false,
    bounding: [],
    ambient: [],
  };
  const list = (value: string, to: string[]) => (value.trim() === '' ? [] : [...to, ...value.trim().split(/\s+/)]);
  for (const line of units.join('\n').split('\n')) {
    const m = /^(\w+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, key, value] = m as unknown as [string, string, string];
    if (key === 'ExecPaths') s.execPaths = list(value, s.execPaths);
    else if (key === 'Environment' && /(^|\s)SENTINEL_HOOK_JITLESS=1(\s|$)/.test(value)) s.jitless = true;
    else if (key === 'NoNewPrivileges') s.noNewPrivileges = value === 'true' || value === 'yes';
    else if (key === 'MemoryDenyWriteExecute') s.memoryDenyWriteExecute = value === 'true' || value === 'yes';
    // "~" alone: the full set (Debian's empty one reset).
    else if (key === 'CapabilityBoundingSet') s.bounding = value.trim() === '~' ? ['ALL'] : list(value, s.bounding);
    else if (key === 'AmbientCapabilities') s.ambient = list(value, s.ambient);
    else if (key === 'SystemCallFilter') {
      // Empty: no filter. The first assignment decides: an allow-list, or with "~" a deny-list; later ones
      // add to it or ("~") take from it. A ":errno" suffix (deny-lists only) is not emulated.
      const deny = value.trim().startsWith('~');
      const names = value
        .trim()
        .replace(/^~/, '')
        .split(/\s+/)
        .filter(Boolean)
        .map((n) => n.replace(/:.*/, ''));
      if (value.trim() === '') delete s.systemCallFilter;
      else s.systemCallFilter ??= { pkeyAllowed: deny };
      if (s.systemCallFilter && names.some((n) => PKEY.includes(n))) s.systemCallFilter.pkeyAllowed = !deny;
    } else if (key === 'SystemCallErrorNumber') {
      const v = value.trim();
      if (v === '' || v === 'kill') delete s.systemCallErrorNumber;
      else s.systemCallErrorNumber = /^\d+$/.test(v) ? Number(v) : (constants.errno as Record<string, number>)[v];
      assert.ok(
        s.systemCallErrorNumber === undefined || Number.isInteger(s.systemCallErrorNumber),
        `SystemCallErrorNumber=${v}`,
      );
    }
  }
  return s;
}

/**
 * The node hooks/client-reconfig and the hosts helper find in a clone install: the system PATH's (the hook
 * starts under env -i). The drop-in must be generated by that one, since it names the node it was printed
 * by; npm test itself runs on the node in node_modules, which no hook would find.
 */
const PATH_NODE = (() => {
  const r = spawnSync('sh', ['-c', 'command -v node'], {
    encoding: 'utf8',
    env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
  });
  const found = r.stdout.trim();
  assert.ok(found, 'no node in the system PATH: the hook setup of a clone install needs one');
  return realpathSync(found);
})();

const setprivCaps = (caps: string[]) => caps.map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`).join(',');

/** hooks/client-reconfig as Sentinel would start it under `s`, in the namespace, with a bare environment. */
function hookUnder(s: Sandbox) {
  const hook = reachablePath(join(ROOT, 'hooks/client-reconfig'));
  const sandbox = [
    'ip',
    'netns',
    'exec',
    env!.ns,
    'unshare',
    '-m',
    '--propagation',
    'private',
    '/bin/sh',
    join(env!.dir, 'sandbox.sh'),
    s.jitless ? '1' : '0',
    s.noNewPrivileges ? '1' : '0',
    s.bounding.includes('ALL') ? '+all' : ['-all', setprivCaps(s.bounding)].filter(Boolean).join(','),
    setprivCaps(s.ambient),
    ...s.execPaths.map((p) => p.replace(/^[-+]/, '')),
    '--',
    hook,
    '--config',
    config,
    ...EVENT,
  ];
  // The helper first, while its own directory may still be executed; the MDWE flag and the filter are inherited.
  const filter =
    !s.systemCallFilter || s.systemCallFilter.pkeyAllowed ? '-' : String(s.systemCallErrorNumber ?? 'kill');
  const argv = [
    helper,
    s.memoryDenyWriteExecute ? '1' : '0',
    filter,
    '/usr/bin/env',
    '-i',
    'PATH=/usr/sbin:/usr/bin:/sbin:/bin',
    ...sandbox,
  ];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });
  return {
    code: r.status,
    signal: r.signal,
    out: `${r.signal ? `killed by ${r.signal}\n` : ''}${r.stdout}\n${r.stderr}${r.error ? String(r.error) : ''}`,
  };
}

function dropIn(): string {
  // Generated as the operator would, by the CLI at the path the hook runs from (ExecPaths names it).
  const text = must([PATH_NODE, reachablePath(BIN), 'systemd', '--user', USER, '--hook', '--config', config]);
  assert.match(text, /^# ---- \/etc\/systemd\/system\/redis-sentinel\.service\.d\//m);
  return text;
}

const debian = () => sandboxOf([DEBIAN_SENTINEL_UNIT]);
const withDropIn = () => sandboxOf([DEBIAN_SENTINEL_UNIT, dropIn()]);

test("Debian's stock unit: the hook cannot even be executed (install directory and /bin/sh not in ExecPaths); no VIP", (t) => {
  if (skipReason) return t.skip(skipReason);
  const s = debian();
  assert.deepEqual(s.execPaths, ['/usr/bin/redis-sentinel', '/usr/lib', '/lib']);
  assert.ok(s.memoryDenyWriteExecute && s.noNewPrivileges && s.bounding.length === 0 && !s.jitless);
  const r = hookUnder(s);
  // A failed execve: Sentinel records it as exit 2 and drops the failover for good.
  assert.equal(r.code, 126, r.out);
  assert.match(r.out, /client-reconfig.*Permission denied/);
  assert.deepEqual(holders(env!.ns, VIP), []);
});

test("Debian's unit with the hook's programs executable but the JIT on: node aborts under MemoryDenyWriteExecute (SIGTRAP, 133); no VIP", (t) => {
  if (skipReason) return t.skip(skipReason);
  // With the drop-in's SystemCallErrorNumber too: otherwise node's pkey_alloc kills it first (SIGSYS, the test below).
  const { execPaths, systemCallErrorNumber } = withDropIn();
  const s = { ...debian(), execPaths, systemCallErrorNumber };
  const r = hookUnder(s);
  assert.ok(r.signal === 'SIGTRAP' || r.code === 133, `expected SIGTRAP, got ${r.code ?? r.signal}: ${r.out}`);
  assert.deepEqual(holders(env!.ns, VIP), []);
});

test("Debian's unit with the hook's programs executable and node jitless, but no SystemCallErrorNumber: node's pkey_alloc is outside @system-service, SIGSYS; no VIP", (t) => {
  if (skipReason) return t.skip(skipReason);
  if (process.arch !== 'x64') return t.skip('the emulated filter knows the x86_64 numbers of the @pkey calls only');
  const s = { ...debian(), execPaths: withDropIn().execPaths, jitless: true };
  assert.deepEqual(s.systemCallFilter, { pkeyAllowed: false });
  assert.equal(s.systemCallErrorNumber, undefined);
  const r = hookUnder(s);
  // Killed before it logs a line (on a booted Debian 12: audit type=1326 comm="node" sig=31 syscall=330).
  assert.equal(r.signal, 'SIGSYS', `expected SIGSYS, got ${r.code ?? r.signal}: ${r.out}`);
  assert.deepEqual(holders(env!.ns, VIP), []);
});

test("Debian's privileges with node jitless and even sudo executable: NoNewPrivileges stops sudo, no capabilities: exit 1, no VIP", (t) => {
  if (skipReason) return t.skip(skipReason);
  // sudo (and its libraries) let through ExecPaths too, and the drop-in's SystemCallErrorNumber, so that what
  // stops it is NoNewPrivileges and nothing else.
  const { execPaths, systemCallErrorNumber } = withDropIn();
  const s = {
    ...debian(),
    execPaths: [...execPaths, '/usr/bin/sudo', '/usr/libexec/sudo'],
    jitless: true,
    systemCallErrorNumber,
  };
  const r = hookUnder(s);
  assert.equal(r.code, 1, r.out);
  assert.match(
    r.out,
    /FAILED vip#0: add 10\.213\.7\.179\/24 on v0 .*exited 1: sudo: .*(no new privileges|disable the flag)/i,
  );
  assert.deepEqual(holders(env!.ns, VIP), []);
});

test("with the generated drop-in's settings (ExecPaths, jitless, its capabilities, SystemCallErrorNumber), MDWE, NoNewPrivileges and the filter kept: the hook adds the VIP, exit 0", (t) => {
  if (skipReason) return t.skip(skipReason);
  const s = withDropIn();
  // The drop-in keeps Sentinel's MemoryDenyWriteExecute and NoNewPrivileges: node runs jitless, ip and arping with the capabilities.
  assert.ok(s.memoryDenyWriteExecute && s.noNewPrivileges && s.jitless, JSON.stringify(s));
  // And its system call filter: pkey_alloc still outside it, so the hook runs only if the call fails rather than kills.
  assert.deepEqual(s.systemCallFilter, { pkeyAllowed: false });
  assert.equal(s.systemCallErrorNumber, constants.errno.EPERM);
  assert.deepEqual(new Set(s.ambient), new Set(['CAP_NET_ADMIN', 'CAP_NET_RAW']));
  assert.ok(
    s.execPaths.includes(realpathSync(reachablePath(ROOT))) || s.execPaths.includes(reachablePath(ROOT)),
    s.execPaths.join(' '),
  );
  const r = hookUnder(s);
  assert.equal(r.code, 0, r.out);
  assert.doesNotMatch(r.out, /sudo/);
  assert.deepEqual(holders(env!.ns, VIP), [{ dev: 'v0', prefixlen: 24, tentative: false }]);
});

test('a hosts file root alone may write, privilege: sudo, under the drop-in for it: sudo runs the helper and the entry moves', (t) => {
  if (skipReason) return t.skip(skipReason);
  const hosts = join(env!.dir, 'hosts');
  writeFileSync(hosts, '10.213.7.9 redis-master\n', { mode: 0o644 });
  const vipConfig = config;
  config = writeConfig(env!, [{ type: 'hosts', names: ['redis-master'], file: hosts, privilege: 'sudo' }]);
  try {
    const s = withDropIn();
    // sudo costs the drop-in NoNewPrivileges (and the seccomp-based options with it).
    assert.ok(!s.noNewPrivileges && s.jitless, JSON.stringify(s));
    assert.equal(s.systemCallFilter, undefined);
    assert.ok(
      s.execPaths.includes('/usr/bin/sudo') && s.execPaths.includes('/usr/libexec/sudo'),
      s.execPaths.join(' '),
    );
    installSudoers(env!, config);
    const r = hookUnder(s);
    assert.equal(r.code, 0, r.out);
    assert.equal(readFileSync(hosts, 'utf8'), '10.213.7.2 redis-master\n');
    assert.equal(statSync(hosts).uid, 0);
  } finally {
    removeSudoers(env!);
    config = vipConfig;
  }
});
