import { ConflictError, NotFoundError } from '../core/errors.js';
import type { BranchRow, RecordKind } from '../core/records.js';
import type { Client } from '../postgres/client.js';
import { databaseExists, dropDatabaseNow, servedByAybStart } from '../postgres/maintenance.js';
import { sessionTimeouts, timeoutStatements } from '../postgres/timeouts.js';
import { type BranchContext, maintenanceSession, noticeOf, withControl } from './context.js';
import { deleteRow, findRow, findRowWithDescendants, listRows, updateRow } from './control-table.js';
import { hasChildrenError, notFoundNear, servedError, wrongKindError } from './errors.js';
import { withBranchLocks } from './locks.js';
import { databaseNameFor, MAX_NAME_LENGTH, validateBranchName } from './names.js';
import { dropTempDatabases } from './recovery.js';
import { descendantsDeepestFirst } from './tree.js';

export interface DeleteOptions {
  readonly name: string;
  /** What `name` must be: a branch (default) or a snapshot. */
  readonly kind?: RecordKind;
  /** Also remove failed and orphaned (stale `creating`) branches. */
  readonly force?: boolean;
  readonly ifExists?: boolean;
  /** Also delete the branches made from this one, and theirs, deepest first. Without it, such a branch is refused. */
  readonly withChildren?: boolean;
}

export interface DeleteResult {
  readonly name: string;
  readonly deleted: boolean;
  readonly branch_database: string;
  /** Branches deleted first because of `withChildren`, deepest first; absent when there were none. */
  readonly deleted_children?: readonly string[];
  /** The branch's merge record (snapshot `<branch>-merged-<time>`, its base since its last merge), deleted with it. */
  readonly deleted_merge_record?: string;
  /** A merge record kept because other branches were made from it (delete it with: ayb snapshot delete <name>). */
  readonly kept_merge_record?: string;
}

export interface DeletePlan {
  readonly row: BranchRow;
  /** What `withChildren` deletes too, deepest first. */
  readonly descendants: readonly BranchRow[];
}

/** Inspects what a delete would do, for the confirmation prompt; throws what the delete would throw. */
export async function checkDeletable(ctx: BranchContext, options: DeleteOptions): Promise<DeletePlan | undefined> {
  validateBranchName(options.name);
  return withControl(ctx, async (client) => {
    const { row, descendants: below } = await findRowWithDescendants(client, options.name);
    if (!row) {
      if (options.ifExists) return undefined;
      throw await missingBranchError(ctx, options.name, options.kind);
    }
    if (row.kind !== (options.kind ?? 'branch')) throw wrongKindError(row, options.kind ?? 'branch');
    const descendants = descendantsDeepestFirst(below, row.name);
    if (descendants.length > 0 && !options.withChildren) throw hasChildrenError(row, descendants);
    return { row, descendants };
  });
}

/**
 * Why a name has no record. A database of the name's database name may still exist: when a record
 * owns it (`feature_auth` typed for `feature-auth`: "-" and "_" give one database name; a renamed
 * branch keeps its database), the error names that record and says nothing about dropping it; only a
 * database that no record owns gets the hint to drop it by hand.
 */
export async function missingBranchError(ctx: BranchContext, name: string, kind: RecordKind = 'branch'): Promise<NotFoundError> {
  const database = databaseNameFor(kind, name);
  const maint = await maintenanceSession(ctx);
  let exists: boolean;
  try {
    exists = await databaseExists(maint, database);
  } finally {
    await maint.end().catch(() => undefined);
  }
  return withControl(ctx, async (client) => {
    if (!exists) return notFoundNear(client, name, kind);
    const rows = await listRows(client);
    const owner = rows.find((row) => row.branch_database === database || row.temp_databases.includes(database));
    if (owner) return ownedDatabaseError(name, kind, database, owner);
    return new NotFoundError(`${kind}_not_found`, `${kind} "${name}" is not registered, though a database "${database}" exists`, {
      hint: 'no ayb record owns that database and ayb never drops a database it did not create; drop it yourself if you are sure (DROP DATABASE)',
    });
  });
}

function ownedDatabaseError(name: string, kind: RecordKind, database: string, owner: BranchRow): NotFoundError {
  const why = owner.branch_database === database
    ? `"${database}" is the database of ${owner.kind} "${owner.name}"`
    : `"${database}" is a temporary database of ${owner.kind} "${owner.name}"`;
  const sameName = owner.name.replace(/-/g, '_') === name.replace(/-/g, '_');
  const hint = owner.kind === kind
    ? `did you mean ${owner.name}? (${sameName ? '"-" and "_" give the same database name; ' : ''}${why})`
    : `${why}; see it with: ayb ${owner.kind} show ${owner.name}`;
  return new NotFoundError(`${kind}_not_found`, `${kind} "${name}" does not exist`, { hint });
}

/**
 * Terminates the branch's sessions, drops its database and removes its row. A branch's merge record
 * (the snapshot a merge froze it as, its base since) goes with it, unless branches were made from it.
 */
export async function deleteBranch(ctx: BranchContext, options: DeleteOptions): Promise<DeleteResult> {
  const result = await deleteRecord(ctx, options);
  if (!result.deleted || (options.kind ?? 'branch') !== 'branch' || !result.merge_record) return strip(result);
  const record = result.merge_record;
  try {
    await deleteBranch(ctx, { name: record, kind: 'snapshot', ifExists: true });
    return { ...strip(result), deleted_merge_record: record };
  } catch (error) {
    ctx.log?.(`Kept the merge record "${record}": ${(error as Error).message}`);
    return { ...strip(result), kept_merge_record: record };
  }
}

const strip = ({ merge_record: _, ...rest }: DeleteResult & { merge_record?: string }): DeleteResult => rest;

/** The snapshot `row` has as its base when a merge of it froze it so (name `<branch>-merged-…`, taken of its database). */
async function mergeRecordOf(client: Client, row: BranchRow): Promise<string | undefined> {
  if (!row.snapshot || !row.snapshot.startsWith(`${row.name.slice(0, MAX_NAME_LENGTH - 22)}-merged-`)) return undefined;
  const base = await findRow(client, row.snapshot);
  return base?.kind === 'snapshot' && base.source_database === row.branch_database ? base.name : undefined;
}

async function deleteRecord(ctx: BranchContext, options: DeleteOptions): Promise<DeleteResult & { merge_record?: string }> {
  const { name } = options;
  validateBranchName(name);
  const kind = options.kind ?? 'branch';
  // Lock first, then read: a reset or rename of this name finishes before the row is looked at.
  return withBranchLocks(ctx, [name], async (maint) => {
    // The record and its descendants (control session) while the serving lock is asked (maintenance
    // session) at the same time: the database a record of this name and kind has is fixed by its name.
    const [{ row, descendants, record }, served] = await Promise.all([
      withControl(ctx, async (client) => {
        const { row: found, descendants: below } = await findRowWithDescendants(client, name);
        return {
          row: found,
          descendants: found ? descendantsDeepestFirst(below, found.name) : [],
          record: found ? await mergeRecordOf(client, found) : undefined,
        };
      }),
      servedByAybStart(maint, databaseNameFor(kind, name)),
    ]);
    if (!row) {
      if (options.ifExists) return { name, deleted: false, branch_database: databaseNameFor(kind, name) };
      throw await missingBranchError(ctx, name, kind);
    }
    if (row.kind !== kind) throw wrongKindError(row, kind);
    // A delete that was interrupted is simply finished.
    if (row.status !== 'ready' && row.status !== 'deleting' && !options.force) {
      const what = row.status === 'creating' ? 'orphaned (its creator stopped without cleaning up)' : 'failed';
      throw new ConflictError('branch_not_ready', `${kind} "${name}" is ${what}`, {
        hint: `remove it and its leftovers with: ayb ${kind} delete ${name} --yes --force`,
      });
    }
    if (served || (row.branch_database !== databaseNameFor(kind, name) && (await servedByAybStart(maint, row.branch_database)))) throw servedError(row.name);
    const deletedChildren = await deleteDescendants(ctx, maint, row, descendants, options);
    await dropBranch(ctx, maint, row);
    return {
      name,
      deleted: true,
      branch_database: row.branch_database,
      ...(deletedChildren.length > 0 ? { deleted_children: deletedChildren } : {}),
      ...(record ? { merge_record: record } : {}),
    };
  });
}

/**
 * The one way a branch goes away (delete, prune). Its row says `deleting` first, so a delete that
 * is interrupted (ayb killed while the DROP waits, the server gone) is never taken for a usable
 * branch, and the next command finishes it (recovery.ts). Then its database and the temporary
 * databases written down for it are dropped, and only then the row removed, so the row is never
 * gone while a database of it is still there. Call with the branch lock held.
 */
export async function dropBranch(ctx: BranchContext, maint: Client, row: BranchRow): Promise<void> {
  await withControl(ctx, async (client) => {
    // The DROP may rightly take long: its statement limit is lifted on the maintenance session while
    // the row is marked on main, and put back while the row is removed (two sessions, no round trip
    // of its own either time). A lock it cannot get still ends it (lock_timeout stays). The mark's
    // commit does not wait for the WAL flush: the DROP's own commit flushes it (control-table.ts).
    const lift = maint.query(timeoutStatements({ statement: 0 }));
    const restore = () => maint.query(timeoutStatements({ statement: sessionTimeouts().statement })).then(() => undefined, () => undefined);
    const [marked] = await Promise.all([updateRow(client, row.id, { status: 'deleting' }, { asyncCommit: true }), lift]).catch(async (error: unknown) => {
      await lift.then(restore, () => undefined);
      throw error;
    });
    if (!marked) return restore();
    try {
      await dropDatabaseNow(maint, marked.branch_database);
      await dropTempDatabases(client, maint, marked);
    } catch (error) {
      await restore();
      throw error;
    }
    await Promise.all([deleteRow(client, row.id), restore()]);
    if (row.kind === 'snapshot') await forgetSnapshot(ctx, client, row.name);
  });
}

/**
 * A branch reset to a snapshot (`reset --to`) names it without having it as its parent, so the
 * snapshot may be deleted, as a git tag may: the branch's data never depended on it. Its record then
 * names it no longer (a later snapshot of the same name would be taken for it), and the delete says so.
 */
async function forgetSnapshot(ctx: BranchContext, client: Client, snapshot: string): Promise<void> {
  for (const named of (await listRows(client)).filter((r) => r.snapshot === snapshot)) {
    await updateRow(client, named.id, { snapshot: null });
    noticeOf(ctx)?.(`${named.kind} "${named.name}" was last reset to snapshot "${snapshot}"; its record no longer names it`);
  }
}

/** Deletes the branches made from `row` (deepest first, so none outlives its parent), or refuses. */
async function deleteDescendants(ctx: BranchContext, maint: Client, row: BranchRow, descendants: readonly BranchRow[], options: DeleteOptions): Promise<string[]> {
  if (descendants.length === 0) return [];
  if (!options.withChildren) throw hasChildrenError(row, descendants);
  // Refuse before deleting any of them, rather than halfway down the tree.
  for (const child of descendants) if (await servedByAybStart(maint, child.branch_database)) throw servedError(child.name);
  for (const child of descendants) {
    ctx.log?.(`Deleting branch "${child.name}" (made from ${child.parent}) …`);
    await deleteBranch(ctx, { name: child.name, kind: child.kind, force: options.force, ifExists: true });
  }
  return descendants.map((d) => d.name);
}
