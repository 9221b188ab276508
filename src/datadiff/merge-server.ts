import { pipeline } from 'node:stream/promises';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { type Client, sqlState } from '../postgres/client.js';
import { quoteIdent, quoteLiteral, unnestAll } from '../postgres/quote.js';
import { type DataTable, rowsTable } from './catalog.js';
import { compareTuples, diffTableKeys, keyArraySql, type KeyTuple, type RowSink, type Side, type TableDiff } from './compare.js';
import type { Keys } from './key-list.js';
import { type KeyedJob, type KeyedPreview, mergeRow, PREVIEW_ROWS } from './merge-rows.js';
import { arrayLiteral, ROW_VERSION, STAGE, type StagedTable } from './merge-stage.js';
import type { Change, Values } from './merge-types.js';
import { keyCondition } from './sql.js';
import { valueText } from './value-text.js';
import { explained, traced } from './merge-trace.js';

/**
 * The three-way merge on the target's server (issue 25, item 7): the branch's changed keys, and the
 * base's and the branch's rows of those keys, are staged in TEMP tables of the target's session (the
 * rows streamed server to server with COPY, never parsed in ayb), and one statement per table compares
 * base, branch and target cell by cell, as mergeRow does, writing the merged rows into the staging
 * table (merge-stage.ts). Only the rows that conflict come back to ayb (settled by mergeRow: the
 * conflicts list is what the user reads), and the first rows of the preview.
 *
 * - `ayb_merge_keys`: the keys (`tab`, `n`: the key's number, `kind`: `a` added, `d` removed, `c`
 *   changed, `b` a backfilled key of a column the branch added; `k`: the key's text);
 * - `ayb_merge_base`, `ayb_merge_theirs`: that side's row of key `n`, every column as text (`v`);
 * - `ayb_merge_pending`: the keys whose rows conflict, with the three sides' rows (as compared);
 * - `ayb_merge_sb`, `ayb_merge_st`: the base's and the branch's rows of the data diff's differing
 *   buckets (`k` the key's text, `v` every column as text): the
 *   diff itself made on the target's server (mergeDiffedOnServer), its keys never read into ayb.
 *
 * Created before the plan's read-only transaction (which may write temporary tables, not create them).
 */
export const SERVER_MERGE_SQL = `CREATE TEMP TABLE ayb_merge_keys (tab int NOT NULL, n bigint NOT NULL, kind "char" NOT NULL, k text[] NOT NULL);
CREATE TEMP TABLE ayb_merge_base (tab int NOT NULL, n bigint NOT NULL, v text[]);
CREATE TEMP TABLE ayb_merge_theirs (tab int NOT NULL, n bigint NOT NULL, v text[]);
CREATE TEMP TABLE ayb_merge_pending (tab int NOT NULL, n bigint NOT NULL, kind "char" NOT NULL, k text[] NOT NULL, b text[], t text[], o text[]);
CREATE TEMP TABLE ayb_merge_sb (tab int NOT NULL, k text[] NOT NULL, v text[] NOT NULL);
CREATE TEMP TABLE ayb_merge_st (tab int NOT NULL, k text[] NOT NULL, v text[] NOT NULL);`;

const KEYS = 'pg_temp.ayb_merge_keys';
const BASE = 'pg_temp.ayb_merge_base';
const THEIRS = 'pg_temp.ayb_merge_theirs';
const PENDING = 'pg_temp.ayb_merge_pending';
const SIDE_BASE = 'pg_temp.ayb_merge_sb';
const SIDE_THEIRS = 'pg_temp.ayb_merge_st';

/** Keys staged per round trip (and per COPY of the sides' rows). */
const KEY_CHUNK = 50000;

const qualified = (t: { schema: string; name: string }) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;

/**
 * Streams a query's rows from one server into a table of another, COPY to COPY (text format): returns
 * the rows copied. `lookups`: the query joins a list of keys to a table's key index; the planner,
 * which sees how long the list is, would rather scan the whole table into a hash (once per list),
 * where one index probe per key reads only the rows asked for.
 */
export async function copyAcross(from: Client, query: string, to: Client, into: string, lookups = false): Promise<number> {
  if (lookups) await from.query('SET enable_hashjoin = off; SET enable_mergejoin = off');
  try {
    const source = from.query(copyTo(`COPY (${query}) TO STDOUT`));
    const sink = to.query(copyFrom(`COPY ${into} FROM STDIN`));
    await pipeline(source, sink);
    return sink.rowCount;
  } finally {
    if (lookups) await from.query('RESET enable_hashjoin; RESET enable_mergejoin').catch(() => undefined);
  }
}

/** The key columns' text literal arrays of some keys, for a query that cannot take parameters (COPY). */
function keyArrays(keys: readonly KeyTuple[], width: number): string[] {
  return Array.from({ length: width }, (_, i) => `${quoteLiteral(arrayLiteral(keys.map((k) => k[i] ?? null))!)}::text[]`);
}

/**
 * A side's rows of these keys (numbered from `first`): `tab, n, ARRAY[every column as text]`. A row
 * matches by the key's equality and by its key's text (as the Node path matched rows: by their text).
 */
function sideRows(table: DataTable, key: readonly string[], tab: number, first: number, keys: readonly KeyTuple[], theirs: DataTable): string {
  const typeOf = (t: DataTable, c: string) => t.columns.find((x) => x.name === c)?.type;
  // A key column the branch retyped: compared in its type (keyCondition), the text not (the new type writes it anew).
  const sameText = key.flatMap((k, i) => (typeOf(table, k) === typeOf(theirs, k) ? [`${valueText(`t.${quoteIdent(k)}`)} = k.c${i}`] : []));
  const match = [keyCondition(table, key, (i) => `k.c${i}`, theirs), ...sameText].join(' AND ');
  return `SELECT ${tab}, ${first - 1} + k.i, ARRAY[${table.columns.map((c) => valueText(`t.${quoteIdent(c.name)}`)).join(', ')}]::text[]
            FROM ${unnestAll(keyArrays(keys, key.length))} WITH ORDINALITY AS k(${key.map((_, i) => `c${i}`).join(', ')}, i)
            JOIN ${qualified(table)} t ON ${match}`;
}

export interface ServerMerge {
  /** Keys staged and compared. */
  readonly keys: number;
  /** Rows that conflicted (settled by mergeRow). */
  readonly conflicts: number;
}

/**
 * Merges one keyed table on the target's server. Returns undefined when the server could not (a
 * retyped column whose values the target's server cannot cast to the branch's type, a key column the
 * target lacks): nothing of this table is then staged, and the caller merges it in ayb (mergeKeyed).
 */
export async function mergeKeyedOnServer(job: KeyedJob, diff: TableDiff<Keys>, backfilled: readonly KeyTuple[]): Promise<ServerMerge | undefined> {
  return onServer(job, async () => {
    await stageKeyed(job, diff, backfilled);
    return keyedSource(job.staged.tab);
  });
}

/** The key columns are on all three sides: the server path can match the target's rows. */
export function serverCanMerge(job: Pick<KeyedJob, 'tb' | 'tx' | 'tt' | 'plan'>): boolean {
  const { tb, tx, tt, plan } = job;
  return plan.key.every((k) => tt.columns.some((c) => c.name === k) && tb.columns.some((c) => c.name === k) && tx.columns.some((c) => c.name === k));
}

/**
 * The data diff of base and branch and the three-way merge of one keyed table, all on the target's
 * server: the diff's bucket checksums as ever (on the base's and the branch's servers), then the rows
 * of each differing bucket streamed from both sides into the target's session (COPY to COPY, a range
 * or hash bucket at a time, no key list, no index probe per key), where one join by key's text finds
 * the keys added, removed and changed (their row hashes differ, as the diff compares them) and feeds
 * the three-way statement. For a keyed table whose key the branch did not retype and that no column
 * the branch added backfills (else: the keys in ayb, mergeKeyedOnServer). Undefined as
 * mergeKeyedOnServer; `keys` 0 when the table did not change.
 */
export async function mergeDiffedOnServer(job: KeyedJob): Promise<ServerMerge | undefined> {
  const { input, tb, tx, plan, staged } = job;
  const ours = input.ours.client;
  const tab = staged.tab;
  const side = (from: Side, table: DataTable, into: string): RowSink => async (source, where) => {
    const query = `SELECT ${tab}, ${keyArraySql(plan)}, ARRAY[${table.columns.map((c) => valueText(`t.${quoteIdent(c.name)}`)).join(', ')}]::text[] FROM ${source} WHERE ${where}`;
    await copyAcross(from.client, query, ours, `${into} (tab, k, v)`);
  };
  const sinkBase = side(input.base, tb, SIDE_BASE);
  const sinkTheirs = side(input.theirs, tx, SIDE_THEIRS);
  return onServer(job, async () => {
    await traced('  data diff onto the target (bucket rows copied)', () => diffTableKeys(input.base, input.theirs, plan, async (source, where) => {
      await sinkBase(source, where);
      await sinkTheirs(source, where);
    }));
    // The keys whose rows differ: added (no base row), removed (no branch row), changed: the text of
    // a column both sides have differs (what the diff's row hashes sum: the columns' output text).
    const shared = (table: DataTable, alias: string) => `ARRAY[${plan.columns.map((c) => `${alias}.v[${table.columns.findIndex((x) => x.name === c) + 1}]`).join(', ')}]`;
    return `SELECT row_number() OVER () AS n, CASE WHEN b.k IS NULL THEN 'a' WHEN t.k IS NULL THEN 'd' ELSE 'c' END::"char" AS kind,
        coalesce(b.k, t.k) AS k, b.v AS bv, t.v AS tv
      FROM (SELECT k, v FROM ${SIDE_BASE} WHERE tab = ${tab}) b FULL JOIN (SELECT k, v FROM ${SIDE_THEIRS} WHERE tab = ${tab}) t ON b.k OPERATOR(pg_catalog.=) t.k
     WHERE b.k IS NULL OR t.k IS NULL OR NOT ${shared(tb, 'b')} OPERATOR(pg_catalog.=) ${shared(tx, 't')}`;
  });
}

/** The staged keys' rows (mergeKeyedOnServer's tables) as the three-way statement reads them. */
const keyedSource = (tab: number) => `SELECT mk.n, mk.kind, mk.k, b.v AS bv, t.v AS tv
      FROM ${KEYS} mk
      LEFT JOIN ${BASE} b ON b.tab = ${tab} AND b.n = mk.n
      LEFT JOIN ${THEIRS} t ON t.tab = ${tab} AND t.n = mk.n
     WHERE mk.tab = ${tab}`;

/**
 * Runs a server merge of one table in a savepoint: `stage` stages the sides' rows and returns the
 * query of them the three-way statement reads (n, kind, k, bv: the base's row, tv: the branch's).
 */
async function onServer(job: KeyedJob, stage: () => Promise<string>): Promise<ServerMerge | undefined> {
  const { input, staged } = job;
  const ours = input.ours.client;
  if (!serverCanMerge(job)) return undefined;
  await ours.query('SAVEPOINT ayb_server_merge');
  let counts: Counts;
  try {
    const source = await stage();
    counts = await traced('  three-way statement', () => threeWay(ours, job, source));
    await ours.query('RELEASE SAVEPOINT ayb_server_merge');
  } catch (error) {
    await ours.query('ROLLBACK TO SAVEPOINT ayb_server_merge');
    await ours.query('RELEASE SAVEPOINT ayb_server_merge');
    // A value that does not cast (the Node path keeps it as it is), a type the target lacks: merged in ayb.
    // Not a session lost or ended, a timeout, a server short of resources, a serialization failure:
    // the sides' transactions may be gone with it, and the cause is what the user must see.
    const state = sqlState(error);
    if (state === undefined || ['08', '25', '40', '53', '57', 'XX'].includes(state.slice(0, 2))) throw error;
    return undefined;
  }
  staged.inserted += counts.inserted;
  staged.updatedRows += counts.updated;
  staged.deleted += counts.deleted;
  counts.columns.forEach((set, i) => set && staged.updated.add(staged.writable[i]!));
  const conflicts = await traced('  settle pending conflicts', () => settlePending(job));
  return { keys: counts.keys, conflicts };
}

/** Stages a diff's keys (and backfilled keys) and the base's and the branch's rows of them, by index probes. */
async function stageKeyed(job: KeyedJob, diff: TableDiff<Keys>, backfilled: readonly KeyTuple[]): Promise<void> {
  const { input, tb, tx, plan, staged } = job;
  const ours = input.ours.client;
  {
    let n = 0;
    const stageKeys = async (kind: string, keys: Iterable<KeyTuple>) => {
      let chunk: KeyTuple[] = [];
      const flush = async () => {
        if (chunk.length === 0) return;
        const first = n + 1;
        n += chunk.length;
        await ours.query(
          `INSERT INTO ${KEYS} (tab, n, kind, k) SELECT $1, $2::bigint - 1 + u.i, $3, ARRAY[${plan.key.map((_, i) => `u.c${i}`).join(', ')}]
             FROM ${unnestAll(plan.key.map((_, i) => `$${i + 4}::text[]`))} WITH ORDINALITY AS u(${plan.key.map((_, i) => `c${i}`).join(', ')}, i)`,
          [staged.tab, first, kind, ...plan.key.map((_, i) => chunk.map((k) => k[i] ?? null))],
        );
        if (kind !== 'a') await traced(`  copy base rows (${chunk.length} keys)`, () => copyAcross(input.base.client, sideRows(tb, plan.key, staged.tab, first, chunk, tx), ours, `${BASE} (tab, n, v)`, true));
        if (kind !== 'd') await traced(`  copy branch rows (${chunk.length} keys)`, () => copyAcross(input.theirs.client, sideRows(tx, plan.key, staged.tab, first, chunk, tx), ours, `${THEIRS} (tab, n, v)`, true));
        chunk = [];
      };
      for (const k of keys) {
        chunk.push(k);
        if (chunk.length >= KEY_CHUNK) await flush();
      }
      await flush();
    };
    await stageKeys('a', diff.added);
    await stageKeys('d', diff.removed);
    await stageKeys('c', diff.changed);
    if (backfilled.length > 0) {
      await stageKeys('b', backfilled);
      // A backfilled key the diff already lists is merged once, as the diff found it.
      await ours.query(`DELETE FROM ${KEYS} x WHERE x.tab = $1 AND x.kind = 'b' AND EXISTS (SELECT FROM ${KEYS} y WHERE y.tab = x.tab AND y.kind <> 'b' AND y.k OPERATOR(pg_catalog.=) x.k)`, [staged.tab]);
    }
  }
}

interface Counts {
  readonly keys: number;
  readonly inserted: number;
  readonly updated: number;
  readonly deleted: number;
  /** Per writable column: some staged update sets it. */
  readonly columns: readonly boolean[];
}

/**
 * The statement: per staged key, the three sides' rows side by side (base and branch from the
 * staged copies, the target's own table), values of columns the branch retyped cast to its type (as
 * the target will hold them), and mergeRow's rules set-based: inserts, deletes and updates (with the
 * mask of the columns they set) into the staging table; the rows that conflict into the pending
 * table; every key's target row as read (its version: tableoid, ctid, xmin; see movedChecks), for the
 * apply's check.
 *
 * Each cell is taken out of its array once (`x`: b1…, t1…, o1…, one column per side and column), and
 * each comparison the rules need is made once per column (`f`: tbN, obN, otN, whether branch and base,
 * target and base, target and branch differ); `OFFSET 0` keeps the planner from folding those levels
 * into the one above (which would compute each cell again wherever a rule names it): a large merge's
 * time went mostly there.
 */
async function threeWay(client: Client, job: KeyedJob, source: string): Promise<Counts> {
  const { tb, tx, tt, plan, staged } = job;
  const tab = staged.tab;
  const W = staged.writable;
  const ix = (c: string) => tx.columns.findIndex((x) => x.name === c) + 1;
  const ib = (c: string) => tb.columns.findIndex((x) => x.name === c) + 1;
  const io = (c: string) => tt.columns.findIndex((x) => x.name === c) + 1;
  const theirType = (c: string) => tx.columns.find((x) => x.name === c)?.type;
  // Values of a column whose type differs from the branch's: as the branch's type holds them.
  const norm = (raw: string, c: string, type: string) => {
    const to = theirType(c);
    return to !== undefined && to !== type ? valueText(`(${raw})::${to}`) : raw;
  };
  const inB = (c: string) => ib(c) > 0;
  const inO = (c: string) => io(c) > 0;
  const or = (xs: string[]) => (xs.length === 0 ? 'false' : `(${xs.join(' OR ')})`);
  const and = (xs: string[]) => (xs.length === 0 ? 'true' : `(${xs.join(' AND ')})`);
  const k0 = `o.${quoteIdent(plan.key[0]!)}`;
  const found = `${k0} IS NOT NULL`;
  // The cells, one column each: b<i> the base's (normalised), t<i> the branch's, o<i> the target's (normalised), by each side's column number.
  const cells = [
    ...tb.columns.map((c, i) => `${norm(`mk.bv[${i + 1}]`, c.name, c.type)} AS b${i + 1}`),
    ...tx.columns.map((_, i) => `mk.tv[${i + 1}] AS t${i + 1}`),
    ...tt.columns.map((c, i) => `CASE WHEN ${found} THEN ${norm(valueText(`o.${quoteIdent(c.name)}`), c.name, c.type)} END AS o${i + 1}`),
  ];
  const x = `SELECT mk.n, mk.kind, mk.k, mk.bv IS NOT NULL AS hb, mk.tv IS NOT NULL AS ht,
      ${found} AS ho,
      CASE WHEN ${found} THEN ${ROW_VERSION('o')} END AS rv,
      mk.tv AS tv, ${cells.join(', ')}
    FROM (${source}) mk
    -- The target's row of a key: by the key's own equality (the unique index's operators), not its
    -- text: a key main wrote differently (1.0 / 1.00, citext abc / ABC) is the same row. Its columns
    -- (the key's text too) are then compared cell by cell as any other: main's text kept unless the
    -- branch changed it; both sides adding one key with different text is a conflict on that column.
    -- A partition's: through its root when the key is the root's (the row may lie in another partition).
    LEFT JOIN ${rowsTable(tt, plan.key)} o ON ${keyCondition(tt, plan.key, (i) => `mk.k[${i + 1}]`, tx, 'o')}
   OFFSET 0`;
  // The comparisons, once per column: tb (branch vs base), ob (target vs base), ot (target vs branch).
  const flags = new Map<string, string>();
  const flag = (name: string, left: string, right: string) => {
    if (!flags.has(name)) flags.set(name, `${left} IS DISTINCT FROM ${right} AS ${name}`);
    return `y.${name}`;
  };
  // The base's cell: a column both sides added has its default there (addedBaseValues).
  const added = job.addedBase;
  const inBase = (c: string) => inB(c) || added.has(c);
  const bcell = (c: string) => (inB(c) ? `x.b${ib(c)}` : `${added.get(c) == null ? 'NULL' : quoteLiteral(added.get(c)!)}::text`);
  const bname = (c: string) => (inB(c) ? `b${ib(c)}` : `a${io(c)}`);
  const tb_ = (c: string) => flag(`tb${ix(c)}`, `x.t${ix(c)}`, bcell(c));
  const ob = (c: string) => flag(`o${bname(c)}`, `x.o${io(c)}`, bcell(c));
  const ot = (c: string) => flag(`ot${ix(c)}`, `x.o${io(c)}`, `x.t${ix(c)}`);
  // mergeRow's rules, column by column.
  const sameBO = and([...tb.columns.map((c) => c.name), ...added.keys()].filter(inO).map((c) => `NOT ${ob(c)}`));
  const differing = or(W.filter(inO).map(ot));
  const clash = or(W.filter((c) => inBase(c) && inO(c)).map((c) => `(${tb_(c)} AND ${ob(c)} AND ${ot(c)})`));
  // A column only the branch added: the target's rows hold the migration's default, the branch's value wins.
  const masks = W.map((c) => (!inBase(c) ? 'true' : inO(c) ? `(${tb_(c)} AND NOT ${ob(c)})` : tb_(c)));
  const addedMask = W.map((c) => (inO(c) ? 'false' : 'true'));
  const onlyTheirs = W.some((c) => !inO(c));
  const op = `CASE
      WHEN NOT y.ht THEN CASE WHEN NOT y.ho THEN NULL WHEN y.hb AND ${sameBO} THEN 'd' ELSE 'x' END
      WHEN NOT y.hb THEN CASE WHEN NOT y.ho THEN 'i' WHEN ${differing} THEN 'x' WHEN ${onlyTheirs} THEN 'u' END
      ELSE CASE WHEN NOT y.ho THEN 'x' WHEN ${clash} THEN 'x' WHEN ${or(masks)} THEN 'u' END
    END`;
  // The branch's row as staged: its own array when the writable columns are all its columns, in order.
  const whole = W.length === tx.columns.length && W.every((c, i) => tx.columns[i]!.name === c);
  const values = whole ? 'y.tv' : `ARRAY[${W.map((c) => `y.t${ix(c)}`).join(', ')}]::text[]`;
  const mask = `CASE WHEN y.hb THEN ARRAY[${masks.join(', ')}] ELSE ARRAY[${addedMask.join(', ')}] END::bool[]`;
  const f = `SELECT x.*${[...flags.values()].map((e) => `, ${e}`).join('')} FROM x OFFSET 0`;
  const sides = `y.n, y.kind, y.k, y.hb, y.ht, y.ho, y.rv, y.tv, ${[...tb.columns.map((_, i) => `y.b${i + 1}`), ...tt.columns.map((_, i) => `y.o${i + 1}`)].join(', ')}`;
  const bn = `ARRAY[${tb.columns.map((_, i) => `z.b${i + 1}`).join(', ')}]::text[]`;
  const onorm = `ARRAY[${tt.columns.map((_, i) => `z.o${i + 1}`).join(', ')}]::text[]`;
  const sql = `WITH x AS (${x}),
  f AS (${f}),
  z AS (SELECT ${sides}, ${op} AS op, ${W.length > 0 ? values : 'NULL::text[]'} AS v, ${W.length > 0 ? mask : 'NULL::bool[]'} AS m FROM f y),
  r AS (INSERT INTO ${STAGE} (tab, op, k, v) SELECT ${tab}, 'r', z.k, z.rv FROM z RETURNING 1),
  p AS (INSERT INTO ${PENDING} (tab, n, kind, k, b, t, o) SELECT ${tab}, z.n, z.kind, z.k, CASE WHEN z.hb THEN ${bn} END, z.tv, CASE WHEN z.ho THEN ${onorm} END FROM z WHERE z.op = 'x' RETURNING 1),
  s AS (INSERT INTO ${STAGE} (tab, op, k, v, m)
        SELECT ${tab}, z.op::"char", CASE WHEN z.op <> 'i' THEN z.k END, CASE WHEN z.op <> 'd' THEN z.v END, CASE WHEN z.op = 'u' THEN z.m END
          FROM z WHERE z.op IN ('i', 'u', 'd') RETURNING op, m)
  SELECT (SELECT count(*) FROM r)::int AS keys,
         (SELECT count(*) FROM s WHERE s.op = 'i')::int AS inserted,
         (SELECT count(*) FROM s WHERE s.op = 'u')::int AS updated,
         (SELECT count(*) FROM s WHERE s.op = 'd')::int AS deleted,
         (SELECT ARRAY[${W.length > 0 ? W.map((_, i) => `coalesce(bool_or(s.m[${i + 1}]), false)`).join(', ') : ''}]::bool[] FROM s WHERE s.op = 'u') AS columns,
         (SELECT count(*) FROM p)::int AS pending`;
  await explained(client, sql);
  const { rows: [row] } = await client.query<Counts & { pending: number }>(sql);
  return row!;
}

const KINDS: Record<string, Change> = { a: 'added', d: 'removed', c: 'changed', b: 'changed' };
const KIND_ORDER = ['a', 'd', 'c', 'b'];

/** The conflicting keys' rows, settled one by one (mergeRow), in the order the Node path lists them: by kind, then key. */
async function settlePending(job: KeyedJob): Promise<number> {
  const { input, tb, tx, tt, staged } = job;
  const { rows } = await input.ours.client.query<{ kind: string; k: (string | null)[]; b: (string | null)[] | null; t: (string | null)[] | null; o: (string | null)[] | null }>(
    `SELECT kind::text AS kind, k, b, t, o FROM ${PENDING} WHERE tab = $1`, [staged.tab]);
  rows.sort((p, q) => KIND_ORDER.indexOf(p.kind) - KIND_ORDER.indexOf(q.kind) || compareTuples(p.k, q.k));
  const values = (table: DataTable, row: (string | null)[] | null): Values | undefined => (row === null ? undefined : Object.fromEntries(table.columns.map((c, i) => [c.name, row[i] ?? null])));
  for (const r of rows) await mergeRow(job, r.k, KINDS[r.kind] ?? 'changed', values(tb, r.b), values(tx, r.t), values(tt, r.o));
  return rows.length;
}

/**
 * The first rows of each kind the staging table holds for a table, in key order (numbers as numbers),
 * for the printed SQL; the counts are the staged table's.
 */
export async function previewFromStage(client: Client, staged: StagedTable, preview: KeyedPreview): Promise<void> {
  preview.inserts.length = 0;
  preview.updates.length = 0;
  preview.deletes.length = 0;
  const order = (array: string, positions: readonly number[]) => positions
    .map((p) => `(CASE WHEN ${array}[${p}] ~ '^-?[0-9]{1,30}$' THEN ${array}[${p}]::numeric END), ${array}[${p}] COLLATE "C"`).join(', ');
  const keyInV = staged.key.map((c) => staged.writable.indexOf(c) + 1).filter((p) => p > 0);
  const byKey = order('s.k', staged.key.map((_, i) => i + 1)) || 's.k';
  const { rows: inserts } = await client.query<{ v: (string | null)[] }>(
    `SELECT s.v FROM ${STAGE} s WHERE s.tab = $1 AND s.op = 'i' ORDER BY ${order('s.v', keyInV.length > 0 ? keyInV : [1])} LIMIT ${PREVIEW_ROWS}`, [staged.tab]);
  for (const r of inserts) preview.inserts.push(Object.fromEntries(staged.writable.map((c, i) => [c, r.v[i] ?? null])));
  const { rows: updates } = await client.query<{ k: (string | null)[]; v: (string | null)[]; m: boolean[] }>(
    `SELECT s.k, s.v, s.m FROM ${STAGE} s WHERE s.tab = $1 AND s.op = 'u' ORDER BY ${byKey} LIMIT ${PREVIEW_ROWS}`, [staged.tab]);
  for (const r of updates) preview.updates.push({ key: r.k, values: Object.fromEntries(staged.writable.flatMap((c, i) => (r.m[i] ? [[c, r.v[i] ?? null]] : []))) });
  const { rows: deletes } = await client.query<{ k: (string | null)[] }>(
    `SELECT s.k FROM ${STAGE} s WHERE s.tab = $1 AND s.op = 'd' ORDER BY ${byKey} LIMIT ${PREVIEW_ROWS}`, [staged.tab]);
  for (const r of deletes) preview.deletes.push(r.k);
}

/** Every row of a table the branch created, streamed from the branch into the staging table as inserts (COPY to COPY). */
export async function copyAllRows(theirs: Side, table: DataTable, ours: Client, staged: StagedTable): Promise<void> {
  const columns = staged.writable;
  if (columns.length === 0) return;
  const query = `SELECT ${staged.tab}, 'i', NULL::text[], ARRAY[${columns.map((c) => valueText(quoteIdent(c))).join(', ')}]::text[], NULL::bool[] FROM ${qualified(table)}`;
  staged.inserted += await copyAcross(theirs.client, query, ours, `${STAGE} (tab, op, k, v, m)`);
}
