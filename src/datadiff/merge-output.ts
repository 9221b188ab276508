import { quoteIdent, quoteLiteral } from '../postgres/quote.js';
import { type DataTable, tableId, tableLabel, tableName } from './catalog.js';
import { commentText } from './sql.js';
import { type KeyTuple, multisetDeltas, multisetFromDeltas, type Side, type TableDiff } from './compare.js';
import { keyObject } from './data-diff.js';
import type { KeyedPreview } from './merge-rows.js';
import type { StagedTable } from './merge-stage.js';
import { type Change, type MergeConflict, type MergeInput, settle, takesTheirs } from './merge-types.js';
import { foreignKeyOrder, sqlValue } from './sql.js';

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
export async function sequenceMerge(base: Side, theirs: Side, ours: Side): Promise<string[]> {
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
      if (!inOurs.has(id) && t.is_called) out.push(`SELECT pg_catalog.setval(${quoteLiteral(name)}, ${t.last_value}, true);`);
      continue;
    }
    if (!inOurs.has(id)) continue;
    const [b, o] = await Promise.all([state(base, name), state(ours, name)]);
    if (b.last_value === t.last_value && b.is_called === t.is_called) continue;
    if (sequenceAhead(b, t, o)) out.push(`SELECT pg_catalog.setval(${quoteLiteral(name)}, ${t.last_value}, ${t.is_called});`);
  }
  return out;
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
