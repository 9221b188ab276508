import { quoteIdent } from '../postgres/quote.js';
import { type DataTable, tableId } from './catalog.js';
import type { KeyTuple } from './compare.js';
import { keyObject } from './data-diff.js';
import { STAGE, type StagedTable } from './merge-stage.js';
import { type Change, type MergeConflict, type MergeInput, settle, type Values } from './merge-types.js';
import { valueText } from './value-text.js';

/** A query of the target run while planning, and a digest of its rows: the apply runs it again and refuses if they moved. */
export interface PlannedQuery {
  readonly table: string;
  readonly sql: string;
  readonly digest: string;
}

interface ForeignKey {
  child_schema: string;
  child: string;
  parent_schema: string;
  parent: string;
  child_columns: string[];
  parent_columns: string[];
}

const qualified = (t: { schema: string; name: string }) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;

/**
 * Deletes the merge would run that cascade (ON DELETE CASCADE, SET NULL, SET DEFAULT) onto rows of
 * the target that the base does not have as they are, or that such rows still reference (NO ACTION,
 * RESTRICT: the delete would fail): rows the target added or changed since the base. Each such
 * delete is a conflict; kept (its staged row becomes `k`, not applied) unless settled toward the
 * branch. The queries join the staged deletes on the target's server; only referencing rows come back.
 */
export async function cascadeConflicts(input: MergeInput, staged: readonly StagedTable[], references: PlannedQuery[], digest: (rows: readonly (readonly (string | null)[])[]) => string): Promise<{ conflict: MergeConflict; tab: number; key: KeyTuple }[]> {
  const deleting = staged.filter((t) => t.deleted > 0 && t.key.length > 0);
  if (deleting.length === 0) return [];
  const { ours, base } = input;
  const { rows: fks } = await ours.client.query<ForeignKey>(
    `SELECT cn.nspname AS child_schema, cc.relname AS child, pn.nspname AS parent_schema, pc.relname AS parent,
            ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i) AS child_columns,
            ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i) AS parent_columns
       FROM pg_constraint con
       JOIN pg_class cc ON cc.oid = con.conrelid JOIN pg_namespace cn ON cn.oid = cc.relnamespace
       JOIN pg_class pc ON pc.oid = con.confrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
      WHERE con.contype = 'f'`,
  );
  const found = new Map<string, { tab: number; conflict: Omit<MergeConflict, 'resolution'>; key: KeyTuple; cascade: { table: string; key: Values }[] }>();
  for (const fk of fks) {
    const parentId = `${fk.parent_schema}.${fk.parent}`;
    const del = deleting.find((t) => tableId(t.table) === parentId);
    const child = ours.catalog.tables.get(`${fk.child_schema}.${fk.child}`);
    const parent = ours.catalog.tables.get(parentId);
    if (!del || !child || !parent) continue;
    const typeOf = (t: DataTable, c: string) => t.columns.find((x) => x.name === c)!.type;
    const childKey = child.key?.columns ?? child.columns.map((c) => c.name);
    const childBase = base.catalog.tables.get(tableId(child));
    const compared = child.columns.map((c) => c.name).filter((c) => childBase?.columns.some((x) => x.name === c));
    // Rows the merge itself deletes, or points elsewhere (it sets the referencing columns, as the
    // branch's own cascade did): the delete does not reach them.
    const own = staged.find((t) => tableId(t.table) === tableId(child) && JSON.stringify(t.key) === JSON.stringify(childKey));
    const masks = own ? fk.child_columns.map((c) => own.writable.indexOf(c) + 1) : [];
    const handled = own
      ? `EXISTS (SELECT 1 FROM ${STAGE} h WHERE h.tab = ${own.tab} AND h.k = ARRAY[${childKey.map((c) => valueText(`c.${quoteIdent(c)}`)).join(', ')}]
           AND (h.op IN ('d', 'k')${masks.every((m) => m > 0) ? ` OR (h.op = 'u' AND ${masks.map((m) => `coalesce(h.m[${m}], false)`).join(' AND ')})` : ''}))`
      : 'false';
    const join = del.key.map((k, i) => `p.${quoteIdent(k)} = d.k[${i + 1}]::${typeOf(parent, k)}`).join(' AND ');
    const sql = `SELECT ${del.key.map((k) => valueText(`p.${quoteIdent(k)}`)).join(', ')}, json_build_array(${childKey.map((c) => valueText(`c.${quoteIdent(c)}`)).join(', ')})::text, ROW(${compared.map((c) => `c.${quoteIdent(c)}`).join(', ')})::text, (${handled})::text
                   FROM ${STAGE} d JOIN ${qualified(parent)} p ON ${join}
                   JOIN ${qualified(child)} c ON ${fk.child_columns.map((c, i) => `c.${quoteIdent(c)} = p.${quoteIdent(fk.parent_columns[i]!)}`).join(' AND ')}
                  WHERE d.tab = ${del.tab} AND d.op IN ('d', 'k')`;
    const { rows } = await ours.client.query({ text: sql, rowMode: 'array' });
    // A row the target adds later (before the apply) would be lost to the cascade: the apply reads these again.
    references.push({ table: tableId(child), sql, digest: digest(rows as (string | null)[][]) });
    const children = (rows as (string | null)[][]).filter((r) => r.at(-1) !== 'true')
      .map((r) => ({ parentKey: r.slice(0, del.key.length) as KeyTuple, childKey: JSON.parse(r.at(-3)!) as KeyTuple, text: r.at(-2)! }));
    if (children.length === 0) continue;
    // The same rows in the base, by the child's key: absent or different means the target added or changed them.
    const inBase = new Map<string, string>();
    if (childBase && compared.length > 0) {
      const bjoin = childKey.map((c, i) => `c.${quoteIdent(c)} = k.c${i}::${typeOf(child, c)}`).join(' AND ');
      const { rows: baseRows } = await base.client.query({
        text: `SELECT json_build_array(${childKey.map((c) => valueText(`c.${quoteIdent(c)}`)).join(', ')})::text, ROW(${compared.map((c) => `c.${quoteIdent(c)}`).join(', ')})::text
                 FROM ${qualified(child)} c JOIN unnest(${childKey.map((_, i) => `$${i + 1}::text[]`).join(', ')}) AS k(${childKey.map((_, i) => `c${i}`).join(', ')}) ON ${bjoin}`,
        values: childKey.map((_, i) => children.map((c) => c.childKey[i])),
        rowMode: 'array',
      });
      for (const r of baseRows as string[][]) inBase.set(JSON.stringify(JSON.parse(r[0]!)), r[1]!);
    }
    for (const c of children) {
      if (inBase.get(JSON.stringify(c.childKey)) === c.text) continue;
      const id = JSON.stringify([parentId, c.parentKey]);
      const entry = found.get(id) ?? {
        tab: del.tab,
        key: c.parentKey,
        cascade: [],
        conflict: { table: parentId, key: keyObject(del.key, c.parentKey), ours: 'changed' as Change, theirs: 'removed' as Change, columns: [], base: null, our: null, their: null },
      };
      entry.cascade.push({ table: tableId(child), key: keyObject(childKey, c.childKey) });
      found.set(id, entry);
    }
  }
  return [...found.values()].map((e) => ({ tab: e.tab, key: e.key, conflict: settle(input, { ...e.conflict, cascade: e.cascade }) }));
}

/** Keeps a staged delete back (a cascade conflict not settled toward the branch): it is not applied. */
export async function keepDelete(input: MergeInput, tab: number, key: KeyTuple): Promise<void> {
  await input.ours.client.query(`UPDATE ${STAGE} SET op = 'k' WHERE tab = $1 AND op = 'd' AND k = $2::text[]`, [tab, key]);
}
