// The Sentinel lab: network namespaces with three Redis hosts (redis-server + redis-sentinel) and app
// hosts on one bridge. API and examples: test/lab/README.md.

export { reachableCheckout, reachablePath } from '../support/checkout.ts';
export { type DoubleFailoverCycle, doubleFailover, NeighbourMonitor } from './double-failover.ts';
export type { LabHook, LabHost, LabHostFiles, LabOptions, LabProcess, WatchOptions } from './lab.ts';
export {
  CLIENT_RECONFIG_HOOK,
  cliPath,
  DEFAULT_VIP,
  exampleHook,
  isRoot,
  Lab,
  labSentinels,
  MASTER_NAME,
  REDIS_PORT,
  REPO_ROOT,
  recorderHook,
  SENTINEL_PORT,
  SUBNET_PREFIX,
  vipHook,
  watchHook,
} from './lab.ts';
export {
  type HookRun,
  parseHookLog,
  parseScriptLog,
  parseSentinelLog,
  parseWatchLog,
  type SentinelLogEvent,
  type SwitchMaster,
  switchMasters,
  type WatchLogEntry,
} from './logs.ts';
export { ensurePackages, LAB_PACKAGES } from './packages.ts';
export { LabCommandError, type RunOptions, type RunResult, run, runOk, sleep } from './run.ts';
export { SEED_SCRIPT, seedScriptHook } from './seed.ts';
export { median, stats } from './stats.ts';
export { printTimeline, type TimelineEntry, timeline } from './timeline.ts';
export { type WaitOptions, WaitTimeout, waitFor, waitUntil } from './wait.ts';
export { withLab } from './with-lab.ts';
export { type WriteAttempt, Writer, type WriterOptions } from './writer.ts';
