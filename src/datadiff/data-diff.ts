import { ConflictError, NotFoundError, UsageError } from '../core/errors.js';
import { type Client, connect, queryError } from '../postgres/client.js';
import type { ConnInfo } from '../postgres/conninfo.js';
import { valueSettingsSql } from '../postgres/value-settings.js';
import { type MatchKind, readCatalog, tableLabel, tableName, tablesNamed } from './catalog.js';
import { diffCounts, diffTableKeys, type KeyTuple, planTable, type Side, type TableDiff } from './compare.js';
import { pairEqualKeys } from './equal-keys.js';
import { firstKeys, type Keys } from './key-list.js';
import { compareOutside, type OutsideDiff, outsideDiffers } from './outside.js';
import { type DmlSink, sequenceDml, writeDataMigration } from './sql.js';

export interface DataDiffOptions {
  /** Only these tables (`schema.table`, a part quoted when it holds a dot: `dot."a.b"`; or a bare name for `public.name`). */
  readonly tables?: readonly string[];
  /** Tables that are never data (ayb's control table). */
  readonly exclude?: readonly string[];
  readonly log?: (line: string) => void;
  /** Awaited before each table is compared, outside its snapshot (a test's gate between tables). */
  readonly beforeTable?: (table: string) => Promise<void>;
}

/** One table's result, in the shape `--output json` prints. */
export interface TableDataChange {
  /** `schema.name` (see tableName); `schema` and `name` tell apart two tables this text may be. */
  readonly table: string;
  readonly schema: string;
  readonly name: string;
  /** Key columns; null when rows are matched as whole rows. */
  readonly key: readonly string[] | null;
  readonly match: MatchKind;
  readonly added: number;
  readonly removed: number;
  readonly changed: number;
  /** Only the shared columns were compared: the sides' columns differ. */
  readonly columns_differ?: true;
  /** A key one side has that the other does not hold unique and not null: rows were matched as whole rows. */
  readonly not_a_key_on_both?: readonly string[];
  /** The table is on one side only (`from` or `to`): a difference, its rows not compared. */
  readonly only_in?: 'from' | 'to';
}

export interface DataComparison {
  readonly tables: readonly TableDiff<Keys>[];
  /** Tables only one side has (the schema diff's business; their rows are not compared), as tableLabel writes them. */
  readonly onlyInA: readonly string[];
  readonly onlyInB: readonly string[];
  /** The same tables, schema and name apart. */
  readonly onlyInATables?: readonly TableRef[];
  readonly onlyInBTables?: readonly TableRef[];
  /** What is not a table's rows (sequences, materialized views, large objects); compared when no table is named. */
  readonly outside?: OutsideDiff;
}

/**
 * How long a side's snapshot is held: `whole` — one read-only REPEATABLE READ transaction per side
 * for everything (the tables seen at one moment, as a script of rows needs, so that the rows it
 * inserts satisfy each other's foreign keys); `table` — one per table compared, so that a busy main
 * holds back vacuum only for the time one table's scan takes (each table is seen at its own moment).
 */
export type SnapshotScope = 'whole' | 'table';

export interface SidesOptions {
  readonly snapshot?: SnapshotScope | { readonly a: SnapshotScope; readonly b: SnapshotScope };
  /**
   * When either side is a SQL_ASCII database, values travel as their bytes (Side.bytes, see
   * value-text.ts), so that text that is not UTF-8 is compared and written exact: what the data diff
   * asks for. The merge does not (its rows are read as UTF-8 text: such bytes are refused by name).
   */
  readonly bytes?: boolean;
  /**
   * The sessions keep the search_path their connection set (the merge's: see rowSearchPath in
   * src/branching/merge.ts) instead of the empty one.
   */
  readonly keepSearchPath?: boolean;
}

/**
 * Opens one session per side, with the settings that change a value's text pinned, reads both
 * catalogs, and closes both sessions afterwards. With scope `whole` every query of `fn` runs in
 * one read-only REPEATABLE READ transaction per side; with `table`, compareData opens one per table.
 */
export async function withSides<T>(connA: ConnInfo, connB: ConnInfo, exclude: readonly string[], fn: (a: Side, b: Side) => Promise<T>, options: SidesOptions = {}): Promise<T> {
  const requested = options.snapshot ?? 'whole';
  const scopes: [SnapshotScope, SnapshotScope] = typeof requested === 'string' ? [requested, requested] : [requested.a, requested.b];
  const clients: Client[] = [];
  try {
    // Both sides at once: connecting and setting up is a round trip or three each.
    const opened = await Promise.allSettled([connA, connB].map(async (conn, side) => {
      const scope = scopes[side]!;
      const client = await connect(conn);
      clients.push(client);
      // One round trip: a database's own DateStyle, TimeZone, … would change the text of its rows (both
      // sides speak one dialect); the planner cannot know that a checksum query has few groups (at most
      // 65536): it would sort every row, text and all, to group them, spilling to disk, where a hash
      // table of the groups is tiny. The checksum queries' estimates are large (the join on a series
      // of buckets is guessed to multiply rows): JIT would compile them, at a cost above its gain.
      await client.query([
        valueSettingsSql(options.keepSearchPath ? { keep: ['search_path'] } : {}),
        "SET work_mem = '64MB'; SET enable_sort = off; SET jit = off;",
        ...(scope === 'whole' ? ['BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;'] : []),
      ].join('\n'));
      return client;
    }));
    const failed = opened.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const [ca, cb] = opened.map((r) => (r as PromiseFulfilledResult<Client>).value) as [Client, Client];
    const encoding = (c: Client) => c.query<{ e: string }>("SELECT pg_catalog.current_setting('server_encoding') AS e").then((r) => r.rows[0]!.e);
    const [catA, catB, ...encodings] = await Promise.all([readCatalog(ca, exclude), readCatalog(cb, exclude), encoding(ca), encoding(cb)]);
    const bytes = options.bytes === true && encodings.includes('SQL_ASCII') ? { bytes: true as const } : {};
    const perTable = (side: number) => (scopes[side] === 'table' ? { perTable: true as const } : {});
    return await fn({ client: ca, catalog: catA, ...perTable(0), ...bytes }, { client: cb, catalog: catB, ...perTable(1), ...bytes });
  } catch (error) {
    // A SQL_ASCII database holds bytes that are not UTF-8 (legacy text in LATIN1). The data diff moves
    // values as their bytes (options.bytes); what still reaches ayb as text is refused by name rather
    // than as a bare database error: the names of schemas, tables and columns (the catalog), and, for
    // the merge, the rows.
    const state = (error as { code?: string; details?: { sqlstate?: string } } | null);
    if (state?.code === '22021' || state?.details?.sqlstate === '22021') {
      const what = options.bytes
        ? 'a name (of a schema, table, column or type) holds bytes that are not valid UTF-8 (a SQL_ASCII database\'s legacy text): the data diff keeps such bytes in values, but reads names as UTF-8'
        : 'a value holds bytes that are not valid UTF-8 (a SQL_ASCII database\'s legacy text), which the merge reads as UTF-8 and could not keep exact';
      throw new ConflictError('data_not_utf8', `cannot compare the rows of ${connA.database} and ${connB.database}: ${what}`, {
        hint: options.bytes
          ? 'rename the objects whose names hold such bytes (ALTER … RENAME TO a UTF-8 name) on both sides, or compare the databases with pg_dump output instead'
          : 'apply the branch with `ayb branch diff <target> <branch> --data --output sql` (which keeps such bytes), or convert the text to UTF-8 (convert_from(value::bytea, \'LATIN1\')) on both sides first',
        cause: error,
      });
    }
    throw queryError(error, connA);
  } finally {
    for (const client of clients) await client.end().catch(() => undefined);
  }
}

export interface TableRef {
  readonly schema: string;
  readonly name: string;
}

/**
 * The tables (tableId) that users' names mean, of both sides' (see tablesNamed): an unknown name is
 * table_not_found, a name that is two tables' (`dot.a.b`: `dot."a.b"` and `"dot.a".b`) is refused.
 */
export function resolveTables(a: Side, b: Side, names: readonly string[] | undefined): Set<string> | undefined {
  if (names === undefined) return undefined;
  const ids = new Set([...a.catalog.tables.keys(), ...b.catalog.tables.keys()]);
  const of = (id: string) => a.catalog.tables.get(id) ?? b.catalog.tables.get(id);
  const out = new Set<string>();
  const unknown: string[] = [];
  for (const text of names) {
    const found = tablesNamed(ids, of, text);
    if (found.length === 0) unknown.push(text);
    if (found.length > 1) {
      throw new UsageError(`"${text}" names ${found.length} tables: ${found.map((id) => tableLabel(of(id)!)).join(', ')}`, {
        hint: 'name one of them with its parts quoted, as listed',
      }, 'table_ambiguous');
    }
    for (const id of found) out.add(id);
  }
  if (unknown.length > 0) {
    throw new NotFoundError('table_not_found', `no table ${unknown.join(', ')} on either side`, {
      hint: 'name tables as schema.table (a bare name means public.name; a part holding a dot quoted: dot."a.b"); partitioned tables are compared by partition',
    });
  }
  return out;
}

/** Compares the rows of every table both sides have (or of the chosen ones). */
export async function compareData(a: Side, b: Side, options: DataDiffOptions = {}): Promise<DataComparison> {
  const wanted = resolveTables(a, b, options.tables);
  const pick = (id: string) => wanted === undefined || wanted.has(id);
  const onlyA = [...a.catalog.tables.entries()].filter(([id]) => pick(id) && !b.catalog.tables.has(id)).map(([, t]) => t);
  const onlyB = [...b.catalog.tables.entries()].filter(([id]) => pick(id) && !a.catalog.tables.has(id)).map(([, t]) => t);
  const ref = (t: TableRef): TableRef => ({ schema: t.schema, name: t.name });
  const tables: TableDiff<Keys>[] = [];
  for (const [id, ta] of a.catalog.tables) {
    const tb = b.catalog.tables.get(id);
    if (!tb || !pick(id)) continue;
    options.log?.(`Comparing rows of ${tableLabel(ta)} …`);
    await options.beforeTable?.(tableName(ta));
    // Removed and added keys that the key's own equality finds equal (1.0 and 1.00) are one changed row.
    const compare = async () => pairEqualKeys(a, await diffTableKeys(a, b, planTable(ta, tb)));
    tables.push(a.perTable || b.perTable ? await inOwnSnapshot(a, b, compare) : await compare());
  }
  // Sequences, materialized views and large objects belong to no table: compared when every table is.
  const outside = wanted === undefined ? await compareOutside(a, b) : undefined;
  return { tables, onlyInA: onlyA.map(tableLabel), onlyInB: onlyB.map(tableLabel), onlyInATables: onlyA.map(ref), onlyInBTables: onlyB.map(ref), ...(outside ? { outside } : {}) };
}

/**
 * Runs `fn` in a read-only REPEATABLE READ transaction of its own on each side whose snapshot is held
 * per table (a side held whole stays in its one transaction), ended right after.
 */
async function inOwnSnapshot<T>(a: Side, b: Side, fn: () => Promise<T>): Promise<T> {
  const sides = [a, b].filter((s) => s.perTable);
  await Promise.all(sides.map((s) => s.client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')));
  try {
    return await fn();
  } finally {
    await Promise.all(sides.map((s) => s.client.query('COMMIT').catch(() => undefined)));
  }
}

/**
 * Why a script of rows cannot make a's rows equal b's: tables on one side only, or whose columns
 * differ (the script would leave out the columns it cannot write). Checked before anything is read.
 */
export function schemaObstacles(a: Side, b: Side, options: Pick<DataDiffOptions, 'tables'> = {}): string[] {
  const wanted = resolveTables(a, b, options.tables);
  const pick = (id: string) => wanted === undefined || wanted.has(id);
  const out: string[] = [];
  for (const [id, ta] of a.catalog.tables) {
    if (!pick(id)) continue;
    const tb = b.catalog.tables.get(id);
    if (!tb) out.push(`${tableLabel(ta)} is only in the first database`);
    else if (planTable(ta, tb).columnsDiffer) out.push(`${tableLabel(ta)} has other columns (or column types) on each side`);
    else {
      // An enum of the same name whose values differ (a value the branch renamed or added): b's rows cannot be written in a.
      // Reached through a domain, an array, a composite type or a range too (DataColumn.enums).
      const renamed = ta.columns.flatMap((c) => c.enums ?? [c.type.replace(/(\[\])+$/, '')]).filter((type, i, all) => all.indexOf(type) === i).filter((type) => {
        const [la, lb] = [a.catalog.enums?.get(type), b.catalog.enums?.get(type)];
        return la !== undefined && lb !== undefined && lb.some((label) => !la.includes(label));
      });
      if (renamed.length > 0) out.push(`${tableLabel(ta)} has columns of enum types whose values differ on each side (${renamed.join(', ')})`);
    }
  }
  for (const [id, tb] of b.catalog.tables) if (pick(id) && !a.catalog.tables.has(id)) out.push(`${tableLabel(tb)} is only in the second database`);
  return out;
}

export function schemaObstacleError(obstacles: readonly string[], from: string, to: string): ConflictError {
  return new ConflictError('data_schema_differs', `--output sql cannot make the rows of ${from} equal those of ${to}: ${obstacles.join('; ')}`, {
    hint: `make the schemas equal first (ayb branch diff ${from} ${to} --output sql, applied to ${from}), then diff the rows again`,
  });
}

/** A key (or row) tuple as an object of column → text, for examples in JSON. */
export function keyObject(columns: readonly string[], key: KeyTuple): Record<string, string | null> {
  return Object.fromEntries(columns.map((c, i) => [c, key[i] ?? null]));
}

/** The JSON record of one table, with up to `limit` example keys per kind when asked. */
export function tableChange(diff: TableDiff<Keys>, limit?: number): TableDataChange & { examples?: Record<string, Record<string, string | null>[]> } {
  const counts = diffCounts(diff);
  const plan = diff.plan;
  const record = {
    table: tableName(plan),
    schema: plan.schema,
    name: plan.name,
    key: plan.match === 'rows' ? null : plan.key,
    match: plan.match,
    ...counts,
    ...(plan.columnsDiffer ? { columns_differ: true as const } : {}),
    ...(plan.notAKeyOnBoth ? { not_a_key_on_both: plan.notAKeyOnBoth } : {}),
  };
  if (limit === undefined || limit <= 0 || counts.added + counts.removed + counts.changed === 0) return record;
  const examples: Record<string, Record<string, string | null>[]> = {};
  for (const kind of ['added', 'removed', 'changed'] as const) {
    if (diff[kind].length > 0) examples[kind] = firstKeys(diff[kind], limit).map((k) => keyObject(plan.key, k));
  }
  return { ...record, examples };
}

/** The JSON records of tables on one side only (after those compared). */
export function onlyOnOneSide(comparison: DataComparison): TableDataChange[] {
  const entry = (t: TableRef, side: 'from' | 'to'): TableDataChange => ({ table: tableName(t), schema: t.schema, name: t.name, key: null, match: 'rows', added: 0, removed: 0, changed: 0, only_in: side });
  const order = (x: TableDataChange, y: TableDataChange) => (x.schema === y.schema ? (x.name < y.name ? -1 : 1) : x.schema < y.schema ? -1 : 1);
  return [...(comparison.onlyInATables ?? []).map((t) => entry(t, 'from')), ...(comparison.onlyInBTables ?? []).map((t) => entry(t, 'to'))].sort(order);
}

/**
 * The JSON records of what differs outside the tables' rows (after the tables): a sequence whose
 * position differs, a materialized view whose rows differ, the large objects.
 */
export interface OutsideChange {
  readonly table: string;
  readonly schema: string;
  readonly name: string;
  readonly kind: 'sequence' | 'materialized_view' | 'large_objects';
  readonly key: null;
  readonly added: 0;
  readonly removed: 0;
  readonly changed: 0;
  /** What differs: a sequence's position (the script sets it), a view's or the large objects' data (the script leaves them). */
  readonly differs: 'position' | 'rows';
}

export function outsideChanges(comparison: DataComparison): OutsideChange[] {
  const o = comparison.outside;
  if (!o) return [];
  const entry = (t: TableRef, kind: OutsideChange['kind'], differs: OutsideChange['differs']): OutsideChange =>
    ({ table: tableName(t), schema: t.schema, name: t.name, kind, key: null, added: 0, removed: 0, changed: 0, differs });
  return [
    ...o.sequences.map((s) => entry(s, 'sequence', 'position')),
    ...o.materializedViews.map((v) => entry(v, 'materialized_view', 'rows')),
    ...(o.largeObjects ? [entry({ schema: 'pg_catalog', name: 'pg_largeobject' }, 'large_objects', 'rows')] : []),
  ];
}

/**
 * Every difference the data diff knows of: rows differ, a table is on one side only, a table's columns
 * differ (the data of a column one side lacks), a sequence's position, a materialized view's rows, the
 * large objects.
 */
export function hasDifferences(comparison: DataComparison): boolean {
  return comparison.onlyInA.length + comparison.onlyInB.length > 0
    || comparison.tables.some((t) => t.added.length + t.removed.length + t.changed.length > 0 || t.plan.columnsDiffer)
    || outsideDiffers(comparison.outside);
}

/** Writes the DML that makes a's rows equal b's, as one script, to `sink` (see writeDataMigration). */
export async function dataMigration(a: Side, b: Side, comparison: DataComparison, header: string, sink: DmlSink, options: { sequences?: boolean } = {}): Promise<void> {
  const sequences = options.sequences === false ? [] : await sequenceDml(a, b);
  const o = comparison.outside;
  const left = [
    ...(o?.materializedViews ?? []).map((v) => `materialized view ${tableLabel(v)} (its rows differ; REFRESH MATERIALIZED VIEW after applying, if its query gives b's rows)`),
    ...(o?.largeObjects ? ['the large objects (they differ)'] : []),
  ];
  const note = left.length ? `\n-- Not written by this script: ${left.map((x) => x.replace(/\n/g, ' ')).join('; ')}.` : '';
  await writeDataMigration(a, b, comparison.tables, sequences, `${header}${note}`, sink);
}
