import { quoteIdent, unnestAll } from '../postgres/quote.js';
import { type DataTable, tableName } from './catalog.js';
import type { KeyTuple, Side, TableDiff, TablePlan } from './compare.js';
import { keyObject } from './data-diff.js';
import type { Stage, StagedTable } from './merge-stage.js';
import { keyCondition } from './sql.js';
import { type Change, type MergeConflict, type MergeInput, type Resolution, settle, takesTheirs, type Values } from './merge-types.js';
import { valueText } from './value-text.js';

/** Keys whose rows are read and merged at a time. */
const MERGE_CHUNK = 5000;
/** Keys per query when a side's rows are read. */
const FETCH_BATCH = 1000;

const qualified = (t: { schema: string; name: string }) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;

/** Rows kept per table for the dry run's printed SQL; the rest is counted, not shown. */
export const PREVIEW_ROWS = 100;

/** A few of a table's merged rows, for the printed SQL (the apply works from the staging table). */
export interface KeyedPreview {
  readonly table: DataTable;
  readonly key: readonly string[];
  readonly inserts: Values[];
  readonly updates: { key: KeyTuple; values: Values }[];
  readonly deletes: KeyTuple[];
}

export function previewOf(table: DataTable, key: readonly string[]): KeyedPreview {
  return { table, key, inserts: [], updates: [], deletes: [] };
}

/** Stages a row (and keeps it for the preview while there is room). */
async function stageInsert(stage: Stage, t: StagedTable, preview: KeyedPreview, row: Values): Promise<void> {
  await stage.add(t, 'i', { v: t.writable.map((c) => row[c] ?? null) });
  if (preview.inserts.length < PREVIEW_ROWS) preview.inserts.push(row);
}

async function stageUpdate(stage: Stage, t: StagedTable, preview: KeyedPreview, key: KeyTuple, values: Values): Promise<void> {
  await stage.add(t, 'u', { k: key, v: t.writable.map((c) => values[c] ?? null), m: t.writable.map((c) => c in values) });
  if (preview.updates.length < PREVIEW_ROWS) preview.updates.push({ key, values });
}

async function stageDelete(stage: Stage, t: StagedTable, preview: KeyedPreview, key: KeyTuple): Promise<void> {
  await stage.add(t, 'd', { k: key });
  if (preview.deletes.length < PREVIEW_ROWS) preview.deletes.push(key);
}

/** A column the branch added (absent from the base): its default as the branch has it. */
interface AddedDefault {
  readonly name: string;
  readonly expr: string | null;
  /** A value per row (a sequence, a volatile function, an identity): no one value stands for the base. */
  readonly volatile: boolean;
}

/** The defaults of the branch's columns that the base lacks (generated columns aside). */
async function addedDefaults(theirs: Side, tb: DataTable, tx: DataTable): Promise<AddedDefault[]> {
  const added = tx.columns.filter((c) => !c.generated && !tb.columns.some((x) => x.name === c.name));
  if (added.length === 0) return [];
  const { rows } = await theirs.client.query<AddedDefault>(
    `SELECT a.attname AS name, pg_get_expr(d.adbin, d.adrelid) AS expr,
            a.attidentity <> '' OR coalesce(pg_get_expr(d.adbin, d.adrelid) ~* '(nextval|random|now|clock_timestamp|gen_random_uuid|uuid)', false) AS volatile
       FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = $1::regclass AND a.attname = ANY($2)`,
    [qualified(tx), added.map((c) => c.name)],
  );
  return rows;
}

/**
 * Keys of rows whose values in the columns the branch added (absent from the base) are not what
 * the column's default gives: the branch's backfill. With a default that differs per row (a
 * sequence, a volatile function), every row of the branch is one.
 */
export async function backfilled(theirs: Side, tb: DataTable, tx: DataTable, plan: TablePlan): Promise<KeyTuple[]> {
  const defaults = await addedDefaults(theirs, tb, tx);
  if (defaults.length === 0) return [];
  const perRow = defaults.some((d) => d.volatile);
  const condition = perRow ? 'true' : defaults.map((d) => `${quoteIdent(d.name)} IS DISTINCT FROM ${d.expr ?? 'NULL'}`).join(' OR ');
  const { rows } = await theirs.client.query({ text: `SELECT ${plan.key.map((k) => valueText(quoteIdent(k))).join(', ')} FROM ${qualified(tx)} WHERE ${condition}`, rowMode: 'array' });
  return rows as KeyTuple[];
}

/**
 * The base's value, for the three-way merge, of each column both the branch and the target added
 * (the schema merge found them alike): the column's default as the branch's type writes it (NULL
 * without one, or when it gives a value per row). A cell then merges as any other: the side that set
 * it away from that value wins, both setting it differently is a conflict.
 */
export async function addedBaseValues(theirs: Side, tb: DataTable, tx: DataTable, tt: DataTable): Promise<Map<string, string | null>> {
  const both = (await addedDefaults(theirs, tb, tx)).filter((d) => tt.columns.some((c) => c.name === d.name));
  const out = new Map<string, string | null>(both.map((d) => [d.name, null]));
  const constant = both.filter((d) => !d.volatile && d.expr !== null);
  if (constant.length === 0) return out;
  const typeOf = (c: string) => tx.columns.find((x) => x.name === c)!.type;
  const { rows: [row] } = await theirs.client.query({ text: `SELECT ${constant.map((d) => valueText(`(${d.expr})::${typeOf(d.name)}`)).join(', ')}`, rowMode: 'array' });
  constant.forEach((d, i) => out.set(d.name, (row as (string | null)[])[i] ?? null));
  return out;
}

export function withKeys(diff: TableDiff, keys: readonly KeyTuple[]): TableDiff {
  if (keys.length === 0) return diff;
  const known = new Set([...diff.added, ...diff.removed, ...diff.changed].map((k) => JSON.stringify(k)));
  return { ...diff, changed: [...diff.changed, ...keys.filter((k) => !known.has(JSON.stringify(k)))] };
}

/**
 * One side's rows of these keys (every column as text), in one query; by the JSON of the key asked
 * for (its place in the batch), not of the row's own key text. With `read`, also every key's row as
 * the target holds it now (md5 of its row text, null when absent), staged for the apply's check
 * (movedChecks). A row the join found has its key columns set (equal to something): the
 * null-extended row of a key the target lacks has not.
 */
async function rowsByKey(side: Side, table: DataTable, key: readonly string[], keys: readonly KeyTuple[], theirs: DataTable, read?: { stage: Stage; staged: StagedTable }): Promise<Map<string, Values>> {
  const out = new Map<string, Values>();
  if (keys.length === 0) return out;
  const columns = table.columns.map((c) => c.name);
  // The keys are the branch's: a key column it retyped is compared in its type (see keyCondition).
  const match = keyCondition(table, key, (i) => `k.c${i}`, theirs);
  const sql = `SELECT k.i, CASE WHEN t.${quoteIdent(key[0]!)} IS NOT NULL THEN ${read ? 'md5(ROW(t.*)::text)' : "''"} END, ${columns.map((c) => valueText(`t.${quoteIdent(c)}`)).join(', ')}
                 FROM ${unnestAll(key.map((_, i) => `$${i + 1}::text[]`))} WITH ORDINALITY AS k(${key.map((_, i) => `c${i}`).join(', ')}, i)
                 ${read ? 'LEFT ' : ''}JOIN ${qualified(table)} t ON ${match}`;
  // A batch of keys at a time: the planner joins a short list to the key's index row by row.
  for (let start = 0; start < keys.length; start += FETCH_BATCH) {
    const batch = keys.slice(start, start + FETCH_BATCH);
    const { rows } = await side.client.query({ text: sql, values: key.map((_, i) => batch.map((k) => k[i] ?? null)), rowMode: 'array' });
    for (const r of rows as (string | null)[][]) {
      const md5 = r[1] ?? null;
      if (read) await read.stage.read(read.staged, batch[Number(r[0]) - 1]!, md5);
      if (md5 === null) continue;
      const row = r.slice(2);
      // Filed under the key asked for (its place in the batch), not under the row's own key text: the
      // key's equality matched them, and a key main wrote differently (numeric 1.0 / 1.00, citext abc /
      // ABC) is the same row; its text then differs from the branch's as any other column's may.
      out.set(JSON.stringify(batch[Number(r[0]) - 1]!), Object.fromEntries(columns.map((c, i) => [c, row[i] ?? null])));
    }
  }
  return out;
}

/**
 * Casts texts to `type` and back on the branch's session: the text the target will hold once the
 * column has the branch's type. A value that does not cast stays as it is (the migration will say).
 */
async function asTheirType(theirs: Side, values: readonly (string | null)[], type: string): Promise<(string | null)[]> {
  if (values.length === 0) return [];
  await theirs.client.query('SAVEPOINT ayb_cast');
  try {
    const { rows } = await theirs.client.query({ text: `SELECT ${valueText(`x::${type}`)} FROM pg_catalog.unnest($1::text[]) WITH ORDINALITY AS u(x, i) ORDER BY i`, values: [values], rowMode: 'array' });
    await theirs.client.query('RELEASE SAVEPOINT ayb_cast');
    return (rows as (string | null)[][]).map((r) => r[0] ?? null);
  } catch {
    await theirs.client.query('ROLLBACK TO SAVEPOINT ayb_cast');
    return [...values];
  }
}

/** Rewrites, in place, the values of columns whose type differs from the branch's, as the branch's type would hold them. */
async function normalise(theirs: Side, rows: Map<string, Values>, from: DataTable, to: DataTable): Promise<void> {
  for (const column of from.columns) {
    const target = to.columns.find((c) => c.name === column.name);
    if (!target || target.type === column.type) continue;
    const ids = [...rows.keys()];
    const cast = await asTheirType(theirs, ids.map((id) => rows.get(id)![column.name] ?? null), target.type);
    ids.forEach((id, i) => {
      rows.get(id)![column.name] = cast[i] ?? null;
    });
  }
}

const pick = (row: Values, columns: readonly string[]): Values => Object.fromEntries(columns.map((c) => [c, row[c] ?? null]));

/** The values a resolution sets in the conflicting columns; undefined to keep the target's. */
function resolvedValues(conflict: MergeConflict, theirsRow: Values, columns: readonly string[]): Values | undefined {
  const r: Resolution | null = conflict.resolution;
  if (r === null || r === 'ours') return undefined;
  if (r === 'theirs') return pick(theirsRow, columns);
  return { ...r };
}

/** One keyed table's three-way merge: its sides' tables, and where its result goes. */
export interface KeyedJob {
  readonly input: MergeInput;
  readonly tb: DataTable;
  readonly tx: DataTable;
  readonly tt: DataTable;
  /** The base's value of each column both sides added (see addedBaseValues). */
  readonly addedBase: ReadonlyMap<string, string | null>;
  readonly plan: TablePlan;
  readonly stage: Stage;
  readonly staged: StagedTable;
  readonly preview: KeyedPreview;
  readonly conflicts: MergeConflict[];
}

/**
 * Merges a keyed table cell by cell, a chunk of the branch's changed keys at a time: the three
 * sides' rows of one chunk are in memory, the result goes to the staging table (with the target's
 * rows as read, for the apply's check).
 */
export async function mergeKeyed(job: KeyedJob, theirsDiff: TableDiff): Promise<void> {
  const { input, tb, tx, tt, plan } = job;
  for (const kind of ['added', 'removed', 'changed'] as const) {
    const keys = theirsDiff[kind];
    for (let start = 0; start < keys.length; start += MERGE_CHUNK) {
      const chunk = keys.slice(start, start + MERGE_CHUNK);
      const [inBase, inTheirs, inOurs] = await Promise.all([
        kind === 'added' ? new Map<string, Values>() : rowsByKey(input.base, tb, plan.key, chunk, tx),
        kind === 'removed' ? new Map<string, Values>() : rowsByKey(input.theirs, tx, plan.key, chunk, tx),
        rowsByKey(input.ours, tt, plan.key, chunk, tx, { stage: job.stage, staged: job.staged }),
      ]);
      await normalise(input.theirs, inBase, tb, tx);
      await normalise(input.theirs, inOurs, tt, tx);
      for (const k of chunk) {
        const id = JSON.stringify(k);
        await mergeRow(job, k, kind, inBase.get(id), inTheirs.get(id), inOurs.get(id));
      }
    }
  }
}

/** One key's three-way merge, in ayb (the Node path; the server path sends it the rows that conflict). */
export async function mergeRow(job: KeyedJob, k: KeyTuple, their: Change, baseRow: Values | undefined, t: Values | undefined, o: Values | undefined): Promise<void> {
  const { input, tb, tx, tt, stage, staged, preview, conflicts } = job;
  const writable = staged.writable;
  // A column both sides added is, in the base, its default (addedBaseValues): merged as any other.
  const b = baseRow && { ...Object.fromEntries(job.addedBase), ...baseRow };
  const inBaseColumns = new Set([...tb.columns.map((c) => c.name), ...job.addedBase.keys()]);
  const inOursColumns = new Set(tt.columns.map((c) => c.name));
  const table = tableName(tx);
  const named = { schema: tx.schema, name: tx.name };
  const key = keyObject(job.plan.key, k);
  const same = (x: Values, y: Values, columns: readonly string[]) => columns.every((c) => (x[c] ?? null) === (y[c] ?? null));
  if (t === undefined) {
    // The branch removed the row.
    if (o === undefined) return;
    if (b !== undefined && same(b, o, [...inBaseColumns].filter((c) => inOursColumns.has(c)))) return stageDelete(stage, staged, preview, k);
    const c = settle(input, { table, ...named, key, ours: 'changed', theirs: their, columns: [], base: b ?? null, our: o, their: null });
    conflicts.push(c);
    if (takesTheirs(c.resolution)) await stageDelete(stage, staged, preview, k);
    return;
  }
  if (b === undefined) {
    // The branch added the row (or a row of that key).
    if (o === undefined) return stageInsert(stage, staged, preview, pick(t, writable));
    // Columns only the branch has (it added them): its values, whatever else happens.
    const onlyTheirs = pick(t, writable.filter((c) => !inOursColumns.has(c)));
    const differing = writable.filter((c) => inOursColumns.has(c) && (o[c] ?? null) !== (t[c] ?? null));
    let set: Values | undefined;
    if (differing.length > 0) {
      const c = settle(input, { table, ...named, key, ours: 'added', theirs: 'added', columns: differing, base: null, our: pick(o, differing), their: pick(t, differing) });
      conflicts.push(c);
      set = resolvedValues(c, t, differing);
    }
    const values = { ...onlyTheirs, ...set };
    if (Object.keys(values).length > 0) await stageUpdate(stage, staged, preview, k, values);
    return;
  }
  // The branch changed the row.
  if (o === undefined) {
    const c = settle(input, { table, ...named, key, ours: 'removed', theirs: their, columns: [], base: b, our: null, their: t });
    conflicts.push(c);
    if (takesTheirs(c.resolution)) await stageInsert(stage, staged, preview, pick(t, writable));
    return;
  }
  const set: Values = {};
  const clashing: string[] = [];
  for (const column of writable) {
    const tv = t[column] ?? null;
    if (!inBaseColumns.has(column)) {
      // A column only the branch added: the target's value is the migration's default; the branch's wins.
      set[column] = tv;
      continue;
    }
    const bv = b[column] ?? null;
    if (tv === bv) continue;
    const ov = inOursColumns.has(column) ? (o[column] ?? null) : bv;
    if (ov === bv) set[column] = tv;
    else if (ov !== tv) clashing.push(column);
  }
  if (clashing.length > 0) {
    const c = settle(input, { table, ...named, key, ours: 'changed', theirs: 'changed', columns: clashing, base: pick(b, clashing), our: pick(o, clashing), their: pick(t, clashing) });
    conflicts.push(c);
    Object.assign(set, resolvedValues(c, t, clashing) ?? {});
  }
  // A retyped column's values: set when the text the target holds is not the branch's.
  for (const column of writable) {
    if (column in set || !inOursColumns.has(column) || !inBaseColumns.has(column) || clashing.includes(column)) continue;
    const retyped = tx.columns.find((c) => c.name === column)!.type !== tt.columns.find((c) => c.name === column)!.type;
    if (retyped && (o[column] ?? null) === (b[column] ?? null) && (t[column] ?? null) !== (o[column] ?? null)) set[column] = t[column] ?? null;
  }
  if (Object.keys(set).length > 0) await stageUpdate(stage, staged, preview, k, set);
}
