import os from 'node:os';
import { chooseStrategy, cloneDatabase, type CloneProgress, type CloneSource } from '../clone/clone.js';
import type { AybConfig, StrategyChoice } from '../config/schema.js';
import { AybError, ConflictError, NotFoundError } from '../output/errors.js';
import { type Client, queryError, withClient } from '../postgres/client.js';
import { type ConnInfo, formatConnInfo, parseConnInfo, scrubSecret, withDatabase } from '../postgres/conninfo.js';
import {
  cancelOnAbort,
  connectMaintenance,
  databaseExists,
  dropDatabase,
  lockBranch,
  servedByAybStart,
  tryLockBranch,
  tryLockBranchShared,
  unlockBranch,
  unlockBranchShared,
} from '../postgres/maintenance.js';
import {
  type BranchRow,
  type CloneStrategy,
  CONTROL_TABLE_SQL,
  deleteRow,
  ensureControlTable,
  findRow,
  findRowByDatabase,
  insertCreatingRow,
  listRows,
  updateRow,
} from './control-table.js';
import { ttlExpiry } from './duration.js';
import { branchBusyError, parentBusyError } from './locks.js';
import { branchDatabaseName, resetDatabaseNames, validateBranchName } from './names.js';
import { descendantsDeepestFirst } from './tree.js';

/** Everything the domain needs: the main database and the validated config. No CLI types here. */
export interface BranchContext {
  readonly main: ConnInfo;
  readonly config: AybConfig;
  /** Log lines (stderr in the CLI). */
  readonly log?: (line: string) => void;
}

export interface Branch extends BranchRow {
  /** Bytes on disk of the branch database, when it exists. */
  readonly size_bytes?: number;
}

export interface CreateOptions {
  readonly name: string;
  /** `main` (default), a branch name, or a connection URL. */
  readonly from?: string;
  readonly strategy?: StrategyChoice;
  readonly ifNotExists?: boolean;
  /** When the branch expires; `null` never; undefined applies `[branching] default_ttl`. */
  readonly expiresAt?: Date | null;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: CloneProgress) => void;
  /** `--disconnect`: end the source's sessions for a template copy (local development); see clone/template.ts. */
  readonly disconnect?: boolean;
}

export interface CreateResult {
  readonly branch: Branch;
  /** False when `ifNotExists` found the branch already there. */
  readonly created: boolean;
}

/** Where a branch is cloned from, resolved. */
interface ResolvedSource extends CloneSource {
  /** Recorded in the control table: a database name, or a URL without its password. */
  readonly label: string;
  /** The parent branch, when the source is a branch. */
  readonly parent: string | null;
}

export function branchConn(ctx: BranchContext, database: string): ConnInfo {
  return withDatabase(ctx.main, database);
}

/** The connection URL of a branch (or of main), password masked unless asked for. */
export function branchUrl(ctx: BranchContext, database: string, showPassword = false): string {
  return formatConnInfo(branchConn(ctx, database), { showPassword });
}

export async function withControl<T>(ctx: BranchContext, fn: (client: Client) => Promise<T>): Promise<T> {
  return withClient(ctx.main, async (client) => {
    await ensureControlTable(client);
    return fn(client);
  });
}

export async function listBranches(ctx: BranchContext): Promise<Branch[]> {
  return withControl(ctx, async (client) => withSizes(client, await listRows(client)));
}

async function withSizes(client: Client, rows: BranchRow[]): Promise<Branch[]> {
  if (rows.length === 0) return [];
  const { rows: sizes } = await client.query<{ datname: string; size: string }>(
    'SELECT datname, pg_database_size(oid)::text AS size FROM pg_database WHERE datname = ANY($1) AND datallowconn',
    [rows.map((r) => r.branch_database)],
  );
  const byName = new Map(sizes.map((s) => [s.datname, Number(s.size)]));
  return rows.map((row) => (byName.has(row.branch_database) ? { ...row, size_bytes: byName.get(row.branch_database) } : row));
}

export function notFound(name: string): NotFoundError {
  return new NotFoundError('branch_not_found', `branch "${name}" does not exist`, {
    hint: 'list branches with: ayb branch list',
  });
}

export async function getBranch(ctx: BranchContext, name: string): Promise<Branch> {
  validateBranchName(name);
  return withControl(ctx, async (client) => {
    const row = await findRow(client, name);
    if (!row) throw notFound(name);
    const [branch] = await withSizes(client, [row]);
    return branch!;
  });
}

/** The database behind `main` or a ready branch, for `url`, `diff` and `start`. */
export async function resolveDatabase(ctx: BranchContext, nameOrMain: string): Promise<{ database: string; branch?: Branch }> {
  if (nameOrMain === 'main') return { database: ctx.main.database };
  const branch = await getBranch(ctx, nameOrMain);
  if (branch.status !== 'ready') {
    throw new ConflictError('branch_not_ready', `branch "${branch.name}" is not ready (status: ${branch.status})`, {
      hint: branch.status === 'failed'
        ? `delete it with: ayb branch delete ${branch.name} --yes --force, then create it again`
        : 'wait for the create to finish, or check with: ayb branch show ' + branch.name,
    });
  }
  return { database: branch.branch_database, branch };
}

export function looksLikeUrl(value: string): boolean {
  return /^postgres(ql)?:\/\//i.test(value) || /^\s*\w+\s*=/.test(value);
}

async function resolveSource(ctx: BranchContext, client: Client, from: string | undefined): Promise<ResolvedSource> {
  if (from === undefined || from === 'main') {
    return { conn: ctx.main, label: ctx.main.database, sameServer: true, parent: null };
  }
  if (looksLikeUrl(from)) {
    const conn = parseConnInfo(from);
    const sameServer = conn.host === ctx.main.host && conn.port === ctx.main.port;
    return { conn, label: formatConnInfo(conn, { omitPassword: true }), sameServer, parent: null };
  }
  validateBranchName(from);
  const row = await findRow(client, from);
  if (!row) {
    throw new NotFoundError('source_not_found', `source branch "${from}" does not exist`, {
      hint: 'use --from main, an existing branch (ayb branch list), or a postgres:// URL',
    });
  }
  if (row.status !== 'ready') {
    throw new ConflictError('source_not_ready', `source branch "${from}" is not ready (status: ${row.status})`, {
      hint: `pick a ready branch; check it with: ayb branch show ${from}`,
    });
  }
  return { conn: withDatabase(ctx.main, row.branch_database), label: row.branch_database, sameServer: true, parent: row.name };
}

export function existsError(row: BranchRow, requested: string): ConflictError {
  if (row.name !== requested) {
    return new ConflictError('name_collision', `branch "${requested}" would use database "${row.branch_database}", which branch "${row.name}" already uses`, {
      hint: `"-" and "_" map to the same database name; choose another name, or delete it with: ayb branch delete ${row.name} --yes`,
    });
  }
  return new ConflictError('branch_exists', `branch "${row.name}" already exists (status: ${row.status})`, {
    hint: `choose another name, or delete it with: ayb branch delete ${row.name} --yes`,
  });
}

function staleError(row: BranchRow): ConflictError {
  const who = row.creator_pid ? ` (pid ${row.creator_pid}${row.creator_host ? ` on ${row.creator_host}` : ''})` : '';
  return new ConflictError(
    'branch_stale',
    `branch "${row.name}" was left half-made: the ayb process that began creating it at ${row.updated_at.toISOString()}${who} stopped without cleaning up`,
    { hint: `remove the leftovers with: ayb branch delete ${row.name} --yes --force, then create it again` },
  );
}

/**
 * Creates a branch. Guarantees: on any failure (bad source, pg_dump/psql error, lost connection,
 * abort by SIGINT/SIGTERM) no partial database is left and the row says `failed` with a message
 * free of passwords; two concurrent creates of one name: one wins, the other gets a conflict.
 */
export async function createBranch(ctx: BranchContext, options: CreateOptions): Promise<CreateResult> {
  const { name, signal } = options;
  validateBranchName(name);
  const branchDatabase = branchDatabaseName(name);
  const requested = options.strategy ?? ctx.config.branching.default_strategy;

  const maint = await connectMaintenance(ctx.main);
  let locked = false;
  let parentDatabase: string | undefined;
  try {
    // The lock says "someone is working on this database name" to every other ayb process.
    locked = await tryLockBranch(maint, branchDatabase);
    if (!locked) {
      const existing = await withControl(ctx, (c) => findRowByDatabase(c, branchDatabase));
      if (existing?.status === 'ready' && existing.name === name && options.ifNotExists) {
        return { branch: await getBranch(ctx, name), created: false };
      }
      if (options.ifNotExists) {
        // A re-run CI job racing the first one: wait for that create, then take its result.
        ctx.log?.(`Branch "${name}" is being created by another ayb process; waiting for it …`);
        locked = await waitForBranchLock(ctx, maint, branchDatabase, signal);
      }
    }
    if (!locked) {
      throw branchBusyError(name);
    }
    // A branch made from a branch holds the parent's lock shared until it is done, so the parent
    // cannot be deleted, reset or renamed under the copy (nor leave this branch an orphan).
    parentDatabase = parentLockFor(options.from);
    if (parentDatabase && !(await tryLockBranchShared(maint, parentDatabase))) {
      parentDatabase = undefined;
      throw parentBusyError(options.from!);
    }

    const claim = await withControl(ctx, async (client) => {
      const source = await resolveSource(ctx, client, options.from);
      const existing = (await findRow(client, name)) ?? (await findRowByDatabase(client, branchDatabase));
      if (existing) {
        if (existing.status === 'ready' && existing.name === name && options.ifNotExists) return { existing };
        if (existing.status === 'creating') throw staleError(existing);
        if (existing.status !== 'failed' || existing.name !== name) throw existsError(existing, name);
        // A failed row is replaced; its database should be gone, but make sure (it is registered).
        await dropDatabase(maint, existing.branch_database);
        await deleteRow(client, existing.id);
      }
      if (await databaseExists(maint, branchDatabase)) {
        throw new ConflictError('database_exists', `database "${branchDatabase}" already exists but was not created by ayb`, {
          hint: 'ayb never drops a database it did not create; choose another branch name, or drop that database yourself',
        });
      }
      const row = await insertCreatingRow(client, {
        name,
        source_database: source.label,
        branch_database: branchDatabase,
        strategy: null,
        parent: source.parent,
        expires_at: options.expiresAt !== undefined ? options.expiresAt : ttlExpiry(ctx.config.branching.default_ttl, '[branching] default_ttl'),
      }, os.hostname());
      return { row, source };
    });
    if ('existing' in claim) return { branch: await getBranch(ctx, name), created: false };

    const { row, source } = claim;
    let strategy: CloneStrategy | null = null;
    let madeDatabase = false;
    try {
      signal?.throwIfAborted();
      strategy = await chooseStrategy(maint, source, requested, { disconnect: options.disconnect });
      ctx.log?.(`Creating branch "${name}" from ${source.label} (strategy: ${strategy}) …`);
      madeDatabase = true;
      const outcome = await cloneDatabase({
        main: ctx.main,
        config: ctx.config,
        maint,
        source,
        target: branchDatabase,
        strategy,
        excludeTables: [CONTROL_TABLE_SQL],
        signal,
        onProgress: options.onProgress,
        disconnect: options.disconnect,
        fallbackToDump: requested === 'auto',
        log: ctx.log,
      });
      strategy = outcome.strategy;
      signal?.throwIfAborted();
      const [branch] = await withControl(ctx, async (client) =>
        withSizes(client, [(await updateRow(client, row.id, { status: 'ready', strategy, copy_method: outcome.copyMethod, error_message: null }))!]),
      );
      return { branch: branch!, created: true };
    } catch (error) {
      const failure = signal?.aborted && signal.reason instanceof AybError ? signal.reason : asAybError(error, ctx, source);
      await cleanUpFailedCreate(ctx, maint, row, madeDatabase, strategy, failure);
      throw failure;
    }
  } finally {
    if (parentDatabase) await unlockBranchShared(maint, parentDatabase).catch(() => undefined);
    if (locked) await unlockBranch(maint, branchDatabase).catch(() => undefined);
    await maint.end().catch(() => undefined);
  }
}

/** The database whose lock a copy from `from` holds shared: set when `from` names a branch. */
function parentLockFor(from: string | undefined): string | undefined {
  if (from === undefined || from === 'main' || looksLikeUrl(from)) return undefined;
  validateBranchName(from);
  return branchDatabaseName(from);
}

/** Blocks until the branch lock is free; a Ctrl-C cancels the wait. */
async function waitForBranchLock(ctx: BranchContext, maint: Client, branchDatabase: string, signal?: AbortSignal): Promise<boolean> {
  const stopCancel = cancelOnAbort(ctx.main, maint, signal);
  try {
    await lockBranch(maint, branchDatabase);
    return true;
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw error;
  } finally {
    stopCancel();
  }
}

function asAybError(error: unknown, ctx: BranchContext, source: ResolvedSource): AybError {
  if (error instanceof AybError) return error;
  return queryError(error, source.conn.password ? source.conn : ctx.main);
}

async function cleanUpFailedCreate(
  ctx: BranchContext,
  maint: Client,
  row: BranchRow,
  madeDatabase: boolean,
  strategy: CloneStrategy | null,
  failure: AybError,
): Promise<void> {
  if (madeDatabase) await dropPartialDatabase(ctx, maint, row.branch_database);
  const message = scrubSecret(failure.message, ctx.main);
  await withControl(ctx, (client) => updateRow(client, row.id, { status: 'failed', strategy, error_message: message })).catch(() => undefined);
}

/**
 * Drops what a failed create left. The maintenance session may be the thing that failed (the server
 * ended it, or restarted), so on error this tries once more through a fresh connection.
 */
async function dropPartialDatabase(ctx: BranchContext, maint: Client, database: string): Promise<void> {
  try {
    await dropDatabase(maint, database);
    return;
  } catch {
    // Retried below on a new session.
  }
  try {
    const fresh = await connectMaintenance(ctx.main);
    try {
      await dropDatabase(fresh, database);
    } finally {
      await fresh.end().catch(() => undefined);
    }
  } catch (error) {
    ctx.log?.(`warning: could not drop the partial database "${database}": ${(error as Error).message}`);
  }
}

export interface DeleteOptions {
  readonly name: string;
  /** Also remove failed and orphaned (stale `creating`) branches. */
  readonly force?: boolean;
  readonly ifExists?: boolean;
  /** Also delete the branches made from this one, and theirs, deepest first. Without it, such a branch is refused. */
  readonly withChildren?: boolean;
}

export interface DeleteResult {
  readonly name: string;
  readonly deleted: boolean;
  readonly branch_database: string;
  /** Branches deleted first because of `withChildren`, deepest first; absent when there were none. */
  readonly deleted_children?: readonly string[];
}

export interface DeletePlan {
  readonly row: BranchRow;
  /** What `withChildren` deletes too, deepest first. */
  readonly descendants: readonly BranchRow[];
}

/** Inspects what a delete would do, for the confirmation prompt; throws what the delete would throw. */
export async function checkDeletable(ctx: BranchContext, options: DeleteOptions): Promise<DeletePlan | undefined> {
  validateBranchName(options.name);
  return withControl(ctx, async (client) => {
    const row = await findRow(client, options.name);
    if (!row) {
      if (options.ifExists) return undefined;
      throw await missingBranchError(ctx, options.name);
    }
    const descendants = descendantsDeepestFirst(await listRows(client), row.name);
    if (descendants.length > 0 && !options.withChildren) throw hasChildrenError(row.name, descendants);
    return { row, descendants };
  });
}

function hasChildrenError(name: string, descendants: readonly BranchRow[]): ConflictError {
  const names = descendants.map((d) => d.name).reverse();
  const shown = names.length > 5 ? `${names.slice(0, 5).join(', ')} and ${names.length - 5} more` : names.join(', ');
  return new ConflictError('branch_has_children', `branch "${name}" has ${names.length} branch(es) made from it: ${shown}`, {
    hint: `delete those first, or all of them with: ayb branch delete ${name} --with-children --yes`,
    details: { children: names },
  });
}

export async function missingBranchError(ctx: BranchContext, name: string): Promise<NotFoundError> {
  const database = branchDatabaseName(name);
  const maint = await connectMaintenance(ctx.main);
  try {
    if (await databaseExists(maint, database)) {
      return new NotFoundError('branch_not_found', `branch "${name}" is not registered, though a database "${database}" exists`, {
        hint: 'ayb never drops a database it did not create; drop it yourself if you are sure (DROP DATABASE)',
      });
    }
  } finally {
    await maint.end().catch(() => undefined);
  }
  return notFound(name);
}

/** Terminates the branch's sessions, drops its database and removes its row. */
export async function deleteBranch(ctx: BranchContext, options: DeleteOptions): Promise<DeleteResult> {
  const { name } = options;
  validateBranchName(name);
  const database = branchDatabaseName(name);
  const maint = await connectMaintenance(ctx.main);
  let locked = false;
  try {
    // Lock first, then read: a reset or rename of this name finishes before the row is looked at.
    locked = await tryLockBranch(maint, database);
    if (!locked) {
      throw branchBusyError(name);
    }
    const row = await withControl(ctx, (client) => findRow(client, name));
    if (!row) {
      if (options.ifExists) return { name, deleted: false, branch_database: database };
      throw await missingBranchError(ctx, name);
    }
    if (row.status !== 'ready' && !options.force) {
      const what = row.status === 'creating' ? 'orphaned (its creator stopped without cleaning up)' : 'failed';
      throw new ConflictError('branch_not_ready', `branch "${name}" is ${what}`, {
        hint: `remove it and its leftovers with: ayb branch delete ${name} --yes --force`,
      });
    }
    if (await servedByAybStart(maint, row.branch_database)) throw servedError(row.name);
    const deletedChildren = await deleteDescendants(ctx, maint, row, options);
    await dropBranchDatabase(maint, row.branch_database);
    await withControl(ctx, (client) => deleteRow(client, row.id));
    return {
      name,
      deleted: true,
      branch_database: row.branch_database,
      ...(deletedChildren.length > 0 ? { deleted_children: deletedChildren } : {}),
    };
  } catch (error) {
    throw error instanceof AybError ? error : queryError(error, ctx.main);
  } finally {
    if (locked) await unlockBranch(maint, database).catch(() => undefined);
    await maint.end().catch(() => undefined);
  }
}

/**
 * Drops a branch's database and whatever a killed reset of it left (its temporary `ayb_reset_…`
 * copies), so nothing of the branch outlives its row. Call with the branch lock held.
 */
export async function dropBranchDatabase(maint: Client, branchDatabase: string): Promise<void> {
  await dropDatabase(maint, branchDatabase);
  await dropResetLeftovers(maint, branchDatabase);
}

/** Drops the temporary databases a killed reset of this branch left, if any; `onDrop` hears of each. */
export async function dropResetLeftovers(maint: Client, branchDatabase: string, onDrop?: (leftover: string) => void): Promise<void> {
  for (const leftover of Object.values(resetDatabaseNames(branchDatabase))) {
    if (!(await databaseExists(maint, leftover))) continue;
    onDrop?.(leftover);
    await dropDatabase(maint, leftover);
  }
}

/** A branch that a running `ayb start --branch` serves is not deleted under it. */
export function servedError(name: string): ConflictError {
  return new ConflictError('branch_in_use', `branch "${name}" is served by a running "ayb start"`, {
    hint: 'stop that server first (Ctrl-C where it runs), then delete the branch',
  });
}

/** Deletes the branches made from `row` (deepest first, so none outlives its parent), or refuses. */
async function deleteDescendants(ctx: BranchContext, maint: Client, row: BranchRow, options: DeleteOptions): Promise<string[]> {
  const descendants = await withControl(ctx, async (client) => descendantsDeepestFirst(await listRows(client), row.name));
  if (descendants.length === 0) return [];
  if (!options.withChildren) throw hasChildrenError(row.name, descendants);
  // Refuse before deleting any of them, rather than halfway down the tree.
  for (const child of descendants) if (await servedByAybStart(maint, child.branch_database)) throw servedError(child.name);
  for (const child of descendants) {
    ctx.log?.(`Deleting branch "${child.name}" (made from ${child.parent}) …`);
    await deleteBranch(ctx, { name: child.name, force: options.force, ifExists: true });
  }
  return descendants.map((d) => d.name);
}
