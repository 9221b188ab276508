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

/**
 * Every stable error code: the `code` of an error in `--json` output and in the admin API. Scripts
 * match on these, so a code is never renamed; a new failure gets a new code here.
 */
export const ERROR_CODES = [
  'bad_conflicts_file',
  'base_backup_failed',
  'branch_busy',
  'branch_exists',
  'branch_has_children',
  'branch_in_use',
  'branch_not_found',
  'branch_not_ready',
  'command_not_found',
  'config_needed',
  'config_not_found',
  'confirmation_required',
  'connection_failed',
  'connection_lost',
  'connections_refused',
  'data_not_utf8',
  'data_row_too_large',
  'data_schema_differs',
  'database_error',
  'database_exists',
  'database_missing',
  'database_not_found',
  'database_unavailable',
  'dump_rewrite_failed',
  'expiry_in_past',
  'file_exists',
  'history_disabled',
  'history_unavailable',
  'idle_in_transaction_timeout',
  'insecure_host',
  'interrupted',
  'invalid_config',
  'invalid_duration',
  'invalid_masking_rules',
  'invalid_name',
  'invalid_point_in_time',
  'invalid_time',
  'listen_failed',
  'lock_timeout',
  'managed_binaries_missing',
  'managed_credentials_missing',
  'managed_init_failed',
  'managed_restart_failed',
  'managed_start_failed',
  'managed_stop_failed',
  'masking_no_rules',
  'masking_not_permitted',
  'masking_required',
  'masking_secret_insecure',
  'masking_secret_missing',
  'masking_secret_weak',
  'masking_uncovered',
  'masking_verification_failed',
  'merge_blocked',
  'merge_conflict',
  'merge_constraint_conflict',
  'merge_value_conflict',
  'merge_needs_manual_schema_steps',
  'merge_schema_conflict',
  'merge_target_moved',
  'name_collision',
  'no_merge_base',
  'no_parent',
  'outside_history_window',
  'parent_not_found',
  'pg_dump_failed',
  'pooler_failed',
  'pooler_not_installed',
  'port_in_use',
  'prune_failed',
  'prune_incomplete',
  'psql_failed',
  'replay_failed',
  'restore_failed',
  'roles_missing',
  'same_name',
  'sessions_remain',
  'snapshot_exists',
  'snapshot_immutable',
  'snapshot_not_found',
  'snapshot_not_ready',
  'snapshot_refuses_connections',
  'source_busy',
  'source_not_found',
  'source_not_readable',
  'source_not_ready',
  'statement_timeout',
  'table_ambiguous',
  'table_not_found',
  'template_not_permitted',
  'tool_broken',
  'tool_missing',
  'tool_version_mismatch',
  'unexpected',
  'unexpected_argument',
  'unknown_flag',
  'usage',
'admin_password_weak',
'archive_lagging',
'authentication_failed',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

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
    readonly code: ErrorCode,
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
  constructor(message: string, options?: AybErrorOptions, code: ErrorCode = 'usage') {
    super(code, ExitCode.usage, message, options);
  }
}

export class NotFoundError extends AybError {
  constructor(code: ErrorCode, message: string, options?: AybErrorOptions) {
    super(code, ExitCode.notFound, message, options);
  }
}

export class ConflictError extends AybError {
  constructor(code: ErrorCode, message: string, options?: AybErrorOptions) {
    super(code, ExitCode.conflict, message, options);
  }
}

/** A database, connection or external tool (pg_dump, psql, initdb) failed. */
export class ExternalError extends AybError {
  constructor(code: ErrorCode, message: string, options?: AybErrorOptions) {
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
