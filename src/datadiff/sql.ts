import { quoteIdent, quoteLiteral } from '../postgres/quote.js';
import { valueSettingsSql } from '../postgres/value-settings.js';
import { type DataTable, tableId } from './catalog.js';
import { type KeyTuple, type Side, type TableDiff, type TablePlan } from './compare.js';

/** Keys per query when rows are fetched by key. */
const FETCH_BATCH = 1000;

/** A value as SQL: NULL, or its text as a literal cast to the column's type (exact for every type with text I/O). */
export function sqlValue(text: string | null, type: string): string {
  return text === null ? 'NULL' : `${quoteLiteral(text)}::${type}`;
}

const qualified = (t: { schema: string; name: string }) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;

/**
 * Fetches full rows (the text of every compared column) by key, in batches; an index on the key
 * serves each batch. Returns a map from the key's JSON to the row.
 */
export async function fetchRows(side: Side, plan: TablePlan, keys: readonly KeyTuple[]): Promise<Map<string, (string | null)[]>> {
  const table = side.catalog.tables.get(tableId(plan))!;
  const typeOf = (c: string) => table.columns.find((x) => x.name === c)!.type;
  const out = new Map<string, (string | null)[]>();
  const keyAt = plan.key.map((k) => plan.columns.indexOf(k));
  const join = plan.key.map((k, i) => `t.${quoteIdent(k)} = k.c${i}::${typeOf(k)}`).join(' AND ');
  const sql = `SELECT ${plan.columns.map((c) => `t.${quoteIdent(c)}::text`).join(', ')}
                 FROM ${qualified(plan)} t JOIN unnest(${plan.key.map((_, i) => `$${i + 1}::text[]`).join(', ')}) AS k(${plan.key.map((_, i) => `c${i}`).join(', ')}) ON ${join}`;
  for (let start = 0; start < keys.length; start += FETCH_BATCH) {
    const batch = keys.slice(start, start + FETCH_BATCH);
    const { rows } = await side.client.query({ text: sql, values: plan.key.map((_, i) => batch.map((k) => k[i])), rowMode: 'array' });
    for (const row of rows as (string | null)[][]) out.set(JSON.stringify(keyAt.map((i) => row[i]!)), row);
  }
  return out;
}

/** Tables in foreign-key order: a table after every table it references (cycles keep their catalog order). */
export function foreignKeyOrder(tables: readonly DataTable[]): DataTable[] {
  const byId = new Map(tables.map((t) => [tableId(t), t]));
  const done = new Set<string>();
  const visiting = new Set<string>();
  const order: DataTable[] = [];
  const visit = (t: DataTable) => {
    const id = tableId(t);
    if (done.has(id) || visiting.has(id)) return;
    visiting.add(id);
    for (const ref of t.references) {
      const parent = byId.get(ref);
      if (parent && ref !== id) visit(parent);
    }
    visiting.delete(id);
    done.add(id);
    order.push(t);
  };
  for (const t of tables) visit(t);
  return order;
}

export interface TableDml {
  readonly table: DataTable;
  readonly inserts: string[];
  readonly updates: string[];
  readonly deletes: string[];
}

/**
 * The statements that make `a`'s rows of one table equal `b`'s: rows b has that a lacks are
 * inserted, rows whose columns differ updated (only the columns that differ), rows a has that b
 * lacks deleted. Generated columns are never written; identity columns that refuse values get
 * OVERRIDING SYSTEM VALUE.
 */
export async function tableDml(a: Side, b: Side, diff: TableDiff): Promise<TableDml> {
  const plan = diff.plan;
  const table = a.catalog.tables.get(tableId(plan))!;
  const typeOf = (c: string) => table.columns.find((x) => x.name === c)!.type;
  const writable = plan.columns.filter((c) => !table.columns.find((x) => x.name === c)!.generated);
  const overriding = table.columns.some((c) => c.identityAlways && writable.includes(c.name)) ? ' OVERRIDING SYSTEM VALUE' : '';
  const target = qualified(plan);
  const insert = (row: readonly (string | null)[]) =>
    `INSERT INTO ${target} (${writable.map(quoteIdent).join(', ')})${overriding} VALUES (${writable.map((c) => sqlValue(row[plan.columns.indexOf(c)]!, typeOf(c))).join(', ')});`;
  const keyWhere = (key: KeyTuple) => plan.key.map((k, i) => `${quoteIdent(k)} = ${sqlValue(key[i]!, typeOf(k))}`).join(' AND ');

  if (plan.match === 'rows') {
    // A row is its own key: compared as text, column by column, so types without equality (json) work too.
    const rowWhere = (row: KeyTuple) => plan.columns.map((c, i) => `${quoteIdent(c)}::text IS NOT DISTINCT FROM ${row[i] === null ? 'NULL' : quoteLiteral(row[i]!)}`).join(' AND ');
    return {
      table,
      inserts: diff.added.flatMap((row, i) => Array.from({ length: diff.addedCount![i]! }, () => insert(row))),
      updates: [],
      deletes: diff.removed.map((row, i) => `DELETE FROM ${target} WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${target} WHERE ${rowWhere(row)} LIMIT ${diff.removedCount![i]}));`),
    };
  }

  const [newRows, before, after] = await Promise.all([
    fetchRows(b, plan, diff.added),
    fetchRows(a, plan, diff.changed),
    fetchRows(b, plan, diff.changed),
  ]);
  const updates: string[] = [];
  for (const key of diff.changed) {
    const id = JSON.stringify(key);
    const [old, next] = [before.get(id), after.get(id)];
    if (!old || !next) continue; // gone since it was compared
    const sets = writable.filter((c) => old[plan.columns.indexOf(c)] !== next[plan.columns.indexOf(c)]);
    if (sets.length === 0) continue; // only generated columns differ; they follow
    updates.push(`UPDATE ${target} SET ${sets.map((c) => `${quoteIdent(c)} = ${sqlValue(next[plan.columns.indexOf(c)]!, typeOf(c))}`).join(', ')} WHERE ${keyWhere(key)};`);
  }
  return {
    table,
    inserts: diff.added.map((key) => newRows.get(JSON.stringify(key))).filter((r) => r !== undefined).map(insert),
    updates,
    deletes: diff.removed.map((key) => `DELETE FROM ${target} WHERE ${keyWhere(key)};`),
  };
}

/** `SELECT setval(…)` for every sequence both sides have whose state differs, to b's state. */
export async function sequenceDml(a: Side, b: Side): Promise<string[]> {
  const inB = new Set(b.catalog.sequences.map(tableId));
  const out: string[] = [];
  for (const seq of a.catalog.sequences.filter((s) => inB.has(tableId(s)))) {
    const sql = `SELECT last_value::text AS last_value, is_called FROM ${qualified(seq)}`;
    const [ra, rb] = await Promise.all([a.client.query<{ last_value: string; is_called: boolean }>(sql), b.client.query<{ last_value: string; is_called: boolean }>(sql)]);
    const [sa, sb] = [ra.rows[0]!, rb.rows[0]!];
    if (sa.last_value === sb.last_value && sa.is_called === sb.is_called) continue;
    out.push(`SELECT pg_catalog.setval(${quoteLiteral(qualified(seq))}, ${sb.last_value}, ${sb.is_called});`);
  }
  return out;
}

/**
 * The whole script: user triggers held off (by name, so triggers already disabled stay so), then
 * inserts parents first, updates parents first, deletes children first, so foreign keys hold at
 * every statement; sequences last. One transaction.
 */
export function renderDml(header: string, tables: readonly TableDml[], sequences: readonly string[], options: { transaction?: boolean } = {}): string {
  const touched = tables.filter((t) => t.inserts.length + t.updates.length + t.deletes.length > 0);
  if (touched.length === 0 && sequences.length === 0) return `-- ${header}\n-- No data differences.\n`;
  const ordered = foreignKeyOrder(touched.map((t) => t.table)).map((table) => touched.find((t) => t.table === table)!);
  const transaction = options.transaction !== false;
  const lines = [`-- ${header}`, ...(transaction ? ['BEGIN;'] : [])];
  // The values below are written in these settings: pinned here, whatever the session applying them has set.
  lines.push('-- the settings the values below are written in (until the end of the transaction)', valueSettingsSql({ local: true }));
  const triggers = (verb: 'DISABLE' | 'ENABLE') => ordered.flatMap((t) => t.table.triggers.map((g) => `ALTER TABLE ${qualified(t.table)} ${verb} TRIGGER ${quoteIdent(g)};`));
  lines.push(...triggers('DISABLE'));
  for (const t of ordered) if (t.inserts.length) lines.push(`-- ${tableId(t.table)}: ${t.inserts.length} row(s) inserted`, ...t.inserts);
  for (const t of ordered) if (t.updates.length) lines.push(`-- ${tableId(t.table)}: ${t.updates.length} row(s) updated`, ...t.updates);
  for (const t of [...ordered].reverse()) if (t.deletes.length) lines.push(`-- ${tableId(t.table)}: ${t.deletes.length} row(s) deleted`, ...t.deletes);
  lines.push(...triggers('ENABLE'));
  if (sequences.length) lines.push('-- sequences', ...sequences);
  if (transaction) lines.push('COMMIT;');
  return `${lines.join('\n')}\n`;
}
