import { UsageError } from '../core/errors.js';
import { sqlState } from '../postgres/client.js';
import { type DataTable, tableId } from './catalog.js';
import type { MergeConflict, MergeInput } from './merge-types.js';

/**
 * Checks the resolutions of a conflicts file that give values, before anything is applied: each
 * names only columns of its conflict (a cell-wise conflict's `columns`; a row conflict, where one side
 * removed the row, takes "ours" or "theirs" only), at least one, and each value is one the column's
 * type accepts (read by the type's input function on the target, in the plan's read-only transaction:
 * `'abc'` for an int is refused here, not as a raw 22P02 in the middle of the apply). The type is the
 * one the target will hold once migrated (the branch's when it retyped the column). A usage error
 * (exit 2, bad_conflicts_file) naming the table, the key and the column.
 */
export async function checkResolutions(input: MergeInput, conflicts: readonly MergeConflict[]): Promise<void> {
  for (const c of conflicts) {
    const r = c.resolution;
    if (r === null || typeof r === 'string') continue;
    const where = `the resolution of ${c.table} ${JSON.stringify(c.key)}`;
    const detail = (column: string | null) => ({ table: c.table, schema: c.schema ?? null, name: c.name ?? null, key: c.key, column });
    const hint = { hint: `set it to "ours", "theirs" or an object of the conflict's columns (${c.columns.join(', ') || 'none: a row conflict takes "ours" or "theirs"'}) and their values as text` };
    const named = Object.keys(r);
    if (c.columns.length === 0) throw new UsageError(`conflicts file: ${where} gives column values, but one side removed the row: resolve it "ours" or "theirs"`, { ...hint, details: detail(null) }, 'bad_conflicts_file');
    const stray = named.filter((n) => !c.columns.includes(n));
    if (stray.length > 0) throw new UsageError(`conflicts file: ${where} names column(s) ${stray.map((n) => JSON.stringify(n)).join(', ')} that are not its conflicting columns (${c.columns.map((n) => JSON.stringify(n)).join(', ')})`, { ...hint, details: detail(stray[0]!) }, 'bad_conflicts_file');
    if (named.length === 0) throw new UsageError(`conflicts file: ${where} is an empty object`, { ...hint, details: detail(null) }, 'bad_conflicts_file');
    const id = c.schema !== undefined && c.name !== undefined ? tableId({ schema: c.schema, name: c.name }) : undefined;
    const [tb, tx, tt] = [input.base, input.theirs, input.ours].map((side) => (id ? side.catalog.tables.get(id) : undefined));
    for (const column of named) {
      const value = r[column] ?? null;
      const type = typeAfterMerge(column, tb, tx, tt);
      if (value === null || type === undefined) continue;
      const client = input.ours.client;
      await client.query('SAVEPOINT ayb_resolution');
      try {
        await client.query(`SELECT $1::${type}`, [value]);
        await client.query('RELEASE SAVEPOINT ayb_resolution');
      } catch (error) {
        await client.query('ROLLBACK TO SAVEPOINT ayb_resolution');
        await client.query('RELEASE SAVEPOINT ayb_resolution');
        const state = sqlState(error) ?? '';
        // Only a value the type refuses (class 22: data exception); a type the target lacks yet (the
        // branch's, created by the migration) is left to the apply.
        if (!state.startsWith('22')) continue;
        throw new UsageError(`conflicts file: ${where} gives column ${JSON.stringify(column)} the value ${JSON.stringify(value)}, which its type ${type} refuses: ${(error as Error).message}`, { ...hint, details: detail(column) }, 'bad_conflicts_file');
      }
    }
  }
}

/** The column's type on the target once migrated: the branch's when it retyped it since the base, else the target's. */
function typeAfterMerge(column: string, tb: DataTable | undefined, tx: DataTable | undefined, tt: DataTable | undefined): string | undefined {
  const typeIn = (t: DataTable | undefined) => t?.columns.find((x) => x.name === column)?.type;
  const [b, x, t] = [typeIn(tb), typeIn(tx), typeIn(tt)];
  if (x !== undefined && x !== b) return x;
  return t ?? x;
}
