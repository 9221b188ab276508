import { ConflictError } from '../core/errors.js';
import type { Branch, BranchRow, RecordKind } from '../core/records.js';
import type { Client } from '../postgres/client.js';
import { type BranchContext, withControl } from './context.js';
import { findRow, listRows } from './control-table.js';
import { notFoundNear, wrongKindError } from './errors.js';
import { validateBranchName } from './names.js';

/** The branches (or the snapshots), oldest first. */
export async function listBranches(ctx: BranchContext, kind: RecordKind = 'branch'): Promise<Branch[]> {
  return withControl(ctx, async (client) => withSizes(client, (await listRows(client)).filter((row) => row.kind === kind)));
}

export async function withSizes(client: Client, rows: BranchRow[]): Promise<Branch[]> {
  if (rows.length === 0) return [];
  const { rows: sizes } = await client.query<{ datname: string; size: string }>(
    // Not for an invalid database (a DROP interrupted halfway): its files are partly gone.
    'SELECT datname, pg_database_size(oid)::text AS size FROM pg_database WHERE datname = ANY($1) AND datconnlimit <> -2',
    [rows.map((r) => r.branch_database)],
  );
  const byName = new Map(sizes.map((s) => [s.datname, Number(s.size)]));
  return rows.map((row) => (byName.has(row.branch_database) ? { ...row, size_bytes: byName.get(row.branch_database) } : row));
}

export async function getBranch(ctx: BranchContext, name: string, kind: RecordKind = 'branch'): Promise<Branch> {
  validateBranchName(name);
  return withControl(ctx, async (client) => {
    const row = await findRow(client, name);
    if (!row) throw await notFoundNear(client, name, kind);
    if (row.kind !== kind) throw wrongKindError(row, kind);
    const [branch] = await withSizes(client, [row]);
    return branch!;
  });
}

/** The database behind `main` or a ready branch, for `url`, `diff` and `start`. */
export async function resolveDatabase(ctx: BranchContext, nameOrMain: string): Promise<{ database: string; branch?: Branch }> {
  if (nameOrMain === 'main') return { database: ctx.main.database };
  const branch = await withControl(ctx, async (client) => {
    validateBranchName(nameOrMain);
    const row = await findRow(client, nameOrMain);
    if (!row) throw await notFoundNear(client, nameOrMain);
    return (await withSizes(client, [row]))[0]!;
  });
  if (branch.kind === 'snapshot') {
    throw new ConflictError('snapshot_refuses_connections', `"${branch.name}" is a snapshot, and nobody connects to a snapshot`, {
      hint: `make a branch of it and use that: ayb branch create <name> --from ${branch.name}`,
    });
  }
  if (branch.status !== 'ready') {
    throw new ConflictError('branch_not_ready', `branch "${branch.name}" is not ready (status: ${branch.status})`, {
      hint: branch.status === 'failed'
        ? `delete it with: ayb branch delete ${branch.name} --yes --force, then create it again`
        : 'wait for the create to finish, or check with: ayb branch show ' + branch.name,
    });
  }
  return { database: branch.branch_database, branch };
}
