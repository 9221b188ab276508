import { compareSchemas, type SchemaComparison } from '../schema/compare.js';
import { type BranchContext, branchConn } from './context.js';
import { resolveDatabase } from './list.js';

export interface BranchComparison {
  /** The databases behind the two sides. */
  readonly from: string;
  readonly to: string;
  readonly comparison: SchemaComparison;
}

/** `ayb branch diff`: the schema changes that turn `from` (main or a ready branch) into `to`. */
export async function diffBranches(ctx: BranchContext, from: string, to: string): Promise<BranchComparison> {
  const a = await resolveDatabase(ctx, from);
  const b = await resolveDatabase(ctx, to);
  ctx.log?.(`Comparing ${from} (${a.database}) with ${to} (${b.database}) …`);
  const comparison = await compareSchemas(branchConn(ctx, a.database), branchConn(ctx, b.database));
  return { from: a.database, to: b.database, comparison };
}
