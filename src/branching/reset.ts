import { chooseStrategy, cloneDatabase, type CloneOutcome, type CloneProgress, type CloneSource, finishCopy } from '../clone/clone.js';
import type { StrategyChoice } from '../config/schema.js';
import { AybError, ConflictError, NotFoundError, UsageError } from '../core/errors.js';
import { type Client, queryError, sqlState, SqlState, withTransaction } from '../postgres/client.js';
import { withDatabase } from '../postgres/conninfo.js';
import { refuseConnections } from '../postgres/connection-guard.js';
import { databaseExists, dropDatabase, terminateSessions, tryLockBranchShared } from '../postgres/maintenance.js';
import { quoteIdent } from '../postgres/quote.js';
import type { BranchRow, CloneStrategy } from '../core/records.js';
import { addTempDatabases, findRow, removeTempDatabases, updateRow } from './control-table.js';
import { parentBusyError, withBranchLocks } from './locks.js';
import { branchDatabaseName, lockKey, newResetDatabaseNames, validateBranchName } from './names.js';
import { wrongKindError } from './errors.js';
import { controlTableIn } from './create.js';
import { type BranchContext, noticeOf, releaseControl, withControl } from './context.js';
import { missingBranchError } from './delete.js';
import { dropTempDatabases } from './recovery.js';
import type { Verification } from '../masking/verify.js';
import { maskingJob, maskingSecret, wantsMasking } from './masking.js';
import { getBranch } from './list.js';
import { looksLikeUrl, urlSource } from './source.js';
import { type Branch } from '../core/records.js';
import { isPointInTime, parsePointInTime, type PointInTime } from '../history/point-in-time.js';
import { withClusterAt } from '../history/restore.js';
import type { OpenedContext } from './context.js';
import { historyOf } from './point-in-time.js';

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

interface ResetSource extends CloneSource {
  readonly label: string;
  /** The snapshot copied, if it is one (always by template: nobody connects to a snapshot). */
  readonly snapshot: string | null;
  /** The record whose lock the copy holds shared. */
  readonly lock: string | null;
  /** A masked branch or snapshot: its copy is masked already. */
  readonly masked: boolean;
  /** A branch made of main at a moment (`main@<time>`): reset to that moment again, restored from history. */
  readonly pointInTime?: PointInTime;
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
  return withBranchLocks(ctx, [{ name, database }], async (maint) => {
    const { row, source } = await withControl(ctx, async (client) => {
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
      if (resolved.lock !== null && !(await tryLockBranchShared(maint, lockKey(resolved.lock)))) {
        throw parentBusyError(resolved.lock);
      }
      return { row: found, source: resolved };
    });
    if (source.sameServer && !(await databaseExists(maint, source.conn.database))) {
      throw sourceGone(row, `its source database "${source.conn.database}" no longer exists`);
    }
    // What a reset of this branch that was killed left (written down before it was made).
    await withControl(ctx, (client) => dropTempDatabases(client, maint, row, (leftover) =>
      noticeOf(ctx)?.(`Removing "${leftover}", left by an earlier reset of "${name}" that was interrupted …`)));
    const names = newResetDatabaseNames();

    const requested = options.strategy ?? ctx.config.branching.default_strategy;
    if (source.snapshot !== null && requested === 'dump') {
      throw new UsageError(`snapshot "${source.snapshot}" is copied with the template strategy only (nobody connects to a snapshot)`, {
        hint: 'drop --strategy dump',
      });
    }
    // A copy of main needs main to itself: this command's own session on it goes first.
    const copiesMain = source.sameServer && source.conn.database === ctx.main.database;
    if (copiesMain) await releaseControl(ctx);
    const chosen = await chooseStrategy(maint, source, source.snapshot !== null ? 'template' : requested);
    // A masked branch stays masked: its fresh contents are masked before they are swapped in.
    const masked = wantsMasking(ctx, row.masked);
    const masking = masked ? await maskingJob(ctx, await maskingSecret(ctx), source) : undefined;
    ctx.log?.(`Resetting branch "${name}" to ${source.pointInTime ? '' : 'the current state of '}${source.label} (strategy: ${chosen}) …`);
    // Written down before they exist: should ayb die from here on, the next command drops them.
    await withControl(ctx, (client) => addTempDatabases(client, row.id, [names.fresh, names.old]));
    const forget = (databases: string[]) =>
      withControl(ctx, (client) => removeTempDatabases(client, row.id, databases)).catch(() => undefined);
    let outcome: CloneOutcome;
    let verified: Verification | undefined;
    const copyFrom = (from: ResetSource) => cloneDatabase({
        main: ctx.main,
        config: ctx.config,
        maint,
        source: from,
        target: names.fresh,
        strategy: chosen,
        excludeTables: controlTableIn(source.lock !== null),
        signal,
        onProgress: options.onProgress,
        fallbackToDump: requested === 'auto' && source.snapshot === null,
        rewriteDump: masking?.rewriteDump,
        log: ctx.log,
      });
    try {
      signal?.throwIfAborted();
      if (copiesMain) await releaseControl(ctx);
      const at = source.pointInTime;
      // main@<time>: main restored to that moment in a temporary cluster, copied as a create does.
      outcome = at
        ? await withClusterAt(historyOf(ctx as OpenedContext), ctx.main, at, ({ conn }) => copyFrom({ ...source, conn }), { signal, log: ctx.log })
        : await copyFrom(source);
      verified = await masking?.afterCopy(withDatabase(ctx.main, names.fresh));
      signal?.throwIfAborted();
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
    await finishCopy(maint, database, outcome.access, { log: ctx.log });
    await withControl(ctx, (client) =>
      updateRow(client, row.id, {
        strategy: outcome.strategy,
        copy_method: outcome.copyMethod,
        masked,
        masking: verified ? { ...verified } : null,
        ...(options.to !== undefined ? { snapshot: options.to } : {}),
      }),
    );
    return { branch: await getBranch(ctx, name), strategy: outcome.strategy, source: source.label };
  });
}

function sourceGone(row: BranchRow, why: string): NotFoundError {
  return new NotFoundError('source_not_found', `cannot reset branch "${row.name}": ${why}`, {
    hint: `the branch is unchanged; to start it afresh from main: ayb branch delete ${row.name} --yes && ayb branch create ${row.name}`,
  });
}

/** What a branch was made from, now: its parent branch, the main database, another database, or a URL. */
async function resetSource(ctx: BranchContext, client: Client, row: BranchRow): Promise<ResetSource> {
  if (row.parent !== null) {
    const parent = await findRow(client, row.parent);
    if (!parent) throw sourceGone(row, `it was made from ${row.snapshot === row.parent ? 'snapshot' : 'branch'} "${row.parent}", which no longer exists`);
    if (parent.status !== 'ready') {
      throw new ConflictError('source_not_ready', `cannot reset branch "${row.name}": its parent ${parent.kind} "${parent.name}" is ${parent.status}`, {
        hint: `check the parent with: ayb ${parent.kind} show ${parent.name}`,
      });
    }
    return {
      conn: withDatabase(ctx.main, parent.branch_database),
      sameServer: true,
      label: `${parent.kind} "${parent.name}"`,
      snapshot: parent.kind === 'snapshot' ? parent.name : null,
      lock: parent.name,
      masked: parent.masked,
    };
  }
  if (looksLikeUrl(row.source_database)) {
    // The URL was recorded without its password (urlSource says where it comes from).
    const { conn, sameServer } = await urlSource(ctx, client, row.source_database);
    return { conn, sameServer, label: row.source_database, snapshot: null, lock: null, masked: false };
  }
  if (isPointInTime(row.source_database)) {
    // The moment, not "now": a branch of main@<time> resets to main as it was then (still in the window, or exit 3).
    const at = parsePointInTime(row.source_database);
    return { conn: ctx.main, sameServer: false, sameRoles: true, label: at.label, snapshot: null, lock: null, masked: false, pointInTime: at };
  }
  const label = row.source_database === ctx.main.database ? 'main' : row.source_database;
  return { conn: withDatabase(ctx.main, row.source_database), sameServer: true, label, snapshot: null, lock: null, masked: false };
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
  return { conn: withDatabase(ctx.main, snapshot.branch_database), sameServer: true, label: `snapshot "${name}"`, snapshot: name, lock: name, masked: snapshot.masked };
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
