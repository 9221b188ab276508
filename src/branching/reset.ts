import { type CloneProgress, finishCopy } from '../clone/clone.js';
import type { StrategyChoice } from '../config/schema.js';
import { AybError, ConflictError, NotFoundError } from '../core/errors.js';
import { type Branch, type BranchRow, type CloneStrategy } from '../core/records.js';
import { parseRecordedSource } from '../copy/source-ref.js';
import { type Client, queryError, sqlState, SqlState, withTransaction } from '../postgres/client.js';
import { withDatabase } from '../postgres/conninfo.js';
import { refuseConnections } from '../postgres/connection-guard.js';
import { databaseExists, dropDatabase, terminateSessions } from '../postgres/maintenance.js';
import { quoteIdent } from '../postgres/quote.js';
import { addTempDatabases, findRow, removeTempDatabases, updateRow } from './control-table.js';
import { type BranchContext, noticeOf, withControl } from './context.js';
import { copyDatabase, type CopyOutcome } from './copy.js';
import { deleteBranch, missingBranchError } from './delete.js';
import { wrongKindError } from './errors.js';
import { getBranch } from './list.js';
import { lockSource, withBranchLocks } from './locks.js';
import { maskingFor } from './masking.js';
import { branchDatabaseName, MAX_NAME_LENGTH, newResetDatabaseNames, validateBranchName } from './names.js';
import { dropTempDatabases } from './recovery.js';
import { type ResolvedSource, resolveSource, strategyFor } from './source.js';

export interface ResetOptions {
  readonly name: string;
  /** `--to <snapshot>`: reset to that snapshot instead of the branch's source. */
  readonly to?: string;
  readonly strategy?: StrategyChoice;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: CloneProgress) => void;
}

export interface ResetResult {
  readonly branch: Branch;
  readonly strategy: CloneStrategy;
  /** What it was reset to: `main`, `branch "<name>"`, or the source database or URL. */
  readonly source: string;
}

/** What a reset copies, resolved, and how it is named to the user (`main`, `branch "<name>"`, a URL, `main@<time>`). */
interface ResetSource {
  readonly source: ResolvedSource;
  readonly label: string;
}

/**
 * Brings a branch back to its source's current state: same name, same database name, new contents.
 * The source is the parent branch for a branch of a branch, else the database (or URL) it was made
 * from. The copy goes into a temporary database through the same strategies as create; only once it
 * is complete are the two swapped, in one transaction, after ending the sessions on the branch. On
 * any failure or interrupt before that, the temporary database is dropped and the branch is left as
 * it was (still `ready`, still readable). The branch lock is held throughout, so a create, delete,
 * rename, expire or prune of this branch meanwhile gets a conflict.
 */
export async function resetBranch(ctx: BranchContext, options: ResetOptions): Promise<ResetResult> {
  const { name, signal } = options;
  validateBranchName(name);
  const database = branchDatabaseName(name);
  return withBranchLocks(ctx, [name], async (maint) => {
    const { row, source, label } = await withControl(ctx, async (client) => {
      const found = await findRow(client, name);
      if (!found) throw await missingBranchError(ctx, name);
      if (found.kind !== 'branch') {
        throw new ConflictError('snapshot_immutable', `"${name}" is a snapshot, and snapshots never change`, {
          hint: `to get a fresh copy of its source, take a new snapshot: ayb snapshot create <name> --of <source>`,
        });
      }
      if (found.status !== 'ready') {
        throw new ConflictError('branch_not_ready', `branch "${name}" is ${found.status}; only a ready branch can be reset`, {
          hint: `delete it with: ayb branch delete ${name} --yes --force, then create it again`,
        });
      }
      // Like a create from a branch: the parent's lock, shared, keeps it from being deleted, reset
      // or renamed during the copy. Released with the maintenance session at the end.
      const resolved = options.to !== undefined ? await snapshotSource(ctx, client, options.to) : await resetSource(ctx, client, found);
      const parent = resolved.source.parent;
      if (parent !== null) await lockSource(maint, parent);
      return { row: found, source: resolved.source, label: resolved.label };
    });
    if (source.sameServer && !(await databaseExists(maint, source.conn.database))) {
      throw sourceGone(row, `its source database "${source.conn.database}" no longer exists`);
    }
    const requested = options.strategy ?? ctx.config.branching.default_strategy;
    // A usage error (a snapshot by dump) is said before anything is written down.
    strategyFor(source, requested);
    // A masked branch stays masked: its fresh contents are masked before they are swapped in.
    const masking = await maskingFor(ctx, row.masked ? true : undefined);
    const job = await masking.plan(source);
    // What a reset of this branch that was killed left (written down before it was made).
    await withControl(ctx, (client) => dropTempDatabases(client, maint, row, (leftover) =>
      noticeOf(ctx)?.(`Removing "${leftover}", left by an earlier reset of "${name}" that was interrupted …`)));
    const names = newResetDatabaseNames();

    // Written down before they exist: should ayb die from here on, the next command drops them.
    await withControl(ctx, (client) => addTempDatabases(client, row.id, [names.fresh, names.old]));
    const forget = (databases: string[]) =>
      withControl(ctx, (client) => removeTempDatabases(client, row.id, databases)).catch(() => undefined);
    let copied: CopyOutcome;
    try {
      copied = await copyDatabase(ctx, maint, {
        source,
        target: names.fresh,
        requested,
        masking: job,
        deferAccess: true,
        signal,
        onProgress: options.onProgress,
        announce: (chosen) => `Resetting branch "${name}" to ${source.pointInTime ? '' : 'the current state of '}${label} (strategy: ${chosen}) …`,
      });
      // Closed to everyone but ayb until after the swap: a role granted on the branch holding a
      // session on the fresh copy would block its rename (test: non-superuser-copies).
      await swapIn(maint, ctx, database, names);
    } catch (error) {
      // 42P04: someone made a database of the fresh name meanwhile; it is not ours to drop.
      const ours = sqlState(error) !== SqlState.duplicateDatabase;
      const dropped = !ours || (await dropDatabase(maint, names.fresh).then(() => true, (dropError: unknown) => {
        ctx.log?.(`warning: could not drop the temporary database "${names.fresh}" (the next ayb command removes it): ${(dropError as Error).message}`);
        return false;
      }));
      if (dropped) await forget([names.fresh, names.old]);
      if (signal?.aborted && signal.reason instanceof AybError) throw signal.reason;
      throw queryError(error, source.conn.password ? source.conn : ctx.main);
    }
    // The branch has its new contents now; the old ones are garbage, whatever happens next.
    const droppedOld = await dropDatabase(maint, names.old).then(() => true, (error: unknown) => {
      ctx.log?.(`warning: could not drop the old contents "${names.old}" (the next ayb command removes it): ${(error as Error).message}`);
      return false;
    });
    await forget(droppedOld ? [names.fresh, names.old] : [names.fresh]);
    // The branch's grants, now that the fresh copy has its name (until now only ayb could reach it).
    await finishCopy(maint, database, copied.outcome.access, { log: ctx.log });
    const newBase = options.to ?? source.snapshot;
    await withControl(ctx, (client) =>
      updateRow(client, row.id, {
        strategy: copied.outcome.strategy,
        copy_method: copied.outcome.copyMethod,
        masked: masking.masked,
        masking: copied.verified ? { ...copied.verified } : null,
        // The merge base moves with the reset: a branch reset to a snapshot (--to, or the `<name>-base`
        // a --keep-base branch was made from) starts from that snapshot again, so its next merge brings
        // only what it changes from there (not the reset read as a revert of what an earlier merge brought).
        ...(newBase !== null ? { snapshot: newBase } : {}),
      }),
    );
    // The merge record the base was before the reset is no one's base any more.
    if (newBase !== null && row.snapshot !== null && row.snapshot !== newBase && isMergeRecord(row, row.snapshot)) {
      await deleteBranch(ctx, { name: row.snapshot, kind: 'snapshot' }).catch((error: unknown) =>
        ctx.log?.(`warning: could not delete the old merge record "${row.snapshot}": ${(error as Error).message}`));
    }
    return { branch: await getBranch(ctx, name), strategy: copied.outcome.strategy, source: label };
  });
}

/** A snapshot `<branch>-merged-<stamp>` that a merge of the branch froze (src/branching/merge.ts freezeBranch). */
function isMergeRecord(row: BranchRow, snapshot: string): boolean {
  return snapshot.startsWith(`${row.name.slice(0, MAX_NAME_LENGTH - 22)}-merged-`);
}

function sourceGone(row: BranchRow, why: string): NotFoundError {
  return new NotFoundError('source_not_found', `cannot reset branch "${row.name}": ${why}`, {
    hint: `the branch is unchanged; to start it afresh from main: ayb branch delete ${row.name} --yes && ayb branch create ${row.name}`,
  });
}

/** What a branch was made from, now: its parent branch or snapshot, main (now or at its moment), another database, or a URL. */
async function resetSource(ctx: BranchContext, client: Client, row: BranchRow): Promise<ResetSource> {
  if (row.parent !== null) {
    const parent = await findRow(client, row.parent);
    if (!parent) throw sourceGone(row, `it was made from ${row.snapshot === row.parent ? 'snapshot' : 'branch'} "${row.parent}", which no longer exists`);
    if (parent.status !== 'ready') {
      throw new ConflictError('source_not_ready', `cannot reset branch "${row.name}": its parent ${parent.kind} "${parent.name}" is ${parent.status}`, {
        hint: `check the parent with: ayb ${parent.kind} show ${parent.name}`,
      });
    }
    return { source: recordAsSource(ctx, parent), label: `${parent.kind} "${parent.name}"` };
  }
  const recorded = parseRecordedSource(row.source_database, ctx.main.database);
  if (recorded.kind === 'database') {
    const source = { conn: withDatabase(ctx.main, recorded.database), sameServer: true, label: recorded.database, parent: null, snapshot: null, masked: false };
    return { source, label: recorded.database };
  }
  // A URL is logged in with its own credentials (recorded without its password: urlSource says
  // where it comes from); main@<time> resets to that moment (still in the window, or exit 3).
  const label = recorded.kind === 'main' ? 'main' : recorded.kind === 'url' ? row.source_database : recorded.at.label;
  return { source: await resolveSource(ctx, client, recorded), label };
}

/** A ready branch or snapshot of the control table, as the source of a copy. */
function recordAsSource(ctx: BranchContext, record: BranchRow): ResolvedSource {
  return {
    conn: withDatabase(ctx.main, record.branch_database),
    sameServer: true,
    label: record.branch_database,
    parent: record.name,
    snapshot: record.kind === 'snapshot' ? record.name : null,
    masked: record.masked,
  };
}

/** `reset --to <snapshot>`: a ready snapshot. */
async function snapshotSource(ctx: BranchContext, client: Client, name: string): Promise<ResetSource> {
  validateBranchName(name);
  const snapshot = await findRow(client, name);
  if (!snapshot) {
    throw new NotFoundError('snapshot_not_found', `snapshot "${name}" does not exist`, { hint: 'list snapshots with: ayb snapshot list' });
  }
  if (snapshot.kind !== 'snapshot') throw wrongKindError(snapshot, 'snapshot');
  if (snapshot.status !== 'ready') {
    throw new ConflictError('source_not_ready', `snapshot "${name}" is not ready (status: ${snapshot.status})`, {
      hint: `check it with: ayb snapshot show ${name}`,
    });
  }
  return { source: recordAsSource(ctx, snapshot), label: `snapshot "${name}"` };
}

/**
 * Puts the fresh copy in the branch's place. New connections to the branch are refused first and its
 * sessions ended (a rename needs none), then both renames happen in one transaction: either the
 * branch database is the fresh copy, or nothing changed and connections are allowed again.
 */
async function swapIn(maint: Client, ctx: BranchContext, database: string, names: { fresh: string; old: string }): Promise<void> {
  // A branch whose database someone dropped by hand simply gets the fresh copy; so does one whose
  // database an interrupted DROP left invalid (PostgreSQL refuses to alter or rename it, and nobody
  // can connect to it: its contents are lost already), once that is dropped.
  const { rows: invalid } = await maint.query<{ invalid: boolean }>('SELECT datconnlimit = -2 AS invalid FROM pg_database WHERE datname = $1', [database]);
  if (invalid[0]?.invalid) await dropDatabase(maint, database);
  const exists = await databaseExists(maint, database);
  // Should ayb die before the swap, its guard allows connections to the branch again; after it, the
  // branch's name is the fresh copy, which never refused any.
  const refusal = exists ? await refuseConnections(maint, ctx.main, database, [database], ctx.log) : undefined;
  let swapped = false;
  try {
    if (exists) await terminateSessions(maint, database);
    await withTransaction(maint, async () => {
      if (exists) await maint.query(`ALTER DATABASE ${quoteIdent(database)} RENAME TO ${quoteIdent(names.old)}`);
      await maint.query(`ALTER DATABASE ${quoteIdent(names.fresh)} RENAME TO ${quoteIdent(database)}`);
    });
    swapped = true;
  } finally {
    await refusal?.end(swapped ? undefined : database);
  }
}
