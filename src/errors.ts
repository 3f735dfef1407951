/**
 * The base of every error this project throws on purpose. Like kafkajs's KafkaJSError it says what a
 * caller can do about it instead of making callers match messages: `retriable` (the same call may succeed
 * later: a busy lock, an unreachable broker), `exitCode` (what a CLI command exits with when it ends on
 * this error), and the root `cause` kept for logs.
 */

/** Exit codes of the CLI: 1 for a failure, 2 for invalid configuration or usage. */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export interface IntentstreamErrorOptions {
  retriable?: boolean;
  exitCode?: number;
  cause?: unknown;
}

export class IntentstreamError extends Error {
  readonly retriable: boolean;
  readonly exitCode: number;

  constructor(message: string, options: IntentstreamErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retriable = options.retriable ?? false;
    this.exitCode = options.exitCode ?? EXIT_FAILURE;
  }
}

/** Whether trying the same call again may succeed: only errors that say so (never programmer errors). */
export function isRetriable(error: unknown): boolean {
  return error instanceof IntentstreamError && error.retriable;
}

/** The exit code a CLI command ends with on `error`. */
export function exitCodeOf(error: unknown): number {
  return error instanceof IntentstreamError ? error.exitCode : EXIT_FAILURE;
}
