import { randomBytes } from 'node:crypto';
import { copyDatabaseFiles } from '../clone/clone.js';
import type { BranchRow } from '../core/records.js';
import type { Client } from '../postgres/client.js';
import { connectMaintenance, dropDatabase, tryLockBranch, tryLockBranchShared, unlockBranch } from '../postgres/maintenance.js';
import type { BranchContext } from './context.js';
import { parentBusyError } from './locks.js';
import { lockKey } from './names.js';

/** Throwaway readable copies of snapshots: `ayb_view_<12 hex>`. */
export const VIEW_DATABASE_PREFIX = 'ayb_view_';

/**
 * Runs `fn` with the name of a readable copy of a snapshot, for the work that must look inside one
 * (a diff): nobody connects to the snapshot itself, so it is copied (copy-on-write where the server
 * can, otherwise a file copy, about a second a gigabyte) and the copy is dropped afterwards. The
 * copy's lock is taken before it exists and held until it is gone, so a copy whose lock is free was
 * left by a killed ayb: every call first drops such leftovers. The snapshot's lock is held shared,
 * so it is not deleted under the copy.
 */
export async function withSnapshotView<T>(ctx: BranchContext, snapshot: BranchRow, fn: (database: string) => Promise<T>): Promise<T> {
  const maint = await connectMaintenance(ctx.main);
  try {
    await dropAbandonedViews(ctx, maint);
    const view = VIEW_DATABASE_PREFIX + randomBytes(6).toString('hex');
    if (!(await tryLockBranch(maint, view))) throw new Error(`the lock of ${view} is taken`);
    if (!(await tryLockBranchShared(maint, lockKey(snapshot.name)))) throw parentBusyError(snapshot.name);
    ctx.log?.(`Making a readable copy of snapshot "${snapshot.name}" (nobody connects to a snapshot) …`);
    await copyDatabaseFiles(maint, ctx.main, ctx.config, snapshot.branch_database, view);
    try {
      return await fn(view);
    } finally {
      await dropDatabase(maint, view).catch((error: unknown) => {
        ctx.log?.(`warning: could not drop the temporary copy "${view}" (the next diff of a snapshot removes it): ${(error as Error).message}`);
      });
    }
  } finally {
    // Ending the session releases both locks.
    await maint.end().catch(() => undefined);
  }
}

/** Drops the readable copies whose maker is gone (its lock is free). */
async function dropAbandonedViews(ctx: BranchContext, maint: Client): Promise<void> {
  const { rows } = await maint.query<{ datname: string }>("SELECT datname FROM pg_database WHERE starts_with(datname, $1)", [VIEW_DATABASE_PREFIX]);
  for (const { datname } of rows) {
    if (!(await tryLockBranch(maint, datname))) continue;
    try {
      ctx.log?.(`Removing "${datname}", a copy of a snapshot left by an ayb process that was killed …`);
      await dropDatabase(maint, datname);
    } finally {
      await unlockBranch(maint, datname).catch(() => undefined);
    }
  }
}
