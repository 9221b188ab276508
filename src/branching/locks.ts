import { AybError, ConflictError } from '../core/errors.js';
import { type Client, queryError } from '../postgres/client.js';
import { branchLockHeld, cancelOnAbort, lockBranch, tryLockBranch, tryLockBranchShared, unlockBranch, unlockBranchShared } from '../postgres/maintenance.js';
import { type BranchContext, maintenanceAfterRecovery } from './context.js';
import { lockKey } from './names.js';

/**
 * The one module that takes the advisory lock of a branch or snapshot (postgres/maintenance.ts holds
 * the SQL). A record's lock is keyed by its name (lockKey), whatever its kind, so a branch and a
 * snapshot of one name are never made at once; a readable copy of a snapshot (snapshot-view.ts) is
 * locked by its database name. Held exclusively by every create, delete, reset, rename, expire and
 * prune of the record, and shared by every copy made from it.
 */
export type LockOf = { readonly record: string } | { readonly view: string };

function keyOf(of: LockOf): string {
  return 'record' in of ? lockKey(of.record) : of.view;
}

export function branchBusyError(name: string): ConflictError {
  return new ConflictError('branch_busy', `branch "${name}" is being created (or copied from, deleted, reset or renamed) by another ayb process right now`, {
    hint: `wait for it to finish and try again; check it with: ayb branch show ${name}`,
  });
}

export function parentBusyError(parent: string): ConflictError {
  return new ConflictError('branch_busy', `source branch "${parent}" is being deleted, reset or renamed by another ayb process right now`, {
    hint: `wait for it to finish and try again; check it with: ayb branch show ${parent}`,
  });
}

/**
 * Runs `fn` holding the locks of the named branches or snapshots, on a maintenance connection that
 * `fn` may use. Every create, delete, reset, rename, expire and prune of those names meanwhile gets
 * a `branch_busy` conflict (or, for `create --if-not-exists`, waits). A lock that is taken already
 * fails at once rather than waiting, so two processes never deadlock.
 */
export async function withBranchLocks<T>(ctx: BranchContext, names: readonly string[], fn: (maint: Client) => Promise<T>): Promise<T> {
  const maint = await maintenanceAfterRecovery(ctx);
  const held: string[] = [];
  try {
    for (const name of [...new Set(names)].sort((a, b) => lockKey(a).localeCompare(lockKey(b)))) {
      if (held.some((h) => lockKey(h) === lockKey(name))) continue;
      if (!(await tryLockBranch(maint, lockKey(name)))) throw branchBusyError(name);
      held.push(name);
    }
    return await fn(maint);
  } catch (error) {
    throw error instanceof AybError ? error : queryError(error, ctx.main);
  } finally {
    for (const name of held) await unlockBranch(maint, lockKey(name)).catch(() => undefined);
    await maint.end().catch(() => undefined);
  }
}

/** Takes the lock exclusively if it is free (true), on `maint`, until released or the session ends. */
export function tryLock(maint: Client, of: LockOf): Promise<boolean> {
  return tryLockBranch(maint, keyOf(of));
}

export function unlock(maint: Client, of: LockOf): Promise<void> {
  return unlockBranch(maint, keyOf(of));
}

/** Waits for the lock (`create --if-not-exists` racing another create of the name); a Ctrl-C cancels the wait. */
export async function waitForLock(ctx: BranchContext, maint: Client, of: LockOf, signal?: AbortSignal): Promise<true> {
  const stopCancel = cancelOnAbort(ctx.main, maint, signal);
  try {
    await lockBranch(maint, keyOf(of));
    return true;
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw error;
  } finally {
    stopCancel();
  }
}

/** A copy from a branch or snapshot holds its lock shared, so it is not deleted, reset or renamed under the copy. */
export async function lockSource(maint: Client, name: string): Promise<void> {
  if (!(await tryLockBranchShared(maint, lockKey(name)))) throw parentBusyError(name);
}

export function unlockSource(maint: Client, name: string): Promise<void> {
  return unlockBranchShared(maint, lockKey(name));
}

/** Whether another session holds the lock (in any mode): a `creating` record whose lock is free is a leftover. */
export function lockHeld(maint: Client, of: LockOf): Promise<boolean> {
  return branchLockHeld(maint, keyOf(of));
}

/** Runs `fn` holding the lock when it is free, else answers undefined at once (recovery, prune). */
export async function ifLockFree<T>(maint: Client, of: LockOf, fn: () => Promise<T>): Promise<T | undefined> {
  if (!(await tryLock(maint, of))) return undefined;
  try {
    return await fn();
  } finally {
    await unlock(maint, of).catch(() => undefined);
  }
}
