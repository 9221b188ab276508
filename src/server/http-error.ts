import { AybError, type ErrorCode, ExitCode, InterruptedError } from '../core/errors.js';

/** The codes of errors that belong to HTTP itself; the rest of a response's codes are the CLI's (ErrorCode). */
export const HTTP_ERROR_CODES = [
  'host_not_allowed',
  'invalid_body',
  'invalid_json',
  'invalid_password',
  'invalid_path',
  'invalid_query',
  'invalid_token',
  'method_not_allowed',
  'not_found',
  'payload_too_large',
  'token_expired',
  'too_many_attempts',
  'unauthorized',
  'url_source_not_allowed',
] as const;
export type HttpErrorCode = (typeof HTTP_ERROR_CODES)[number];

/** An error that belongs to HTTP itself (auth, body size, routing), with its status. */
export class HttpError extends Error {
  readonly hint?: string;
  /** Extra response headers, e.g. Retry-After or WWW-Authenticate. */
  readonly headers?: Readonly<Record<string, string>>;

  constructor(
    readonly status: number,
    /** HTTP's own codes, or a domain code the API answers with a status of its own. */
    readonly code: HttpErrorCode | ErrorCode,
    message: string,
    options: { hint?: string; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'HttpError';
    this.hint = options.hint;
    this.headers = options.headers;
  }
}

/** The JSON body of every error response: a stable code, one line of message, and a hint when there is one. */
export interface ErrorBody {
  code: ErrorCode | HttpErrorCode;
  message: string;
  hint?: string;
}

export interface ErrorResponse {
  readonly status: number;
  readonly body: ErrorBody;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * The one place where the CLI's exit codes become HTTP statuses, so the API and the CLI report a
 * failure alike: usage → 400, not found → 404, conflict → 409, database/tool failure → 503,
 * interrupted (the server is shutting down) → 503, anything else → 500.
 */
export function statusForExitCode(exitCode: number): number {
  switch (exitCode) {
    case ExitCode.usage:
      return 400;
    case ExitCode.notFound:
      return 404;
    case ExitCode.conflict:
      return 409;
    case ExitCode.external:
    case ExitCode.interrupted:
    case ExitCode.terminated:
      return 503;
    default:
      return 500;
  }
}

export function errorResponse(error: unknown): ErrorResponse {
  if (error instanceof HttpError) {
    return { status: error.status, body: withHint({ code: error.code, message: error.message }, error.hint), headers: error.headers };
  }
  if (error instanceof AybError) {
    const hint = error.hint ?? (error instanceof InterruptedError ? 'the server is shutting down; try again once it runs again' : undefined);
    return { status: statusForExitCode(error.exitCode), body: withHint({ code: error.code, message: error.message }, hint) };
  }
  // Never echo an unknown error's text: it may carry internals. The server log has it.
  return { status: 500, body: { code: 'unexpected', message: 'unexpected server error', hint: 'see the ayb start log for details' } };
}

function withHint(body: ErrorBody, hint: string | undefined): ErrorBody {
  return hint ? { ...body, hint } : body;
}
