/**
 * The control table `public._ayb_branches` in the main database: the single source of truth for
 * which branches exist. Created on demand; its constraints hold the invariants (one row per name,
 * one per branch database, a valid status) even against concurrent writers.
 */
export const CONTROL_SCHEMA = 'public';
export const CONTROL_TABLE = '_ayb_branches';
export const CONTROL_TABLE_SQL = `${CONTROL_SCHEMA}.${CONTROL_TABLE}`;

/**
 * `creating` until the copy is complete; `deleting` from the moment a delete (or prune) starts
 * dropping the database until its row is gone, so an interrupted delete is never mistaken for a
 * usable branch and the next command finishes it.
 */
export type BranchStatus = 'creating' | 'ready' | 'failed' | 'deleting';
/** A branch is a database to work on; a snapshot a frozen copy nobody connects to, to branch from and reset to. */
export type RecordKind = 'branch' | 'snapshot';
export type CloneStrategy = 'template' | 'dump';
/**
 * How the bytes were copied: `file_copy` (template, files copied), `clone` (template on PostgreSQL
 * 18+ with file_copy_method = clone: blocks shared copy-on-write), `pg_dump` (dump, streamed).
 */
export type CopyMethod = 'file_copy' | 'clone' | 'pg_dump';

export interface BranchRow {
  readonly id: string;
  readonly name: string;
  readonly kind: RecordKind;
  readonly source_database: string;
  readonly branch_database: string;
  readonly status: BranchStatus;
  readonly strategy: CloneStrategy | null;
  readonly copy_method: CopyMethod | null;
  readonly parent: string | null;
  /** For a branch: the snapshot it was made from (or last reset to), else null. */
  readonly snapshot: string | null;
  readonly expires_at: Date | null;
  readonly error_message: string | null;
  readonly created_at: Date;
  readonly updated_at: Date;
  readonly creator_pid: number | null;
  readonly creator_host: string | null;
  /** Made with the masking rules applied (`--masked`, or `[masking] required`). */
  readonly masked: boolean;
  /** What the masking of this copy verified (rules, columns kept, values sampled, hits 0); null when not masked by this copy. */
  readonly masking?: Readonly<Record<string, unknown>> | null;
  /**
   * Temporary databases of this record (a reset's fresh copy and old contents), written down before
   * they are made, so whatever happens to ayb later (kill -9, a rename of the branch) the next
   * command drops exactly these, and never a database ayb did not make.
   */
  readonly temp_databases: readonly string[];
}

/**
 * Where the record and the server disagree: its database is gone (dropped by hand, or by a delete
 * that was interrupted), or left invalid by a DROP DATABASE that was interrupted halfway.
 */
export type BranchProblem = 'database_missing' | 'database_invalid';

/** A branch as ayb reports it: its row, plus its size on disk when its database exists. */
export interface Branch extends BranchRow {
  readonly size_bytes?: number;
  readonly problem?: BranchProblem;
  /** The record whose database `source_database` is (a snapshot of a branch), by its name; absent otherwise. */
  readonly source_name?: string;
}
