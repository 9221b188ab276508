/**
 * One error hierarchy for the whole tool. Every error a user can meet carries a stable `code`
 * (for scripts reading `--json`), an exit code from the contract, and a hint saying what to do.
 */

export const ExitCode = {
  ok: 0,
  /** `diff --exit-code` found differences, or an unexpected error. */
  failure: 1,
  usage: 2,
  notFound: 3,
  conflict: 4,
  external: 5,
  interrupted: 130,
  terminated: 143,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export interface AybErrorOptions {
  hint?: string;
  cause?: unknown;
  /** Extra structured facts for `--json` (for example the sessions blocking a template clone). */
  details?: Record<string, unknown>;
}

export class AybError extends Error {
  readonly hint?: string;
  readonly details?: Record<string, unknown>;

  constructor(
    readonly code: string,
    readonly exitCode: ExitCode,
    message: string,
    options: AybErrorOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'AybError';
    this.hint = options.hint;
    this.details = options.details;
  }
}

export class UsageError extends AybError {
  constructor(message: string, options?: AybErrorOptions, code = 'usage') {
    super(code, ExitCode.usage, message, options);
  }
}

export class NotFoundError extends AybError {
  constructor(code: string, message: string, options?: AybErrorOptions) {
    super(code, ExitCode.notFound, message, options);
  }
}

export class ConflictError extends AybError {
  constructor(code: string, message: string, options?: AybErrorOptions) {
    super(code, ExitCode.conflict, message, options);
  }
}

/** A database, connection or external tool (pg_dump, psql, initdb) failed. */
export class ExternalError extends AybError {
  constructor(code: string, message: string, options?: AybErrorOptions) {
    super(code, ExitCode.external, message, options);
  }
}

export class InterruptedError extends AybError {
  constructor(readonly signal: 'SIGINT' | 'SIGTERM', hint?: string) {
    super(
      'interrupted',
      signal === 'SIGINT' ? ExitCode.interrupted : ExitCode.terminated,
      `interrupted by ${signal}`,
      { hint },
    );
  }
}

export function isAybError(error: unknown): error is AybError {
  return error instanceof AybError;
}
