import type { Client } from '../postgres/client.js';
import { type DataCatalog, type DataTable, tableId, tableName } from './catalog.js';
import { compareTuples, diffTable, diffTableKeys, planTable, type TableDiff } from './compare.js';
import type { Keys } from './key-list.js';
import { pairRetypedKeys } from './equal-keys.js';
import { cascadeConflicts, keepBack, type PlannedQuery, rowsDigest } from './merge-cascade.js';
import { rekeyInPlace } from './merge-rekey.js';
import { type KeylessDml, mergeMultiset, numberTargetRows, renderMergePreview, sequenceMerge } from './merge-output.js';
import { addedBaseValues, backfilled, type KeyedPreview, mergeKeyed, previewOf, withKeys } from './merge-rows.js';
import { chained, inForeignKeyOrder, movedChecks, type Stage, type StagedTable, stagedStatements, swapPlan, uniqueColumnsOf } from './merge-stage.js';
import { copyAllRows, mergeDiffedOnServer, mergeKeyedOnServer, previewFromStage, serverCanMerge } from './merge-server.js';
import { type MergeConflict, type MergeInput, takesTheirs } from './merge-types.js';
import { identityHeld, tableDml, triggerStatements } from './sql.js';
import { checkResolutions } from './merge-resolve.js';
import { traced } from './merge-trace.js';

export { conflictId, type MergeConflict, type MergeInput, type MergeStrategy, type Resolution } from './merge-types.js';
export { Stage } from './merge-stage.js';
export { SERVER_MERGE_SQL } from './merge-server.js';
export { type PlannedQuery, rowsDigest } from './merge-cascade.js';

export interface TableMerge {
  /** `schema.name`; `schema` and `name` tell apart two tables this text may be. */
  readonly table: string;
  readonly schema: string;
  readonly name: string;
  readonly inserted: number;
  readonly updated: number;
  readonly deleted: number;
  readonly conflicts: number;
  /**
   * Where the rows were compared: `server`, set-based on the target's server (the base's and the
   * branch's changed rows staged there with COPY); `ayb`, in ayb a chunk at a time (tables without a
   * key, and keyed tables the server path cannot take: see mergeKeyedOnServer).
   */
  readonly merged_by: 'server' | 'ayb';
}

export interface DataMergePlan {
  readonly tables: readonly TableMerge[];
  readonly conflicts: readonly MergeConflict[];
  /** The DML as a person reads it (the first rows of each table; see renderMergePreview). */
  readonly sql: string;
  /** The tables whose merged rows wait in the target session's staging table. */
  readonly staged: readonly StagedTable[];
  /** Tables without a key: their statements. */
  readonly keyless: readonly KeylessDml[];
  readonly sequences: readonly string[];
  /** Queries that return a row when a target row the plan read moved (see movedChecks). */
  readonly checks: readonly { table: string; sql: string }[];
  /** Rows of the target that reference rows the plan deletes, as read while planning: checked again before applying. */
  readonly readReferences: readonly PlannedQuery[];
  /** True when the branch changed no row since the base. */
  readonly unchanged: boolean;
}

/** Where a plan's rows go: the staging table of the target's session (see merge-stage.ts). */
interface Collected {
  readonly tables: TableMerge[];
  readonly conflicts: MergeConflict[];
  readonly keyless: KeylessDml[];
  readonly previews: Map<number, KeyedPreview>;
  unchanged: boolean;
}

/**
 * Plans a three-way, cell-wise merge of rows: what `theirs` (the branch) changed since `base` is
 * brought into `ours` (the target). A column the branch set is set in the target unless the target
 * set that same column of that row to another value since the base: a conflict. Only the branch's
 * changed rows are read on each side, a chunk at a time; the merged rows go to the staging table of
 * the target's session (`stage`), not into memory. Values of a column the branch retyped are
 * compared as the target will hold them. The plan only reads the target's tables (a read-only
 * transaction): nothing runs there until it is applied (mergeStatements).
 */
export async function planDataMerge(input: MergeInput, stage: Stage): Promise<DataMergePlan> {
  const { base, theirs, ours } = input;
  const out: Collected = { tables: [], conflicts: [], keyless: [], previews: new Map(), unchanged: true };
  for (const [id, tx] of theirs.catalog.tables) {
    const tb = base.catalog.tables.get(id);
    const tt = ours.catalog.tables.get(id);
    if (!tt && !tb) {
      // A table the branch created: the migration creates it empty; all its rows are the branch's.
      const staged = stage.table(tx, []);
      const preview = previewOf(tx, []);
      out.previews.set(staged.tab, preview);
      await copyAllRows(theirs, tx, ours.client, staged);
      await previewFromStage(ours.client, staged, preview);
      if (staged.inserted > 0) out.unchanged = false;
      out.tables.push({ table: tableName(tx), schema: tx.schema, name: tx.name, inserted: staged.inserted, updated: 0, deleted: 0, conflicts: 0, merged_by: 'server' });
      continue;
    }
    if (!tb || !tt) continue; // created on both sides, or dropped by the target: the schema merge's business
    await mergeTable(input, stage, out, tb, tx, tt);
  }
  await stage.flush();
  // Deletes and key updates that would cascade onto rows the target added or changed since the base.
  const references: PlannedQuery[] = [];
  for (const cascade of await traced('cascade conflicts', () => cascadeConflicts(input, stage.tables, references))) {
    out.conflicts.push(cascade.conflict);
    const at = out.tables.findIndex((t) => t.schema === cascade.conflict.schema && t.name === cascade.conflict.name);
    if (at >= 0) out.tables[at] = { ...out.tables[at]!, conflicts: out.tables[at]!.conflicts + 1 };
    if (takesTheirs(cascade.conflict.resolution)) continue;
    await keepBack(input, stage.tables.find((t) => t.tab === cascade.tab)!, out.previews.get(cascade.tab), cascade);
    if (at >= 0 && cascade.op === 'd') out.tables[at] = { ...out.tables[at]!, deleted: out.tables[at]!.deleted - 1 };
  }
  // A row the branch re-keyed (a delete and an insert that are the same row): its key updated in place,
  // so the target's children follow it by their ON UPDATE action. The children of its old key were
  // read as a delete's (references): read again with the stage as it is now.
  const rekeyed = await traced('re-keyed rows', () => rekeyInPlace(input, stage.tables, out.previews));
  for (const [tab, n] of rekeyed) {
    const t = stage.tables.find((x) => x.tab === tab)!;
    const at = out.tables.findIndex((x) => x.schema === t.table.schema && x.name === t.table.name);
    if (at >= 0) out.tables[at] = { ...out.tables[at]!, inserted: out.tables[at]!.inserted - n, deleted: out.tables[at]!.deleted - n, updated: out.tables[at]!.updated + n };
  }
  if (rekeyed.size > 0) for (const [i, r] of references.entries()) references[i] = { ...r, digest: await rowsDigest(ours.client, r.sql) };
  // Values a conflicts file gives: columns of the conflict, values their types accept, or nothing runs.
  await checkResolutions(input, out.conflicts);
  // The target's rows a column the branch added with its own sequence does not number: numbered after the branch's.
  const numbered = new Map<string, string>();
  const numberedChecks: { table: string; sql: string }[] = [];
  for (const staged of stage.tables) {
    const given = await numberTargetRows(input, staged);
    if (!given.check) continue;
    for (const [seq, last] of given.last) numbered.set(seq, last);
    numberedChecks.push(given.check);
    await previewFromStage(ours.client, staged, out.previews.get(staged.tab)!);
    const at = out.tables.findIndex((t) => t.schema === staged.table.schema && t.name === staged.table.name);
    if (at >= 0) out.tables[at] = { ...out.tables[at]!, updated: staged.updatedRows };
  }
  const sequences = await traced('sequences', () => sequenceMerge(base, theirs, ours, numbered));
  return {
    tables: out.tables,
    conflicts: out.conflicts,
    staged: stage.tables,
    keyless: out.keyless,
    sequences,
    checks: [...movedChecks(stage.tables, ours.catalog), ...numberedChecks],
    readReferences: references,
    unchanged: out.unchanged && sequences.length === 0,
    sql: renderMergePreview(stage.tables, out.previews, out.keyless, sequences),
  };
}

/** One table both the base and the target have: a multiset merge without a key, else cell-wise by key. */
async function mergeTable(input: MergeInput, stage: Stage, out: Collected, tb: DataTable, tx: DataTable, tt: DataTable): Promise<void> {
  const { base, theirs, ours } = input;
  const planBT = planTable(tb, tx);
  if (planBT.match === 'rows') {
    const theirsDiff: TableDiff = await diffTable(base, theirs, planBT);
    if (theirsDiff.added.length + theirsDiff.removed.length === 0) return;
    out.unchanged = false;
    const found: MergeConflict[] = [];
    const restricted = mergeMultiset(theirsDiff, await diffTable(base, ours, planTable(tb, tt)), input, found);
    out.conflicts.push(...found);
    const dml = await tableDml(ours, theirs, restricted);
    out.keyless.push({ table: dml.table, inserts: dml.inserts, deletes: dml.deletes });
    out.tables.push({ table: tableName(tx), schema: tx.schema, name: tx.name, inserted: dml.inserts.length, updated: 0, deleted: dml.deletes.length, conflicts: found.length, merged_by: 'ayb' });
    return;
  }
  const count = (d: TableDiff<Keys>) => d.added.length + d.removed.length + d.changed.length;
  const backfill = await traced(`${tableName(tx)}: backfilled keys`, () => backfilled(theirs, tb, tx, planBT));
  // Most tables: the diff of base and branch made on the target's server, with the three-way merge.
  const typeOf = (t: DataTable, c: string) => t.columns.find((x) => x.name === c)?.type;
  const addedBase = await addedBaseValues(theirs, tb, tx, tt);
  if (backfill.length === 0 && planBT.key.every((c) => typeOf(tb, c) === typeOf(tx, c)) && serverCanMerge({ tb, tx, tt, plan: planBT })) {
    const found: MergeConflict[] = [];
    const staged = stage.table(tx, planBT.key);
    const preview = previewOf(tx, planBT.key);
    const job = { input, tb, tx, tt, addedBase, plan: planBT, stage, staged, preview, conflicts: found };
    const merged = await traced(`${tableName(tx)}: diffed, staged and compared on the server`, () => mergeDiffedOnServer(job));
    if (merged !== undefined) {
      if (merged.keys === 0) return;
      out.unchanged = false;
      out.previews.set(staged.tab, preview);
      await traced(`${tableName(tx)}: preview`, () => previewFromStage(ours.client, staged, preview));
      out.conflicts.push(...found);
      out.tables.push({ table: tableName(tx), schema: tx.schema, name: tx.name, inserted: staged.inserted, updated: staged.updatedRows, deleted: staged.deleted, conflicts: found.length, merged_by: 'server' });
      return;
    }
    // The server could not (see mergeKeyedOnServer): merged in ayb, from the keys, below.
    stage.tables.splice(stage.tables.indexOf(staged), 1);
  }
  // A key the branch retyped, written differently by its new type: one changed row, not removed and added.
  const keys = await traced(`${tableName(tx)}: data diff of base and branch (keys)`, async () => pairRetypedKeys(base, tx, await diffTableKeys(base, theirs, planBT)));
  if (count(keys) + backfill.length === 0) return;
  out.unchanged = false;
  const found: MergeConflict[] = [];
  const staged = stage.table(tx, planBT.key);
  const preview = previewOf(tx, planBT.key);
  out.previews.set(staged.tab, preview);
  const job = { input, tb, tx, tt, addedBase, plan: planBT, stage, staged, preview, conflicts: found };
  // On the target's server, set-based; else (a shape it cannot take) in ayb, a chunk at a time.
  const onServer = await traced(`${tableName(tx)}: staged and compared on the server`, () => mergeKeyedOnServer(job, keys, backfill));
  if (onServer) {
    await stage.flush();
    await traced(`${tableName(tx)}: preview`, () => previewFromStage(ours.client, staged, preview));
  } else {
    const sorted = (list: Keys) => [...list].sort(compareTuples);
    const theirsDiff = withKeys({ plan: planBT, added: sorted(keys.added), removed: sorted(keys.removed), changed: sorted(keys.changed) }, backfill);
    await mergeKeyed(job, theirsDiff);
  }
  out.conflicts.push(...found);
  out.tables.push({ table: tableName(tx), schema: tx.schema, name: tx.name, inserted: staged.inserted, updated: staged.updatedRows, deleted: staged.deleted, conflicts: found.length, merged_by: onServer ? 'server' : 'ayb' });
}

type Holds = Pick<DataTable, 'schema' | 'name' | 'triggers' | 'triggerModes' | 'rules'>;

/** The enabled user triggers and rules of partitioned roots (quoted names), for triggerStatements. */
async function rootHolds(client: Client, roots: readonly string[]): Promise<Holds[]> {
  if (roots.length === 0) return [];
  const { rows } = await client.query<{ schema: string; name: string; triggers: string[]; modes: string[]; rules: string[]; rule_modes: string[] }>(
    `SELECT n.nspname AS schema, c.relname AS name,
            ARRAY(SELECT g.tgname::text FROM pg_catalog.pg_trigger g WHERE g.tgrelid OPERATOR(pg_catalog.=) c.oid AND NOT g.tgisinternal AND g.tgenabled OPERATOR(pg_catalog.<>) 'D' ORDER BY g.tgname) AS triggers,
            ARRAY(SELECT g.tgenabled::text FROM pg_catalog.pg_trigger g WHERE g.tgrelid OPERATOR(pg_catalog.=) c.oid AND NOT g.tgisinternal AND g.tgenabled OPERATOR(pg_catalog.<>) 'D' ORDER BY g.tgname) AS modes,
            ARRAY(SELECT r.rulename::text FROM pg_catalog.pg_rewrite r WHERE r.ev_class OPERATOR(pg_catalog.=) c.oid AND r.rulename OPERATOR(pg_catalog.<>) '_RETURN' AND r.ev_enabled OPERATOR(pg_catalog.<>) 'D' ORDER BY r.rulename) AS rules,
            ARRAY(SELECT r.ev_enabled::text FROM pg_catalog.pg_rewrite r WHERE r.ev_class OPERATOR(pg_catalog.=) c.oid AND r.rulename OPERATOR(pg_catalog.<>) '_RETURN' AND r.ev_enabled OPERATOR(pg_catalog.<>) 'D' ORDER BY r.rulename) AS rule_modes
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
      WHERE c.oid OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.regclass[]::pg_catalog.oid[])
      ORDER BY 1, 2`,
    [roots],
  );
  return rows.map((r) => ({
    schema: r.schema,
    name: r.name,
    triggers: r.triggers,
    triggerModes: Object.fromEntries(r.triggers.map((g, i) => [g, r.modes[i]!])),
    rules: Object.fromEntries(r.rules.map((x, i) => [x, r.rule_modes[i]!])),
  }));
}

/**
 * The statements that apply a plan to the target once migrated (`after`: its catalog then), in the
 * session holding the staging table: user triggers and rules held off by name; rows of tables without a key
 * deleted (children first); then ONE statement for the keyed tables: deletes children first, then
 * updates parents first, then inserts parents first (a unique value a deleted or updated row gave up
 * is free before a row takes it; foreign keys are checked at the end of the statement); rows of
 * tables without a key inserted; triggers and rules back on (each in its mode), sequences last.
 */
export async function mergeStatements(client: Client, plan: DataMergePlan, after: DataCatalog): Promise<string[]> {
  const touched = plan.staged.filter((t) => t.inserted + t.updatedRows + t.deleted > 0);
  const keyless = plan.keyless.filter((t) => t.inserts.length + t.deletes.length > 0);
  const order = inForeignKeyOrder(after, [...touched, ...keyless].map((t) => tableId(t.table)));
  const unique = await uniqueColumnsOf(client, order);
  // Tables whose updates move a unique value: their changed rows are deleted and inserted again, the
  // foreign keys acting on them lifted around the statement (see swapPlan).
  const lift = await swapPlan(client, touched, order, unique);
  const statements = stagedStatements(touched, after, unique, lift.swapped);
  const keylessOf = (t: DataTable) => keyless.find((k) => tableId(k.table) === tableId(t));
  // Back on in the mode each had (ENABLE ALWAYS / REPLICA: a bare ENABLE would make them ordinary).
  // Rules too: a DO ALSO rule would write again what the branch's rows already hold (and PostgreSQL
  // refuses a DO ALSO rule on a table a data-modifying WITH writes, as the keyed statement does).
  // A partition's rows are written through its root and may land in any partition of it: the
  // triggers and rules of the roots (statement triggers, rules: a root's own) and of every partition
  // of those roots are held off too; the roots' first, so that ENABLE on a root (which recurses to
  // its partitions' clones of its row triggers) comes before each partition's own mode is put back.
  const roots = new Set(order.flatMap((t) => (t.root ? [t.root] : [])));
  const held = [...await rootHolds(client, [...roots]), ...order, ...[...after.tables.values()].filter((t) => t.root !== undefined && roots.has(t.root) && !order.includes(t))];
  const triggers = (verb: 'DISABLE' | 'ENABLE') => held.flatMap((t) => triggerStatements(t, verb));
  // An identity column GENERATED ALWAYS that staged updates set: BY DEFAULT for the statement (as the data diff's script does).
  const updates = order.filter((t) => (touched.find((s) => tableId(s.table) === tableId(t))?.updatedRows ?? 0) > 0);
  const setBy = (t: DataTable) => touched.find((s) => tableId(s.table) === tableId(t))!.updated;
  const out = [...triggers('DISABLE'), ...lift.before, ...identityHeld(updates, 'BY DEFAULT', setBy)];
  for (const t of [...order].reverse()) out.push(...(keylessOf(t)?.deletes ?? []));
  const of = (t: DataTable) => statements.get(tableId(t));
  const keyed = chained([
    ...[...order].reverse().flatMap((t) => of(t)?.deletes ?? []),
    ...order.flatMap((t) => of(t)?.updates ?? []),
    ...order.flatMap((t) => of(t)?.inserts ?? []),
  ]);
  if (keyed) out.push(keyed);
  for (const t of order) out.push(...(keylessOf(t)?.inserts ?? []));
  // The deferred checks run before the ALTER TABLEs that close (identities set back to ALWAYS, lift.after, ENABLE TRIGGER): PostgreSQL
  // refuses to alter a table with trigger events pending (55006).
  const closing = [...identityHeld(updates, 'ALWAYS', setBy), ...lift.after, ...triggers('ENABLE')];
  out.push(...(closing.length > 0 ? ['SET CONSTRAINTS ALL IMMEDIATE', ...closing] : []), ...plan.sequences);
  return out;
}
