import { formatDuration } from '../core/duration.js';
import { AybError, ConflictError, UsageError } from '../core/errors.js';
import { type BranchRow, CONTROL_TABLE_SQL } from '../core/records.js';
import { type DataCatalog, EVENT_TRIGGERS_SQL, readCatalog, tableId, tableLabel } from '../datadiff/catalog.js';
import { eventTriggerStatements } from '../datadiff/script-ddl.js';
import { type DataMergePlan, type MergeConflict, mergeStatements, type MergeStrategy, planDataMerge, type Resolution, rowsDigest, SERVER_MERGE_SQL, Stage, type TableMerge } from '../datadiff/merge.js';
import { withSides } from '../datadiff/data-diff.js';
import { type Client, connect, queryError, sessionDefaults, sqlState, SqlState, withClient } from '../postgres/client.js';
import { quoteIdent, quoteLiteral } from '../postgres/quote.js';
import { CUT_FUNCTION_SQL } from '../datadiff/merge-stage.js';
import { copyAcross } from '../datadiff/merge-server.js';
import { describeObject, type SchemaSnapshot } from '../schema/model.js';
import type { ConnInfo } from '../postgres/conninfo.js';
import { catalogFirst, VALUE_SETTINGS, valueSettingsOptions } from '../postgres/value-settings.js';
import { sessionTimeouts, timeoutStatements } from '../postgres/timeouts.js';
import { snapshotSchema } from '../schema/snapshot.js';
import { type MigrationStatement, needsManualSteps, renderMigration } from '../schema/sql.js';
import { type BranchContext, branchConn, noticeOf, withControl } from './context.js';
import { findRow, findRowByDatabase, updateRow } from './control-table.js';
import { createBranch } from './create.js';
import { deleteBranch } from './delete.js';
import { mergeSchemas, type SchemaConflict, type SchemaMerge } from './merge-schema.js';
import { notFound, wrongKindError } from './errors.js';
import { resolveDatabase } from './list.js';
import { withBranchLocks } from './locks.js';
import { MAX_NAME_LENGTH, validateBranchName } from './names.js';
import { withSnapshotView } from './snapshot-view.js';
import { explained, traced } from '../datadiff/merge-trace.js';
import { constraintViolation, type DeferredConstraint, deferConstraints, findViolation, mergedRows } from './merge-constraints.js';

export type { MergeConflict, MergeStrategy, Resolution, SchemaConflict, TableMerge };
export { conflictId } from '../datadiff/merge.js';

export interface MergeOptions {
  /** The branch whose changes are brought home. */
  readonly branch: string;
  /** Where they go: main or a branch; default: what the base snapshot was taken of, else the branch's parent, else main. */
  readonly into?: string;
  /** The snapshot the branch started from; default: the snapshot the branch was made from (`branch create --keep-base`), or last merged. */
  readonly base?: string;
  readonly strategy?: MergeStrategy;
  readonly dryRun?: boolean;
  /** Resolutions from a conflicts file (see conflictId), applied before --strategy. */
  readonly resolutions?: ReadonlyMap<string, Resolution>;
  /** How long the apply transaction waits for a lock on the target, and how long one of its statements may run (ms; 0: no limit). */
  readonly lockTimeout?: number;
  readonly statementTimeout?: number;
}

export interface MergeResult {
  readonly branch: string;
  readonly into: string;
  readonly base: string;
  readonly strategy: MergeStrategy;
  readonly dry_run: boolean;
  /** True when the target was changed (not a dry run, and nothing left unresolved). */
  readonly applied: boolean;
  /** The branch changed nothing since its base: nothing to merge. */
  readonly up_to_date: boolean;
  readonly schema_statements: number;
  /** ALTER TYPE … ADD VALUE statements committed on the target before the rest (a new enum value cannot be used in the transaction that adds it). */
  readonly committed_first: readonly string[];
  readonly tables: readonly TableMerge[];
  readonly conflicts: readonly MergeConflict[];
  readonly schema_conflicts: readonly SchemaConflict[];
  /** Conflicts neither a resolution nor --strategy settled: the merge applies nothing while there are any. */
  readonly unresolved: number;
  /** The snapshot that is the branch's base from now on (what was merged); null for a dry run or when nothing was applied. */
  readonly new_base: string | null;
  /** The schema migration and the DML, as run on the target. */
  readonly sql: string;
}

/**
 * `ayb branch merge`: a three-way merge of what `branch` changed since its base into the target.
 * The plan is made without writing to the target: the schemas are merged object by object, and the
 * rows cell by cell, reading the base, the branch and the target each in a read-only transaction
 * (the target is only read, taking ACCESS SHARE locks, as any SELECT). A dry run stops there. A real
 * merge then applies the plan in one short transaction on the target, with lock_timeout and
 * statement_timeout, after checking that the target's rows it planned from did not move; on a
 * conflict left unresolved, an error, a timeout or an interrupt nothing is applied.
 *
 * A real merge first freezes the branch as a snapshot and merges that: afterwards it is the branch's
 * base (the merge record), so the next merge brings only what changed since.
 *
 * Reading a snapshot: a snapshot refuses connections, and stays so. The merge reads a throwaway copy
 * of it (withSnapshotView: `ayb_view_…`, copy-on-write where the server can), dropped afterwards.
 */
export async function mergeBranch(ctx: BranchContext, options: MergeOptions): Promise<MergeResult> {
  const strategy = options.strategy ?? 'fail';
  const dryRun = options.dryRun === true;
  validateBranchName(options.branch);
  const { branch, base, into } = await withControl(ctx, async (client) => {
    const row = await findRow(client, options.branch);
    if (!row) throw notFound(options.branch);
    if (row.kind !== 'branch') throw wrongKindError(row, 'branch');
    const baseName = options.base ?? row.snapshot;
    if (!baseName) {
      throw new UsageError(`branch "${row.name}" has no base to merge against`, {
        hint: `pass --base <snapshot> (the state it was made from), or create branches with --keep-base: ayb branch create ${row.name} --keep-base`,
      }, 'no_merge_base');
    }
    validateBranchName(baseName);
    const baseRow = await findRow(client, baseName);
    if (!baseRow) throw notFound(baseName, 'snapshot');
    if (baseRow.kind !== 'snapshot') throw wrongKindError(baseRow, 'snapshot');
    if (baseRow.status !== 'ready') throw new ConflictError('snapshot_not_ready', `snapshot "${baseName}" is not ready (status: ${baseRow.status})`, { hint: `check it with: ayb snapshot show ${baseName}` });
    return { branch: row, base: baseRow, into: options.into ?? (await defaultTarget(ctx, client, row, baseRow)) };
  });
  if (into === branch.name) throw new UsageError(`cannot merge branch "${branch.name}" into itself`, { hint: 'name another target with --into' });
  const target = await resolveDatabase(ctx, into);
  const source = await resolveDatabase(ctx, branch.name);
  ctx.log?.(`Merging ${branch.name} into ${into} (base: ${base.name}, strategy: ${strategy}${dryRun ? ', dry run' : ''}) …`);

  // A real merge merges a snapshot of the branch, which becomes its base: exactly what was merged.
  const record = dryRun ? undefined : await traced('freeze the branch (merge record snapshot)', () => freezeBranch(ctx, branch.name));
  let outcome: MergeResult | undefined;
  try {
    const merge = async (theirsDb: string) => withSnapshotView(ctx, base, (baseCopy) => withBranchLocks(ctx, lockList(branch.name, into), () =>
      traced('merge sides (all)', () => mergeSides(ctx, { options, strategy, dryRun, branch: branch.name, into, base: base.name, baseDb: baseCopy, theirsDb, targetDb: target.database, newBase: record?.name ?? null }))));
    outcome = record ? await withSnapshotView(ctx, record, merge) : await merge(source.database);
  } finally {
    if (record) await traced('settle the merge record', () => settleRecord(ctx, branch, base, record, outcome));
  }
  if (outcome.schema_conflicts.length > 0 && !dryRun) throw schemaConflictError(outcome);
  if (outcome.unresolved > 0 && !dryRun) throw conflictError(outcome);
  return outcome;
}

function lockList(branch: string, into: string) {
  return [branch, ...(into === 'main' ? [] : [into])];
}

/** Snapshot `<branch>-merged-<n>`: the branch as it is merged. */
async function freezeBranch(ctx: BranchContext, branch: string): Promise<BranchRow> {
  const stamp = new Date().toISOString().replace(/[-:TZ.]/g, '').slice(0, 14);
  const name = `${branch.slice(0, MAX_NAME_LENGTH - 22)}-merged-${stamp}`;
  const { branch: row } = await createBranch(ctx, { name, kind: 'snapshot', source: { kind: 'record', name: branch }, expiresAt: null });
  return row;
}

/**
 * After a real merge: an applied merge makes the frozen snapshot the branch's base and drops the
 * previous merge record of the branch; otherwise the frozen snapshot goes.
 */
async function settleRecord(ctx: BranchContext, branch: BranchRow, base: BranchRow, record: BranchRow, outcome: MergeResult | undefined): Promise<void> {
  const applied = outcome?.applied === true;
  if (applied) {
    await withControl(ctx, (client) => updateRow(client, branch.id, { snapshot: record.name }));
    // An earlier merge record goes; `<branch>-base` stays (the branch was made from it).
    const earlierRecord = base.name.startsWith(`${branch.name.slice(0, MAX_NAME_LENGTH - 22)}-merged-`) && base.source_database === branch.branch_database;
    if (earlierRecord && base.name === branch.snapshot) {
      await deleteBranch(ctx, { name: base.name, kind: 'snapshot' }).catch((error: unknown) => ctx.log?.(`warning: could not delete the old base "${base.name}": ${(error as Error).message}`));
    }
    return;
  }
  await deleteBranch(ctx, { name: record.name, kind: 'snapshot' }).catch((error: unknown) => ctx.log?.(`warning: could not delete snapshot "${record.name}": ${(error as Error).message}`));
}

interface SidesJob {
  readonly options: MergeOptions;
  readonly strategy: MergeStrategy;
  readonly dryRun: boolean;
  readonly branch: string;
  readonly into: string;
  readonly base: string;
  readonly baseDb: string;
  readonly theirsDb: string;
  readonly targetDb: string;
  readonly newBase: string | null;
}

/**
 * Every value setting (src/postgres/value-settings.ts), pinned alike in every session of a merge from
 * its first statement (libpq startup options): a database's own DateStyle, TimeZone, search_path,
 * array_nulls, … (ALTER DATABASE … SET) would otherwise make one value read differently on two
 * sides (a false change or conflict), or a literal of the apply mean another value on the target.
 */
const MERGE_SETTINGS = valueSettingsOptions(VALUE_SETTINGS.map(([name]) => name));
const ROW_SETTINGS = valueSettingsOptions(VALUE_SETTINGS.map(([name]) => name).filter((name) => name !== 'search_path'));

/**
 * `conn` with the merge's settings pinned; with `searchPath`, that search_path instead of the empty one
 * (see rowSearchPath).
 */
function pinned(conn: ConnInfo, searchPath?: string): ConnInfo {
  const settings = searchPath === undefined ? MERGE_SETTINGS : `${ROW_SETTINGS} -c search_path=${searchPath.replace(/([\\ ])/g, '\\$1')}`;
  return { ...conn, params: { ...conn.params, options: `${conn.params.options ?? ''} ${settings}`.trim() } };
}

/**
 * The search_path of the merge's sessions that read and write rows: the target database's own (as its
 * own sessions have it, ALTER DATABASE / ROLE … SET included), pg_catalog first. PostgreSQL evaluates
 * the user's functions under the caller's search_path: a SQL function of an index expression (inlined
 * by the planner whenever a statement reads the table), of a CHECK or a DEFAULT, a trigger's, that
 * names another function unqualified finds it only there (under an empty search_path no statement
 * reading the table could even be planned). ayb's own SQL does not depend on it: pg_catalog is
 * searched first (a user's object of the same name and arguments never shadows pg_catalog's), and
 * what a user's object could still capture by matching better than pg_catalog's polymorphic
 * functions and operators (an `=` or unnest for text[], anyarray's) is written schema-qualified.
 * The schema snapshots keep the empty search_path (every name qualified in what they write).
 */
async function rowSearchPath(conn: ConnInfo): Promise<string> {
  const own = await withClient(conn, async (c) => (await c.query<{ p: string }>('SELECT pg_catalog.current_setting($1) AS p', ['search_path'])).rows[0]!.p);
  return catalogFirst(own);
}

/** Plans (read-only everywhere) and, unless a dry run or blocked, applies. */
async function mergeSides(ctx: BranchContext, job: SidesJob): Promise<MergeResult> {
  const searchPath = await rowSearchPath(branchConn(ctx, job.targetDb));
  const [baseConn, theirsConn, targetConn] = [job.baseDb, job.theirsDb, job.targetDb].map((db) => pinned(branchConn(ctx, db), searchPath)) as [ConnInfo, ConnInfo, ConnInfo];
  const [baseSchema, theirsSchema, oursSchema] = await traced('schema snapshots', () => Promise.all([job.baseDb, job.theirsDb, job.targetDb].map((db) => withClient(pinned(branchConn(ctx, db)), (c) => snapshotSchema(c)))));
  const merged = mergeSchemas(baseSchema!, theirsSchema!, oursSchema!);
  // A table or column the branch dropped whose rows (values) the target changed since the base: the
  // drop would take those changes with it, silently: a conflict, as a delete of a row the target changed.
  const dropConflicts = await traced('dropped tables and columns', () => droppedWithChanges(baseConn, targetConn, baseSchema!, merged.dropped));
  const schema: SchemaMerge = dropConflicts.length > 0 ? { ...merged, migration: [], conflicts: [...merged.conflicts, ...dropConflicts], narrowed: [] } : merged;
  const result = (plan: DataMergePlan | undefined, extra: Partial<MergeResult> = {}): MergeResult => {
    const conflicts = plan?.conflicts ?? [];
    const unresolved = conflicts.filter((c) => c.resolution === null).length + schema.conflicts.length;
    return {
      branch: job.branch,
      into: job.into,
      base: job.base,
      strategy: job.strategy,
      dry_run: job.dryRun,
      applied: false,
      up_to_date: false,
      schema_statements: schema.migration.length,
      committed_first: [],
      tables: plan?.tables ?? [],
      conflicts,
      schema_conflicts: schema.conflicts,
      unresolved,
      new_base: null,
      sql: `${schemaSql}${schemaSql ? '\n' : ''}${plan?.sql ?? ''}`,
      ...extra,
    };
  };
  if (needsManualSteps(schema.migration)) {
    throw new ConflictError('merge_needs_manual_schema_steps', `the schema changes of branch "${job.branch}" include steps ayb cannot write`, {
      hint: `see the "-- manual:" comments of: ayb branch diff ${job.branch} --output sql; apply those by hand, then merge again`,
    });
  }
  const schemaSql = schema.migration.length > 0 ? renderMigration(schema.migration, `schema changes of ${job.branch} since ${job.base}`) : '';
  if (schema.conflicts.length > 0) return result(undefined);

  return withSides(baseConn, theirsConn, [CONTROL_TABLE_SQL], async (base, theirs) => {
    // One session on the target for the plan and the apply: the plan's merged rows wait in its
    // staging table (TEMP), written from the plan's read-only transaction and applied from it.
    const client = await connect(targetConn);
    try {
      // The session's temporary tables hold a large merge's staged rows: in memory where they fit
      // (temp_buffers, set before the session's first temporary table), and its joins and sorts too.
      await client.query(`SET temp_buffers = '${MERGE_TEMP_BUFFERS}'; SET work_mem = '${MERGE_WORK_MEM}'`);
      // The staging tables are the merge's own DDL, not the user's: the target's event triggers are held off
      // around their creation, in a transaction of its own (no other session sees them off).
      const events = await eventTriggersToHold(client);
      await client.query('BEGIN');
      for (const sql of eventTriggerStatements(events, 'DISABLE')) await client.query(sql);
      const stage = await Stage.create(client);
      await client.query(SERVER_MERGE_SQL);
      for (const sql of eventTriggerStatements(events, 'ENABLE')) await client.query(sql);
      await client.query('COMMIT');
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      let plan: DataMergePlan;
      try {
        const ours = { client, catalog: await readCatalog(client, [CONTROL_TABLE_SQL]) };
        plan = await traced('plan (all tables)', () => planDataMerge({ base, theirs, ours, strategy: job.strategy, resolutions: job.options.resolutions }, stage));
        // COMMIT, not ROLLBACK: the staged rows stay (the transaction changed only temporary tables).
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
      if (schema.unchanged && plan.unchanged) return result(plan, { up_to_date: true });
      const blocked = plan.conflicts.some((c) => c.resolution === null);
      // A dry run answers as the merge would: the constraints the branch adds, on the rows as merged.
      if (job.dryRun && !blocked) await traced('dry run: constraints the branch adds', () => checkConstraints(ctx, client, schema, plan, theirs.catalog));
      if (job.dryRun || blocked) return result(plan);
      const committedFirst = await traced('apply (all)', () => applyMerge(ctx, client, targetConn, schema, plan, job.options, branchConn(ctx, job.targetDb)));
      return result(plan, { applied: true, committed_first: committedFirst, new_base: job.newBase });
    } finally {
      await client.end().catch(() => undefined);
    }
  }, { keepSearchPath: true });
}

/**
 * For a dry run: each constraint the branch adds or tightens (see deferConstraints) looked for a row
 * that breaks it among the rows as the merge would leave them (the target's rows with the staged ones
 * over them), read in one read-only transaction; one found refuses as the merge would. A constraint
 * it cannot read so (an exclusion, a unique index) is left to the merge, and said.
 */
async function checkConstraints(ctx: BranchContext, client: Client, schema: SchemaMerge, plan: DataMergePlan, theirs: DataCatalog): Promise<void> {
  const { after: constraints } = deferConstraints(schema.migration.filter((m) => !ADD_VALUE.test(m.sql)));
  if (constraints.length === 0) return;
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    const ours = await readCatalog(client, [CONTROL_TABLE_SQL]);
    const source = (relation: string) => mergedRows(relation, ours, theirs, plan.staged);
    for (const c of constraints) {
      await client.query('SAVEPOINT ayb_check');
      const found = await findViolation(client, c, source).catch((error: unknown) => error as Error);
      if (found instanceof Error) {
        await client.query('ROLLBACK TO SAVEPOINT ayb_check');
        noticeOf(ctx)?.(`The dry run could not check ${c.name} on the merged rows (${found.message}); the merge checks it.`);
      } else if (found) {
        throw constraintViolation(c, found.table, found.row, true);
      } else if (c.kind === 'other') {
        noticeOf(ctx)?.(`The dry run does not check ${c.name} on the merged rows; the merge does.`);
      }
    }
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
  }
}

const ADD_VALUE = /^ALTER TYPE .* ADD VALUE /;

/** The merge session's temp_buffers and work_mem (the server's defaults, 8MB and 4MB, spill a large merge's staging to disk). */
const MERGE_TEMP_BUFFERS = '256MB';
const MERGE_WORK_MEM = '64MB';

/**
 * Applies the plan: first, in their own transaction, enum values the branch added (PostgreSQL
 * cannot use a new enum value in the transaction that adds it; an enum value added and unused is
 * harmless); then, in one REPEATABLE READ transaction with lock_timeout and statement_timeout, a
 * check that the target's planned rows did not move, the schema migration and the DML.
 */
async function applyMerge(ctx: BranchContext, client: Client, conn: ConnInfo, schema: SchemaMerge, plan: DataMergePlan, options: MergeOptions, ownConn: ConnInfo): Promise<string[]> {
  const migration: readonly MigrationStatement[] = schema.migration;
  const limits = sessionTimeouts();
  const lock = options.lockTimeout ?? limits.lock;
  const statement = options.statementTimeout ?? limits.statement;
  const first = migration.filter((m) => ADD_VALUE.test(m.sql));
  const rest = migration.filter((m) => !ADD_VALUE.test(m.sql));
  await client.query(timeoutStatements({ lock, statement }));
  try {
    if (first.length > 0) {
      await client.query('BEGIN');
      for (const m of first) await client.query(m.sql);
      await client.query('COMMIT');
      noticeOf(ctx)?.(`Added enum value(s) on the target first (committed): ${first.map((m) => m.sql).join('; ')}`);
    }
    // Read before the transaction (another session): it stays as short as it can.
    const own = rest.length > 0 ? await sessionDefaults(ownConn, VALUE_SETTINGS.map(([name]) => name)) : undefined;
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    for (const check of plan.checks) {
      const { rows } = await traced(`apply: moved check of ${check.table}`, () => client.query<{ k: string }>(check.sql));
      if (rows.length > 0) {
        throw new ConflictError('merge_target_moved', `${check.table} changed on the target while the merge was planned (key ${rows[0]!.k}); nothing was applied`, { hint: 'run the merge again' });
      }
    }
    for (const read of plan.readReferences) {
      if ((await traced(`apply: references digest of ${read.table}`, () => rowsDigest(client, read.sql))) !== read.digest) {
        throw new ConflictError('merge_target_moved', `rows of ${read.table} that reference rows the merge deletes changed on the target while the merge was planned; nothing was applied`, { hint: 'run the merge again' });
      }
    }
    // A retype within one type (varchar(10) -> varchar(3), numeric(12,4) -> numeric(12,2)) converts
    // with an explicit cast, which cuts or rounds a value silently: a value of the target it would
    // change is a conflict (the branch's schema change against the target's rows), nothing applied.
    for (const n of schema.narrowed) {
      const { rows } = await client.query<{ v: string }>(`SELECT ${n.column}::text AS v FROM ${n.relation} WHERE ${n.column} IS DISTINCT FROM ${n.column}::${n.to} LIMIT 1`);
      if (rows.length > 0) {
        throw new ConflictError('merge_value_conflict', `${n.label}: the branch changes its type from ${n.from} to ${n.to}, and the target holds values that type would cut or round (${quoteLiteral(rows[0]!.v.slice(0, 200))}); nothing was applied`, {
          hint: 'change those values on the target (or the type on the branch) so that they fit, then merge again',
          details: { column: n.label, from: n.from, to: n.to },
        });
      }
    }
    // Constraints the branch adds or tightens come after the rows (see deferConstraints).
    const { before, after: constraints } = deferConstraints(rest);
    if (before.length > 0) {
      // The migration is the user's DDL: its conversions (a USING cast to timestamptz reads the
      // TimeZone, to date the DateStyle) run under the database's own settings, not the ones the
      // merge pins to read and write values as text; those are back for the DML.
      await client.query(setLocal(own!));
      await client.query(renderMigration(before));
      await client.query(BACK_TO_ROW_SETTINGS);
    }
    // The merge's own DDL from here (a function, triggers held off, keys lifted, temporary tables) is not
    // the user's: the target's event triggers (an audit of DDL) are held off around it, inside the
    // transaction, when the role may (an event trigger is a superuser's); the migration above fired them.
    const events = await eventTriggersToHold(client);
    for (const sql of eventTriggerStatements(events, 'DISABLE')) await client.query(sql);
    await client.query(CUT_FUNCTION_SQL);
    // Deferrable constraints are checked at COMMIT, when every table holds its merged rows.
    await client.query('SET CONSTRAINTS ALL DEFERRED');
    const after = await readCatalog(client, [CONTROL_TABLE_SQL]);
    for (const sql of await mergeStatements(client, plan, after)) {
      if (sql.startsWith('WITH ')) await explained(client, sql);
      await traced(`apply: ${sql.replace(/\s+/g, ' ').slice(0, 70)}`, () => client.query(sql));
    }
    for (const sql of eventTriggerStatements(events, 'ENABLE')) await client.query(sql);
    if (constraints.length > 0) await traced('apply: constraints the branch adds', () => addConstraints(client, constraints, own!));
    await traced('apply: COMMIT', () => client.query('COMMIT'));
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    if (sqlState(error) === SqlState.lockNotAvailable || sqlState(error) === SqlState.queryCanceled) throw await blockedError(conn, error, lock, statement);
    // A write committed on the target after the apply's snapshot, to a row the apply then writes
    // (it waited on that row's lock): the same "target moved" as the check above finds, found later.
    if (sqlState(error) === SqlState.serializationFailure || sqlState(error) === SqlState.deadlockDetected) {
      throw new ConflictError('merge_target_moved', 'rows of the target the merge writes changed while it applied; nothing was applied', { hint: 'run the merge again' });
    }
    if (sqlState(error)?.startsWith('23')) throw constraintError(error);
    if (sqlState(error)?.startsWith('22')) throw await valueError(error, client, plan);
    throw error instanceof AybError ? error : queryError(error, conn);
  }
  return first.map((m) => m.sql);
}

/** The target's enabled event triggers (name → mode), when the session's role is a superuser (who alone may alter them). */
async function eventTriggersToHold(client: Client): Promise<Record<string, string> | undefined> {
  const { rows: [role] } = await client.query<{ superuser: boolean }>('SELECT rolsuper AS superuser FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) current_user');
  if (!role?.superuser) return undefined;
  const { rows } = await client.query<{ name: string; enabled: string }>(EVENT_TRIGGERS_SQL);
  return Object.fromEntries(rows.map((r) => [r.name, r.enabled]));
}

/**
 * The constraints the branch adds or tightens, on the merged rows (the deferred checks of the
 * target's own deferrable constraints first: ALTER TABLE refuses a table with pending ones). One that
 * a row breaks is a conflict naming the constraint and the row (the statement is tried in a savepoint,
 * and on failure the row is looked for), else the server's own error.
 */
async function addConstraints(client: Client, constraints: readonly DeferredConstraint[], own: ReadonlyMap<string, string>): Promise<void> {
  await client.query('SET CONSTRAINTS ALL IMMEDIATE');
  await client.query(setLocal(own));
  for (const c of constraints) {
    await client.query('SAVEPOINT ayb_constraint');
    try {
      await client.query(c.sql);
    } catch (error) {
      if (!sqlState(error)?.startsWith('23')) throw error;
      await client.query('ROLLBACK TO SAVEPOINT ayb_constraint');
      const found = await findViolation(client, c, (relation) => `SELECT * FROM ${relation}`).catch(() => undefined);
      throw found ? constraintViolation(c, found.table, found.row, false) : constraintError(error);
    }
    await client.query('RELEASE SAVEPOINT ayb_constraint');
  }
  await client.query(BACK_TO_ROW_SETTINGS);
}

/**
 * A constraint of the target the merged rows break (a unique value the target added too, a row it
 * added that references one the branch deleted, a check): a conflict between the two sides that
 * the row-by-row plan did not see; exit 4, nothing applied.
 */
function constraintError(error: unknown): ConflictError {
  const e = error as { message?: string; detail?: string; constraint?: string; table?: string };
  const where = e.table ? ` on table "${e.table}"` : '';
  return new ConflictError('merge_constraint_conflict', `the merged rows break constraint "${e.constraint ?? '?'}"${where} of the target: ${e.message ?? String(error)}${e.detail ? ` (${e.detail})` : ''}; nothing was applied`, {
    hint: 'the target changed rows that the branch\'s changes collide with: change one side so that they agree (see ayb branch diff <branch> <target> --data), then merge again',
    details: { sqlstate: sqlState(error), constraint: e.constraint ?? null, table: e.table ?? null },
  });
}

/**
 * Of the tables and columns the branch dropped (see SchemaMerge.dropped), those whose rows (a column:
 * its values, by the table's primary key) the target added or changed since the base: the base's
 * rows streamed into a session on the target (COPY), the target's rows not among them.
 */
async function droppedWithChanges(baseConn: ConnInfo, targetConn: ConnInfo, base: SchemaSnapshot, dropped: SchemaMerge['dropped']): Promise<SchemaConflict[]> {
  if (dropped.length === 0) return [];
  const droppedTables = new Set(dropped.filter((d) => d.kind === 'table').map((d) => `${d.schema}\0${d.table}`));
  const todo = dropped.filter((d) => d.kind === 'table' || !droppedTables.has(`${d.schema}\0${d.table}`));
  return withClient(baseConn, (b) => withClient(targetConn, async (o) => {
    const out: SchemaConflict[] = [];
    for (const d of todo) {
      const relation = `${quoteIdent(d.schema)}.${quoteIdent(d.table)}`;
      let projection: string;
      let present = 'true';
      if (d.kind === 'table') {
        const columns = [...base.objects.values()].filter((x) => x.kind === 'column' && x.schema === d.schema && x.table === d.table).map((x) => quoteIdent(x.name)).sort();
        if (columns.length === 0) continue;
        projection = `ROW(${columns.map((c) => `t.${c}`).join(', ')})::text`;
      } else {
        const { rows } = await b.query<{ key: string[] | null }>(
          `SELECT pg_catalog.array_agg(quote_ident(a.attname) ORDER BY k.o) AS key FROM pg_index i CROSS JOIN pg_catalog.unnest(i.indkey) WITH ORDINALITY k(n, o)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n WHERE i.indrelid = $1::regclass AND i.indisprimary`, [relation]);
        const key = rows[0]?.key ?? [];
        projection = `ROW(${[...key, quoteIdent(d.column!)].map((c) => `t.${c}`).join(', ')})::text`;
        present = `t.${quoteIdent(d.column!)} IS NOT NULL`;
      }
      // The base's rows (a column: key and value) streamed into the target's session; a row of the
      // target that is not among them was added or changed since the base, and the drop would lose it
      // (rows the target deleted, or a value it emptied, lose nothing).
      await o.query('CREATE TEMP TABLE IF NOT EXISTS ayb_merge_dropped (x text); TRUNCATE pg_temp.ayb_merge_dropped');
      const rowsOf = `SELECT ${projection} AS x FROM ${relation} t WHERE ${present}`;
      await copyAcross(b, rowsOf, o, 'pg_temp.ayb_merge_dropped');
      await o.query('ANALYZE pg_temp.ayb_merge_dropped');
      const lost = await o.query<{ x: string }>(`SELECT s.x FROM (${rowsOf}) s WHERE NOT EXISTS (SELECT FROM pg_temp.ayb_merge_dropped d WHERE d.x = s.x) LIMIT 1`)
        .catch(() => ({ rows: [{ x: '(unreadable)' }] }));
      if (lost.rows.length === 0) continue;
      const what = d.kind === 'table' ? 'its rows' : 'values in it';
      out.push({
        object: describeObject(d.object),
        ours: 'changed',
        theirs: 'removed',
        base: d.object.definition,
        our: d.object.definition,
        their: null,
        reason: `the branch dropped it (a rename is a drop and an add), and the target changed ${what} since the base (such as ${lost.rows[0]!.x.slice(0, 200)}): the drop would lose those changes`,
      });
    }
    return out;
  }));
}

/** `SET LOCAL` of each setting (set_config, one statement). */
/**
 * The merge's value settings again after the user's DDL ran under the database's own: search_path not
 * VALUE_SETTINGS' empty one but the session's own (TO DEFAULT: the row path it was opened with, see
 * rowSearchPath), under which the rows are read and written.
 */
const BACK_TO_ROW_SETTINGS = `${setLocal(new Map(VALUE_SETTINGS.filter(([name]) => name !== 'search_path')))}; SET LOCAL search_path TO DEFAULT`;

function setLocal(settings: ReadonlyMap<string, string>): string {
  return `SELECT ${[...settings].map(([name, value]) => `set_config(${quoteLiteral(name)}, ${quoteLiteral(value)}, true)`).join(', ')}`;
}

/**
 * A value of the branch that the target's type of its column cannot hold (a label main renamed, text
 * where main made the column int, a value longer than main narrowed it to): a collision of the two
 * sides like a broken constraint; exit 4, nothing applied, the table and column named when found
 * (each staged value of each column tried against its type, after the rollback).
 */
async function valueError(error: unknown, client: Client, plan: DataMergePlan): Promise<ConflictError> {
  const e = error as { message?: string; detail?: string };
  const where = await findBadValue(client, plan).catch(() => undefined);
  const at = where ? `${where.column} (value ${quoteLiteral(where.value.slice(0, 200))}): ` : '';
  return new ConflictError('merge_value_conflict', `${at}a value of the branch does not convert to the target's type of its column: ${e.message ?? String(error)}${e.detail ? ` (${e.detail})` : ''}; nothing was applied`, {
    hint: 'the target changed the column\'s type (or an enum\'s labels) since the base: change the branch\'s values (or the target\'s type) so that they agree, then merge again',
    details: { sqlstate: sqlState(error), column: where?.column ?? null, value: where?.value ?? null },
  });
}

/** After a failed apply (rolled back): the first staged value of the branch its column's type on the target refuses. */
async function findBadValue(client: Client, plan: DataMergePlan): Promise<{ column: string; value: string } | undefined> {
  const catalog = await readCatalog(client, [CONTROL_TABLE_SQL]);
  await client.query(`CREATE OR REPLACE FUNCTION pg_temp.ayb_merge_bad(tab int, i int, typ text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE x text;
BEGIN
  FOR x IN SELECT s.v[i] FROM pg_temp.ayb_merge_stage s WHERE s.tab = ayb_merge_bad.tab AND s.op IN ('i', 'u') AND s.v[i] IS NOT NULL AND (s.op = 'i' OR s.m[i]) LOOP
    BEGIN EXECUTE pg_catalog.format('SELECT $1::%s', typ) USING x;
    EXCEPTION WHEN data_exception THEN RETURN x; END;
  END LOOP;
  RETURN NULL;
END $$`);
  for (const t of plan.staged) {
    const table = catalog.tables.get(tableId(t.table));
    if (!table) continue;
    for (const [i, c] of t.writable.entries()) {
      const type = table.columns.find((x) => x.name === c)?.type;
      if (!type) continue;
      const { rows } = await client.query<{ v: string | null }>('SELECT pg_temp.ayb_merge_bad($1, $2, $3) AS v', [t.tab, i + 1, type]);
      if (rows[0]?.v != null) return { column: `${tableLabel(table)}.${quoteIdent(c)}`, value: rows[0].v };
    }
  }
  return undefined;
}

/** A timeout of the apply transaction: exit 4, naming the sessions that hold locks on the target's tables. */
async function blockedError(conn: ConnInfo, error: unknown, lock: number, statement: number): Promise<ConflictError> {
  const holders = await withClient(conn, (c) => c.query<{ pid: number; usename: string | null; application_name: string; state: string | null; query: string }>(
    `SELECT a.pid, a.usename, a.application_name, a.state, left(a.query, 200) AS query FROM pg_stat_activity a
      WHERE a.pid IN (SELECT l.pid FROM pg_locks l WHERE l.granted AND l.locktype = 'relation' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))
        AND a.pid <> pg_backend_pid() ORDER BY a.xact_start`,
  )).then((r) => r.rows).catch(() => []);
  const lockWait = sqlState(error) === SqlState.lockNotAvailable;
  const what = lockWait ? `waited longer than ${formatDuration(lock)} for a lock on the target` : `a statement ran longer than ${formatDuration(statement)}`;
  const sessions = holders.map((h) => `pid ${h.pid} (${h.usename ?? '?'}${h.application_name ? `, ${h.application_name}` : ''}, ${h.state ?? '?'}: ${h.query.replace(/\s+/g, ' ').trim()})`).join('; ');
  return new ConflictError('merge_blocked', `the merge ${what}; nothing was applied${sessions ? `; sessions holding locks there: ${sessions}` : ''}`, {
    hint: lockWait ? 'end or wait for those sessions, then merge again; or allow a longer wait with --lock-timeout' : 'allow longer statements with --statement-timeout',
    details: { sessions: holders.map((h) => ({ pid: h.pid, user: h.usename, application_name: h.application_name, state: h.state, query: h.query })) },
  });
}

/**
 * What the base snapshot was taken of (main or a branch), else the branch's parent, else main. A
 * base taken of the branch itself (a merge record) points back to what the branch came from.
 */
async function defaultTarget(ctx: BranchContext, client: Parameters<typeof findRow>[0], branch: BranchRow, base: BranchRow): Promise<string> {
  if (base.source_database === branch.branch_database) {
    const parent = branch.parent ? await findRow(client, branch.parent) : undefined;
    if (!parent || parent.source_database === ctx.main.database) return 'main';
    if (parent.kind === 'branch') return parent.name;
    const of = await findRowByDatabase(client, parent.source_database);
    return of?.kind === 'branch' && of.name !== branch.name ? of.name : 'main';
  }
  if (base.source_database === ctx.main.database) return 'main';
  const of = await findRowByDatabase(client, base.source_database);
  if (of?.kind === 'branch') return of.name;
  if (branch.parent && branch.parent !== base.name) return branch.parent;
  return 'main';
}

/** A conflict as one line: the table, the key, and what each side holds. */
export function describeConflict(c: MergeConflict): string {
  const key = Object.entries(c.key).map(([k, v]) => `${k}=${v ?? 'NULL'}`).join(', ');
  if (c.cascade) return `${c.table} (${key}): the branch ${c.theirs === 'removed' ? 'deletes it' : 'changes its referenced key'}, and rows the target added or changed reference it (the ${c.theirs === 'removed' ? 'delete' : 'update'} would cascade onto them or fail): ${c.cascade.map((x) => `${x.table} (${Object.entries(x.key).map(([k, v]) => `${k}=${v ?? 'NULL'}`).join(', ')})`).join(', ')}`;
  if (c.columns.length > 0) {
    const cells = c.columns.map((col) => `${col}: base ${show(c.base?.[col])}, ours ${show(c.our?.[col])}, theirs ${show(c.their?.[col])}`).join('; ');
    return `${c.table} (${key}): ${cells}`;
  }
  return `${c.table} (${key}): ours ${c.ours}, theirs ${c.theirs}`;
}

const show = (v: string | null | undefined) => (v === undefined ? '(absent)' : v === null ? 'NULL' : JSON.stringify(v));

function conflictError(result: MergeResult): ConflictError {
  const open = result.conflicts.filter((c) => c.resolution === null);
  const shown = open.slice(0, 5).map(describeConflict).join('; ');
  const more = open.length > 5 ? ` and ${open.length - 5} more` : '';
  return new ConflictError('merge_conflict', `${open.length} conflict(s) between ${result.branch} and ${result.into} since ${result.base}: ${shown}${more}; nothing was applied`, {
    hint: 'write them to a file with --conflicts <file>, set each "resolution" (ours, theirs, or the values), and run the same command again; or settle all with --strategy ours|theirs; --dry-run shows them all',
    details: { conflicts: result.conflicts },
  });
}

function schemaConflictError(result: MergeResult): ConflictError {
  const shown = result.schema_conflicts.map((c) => `${c.object} (ours: ${c.ours}, theirs: ${c.theirs}${c.reason ? `: ${c.reason}` : ''})`).join('; ');
  return new ConflictError('merge_schema_conflict', `${result.schema_conflicts.length} schema object(s) changed differently on ${result.branch} and ${result.into} since ${result.base}: ${shown}; nothing was applied`, {
    hint: `make the two alike by hand (on ${result.into}, or on ${result.branch}), then merge again; ayb branch diff ${result.branch} ${result.into} shows how they differ`,
    details: { schema_conflicts: result.schema_conflicts },
  });
}
