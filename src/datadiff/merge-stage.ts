import type { Client } from '../postgres/client.js';
import { quoteIdent, quoteLiteral, unnestAll } from '../postgres/quote.js';
import { type DataCatalog, type DataTable, rowsTable, tableId, tableIdSql, tableLabel } from './catalog.js';
import type { KeyTuple } from './compare.js';
import { foreignKeyOrder, keyCondition } from './sql.js';

/**
 * The merge's staging table, a TEMP table of the target's session (created before the plan's
 * read-only transaction; a read-only transaction may still write temporary tables): the plan writes
 * the merged rows there a batch at a time instead of holding them, and the apply changes the
 * target's tables from it with one set-based statement per table and kind. One table for all:
 *
 * - `tab`: the staged table's number (StagedTable.tab);
 * - `op`: `i` insert (v: the row), `u` update (k: key, v and m: the values of the columns m marks),
 *   `d` delete (k), `k` a delete kept back by a cascade conflict (not applied), `r` a row of the
 *   target read while planning (k, v: NULL when absent; else its version, ROW_VERSION, from the server
 *   path, or [md5 of its row text] from the Node path): the apply refuses if it moved;
 * - values as text, cast to the target's column types (after its migration) when applied.
 */
export const STAGE = 'pg_temp.ayb_merge_stage';

export const STAGE_SQL = `CREATE TEMP TABLE ayb_merge_stage (tab int NOT NULL, op "char" NOT NULL, k text[], v text[], m bool[]);
CREATE INDEX ON pg_temp.ayb_merge_stage (tab, op);`;

/** A table whose merged rows are staged. */
export interface StagedTable {
  readonly tab: number;
  /** The branch's table (names and writable columns). */
  readonly table: DataTable;
  /** The columns rows are matched by; empty for a table the branch created (inserts only). */
  readonly key: readonly string[];
  /** The staged values' layout: v[i] is column writable[i - 1]. */
  readonly writable: readonly string[];
  /** Columns some staged update sets. */
  readonly updated: Set<string>;
  inserted: number;
  updatedRows: number;
  deleted: number;
}

type Row = { k?: KeyTuple | null; v?: readonly (string | null)[] | null; m?: readonly boolean[] | null };

/** Rows sent to the staging table per statement. */
const STAGE_BATCH = 5000;

/** A one-dimensional array's literal (`{"a",NULL}`), every element quoted; null for SQL NULL. */
export function arrayLiteral(values: readonly (string | boolean | null)[] | null | undefined): string | null {
  if (values === null || values === undefined) return null;
  const element = (e: string | boolean | null) => (e === null ? 'NULL' : typeof e === 'boolean' ? (e ? 't' : 'f') : `"${e.replace(/[\\"]/g, (c) => `\\${c}`)}"`);
  return `{${values.map(element).join(',')}}`;
}

export class Stage {
  readonly tables: StagedTable[] = [];
  private buffer: (Row & { tab: number; op: string })[] = [];

  constructor(readonly client: Client) {}

  static async create(client: Client): Promise<Stage> {
    await client.query(STAGE_SQL);
    return new Stage(client);
  }

  table(table: DataTable, key: readonly string[]): StagedTable {
    const staged: StagedTable = { tab: this.tables.length + 1, table, key, writable: table.columns.filter((c) => !c.generated).map((c) => c.name), updated: new Set(), inserted: 0, updatedRows: 0, deleted: 0 };
    this.tables.push(staged);
    return staged;
  }

  async add(t: StagedTable, op: 'i' | 'u' | 'd', row: Row): Promise<void> {
    if (op === 'i') t.inserted++;
    else if (op === 'u') t.updatedRows++;
    else t.deleted++;
    if (op === 'u') row.m?.forEach((set, i) => set && t.updated.add(t.writable[i]!));
    this.buffer.push({ ...row, tab: t.tab, op });
    if (this.buffer.length >= STAGE_BATCH) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.buffer.length === 0) return;
    const rows = this.buffer;
    this.buffer = [];
    // One array parameter per column; each row's arrays as array literals, parsed by the server's
    // array input (far cheaper per row than a JSON document taken apart by subqueries).
    await this.client.query(
      `INSERT INTO ${STAGE} (tab, op, k, v, m) SELECT u.tab, u.op::"char", u.k::text[], u.v::text[], u.m::bool[]
         FROM ${unnestAll(['$1::int[]', '$2::text[]', '$3::text[]', '$4::text[]', '$5::text[]'])} AS u(tab, op, k, v, m)`,
      [rows.map((r) => r.tab), rows.map((r) => r.op), rows.map((r) => arrayLiteral(r.k)), rows.map((r) => arrayLiteral(r.v)), rows.map((r) => arrayLiteral(r.m))],
    );
  }

  /** Stages the target's row of a key as read now (`md5`: of its row text; null when absent), for the apply's check. */
  async read(t: StagedTable, key: KeyTuple, md5: string | null): Promise<void> {
    this.buffer.push({ tab: t.tab, op: 'r', k: key, v: md5 === null ? null : [md5] });
    if (this.buffer.length >= STAGE_BATCH) await this.flush();
  }
}

const qualified = (t: { schema: string; name: string }) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;

/**
 * `t.key OP s.k[1]::type AND …`: the staged row of a target row, with each key column's own equality.
 * `theirs`: the branch's table, whose text the staged keys are (a key column it retyped is compared in
 * its type: see keyCondition), for a target not yet migrated.
 */
function keyMatch(table: DataTable, key: readonly string[], alias = 's', theirs?: DataTable): string {
  return keyCondition(table, key, (i) => `${alias}.k[${i + 1}]`, theirs);
}

/**
 * A row's version as the server path stages it for the apply's check: `{@<tableoid>,<ctid>,<xmin>}`.
 * Any change to the row (an update, HOT or not; a delete and an insert of its key) makes a new
 * version: another ctid and the xmin of the writing transaction. A rewrite of the table (VACUUM FULL,
 * CLUSTER), or an update that writes the same values, makes one too: the merge then says the target
 * moved, and is run again; never the other way round. Far cheaper than the md5 of the row's text
 * (every column's output function, on each of a million rows, at the plan and again at the apply).
 */
export const ROW_VERSION = (alias: string) => `ARRAY['@' || ${alias}.tableoid::text, ${alias}.ctid::text, ${alias}.xmin::text]`;

/**
 * Queries that return a row when a target row the plan read moved since (run in the apply's
 * transaction before the migration, against the target as the plan read it).
 */
export function movedChecks(stage: readonly StagedTable[], ours: DataCatalog): { table: string; sql: string }[] {
  return stage.filter((t) => t.key.length > 0).flatMap((t) => {
    const table = ours.tables.get(tableId(t.table));
    if (!table) return [];
    return [{
      table: tableLabel(t.table),
      // Compared with pg_catalog's array `=` (IS DISTINCT FROM would look up `=` on the search_path).
      sql: `SELECT s.k::text AS k FROM ${STAGE} s
              LEFT JOIN LATERAL (SELECT CASE WHEN s.v[1] LIKE '@%' THEN ${ROW_VERSION('t')} ELSE ARRAY[md5(ROW(t.*)::text)] END AS now
                                   FROM ${rowsTable(table, t.key)} t WHERE ${keyMatch(table, t.key, 's', t.table)}) c ON true
             WHERE s.tab = ${t.tab} AND s.op = 'r' AND NOT coalesce(c.now OPERATOR(pg_catalog.=) s.v, c.now IS NULL AND s.v IS NULL) LIMIT 1`,
    }];
  });
}

/**
 * The set-based steps (for chained()) that apply the staged rows to the target, once migrated
 * (`after`: its catalog then), per table: its inserts, its updates, its deletes (mergeStatements
 * orders them into one statement).
 * Updates set only the columns a row's mask marks. A table where an update moves a value of a unique
 * index (two rows swapping one) and whose deletes no foreign key acts on, or whose acting keys are
 * `lifted` for the statement (see actingKeys), has its updated rows deleted and inserted again,
 * merged, in one statement (the unique index is then checked once both rows are in place).
 */
export function stagedStatements(stage: readonly StagedTable[], after: DataCatalog, uniqueColumns: ReadonlyMap<string, ReadonlySet<string>>, lifted: ReadonlySet<string> = new Set()): Map<string, { inserts: string[]; updates: string[]; deletes: string[] }> {
  const out = new Map<string, { inserts: string[]; updates: string[]; deletes: string[] }>();
  for (const t of stage) {
    const table = after.tables.get(tableId(t.table));
    if (!table) continue;
    const typeOf = (c: string) => table.columns.find((x) => x.name === c)?.type;
    const writable = t.writable.filter((c) => typeOf(c) !== undefined && !table.columns.find((x) => x.name === c)!.generated);
    const label = (c: string) => `${tableLabel(table)}.${quoteIdent(c)}`;
    const cell = (c: string, alias: string, when?: string): StagedCell => ({ expr: `${alias}.v[${t.writable.indexOf(c) + 1}]`, type: typeOf(c)!, what: label(c), ...(when ? { when } : {}) });
    const mask = (c: string, alias: string) => `${alias}.m[${t.writable.indexOf(c) + 1}]`;
    // Updates and deletes by a key the partitioned root has too go through the root: the target's row
    // may lie in another partition than the branch's (see rowsTable).
    const target = rowsTable(table, t.key);
    const entry = { inserts: [] as string[], updates: [] as string[], deletes: [] as string[] };
    out.set(tableId(table), entry);
    if (t.inserted > 0) {
      // A partition's new rows go in through its root: they land where the target routes them.
      const target = table.root ?? qualified(table);
      // The root's identity columns are not the leaf's (catalog.ts reads leaves): through a root, the
      // branch's values are written as they are (OVERRIDING SYSTEM VALUE is a no-op without identity).
      const overriding = table.columns.some((c) => c.identityAlways && writable.includes(c.name)) || (table.root !== undefined && writable.length > 0) ? ' OVERRIDING SYSTEM VALUE' : '';
      const casts = exactCasts(writable.map((c) => cell(c, 's')));
      entry.inserts.push(writable.length === 0
        ? `INSERT INTO ${target} SELECT FROM ${STAGE} s WHERE s.tab = ${t.tab} AND s.op = 'i' AND ${GATE} RETURNING 1`
        : `INSERT INTO ${target} (${writable.map(quoteIdent).join(', ')})${overriding} SELECT ${casts.values.join(', ')} FROM ${STAGE} s${casts.from} WHERE s.tab = ${t.tab} AND s.op = 'i' AND ${GATE} RETURNING 1`);
    }
    const sets = writable.filter((c) => t.updated.has(c));
    if (t.updatedRows > 0 && sets.length > 0) {
      const unique = uniqueColumns.get(tableId(table));
      const swaps = (table.deleteActions !== true || lifted.has(tableId(table))) && unique !== undefined && sets.some((c) => unique.has(c));
      if (swaps) {
        const all = table.columns.filter((c) => !c.generated).map((c) => c.name);
        const overriding = table.columns.some((c) => c.identityAlways) || target !== tableId(table) ? ' OVERRIDING SYSTEM VALUE' : '';
        // Two steps: the DELETE runs to its end before the first row is inserted (its count is the gate).
        // The old row returns as ONE composite column (r), so that no column of the table can collide with v and m.
        const old = (c: string) => `(d.r).${quoteIdent(c)}`;
        const casts = exactCasts(sets.map((c) => cell(c, 'd', mask(c, 'd'))));
        const merged = (c: string) => `CASE WHEN ${mask(c, 'd')} THEN ${casts.values[sets.indexOf(c)]} ELSE ${old(c)} END`;
        entry.updates.push(`DELETE FROM ${target} AS t USING ${STAGE} s WHERE s.tab = ${t.tab} AND s.op = 'u' AND ${keyMatch(table, t.key)} AND ${GATE} RETURNING t AS r, s.v AS v, s.m AS m`);
        entry.updates.push(`INSERT INTO ${target} (${all.map(quoteIdent).join(', ')})${overriding}
  SELECT ${all.map((c) => (sets.includes(c) ? merged(c) : old(c))).join(', ')} FROM ${PREVIOUS} d${casts.from} WHERE ${GATE} RETURNING 1`);
      } else {
        const casts = exactCasts(sets.map((c) => cell(c, 's', mask(c, 's'))));
        entry.updates.push(`UPDATE ${target} AS t SET ${sets.map((c, i) => `${quoteIdent(c)} = CASE WHEN ${mask(c, 's')} THEN ${casts.values[i]} ELSE t.${quoteIdent(c)} END`).join(', ')} FROM ${STAGE} s${casts.from} WHERE s.tab = ${t.tab} AND s.op = 'u' AND ${keyMatch(table, t.key)} AND ${GATE} RETURNING 1`);
      }
    }
    if (t.deleted > 0) entry.deletes.push(`DELETE FROM ${target} AS t USING ${STAGE} s WHERE s.tab = ${t.tab} AND s.op = 'd' AND ${keyMatch(table, t.key)} AND ${GATE} RETURNING 1`);
  }
  return out;
}

/** A type without its modifier (`character varying(3)[]` -> `character varying[]`). */
export const typeWithoutModifier = (type: string): string => type.replace(/\([0-9, ]*\)/g, '');

/** The function the apply calls for a value its column's type would cut or round (see castExact); it fails the merge. */
export const CUT_FUNCTION_SQL = `CREATE OR REPLACE FUNCTION pg_temp.ayb_merge_cut(what text, v text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION USING ERRCODE = '22001', MESSAGE = pg_catalog.format('the value %s of the branch for %s does not fit the target''s type of the column (it would be cut or rounded)', quote_literal(left(v, 200)), what); END $$`;

/** A type with a modifier without it, as a type name (`bit` and `character` alone mean bit(1), character(1)). */
const unconstrained = (type: string): string => typeWithoutModifier(type).replace(/^bit(?=(\[\])*$)/, '"bit"').replace(/^character(?=(\[\])*$)/, 'bpchar');

/** A staged value to cast to its column's type (see exactCasts). */
export interface StagedCell {
  /** The value's text (`s.v[3]`). */
  readonly expr: string;
  readonly type: string;
  /** The column, for the error. */
  readonly what: string;
  /** When given, the value is cast only where this holds (an update's mask): else it is NULL. */
  readonly when?: string;
}

/**
 * Staged values (text) cast to their columns' types, exactly: an explicit cast to a type with a
 * modifier cuts (varchar(3), varbit(3)) or rounds (numeric(12,2), timestamp(0)) silently where a value
 * written in a session would fail or keep its digits; a value that the modifier would change fails the
 * merge (pg_temp.ayb_merge_cut, SQLSTATE 22001) rather than be changed. A type without a modifier is
 * a plain cast in `values`; a value of a type with one is cast once, to the type without it, and that
 * once to the modifier, in a LATERAL (`from`, to add after the table the values come from; OFFSET 0
 * keeps the planner from folding it into each place `values` names it): the text is parsed once per cell.
 */
export function exactCasts(cells: readonly StagedCell[], alias = 'ayb_cast'): { from: string; values: string[] } {
  const values = cells.map((c, i) => (typeWithoutModifier(c.type) === c.type ? `${c.expr}::${c.type}`
    : `CASE WHEN ${alias}.c${i} IS NOT DISTINCT FROM ${alias}.w${i} THEN ${alias}.c${i} ELSE pg_temp.ayb_merge_cut(${quoteLiteral(c.what)}, ${c.expr})::${c.type} END`));
  const modified = cells.flatMap((c, i) => (typeWithoutModifier(c.type) === c.type ? [] : [{ ...c, i }]));
  if (modified.length === 0) return { from: '', values };
  const whole = modified.map((c) => `${c.when === undefined ? c.expr : `CASE WHEN ${c.when} THEN ${c.expr} END`}::${unconstrained(c.type)} AS w${c.i}`).join(', ');
  const typed = modified.map((c) => `u.w${c.i}::${c.type} AS c${c.i}, u.w${c.i}`).join(', ');
  return { from: ` CROSS JOIN LATERAL (SELECT ${typed} FROM (SELECT ${whole} OFFSET 0) u OFFSET 0) ${alias}`, values };
}

/** In a step of chained(): the condition that it waits on the step before (true for the first). */
export const GATE = '/*ayb gate*/';
/** In a step of chained(): the name of the step before (its returned rows). */
export const PREVIOUS = '/*ayb previous*/';

/**
 * Steps (data-modifying statements with a RETURNING clause, holding GATE in their WHERE) as ONE
 * statement of data-modifying WITH steps, each waiting on the one before (`(SELECT count(*) FROM sn)
 * >= 0`, computed before its first row): they run in the order given, and foreign keys are checked
 * (and their actions run) at the end of the whole statement, when every table holds its rows (tables
 * that reference each other in a cycle, a row that references one inserted after it, a child moved
 * away from a parent the merge deletes).
 */
export function chained(steps: readonly string[]): string | undefined {
  if (steps.length === 0) return undefined;
  const parts = steps.map((step, i) =>
    `s${i + 1} AS (${step.split(GATE).join(i === 0 ? 'true' : `(SELECT count(*) FROM s${i}) >= 0`).split(PREVIOUS).join(`s${i}`)})`);
  return `WITH ${parts.join(',\n')}\nSELECT count(*) FROM s${steps.length}`;
}

/** Tables of `after` in foreign-key order, of these ids. */
export function inForeignKeyOrder(after: DataCatalog, ids: Iterable<string>): DataTable[] {
  return foreignKeyOrder([...new Set(ids)].map((id) => after.tables.get(id)).filter((t): t is DataTable => t !== undefined));
}

/** Per table, the columns of its immediate (non-deferrable) unique indexes (an expression index: all its columns). */
export async function uniqueColumnsOf(client: Client, tables: readonly DataTable[]): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  if (tables.length === 0) return out;
  const { rows } = await client.query<{ id: string; columns: string[] }>(
    `SELECT ${tableIdSql('n.nspname', 'c.relname')} AS id,
            ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND (a.attnum = ANY (i.indkey) OR 0 = ANY (i.indkey::int2[]))) AS columns
       FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE i.indisunique AND i.indimmediate AND NOT i.indisprimary AND ${tableIdSql('n.nspname', 'c.relname')} = ANY ($1)`,
    [tables.map(tableId)],
  );
  for (const r of rows) {
    const set = out.get(r.id) ?? new Set<string>();
    for (const c of r.columns) set.add(c);
    out.set(r.id, set);
  }
  return out;
}

/**
 * A foreign key pointing at a table whose updates move a unique value (so that its changed rows are
 * deleted and inserted again, see stagedStatements), as its top constraint: a key of a partitioned
 * table, or pointing at one, is one constraint with a copy per partition (conparentid), dropped and
 * added again as one.
 */
export interface ActingForeignKey {
  /** The table it points at (`schema.name`, for messages; a partitioned table's root). */
  readonly parent: string;
  /** The staged tables (leaves, as tableId) among those asked about whose rows it points at. */
  readonly leaves: readonly string[];
  readonly child: string;
  /** The child as tableId (to find its staged rows), as `schema.name` (for messages), and its name alone. */
  readonly childId: string;
  readonly childText: string;
  readonly childName: string;
  readonly name: string;
  readonly definition: string;
  /** pg_constraint.confdeltype: a (NO ACTION), r, c, n or d. */
  readonly action: string;
  /** pg_constraint.confupdtype: a, r, c, n or d. */
  readonly update: string;
  readonly columns: readonly string[];
  readonly refColumns: readonly string[];
  /** The columns ON DELETE SET NULL / SET DEFAULT sets (all of `columns` unless the key names some). */
  readonly setColumns: readonly string[];
  /** Validated (a NOT VALID key is added back NOT VALID, its old orphans kept, no new one let in). */
  readonly validated: boolean;
  /** The parent as SQL names it (quoted: `parent` is an id, and a name may hold a dot). */
  readonly parentSql: string;
  /** The child is the parent (a self-reference): a cascade goes down as many levels as there are. */
  readonly self: boolean;
  /** The key's comment (COMMENT ON CONSTRAINT), put back with it. */
  readonly comment: string | null;
}

/** The foreign keys that point at these tables (or at partitioned tables they are leaves of), as the target holds them now: top constraints. */
export async function actingKeysOf(client: Client, tables: readonly DataTable[]): Promise<ActingForeignKey[]> {
  if (tables.length === 0) return [];
  // SET NULL / SET DEFAULT of some columns only (confdelsetcols) came with PostgreSQL 15.
  const { rows: [version] } = await client.query<{ n: number }>(`SELECT current_setting('server_version_num')::int AS n`);
  const setColumns = version!.n >= 150000 ? 'coalesce(con.confdelsetcols, con.conkey)' : 'con.conkey';
  const { rows } = await client.query<ActingForeignKey>(
    `WITH RECURSIVE hit AS (
       SELECT con.oid, con.conparentid, ${tableIdSql('ln.nspname', 'lc.relname')} AS leaf
         FROM pg_constraint con JOIN pg_class lc ON lc.oid = con.confrelid JOIN pg_namespace ln ON ln.oid = lc.relnamespace
        WHERE con.contype = 'f' AND ${tableIdSql('ln.nspname', 'lc.relname')} = ANY ($1)
       UNION
       SELECT up.oid, up.conparentid, hit.leaf FROM hit JOIN pg_constraint up ON up.oid = hit.conparentid
     ), top AS (SELECT oid, pg_catalog.array_agg(DISTINCT leaf) AS leaves FROM hit WHERE conparentid = 0 GROUP BY oid)
     SELECT pn.nspname || '.' || pc.relname AS parent, top.leaves,
            quote_ident(cn.nspname) || '.' || quote_ident(cc.relname) AS child, ${tableIdSql('cn.nspname', 'cc.relname')} AS "childId", cn.nspname || '.' || cc.relname AS "childText", cc.relname AS "childName", con.conname AS name,
            pg_get_constraintdef(con.oid) AS definition, con.confdeltype::text AS action, con.confupdtype::text AS update,
            ARRAY(SELECT a.attname::text FROM pg_catalog.unnest(con.conkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i) AS "columns",
            ARRAY(SELECT a.attname::text FROM pg_catalog.unnest(con.confkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i) AS "refColumns",
            ARRAY(SELECT a.attname::text FROM pg_catalog.unnest(${setColumns}) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i) AS "setColumns",
            con.convalidated AS validated,
            quote_ident(pn.nspname) || '.' || quote_ident(pc.relname) AS "parentSql", con.conrelid = con.confrelid AS self,
            obj_description(con.oid, 'pg_constraint') AS comment
       FROM top JOIN pg_constraint con ON con.oid = top.oid
       JOIN pg_class cc ON cc.oid = con.conrelid JOIN pg_namespace cn ON cn.oid = cc.relnamespace
       JOIN pg_class pc ON pc.oid = con.confrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
      ORDER BY con.oid`,
    [tables.map(tableId)],
  );
  return rows;
}

/** Does this key act when the statement deletes and inserts again the rows of `t`: a delete action, or an update action on a column whose value some staged update moves. */
function actsOn(k: ActingForeignKey, t: StagedTable): boolean {
  return k.action !== 'a' || (k.update !== 'a' && k.refColumns.some((c) => t.updated.has(c)));
}

/**
 * How the staged updates of tables that move a unique value are applied (see stagedStatements): the
 * tables (`swapped`) whose changed rows are deleted and inserted again in the merge's one statement,
 * and around it (`before`, `after`) the statements that lift the foreign keys acting on those deletes
 * (see liftedKeys). A table no key acts on needs none: NO ACTION sees its rows back at the end of the
 * statement, as it would see them updated in place.
 */
export async function swapPlan(client: Client, stage: readonly StagedTable[], order: readonly DataTable[], unique: ReadonlyMap<string, ReadonlySet<string>>): Promise<{ swapped: Set<string>; before: string[]; after: string[] }> {
  const swapping = stage.filter((s) => s.updatedRows > 0 && s.key.length > 0 && [...s.updated].some((c) => unique.get(tableId(s.table))?.has(c)));
  const tables = order.filter((t) => swapping.some((s) => tableId(s.table) === tableId(t)));
  const keys = await actingKeysOf(client, tables);
  const staged = (id: string) => swapping.find((s) => tableId(s.table) === id);
  const acting = keys.filter((k) => k.leaves.some((l) => { const s = staged(l); return s !== undefined && actsOn(k, s); }));
  // The staged tables' partitioned roots (a key of a partitioned child: its rows are staged per leaf).
  const { rows: roots } = stage.length === 0 ? { rows: [] } : await client.query<{ id: string; root: string }>(
    `SELECT ${tableIdSql('n.nspname', 'c.relname')} AS id, ${tableIdSql('rn.nspname', 'r.relname')} AS root
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_class r ON r.oid = coalesce(pg_partition_root(c.oid), c.oid) JOIN pg_namespace rn ON rn.oid = r.relnamespace
      WHERE ${tableIdSql('n.nspname', 'c.relname')} = ANY ($1)`,
    [stage.map((s) => tableId(s.table))],
  );
  const childStages = (childId: string) => stage.filter((s) => s.key.length > 0 && (roots.find((r) => r.id === tableId(s.table))?.root ?? tableId(s.table)) === childId);
  const lift = liftedKeys(acting, { staged: (id) => staged(id), tableOf: (id) => order.find((t) => tableId(t) === id), childStages });
  return { swapped: new Set(tables.map(tableId)), ...lift };
}

/** What liftedKeys needs to know of the stage. */
interface LiftContext {
  /** The staged table of a swapped leaf. */
  staged(id: string): StagedTable | undefined;
  /** The target's table of a leaf (its column types, after the migration). */
  tableOf(id: string): DataTable | undefined;
  /** The staged tables that hold the rows of a child (itself, or its leaves). */
  childStages(childId: string): readonly StagedTable[];
}

/**
 * The statements that lift the foreign keys acting on the swapped tables while the merge's one
 * statement deletes and inserts their changed rows again (dropped before it, so that those deletes
 * act on no child), do what the keys' actions would have done had the rows been updated or deleted
 * in place, and put them back after, as they were:
 *
 * - before the statement, ON UPDATE CASCADE / SET NULL / SET DEFAULT / RESTRICT: the children of a
 *   row whose referenced value the statement changes follow it (or are set NULL, DEFAULT, or the
 *   merge fails), by the row (its key), not by the value (which another row may take in a swap);
 *   children the statement itself deletes or points elsewhere are left to it;
 * - ON DELETE CASCADE / SET NULL / SET DEFAULT / RESTRICT: the children of the rows the statement
 *   really deletes (staged deletes, not swapped rows inserted again; for a self-reference the whole
 *   subtree) are found before it, by the row, and deleted or set NULL or their default after it
 *   (RESTRICT: the merge fails); children the statement itself deletes or points elsewhere are left to it;
 * - then the key again, validated (RESTRICT, NO ACTION: a child left pointing at a deleted row fails
 *   it, as the delete would have); a NOT VALID key NOT VALID again, after a check that no orphan
 *   was added to the ones it had; its comment.
 */
export function liftedKeys(keys: readonly ActingForeignKey[], ctx: LiftContext): { before: string[]; after: string[] } {
  const before: string[] = [];
  const after: string[] = [];
  keys.forEach((k, i) => {
    const leaves = k.leaves.map((l) => ({ s: ctx.staged(l), table: ctx.tableOf(l) })).filter((x): x is { s: StagedTable; table: DataTable } => x.s !== undefined && x.table !== undefined);
    const typeOf = (table: DataTable, c: string) => table.columns.find((x) => x.name === c)?.type ?? 'text';
    const newValue = (s: StagedTable, table: DataTable, c: string) => {
      const at = s.writable.indexOf(c) + 1;
      return at > 0 ? `CASE WHEN s.m[${at}] THEN s.v[${at}]::${typeOf(table, c)} ELSE t.${quoteIdent(c)} END` : `t.${quoteIdent(c)}`;
    };
    const refs = (alias: string, prefix: string) => k.refColumns.map((c, j) => `${alias}.${quoteIdent(c)} AS ${prefix}${j}`).join(', ');
    const childMatches = (alias: string, prefix: string) => k.columns.map((c, j) => `c.${quoteIdent(c)} = ${alias}.${prefix}${j}`).join(' AND ');
    // The parent's referenced values of the rows the statement really deletes.
    const deleted = leaves.filter((l) => l.s.deleted > 0).map((l) => `SELECT ${refs('t', 'r')} FROM ${STAGE} s JOIN ${qualified(l.table)} t ON ${keyMatch(l.table, l.s.key)} WHERE s.tab = ${l.s.tab} AND s.op = 'd'`);
    const snapshot = `pg_temp.ayb_lifted_${i}`;
    if (k.action !== 'a') {
      before.push(`CREATE TEMP TABLE ayb_lifted_${i} ON COMMIT DROP AS ${deleted.length > 0 ? deleted.join(' UNION ALL ') : `SELECT ${refs(k.parentSql, 'r')} FROM ${k.parentSql} WHERE false`}`);
    }
    const orphanOf = `${k.columns.map((c) => `c.${quoteIdent(c)} IS NOT NULL`).join(' AND ')}
       AND NOT EXISTS (SELECT FROM ${k.parentSql} p WHERE ${k.columns.map((c, j) => `p.${quoteIdent(k.refColumns[j]!)} = c.${quoteIdent(c)}`).join(' AND ')})`;
    const orphans = `pg_temp.ayb_orphans_${i}`;
    if (!k.validated) before.push(`CREATE TEMP TABLE ayb_orphans_${i} ON COMMIT DROP AS SELECT DISTINCT ${k.columns.map((c, j) => `c.${quoteIdent(c)} AS f${j}`).join(', ')} FROM ${k.child} AS c WHERE ${orphanOf}`);
    // Children the statement deletes, or whose key columns it sets: it does what the branch did to them.
    const stages = ctx.childStages(k.childId);
    const handled = stages.map((h) => {
      const masks = k.columns.map((c) => h.writable.indexOf(c) + 1);
      return `EXISTS (SELECT 1 FROM ${STAGE} h WHERE h.tab = ${h.tab} AND h.k OPERATOR(pg_catalog.=) ARRAY[${h.key.map((c) => `c.${quoteIdent(c)}::text`).join(', ')}]
         AND (h.op = 'd'${masks.every((m) => m > 0) ? ` OR (h.op = 'u' AND ${masks.map((m) => `coalesce(h.m[${m}], false)`).join(' AND ')})` : ''}))`;
    });
    const free = handled.length > 0 ? ` AND NOT (${handled.join(' OR ')})` : '';
    // ON DELETE: the children (and, for a self-reference, their children, …) of the rows the statement
    // really deletes, found now, by the row (its staged key when the statement writes the child's
    // rows, else where it lies): after the statement another row may hold the value they point at.
    const byKey = stages.length > 0 && stages.every((h) => JSON.stringify(h.key) === JSON.stringify(stages[0]!.key));
    const ident = byKey ? `ARRAY[${stages[0]!.key.map((c) => `c.${quoteIdent(c)}::text`).join(', ')}]` : `ARRAY[c.tableoid::text, c.ctid::text]`;
    const gone = `pg_temp.ayb_gone_${i}`;
    if (k.action !== 'a') {
      const under = `EXISTS (SELECT FROM ${snapshot} w WHERE ${k.columns.map((c, j) => `w.r${j} = c.${quoteIdent(c)}`).join(' AND ')})${free}`;
      const own = k.refColumns.map((c, j) => `c.${quoteIdent(c)} AS r${j}`).join(', ');
      const rows = k.self
        ? `WITH RECURSIVE tree AS (SELECT c.ctid AS t, ${own} FROM ${k.child} AS c WHERE ${under}
             UNION SELECT c.ctid, ${own} FROM ${k.child} AS c JOIN tree g ON ${k.columns.map((c, j) => `c.${quoteIdent(c)} = g.r${j}`).join(' AND ')} WHERE true${free})
           SELECT ${ident} AS id FROM ${k.child} AS c WHERE c.ctid IN (SELECT t FROM tree)`
        : `SELECT ${ident} AS id FROM ${k.child} AS c WHERE ${under}`;
      before.push(`CREATE TEMP TABLE ayb_gone_${i} ON COMMIT DROP AS ${rows}`);
      if (k.action === 'r') before.push(raiseIf(`SELECT FROM ${gone}`, '23001', `update or delete on table "${k.parent}" violates RESTRICT foreign key constraint "${k.name}" on table "${k.childText}"`, k));
    }
    before.push(`ALTER TABLE ${k.child} DROP CONSTRAINT ${quoteIdent(k.name)}`);
    // ON UPDATE: the rows whose referenced values the statement changes, old (o) and new (n).
    const moved = leaves.filter((l) => k.refColumns.some((c) => l.s.updated.has(c))).map((l) =>
      `SELECT ${refs('t', 'o')}, ${k.refColumns.map((c, j) => `${newValue(l.s, l.table, c)} AS n${j}`).join(', ')}
         FROM ${STAGE} s JOIN ${qualified(l.table)} t ON ${keyMatch(l.table, l.s.key)}
        WHERE s.tab = ${l.s.tab} AND s.op = 'u' AND ROW(${k.refColumns.map((c) => `t.${quoteIdent(c)}`).join(', ')}) IS DISTINCT FROM ROW(${k.refColumns.map((c) => newValue(l.s, l.table, c)).join(', ')})`);
    if (k.update !== 'a' && moved.length > 0) {
      const mapping = `(${moved.join(' UNION ALL ')}) m`;
      if (k.update === 'r') {
        before.push(raiseIf(`SELECT FROM ${k.child} AS c JOIN ${mapping} ON ${childMatches('m', 'o')} WHERE true${free}`, '23001', `update on table "${k.parent}" violates RESTRICT foreign key constraint "${k.name}" on table "${k.childText}"`, k));
      } else {
        const set = k.columns.map((c, j) => `${quoteIdent(c)} = ${k.update === 'c' ? `m.n${j}` : k.update === 'n' ? 'NULL' : 'DEFAULT'}`).join(', ');
        before.push(`UPDATE ${k.child} AS c SET ${set} FROM ${mapping} WHERE ${childMatches('m', 'o')}${free}`);
      }
    }
    const acted = `${ident} IN (SELECT id FROM ${gone})`;
    if (k.action === 'c') after.push(`DELETE FROM ${k.child} AS c WHERE ${acted}`);
    else if (k.action === 'n' || k.action === 'd') after.push(`UPDATE ${k.child} AS c SET ${k.setColumns.map((c) => `${quoteIdent(c)} = ${k.action === 'n' ? 'NULL' : 'DEFAULT'}`).join(', ')} WHERE ${acted}`);
    after.push(`ALTER TABLE ${k.child} ADD CONSTRAINT ${quoteIdent(k.name)} ${k.definition}`);
    // NOT VALID: added back unchecked; the merged rows are checked here, the old orphans let be.
    if (!k.validated) {
      after.push(raiseIf(`SELECT FROM ${k.child} AS c WHERE ${orphanOf} AND NOT EXISTS (SELECT FROM ${orphans} o WHERE ${k.columns.map((c, j) => `o.f${j} = c.${quoteIdent(c)}`).join(' AND ')})`,
        '23503', `insert or update on table "${k.childText}" violates foreign key constraint "${k.name}"`, k));
    }
    if (k.comment !== null) after.push(`COMMENT ON CONSTRAINT ${quoteIdent(k.name)} ON ${k.child} IS ${quoteLiteral(k.comment)}`);
  });
  return { before, after };
}

/** A DO block that fails with `code` (its constraint and table named, as the server's own error would) when `query` returns a row. */
function raiseIf(query: string, code: string, message: string, k: ActingForeignKey): string {
  return `DO $ayb$ BEGIN IF EXISTS (${query}) THEN RAISE EXCEPTION USING ERRCODE = ${quoteLiteral(code)}, MESSAGE = ${quoteLiteral(message)}, CONSTRAINT = ${quoteLiteral(k.name)}, TABLE = ${quoteLiteral(k.childName)}; END IF; END $ayb$`;
}
