import { AybError, ConflictError } from '../core/errors.js';
import { type Client, queryError } from '../postgres/client.js';
import { tryLockBranch, unlockBranch } from '../postgres/maintenance.js';
import { type BranchContext, maintenanceAfterRecovery } from './context.js';

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
 * Runs `fn` holding the per-branch advisory locks of the given branch database names, on a
 * maintenance connection that `fn` may use. Every create, delete, reset, rename, expire and prune of
 * those names meanwhile gets a `branch_busy` conflict (or, for `create --if-not-exists`, waits).
 * A lock that is taken already fails at once rather than waiting, so two processes never deadlock.
 */
export async function withBranchLocks<T>(
  ctx: BranchContext,
  locks: readonly { readonly name: string; readonly database: string }[],
  fn: (maint: Client) => Promise<T>,
): Promise<T> {
  const maint = await maintenanceAfterRecovery(ctx);
  const held: string[] = [];
  try {
    for (const { name, database } of [...locks].sort((a, b) => a.database.localeCompare(b.database))) {
      if (held.includes(database)) continue;
      if (!(await tryLockBranch(maint, database))) throw branchBusyError(name);
      held.push(database);
    }
    return await fn(maint);
  } catch (error) {
    throw error instanceof AybError ? error : queryError(error, ctx.main);
  } finally {
    for (const database of held) await unlockBranch(maint, database).catch(() => undefined);
    await maint.end().catch(() => undefined);
  }
}
