import { CONTROL_TABLE, CONTROL_SCHEMA } from '../core/records.js';
import type { Client } from './client.js';
import { quoteIdent } from './quote.js';

export interface TableStats {
  readonly schema: string;
  readonly name: string;
  /** Rows: exact when `exact`, else the planner's estimate (`null` when never analysed). */
  readonly rows: number | null;
  readonly exact: boolean;
  /** Bytes on disk, indexes and TOAST included. */
  readonly size_bytes: number;
}

export interface TableStatsOptions {
  /** Most tables listed (largest databases show the first ones by schema and name). */
  readonly maxTables?: number;
  /** Tables whose heap is at most this many bytes are counted exactly… */
  readonly exactBytesPerTable?: number;
  /** …as long as the exactly counted heaps stay within this total; the rest are estimates. */
  readonly exactBytesTotal?: number;
}

interface CatalogRow {
  schema: string;
  name: string;
  estimate: string;
  heap_bytes: string;
  size_bytes: string;
}

/**
 * The user tables of the connected database with row counts, for a glance (the dashboard).
 * Small tables are counted exactly (`count(*)`, with short lock and statement timeouts so a locked
 * table cannot stall the answer); large ones, and any whose count times out, show the estimate from
 * `pg_class.reltuples`. Partitions are folded into their parent. The control table is left out.
 */
export async function tableStats(client: Client, options: TableStatsOptions = {}): Promise<TableStats[]> {
  const maxTables = options.maxTables ?? 200;
  const perTable = options.exactBytesPerTable ?? 8 * 1024 * 1024;
  let budget = options.exactBytesTotal ?? 64 * 1024 * 1024;
  const { rows } = await client.query<CatalogRow>(
    `SELECT n.nspname AS schema, c.relname AS name,
            CASE WHEN c.relkind = 'p'
                 THEN (SELECT coalesce(sum(greatest(p.reltuples, 0)), 0) FROM pg_partition_tree(c.oid) t JOIN pg_class p ON p.oid = t.relid)
                 ELSE c.reltuples END::bigint::text AS estimate,
            CASE WHEN c.relkind = 'p'
                 THEN (SELECT coalesce(sum(pg_relation_size(t.relid)), 0) FROM pg_partition_tree(c.oid) t)
                 ELSE pg_relation_size(c.oid) END::text AS heap_bytes,
            CASE WHEN c.relkind = 'p'
                 THEN (SELECT coalesce(sum(pg_total_relation_size(t.relid)), 0) FROM pg_partition_tree(c.oid) t)
                 ELSE pg_total_relation_size(c.oid) END::text AS size_bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
        AND NOT (n.nspname = $1 AND c.relname = $2)
      ORDER BY n.nspname, c.relname
      LIMIT $3`,
    [CONTROL_SCHEMA, CONTROL_TABLE, maxTables],
  );
  await client.query("SET lock_timeout = '200ms'; SET statement_timeout = '2s'");
  const out: TableStats[] = [];
  for (const row of rows) {
    const heap = Number(row.heap_bytes);
    // reltuples is -1 for a table never vacuumed or analysed: unknown.
    const estimate = Number(row.estimate) >= 0 && !(Number(row.estimate) === 0 && heap > 0) ? Number(row.estimate) : null;
    let counted: number | undefined;
    if (heap <= perTable && heap <= budget) {
      budget -= heap;
      counted = await client
        .query<{ n: string }>(`SELECT count(*)::text AS n FROM ${quoteIdent(row.schema)}.${quoteIdent(row.name)}`)
        .then((r) => Number(r.rows[0]!.n), () => undefined);
    }
    out.push({
      schema: row.schema,
      name: row.name,
      rows: counted ?? estimate,
      exact: counted !== undefined,
      size_bytes: Number(row.size_bytes),
    });
  }
  return out;
}
