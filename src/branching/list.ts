import { ConflictError, NotFoundError } from '../core/errors.js';
import type { Branch, BranchProblem, BranchRow, RecordKind } from '../core/records.js';
import type { Client } from '../postgres/client.js';
import { type BranchContext, withControl } from './context.js';
import { findRow, listRows } from './control-table.js';
import { notFoundNear, wrongKindError } from './errors.js';
import { validateBranchName } from './names.js';

export interface ListOptions {
  /**
   * Each record's size on disk too. Off by default: PostgreSQL sizes a database by reading the
   * size of every file in it (pg_database_size), about 4 ms a database on a loaded machine, so
   * sizing 500 branches took 2 s of a list that otherwise takes tens of milliseconds. `show`
   * always sizes its one record.
   */
  readonly sizes?: boolean;
}

/** The branches (or the snapshots), oldest first; their sizes only when asked (ListOptions.sizes). */
export async function listBranches(ctx: BranchContext, kind: RecordKind = 'branch', options: ListOptions = {}): Promise<Branch[]> {
  return withControl(ctx, async (client) => {
    const rows = await listRows(client);
    return withSizes(client, rows.filter((row) => row.kind === kind), { ...options, every: rows });
  });
}

/** Every record's name and kind, oldest first, and nothing else: what shell completion offers, read cheaply. */
export async function listNames(ctx: BranchContext): Promise<{ readonly name: string; readonly kind: RecordKind }[]> {
  return withControl(ctx, async (client) => (await listRows(client)).map((row) => ({ name: row.name, kind: row.kind })));
}

/**
 * Adds the problem where the record and the server disagree: a ready (or deleting) record whose
 * database is gone, or is left invalid by an interrupted DROP (a creating or failed record without a
 * database is normal), and each record's size on disk only when asked (`sizes: true`: a create does
 * not size the branch it made, `show` does). One catalog query; `every` (all the records, when the
 * caller read them already) spares reading them again to name a snapshot's source.
 */
export async function withSizes(client: Client, rows: BranchRow[], options: ListOptions & { readonly every?: readonly BranchRow[] } = {}): Promise<Branch[]> {
  if (rows.length === 0) return [];
  const { rows: found } = await client.query<{ datname: string; valid: boolean; size: string | null }>(
    // An invalid database (a DROP interrupted halfway) has datconnlimit -2, and no size: its files are partly gone.
    `SELECT datname, datconnlimit <> -2 AS valid,
            CASE WHEN $2::boolean AND datconnlimit <> -2 THEN pg_database_size(oid)::text END AS size
       FROM pg_database WHERE datname = ANY($1)`,
    [rows.map((r) => r.branch_database), options.sizes === true],
  );
  const byName = new Map(found.map((d) => [d.datname, d]));
  // A snapshot of a branch records the branch's database as its source: named as the user knows it.
  const owners = rows.some((row) => row.source_database.startsWith('ayb_'))
    ? new Map((options.every ?? (await listRows(client))).map((r) => [r.branch_database, r.name]))
    : new Map<string, string>();
  return rows.map((row) => {
    const sourceName = owners.get(row.source_database);
    const database = byName.get(row.branch_database);
    const size = database?.size == null ? undefined : Number(database.size);
    const expected = row.status === 'ready' || row.status === 'deleting';
    const problem: BranchProblem | undefined = !expected ? undefined : !database ? 'database_missing' : !database.valid ? 'database_invalid' : undefined;
    return { ...row, ...(size !== undefined ? { size_bytes: size } : {}), ...(problem ? { problem } : {}), ...(sourceName !== undefined ? { source_name: sourceName } : {}) };
  });
}

/** One record; with its size unless `sizes: false` (what a create answers: the branch it made, or found, unsized). */
export async function getBranch(ctx: BranchContext, name: string, kind: RecordKind = 'branch', options: { readonly sizes?: boolean } = {}): Promise<Branch> {
  validateBranchName(name);
  return withControl(ctx, async (client) => {
    const row = await findRow(client, name);
    if (!row) throw await notFoundNear(client, name, kind);
    if (row.kind !== kind) throw wrongKindError(row, kind);
    const [branch] = await withSizes(client, [row], { sizes: options.sizes ?? true });
    return branch!;
  });
}

/** The database behind `main` or a ready branch, for `url`, `diff` and `start`. */
export async function resolveDatabase(ctx: BranchContext, nameOrMain: string): Promise<{ database: string; branch?: Branch }> {
  if (nameOrMain === 'main') return { database: ctx.main.database };
  const branch = await withControl(ctx, async (client) => {
    validateBranchName(nameOrMain);
    return readyBranch(client, nameOrMain, await findRow(client, nameOrMain));
  });
  return { database: branch.branch_database, branch };
}

/**
 * The record `row` found for `name` (none: not found) as a ready branch whose database is there, or the
 * error that says why it cannot be used (a snapshot, not ready, its database gone). `every`: as withSizes'.
 */
export async function readyBranch(client: Client, name: string, row: BranchRow | undefined, options: { readonly every?: readonly BranchRow[] } = {}): Promise<Branch> {
  if (!row) throw await notFoundNear(client, name);
  const branch = (await withSizes(client, [row], options))[0]!;
  if (branch.kind === 'snapshot') {
    throw new ConflictError('snapshot_refuses_connections', `"${branch.name}" is a snapshot, and nobody connects to a snapshot`, {
      hint: `make a branch of it and use that: ayb branch create <name> --from ${branch.name}`,
    });
  }
  if (branch.status !== 'ready') {
    throw new ConflictError('branch_not_ready', `branch "${branch.name}" is not ready (status: ${branch.status})`, {
      hint: branch.status === 'failed'
        ? `delete it with: ayb branch delete ${branch.name} --yes --force, then create it again`
        : branch.status === 'deleting'
          ? `it is being deleted; if that delete was interrupted, the next ayb command finishes it (check with: ayb branch show ${branch.name})`
          : 'wait for the create to finish, or check with: ayb branch show ' + branch.name,
    });
  }
  if (branch.problem) throw databaseProblemError(branch);
  return branch;
}

/** A ready record whose database is gone or unusable: said instead of a URL that cannot connect. */
export function databaseProblemError(branch: Branch): NotFoundError {
  const what = branch.problem === 'database_invalid'
    ? `is invalid (a DROP DATABASE of it was interrupted)`
    : 'no longer exists (dropped outside ayb, or by a delete that was interrupted)';
  return new NotFoundError('database_missing', `the database "${branch.branch_database}" of ${branch.kind} "${branch.name}" ${what}`, {
    hint: branch.kind === 'branch'
      ? `make it anew with: ayb branch reset ${branch.name}, or remove the record with: ayb branch delete ${branch.name} --yes`
      : `remove the record with: ayb snapshot delete ${branch.name} --yes`,
  });
}
