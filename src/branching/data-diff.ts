import { ConflictError, NotFoundError } from '../core/errors.js';
import { CONTROL_TABLE_SQL } from '../core/records.js';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { compareData, type DataComparison, dataMigration, type DataDiffOptions, schemaObstacleError, schemaObstacles, withSides } from '../datadiff/data-diff.js';
import { type BranchContext, branchConn, withControl } from './context.js';
import { findRow } from './control-table.js';
import { withReadableSide } from './diff.js';
import { notFoundNear } from './errors.js';
import { validateBranchName } from './names.js';

export interface DataDiffRequest extends Pick<DataDiffOptions, 'tables' | 'beforeTable'> {
  /** Also build the DML that makes `from`'s rows equal `to`'s. */
  readonly sql?: boolean;
}

export interface BranchDataComparison {
  /** The databases behind the two sides (for a snapshot, the snapshot's own database). */
  readonly from: string;
  readonly to: string;
  readonly comparison: DataComparison;
  /**
   * Set when `sql` was asked for: the script, written to a private temporary file while the sides
   * were read (so that the snapshots end with the reading, not with the printing), to be streamed
   * out by the caller and then removed.
   */
  readonly migration?: SpooledScript;
}

export interface SpooledScript {
  readonly path: string;
  remove(): Promise<void>;
}

/** Writes a script to a file in a fresh private folder, with backpressure. */
async function spool(write: (sink: { write(text: string): Promise<void> }) => Promise<void>): Promise<SpooledScript> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ayb-data-sql-'));
  const remove = () => rm(dir, { recursive: true, force: true });
  const file = path.join(dir, 'rows.sql');
  try {
    const out = createWriteStream(file, { mode: 0o600 });
    await write({
      async write(text) {
        if (!out.write(text)) await once(out, 'drain');
      },
    });
    out.end();
    await once(out, 'close');
    return { path: file, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}

/**
 * `ayb branch diff --data`: the rows that differ between `from` and `to` (main, ready branches, or
 * ready snapshots, read through a throwaway copy), table by table; ayb's control table is never compared.
 */
export async function diffBranchData(ctx: BranchContext, from: string, to: string, request: DataDiffRequest = {}): Promise<BranchDataComparison> {
  return withReadableSide(ctx, from, (a) =>
    withReadableSide(ctx, to, async (b) => {
      ctx.log?.(`Comparing the rows of ${from} (${a.label}) with ${to} (${b.label}) …`);
      // Counting needs each table at one moment, and holds a snapshot one table's scan at a time on each
      // side (a snapshot held on main holds back its vacuum). A script needs all of b's tables at one
      // moment (the rows it inserts must satisfy each other's foreign keys: tables read at different
      // moments of a busy main give a script that breaks them), so b's one snapshot is held for the scan
      // and the reading of its rows, main's too when main is b; the script goes to a temporary file and
      // is printed after. a's rows only decide which keys go, come or change: one table at a time.
      const bScope = request.sql ? 'whole' : 'table';
      return withSides(branchConn(ctx, a.readable), branchConn(ctx, b.readable), [CONTROL_TABLE_SQL], async (sa, sb) => {
        if (request.sql) {
          const obstacles = schemaObstacles(sa, sb, { tables: request.tables });
          if (obstacles.length > 0) throw schemaObstacleError(obstacles, from, to);
        }
        const comparison = await compareData(sa, sb, { tables: request.tables, beforeTable: request.beforeTable });
        const migration = request.sql
          ? await spool((sink) => dataMigration(sa, sb, comparison, `ayb branch diff ${from} ${to} --data: makes the rows of ${from} equal those of ${to}`, sink, { sequences: request.tables === undefined }))
          : undefined;
        return { from: a.label, to: b.label, comparison, migration };
      }, { snapshot: { a: 'table', b: bScope }, bytes: true });
    }),
  );
}

export interface ParentDataComparison {
  /** `main`, or the name of the branch or snapshot the branch was made from. */
  readonly parent: string;
  readonly branch: string;
  readonly comparison: DataComparison;
}

/**
 * The dashboard's data changes of a branch: its rows against those of its parent (main, the branch
 * or the snapshot it was made from), as `ayb branch diff <parent> <branch> --data`. A branch copied
 * from a URL or from main at a past moment has no parent here to compare with.
 */
export async function diffBranchDataWithParent(ctx: BranchContext, name: string): Promise<ParentDataComparison> {
  validateBranchName(name);
  const branch = await withControl(ctx, async (client) => {
    const row = await findRow(client, name);
    if (!row) throw await notFoundNear(client, name);
    return row;
  });
  if (branch.kind === 'snapshot') {
    throw new ConflictError('snapshot_immutable', `"${name}" is a snapshot: it never changes, so it has no data changes of its own`, {
      hint: `compare it with main instead: ayb branch diff main ${name} --data`,
    });
  }
  const parent = await parentOf(ctx, branch);
  const { comparison } = await diffBranchData(ctx, parent, name);
  return { parent, branch: name, comparison };
}

async function parentOf(ctx: BranchContext, branch: { name: string; parent: string | null; source_database: string }): Promise<string> {
  if (branch.parent === null) {
    if (branch.source_database === ctx.main.database) return 'main';
    throw new ConflictError('no_parent', `branch "${branch.name}" was copied from ${branch.source_database}, not from main or a branch or snapshot here, so there is no parent to compare its rows with`, {
      hint: `compare it with main instead: ayb branch diff main ${branch.name} --data`,
    });
  }
  const parent = await withControl(ctx, (client) => findRow(client, branch.parent!));
  if (!parent) {
    throw new NotFoundError('parent_not_found', `branch "${branch.name}" was made from "${branch.parent}", which no longer exists`, {
      hint: `compare it with main instead: ayb branch diff main ${branch.name} --data`,
    });
  }
  return parent.name;
}
