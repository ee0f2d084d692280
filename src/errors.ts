/**
 * Every failure the hook can report, each tied to the exit status Sentinel needs:
 * 1 makes Sentinel retry (30 s, doubling, up to 10 runs), 2 or more drops the event for good.
 */
export const EXIT = { ok: 0, retry: 1, never: 2 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export abstract class HookError extends Error {
  abstract readonly exitCode: ExitCode;
  /** What the operator should do about it; printed after the message. */
  readonly hint: string | undefined;
  constructor(message: string, hint?: string) {
    super(message);
    this.name = new.target.name;
    this.hint = hint;
  }
  /** One line for stderr: what is wrong, then what to do. */
  line(): string {
    return this.hint ? `${this.message} (${this.hint})` : this.message;
  }
}

/** Bad operands or flags: the same call would fail again. */
export class UsageError extends HookError {
  readonly exitCode = EXIT.never;
}

/** The config file is missing, unsafe or invalid: a retry reads the same file. */
export class ConfigError extends HookError {
  readonly exitCode = EXIT.never;
}

/** Something outside us failed (a command, a host, DNS, a lock): a later retry may succeed. */
export class RetryableError extends HookError {
  readonly exitCode = EXIT.retry;
}

export function exitCodeOf(err: unknown): ExitCode {
  return err instanceof HookError ? err.exitCode : EXIT.retry;
}

export function errorLine(err: unknown): string {
  if (err instanceof HookError) return err.line();
  if (err instanceof Error) return err.message;
  return String(err);
}
