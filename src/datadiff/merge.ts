import { createHash } from 'node:crypto';
import { quoteIdent, quoteLiteral } from '../postgres/quote.js';
import { type DataTable, tableId } from './catalog.js';
import { diffTable, type KeyTuple, multisetDeltas, multisetFromDeltas, planTable, type Side, type TableDiff, type TablePlan } from './compare.js';
import { keyObject } from './data-diff.js';
import { fetchRows, foreignKeyOrder, sqlValue, tableDml } from './sql.js';

export type MergeStrategy = 'fail' | 'ours' | 'theirs';

type Change = 'added' | 'removed' | 'changed';
type Values = Record<string, string | null>;

/** How one conflict is settled: keep the target's values, take the branch's, or set these column values. */
export type Resolution = 'ours' | 'theirs' | Values;

/**
 * A row both sides changed since the base in ways that cannot both hold: the same column set to
 * different values (`columns` names them), or one side removed a row the other changed or added,
 * or the branch removed a row whose delete would cascade onto rows the target added or changed
 * (`cascade` names them). `base`, `our` and `their` are the values of the conflicting columns (of
 * the whole row for a row conflict; null where that side has no row).
 */
export interface MergeConflict {
  readonly table: string;
  /** The key (or, for tables without one, the row). */
  readonly key: Values;
  /** What each side did to the row since the base. */
  readonly ours: Change;
  readonly theirs: Change;
  readonly columns: readonly string[];
  readonly base: Values | null;
  readonly our: Values | null;
  readonly their: Values | null;
  readonly cascade?: readonly { readonly table: string; readonly key: Values }[];
  /** How it was settled: by a resolution file, by `--strategy`, or not at all (`null`). */
  readonly resolution: Resolution | null;
}

export interface TableMerge {
  readonly table: string;
  readonly inserted: number;
  readonly updated: number;
  readonly deleted: number;
  readonly conflicts: number;
}

export interface DataMergePlan {
  readonly tables: readonly TableMerge[];
  readonly conflicts: readonly MergeConflict[];
  /** The DML for the target, without BEGIN/COMMIT, for a target whose schema is already migrated. */
  readonly sql: string;
  /** The target's rows the plan was made from, per table, to check nothing moved before applying them. */
  readonly readRows: readonly PlannedRead[];
  /** Rows of the target that reference rows the plan deletes, as read while planning: checked again before applying. */
  readonly readReferences: readonly PlannedQuery[];
  /** True when the branch changed no row since the base. */
  readonly unchanged: boolean;
}

/** Rows of the target read while planning: the apply step reads them again and refuses if they moved. */
export interface PlannedRead {
  readonly plan: TablePlan;
  readonly keys: readonly KeyTuple[];
  /** rowDigest of each row the target had, by key JSON; absent: no row. */
  readonly digests: ReadonlyMap<string, string>;
}

/** A query of the target run while planning, and a digest of its rows: the apply runs it again and refuses if they moved. */
export interface PlannedQuery {
  readonly table: string;
  readonly sql: string;
  readonly values: readonly (readonly (string | null)[])[];
  readonly digest: string;
}

/** A digest of a query's rows, whatever their order. */
export function rowsDigest(rows: readonly (readonly (string | null)[])[]): string {
  return createHash('sha1').update(JSON.stringify(rows.map((r) => JSON.stringify(r)).sort())).digest('base64');
}

/** Keys whose rows are read and merged at a time. */
const MERGE_CHUNK = 5000;

/** A short fingerprint of a row's texts (column order of the target's table). */
export function rowDigest(row: readonly (string | null)[]): string {
  return createHash('sha1').update(JSON.stringify(row)).digest('base64');
}

/** What identifies a conflict in a resolution file: its place and the values each side holds (a stale entry matches nothing). */
export function conflictId(c: Pick<MergeConflict, 'table' | 'key' | 'columns' | 'our' | 'their'>): string {
  return JSON.stringify([c.table, c.key, c.columns, c.our, c.their]);
}

export interface MergeInput {
  readonly base: Side;
  /** The branch. */
  readonly theirs: Side;
  /** The target, read before any change (its schema not yet migrated). */
  readonly ours: Side;
  readonly strategy: MergeStrategy;
  /** Resolutions from a conflicts file, by conflictId. */
  readonly resolutions?: ReadonlyMap<string, Resolution>;
}

/** A table without a key: whole-row inserts and deletes, as statements (sql.ts writes them). */
interface KeylessDml {
  readonly table: DataTable;
  readonly inserts: string[];
  readonly deletes: string[];
}

interface RowEdit {
  readonly key: KeyTuple;
  readonly values: Values;
}

interface KeyedDml {
  readonly table: DataTable;
  /** The columns rows are matched by (updates and deletes). */
  readonly key: readonly string[];
  readonly inserts: Values[];
  readonly updates: RowEdit[];
  readonly deletes: KeyTuple[];
}

/**
 * Plans a three-way, cell-wise merge of rows: what `theirs` (the branch) changed since `base` is
 * brought into `ours` (the target). A column the branch set is set in the target unless the target
 * set that same column of that row to another value since the base: a conflict. Only the branch's
 * changed rows are read on each side. Values of a column the branch retyped are compared as the
 * target will hold them (the base's and the target's text cast to the branch's type). The plan
 * reads the target only (a read-only transaction): nothing runs there until it is applied.
 */
export async function planDataMerge(input: MergeInput): Promise<DataMergePlan> {
  const { base, theirs, ours } = input;
  const tables: TableMerge[] = [];
  const conflicts: MergeConflict[] = [];
  const keyed: KeyedDml[] = [];
  const keyless: KeylessDml[] = [];
  const reads: PlannedRead[] = [];
  const deletesByTable = new Map<string, { plan: TablePlan; keys: KeyTuple[] }>();
  let unchanged = true;
  for (const [id, tx] of theirs.catalog.tables) {
    const tb = base.catalog.tables.get(id);
    const tt = ours.catalog.tables.get(id);
    if (!tt && !tb) {
      // A table the branch created: the migration creates it empty; all its rows are the branch's.
      const rows = await allRows(theirs, tx);
      if (rows.length > 0) unchanged = false;
      keyed.push({ table: tx, key: [], inserts: rows, updates: [], deletes: [] });
      tables.push({ table: id, inserted: rows.length, updated: 0, deleted: 0, conflicts: 0 });
      continue;
    }
    if (!tb || !tt) continue; // created on both sides, or dropped by the target: the schema merge's business
    const planBT = planTable(tb, tx);
    let theirsDiff = await diffTable(base, theirs, planBT);
    if (planBT.match === 'rows') {
      if (theirsDiff.added.length + theirsDiff.removed.length === 0) continue;
      unchanged = false;
      const found: MergeConflict[] = [];
      const restricted = mergeMultiset(theirsDiff, await diffTable(base, ours, planTable(tb, tt)), input, found);
      conflicts.push(...found);
      const dml = await tableDml(ours, theirs, restricted);
      keyless.push({ table: dml.table, inserts: dml.inserts, deletes: dml.deletes });
      tables.push({ table: id, inserted: dml.inserts.length, updated: 0, deleted: dml.deletes.length, conflicts: found.length });
      continue;
    }
    if (theirsDiff.added.length + theirsDiff.removed.length + theirsDiff.changed.length > 0) unchanged = false;
    theirsDiff = withKeys(theirsDiff, await backfilled(theirs, tb, tx, planBT));
    if (theirsDiff.added.length + theirsDiff.removed.length + theirsDiff.changed.length === 0) continue;
    unchanged = false;
    const found: MergeConflict[] = [];
    const result = await mergeKeyed(input, tb, tx, tt, planBT, theirsDiff, found);
    conflicts.push(...found);
    keyed.push(result.dml);
    reads.push(result.read);
    if (result.dml.deletes.length > 0) {
      deletesByTable.set(id, { plan: result.read.plan, keys: result.dml.deletes });
    }
    tables.push({ table: id, inserted: result.dml.inserts.length, updated: result.dml.updates.length, deleted: result.dml.deletes.length, conflicts: found.length });
  }
  // Deletes that would cascade onto rows the target added or changed since the base.
  const references: PlannedQuery[] = [];
  for (const cascade of await cascadeConflicts(input, deletesByTable, references, keyed)) {
    conflicts.push(cascade.conflict);
    const table = tables.findIndex((t) => t.table === cascade.conflict.table);
    if (table >= 0) tables[table] = { ...tables[table]!, conflicts: tables[table]!.conflicts + 1 };
    if (!takesTheirs(cascade.conflict.resolution)) {
      const dml = keyed.find((k) => tableId(k.table) === cascade.conflict.table)!;
      const at = dml.deletes.findIndex((d) => JSON.stringify(d) === JSON.stringify(cascade.key));
      if (at >= 0) {
        dml.deletes.splice(at, 1);
        if (table >= 0) tables[table] = { ...tables[table]!, deleted: tables[table]!.deleted - 1 };
      }
    }
  }
  const sequences = await sequenceMerge(base, theirs, ours);
  return { tables, conflicts, readRows: reads, readReferences: references, unchanged: unchanged && sequences.length === 0, sql: renderMergeDml(keyed, keyless, sequences) };
}

/** A conflict counts as settled toward the branch when resolved so (a file, or --strategy theirs). */
function takesTheirs(resolution: Resolution | null): boolean {
  return resolution === 'theirs';
}

function settle(input: MergeInput, conflict: Omit<MergeConflict, 'resolution'>): MergeConflict {
  const fromFile = input.resolutions?.get(conflictId(conflict));
  const resolution = fromFile ?? (input.strategy === 'fail' ? null : input.strategy);
  return { ...conflict, resolution };
}

/** Every row of a table, as column → text (the writable columns). */
async function allRows(side: Side, table: DataTable): Promise<Values[]> {
  const columns = table.columns.filter((c) => !c.generated).map((c) => c.name);
  if (columns.length === 0) return [];
  const { rows } = await side.client.query({ text: `SELECT ${columns.map((c) => `${quoteIdent(c)}::text`).join(', ')} FROM ${qualified(table)}`, rowMode: 'array' });
  return (rows as (string | null)[][]).map((r) => Object.fromEntries(columns.map((c, i) => [c, r[i] ?? null])));
}

/**
 * Keys of rows whose values in the columns the branch added (absent from the base) are not what
 * the column's default gives: the branch's backfill. With a default that differs per row (a
 * sequence, a volatile function), every row of the branch is one.
 */
async function backfilled(theirs: Side, tb: DataTable, tx: DataTable, plan: TablePlan): Promise<KeyTuple[]> {
  const added = tx.columns.filter((c) => !c.generated && !tb.columns.some((x) => x.name === c.name));
  if (added.length === 0) return [];
  const { rows: defaults } = await theirs.client.query<{ name: string; expr: string | null; volatile: boolean; identity: boolean }>(
    `SELECT a.attname AS name, pg_get_expr(d.adbin, d.adrelid) AS expr, a.attidentity <> '' AS identity,
            coalesce(pg_get_expr(d.adbin, d.adrelid) ~* '(nextval|random|now|clock_timestamp|gen_random_uuid|uuid)', false) AS volatile
       FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = $1::regclass AND a.attname = ANY($2)`,
    [qualified(tx), added.map((c) => c.name)],
  );
  const perRow = defaults.some((d) => d.volatile || d.identity);
  const condition = perRow ? 'true' : defaults.map((d) => `${quoteIdent(d.name)} IS DISTINCT FROM ${d.expr ?? 'NULL'}`).join(' OR ');
  const { rows } = await theirs.client.query({ text: `SELECT ${plan.key.map((k) => `${quoteIdent(k)}::text`).join(', ')} FROM ${qualified(tx)} WHERE ${condition}`, rowMode: 'array' });
  return rows as KeyTuple[];
}

function withKeys(diff: TableDiff, keys: readonly KeyTuple[]): TableDiff {
  if (keys.length === 0) return diff;
  const known = new Set([...diff.added, ...diff.removed, ...diff.changed].map((k) => JSON.stringify(k)));
  return { ...diff, changed: [...diff.changed, ...keys.filter((k) => !known.has(JSON.stringify(k)))] };
}

/** A plan reading every column of one side's table by the given key. */
function sidePlan(table: DataTable, key: readonly string[], match: TablePlan['match']): TablePlan {
  return { schema: table.schema, name: table.name, match, key, columns: table.columns.map((c) => c.name), columnsDiffer: false, integerKey: false };
}

/** Rows by key JSON, as column → text. */
async function rowsByKey(side: Side, plan: TablePlan, keys: readonly KeyTuple[]): Promise<Map<string, Values>> {
  const out = new Map<string, Values>();
  if (keys.length === 0) return out;
  for (const [id, row] of await fetchRows(side, plan, keys)) out.set(id, Object.fromEntries(plan.columns.map((c, i) => [c, row[i] ?? null])));
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
    const { rows } = await theirs.client.query({ text: `SELECT x::${type}::text FROM unnest($1::text[]) WITH ORDINALITY AS u(x, i) ORDER BY i`, values: [values], rowMode: 'array' });
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

async function mergeKeyed(input: MergeInput, tb: DataTable, tx: DataTable, tt: DataTable, planBT: TablePlan, theirsDiff: TableDiff, conflicts: MergeConflict[]) {
  const { base, theirs, ours } = input;
  const key = planBT.key;
  const keys = [...theirsDiff.added, ...theirsDiff.removed, ...theirsDiff.changed];
  const theirsKind = new Map<string, Change>();
  for (const kind of ['added', 'removed', 'changed'] as const) for (const k of theirsDiff[kind]) theirsKind.set(JSON.stringify(k), kind);
  const oursPlan = sidePlan(tt, key, planBT.match);
  const writable = tx.columns.filter((c) => !c.generated).map((c) => c.name);
  const inBaseColumns = new Set(tb.columns.map((c) => c.name));
  const inOursColumns = new Set(tt.columns.map((c) => c.name));
  const dml: KeyedDml = { table: tx, key, inserts: [], updates: [], deletes: [] };
  const table = tableId(tx);
  const keyValues = (k: KeyTuple) => keyObject(key, k);
  const same = (a: Values | undefined, b: Values | undefined, columns: readonly string[]) =>
    a === undefined ? b === undefined : b !== undefined && columns.every((c) => (a[c] ?? null) === (b[c] ?? null));
  const shared = writable.filter((c) => inOursColumns.has(c));
  const digests = new Map<string, string>();

  // A chunk of keys at a time: the three sides' rows of one chunk are in memory, not all of them.
  for (let start = 0; start < keys.length; start += MERGE_CHUNK) {
    const chunk = keys.slice(start, start + MERGE_CHUNK);
    const kindOf = (k: KeyTuple) => theirsKind.get(JSON.stringify(k));
    const [inBase, inTheirs, inOurs] = await Promise.all([
      rowsByKey(base, sidePlan(tb, key, planBT.match), chunk.filter((k) => kindOf(k) !== 'added')),
      rowsByKey(theirs, sidePlan(tx, key, planBT.match), chunk.filter((k) => kindOf(k) !== 'removed')),
      rowsByKey(ours, oursPlan, chunk),
    ]);
    for (const [id, row] of inOurs) digests.set(id, rowDigest(Object.values(row)));
    await normalise(theirs, inBase, tb, tx);
    await normalise(theirs, inOurs, tt, tx);

    for (const k of chunk) {
      const id = JSON.stringify(k);
      const [b, t, o] = [inBase.get(id), inTheirs.get(id), inOurs.get(id)];
      const their = theirsKind.get(id)!;
      if (t === undefined) {
        // The branch removed the row.
        if (o === undefined) continue;
        const baseColumns = [...inBaseColumns].filter((c) => inOursColumns.has(c));
        if (b !== undefined && same(b, o, baseColumns)) {
          dml.deletes.push(k);
          continue;
        }
        const c = settle(input, { table, key: keyValues(k), ours: 'changed', theirs: their, columns: [], base: b ?? null, our: o, their: null });
        conflicts.push(c);
        if (takesTheirs(c.resolution)) dml.deletes.push(k);
        continue;
      }
      if (b === undefined) {
        // The branch added the row (or a row of that key).
        if (o === undefined) {
          dml.inserts.push(pick(t, writable));
          continue;
        }
        // Columns only the branch has (it added them): its values, whatever else happens.
        const onlyTheirs = pick(t, writable.filter((c) => !inOursColumns.has(c)));
        const differing = shared.filter((c) => (o[c] ?? null) !== (t[c] ?? null));
        let set: Values | undefined;
        if (differing.length > 0) {
          const c = settle(input, { table, key: keyValues(k), ours: 'added', theirs: 'added', columns: differing, base: null, our: pick(o, differing), their: pick(t, differing) });
          conflicts.push(c);
          set = resolvedValues(c, t, differing);
        }
        const values = { ...onlyTheirs, ...set };
        if (Object.keys(values).length > 0) dml.updates.push({ key: k, values });
        continue;
      }
      // The branch changed the row.
      if (o === undefined) {
        const c = settle(input, { table, key: keyValues(k), ours: 'removed', theirs: their, columns: [], base: b, our: null, their: t });
        conflicts.push(c);
        if (takesTheirs(c.resolution)) dml.inserts.push(pick(t, writable));
        continue;
      }
      const set: Values = {};
      const clashing: string[] = [];
      for (const column of writable) {
        const tv = t[column] ?? null;
        if (!inBaseColumns.has(column)) {
          // A column the branch added: the target's value is the migration's default; the branch's wins.
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
        const c = settle(input, { table, key: keyValues(k), ours: 'changed', theirs: 'changed', columns: clashing, base: pick(b, clashing), our: pick(o, clashing), their: pick(t, clashing) });
        conflicts.push(c);
        Object.assign(set, resolvedValues(c, t, clashing) ?? {});
      }
      // A retyped column's values: set when the text the target holds is not the branch's.
      for (const column of writable) {
        if (column in set || !inOursColumns.has(column) || !inBaseColumns.has(column) || clashing.includes(column)) continue;
        const retyped = tx.columns.find((c) => c.name === column)!.type !== tt.columns.find((c) => c.name === column)!.type;
        if (retyped && (o[column] ?? null) === (b[column] ?? null) && (t[column] ?? null) !== (o[column] ?? null)) set[column] = t[column] ?? null;
      }
      if (Object.keys(set).length > 0) dml.updates.push({ key: k, values: set });
    }
  }
  const read: PlannedRead = { plan: oursPlan, keys, digests };
  return { dml, read };
}

/** The values a resolution sets in the conflicting columns; undefined to keep the target's. */
function resolvedValues(conflict: MergeConflict, theirsRow: Values, columns: readonly string[]): Values | undefined {
  const r = conflict.resolution;
  if (r === null || r === 'ours') return undefined;
  if (r === 'theirs') return pick(theirsRow, columns);
  return { ...r };
}

/**
 * Deletes the merge would run that cascade (ON DELETE CASCADE, SET NULL, SET DEFAULT) onto rows of
 * the target that the base does not have as they are, or that such rows still reference (NO ACTION,
 * RESTRICT: the delete would fail): rows the target added or changed since the base. Each such
 * delete is a conflict; kept (the row stays) unless settled toward the branch.
 */
async function cascadeConflicts(input: MergeInput, deletes: Map<string, { plan: TablePlan; keys: KeyTuple[] }>, references: PlannedQuery[], keyed: readonly KeyedDml[]): Promise<{ conflict: MergeConflict; key: KeyTuple }[]> {
  if (deletes.size === 0) return [];
  const { ours, base } = input;
  const { rows: fks } = await ours.client.query<{ child_schema: string; child: string; parent_schema: string; parent: string; child_columns: string[]; parent_columns: string[] }>(
    `SELECT cn.nspname AS child_schema, cc.relname AS child, pn.nspname AS parent_schema, pc.relname AS parent,
            ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i) AS child_columns,
            ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i) AS parent_columns
       FROM pg_constraint con
       JOIN pg_class cc ON cc.oid = con.conrelid JOIN pg_namespace cn ON cn.oid = cc.relnamespace
       JOIN pg_class pc ON pc.oid = con.confrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
      WHERE con.contype = 'f'`,
  );
  const found = new Map<string, { conflict: Omit<MergeConflict, 'resolution'>; key: KeyTuple; cascade: { table: string; key: Values }[] }>();
  for (const fk of fks) {
    const parentId = `${fk.parent_schema}.${fk.parent}`;
    const del = deletes.get(parentId);
    const child = ours.catalog.tables.get(`${fk.child_schema}.${fk.child}`);
    if (!del || !child) continue;
    const parent = ours.catalog.tables.get(parentId)!;
    const typeOf = (t: DataTable, c: string) => t.columns.find((x) => x.name === c)!.type;
    const childKey = child.key?.columns ?? child.columns.map((c) => c.name);
    const childBase = base.catalog.tables.get(tableId(child));
    const compared = child.columns.map((c) => c.name).filter((c) => childBase?.columns.some((x) => x.name === c));
    const join = del.plan.key.map((k, i) => `p.${quoteIdent(k)} = d.c${i}::${typeOf(parent, k)}`).join(' AND ');
    const sql = `SELECT ${del.plan.key.map((k) => `p.${quoteIdent(k)}::text`).join(', ')}, json_build_array(${childKey.map((c) => `c.${quoteIdent(c)}::text`).join(', ')})::text, ROW(${compared.map((c) => `c.${quoteIdent(c)}`).join(', ')})::text
                   FROM ${qualified(parent)} p JOIN unnest(${del.plan.key.map((_, i) => `$${i + 1}::text[]`).join(', ')}) AS d(${del.plan.key.map((_, i) => `c${i}`).join(', ')}) ON ${join}
                   JOIN ${qualified(child)} c ON ${fk.child_columns.map((c, i) => `c.${quoteIdent(c)} = p.${quoteIdent(fk.parent_columns[i]!)}`).join(' AND ')}`;
    const values = del.plan.key.map((_, i) => del.keys.map((k) => k[i] ?? null));
    const { rows } = await ours.client.query({ text: sql, values, rowMode: 'array' });
    // A row the target adds later (before the apply) would be lost to the cascade: the apply reads these again.
    references.push({ table: tableId(child), sql, values, digest: rowsDigest(rows as (string | null)[][]) });
    if (rows.length === 0) continue;
    // The same rows in the base, by the child's key: absent or different means the target added or changed them.
    const children = (rows as (string | null)[][]).map((r) => ({ parentKey: r.slice(0, del.plan.key.length) as KeyTuple, childKey: JSON.parse(r.at(-2)!) as KeyTuple, text: r.at(-1)! }));
    const inBase = new Map<string, string>();
    if (childBase && compared.length > 0) {
      const bjoin = childKey.map((c, i) => `c.${quoteIdent(c)} = k.c${i}::${typeOf(child, c)}`).join(' AND ');
      const { rows: baseRows } = await base.client.query({
        text: `SELECT json_build_array(${childKey.map((c) => `c.${quoteIdent(c)}::text`).join(', ')})::text, ROW(${compared.map((c) => `c.${quoteIdent(c)}`).join(', ')})::text
                 FROM ${qualified(child)} c JOIN unnest(${childKey.map((_, i) => `$${i + 1}::text[]`).join(', ')}) AS k(${childKey.map((_, i) => `c${i}`).join(', ')}) ON ${bjoin}`,
        values: childKey.map((_, i) => children.map((c) => c.childKey[i])),
        rowMode: 'array',
      });
      for (const r of baseRows as string[][]) inBase.set(JSON.stringify(JSON.parse(r[0]!)), r[1]!);
    }
    // Rows the merge itself deletes, or points elsewhere (it sets the referencing columns, as the
    // branch's own cascade did): the delete does not reach them.
    const handled = new Set<string>();
    const dml = keyed.find((k) => tableId(k.table) === tableId(child));
    if (dml && JSON.stringify(dml.key) === JSON.stringify(childKey)) {
      for (const d of dml.deletes) handled.add(JSON.stringify(d));
      for (const u of dml.updates) if (fk.child_columns.every((c) => c in u.values)) handled.add(JSON.stringify(u.key));
    }
    for (const c of children) {
      if (inBase.get(JSON.stringify(c.childKey)) === c.text || handled.has(JSON.stringify(c.childKey))) continue;
      const id = JSON.stringify([parentId, c.parentKey]);
      const entry = found.get(id) ?? {
        key: c.parentKey,
        cascade: [],
        conflict: { table: parentId, key: keyObject(del.plan.key, c.parentKey), ours: 'changed' as Change, theirs: 'removed' as Change, columns: [], base: null, our: null, their: null },
      };
      entry.cascade.push({ table: tableId(child), key: keyObject(childKey, c.childKey) });
      found.set(id, entry);
    }
  }
  return [...found.values()].map((e) => ({ key: e.key, conflict: settle(input, { ...e.conflict, cascade: e.cascade }) }));
}

/** Without a key, a row's number of copies is what changes: the branch's change in count is applied. */
function mergeMultiset(theirsDiff: TableDiff, oursDiff: TableDiff, input: MergeInput, conflicts: MergeConflict[]): TableDiff {
  const [dx, dt] = [multisetDeltas(theirsDiff), multisetDeltas(oursDiff)];
  const plan = theirsDiff.plan;
  const apply = new Map<string, number>();
  for (const [row, deltaTheirs] of dx) {
    const deltaOurs = dt.get(row);
    if (deltaOurs === undefined) apply.set(row, deltaTheirs);
    else if (deltaOurs !== deltaTheirs) {
      const kind = (n: number): Change => (n > 0 ? 'added' : 'removed');
      const values = keyObject(plan.key, JSON.parse(row) as KeyTuple);
      const c = settle(input, { table: tableId(plan), key: values, ours: kind(deltaOurs), theirs: kind(deltaTheirs), columns: [], base: null, our: { copies: String(deltaOurs) }, their: { copies: String(deltaTheirs) } });
      conflicts.push(c);
      // theirs: leave the branch's number of copies, whatever the target did.
      if (takesTheirs(c.resolution)) apply.set(row, deltaTheirs - deltaOurs);
    }
  }
  return multisetFromDeltas(plan, apply);
}

const qualified = (t: { schema: string; name: string }) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;

/**
 * Sequences move forward to the branch's value when the branch advanced them further, never back;
 * a sequence the branch created (the migration creates it fresh) takes the branch's state.
 */
async function sequenceMerge(base: Side, theirs: Side, ours: Side): Promise<string[]> {
  const present = (side: Side) => new Set(side.catalog.sequences.map(tableId));
  const [inBase, inOurs] = [present(base), present(ours)];
  const out: string[] = [];
  type State = { last_value: string; is_called: boolean };
  const state = (side: Side, name: string) => side.client.query<State>(`SELECT last_value::text AS last_value, is_called FROM ${name}`).then((r) => r.rows[0]!);
  for (const seq of theirs.catalog.sequences) {
    const id = tableId(seq);
    const name = qualified(seq);
    const t = await state(theirs, name);
    if (!inBase.has(id)) {
      if (!inOurs.has(id) && t.is_called) out.push(`SELECT pg_catalog.setval(${quoteLiteral(name)}, ${t.last_value}, true);`);
      continue;
    }
    if (!inOurs.has(id)) continue;
    const [b, o] = await Promise.all([state(base, name), state(ours, name)]);
    if (b.last_value === t.last_value && b.is_called === t.is_called) continue;
    if (BigInt(t.last_value) > BigInt(o.last_value) || (t.last_value === o.last_value && t.is_called && !o.is_called)) {
      out.push(`SELECT pg_catalog.setval(${quoteLiteral(name)}, ${t.last_value}, ${t.is_called});`);
    }
  }
  return out;
}

/**
 * The DML script, for a target already migrated: user triggers held off by name, inserts parents
 * first, updates parents first, deletes children first, sequences last. Values are cast to the
 * branch's column types (the target's, once migrated).
 */
function renderMergeDml(keyed: readonly KeyedDml[], keyless: readonly KeylessDml[], sequences: readonly string[]): string {
  const header = '-- rows changed on the branch since its base';
  const touchedKeyed = keyed.filter((t) => t.inserts.length + t.updates.length + t.deletes.length > 0);
  const touchedKeyless = keyless.filter((t) => t.inserts.length + t.deletes.length > 0);
  if (touchedKeyed.length + touchedKeyless.length === 0 && sequences.length === 0) return `${header}\n-- No data differences.\n`;
  const order = foreignKeyOrder([...touchedKeyed, ...touchedKeyless].map((t) => t.table));
  const lines = [header];
  const triggers = (verb: 'DISABLE' | 'ENABLE') => order.flatMap((t) => t.triggers.map((g) => `ALTER TABLE ${qualified(t)} ${verb} TRIGGER ${quoteIdent(g)};`));
  const typeOf = (t: DataTable, c: string) => t.columns.find((x) => x.name === c)!.type;
  const where = (t: KeyedDml, key: KeyTuple) => t.key.map((k, i) => `${quoteIdent(k)} = ${sqlValue(key[i] ?? null, typeOf(t.table, k))}`).join(' AND ');
  const keyedOf = (table: DataTable) => touchedKeyed.find((t) => t.table === table);
  const keylessOf = (table: DataTable) => touchedKeyless.find((t) => t.table === table);
  lines.push(...triggers('DISABLE'));
  for (const table of order) {
    const k = keyedOf(table);
    const l = keylessOf(table);
    if (l && l.inserts.length > 0) lines.push(`-- ${tableId(table)}: ${l.inserts.length} row(s) inserted`, ...l.inserts);
    if (!k || k.inserts.length === 0) continue;
    const columns = Object.keys(k.inserts[0]!);
    const overriding = table.columns.some((c) => c.identityAlways && columns.includes(c.name)) ? ' OVERRIDING SYSTEM VALUE' : '';
    // One statement per table: rows that reference each other (a self-referencing key) are checked
    // at its end, whatever their order.
    lines.push(`-- ${tableId(table)}: ${k.inserts.length} row(s) inserted`);
    const values = k.inserts.map((row) => `  (${columns.map((c) => sqlValue(row[c] ?? null, typeOf(table, c))).join(', ')})`);
    lines.push(`INSERT INTO ${qualified(table)} (${columns.map(quoteIdent).join(', ')})${overriding} VALUES${values.length === 1 ? ` ${values[0]!.trim()}` : `\n${values.join(',\n')}`};`);
  }
  for (const table of order) {
    const k = keyedOf(table);
    if (!k || k.updates.length === 0) continue;
    lines.push(`-- ${tableId(table)}: ${k.updates.length} row(s) updated`);
    for (const u of k.updates) {
      lines.push(`UPDATE ${qualified(table)} SET ${Object.entries(u.values).map(([c, v]) => `${quoteIdent(c)} = ${sqlValue(v, typeOf(table, c))}`).join(', ')} WHERE ${where(k, u.key)};`);
    }
  }
  for (const table of [...order].reverse()) {
    const k = keyedOf(table);
    const l = keylessOf(table);
    if (l && l.deletes.length > 0) lines.push(`-- ${tableId(table)}: ${l.deletes.length} row(s) deleted`, ...l.deletes);
    if (!k || k.deletes.length === 0) continue;
    lines.push(`-- ${tableId(table)}: ${k.deletes.length} row(s) deleted`);
    // One statement per table, as for inserts.
    const keys = k.deletes.map((key) => `  (${k.key.map((c, i) => sqlValue(key[i] ?? null, typeOf(table, c))).join(', ')})`);
    if (k.deletes.length === 1) lines.push(`DELETE FROM ${qualified(table)} WHERE ${where(k, k.deletes[0]!)};`);
    else lines.push(`DELETE FROM ${qualified(table)} WHERE (${k.key.map(quoteIdent).join(', ')}) IN (VALUES\n${keys.join(',\n')});`);
  }
  lines.push(...triggers('ENABLE'));
  if (sequences.length) lines.push('-- sequences', ...sequences);
  return `${lines.join('\n')}\n`;
}
