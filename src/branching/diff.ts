import { ConflictError } from '../core/errors.js';
import { compareSchemas, type SchemaComparison } from '../schema/compare.js';
import type { SnapshotOptions } from '../schema/snapshot.js';
import { type BranchContext, branchConn, withControl } from './context.js';
import { findRow } from './control-table.js';
import { readyBranch } from './list.js';
import { validateBranchName } from './names.js';
import { withSnapshotView } from './snapshot-view.js';

export interface BranchComparison {
  /** The databases behind the two sides (for a snapshot, the snapshot's own database). */
  readonly from: string;
  readonly to: string;
  readonly comparison: SchemaComparison;
}

/**
 * `ayb branch diff`: the schema changes that turn `from` into `to`, each main, a ready branch or a
 * ready snapshot (read through a throwaway copy, since nobody connects to a snapshot).
 */
export async function diffBranches(ctx: BranchContext, from: string, to: string, options: SnapshotOptions = {}): Promise<BranchComparison> {
  return withReadableSide(ctx, from, (a) =>
    withReadableSide(ctx, to, async (b) => {
      ctx.log?.(`Comparing ${from} (${a.label}) with ${to} (${b.label}) …`);
      const comparison = await compareSchemas(branchConn(ctx, a.readable), branchConn(ctx, b.readable), options);
      return { from: a.label, to: b.label, comparison };
    }),
  );
}

export interface ReadableSide {
  /** The database to read. */
  readonly readable: string;
  /** The database the name stands for. */
  readonly label: string;
}

/**
 * Runs `fn` with a database that can be read for `name`: main's or a ready branch's own, or for a
 * ready snapshot a throwaway copy (nobody connects to a snapshot), removed afterwards.
 */
export async function withReadableSide<T>(ctx: BranchContext, name: string, fn: (side: ReadableSide) => Promise<T>): Promise<T> {
  if (name === 'main') return fn({ readable: ctx.main.database, label: ctx.main.database });
  // One look-up: the record says whether it is a snapshot, and else is checked as a ready branch (no
  // source name is wanted here: `every` is the one record, so the other records are not read).
  const found = await withControl(ctx, async (client) => {
    validateBranchName(name);
    const row = await findRow(client, name);
    if (row?.kind === 'snapshot') return { snapshot: row };
    return { database: (await readyBranch(client, name, row, { every: row ? [row] : [] })).branch_database };
  });
  const snapshot = found.snapshot;
  if (!snapshot) return fn({ readable: found.database!, label: found.database! });
  if (snapshot.status !== 'ready') {
    throw new ConflictError('snapshot_not_ready', `snapshot "${name}" is not ready (status: ${snapshot.status})`, {
      hint: `check it with: ayb snapshot show ${name}`,
    });
  }
  return withSnapshotView(ctx, snapshot, (view) => fn({ readable: view, label: snapshot.branch_database }));
}
