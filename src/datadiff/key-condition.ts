import { quoteIdent } from '../postgres/quote.js';
import { type DataTable, keysOf } from './catalog.js';
import type { TablePlan } from './compare.js';

/**
 * Per key column, the equality operator of the key's index, schema-qualified (`=` when unknown): the
 * script and ayb's sessions run with search_path empty, where a bare `=` finds only pg_catalog's.
 */
export function keyEquality(table: DataTable, plan: TablePlan): string[] {
  const key = keysOf(table).find((k) => k.columns.length === plan.key.length && k.columns.every((c) => plan.key.includes(c)));
  return plan.key.map((c) => {
    const i = key ? key.columns.indexOf(c) : -1;
    return (i >= 0 ? key?.equality?.[i] : undefined) ?? '=';
  });
}

/**
 * `t.key OP value::type AND …`: the rows of `table` whose key equals a key given as text (`value(i)`:
 * an SQL expression of column i's text), by the key index's own equality. `theirs`: the table the key's
 * text comes from (the merge's branch), when its key columns may have other types (a key the branch
 * retyped): such a column is compared in the branch's type, the target's value cast to it (as the
 * target will hold it once migrated). Cast to the target's old type, the branch's key would fail (int →
 * bigint: 5000000000 is out of int's range) or be rounded into another row's (numeric(12,4) →
 * numeric(12,2)), or lose a distinction its new type keeps (citext → text).
 */
export function keyCondition(table: DataTable, key: readonly string[], value: (i: number) => string, theirs?: DataTable, alias = 't'): string {
  const typeOf = (t: DataTable, c: string) => t.columns.find((x) => x.name === c)?.type;
  const equality = keyEquality(table, { key } as TablePlan);
  const theirEquality = theirs ? keyEquality(theirs, { key } as TablePlan) : [];
  return key.map((c, i) => {
    const own = typeOf(table, c)!;
    const their = theirs ? typeOf(theirs, c) : undefined;
    if (their === undefined || their === own) return `${alias}.${quoteIdent(c)} ${equality[i]} ${value(i)}::${own}`;
    return `${alias}.${quoteIdent(c)}::${their} ${theirEquality[i]} ${value(i)}::${their}`;
  }).join(' AND ');
}
