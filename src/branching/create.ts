import os from 'node:os';
import type { CloneProgress } from '../clone/clone.js';
import type { StrategyChoice } from '../config/schema.js';
import { setTimeout as delay } from 'node:timers/promises';
import { formatDuration, parseDuration, ttlExpiry } from '../core/duration.js';
import { AybError, ConflictError } from '../core/errors.js';
import { type Branch, type BranchRow, type CloneStrategy, type RecordKind } from '../core/records.js';
import { type Client, queryError, sqlState, SqlState } from '../postgres/client.js';
import { scrubSecret } from '../postgres/conninfo.js';
import { connectMaintenance, databaseExists, dropDatabase } from '../postgres/maintenance.js';
import { MAIN_SOURCE, type SourceRef } from '../copy/source-ref.js';
import { checkInWindow } from '../history/restore.js';
import { type BranchContext, maintenanceAfterRecovery, noticeOf, type OpenedContext, withControl } from './context.js';
import { copyDatabase } from './copy.js';
import { deleteRow, findRow, findRowByNameOrDatabase, insertCreatingRow, insertCreatingRowIfFree, type NewRow, updateRow } from './control-table.js';
import { existsError } from './errors.js';
import { dropRecordDatabases } from './recovery.js';
import { type MaskingDecision, maskingFor } from './masking.js';
import type { MaskingJob } from '../masking/prepare.js';
import { historyOf } from './point-in-time.js';
import { getBranch, withSizes } from './list.js';
import { branchBusyError, ifLockFree, lockSource, tryLock, unlock, unlockSource, waitForLock } from './locks.js';
import { databaseNameFor, validateBranchName } from './names.js';
import { type ResolvedSource, resolveSource, strategyFor } from './source.js';

export interface CreateOptions {
  readonly name: string;
  /** A branch (default) or a snapshot: `ayb_snap_<name>`, refusing connections once made. */
  readonly kind?: RecordKind;
  /**
   * What it copies (default main), parsed at the edge (copy/source-ref.ts). `main@<time>` is
   * restored into a temporary cluster only once the name is checked and reserved (copyDatabase).
   */
  readonly source?: SourceRef;
  readonly strategy?: StrategyChoice;
  readonly ifNotExists?: boolean;
  /** When the branch expires; `null` never; undefined applies `[branching] default_ttl`. */
  readonly expiresAt?: Date | null;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: CloneProgress) => void;
  /** `--disconnect`: end the source's sessions for a template copy (local development); see clone/template.ts. */
  readonly disconnect?: boolean;
  /** `--masked`: apply the masking rules before the copy is ready (always, with `[masking] required`). */
  readonly masked?: boolean;
}

export interface CreateResult {
  readonly branch: Branch;
  /** False when `ifNotExists` found the branch already there. */
  readonly created: boolean;
}

/**
 * Creates a branch. Guarantees: on any failure (bad source, pg_dump/psql error, lost connection,
 * full disk, abort by SIGINT/SIGTERM) no partial database is left and the row says `failed` with a
 * message free of passwords; when the server itself is gone for longer than `[branching]
 * reconnect_timeout`, the error says so and the next command does that cleanup (as it does after a
 * kill -9). Two concurrent creates of one name: one wins, the other gets a conflict.
 */
export async function createBranch(ctx: BranchContext, options: CreateOptions): Promise<CreateResult> {
  const { name, signal } = options;
  const kind = options.kind ?? 'branch';
  validateBranchName(name);
  const branchDatabase = databaseNameFor(kind, name);
  const ref = options.source ?? MAIN_SOURCE;
  // Said before anything is restored or recorded: a moment outside the history's window.
  if (ref.kind === 'point-in-time') await checkInWindow(historyOf(ctx as OpenedContext), ref.at);
  // No rules or no secret: said before anything is recorded or copied.
  const masking = await maskingFor(ctx, options.masked);
  const masked = masking.masked;
  const requested = options.strategy ?? ctx.config.branching.default_strategy;

  const maint = await maintenanceAfterRecovery(ctx);
  let locked = false;
  let parent: string | undefined;
  try {
    // The lock says "someone is working on this database name" to every other ayb process.
    locked = await tryLock(maint, { record: name });
    if (!locked) {
      const existing = await withControl(ctx, (c) => findRow(c, name));
      if (existing?.status === 'ready' && existing.kind === kind && options.ifNotExists) {
        return { branch: await getBranch(ctx, name, kind, { sizes: false }), created: false };
      }
      if (options.ifNotExists) {
        // A re-run CI job racing the first one: wait for that create, then take its result.
        ctx.log?.(`${capitalised(kind)} "${name}" is being created by another ayb process; waiting for it …`);
        locked = await waitForLock(ctx, maint, { record: name }, signal);
      }
    }
    if (!locked) {
      throw branchBusyError(name);
    }
    // A branch made from a branch holds the parent's lock shared until it is done, so the parent
    // cannot be deleted, reset or renamed under the copy (nor leave this branch an orphan).
    if (ref.kind === 'record') {
      validateBranchName(ref.name);
      await lockSource(maint, ref.name);
      parent = ref.name;
    }

    // Asked under the lock, on the maintenance session (while main may still be connecting): a
    // database of the name that no record owns is never recorded as this create's.
    const databaseThere = await databaseExists(maint, branchDatabase);
    const claim = await withControl(ctx, (client) => reserve(ctx, client, maint, { ...options, kind, ref, masking, branchDatabase, databaseThere }));
    if (!('row' in claim)) return { branch: await getBranch(ctx, name, kind, { sizes: false }), created: false };

    const { row, source, job } = claim;
    let strategy: CloneStrategy | null = null;
    let madeDatabase = false;
    try {
      const { outcome, verified } = await copyDatabase(ctx, maint, {
        source,
        target: branchDatabase,
        requested,
        masking: job,
        seal: kind === 'snapshot',
        disconnect: options.disconnect,
        signal,
        onProgress: options.onProgress,
        announce: (chosen) => `Creating ${masked ? 'masked ' : ''}${kind} "${name}" from ${source.parent ?? (source.label === ctx.main.database ? 'main' : source.label)} (strategy: ${chosen}) …`,
        onStart: (chosen) => {
          strategy = chosen;
          madeDatabase = true;
        },
      });
      strategy = outcome.strategy;
      const [branch] = await withControl(ctx, async (client) => {
        const ready = (await updateRow(client, row.id, { status: 'ready', strategy, copy_method: outcome.copyMethod, error_message: null, ...(verified ? { masking: { ...verified } } : {}) }))!;
        // Its database was just made (nothing to check); a source that is a branch or snapshot is named as the user knows it.
        return ready.source_database.startsWith('ayb_') ? withSizes(client, [ready]) : [ready];
      });
      return { branch: branch!, created: true };
    } catch (error) {
      const failure = signal?.aborted && signal.reason instanceof AybError ? signal.reason : asAybError(error, ctx, source);
      if (madeDatabase && sqlState(error) === SqlState.duplicateDatabase) {
        // Someone made a database of this name between the check and the copy: not ours, so it is
        // neither dropped nor left on a record (a later create, delete or recovery would drop it).
        await withControl(ctx, (client) => deleteRow(client, row.id)).catch(() => undefined);
        throw foreignDatabaseError(branchDatabase, kind);
      }
      if (source.pointInTime && !madeDatabase) {
        // The source could not be made (restore, replay, Ctrl-C): nothing was copied, so nothing is
        // recorded, as when a named source does not resolve.
        const forgotten = await withControl(ctx, (client) => deleteRow(client, row.id)).then(() => true, () => false);
        if (forgotten) throw failure;
      }
      const cleanup = await cleanUpFailedCreate(ctx, maint, row, madeDatabase, strategy, failure);
      throw withCleanupNote(failure, row, madeDatabase, cleanup);
    }
  } finally {
    if (parent) await unlockSource(maint, parent).catch(() => undefined);
    if (locked) await unlock(maint, { record: name }).catch(() => undefined);
    await maint.end().catch(() => undefined);
  }
}

type Claim = { readonly existing: true } | { readonly row: BranchRow; readonly source: ResolvedSource; readonly job: MaskingJob | undefined };

/**
 * Resolves the source, plans the masking and records the new copy as `creating`, all before
 * anything is copied; replaces a failed (or interrupted) record of the name. Holds the name's lock.
 */
async function reserve(
  ctx: BranchContext,
  client: Client,
  maint: Client,
  options: CreateOptions & { readonly kind: RecordKind; readonly ref: SourceRef; readonly masking: MaskingDecision; readonly branchDatabase: string; readonly databaseThere: boolean },
): Promise<Claim> {
  const { name, kind, branchDatabase, masking, databaseThere } = options;
  const source = await resolveSource(ctx, client, options.ref);
  // A usage error about the source is said before anything is recorded.
  strategyFor(source, options.strategy ?? ctx.config.branching.default_strategy);
  // Planned before anything is recorded or copied: a rule that cannot apply, or a column that
  // can hold text and is neither masked nor kept, refuses the copy here.
  const job = await masking.plan(source);
  const newRow: NewRow = {
    name,
    kind,
    source_database: source.label,
    branch_database: branchDatabase,
    strategy: null,
    // A snapshot stands on its own: deleting the branch it was taken of leaves it alone.
    parent: kind === 'snapshot' ? null : source.parent,
    snapshot: kind === 'snapshot' ? null : source.snapshot,
    expires_at: options.expiresAt !== undefined ? options.expiresAt : ttlExpiry(ctx.config.branching.default_ttl, '[branching] default_ttl'),
    // A copy of a masked branch or snapshot is masked already, asked for or not.
    masked: masking.masked || source.masked,
  };
  // The usual case in one round trip: no database and no record of the name yet.
  const inserted = databaseThere ? undefined : await insertCreatingRowIfFree(client, newRow, os.hostname());
  if (inserted) return { row: inserted, source, job };
  const existing = await findRowByNameOrDatabase(client, name, branchDatabase);
  if (existing) {
    if (existing.status === 'ready' && existing.name === name && existing.kind === kind && options.ifNotExists) return { existing: true };
    // Holding the name's lock, a `creating` or `deleting` row of it is one whose process is gone.
    const interrupted = existing.status === 'creating' || existing.status === 'deleting';
    if ((existing.status !== 'failed' && !interrupted) || existing.name !== name || existing.kind !== kind) throw existsError(existing, name, kind);
    if (interrupted) noticeOf(ctx)?.(`Removing what the interrupted ${existing.status === 'creating' ? 'create' : 'delete'} of ${kind} "${name}" left …`);
    // A failed row is replaced; its database should be gone, but make sure (it is registered).
    await dropRecordDatabases(client, maint, existing);
    await deleteRow(client, existing.id);
  }
  if (existing ? await databaseExists(maint, branchDatabase) : databaseThere) throw foreignDatabaseError(branchDatabase, kind);
  const row = await insertCreatingRow(client, newRow, os.hostname());
  return { row, source, job };
}

function asAybError(error: unknown, ctx: BranchContext, source: ResolvedSource): AybError {
  if (error instanceof AybError) return error;
  return queryError(error, source.conn.password ? source.conn : ctx.main);
}

function foreignDatabaseError(branchDatabase: string, kind: RecordKind): ConflictError {
  return new ConflictError('database_exists', `database "${branchDatabase}" already exists but was not created by ayb`, {
    hint: `ayb never drops a database it did not create; choose another ${kind} name, or drop that database yourself`,
  });
}

type Cleanup = { readonly done: true; readonly elsewhere?: true } | { readonly done: false; readonly why: string };

/**
 * Drops what a failed create made and marks the row failed. The maintenance session may be the
 * thing that failed (the server ended it, restarted, or stopped), so on error this tries again on
 * fresh sessions until the server answers, for at most `[branching] reconnect_timeout`; should it
 * not, the row stays `creating` with its lock free, and the next command finishes the job
 * (recovery.ts). Says which of the two happened, never more.
 */
async function cleanUpFailedCreate(
  ctx: BranchContext,
  maint: Client,
  row: BranchRow,
  madeDatabase: boolean,
  strategy: CloneStrategy | null,
  failure: AybError,
): Promise<Cleanup> {
  const message = scrubSecret(failure.message, ctx.main);
  const cleanUp = async (session: Client) => {
    if (madeDatabase) await dropDatabase(session, row.branch_database);
    await withControl(ctx, (client) => updateRow(client, row.id, { status: 'failed', strategy, error_message: message }));
  };
  try {
    await cleanUp(maint);
    return { done: true };
  } catch {
    // Retried below on new sessions.
  }
  // The branch lock lives in `maint`. Once that session is gone, the next command (of any ayb
  // process) takes this create for an interrupted one, finishes it, and the name may be created
  // anew: so a fresh session takes the lock again and touches the record only while it is still
  // this create's, never a database another process has made of the name since.
  const stillOurs = () => withControl(ctx, async (client) => {
    const current = await findRow(client, row.name);
    return current?.id === row.id && current.status === 'creating';
  });
  const cleanUpOnFresh = async (fresh: Client): Promise<Cleanup> => {
    const done = await ifLockFree(fresh, { record: row.name }, async (): Promise<Cleanup> => {
      if (!(await stillOurs())) return { done: true, elsewhere: true };
      await cleanUp(fresh);
      return { done: true };
    });
    if (done) return done;
    if (!(await stillOurs())) return { done: true, elsewhere: true };
    throw new Error(`the lock of ${row.kind} "${row.name}" is held by another session`);
  };
  const maintAlive = () => maint.query('SELECT 1').then(() => true, () => false);
  const timeoutMs = parseDuration(ctx.config.branching.reconnect_timeout, '[branching] reconnect_timeout');
  const deadline = Date.now() + timeoutMs;
  let announced = false;
  for (;;) {
    try {
      // Still alive, `maint` still holds the lock: the failure was elsewhere (the control table).
      if (await maintAlive()) {
        await cleanUp(maint);
        return { done: true };
      }
      const fresh = await connectMaintenance(ctx.main);
      try {
        return await cleanUpOnFresh(fresh);
      } finally {
        await fresh.end().catch(() => undefined);
      }
    } catch (error) {
      if (Date.now() >= deadline) return { done: false, why: scrubSecret((error as Error).message, ctx.main) };
      if (!announced) {
        announced = true;
        ctx.log?.(`Could not remove the partial ${row.kind} yet (${scrubSecret((error as Error).message, ctx.main)}); trying again for up to ${formatDuration(timeoutMs)} (the server may be restarting) …`);
      }
      await delay(Math.min(500, Math.max(0, deadline - Date.now())));
    }
  }
}

/** The failure, its hint saying truly what is left of the branch (in `--json` too: `cleanup`). */
function withCleanupNote(failure: AybError, row: BranchRow, madeDatabase: boolean, cleanup: Cleanup): AybError {
  if (cleanup.done && !madeDatabase) return failure;
  const note = cleanup.done
    ? cleanup.elsewhere
      ? `another ayb process found this create interrupted (its session on the server was ended) and removed the partial database`
      : `the partial database was removed and the ${row.kind} marked failed`
    : `ayb could not reach the server to remove the partial ${row.kind} (${cleanup.why}): the next ayb command run against this server removes "${row.branch_database}" and marks it failed`;
  return new AybError(failure.code, failure.exitCode, failure.message, {
    hint: failure.hint ? `${failure.hint}; ${note}` : note,
    cause: failure.cause,
    details: { ...failure.details, cleanup: cleanup.done ? 'done' : 'pending' },
  });
}

function capitalised(kind: RecordKind): string {
  return kind === 'snapshot' ? 'Snapshot' : 'Branch';
}
