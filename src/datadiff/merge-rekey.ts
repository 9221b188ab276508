import { quoteIdent, unnestAll } from '../postgres/quote.js';
import { type DataCatalog, type DataTable, keysOf, tableId } from './catalog.js';
import type { KeyTuple } from './compare.js';
import { arrayLiteral, STAGE, type StagedTable } from './merge-stage.js';
import type { KeyedPreview } from './merge-rows.js';
import type { MergeInput, Values } from './merge-types.js';
import { keyCondition } from './sql.js';
import { valueText } from './value-text.js';

const qualified = (t: { schema: string; name: string }) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;

/**
 * A row whose key the branch changed (`UPDATE pa SET code = 'z'`) reads, key by key, as one removed
 * and one added; applied so, the delete fires the foreign keys' ON DELETE actions on the target's
 * rows under it (main's children deleted, or the merge refused), where the branch's update fired
 * their ON UPDATE actions (the children followed). Of a table some foreign key references, a staged
 * delete and a staged insert that are the same row become one update of the row's key in place, so
 * the target's children follow their row as they did on the branch (where every foreign key pointing
 * at the table has an ON UPDATE action): the same row when the target's
 * row of the old key and the branch's row of the new key hold the same values in every other unique
 * key of the table, or (a table without one) in every column outside the key, and pair one to one.
 * Run after the cascade conflicts: a delete kept back (settled ours) stays as it is. Returns the
 * pairs made per staged table.
 */
export async function rekeyInPlace(input: MergeInput, staged: readonly StagedTable[], previews: ReadonlyMap<number, KeyedPreview>): Promise<Map<number, number>> {
  const { ours } = input;
  const made = new Map<number, number>();
  const referenced = referencedTables(ours.catalog);
  for (const t of staged) {
    if (t.key.length === 0 || t.deleted === 0 || t.inserted === 0 || !referenced.has(tableId(t.table))) continue;
    const target = ours.catalog.tables.get(tableId(t.table));
    if (!target) continue;
    // Only where every foreign key pointing at it acts on an update (CASCADE, SET NULL, SET DEFAULT):
    // under NO ACTION or RESTRICT a child left on the old key refuses the update, not the delete.
    const { rows: acts } = await ours.client.query<{ all: boolean | null }>(
      `SELECT bool_and(confupdtype IN ('c', 'n', 'd')) AS all FROM pg_catalog.pg_constraint WHERE contype = 'f' AND confrelid = $1::regclass`, [qualified(target)]);
    if (acts[0]?.all !== true) continue;
    const at = (c: string) => t.writable.indexOf(c) + 1;
    const others = keysOf(target).filter((k) => k.columns.join('\0') !== t.key.join('\0') && k.columns.every((c) => at(c) > 0 && target.columns.some((x) => x.name === c)));
    const compared = others.length > 0 ? [...new Set(others.flatMap((k) => k.columns))]
      : t.writable.filter((c) => !t.key.includes(c) && target.columns.some((x) => x.name === c));
    if (compared.length === 0) continue;
    // Which columns the update sets: those whose value differs from the target's row (a column the target lacks: set).
    const differs = t.writable.map((c) => (target.columns.some((x) => x.name === c) ? `${valueText(`t.${quoteIdent(c)}`)} IS DISTINCT FROM i.v[${at(c)}]` : 'true'));
    const { rows } = await ours.client.query<{ d: string; i: string; m: boolean[] }>(
      `SELECT d.ctid::text AS d, i.ctid::text AS i, ARRAY[${differs.join(', ')}]::bool[] AS m
         FROM ${STAGE} d JOIN ${qualified(target)} t ON ${keyCondition(target, t.key, (n) => `d.k[${n + 1}]`, t.table)}
         JOIN ${STAGE} i ON i.tab = d.tab AND i.op = 'i' AND ${compared.map((c) => `${valueText(`t.${quoteIdent(c)}`)} IS NOT DISTINCT FROM i.v[${at(c)}]`).join(' AND ')}
        WHERE d.tab = $1 AND d.op = 'd'`, [t.tab]);
    const count = (xs: string[]) => xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<string, number>());
    const [ds, is] = [count(rows.map((r) => r.d)), count(rows.map((r) => r.i))];
    const pairs = rows.filter((r) => ds.get(r.d) === 1 && is.get(r.i) === 1);
    if (pairs.length === 0) continue;
    // The delete becomes the update (its key the old one, every column the branch's row), the insert goes.
    const { rows: moved } = await ours.client.query<{ k: KeyTuple; v: (string | null)[]; m: boolean[] }>(
      `WITH p AS (SELECT d::tid AS d, i::tid AS i, m::bool[] AS m FROM ${unnestAll(['$2::text[]', '$3::text[]', '$4::text[]'])} AS p(d, i, m)),
            gone AS (DELETE FROM ${STAGE} s USING p WHERE s.ctid = p.i AND s.tab = $1 RETURNING p.d, p.m, s.v)
       UPDATE ${STAGE} s SET op = 'u', v = gone.v, m = gone.m FROM gone WHERE s.ctid = gone.d AND s.tab = $1
       RETURNING s.k, s.v, s.m`,
      [t.tab, pairs.map((p) => p.d), pairs.map((p) => p.i), pairs.map((p) => arrayLiteral(p.m))]);
    t.deleted -= moved.length;
    t.inserted -= moved.length;
    t.updatedRows += moved.length;
    for (const r of moved) r.m.forEach((set, i) => set && t.updated.add(t.writable[i]!));
    made.set(t.tab, moved.length);
    const preview = previews.get(t.tab);
    if (!preview) continue;
    for (const r of moved) {
      const values: Values = Object.fromEntries(t.writable.flatMap((c, i) => (r.m[i] ? [[c, r.v[i] ?? null]] : [])));
      const del = preview.deletes.findIndex((d) => JSON.stringify(d) === JSON.stringify(r.k));
      if (del >= 0) preview.deletes.splice(del, 1);
      const ins = preview.inserts.findIndex((x) => t.key.every((c) => x[c] === r.v[t.writable.indexOf(c)]));
      if (ins >= 0) preview.inserts.splice(ins, 1);
      preview.updates.push({ key: r.k, values });
    }
  }
  return made;
}

/** The tables some foreign key of the catalog references (leaf ids). */
function referencedTables(catalog: DataCatalog): Set<string> {
  return new Set([...catalog.tables.values()].flatMap((x: DataTable) => x.references));
}
