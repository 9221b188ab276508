import { quoteIdent, quoteLiteral } from '../postgres/quote.js';
import { type DataTable, tableId, tableLabel, tableName } from './catalog.js';
import { commentText } from './sql.js';
import { type KeyTuple, multisetDeltas, multisetFromDeltas, type Side, type TableDiff } from './compare.js';
import { keyObject } from './data-diff.js';
import type { KeyedPreview } from './merge-rows.js';
import { STAGE, type StagedTable } from './merge-stage.js';
import { type Change, type MergeConflict, type MergeInput, settle, takesTheirs } from './merge-types.js';
import { foreignKeyOrder, keyCondition, sqlValue } from './sql.js';
import { valueText } from './value-text.js';

/** A table without a key: whole-row inserts and deletes, as statements (sql.ts writes them). */
export interface KeylessDml {
  readonly table: DataTable;
  readonly inserts: string[];
  readonly deletes: string[];
}

const qualified = (t: { schema: string; name: string }) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;

/** Without a key, a row's number of copies is what changes: the branch's change in count is applied. */
export function mergeMultiset(theirsDiff: TableDiff, oursDiff: TableDiff, input: MergeInput, conflicts: MergeConflict[]): TableDiff {
  const [dx, dt] = [multisetDeltas(theirsDiff), multisetDeltas(oursDiff)];
  const plan = theirsDiff.plan;
  const apply = new Map<string, number>();
  for (const [row, deltaTheirs] of dx) {
    const deltaOurs = dt.get(row);
    if (deltaOurs === undefined) apply.set(row, deltaTheirs);
    else if (deltaOurs !== deltaTheirs) {
      const kind = (n: number): Change => (n > 0 ? 'added' : 'removed');
      const values = keyObject(plan.key, JSON.parse(row) as KeyTuple);
      const c = settle(input, { table: tableName(plan), schema: plan.schema, name: plan.name, key: values, ours: kind(deltaOurs), theirs: kind(deltaTheirs), columns: [], base: null, our: { copies: String(deltaOurs) }, their: { copies: String(deltaTheirs) } });
      conflicts.push(c);
      // theirs: leave the branch's number of copies, whatever the target did.
      if (takesTheirs(c.resolution)) apply.set(row, deltaTheirs - deltaOurs);
    }
  }
  return multisetFromDeltas(plan, apply);
}

/**
 * Sequences move forward to the branch's state when the branch advanced them further than the target
 * did since the base, never back; a sequence the branch created (the migration creates it fresh) takes
 * the branch's state. "Forward" is the direction of the increment (down for INCREMENT BY -1), measured
 * from the base's next value on each side; for a CYCLE sequence the distances wrap around its range.
 * A state outside the target's MINVALUE..MAXVALUE (main narrowed them) is left alone rather than fail.
 */
export async function sequenceMerge(base: Side, theirs: Side, ours: Side, numbered: ReadonlyMap<string, string> = new Map()): Promise<string[]> {
  const present = (side: Side) => new Set(side.catalog.sequences.map(tableId));
  const [inBase, inOurs] = [present(base), present(ours)];
  const out: string[] = [];
  type State = { last_value: string; is_called: boolean; inc: string; min: string; max: string; cycle: boolean };
  const state = (side: Side, name: string) => side.client.query<State>(
    `SELECT s.last_value::text AS last_value, s.is_called, p.seqincrement::text AS inc, p.seqmin::text AS min, p.seqmax::text AS max, p.seqcycle AS cycle
       FROM ${name} s, pg_catalog.pg_sequence p WHERE p.seqrelid = ${quoteLiteral(name)}::pg_catalog.regclass`,
  ).then((r) => r.rows[0]!);
  for (const seq of theirs.catalog.sequences) {
    const id = tableId(seq);
    const name = qualified(seq);
    const t = await state(theirs, name);
    if (!inBase.has(id)) {
      // Past the numbers the merge gave the target's own rows (numberTargetRows), if it gave any.
      const last = numbered.get(id);
      if (!inOurs.has(id) && (t.is_called || last !== undefined)) out.push(`SELECT pg_catalog.setval(${quoteLiteral(name)}, ${last ?? t.last_value}, true);`);
      continue;
    }
    if (!inOurs.has(id)) continue;
    const [b, o] = await Promise.all([state(base, name), state(ours, name)]);
    if (b.last_value === t.last_value && b.is_called === t.is_called) continue;
    if (sequenceAhead(b, t, o)) out.push(`SELECT pg_catalog.setval(${quoteLiteral(name)}, ${t.last_value}, ${t.is_called});`);
  }
  return out;
}

/**
 * A column the branch added with a sequence of its own (serial, identity) gets, in the target, the
 * migration's numbering of the target's rows (in their physical order), while the merge sets the
 * branch's rows to the branch's numbers and the sequence to the branch's state: main's rows would
 * keep numbers the branch's rows (or main's next insert) take again. The target's rows the merge
 * gives no value of such a column (rows main added, rows main kept that the branch deleted) are
 * staged instead with fresh numbers, in key order, after the branch's sequence (its next value on),
 * as updates (a unique index on the column is then checked once every row holds its number: see
 * stagedStatements); returns per sequence (tableId) the last number given, which the sequence is set
 * to (sequenceMerge). Runs once every row of the table is staged (conflicts and cascades settled).
 */
export async function numberTargetRows(input: MergeInput, staged: StagedTable): Promise<{ last: Map<string, string>; check?: { table: string; sql: string } }> {
  const { base, theirs, ours } = input;
  const last = new Map<string, string>();
  const out = { last };
  const id = tableId(staged.table);
  const [tb, tt, tx] = [base.catalog.tables.get(id), ours.catalog.tables.get(id), staged.table];
  if (!tb || !tt || staged.key.length === 0 || !staged.key.every((k) => tt.columns.some((c) => c.name === k))) return out;
  const added = staged.writable.filter((c) => !tb.columns.some((x) => x.name === c) && !tt.columns.some((x) => x.name === c));
  if (added.length === 0) return out;
  // The branch's own sequences of those columns (serial's, identity's), and the number each gives next there.
  const { rows: owned } = await theirs.client.query<{ column: string; schema: string; name: string; inc: string }>(
    `SELECT a.col AS column, n.nspname AS schema, c.relname AS name, p.seqincrement::text AS inc
       FROM pg_catalog.unnest($2::text[]) AS a(col)
       JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.pg_get_serial_sequence($1, a.col)::regclass
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace JOIN pg_catalog.pg_sequence p ON p.seqrelid = c.oid`,
    [qualified(tx), added],
  );
  const inOurs = new Set(ours.catalog.sequences.map(tableId));
  const key = staged.key;
  const match = keyCondition(tt, key, (i) => `s.k[${i + 1}]`, tx, 'o');
  for (const o of owned) {
    const seq = tableId({ schema: o.schema, name: o.name });
    if (inOurs.has(seq)) continue; // the target's own sequence: its numbers are the target's
    const at = staged.writable.indexOf(o.column) + 1;
    const { rows: [state] } = await theirs.client.query<{ last: string; called: boolean }>(`SELECT last_value::text AS last, is_called AS called FROM ${qualified(o)}`);
    const next = (BigInt(state!.last) + (state!.called ? BigInt(o.inc) : 0n)).toString();
    // The target's rows no staged delete takes and no staged update gives a value of the column.
    const need = `SELECT ARRAY[${key.map((k) => valueText(`o.${quoteIdent(k)}`)).join(', ')}]::text[] AS k, o.ctid AS c,
                         ($3::numeric + $4::numeric * (row_number() OVER (ORDER BY ${key.map((k) => `o.${quoteIdent(k)}`).join(', ')}) - 1))::text AS n
                    FROM ${qualified(tt)} o
                   WHERE NOT EXISTS (SELECT FROM ${STAGE} s WHERE s.tab = $1 AND (s.op = 'd' OR (s.op = 'u' AND s.m[$2])) AND ${match})`;
    const { rows: [r] } = await ours.client.query<{ given: number; added: number; last: string | null }>(
      `WITH need AS (${need}),
            u AS (UPDATE ${STAGE} s SET v[$2] = need.n, m[$2] = true FROM ${qualified(tt)} o, need
                   WHERE s.tab = $1 AND s.op = 'u' AND o.ctid = need.c AND ${match} RETURNING 1),
            i AS (INSERT INTO ${STAGE} (tab, op, k, v, m)
                  SELECT $1, 'u', need.k, (SELECT pg_catalog.array_agg(CASE WHEN g = $2 THEN need.n END ORDER BY g) FROM pg_catalog.generate_series(1, $5) g),
                         (SELECT pg_catalog.array_agg(g = $2 ORDER BY g) FROM pg_catalog.generate_series(1, $5) g)
                    FROM need JOIN ${qualified(tt)} o ON o.ctid = need.c
                   WHERE NOT EXISTS (SELECT FROM ${STAGE} s WHERE s.tab = $1 AND s.op = 'u' AND ${match}) RETURNING 1)
       SELECT (SELECT count(*) FROM need)::int AS given, (SELECT count(*) FROM i)::int AS added,
              (SELECT n FROM need ORDER BY n::numeric * sign($4::numeric) DESC LIMIT 1) AS last`,
      [staged.tab, at, next, o.inc, staged.writable.length],
    );
    if (!r || r.given === 0) continue;
    staged.updatedRows += r.added;
    staged.updated.add(o.column);
    last.set(seq, r.last!);
  }
  // A row the target gains before the apply would hold the migration's number: the merge says the target moved.
  if (last.size === 0) return out;
  return { last, check: { table: tableLabel(tt), sql: `SELECT ARRAY[${key.map((k) => valueText(`o.${quoteIdent(k)}`)).join(', ')}]::text AS k FROM ${qualified(tt)} o
    WHERE NOT EXISTS (SELECT FROM ${STAGE} s WHERE s.tab = ${staged.tab} AND s.op IN ('u', 'd', 'k') AND ${match}) LIMIT 1` } };
}

/** A sequence's state: the value nextval would return (last_value, or one increment past it once called). */
export interface SequenceState {
  readonly last_value: string;
  readonly is_called: boolean;
  readonly inc: string;
  readonly min: string;
  readonly max: string;
  readonly cycle: boolean;
}

/**
 * True when the branch's state `t` is further along than the target's `o`, both measured from the
 * base's `b` in the direction of the increment the target will have (the branch's if only it changed
 * the sequence's parameters, else the target's), wrapping around the range of a CYCLE sequence.
 */
export function sequenceAhead(b: SequenceState, t: SequenceState, o: SequenceState): boolean {
  const same = (x: SequenceState, y: SequenceState) => x.inc === y.inc && x.min === y.min && x.max === y.max && x.cycle === y.cycle;
  const p = same(b, o) ? t : o;
  const inc = BigInt(p.inc);
  const [min, max] = [BigInt(p.min), BigInt(p.max)];
  const value = BigInt(t.last_value);
  if (value < min || value > max) return false;
  const next = (s: SequenceState) => BigInt(s.last_value) + (s.is_called ? BigInt(s.inc) : 0n);
  const sign = inc < 0n ? -1n : 1n;
  const range = max - min + 1n;
  const distance = (s: SequenceState) => {
    const d = sign * (next(s) - next(b));
    return p.cycle ? ((d % range) + range) % range : d;
  };
  return distance(t) > distance(o);
}

/**
 * The DML as a script a person reads (the dry run prints it), for a target already migrated:
 * inserts parents first, updates parents first, deletes children first, sequences last. Of a big
 * merge only the first rows of each table are written out, the rest counted (the merge itself
 * applies them set-based from its staging table).
 */
export function renderMergePreview(staged: readonly StagedTable[], previews: ReadonlyMap<number, KeyedPreview>, keyless: readonly KeylessDml[], sequences: readonly string[]): string {
  const header = '-- rows changed on the branch since its base';
  const touched = staged.filter((t) => t.inserted + t.updatedRows + t.deleted > 0);
  const touchedKeyless = keyless.filter((t) => t.inserts.length + t.deletes.length > 0);
  if (touched.length + touchedKeyless.length === 0 && sequences.length === 0) return `${header}\n-- No data differences.\n`;
  const order = foreignKeyOrder([...touched.map((t) => t.table), ...touchedKeyless.map((t) => t.table)]);
  const lines = [header];
  const typeOf = (t: DataTable, c: string) => t.columns.find((x) => x.name === c)!.type;
  const stagedOf = (table: DataTable) => touched.find((t) => t.table === table);
  const keylessOf = (table: DataTable) => touchedKeyless.find((t) => t.table === table);
  const more = (shown: number, all: number, what: string) => (all > shown ? [`-- … and ${all - shown} more row(s) ${what}, not shown`] : []);
  for (const table of order) {
    const l = keylessOf(table);
    if (l && l.inserts.length > 0) lines.push(`-- ${commentText(tableLabel(table))}: ${l.inserts.length} row(s) inserted`, ...l.inserts);
    const s = stagedOf(table);
    const p = s && previews.get(s.tab);
    if (!s || !p || p.inserts.length === 0) continue;
    const columns = s.writable;
    lines.push(`-- ${commentText(tableLabel(table))}: ${s.inserted} row(s) inserted`);
    const values = p.inserts.map((row) => `  (${columns.map((c) => sqlValue(row[c] ?? null, typeOf(table, c))).join(', ')})`);
    lines.push(`INSERT INTO ${qualified(table)} (${columns.map(quoteIdent).join(', ')}) VALUES\n${values.join(',\n')};`, ...more(p.inserts.length, s.inserted, 'inserted'));
  }
  const where = (s: StagedTable, key: KeyTuple) => s.key.map((k, i) => `${quoteIdent(k)} = ${sqlValue(key[i] ?? null, typeOf(s.table, k))}`).join(' AND ');
  for (const table of order) {
    const s = stagedOf(table);
    const p = s && previews.get(s.tab);
    if (!s || !p || p.updates.length === 0) continue;
    lines.push(`-- ${commentText(tableLabel(table))}: ${s.updatedRows} row(s) updated`);
    for (const u of p.updates) lines.push(`UPDATE ${qualified(table)} SET ${Object.entries(u.values).map(([c, v]) => `${quoteIdent(c)} = ${sqlValue(v, typeOf(table, c))}`).join(', ')} WHERE ${where(s, u.key)};`);
    lines.push(...more(p.updates.length, s.updatedRows, 'updated'));
  }
  for (const table of [...order].reverse()) {
    const l = keylessOf(table);
    if (l && l.deletes.length > 0) lines.push(`-- ${commentText(tableLabel(table))}: ${l.deletes.length} row(s) deleted`, ...l.deletes);
    const s = stagedOf(table);
    const p = s && previews.get(s.tab);
    if (!s || !p || p.deletes.length === 0) continue;
    lines.push(`-- ${commentText(tableLabel(table))}: ${s.deleted} row(s) deleted`);
    for (const d of p.deletes) lines.push(`DELETE FROM ${qualified(table)} WHERE ${where(s, d)};`);
    lines.push(...more(p.deletes.length, s.deleted, 'deleted'));
  }
  if (sequences.length) lines.push('-- sequences', ...sequences);
  return `${lines.join('\n')}\n`;
}
