import type { Client } from '../postgres/client.js';
import { quoteIdent } from '../postgres/quote.js';
import type { DataCatalog } from './catalog.js';

/**
 * Data that is not in a table's rows, which the data diff compares beside them so that `--exit-code`
 * counts every difference it knows of: sequence positions (the script sets them), materialized views'
 * rows and large objects (the script leaves them: it says so in its header).
 */
export interface OutsideDiff {
  /** Sequences both sides have whose position (last_value, is_called) differs. */
  readonly sequences: readonly Named[];
  /** Materialized views both sides have whose rows differ, or that one side has populated and the other not. */
  readonly materializedViews: readonly Named[];
  /** The large objects (their oids, owners' data pages) differ. */
  readonly largeObjects: boolean;
}

export interface Named {
  readonly schema: string;
  readonly name: string;
}

const qualified = (t: Named) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
const key = (t: Named) => qualified(t);

/** Sequences' states, in one query: `schema.name` → `last_value:is_called` (those the role may read; others are absent). */
async function sequenceStates(client: Client, all: readonly Named[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const { rows: readable } = await client.query<{ i: number }>(
    "SELECT (s.i - 1)::int AS i FROM pg_catalog.unnest($1::text[]) WITH ORDINALITY AS s(n, i) WHERE pg_catalog.has_sequence_privilege(s.n, 'SELECT')", [all.map(qualified)]);
  const sequences = readable.map((r) => all[r.i]!);
  for (let start = 0; start < sequences.length; start += 500) {
    const batch = sequences.slice(start, start + 500);
    const sql = batch.map((s, i) => `SELECT ${i} AS i, last_value::text || ':' || is_called::text AS s FROM ${qualified(s)}`).join('\nUNION ALL ');
    const { rows } = await client.query<{ i: number; s: string }>(sql);
    for (const r of rows) out.set(key(batch[r.i]!), r.s);
  }
  return out;
}

const MATVIEWS_SQL = `SELECT n.nspname AS schema, c.relname AS name, c.relispopulated AS populated
   FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'm' AND pg_catalog.has_table_privilege(c.oid, 'SELECT') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid AND d.deptype = 'e')`;

/** An order-free digest of a relation's rows as text (their count and the sum of their hashes): one scan, no sort. */
const digest = (from: string, row: string) =>
  `SELECT count(*)::text || ':' || coalesce(sum(pg_catalog.hashtextextended(${row}, 0)::numeric), 0)::text AS d FROM ${from}`;

async function matviewStates(client: Client): Promise<Map<string, { populated: boolean; name: Named }>> {
  const { rows } = await client.query<{ schema: string; name: string; populated: boolean }>(MATVIEWS_SQL);
  return new Map(rows.map((r) => [key(r), { populated: r.populated, name: { schema: r.schema, name: r.name } }]));
}

async function largeObjectDigest(client: Client): Promise<string> {
  const { rows } = await client.query<{ data: boolean }>("SELECT pg_catalog.has_table_privilege('pg_catalog.pg_largeobject', 'SELECT') AS data");
  const meta = await client.query<{ d: string }>(digest('pg_catalog.pg_largeobject_metadata m', "m.oid::text || ':' || m.lomowner::text"));
  // pg_largeobject is readable by superusers only, unless granted: the oids alone otherwise.
  const data = rows[0]!.data
    ? (await client.query<{ d: string }>(digest('pg_catalog.pg_largeobject l', "l.loid::text || ':' || l.pageno::text || ':' || pg_catalog.encode(l.data, 'hex')"))).rows[0]!.d
    : '';
  return `${meta.rows[0]!.d}/${data}`;
}

/** Compares what is not a table's rows (see OutsideDiff), in the sessions' current snapshots. */
export async function compareOutside(a: { client: Client; catalog: DataCatalog }, b: { client: Client; catalog: DataCatalog }): Promise<OutsideDiff> {
  const inB = new Set(b.catalog.sequences.map(key));
  const shared = a.catalog.sequences.filter((s) => inB.has(key(s)));
  const [sa, sb] = await Promise.all([sequenceStates(a.client, shared), sequenceStates(b.client, shared)]);
  const sequences = shared.filter((s) => sa.has(key(s)) && sb.has(key(s)) && sa.get(key(s)) !== sb.get(key(s)));

  const [ma, mb] = await Promise.all([matviewStates(a.client), matviewStates(b.client)]);
  const materializedViews: Named[] = [];
  for (const [id, va] of ma) {
    const vb = mb.get(id);
    if (!vb) continue; // on one side only: the schema diff's business
    if (va.populated !== vb.populated) {
      materializedViews.push(va.name);
      continue;
    }
    if (!va.populated) continue;
    const sql = digest(`${id} m`, 'm::text');
    const [da, db] = await Promise.all([a.client.query<{ d: string }>(sql), b.client.query<{ d: string }>(sql)]);
    if (da.rows[0]!.d !== db.rows[0]!.d) materializedViews.push(va.name);
  }

  const [la, lb] = await Promise.all([largeObjectDigest(a.client), largeObjectDigest(b.client)]);
  return { sequences, materializedViews, largeObjects: la !== lb };
}

/** Something outside the tables' rows differs. */
export const outsideDiffers = (o: OutsideDiff | undefined): boolean => o !== undefined && (o.sequences.length + o.materializedViews.length > 0 || o.largeObjects);
