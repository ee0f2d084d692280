import type { Capabilities } from '../actions/plugin.ts';
import type { Logger } from '../log.ts';
import type { CommandRunner } from '../runner.ts';
import type { AskSentinel } from '../sentinel/client.ts';

/** Everything the pipeline touches outside itself: tests pass fakes, the CLI passes the real system. */
export interface PipelineDeps {
  runner: CommandRunner;
  logger: Logger;
  env: NodeJS.ProcessEnv;
  uid: number;
  localAddresses(): Set<string>;
  /** A host name's addresses; `signal` aborts at the run's deadline (the lookup must stop then). */
  resolve(host: string, signal?: AbortSignal): Promise<string[]>;
  which(program: string): string | undefined;
  readFile(path: string): Buffer | undefined;
  /** What this process can do without sudo, decided once per process (see processCapabilities); absent: nothing. */
  capabilities?: Capabilities;
  askSentinel?: AskSentinel;
}
