import { randomBytes } from 'node:crypto';
import { UsageError } from '../core/errors.js';
import type { RecordKind } from '../core/records.js';

/** Names that would be confusing or dangerous as branches (`main` means the main database). */
export const RESERVED_NAMES: readonly string[] = ['main', 'master', 'default', 'postgres', 'template0', 'template1'];
export const BRANCH_DATABASE_PREFIX = 'ayb_branch_';
export const SNAPSHOT_DATABASE_PREFIX = 'ayb_snap_';
/** Throwaway readable copies of snapshots (see snapshot-view.ts): `ayb_view_<12 hex>`. */
export const VIEW_DATABASE_PREFIX = 'ayb_view_';
/** 63 bytes (PostgreSQL's identifier limit) less the 11-byte prefix. */
export const MAX_NAME_LENGTH = 52;
export const NAME_PATTERN = /^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$/;

/** Throws a UsageError (exit 2) that says which rule the name breaks and, where one exists, a valid name to use. */
export function validateBranchName(name: string): void {
  const rules = 'use 1-52 lowercase letters, digits, "-" or "_", starting and ending with a letter or digit';
  const suggestion = suggestBranchName(name);
  const hint = suggestion !== undefined ? `${rules}, e.g. ${suggestion}` : `${rules} (e.g. feature-auth)`;
  if (name.length === 0) throw new UsageError('the branch name is empty', { hint }, 'invalid_name');
  if (name.length > MAX_NAME_LENGTH) {
    throw new UsageError(`branch name "${name}" is ${name.length} characters long; the limit is ${MAX_NAME_LENGTH}`, {
      hint: `choose a shorter name (the database name ayb_branch_<name> must fit PostgreSQL's 63-byte limit)${suggestion ? `, e.g. ${suggestion}` : ''}`,
    }, 'invalid_name');
  }
  if (RESERVED_NAMES.includes(name)) {
    throw new UsageError(`"${name}" is a reserved name and cannot be a branch`, {
      hint: `reserved: ${RESERVED_NAMES.join(', ')}; choose another name`,
    }, 'invalid_name');
  }
  if (NAME_PATTERN.test(name)) return;
  // Every rule it breaks, in one line: "Bad Name" has uppercase letters and contains a space.
  const bad = [...new Set([...name].filter((ch) => !/[a-z0-9_-]/.test(ch)))];
  const reasons = [
    ...(bad.some((ch) => /[A-Z]/.test(ch)) ? ['has uppercase letters'] : []),
    ...bad.filter((ch) => !/[A-Z]/.test(ch)).map((ch) => (ch === ' ' ? 'contains " " (a space)' : `contains "${ch}"`)),
  ];
  const why = reasons.length === 0
    ? 'it must start and end with a lowercase letter or digit'
    : `it ${reasons.length === 1 ? reasons[0] : `${reasons.slice(0, -1).join(', ')} and ${reasons[reasons.length - 1]}`}`;
  throw new UsageError(`invalid branch name "${name}": ${why}`, { hint }, 'invalid_name');
}

/**
 * A valid name close to an invalid one (`Bad Name` → `bad-name`, `Feat/X` → `feat-x`), or undefined
 * when there is none worth proposing. Whatever it returns passes validateBranchName.
 */
export function suggestBranchName(name: string): string | undefined {
  const candidate = name
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .slice(0, MAX_NAME_LENGTH)
    .replace(/^[-_]+|[-_]+$/g, '');
  if (candidate === name || candidate.length === 0 || !NAME_PATTERN.test(candidate) || RESERVED_NAMES.includes(candidate)) return undefined;
  return candidate;
}

/** The database that holds a branch: hyphens become underscores, so `a-b` and `a_b` collide. */
export function branchDatabaseName(name: string): string {
  return BRANCH_DATABASE_PREFIX + name.replace(/-/g, '_');
}

/** The database that holds a snapshot: `ayb_snap_<name>`, hyphens as underscores. */
export function snapshotDatabaseName(name: string): string {
  return SNAPSHOT_DATABASE_PREFIX + name.replace(/-/g, '_');
}

export function databaseNameFor(kind: RecordKind, name: string): string {
  return kind === 'snapshot' ? snapshotDatabaseName(name) : branchDatabaseName(name);
}

/**
 * The key of a name's advisory lock (held by every create, delete, reset, rename, expire and prune
 * of it, and shared by copies made from it). Branches and snapshots share one namespace of names,
 * so the key comes from the name alone: a branch and a snapshot of one name can never be made at once.
 */
export function lockKey(name: string): string {
  return branchDatabaseName(name);
}

/**
 * Names for the databases a reset works with: the fresh copy (`…_new`) and, for the moment of the
 * swap, the old contents (`…_old`). Random, so that no database of that name can exist already
 * (whatever the branch was called before a rename), and written down on the branch's record before
 * either is made (see BranchRow.temp_databases): cleanup drops exactly what was written down.
 */
export function newResetDatabaseNames(): { readonly fresh: string; readonly old: string } {
  const id = randomBytes(8).toString('hex');
  return { fresh: `ayb_reset_${id}_new`, old: `ayb_reset_${id}_old` };
}
