import type { Client } from '../postgres/client.js';
import { quoteIdent, quoteLiteral, unnestAll } from '../postgres/quote.js';
import { type DataCatalog, type DataTable, keysOf, type MatchKind, tableId } from './catalog.js';
import { compareTuples, KeyList, type Keys, type KeyTuple } from './key-list.js';
import { valueText, wireText } from './value-text.js';

export { compareTuples, type KeyTuple };

/** One side of a comparison: a session inside a read-only REPEATABLE READ transaction, and its catalog. */
export interface Side {
  readonly client: Client;
  readonly catalog: DataCatalog;
  /** Each table is compared in a transaction of its own (withSides' `table` scope), not in one for all. */
  readonly perTable?: boolean;
  /** Values travel as their bytes (value-text.ts: wireText), as they do when a side is a SQL_ASCII database. */
  readonly bytes?: boolean;
}

/** How one table is compared: which columns, matched how. */
export interface TablePlan {
  readonly schema: string;
  readonly name: string;
  readonly match: MatchKind;
  /** Key columns; for `rows`, every compared column (a row is its own key, counted as a multiset). */
  readonly key: readonly string[];
  /** Columns both sides have, in the order of side a. */
  readonly columns: readonly string[];
  /** The sides' column lists (names or types) differ: only the shared columns are compared. */
  readonly columnsDiffer: boolean;
  /** The key's first column is an integer: compared by ranges of it, which the key's index serves. */
  readonly integerKey: boolean;
  /**
   * Set when a side has a key that the other side does not hold unique and not null (a dropped primary
   * key, duplicate ids): its columns. Rows are then matched as whole rows, since matching by a column
   * that is not a key on both sides would pair rows that are not the same row.
   */
  readonly notAKeyOnBoth?: readonly string[];
}

/**
 * One table's differing keys: arrays sorted by key (diffTable, for merge), or packed lists in the order
 * found (diffTableKeys, for the data diff: memory a few bytes per differing key).
 */
export interface TableDiff<K extends Keys = KeyTuple[]> {
  readonly plan: TablePlan;
  readonly added: K;
  readonly removed: K;
  readonly changed: K;
  /** For `rows`: how many copies of each added or removed row (same order as `added` / `removed`). */
  readonly addedCount?: number[];
  readonly removedCount?: number[];
}

/** Rows per bucket of the first checksum pass. */
const BUCKET_ROWS = 512;
/** A differing key range of at most this many rows is read; a bigger one is split again. */
const LEAF_ROWS = 1024;
/** How many parts a key range that is still too big is split into. */
const SPLIT = 16;
const MAX_BUCKETS = 65536;
/** A table at most this big on both sides (pg_table_size, TOAST included) is read whole, without checksums. */
const SMALL_TABLE_BYTES = 256 * 1024;
const INTEGER_TYPES = new Set(['smallint', 'integer', 'bigint']);

export function planTable(a: DataTable, b: DataTable): TablePlan {
  const bColumns = new Map(b.columns.map((c) => [c.name, c]));
  const shared = a.columns.filter((c) => bColumns.has(c.name));
  const columnsDiffer = shared.length !== a.columns.length || shared.length !== b.columns.length || shared.some((c) => bColumns.get(c.name)!.type !== c.type);
  const names = shared.map((c) => c.name);
  // A key of a's that b also holds unique and not null (the same columns, in any order of the index).
  const sameColumns = (x: readonly string[], y: readonly string[]) => x.length === y.length && x.every((c) => y.includes(c));
  const key = keysOf(a).find((k) => k.columns.every((c) => names.includes(c)) && keysOf(b).some((kb) => sameColumns(kb.columns, k.columns))) ?? null;
  const lost = key === null ? (a.key ?? b.key) : null;
  // The first key column orders the index: an integer there lets ranges of it be read from the index.
  const integerKey = key !== null
    && INTEGER_TYPES.has(a.columns.find((c) => c.name === key.columns[0])!.type)
    && INTEGER_TYPES.has(bColumns.get(key.columns[0]!)!.type);
  return {
    schema: a.schema,
    name: a.name,
    match: key?.kind ?? 'rows',
    key: key?.columns ?? names,
    columns: names,
    columnsDiffer,
    integerKey,
    ...(lost ? { notAKeyOnBoth: lost.columns } : {}),
  };
}

/** int8 and numeric arrive as strings (node-pg's default), compared as such. */
interface Bucket {
  readonly count: string;
  readonly sum: string;
}

/**
 * The table's own rows (ONLY: an inheritance child's rows are the child's, compared there), aliased `t`: every column of the user's is written `t.column`, so that no column name (a
 * user may well have a column called "ayb lo") can be mistaken for one of the diff's own.
 */
const qualified = (plan: { schema: string; name: string }) => `ONLY ${quoteIdent(plan.schema)}.${quoteIdent(plan.name)} t`;
const col = (c: string) => `t.${quoteIdent(c)}`;
const rowText = (columns: readonly string[]) => `ROW(${columns.map(col).join(', ')})::text`;
/** A 64-bit hash of a row's text; sums of these are the checksums both servers compute. */
const rowHash = (plan: TablePlan) => `hashtextextended(${rowText(plan.columns)}, 0)`;
const keyHash = (plan: TablePlan) => (plan.match === 'rows' ? rowHash(plan) : `hashtextextended(${rowText(plan.key)}, 0)`);

/** Runs the same query on both sides at once. */
async function both<T extends object>(a: Side, b: Side, sql: string, params: unknown[] = []): Promise<[T[], T[]]> {
  const [ra, rb] = await Promise.all([a.client.query<T & object>(sql, params), b.client.query<T & object>(sql, params)]);
  return [ra.rows as T[], rb.rows as T[]];
}

/** Buckets whose count or checksum differ (a bucket missing on one side counts as empty there). */
function differingBuckets(a: readonly (Bucket & { b: string })[], b: readonly (Bucket & { b: string })[]): { bucket: string; rows: number }[] {
  const key = (x: Bucket) => `${x.count}:${x.sum}`;
  const ma = new Map(a.map((x) => [x.b, x]));
  const mb = new Map(b.map((x) => [x.b, x]));
  const out: { bucket: string; rows: number }[] = [];
  for (const id of new Set([...ma.keys(), ...mb.keys()])) {
    const xa = ma.get(id);
    const xb = mb.get(id);
    if (xa && xb && key(xa) === key(xb)) continue;
    out.push({ bucket: id, rows: Math.max(Number(xa?.count ?? 0), Number(xb?.count ?? 0)) });
  }
  return out;
}

/**
 * Compares one table's rows on both sides. Both servers compute per-bucket row counts and sums of
 * row hashes in one scan each, at the same time; only buckets whose checksums differ are read
 * further. A single integer key is bucketed by key range, and a range still too big is split again
 * (bisection, as Datafold's data-diff does), every step an index range scan; any other key is
 * bucketed by a hash of the key, and the differing buckets are read in a second scan. Memory grows
 * with the rows in differing buckets, not with the table.
 */
export async function diffTable(a: Side, b: Side, plan: TablePlan): Promise<TableDiff> {
  const diff = await diffTableKeys(a, b, plan);
  if (plan.match === 'rows') return diff as TableDiff;
  return { plan, added: sortKeys([...diff.added]), removed: sortKeys([...diff.removed]), changed: sortKeys([...diff.changed]) };
}

/**
 * A table of a few pages on both sides, analysed (so known to the planner as small), is read whole at
 * once (keys and row hashes): one query per side instead of bounds, checksums and reads, which for
 * many small tables is most of the time. One statement sees one snapshot: it needs no transaction.
 */
function readInOneQuery(a: Side, b: Side, plan: TablePlan): boolean {
  return [a, b].every((s) => {
    const t = s.catalog.tables.get(tableId(plan));
    return t?.bytes !== undefined && t.bytes <= SMALL_TABLE_BYTES && t.estimatedRows >= 0;
  });
}

/** diffTable's keys packed (KeyList), in the order found: what the data diff holds however many rows differ. */
export async function diffTableKeys(a: Side, b: Side, plan: TablePlan, sink?: RowSink): Promise<TableDiff<Keys>> {
  const estimate = Math.max(a.catalog.tables.get(tableId(plan))?.estimatedRows ?? 0, b.catalog.tables.get(tableId(plan))?.estimatedRows ?? 0, 0);
  const found: Found = { added: new KeyList(), removed: new KeyList(), changed: new KeyList(), deltas: new Map(), sink };
  if (readInOneQuery(a, b, plan)) await readRows(a, b, plan, 'true', [], found);
  else if (plan.integerKey) await diffByRanges(a, b, plan, estimate, found);
  else await diffByHash(a, b, plan, estimate, found);
  return plan.match === 'rows'
    ? multisetFromDeltas(plan, found.deltas)
    : { plan, added: found.added, removed: found.removed, changed: found.changed };
}

/**
 * What a table's differing buckets held, settled a batch of buckets at a time (every batch holds the
 * same keys on both sides, complete): only the keys that differ stay in memory, packed.
 */
interface Found {
  readonly added: KeyList;
  readonly removed: KeyList;
  readonly changed: KeyList;
  /** For `rows`: each differing row's (JSON) change in number of copies. */
  readonly deltas: Map<string, number>;
  /** Set: the differing buckets' rows go there instead (the lists stay empty). */
  readonly sink?: RowSink | undefined;
}

/**
 * Where a keyed table's differing buckets' rows go instead of into ayb (the merge: onto the target's
 * server, see merge-server.ts): called once per batch of buckets with the rows' source (`from`, the
 * table aliased `t`) and condition, values written in (a COPY takes no parameters). The same
 * buckets are read on both sides: a key in them is in both calls' rows or it is not there.
 */
export type RowSink = (from: string, where: string) => Promise<void>;

/** Buckets whose rows go to a sink per call: rows move server to server, not through ayb's memory. */
const SINK_BATCH = 64;

/** The key of a row of `t` as an array of its columns' text (the text the key lists hold). */
export const keyArraySql = (plan: TablePlan): string => `ARRAY[${plan.key.map((c) => valueText(col(c))).join(', ')}]::text[]`;

/**
 * `sql` with its parameters `$n` written in as literals (text, or a one-dimensional array of texts),
 * outside quoted identifiers and literals: for a statement that takes none (COPY).
 */
export function inlineParams(sql: string, params: readonly unknown[]): string {
  const literal = (v: unknown) => (Array.isArray(v)
    ? quoteLiteral(`{${v.map((e) => (e === null ? 'NULL' : `"${String(e).replace(/[\\"]/g, (c) => `\\${c}`)}"`)).join(',')}}`)
    : quoteLiteral(String(v)));
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i]!;
    if (ch === '"' || ch === "'") {
      let j = i + 1;
      while (j < sql.length && !(sql[j] === ch && sql[j + 1] !== ch)) j += sql[j] === ch ? 2 : 1;
      out += sql.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    const m = ch === '$' ? /^\$([0-9]+)/.exec(sql.slice(i)) : null;
    if (m) {
      out += literal(params[Number(m[1]) - 1]);
      i += m[0].length;
      continue;
    }
    out += ch;
    i++;
  }
  return out;
}

/**
 * Differing ranges or buckets read per query: bounds the rows one reply holds (some thousands a
 * side). 4 rather than 16: at 1M changed rows the --json diff's peak RSS fell from 171–178 MB to 158 MB,
 * in the same time (fewer rows alive at each collection, less garbage promoted).
 */
const READ_BATCH = 4;

async function diffByRanges(a: Side, b: Side, plan: TablePlan, estimate: number, found: Found): Promise<void> {
  const k = col(plan.key[0]!);
  const [ea, eb] = await both<{ lo: string | null; hi: string | null }>(a, b, `SELECT min(${k})::text AS lo, max(${k})::text AS hi FROM ${qualified(plan)}`);
  const bounds = [ea[0]!, eb[0]!].filter((e) => e.lo !== null).map((e) => [BigInt(e.lo!), BigInt(e.hi!)] as const);
  if (bounds.length === 0) return;
  const lo = bounds.reduce((m, [l]) => (l < m ? l : m), bounds[0]![0]);
  const hi = bounds.reduce((m, [, h]) => (h > m ? h : m), bounds[0]![1]) + 1n;
  // max + 1 does not fit a bigint when max is bigint's largest: compare ranges as numeric then.
  if (hi > 2n ** 63n - 1n) return diffByHash(a, b, plan, estimate, found);
  const parts = Math.min(MAX_BUCKETS, Math.max(1, Math.ceil(estimate / BUCKET_ROWS)));
  await compareRange(a, b, plan, lo, hi, parts, found);
}

interface KeyRange {
  readonly lo: bigint;
  readonly hi: bigint;
  /** Into how many buckets the range is split. */
  readonly n: bigint;
}

/**
 * Bisection, level by level: checksums every range of a level split into buckets, in one query per
 * side (the first level is the whole table, a sequential scan; deeper levels join the ranges, index
 * range scans); reads the small differing buckets, all at once; splits the big ones for the next level.
 */
async function compareRange(a: Side, b: Side, plan: TablePlan, lo: bigint, hi: bigint, parts: number, found: Found): Promise<void> {
  const k = col(plan.key[0]!);
  const split = (lo: bigint, hi: bigint, parts: bigint): KeyRange => ({ lo, hi, n: parts > hi - lo ? hi - lo : parts });
  let level: KeyRange[] = [split(lo, hi, BigInt(parts))];
  let first = true;
  while (level.length > 0) {
    // Bucket i of a range holds the keys with floor((key - lo) * n / (hi - lo)) = i: integer arithmetic, the
    // same on both servers and here; bigint while it cannot overflow (far cheaper per row than numeric).
    const small = level.every((r) => (r.hi - r.lo) * r.n < 2n ** 62n && r.lo >= -(2n ** 62n) && r.hi <= 2n ** 62n);
    const [rlo, rhi, rn, rid] = ['r."ayb lo"', 'r."ayb hi"', 'r."ayb n"', 'r."ayb range"'];
    const bucket = small
      ? `((${k}::int8 - ${rlo}) * ${rn} / (${rhi} - ${rlo}))`
      : `div((${k}::numeric - ${rlo}) * ${rn}, ${rhi}::numeric - ${rlo})`;
    let sql: string;
    let params: unknown[];
    if (first) {
      // The whole table, one sequential scan. Grouped by a column of generate_series joined on the bucket,
      // not by the bucket itself: the planner cannot tell how many values an expression of the key takes
      // (it assumes one per row), and for that many groups it would aggregate in one process; for the
      // series' few values it aggregates in parallel workers, as it does for a scan without groups.
      const only = level[0]!;
      const one = small
        ? `((${k}::int8 - $1::int8) * $3::int8 / ($2::int8 - $1::int8))`
        : `div((${k}::numeric - $1::int8) * $3::int8, $2::numeric - $1::int8)::int8`;
      sql = `SELECT '1:' || g."ayb b" AS b, count(*) AS count, coalesce(sum(${rowHash(plan)}), 0) AS sum
               FROM ${qualified(plan)} JOIN pg_catalog.generate_series(0::int8, $3::int8 - 1) AS g("ayb b") ON g."ayb b" = ${one}
              WHERE ${k} >= $1::int8 AND ${k} < $2::int8 GROUP BY g."ayb b"`;
      params = [only.lo, only.hi, only.n].map(String);
    } else {
      sql = `SELECT ${rid} || ':' || ${bucket} AS b, count(*) AS count, coalesce(sum(${rowHash(plan)}), 0) AS sum
               FROM ${qualified(plan)} JOIN ${unnestAll(['$1::int8[]', '$2::int8[]', '$3::int8[]'])} WITH ORDINALITY AS r("ayb lo", "ayb hi", "ayb n", "ayb range") ON ${k} >= ${rlo} AND ${k} < ${rhi}
              GROUP BY ${rid}, ${bucket}`;
      params = [level.map((r) => String(r.lo)), level.map((r) => String(r.hi)), level.map((r) => String(r.n))];
    }
    const [ba, bb] = await both<Bucket & { b: string }>(a, b, sql, params);
    const next: KeyRange[] = [];
    const leaves: [bigint, bigint][] = [];
    for (const { bucket: id, rows } of differingBuckets(ba, bb)) {
      const [which, index] = id.split(':');
      const range = level[Number(which) - 1]!;
      const i = BigInt(index!);
      const span = range.hi - range.lo;
      const start = range.lo + ceilDiv(i * span, range.n);
      const end = range.lo + ceilDiv((i + 1n) * span, range.n);
      if (rows > LEAF_ROWS && end - start > 1n) next.push(split(start, end, BigInt(SPLIT)));
      else leaves.push([start, end]);
    }
    // All small differing ranges of this level in one query per side: an index range scan each.
    const ranges = `${qualified(plan)} JOIN ${unnestAll(['$1::int8[]', '$2::int8[]'])} AS r("ayb lo", "ayb hi") ON ${k} >= ${rlo} AND ${k} < ${rhi}`;
    const per = found.sink ? SINK_BATCH : READ_BATCH;
    for (let i = 0; i < leaves.length; i += per) {
      const batch = leaves.slice(i, i + per);
      await readRows(a, b, plan, 'true', [batch.map(([f]) => f.toString()), batch.map(([, t]) => t.toString())], found, ranges);
    }
    level = next;
    first = false;
  }
}

function ceilDiv(x: bigint, y: bigint): bigint {
  return (x + y - 1n) / y;
}

async function diffByHash(a: Side, b: Side, plan: TablePlan, estimate: number, found: Found): Promise<void> {
  let buckets = 1;
  while (buckets < MAX_BUCKETS && buckets * BUCKET_ROWS < estimate) buckets *= 2;
  const mask = String(buckets - 1);
  // Grouped by a column of generate_series, so that the planner aggregates in parallel (see compareRange).
  const [ba, bb] = await both<Bucket & { b: string }>(a, b,
    `SELECT g."ayb b" AS b, count(*) AS count, coalesce(sum(${rowHash(plan)}), 0) AS sum
       FROM ${qualified(plan)} JOIN pg_catalog.generate_series(0::int8, $1::int8) AS g("ayb b") ON g."ayb b" = (${keyHash(plan)} & $1::int8)
      GROUP BY g."ayb b"`, [mask]);
  const differing = differingBuckets(ba, bb).map((d) => d.bucket);
  if (differing.length === 0) return;
  const per = found.sink ? SINK_BATCH : READ_BATCH;
  for (let i = 0; i < differing.length; i += per) {
    await readRows(a, b, plan, `(${keyHash(plan)} & $1::int8) = ANY($2::int8[])`, [mask, differing.slice(i, i + per)], found);
  }
}

/**
 * A key (for `rows`, a whole row) as a JSON array of its columns' texts, written by the server: the
 * form a KeyList stores (`["1","x"]`; SQL NULL is `null`). JSON never holds a raw newline.
 */
const keyJson = (plan: TablePlan, bytes?: boolean) => (plan.key.length === 0
  ? "'[]'"
  : `'[' || ${plan.key.map((c) => `coalesce(pg_catalog.to_json(${wireText(col(c), bytes)})::text, 'null')`).join(" || ',' || ")} || ']'`);

/**
 * Reads the rows of some differing buckets on both sides, each side's reply ONE text value of lines
 * `<row hash> <key JSON>` (keyed tables), or `<copies> <row JSON>` (`rows`): one string to parse instead
 * of an array and strings per row, so that what waits in memory for the other side's reply is one
 * object, and what the comparison allocates is gone before the next query.
 */
async function readRows(a: Side, b: Side, plan: TablePlan, where: string, params: unknown[], found: Found, from = qualified(plan)): Promise<void> {
  if (found.sink && plan.match !== 'rows') return found.sink(inlineParams(from, params), inlineParams(where, params));
  const sql = plan.match === 'rows'
    ? `SELECT pg_catalog.string_agg(r.n || ' ' || r.k, E'\\n') AS lines
         FROM (SELECT ${keyJson(plan, a.bytes)} AS k, count(*)::text AS n FROM ${from} WHERE ${where}${plan.key.length === 0 ? '' : ' GROUP BY 1'}) r`
    : `SELECT pg_catalog.string_agg(${rowHash(plan)}::text || ' ' || ${keyJson(plan, a.bytes)}, E'\\n') AS lines FROM ${from} WHERE ${where}`;
  const [ra, rb] = await Promise.all([
    a.client.query<{ lines: string | null }>(sql, params),
    b.client.query<{ lines: string | null }>(sql, params),
  ]);
  const rowsA = linesByKey(ra.rows[0]?.lines ?? null);
  const linesB = rb.rows[0]?.lines ?? null;
  if (plan.match === 'rows') {
    const rowsB = linesByKey(linesB);
    for (const row of new Set([...rowsA.keys(), ...rowsB.keys()])) {
      const delta = Number(rowsB.get(row) ?? 0) - Number(rowsA.get(row) ?? 0);
      if (delta !== 0) found.deltas.set(row, (found.deltas.get(row) ?? 0) + delta);
    }
    return;
  }
  eachLine(linesB, (value, key) => {
    const before = rowsA.get(key);
    if (before === undefined) found.added.pushJson(key);
    else {
      if (before !== value) found.changed.pushJson(key);
      rowsA.delete(key);
    }
  });
  for (const key of rowsA.keys()) found.removed.pushJson(key);
}

/** Calls `fn(value, key)` for each line `<value> <key>` of a reply (none for NULL). */
function eachLine(lines: string | null, fn: (value: string, key: string) => void): void {
  if (lines === null) return;
  let start = 0;
  while (start < lines.length) {
    let end = lines.indexOf('\n', start);
    if (end < 0) end = lines.length;
    const space = lines.indexOf(' ', start);
    fn(lines.slice(start, space), lines.slice(space + 1, end));
    start = end + 1;
  }
}

function linesByKey(lines: string | null): Map<string, string> {
  const out = new Map<string, string>();
  eachLine(lines, (value, key) => out.set(key, value));
  return out;
}

/** A whole-row diff from each row's (JSON) change in number of copies: positive added, negative removed. */
export function multisetFromDeltas(plan: TablePlan, deltas: ReadonlyMap<string, number>): TableDiff {
  const added: [KeyTuple, number][] = [];
  const removed: [KeyTuple, number][] = [];
  for (const [row, delta] of deltas) {
    if (delta > 0) added.push([JSON.parse(row), delta]);
    if (delta < 0) removed.push([JSON.parse(row), -delta]);
  }
  const byRow = (x: [KeyTuple, number], y: [KeyTuple, number]) => compareTuples(x[0], y[0]);
  added.sort(byRow);
  removed.sort(byRow);
  return {
    plan,
    added: added.map(([r]) => r),
    removed: removed.map(([r]) => r),
    changed: [],
    addedCount: added.map(([, n]) => n),
    removedCount: removed.map(([, n]) => n),
  };
}

/** The inverse: each row's change in number of copies. */
export function multisetDeltas(diff: TableDiff): Map<string, number> {
  const m = new Map<string, number>();
  diff.added.forEach((r, i) => m.set(JSON.stringify(r), diff.addedCount![i]!));
  diff.removed.forEach((r, i) => m.set(JSON.stringify(r), -diff.removedCount![i]!));
  return m;
}

/** Keys in a stable order for output: numerically when they look like integers, else by text. */
function sortKeys(keys: KeyTuple[]): KeyTuple[] {
  return keys.sort(compareTuples);
}

/** The number of rows a diff adds or removes (a `rows` table counts copies). */
export function diffCounts(diff: TableDiff<Keys>): { added: number; removed: number; changed: number } {
  const sum = (xs: number[] | undefined, fallback: number) => (xs ? xs.reduce((s, n) => s + n, 0) : fallback);
  return { added: sum(diff.addedCount, diff.added.length), removed: sum(diff.removedCount, diff.removed.length), changed: diff.changed.length };
}
