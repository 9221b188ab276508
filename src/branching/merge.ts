import { ConflictError, UsageError } from '../core/errors.js';
import { type BranchRow, CONTROL_TABLE_SQL } from '../core/records.js';
import { readCatalog } from '../datadiff/catalog.js';
import { type DataMergePlan, type MergeConflict, type MergeStrategy, planDataMerge, type TableMerge } from '../datadiff/merge.js';
import { withSides } from '../datadiff/data-diff.js';
import { pinValueSettings } from '../postgres/value-settings.js';
import { connect, queryError } from '../postgres/client.js';
import { compareSchemas } from '../schema/compare.js';
import { needsManualSteps, renderMigration } from '../schema/sql.js';
import { type BranchContext, branchConn, withControl } from './context.js';
import { findRow, findRowByDatabase } from './control-table.js';
import { notFound, wrongKindError } from './errors.js';
import { resolveDatabase } from './list.js';
import { withBranchLocks } from './locks.js';
import { lockKey, validateBranchName } from './names.js';
import { withSnapshotView } from './snapshot-view.js';

export type { MergeConflict, MergeStrategy, TableMerge };

export interface MergeOptions {
  /** The branch whose changes are brought home. */
  readonly branch: string;
  /** Where they go: main or a branch; default: what the base snapshot was taken of, else the branch's parent, else main. */
  readonly into?: string;
  /** The snapshot the branch started from; default: the snapshot the branch was made from (`branch create --keep-base`). */
  readonly base?: string;
  readonly strategy?: MergeStrategy;
  readonly dryRun?: boolean;
}

export interface MergeResult {
  readonly branch: string;
  readonly into: string;
  readonly base: string;
  readonly strategy: MergeStrategy;
  readonly dry_run: boolean;
  /** True when the target was changed (not a dry run, and no conflict under `fail`). */
  readonly applied: boolean;
  readonly schema_statements: number;
  readonly tables: readonly TableMerge[];
  readonly conflicts: readonly MergeConflict[];
  /** The schema migration and the DML, as run on the target. */
  readonly sql: string;
}

/**
 * `ayb branch merge`: a three-way merge of what `branch` changed since its base into the target.
 * First the schema (the schema diff's migration base → branch), then the rows the branch changed
 * since the base; a row the target changed differently too is a conflict. Everything runs in one
 * REPEATABLE READ transaction on the target: on a conflict under `fail`, an error, a concurrent
 * write to the same rows, an interrupt or a dry run, it rolls back and the target is untouched.
 *
 * Reading the base: a snapshot refuses connections, and stays so. The merge reads a throwaway copy
 * of it (withSnapshotView: `ayb_view_…`, copy-on-write where the server can), dropped afterwards, rather than letting connections into the snapshot for a while: should ayb die in
 * between, a leftover copy costs disk, whereas a snapshot left open could be changed unseen.
 */
export async function mergeBranch(ctx: BranchContext, options: MergeOptions): Promise<MergeResult> {
  const strategy = options.strategy ?? 'fail';
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

  // The base is held shared by its copy (withSnapshotView); the branch and the target exclusively.
  const locks = [branch.name, ...(into === 'main' ? [] : [into])].map((name) => ({ name, database: lockKey(name) }));
  return withSnapshotView(ctx, base, (baseCopy) => withBranchLocks(ctx, locks, async () => {
    const baseConn = branchConn(ctx, baseCopy);
    const schema = await compareSchemas(baseConn, branchConn(ctx, source.database));
    const migration = schema.migration();
    if (needsManualSteps(migration)) {
      throw new ConflictError('merge_needs_manual_schema_steps', `the schema changes of branch "${branch.name}" include steps ayb cannot write`, {
        hint: `see the "-- manual:" comments of: ayb branch diff ${branch.name} --output sql; apply those by hand, then merge again`,
      });
    }
    const schemaSql = migration.length > 0 ? renderMigration(migration, `schema changes of ${branch.name} since ${base.name}`) : '';
    ctx.log?.(`Merging ${branch.name} into ${into} (base: ${base.name}, strategy: ${strategy}${options.dryRun ? ', dry run' : ''}) …`);
    const plan = await mergeInTransaction(ctx, target.database, baseConn, source.database, schemaSql, strategy, options.dryRun === true);
    const applied = !options.dryRun && !(strategy === 'fail' && plan.conflicts.length > 0);
    const result: MergeResult = {
      branch: branch.name,
      into,
      base: base.name,
      strategy,
      dry_run: options.dryRun === true,
      applied,
      schema_statements: migration.length,
      tables: plan.tables,
      conflicts: plan.conflicts,
      sql: `${schemaSql}${schemaSql ? '\n' : ''}${plan.sql}`,
    };
    if (strategy === 'fail' && plan.conflicts.length > 0 && !options.dryRun) throw conflictError(result);
    return result;
  }));
}

/** Runs the schema migration and plans the rows inside one transaction on the target; commits only a real merge without blocking conflicts. */
async function mergeInTransaction(ctx: BranchContext, targetDb: string, baseConn: ReturnType<typeof branchConn>, sourceDb: string, schemaSql: string, strategy: MergeStrategy, dryRun: boolean): Promise<DataMergePlan> {
  const targetConn = branchConn(ctx, targetDb);
  return withSides(baseConn, branchConn(ctx, sourceDb), [CONTROL_TABLE_SQL], async (base, theirs) => {
    const client = await connect(targetConn);
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      if (schemaSql) await client.query(schemaSql);
      // Read the target's rows in the same settings as the base's and the branch's (withSides pins them).
      await pinValueSettings(client, { local: true });
      const ours = { client, catalog: await readCatalog(client, [CONTROL_TABLE_SQL]) };
      const plan = await planDataMerge(base, theirs, ours, strategy);
      if (dryRun || (strategy === 'fail' && plan.conflicts.length > 0)) {
        await client.query('ROLLBACK');
        return plan;
      }
      await client.query(plan.sql);
      await client.query('COMMIT');
      return plan;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw queryError(error, targetConn);
    } finally {
      await client.end().catch(() => undefined);
    }
  });
}

/** What the base snapshot was taken of (main or a branch), else the branch's parent, else main. */
async function defaultTarget(ctx: BranchContext, client: Parameters<typeof findRow>[0], branch: BranchRow, base: BranchRow): Promise<string> {
  if (base.source_database === ctx.main.database) return 'main';
  const of = await findRowByDatabase(client, base.source_database);
  if (of?.kind === 'branch') return of.name;
  if (branch.parent && branch.parent !== base.name) return branch.parent;
  return 'main';
}

function conflictError(result: MergeResult): ConflictError {
  const shown = result.conflicts.slice(0, 5).map((c) => `${c.table} ${JSON.stringify(c.key)}`).join('; ');
  const more = result.conflicts.length > 5 ? ` and ${result.conflicts.length - 5} more` : '';
  return new ConflictError('merge_conflict', `${result.conflicts.length} row(s) changed differently on ${result.branch} and ${result.into} since ${result.base}: ${shown}${more}; nothing was applied`, {
    hint: `keep the target's rows with --strategy ours, take the branch's with --strategy theirs, or see them all with --dry-run`,
    details: { conflicts: result.conflicts },
  });
}

