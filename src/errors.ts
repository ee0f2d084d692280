import {
  COMMAND_EXIT,
  type CommandExitCode,
  EXIT,
  type ExitCode,
  FAILURES,
  Failure,
  type FailureArgs,
  type FailureCode,
  failure,
} from './failures.ts';

export { COMMAND_EXIT, type CommandExitCode, EXIT, type ExitCode };

/**
 * A failure thrown: the catalogue's code (failures.ts), its message, and its fix as the hint. The
 * class says how Sentinel must treat it (exit 2 for the first two, 1 for the last); callers that
 * need to tell failures apart compare `code`, never the text.
 */
export abstract class HookError extends Error {
  abstract readonly exitCode: ExitCode;
  readonly code: FailureCode;
  /** What the operator should do about it; printed after the message. */
  readonly hint: string;
  /** Lines under the line for a person (a code frame): see the catalogue's `shown`. */
  readonly shown: string | undefined;
  constructor(failure: Failure) {
    super(failure.message);
    this.name = new.target.name;
    this.code = failure.code;
    this.hint = failure.fix;
    this.shown = failure.shown;
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

/** A failure value, to throw: the class follows the catalogue entry's kind, so its exit status does too. */
export function errorOf(f: Failure): HookError {
  const kind = FAILURES[f.code].kind;
  return kind === 'usage' ? new UsageError(f) : kind === 'config' ? new ConfigError(f) : new RetryableError(f);
}

/** `throw hookError('lock-held', { … })`: the catalogue's words, fix and exit status for that code. */
export function hookError<C extends FailureCode>(code: C, ...args: FailureArgs<C>): HookError {
  return errorOf(failure(code, ...args));
}

export function exitCodeOf(err: unknown): ExitCode {
  return err instanceof HookError ? err.exitCode : EXIT.retry;
}

/** The catalogue code of whatever was thrown, if it has one: what callers match on. */
export function codeOf(err: unknown): FailureCode | undefined {
  return err instanceof HookError ? err.code : undefined;
}

/** What was thrown, back as a failure value (a step that fails with it keeps its code); undefined when it has no code. */
export function failureOf(err: unknown): Failure | undefined {
  return err instanceof HookError && err.code
    ? new Failure(err.code, err.message, err.hint ?? '', err.exitCode)
    : undefined;
}

export function errorLine(err: unknown): string {
  if (err instanceof HookError) return err.line();
  if (err instanceof Error) return err.message;
  return String(err);
}
