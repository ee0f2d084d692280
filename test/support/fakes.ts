import { memoryLogger } from '../../src/log.ts';
import type { PipelineDeps as HookDeps } from '../../src/pipeline/deps.ts';
import type { CommandResult, CommandRunner, RunOptions } from '../../src/runner.ts';

export interface Expectation {
  /** The exact argv expected. */
  argv: string[];
  result?: Partial<CommandResult>;
  /** How many times it may be called; default 1. */
  times?: number;
}

/**
 * A runner that knows only the commands it was told about: anything else throws, so a test can
 * never fall through to the real system, and `unused()` catches a command that should have run.
 */
export class FakeRunner implements CommandRunner {
  readonly calls: { argv: string[]; opts: RunOptions }[] = [];
  private readonly remaining: { argv: string[]; result: Partial<CommandResult>; left: number }[];

  constructor(expectations: Expectation[]) {
    this.remaining = expectations.map((e) => ({ argv: e.argv, result: e.result ?? {}, left: e.times ?? 1 }));
  }

  async run(argv: readonly string[], opts: RunOptions): Promise<CommandResult> {
    const key = JSON.stringify(argv);
    const match = this.remaining.find((e) => e.left > 0 && JSON.stringify(e.argv) === key);
    if (!match) throw new Error(`FakeRunner: unexpected command ${key}`);
    match.left--;
    this.calls.push({ argv: [...argv], opts });
    return {
      exitCode: 0,
      signal: undefined,
      stdout: '',
      stderr: '',
      durationMs: 1,
      timedOut: false,
      spawnError: undefined,
      ...match.result,
    };
  }

  /** Expectations never called: a test asserts this is empty. */
  unused(): string[][] {
    return this.remaining.filter((e) => e.left > 0).map((e) => e.argv);
  }
}

/** Deps for the orchestrator with nothing real behind them. `programs` maps a name to its absolute path. */
export function fakeDeps(
  over: Partial<HookDeps> & { programs?: Record<string, string>; addresses?: string[] } = {},
): HookDeps & { logger: ReturnType<typeof memoryLogger> } {
  const { programs = {}, addresses = ['127.0.0.1'], ...rest } = over;
  const logger = memoryLogger();
  return {
    runner: new FakeRunner([]),
    env: {},
    uid: process.getuid?.() ?? 0,
    localAddresses: () => new Set(addresses),
    resolve: async (host) => {
      throw new Error(`fakeDeps: unexpected DNS lookup of ${host}`);
    },
    which: (program) => (program.startsWith('/') ? program : programs[program]),
    // Unreadable by default: actions fall back to asking the (fake) programs themselves.
    readFile: () => undefined,
    ...rest,
    logger,
  } as HookDeps & { logger: ReturnType<typeof memoryLogger> };
}

/**
 * A fake host's interface addresses that follow the fake `ip addr add`/`ip addr del` calls made so
 * far, as the kernel's would: a burst checks that its address is still here before every shot.
 */
export function addressesFollowingIp(runner: FakeRunner, base: readonly string[]): () => Set<string> {
  return () => {
    const set = new Set(base);
    for (const { argv } of runner.calls) {
      const i = argv.indexOf('addr');
      const verb = argv[i + 1];
      if (i < 0 || (verb !== 'add' && verb !== 'del')) continue;
      const ip = argv[i + 2]!.split('/')[0]!;
      if (verb === 'add') set.add(ip);
      else set.delete(ip);
    }
    return set;
  };
}
