import { CONTROL_TABLE_SQL } from '../core/records.js';
import { compareData, type DataComparison, dataMigration, type DataDiffOptions, withSides } from '../datadiff/data-diff.js';
import { type BranchContext, branchConn } from './context.js';
import { resolveDatabase } from './list.js';

export interface DataDiffRequest extends Pick<DataDiffOptions, 'tables'> {
  /** Also build the DML that makes `from`'s rows equal `to`'s. */
  readonly sql?: boolean;
}

export interface BranchDataComparison {
  readonly from: string;
  readonly to: string;
  readonly comparison: DataComparison;
  /** Set when `sql` was asked for. */
  readonly migration?: string;
}

/**
 * `ayb branch diff --data`: the rows that differ between `from` and `to` (main or ready branches),
 * table by table; ayb's control table is never compared.
 */
export async function diffBranchData(ctx: BranchContext, from: string, to: string, request: DataDiffRequest = {}): Promise<BranchDataComparison> {
  const a = await resolveDatabase(ctx, from);
  const b = await resolveDatabase(ctx, to);
  ctx.log?.(`Comparing the rows of ${from} (${a.database}) with ${to} (${b.database}) …`);
  return withSides(branchConn(ctx, a.database), branchConn(ctx, b.database), [CONTROL_TABLE_SQL], async (sa, sb) => {
    const comparison = await compareData(sa, sb, { tables: request.tables });
    const migration = request.sql
      ? await dataMigration(sa, sb, comparison, `ayb branch diff ${from} ${to} --data: makes the rows of ${from} equal those of ${to}`, { sequences: request.tables === undefined })
      : undefined;
    return { from: a.database, to: b.database, comparison, migration };
  });
}
