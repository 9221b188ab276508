import type { Client } from '../postgres/client.js';
import { quoteIdent } from '../postgres/quote.js';
import { type DataCatalog, type DataTable, tableId } from './catalog.js';
import type { KeyTuple, TablePlan } from './compare.js';
import { foreignKeyOrder, keyEquality } from './sql.js';

/**
 * The merge's staging table, a TEMP table of the target's session (created before the plan's
 * read-only transaction; a read-only transaction may still write temporary tables): the plan writes
 * the merged rows there a batch at a time instead of holding them, and the apply changes the
 * target's tables from it with one set-based statement per table and kind. One table for all:
 *
 * - `tab`: the staged table's number (StagedTable.tab);
 * - `op`: `i` insert (v: the row), `u` update (k: key, v and m: the values of the columns m marks),
 *   `d` delete (k), `k` a delete kept back by a cascade conflict (not applied), `r` a row of the
 *   target read while planning (k, v[1]: md5 of its row text, NULL when absent): the apply refuses if it moved;
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
const STAGE_BATCH = 2000;

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
    const rows = this.buffer.map((r) => [r.tab, r.op, r.k ?? null, r.v ?? null, r.m ?? null]);
    this.buffer = [];
    // One JSON document per batch; arrays keep their order and their NULLs (WITH ORDINALITY).
    const arr = (e: string, cast: string) => `CASE WHEN json_typeof(${e}) = 'array' THEN ARRAY(SELECT x::${cast} FROM json_array_elements_text(${e}) WITH ORDINALITY AS a(x, i) ORDER BY i) END`;
    await this.client.query(
      `INSERT INTO ${STAGE} (tab, op, k, v, m) SELECT (e->>0)::int, (e->>1)::"char", ${arr("e->2", 'text')}, ${arr("e->3", 'text')}, ${arr("e->4", 'bool')} FROM json_array_elements($1::json) AS e`,
      [JSON.stringify(rows)],
    );
  }

  /** Records the target's rows of these keys as read now (md5 of each row's text), for the apply's check. */
  async recordRead(t: StagedTable, plan: TablePlan, ours: DataTable, keys: readonly KeyTuple[]): Promise<void> {
    if (keys.length === 0) return;
    await this.flush();
    const equality = keyEquality(ours, plan);
    const typeOf = (c: string) => ours.columns.find((x) => x.name === c)!.type;
    const match = plan.key.map((c, i) => `t.${quoteIdent(c)} ${equality[i]} u.c${i}::${typeOf(c)}`).join(' AND ');
    await this.client.query(
      `INSERT INTO ${STAGE} (tab, op, k, v)
       SELECT $1, 'r', ARRAY[${plan.key.map((_, i) => `u.c${i}`).join(', ')}], (SELECT ARRAY[md5(ROW(t.*)::text)] FROM ${qualified(ours)} t WHERE ${match})
         FROM unnest(${plan.key.map((_, i) => `$${i + 2}::text[]`).join(', ')}) AS u(${plan.key.map((_, i) => `c${i}`).join(', ')})`,
      [t.tab, ...plan.key.map((_, i) => keys.map((k) => k[i] ?? null))],
    );
  }
}

const qualified = (t: { schema: string; name: string }) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;

/** `t.key OP s.k[1]::type AND …`: the staged row of a target row, with each key column's own equality. */
function keyMatch(table: DataTable, key: readonly string[], alias = 's'): string {
  const equality = keyEquality(table, { key } as TablePlan);
  const typeOf = (c: string) => table.columns.find((x) => x.name === c)!.type;
  return key.map((c, i) => `t.${quoteIdent(c)} ${equality[i]} ${alias}.k[${i + 1}]::${typeOf(c)}`).join(' AND ');
}

/**
 * Queries that return a row when a target row the plan read moved since (run in the apply's
 * transaction before the migration, against the target as the plan read it).
 */
export function movedChecks(stage: readonly StagedTable[], ours: DataCatalog): { table: string; sql: string }[] {
  return stage.filter((t) => t.key.length > 0).flatMap((t) => {
    const table = ours.tables.get(tableId(t.table));
    if (!table) return [];
    return [{
      table: tableId(t.table),
      sql: `SELECT s.k::text AS k FROM ${STAGE} s WHERE s.tab = ${t.tab} AND s.op = 'r'
              AND (SELECT ARRAY[md5(ROW(t.*)::text)] FROM ${qualified(table)} t WHERE ${keyMatch(table, t.key)}) IS DISTINCT FROM s.v LIMIT 1`,
    }];
  });
}

/**
 * The set-based steps (for chained()) that apply the staged rows to the target, once migrated
 * (`after`: its catalog then), per table: its inserts, its updates, its deletes (mergeStatements
 * orders them into one statement).
 * Updates set only the columns a row's mask marks. A table where an update moves a value of a unique
 * index (two rows swapping one) and whose deletes no foreign key acts on has its updated rows deleted
 * and inserted again, merged, in one statement (the unique index is then checked once both rows
 * are in place).
 */
export function stagedStatements(stage: readonly StagedTable[], after: DataCatalog, uniqueColumns: ReadonlyMap<string, ReadonlySet<string>>): Map<string, { inserts: string[]; updates: string[]; deletes: string[] }> {
  const out = new Map<string, { inserts: string[]; updates: string[]; deletes: string[] }>();
  for (const t of stage) {
    const table = after.tables.get(tableId(t.table));
    if (!table) continue;
    const typeOf = (c: string) => table.columns.find((x) => x.name === c)?.type;
    const writable = t.writable.filter((c) => typeOf(c) !== undefined && !table.columns.find((x) => x.name === c)!.generated);
    const v = (c: string, alias = 's') => `${alias}.v[${t.writable.indexOf(c) + 1}]::${typeOf(c)}`;
    const target = qualified(table);
    const entry = { inserts: [] as string[], updates: [] as string[], deletes: [] as string[] };
    out.set(tableId(table), entry);
    if (t.inserted > 0) {
      const overriding = table.columns.some((c) => c.identityAlways && writable.includes(c.name)) ? ' OVERRIDING SYSTEM VALUE' : '';
      entry.inserts.push(writable.length === 0
        ? `INSERT INTO ${target} SELECT FROM ${STAGE} s WHERE s.tab = ${t.tab} AND s.op = 'i' AND ${GATE} RETURNING 1`
        : `INSERT INTO ${target} (${writable.map(quoteIdent).join(', ')})${overriding} SELECT ${writable.map((c) => v(c)).join(', ')} FROM ${STAGE} s WHERE s.tab = ${t.tab} AND s.op = 'i' AND ${GATE} RETURNING 1`);
    }
    const sets = writable.filter((c) => t.updated.has(c));
    if (t.updatedRows > 0 && sets.length > 0) {
      const cell = (c: string, row: string) => `CASE WHEN s.m[${t.writable.indexOf(c) + 1}] THEN ${v(c)} ELSE ${row}.${quoteIdent(c)} END`;
      const unique = uniqueColumns.get(tableId(table));
      const swaps = table.deleteActions !== true && unique !== undefined && sets.some((c) => unique.has(c));
      if (swaps) {
        const all = table.columns.filter((c) => !c.generated).map((c) => c.name);
        const overriding = table.columns.some((c) => c.identityAlways) ? ' OVERRIDING SYSTEM VALUE' : '';
        // Two steps: the DELETE runs to its end before the first row is inserted (its count is the gate).
        // The old row returns as ONE composite column (r), so that no column of the table can collide with v and m.
        const old = (c: string) => `(d.r).${quoteIdent(c)}`;
        const merged = (c: string) => `CASE WHEN d.m[${t.writable.indexOf(c) + 1}] THEN d.v[${t.writable.indexOf(c) + 1}]::${typeOf(c)} ELSE ${old(c)} END`;
        entry.updates.push(`DELETE FROM ${target} AS t USING ${STAGE} s WHERE s.tab = ${t.tab} AND s.op = 'u' AND ${keyMatch(table, t.key)} AND ${GATE} RETURNING t AS r, s.v AS v, s.m AS m`);
        entry.updates.push(`INSERT INTO ${target} (${all.map(quoteIdent).join(', ')})${overriding}
  SELECT ${all.map((c) => (sets.includes(c) ? merged(c) : old(c))).join(', ')} FROM ${PREVIOUS} d WHERE ${GATE} RETURNING 1`);
      } else {
        entry.updates.push(`UPDATE ${target} AS t SET ${sets.map((c) => `${quoteIdent(c)} = ${cell(c, 't')}`).join(', ')} FROM ${STAGE} s WHERE s.tab = ${t.tab} AND s.op = 'u' AND ${keyMatch(table, t.key)} AND ${GATE} RETURNING 1`);
      }
    }
    if (t.deleted > 0) entry.deletes.push(`DELETE FROM ${target} AS t USING ${STAGE} s WHERE s.tab = ${t.tab} AND s.op = 'd' AND ${keyMatch(table, t.key)} AND ${GATE} RETURNING 1`);
  }
  return out;
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
    `SELECT n.nspname || '.' || c.relname AS id,
            ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND (a.attnum = ANY (i.indkey) OR 0 = ANY (i.indkey::int2[]))) AS columns
       FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE i.indisunique AND i.indimmediate AND NOT i.indisprimary AND (n.nspname || '.' || c.relname) = ANY ($1)`,
    [tables.map(tableId)],
  );
  for (const r of rows) {
    const set = out.get(r.id) ?? new Set<string>();
    for (const c of r.columns) set.add(c);
    out.set(r.id, set);
  }
  return out;
}
