import { ConflictError } from '../core/errors.js';
import { quoteIdent, quoteLiteral } from '../postgres/quote.js';
import { type DataTable, tableId } from './catalog.js';
import { diffTable, type KeyTuple, multisetDeltas, multisetFromDeltas, planTable, type Side, type TableDiff, type TablePlan } from './compare.js';
import { keyObject } from './data-diff.js';
import { fetchRows, renderDml, type TableDml, tableDml } from './sql.js';

export type MergeStrategy = 'fail' | 'ours' | 'theirs';

/** A row changed on both sides since the base, differently. */
export interface MergeConflict {
  readonly table: string;
  /** The key (or, for tables without one, the row). */
  readonly key: Record<string, string | null>;
  /** What each side did to it since the base. */
  readonly ours: 'added' | 'removed' | 'changed';
  readonly theirs: 'added' | 'removed' | 'changed';
}

export interface TableMerge {
  readonly table: string;
  readonly inserted: number;
  readonly updated: number;
  readonly deleted: number;
  readonly conflicts: number;
}

export interface DataMergePlan {
  readonly tables: readonly TableMerge[];
  readonly conflicts: readonly MergeConflict[];
  /** The DML for the target, without BEGIN/COMMIT (the caller runs it in its own transaction). */
  readonly sql: string;
}

type Change = 'added' | 'removed' | 'changed';

function changesOf(diff: TableDiff): Map<string, Change> {
  const out = new Map<string, Change>();
  for (const kind of ['added', 'removed', 'changed'] as const) for (const k of diff[kind]) out.set(JSON.stringify(k), kind);
  return out;
}

/**
 * Plans a three-way merge of rows: what `theirs` (the branch) changed since `base` is brought into
 * `ours` (the target), unless `ours` changed the same row differently: a conflict, which `ours`
 * keeps, `theirs` overwrites, and `fail` lists. `ours` is read after the schema migration, so
 * columns the branch added exist there. Sequences move forward to the branch's value when the
 * branch advanced them further, never back.
 */
export async function planDataMerge(base: Side, theirs: Side, ours: Side, strategy: MergeStrategy): Promise<DataMergePlan> {
  const tables: TableMerge[] = [];
  const conflicts: MergeConflict[] = [];
  const dml: TableDml[] = [];
  for (const [id, tb] of base.catalog.tables) {
    const tx = theirs.catalog.tables.get(id);
    const tt = ours.catalog.tables.get(id);
    if (!tx || !tt) continue; // dropped on a side: the schema migration's business
    const plan = planTable(tt, tx);
    const theirsDiff = withBackfill(await diffTable(base, theirs, planTable(tb, tx)), await backfilled(tb, tx, ours, theirs, plan));
    if (theirsDiff.added.length + theirsDiff.removed.length + theirsDiff.changed.length === 0) continue;
    const oursDiff = await diffTable(base, ours, planTable(tb, tt));
    const sameKey = plan.match === theirsDiff.plan.match && plan.key.join('\u0000') === theirsDiff.plan.key.join('\u0000');
    if (!sameKey) {
      throw new ConflictError('merge_key_mismatch', `cannot merge the rows of ${id}: they are matched by (${theirsDiff.plan.key.join(', ')}) against the base but by (${plan.key.join(', ')}) against the target`, {
        hint: 'give the table the same primary key on both sides, or copy its rows with: ayb branch diff <target> <branch> --data --table ' + id + ' --output sql',
      });
    }
    const found: MergeConflict[] = [];
    const restricted = plan.match === 'rows'
      ? mergeMultiset(theirsDiff, oursDiff, strategy, found)
      : await mergeKeyed(theirs, ours, plan, theirsDiff, oursDiff, strategy, found);
    conflicts.push(...found);
    const table = await tableDml(ours, theirs, restricted);
    dml.push(table);
    tables.push({ table: id, inserted: table.inserts.length, updated: table.updates.length, deleted: table.deletes.length, conflicts: found.length });
  }
  const sequences = await sequenceMerge(base, theirs, ours);
  return { tables, conflicts, sql: renderDml('rows changed on the branch since its base', dml, sequences, { transaction: false }) };
}

/**
 * Rows whose values in columns the branch added (absent from the base) differ between the target,
 * where the schema migration just added them with their default, and the branch: the backfill.
 * The base cannot tell these changes; the target cannot have made them (the columns are new).
 */
async function backfilled(tb: DataTable, tx: DataTable, ours: Side, theirs: Side, plan: TablePlan): Promise<KeyTuple[]> {
  const added = tx.columns.map((c) => c.name).filter((c) => !tb.columns.some((x) => x.name === c) && plan.columns.includes(c));
  if (added.length === 0 || plan.match === 'rows') return [];
  const narrow: TablePlan = { ...plan, columns: [...plan.key, ...added.filter((c) => !plan.key.includes(c))], columnsDiffer: false };
  return (await diffTable(ours, theirs, narrow)).changed;
}

function withBackfill(diff: TableDiff, keys: readonly KeyTuple[]): TableDiff {
  if (keys.length === 0) return diff;
  const known = new Set([...diff.added, ...diff.removed, ...diff.changed].map((k) => JSON.stringify(k)));
  return { ...diff, changed: [...diff.changed, ...keys.filter((k) => !known.has(JSON.stringify(k)))] };
}

async function mergeKeyed(theirs: Side, ours: Side, plan: TableDiff['plan'], theirsDiff: TableDiff, oursDiff: TableDiff, strategy: MergeStrategy, conflicts: MergeConflict[]): Promise<TableDiff> {
  const theirsChanges = changesOf(theirsDiff);
  const oursChanges = changesOf(oursDiff);
  const keys = [...theirsChanges.keys()].map((k) => JSON.parse(k) as KeyTuple);
  const [inOurs, inTheirs] = await Promise.all([fetchRows(ours, plan, keys), fetchRows(theirs, plan, keys)]);
  const diff: { added: KeyTuple[]; removed: KeyTuple[]; changed: KeyTuple[] } = { added: [], removed: [], changed: [] };
  for (const key of keys) {
    const id = JSON.stringify(key);
    const [o, t] = [inOurs.get(id), inTheirs.get(id)];
    const same = o === undefined ? t === undefined : t !== undefined && JSON.stringify(o) === JSON.stringify(t);
    if (same) continue; // already alike (both sides made the same change)
    const oursChange = oursChanges.get(id);
    if (oursChange !== undefined) {
      conflicts.push({ table: tableId(plan), key: keyObject(plan.key, key), ours: oursChange, theirs: theirsChanges.get(id)! });
      if (strategy !== 'theirs') continue;
    }
    if (o === undefined) diff.added.push(key);
    else if (t === undefined) diff.removed.push(key);
    else diff.changed.push(key);
  }
  return { plan, ...diff };
}

/** Without a key, a row's number of copies is what changes: the branch's change in count is applied. */
function mergeMultiset(theirsDiff: TableDiff, oursDiff: TableDiff, strategy: MergeStrategy, conflicts: MergeConflict[]): TableDiff {
  const [dx, dt] = [multisetDeltas(theirsDiff), multisetDeltas(oursDiff)];
  const plan = theirsDiff.plan;
  const apply = new Map<string, number>();
  for (const [row, deltaTheirs] of dx) {
    const deltaOurs = dt.get(row);
    if (deltaOurs === undefined) apply.set(row, deltaTheirs);
    else if (deltaOurs !== deltaTheirs) {
      const kind = (n: number): Change => (n > 0 ? 'added' : 'removed');
      conflicts.push({ table: tableId(plan), key: keyObject(plan.key, JSON.parse(row)), ours: kind(deltaOurs), theirs: kind(deltaTheirs) });
      // theirs: leave the branch's number of copies, whatever the target did.
      if (strategy === 'theirs') apply.set(row, deltaTheirs - deltaOurs);
    }
  }
  return multisetFromDeltas(plan, apply);
}

async function sequenceMerge(base: Side, theirs: Side, ours: Side): Promise<string[]> {
  const present = (side: Side) => new Set(side.catalog.sequences.map(tableId));
  const [inTheirs, inOurs] = [present(theirs), present(ours)];
  const out: string[] = [];
  for (const seq of base.catalog.sequences.filter((s) => inTheirs.has(tableId(s)) && inOurs.has(tableId(s)))) {
    const name = `${quoteIdent(seq.schema)}.${quoteIdent(seq.name)}`;
    const sql = `SELECT last_value::text AS last_value, is_called FROM ${name}`;
    type State = { last_value: string; is_called: boolean };
    const [b, t, o] = await Promise.all([base, theirs, ours].map((s) => s.client.query<State>(sql).then((r) => r.rows[0]!)));
    if (b!.last_value === t!.last_value && b!.is_called === t!.is_called) continue;
    if (BigInt(t!.last_value) > BigInt(o!.last_value) || (t!.last_value === o!.last_value && t!.is_called && !o!.is_called)) {
      out.push(`SELECT pg_catalog.setval(${quoteLiteral(name)}, ${t!.last_value}, ${t!.is_called});`);
    }
  }
  return out;
}
