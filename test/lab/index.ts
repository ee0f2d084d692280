// The Sentinel lab: network namespaces with three Redis hosts (redis-server + redis-sentinel) and app
// hosts on one bridge. API and examples: test/lab/README.md.
export {
  Lab,
  recorderHook,
  vipHook,
  watchHook,
  exampleHook,
  labSentinels,
  cliPath,
  isRoot,
  REPO_ROOT,
  CLIENT_RECONFIG_HOOK,
  MASTER_NAME,
  REDIS_PORT,
  SENTINEL_PORT,
  SUBNET_PREFIX,
  DEFAULT_VIP,
} from './lab.ts';
export type { LabHook, LabHost, LabHostFiles, LabOptions, LabProcess, WatchOptions } from './lab.ts';
export { Writer, type WriteAttempt, type WriterOptions } from './writer.ts';
export { waitFor, waitUntil, WaitTimeout, type WaitOptions } from './wait.ts';
export { run, runOk, LabCommandError, sleep, type RunResult, type RunOptions } from './run.ts';
export {
  parseSentinelLog,
  parseHookLog,
  parseScriptLog,
  parseWatchLog,
  switchMasters,
  type HookRun,
  type SentinelLogEvent,
  type SwitchMaster,
  type WatchLogEntry,
} from './logs.ts';
export { ensurePackages, LAB_PACKAGES } from './packages.ts';
export { reachableCheckout, reachablePath } from '../support/checkout.ts';
export { timeline, printTimeline, type TimelineEntry } from './timeline.ts';
export { median, stats } from './stats.ts';
export { seedScriptHook, SEED_SCRIPT } from './seed.ts';
export { doubleFailover, NeighbourMonitor, type DoubleFailoverCycle } from './double-failover.ts';
export { withLab } from './with-lab.ts';
