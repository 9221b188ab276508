import { NotFoundError } from '../core/errors.js';
import { type Client, connect, queryError } from '../postgres/client.js';
import type { ConnInfo } from '../postgres/conninfo.js';
import { type MatchKind, readCatalog, tableId } from './catalog.js';
import { diffCounts, diffTable, type KeyTuple, planTable, type Side, type TableDiff } from './compare.js';
import { renderDml, sequenceDml, tableDml } from './sql.js';

export interface DataDiffOptions {
  /** Only these tables (`schema.table`, or a bare name for `public.name`). */
  readonly tables?: readonly string[];
  /** Tables that are never data (ayb's control table). */
  readonly exclude?: readonly string[];
  readonly log?: (line: string) => void;
}

/** One table's result, in the shape `--output json` prints. */
export interface TableDataChange {
  readonly table: string;
  /** Key columns; null when rows are matched as whole rows. */
  readonly key: readonly string[] | null;
  readonly match: MatchKind;
  readonly added: number;
  readonly removed: number;
  readonly changed: number;
  /** Only the shared columns were compared: the sides' columns differ. */
  readonly columns_differ?: true;
}

export interface DataComparison {
  readonly tables: readonly TableDiff[];
  /** Tables only one side has (the schema diff's business; their rows are not compared). */
  readonly onlyInA: readonly string[];
  readonly onlyInB: readonly string[];
}

/**
 * Opens one session per side, each in a read-only REPEATABLE READ transaction so that every query
 * of the comparison sees one state of its database, and closes both afterwards.
 */
export async function withSides<T>(connA: ConnInfo, connB: ConnInfo, exclude: readonly string[], fn: (a: Side, b: Side) => Promise<T>): Promise<T> {
  const clients: Client[] = [];
  try {
    for (const conn of [connA, connB]) {
      const client = await connect(conn);
      clients.push(client);
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      // The planner cannot know that a checksum query has few groups (at most 65536): it would sort
      // every row, text and all, to group them, spilling to disk. A hash table of the groups is tiny.
      await client.query("SET LOCAL work_mem = '64MB'");
      await client.query('SET LOCAL enable_sort = off');
    }
    const [ca, cb] = clients as [Client, Client];
    const [catA, catB] = await Promise.all([readCatalog(ca, exclude), readCatalog(cb, exclude)]);
    return await fn({ client: ca, catalog: catA }, { client: cb, catalog: catB });
  } catch (error) {
    throw queryError(error, connA);
  } finally {
    for (const client of clients) await client.end().catch(() => undefined);
  }
}

/** `public.name` for a bare name. */
export function normaliseTableName(name: string): string {
  return name.includes('.') ? name : `public.${name}`;
}

/** Compares the rows of every table both sides have (or of the chosen ones). */
export async function compareData(a: Side, b: Side, options: DataDiffOptions = {}): Promise<DataComparison> {
  const wanted = options.tables?.map(normaliseTableName);
  const unknown = wanted?.filter((id) => !a.catalog.tables.has(id) && !b.catalog.tables.has(id)) ?? [];
  if (unknown.length > 0) {
    throw new NotFoundError('table_not_found', `no table ${unknown.join(', ')} on either side`, {
      hint: 'name tables as schema.table (a bare name means public.name); partitioned tables are compared by partition',
    });
  }
  const pick = (id: string) => wanted === undefined || wanted.includes(id);
  const onlyInA = [...a.catalog.tables.keys()].filter((id) => pick(id) && !b.catalog.tables.has(id));
  const onlyInB = [...b.catalog.tables.keys()].filter((id) => pick(id) && !a.catalog.tables.has(id));
  const tables: TableDiff[] = [];
  for (const [id, ta] of a.catalog.tables) {
    const tb = b.catalog.tables.get(id);
    if (!tb || !pick(id)) continue;
    options.log?.(`Comparing rows of ${id} …`);
    tables.push(await diffTable(a, b, planTable(ta, tb)));
  }
  return { tables, onlyInA, onlyInB };
}

/** A key (or row) tuple as an object of column → text, for examples in JSON. */
export function keyObject(columns: readonly string[], key: KeyTuple): Record<string, string | null> {
  return Object.fromEntries(columns.map((c, i) => [c, key[i] ?? null]));
}

/** The JSON record of one table, with up to `limit` example keys per kind when asked. */
export function tableChange(diff: TableDiff, limit?: number): TableDataChange & { examples?: Record<string, Record<string, string | null>[]> } {
  const counts = diffCounts(diff);
  const plan = diff.plan;
  const record = {
    table: tableId(plan),
    key: plan.match === 'rows' ? null : plan.key,
    match: plan.match,
    ...counts,
    ...(plan.columnsDiffer ? { columns_differ: true as const } : {}),
  };
  if (limit === undefined || limit <= 0 || counts.added + counts.removed + counts.changed === 0) return record;
  const examples: Record<string, Record<string, string | null>[]> = {};
  for (const kind of ['added', 'removed', 'changed'] as const) {
    if (diff[kind].length > 0) examples[kind] = diff[kind].slice(0, limit).map((k) => keyObject(plan.key, k));
  }
  return { ...record, examples };
}

/** The DML that makes a's rows equal b's, as one script. */
export async function dataMigration(a: Side, b: Side, comparison: DataComparison, header: string, options: { sequences?: boolean } = {}): Promise<string> {
  const dml = [];
  for (const diff of comparison.tables) {
    if (diff.added.length + diff.removed.length + diff.changed.length === 0) continue;
    dml.push(await tableDml(a, b, diff));
  }
  return renderDml(header, dml, options.sequences === false ? [] : await sequenceDml(a, b));
}
