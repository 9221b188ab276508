import type { Client } from '../postgres/client.js';
import { quoteIdent, unnestAll } from '../postgres/quote.js';
import { type DataTable, tableId, tableLabel, tableName } from './catalog.js';
import type { KeyTuple } from './compare.js';
import { keyObject } from './data-diff.js';
import { STAGE, type StagedTable } from './merge-stage.js';
import type { KeyedPreview } from './merge-rows.js';
import { type Change, type MergeConflict, type MergeInput, settle, type Values } from './merge-types.js';
import { keyCondition } from './sql.js';
import { valueText } from './value-text.js';

/**
 * A digest of a query's rows, whatever their order (a multiset: duplicates count), computed by the
 * server so that the rows never come to ayb: their count and the sum of a 60-bit hash of each row's text.
 */
export async function rowsDigest(client: Client, sql: string): Promise<string> {
  const { rows } = await client.query<{ d: string }>(
    `SELECT count(*)::text || ':' || coalesce(sum(('x' || substr(md5(q::text), 1, 15))::bit(60)::bigint), 0)::text AS d FROM (${sql}) q`,
  );
  return rows[0]!.d;
}

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

/** A cascade conflict: the staged delete or update of a parent row (tab, key) that reaches rows the target added or changed. */
export interface CascadeConflict {
  readonly conflict: MergeConflict;
  readonly tab: number;
  readonly key: KeyTuple;
  /** `d`: the branch deletes the row; `u`: it changes values of it that foreign keys reference (`columns`). */
  readonly op: 'd' | 'u';
  readonly columns: readonly string[];
}

/**
 * Deletes, and updates of referenced columns, the merge would run that cascade (ON DELETE / ON
 * UPDATE CASCADE, SET NULL, SET DEFAULT) onto rows of the target that the base does not have as
 * they are, or that such rows still reference (NO ACTION, RESTRICT: the change would fail, or in a
 * swap leave them pointing at another row): rows the target added or changed since the base. Each
 * such parent row is a conflict; kept (its staged delete becomes `k`, its update leaves the
 * referenced columns as the target has them) unless settled toward the branch. The queries join the
 * staged rows on the target's server; only referencing rows come back.
 */
export async function cascadeConflicts(input: MergeInput, staged: readonly StagedTable[], references: PlannedQuery[]): Promise<CascadeConflict[]> {
  const acting = staged.filter((t) => t.key.length > 0 && (t.deleted > 0 || t.updatedRows > 0));
  if (acting.length === 0) return [];
  const { ours, base } = input;
  const { rows: fks } = await ours.client.query<ForeignKey>(
    `SELECT cn.nspname AS child_schema, cc.relname AS child, pn.nspname AS parent_schema, pc.relname AS parent,
            ARRAY(SELECT a.attname::text FROM pg_catalog.unnest(con.conkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i) AS child_columns,
            ARRAY(SELECT a.attname::text FROM pg_catalog.unnest(con.confkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i) AS parent_columns
       FROM pg_constraint con
       JOIN pg_class cc ON cc.oid = con.conrelid JOIN pg_namespace cn ON cn.oid = cc.relnamespace
       JOIN pg_class pc ON pc.oid = con.confrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
      WHERE con.contype = 'f'`,
  );
  const found = new Map<string, { tab: number; op: 'd' | 'u'; columns: Set<string>; conflict: Omit<MergeConflict, 'resolution'>; key: KeyTuple; cascade: { table: string; schema: string; name: string; key: Values }[] }>();
  for (const fk of fks) {
    const parentId = tableId({ schema: fk.parent_schema, name: fk.parent });
    const del = acting.find((t) => tableId(t.table) === parentId);
    const child = ours.catalog.tables.get(tableId({ schema: fk.child_schema, name: fk.child }));
    const parent = ours.catalog.tables.get(parentId);
    if (!del || !child || !parent) continue;
    const typeOf = (t: DataTable, c: string) => t.columns.find((x) => x.name === c)!.type;
    const childKey = child.key?.columns ?? child.columns.map((c) => c.name);
    const childBase = base.catalog.tables.get(tableId(child));
    const compared = child.columns.map((c) => c.name).filter((c) => childBase?.columns.some((x) => x.name === c));
    // Rows the merge itself deletes, or points elsewhere (it sets the referencing columns, as the
    // branch's own cascade did): the delete or update does not reach them.
    const own = staged.find((t) => tableId(t.table) === tableId(child) && JSON.stringify(t.key) === JSON.stringify(childKey));
    const masks = own ? fk.child_columns.map((c) => own.writable.indexOf(c) + 1) : [];
    const handled = own
      ? `EXISTS (SELECT 1 FROM ${STAGE} h WHERE h.tab = ${own.tab} AND h.k OPERATOR(pg_catalog.=) ARRAY[${childKey.map((c) => valueText(`c.${quoteIdent(c)}`)).join(', ')}]
           AND (h.op IN ('d', 'k')${masks.every((m) => m > 0) ? ` OR (h.op = 'u' AND ${masks.map((m) => `coalesce(h.m[${m}], false)`).join(' AND ')})` : ''}))`
      : 'false';
    // The staged keys are the branch's text: a key column it retyped is compared in its type (keyCondition).
    const join = keyCondition(parent, del.key, (i) => `d.k[${i + 1}]`, del.table, 'p');
    // An update of the row that changes a referenced value (its new value: the staged one where set).
    const updated = fk.parent_columns.filter((c) => del.updated.has(c) && del.writable.includes(c));
    const newValue = (c: string) => {
      const at = del.writable.indexOf(c) + 1;
      // The staged value is the branch's, of its type (a column it retyped may hold one the target's cannot).
      const type = del.table.columns.find((x) => x.name === c)?.type ?? typeOf(parent, c);
      return at > 0 ? `CASE WHEN d.m[${at}] THEN d.v[${at}]::${type} ELSE p.${quoteIdent(c)}::${type} END` : `p.${quoteIdent(c)}::${type}`;
    };
    const ops: ('d' | 'u')[] = [...(del.deleted > 0 ? ['d' as const] : []), ...(del.updatedRows > 0 && updated.length > 0 ? ['u' as const] : [])];
    for (const op of ops) {
      const which = op === 'd' ? `d.op IN ('d', 'k')`
        : `d.op = 'u' AND ROW(${fk.parent_columns.map((c) => `p.${quoteIdent(c)}::${del.table.columns.find((x) => x.name === c)?.type ?? typeOf(parent, c)}`).join(', ')}) IS DISTINCT FROM ROW(${fk.parent_columns.map(newValue).join(', ')})`;
      const query = (where: string) => `SELECT ${del.key.map((k) => valueText(`p.${quoteIdent(k)}`)).join(', ')}, pg_catalog.json_build_array(${childKey.map((c) => valueText(`c.${quoteIdent(c)}`)).join(', ')})::text, ROW(${compared.map((c) => `c.${quoteIdent(c)}`).join(', ')})::text, (${handled})::text
                     FROM ${STAGE} d JOIN ${qualified(parent)} p ON ${join}
                     JOIN ${qualified(child)} c ON ${fk.child_columns.map((c, i) => `c.${quoteIdent(c)} = p.${quoteIdent(fk.parent_columns[i]!)}`).join(' AND ')}
                    WHERE d.tab = ${del.tab} AND ${where}`;
      // A row the target adds later (before the apply) would be reached too: the apply reads these
      // again (for updates, the children of every updated row: a kept-back update changes its marks).
      // Both digests are taken by the server: the rows (every child of every deleted row) stay there.
      const again = op === 'd' ? query(which) : query(`d.op = 'u'`);
      references.push({ table: tableLabel(child), sql: again, digest: await rowsDigest(ours.client, again) });
      // Only the children the merge does not handle itself come to ayb, to be looked up in the base.
      const { rows } = await ours.client.query({ text: query(`${which} AND NOT (${handled})`), rowMode: 'array' });
      const children = (rows as (string | null)[][])
        .map((r) => ({ parentKey: r.slice(0, del.key.length) as KeyTuple, childKey: JSON.parse(r.at(-3)!) as KeyTuple, text: r.at(-2)! }));
      if (children.length === 0) continue;
      // The same rows in the base, by the child's key: absent or different means the target added or changed them.
      const inBase = new Map<string, string>();
      if (childBase && compared.length > 0) {
        const bjoin = childKey.map((c, i) => `c.${quoteIdent(c)} = k.c${i}::${typeOf(child, c)}`).join(' AND ');
        const { rows: baseRows } = await base.client.query({
          text: `SELECT pg_catalog.json_build_array(${childKey.map((c) => valueText(`c.${quoteIdent(c)}`)).join(', ')})::text, ROW(${compared.map((c) => `c.${quoteIdent(c)}`).join(', ')})::text
                   FROM ${qualified(child)} c JOIN ${unnestAll(childKey.map((_, i) => `$${i + 1}::text[]`))} AS k(${childKey.map((_, i) => `c${i}`).join(', ')}) ON ${bjoin}`,
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
          op,
          key: c.parentKey,
          columns: new Set<string>(),
          cascade: [],
          conflict: { table: tableName(parent), schema: parent.schema, name: parent.name, key: keyObject(del.key, c.parentKey), ours: 'changed' as Change, theirs: (op === 'd' ? 'removed' : 'changed') as Change, columns: [], base: null, our: null, their: null },
        };
        if (op === 'u') for (const col of updated) entry.columns.add(col);
        entry.cascade.push({ table: tableName(child), schema: child.schema, name: child.name, key: keyObject(childKey, c.childKey) });
        found.set(id, entry);
      }
    }
  }
  return [...found.values()].map((e) => ({ tab: e.tab, key: e.key, op: e.op, columns: [...e.columns], conflict: settle(input, { ...e.conflict, cascade: e.cascade }) }));
}

/**
 * Keeps a cascade conflict's change back (not settled toward the branch): a staged delete is not
 * applied (`k`); a staged update leaves the referenced columns as the target has them (its other
 * columns still merge). The plan's preview loses them too.
 */
export async function keepBack(input: MergeInput, t: StagedTable, preview: KeyedPreview | undefined, cascade: CascadeConflict): Promise<void> {
  if (cascade.op === 'd') {
    await input.ours.client.query(`UPDATE ${STAGE} SET op = 'k' WHERE tab = $1 AND op = 'd' AND k OPERATOR(pg_catalog.=) $2::text[]`, [t.tab, cascade.key]);
    t.deleted--;
    const shown = preview?.deletes.findIndex((d) => JSON.stringify(d) === JSON.stringify(cascade.key)) ?? -1;
    if (shown >= 0) preview!.deletes.splice(shown, 1);
    return;
  }
  const marks = cascade.columns.map((c) => t.writable.indexOf(c) + 1).filter((i) => i > 0);
  if (marks.length === 0) return;
  await input.ours.client.query(`UPDATE ${STAGE} SET m = ARRAY(SELECT m[i] AND NOT i = ANY ($3::int[]) FROM pg_catalog.generate_subscripts(m, 1) AS i ORDER BY i) WHERE tab = $1 AND op = 'u' AND k OPERATOR(pg_catalog.=) $2::text[]`, [t.tab, cascade.key, marks]);
  const shown = preview?.updates.find((u) => JSON.stringify(u.key) === JSON.stringify(cascade.key));
  if (shown) for (const c of cascade.columns) delete shown.values[c];
}
