// Runs the built CLI against a config written for an SshLab, as Sentinel would: seven operands.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliArgv, type SshLab } from './sshd.ts';

export interface HookRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** One per-target row from --json output. */
export interface TargetRow {
  target: string;
  status: 'changed' | 'unchanged' | 'failed';
  reason?: string;
}

export function writeConfig(dir: string, config: unknown): string {
  const path = join(mkdtempSync(join(dir, 'cfg-')), 'config.json');
  // The hook refuses a config others may write: 0600, owned by us (root).
  writeFileSync(path, JSON.stringify(config, null, 2), { mode: 0o600 });
  return path;
}

export function hostsConfig(
  lab: SshLab,
  push: Record<string, unknown> = {},
  action: Record<string, unknown> = {},
  top: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    deadline: '20s',
    log: { file: join(lab.dir, 'hook.log'), level: 'debug' },
    lockDir: lab.dir,
    ...top,
    masters: {
      mymaster: [
        {
          type: 'hosts',
          names: ['redis-master.myservice.com'],
          push: {
            targets: lab.servers.map((s) => s.label),
            user: 'root',
            identityFile: lab.identityFile,
            knownHostsFile: lab.knownHostsFile,
            remotePath: lab.remotePath,
            timeout: '3s',
            retries: 1,
            ...push,
          },
          ...action,
        },
      ],
    },
  };
}

/**
 * Run the hook as Sentinel would (seven operands), with --json unless told otherwise. `prefix` is an
 * argv that execs the rest (so the pid stays the hook's), e.g. to run it in a mount namespace.
 */
export function runHook(
  configPath: string,
  toIp: string,
  opts: {
    master?: string;
    role?: 'leader' | 'observer';
    json?: boolean;
    timeoutMs?: number;
    onSpawn?: (pid: number) => void;
    prefix?: string[];
  } = {},
): Promise<HookRun> {
  const argv = [
    ...(opts.prefix ?? []),
    ...cliArgv(),
    '--config',
    configPath,
    ...(opts.json === false ? [] : ['--json']),
    opts.master ?? 'mymaster',
    opts.role ?? 'leader',
    'start',
    '10.9.9.1',
    '6379',
    toIp,
    '6379',
  ];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid) opts.onSpawn?.(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Math.round(performance.now() - started) });
    });
  });
}

export function targetRows(run: HookRun): TargetRow[] {
  const parsed = JSON.parse(run.stdout) as { steps: { detail?: { targets?: TargetRow[] } }[] };
  return parsed.steps.flatMap((s) => s.detail?.targets ?? []);
}
