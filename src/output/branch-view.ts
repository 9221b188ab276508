import { formatDuration } from '../core/duration.js';
import type { Branch } from '../core/records.js';
import type { DeleteResult } from '../branching/delete.js';
import { expiresIn, formatBytes } from './format.js';
import { type Column, statusColor } from './writer.js';

/**
 * The branch record as scripts see it (SPEC: snake_case keys, ISO 8601 times, error_message omitted
 * when empty). The admin API returns the same shape.
 */
export interface BranchJson {
  id: string;
  name: string;
  /** `branch` or `snapshot`. */
  kind: string;
  source_database: string;
  branch_database: string;
  status: string;
  strategy: string | null;
  /** How the bytes were copied: file_copy, clone (copy-on-write) or pg_dump. */
  copy_method: string | null;
  parent: string | null;
  /** For a branch: the snapshot it was made from (or last reset to), else null. Absent on snapshots. */
  snapshot?: string | null;
  expires_at: string | null;
  /** Made with the masking rules applied. */
  masked: boolean;
  /** What the masking verified (a masked copy made by masking, not copied from a masked one). */
  masking?: Readonly<Record<string, unknown>>;
  created_at: string;
  updated_at: string;
  error_message?: string;
  size_bytes?: number;
  /** Where the record and the server disagree: `database_missing` or `database_invalid`; absent when they agree. */
  problem?: string;
  url?: string;
}

export function branchJson(branch: Branch, extra: { url?: string } = {}): BranchJson {
  const out: BranchJson = {
    id: branch.id,
    name: branch.name,
    kind: branch.kind,
    source_database: branch.source_database,
    branch_database: branch.branch_database,
    status: branch.status,
    strategy: branch.strategy,
    copy_method: branch.copy_method ?? null,
    parent: branch.parent,
    ...(branch.kind === 'branch' ? { snapshot: branch.snapshot } : {}),
    expires_at: branch.expires_at ? branch.expires_at.toISOString() : null,
    masked: branch.masked === true,
    created_at: branch.created_at.toISOString(),
    updated_at: branch.updated_at.toISOString(),
  };
  if (branch.masking) out.masking = branch.masking;
  if (branch.error_message) out.error_message = branch.error_message;
  if (branch.size_bytes !== undefined) out.size_bytes = branch.size_bytes;
  if (branch.problem !== undefined) out.problem = branch.problem;
  if (extra.url !== undefined) out.url = extra.url;
  return out;
}

/** The status, and what is wrong with the record when something is: `ready (database missing)`. */
export function statusText(b: Branch): string {
  if (b.problem === 'database_missing') return `${b.status} (database missing)`;
  if (b.problem === 'database_invalid') return `${b.status} (database invalid)`;
  return b.status;
}

function shortTime(date: Date | null): string | undefined {
  return date ? date.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : undefined;
}

/** `just now`, `5m ago`, `2d 3h ago`; a time in the future (clock skew) reads `in …`. */
export function ago(date: Date, now: number = Date.now()): string {
  const past = now - date.getTime();
  if (past >= 0 && past < 60_000) return 'just now';
  return past >= 0 ? `${formatDuration(past)} ago` : `in ${formatDuration(-past)}`;
}

/** An absolute UTC time followed by how long ago it was: `2026-12-02 01:55:31Z (3m ago)`. */
function timeAndAgo(date: Date): string {
  return `${shortTime(date)} (${ago(date)})`;
}

function expiresColor(value: string) {
  return value.startsWith('expired') ? 'red' as const : undefined;
}

/** The Masked column, only where some record is masked: noise for everyone who does not mask. */
function maskedColumn(options: ListColumnOptions): Column<Branch>[] {
  return options.anyMasked ? [{ header: 'Masked', get: (b) => (b.masked ? 'masked' : '') }] : [];
}

export interface ListColumnOptions {
  /** Some record in the list is masked: show the Masked column. */
  readonly anyMasked?: boolean;
  /** The main database's name, shown as `main` in the Parent, Source and Of columns. */
  readonly mainDatabase?: string;
  /** Drawn before the name (the tree lines of `list --tree`). */
  readonly namePrefix?: (branch: Branch) => string;
  /** The Size column: only when sizes were asked for (`list --sizes`), as they cost a scan of each database's files. */
  readonly sizes?: boolean;
}

/** The source as a user names it: `main`, the branch it was taken of, else the database or URL recorded. */
function sourceName(b: Branch, mainDatabase: string | undefined): string {
  if (b.source_database === mainDatabase) return 'main';
  return b.source_name ?? b.source_database;
}

/** Parent: the branch or snapshot it was made from, `main`, or the source database or URL. */
function parentName(b: Branch, mainDatabase: string | undefined): string {
  return b.parent ?? sourceName(b, mainDatabase);
}

function sizeColumn(options: ListColumnOptions): Column<Branch>[] {
  return options.sizes ? [{ header: 'Size', get: (b) => formatBytes(b.size_bytes) }] : [];
}

export function branchListColumns(options: ListColumnOptions = {}): Column<Branch>[] {
  return [
    { header: 'Name', get: (b) => (options.namePrefix?.(b) ?? '') + b.name },
    { header: 'Status', get: statusText, color: statusColor },
    { header: 'Parent', get: (b) => parentName(b, options.mainDatabase) },
    { header: 'Snapshot', get: (b) => b.snapshot ?? '' },
    { header: 'Strategy', get: (b) => b.strategy },
    ...sizeColumn(options),
    { header: 'Created', get: (b) => ago(b.created_at) },
    { header: 'Expires', get: (b) => expiresIn(b.expires_at), color: expiresColor },
    ...maskedColumn(options),
  ];
}

export interface DetailColumnOptions {
  /** The connection URL (`show`). */
  readonly url?: string;
  readonly kind?: 'branch' | 'snapshot';
  /** The main database's name, shown as `main` in Source and Parent. */
  readonly mainDatabase?: string;
}

/** One record (create, show, reset, rename, expire): the same names and sizes as `list`. */
export function branchDetailColumns(options: DetailColumnOptions = {}): Column<Branch>[] {
  const { url, kind = 'branch', mainDatabase } = options;
  const columns: Column<Branch>[] = [
    { header: 'Name', get: (b) => b.name },
    { header: 'Status', get: statusText, color: statusColor },
    { header: 'Database', get: (b) => b.branch_database },
    { header: kind === 'snapshot' ? 'Of' : 'Parent', get: (b) => parentName(b, mainDatabase) },
    ...(kind === 'branch' ? [{ header: 'Snapshot', get: (b: Branch) => b.snapshot }] : []),
    { header: 'Strategy', get: (b) => b.strategy },
    { header: 'Copy method', get: (b) => b.copy_method },
    { header: 'Masked', get: (b) => (b.masked ? 'yes' : 'no') },
    { header: 'Size', get: (b) => formatBytes(b.size_bytes) },
    { header: 'Created', get: (b) => timeAndAgo(b.created_at) },
    { header: 'Updated', get: (b) => timeAndAgo(b.updated_at) },
    { header: 'Expires', get: (b) => (b.expires_at ? `${shortTime(b.expires_at)} (${expiresIn(b.expires_at)})` : 'never'), color: expiresColor },
  ];
  if (url !== undefined) columns.push({ header: 'URL', get: () => url });
  columns.push({ header: 'Error', get: (b) => b.error_message, color: () => 'red', optional: true });
  return columns;
}

/** `ayb snapshot list`: Of is what the snapshot was taken of (main, or a branch by its name). */
export function snapshotListColumns(options: ListColumnOptions = {}): Column<Branch>[] {
  return [
    { header: 'Name', get: (b) => b.name },
    { header: 'Status', get: statusText, color: statusColor },
    { header: 'Of', get: (b) => sourceName(b, options.mainDatabase) },
    { header: 'Strategy', get: (b) => b.strategy },
    ...sizeColumn(options),
    { header: 'Created', get: (b) => ago(b.created_at) },
    { header: 'Expires', get: (b) => expiresIn(b.expires_at), color: expiresColor },
    ...maskedColumn(options),
  ];
}

/** What a delete says in JSON (`ayb branch delete --json`, the library, MCP, the admin API): optional fields only when they apply. */
export function deleteJson(result: DeleteResult): DeleteResult {
  return {
    name: result.name,
    branch_database: result.branch_database,
    deleted: result.deleted,
    ...(result.deleted_children ? { deleted_children: result.deleted_children } : {}),
    ...(result.deleted_merge_record ? { deleted_merge_record: result.deleted_merge_record } : {}),
    ...(result.kept_merge_record ? { kept_merge_record: result.kept_merge_record } : {}),
  };
}
