import { accessSync, constants, readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { createRunner, whichSystem } from './runner.ts';
import type { HookDeps } from './orchestrator.ts';
import type { Logger } from './log.ts';
import { canonicalIp } from './values.ts';

/** This host's addresses as the kernel reports them (in a network namespace: that namespace's). */
export function localAddresses(): Set<string> {
  const set = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) set.add(canonicalIp(info.address.replace(/%.*$/, '')));
  }
  return set;
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The real system, for the CLI. */
export function systemDeps(logger: Logger): HookDeps {
  return {
    runner: createRunner(),
    logger,
    env: process.env,
    uid: process.getuid?.() ?? 0,
    localAddresses,
    resolve: async (host) => {
      // getBuiltinModule, not import(): the bundle runs inside vm.Script, where import() has no loader.
      const { lookup } = process.getBuiltinModule('node:dns').promises;
      return (await lookup(host, { all: true })).map((a) => a.address);
    },
    which: (program) => whichSystem(program, isExecutable),
    readFile: (path) => {
      try {
        return readFileSync(path);
      } catch {
        return undefined;
      }
    },
  };
}
