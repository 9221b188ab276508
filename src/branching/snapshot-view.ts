import { randomBytes } from 'node:crypto';
import { copyDatabaseFiles } from '../clone/clone.js';
import type { BranchRow } from '../core/records.js';
import { connectMaintenance, dropDatabase } from '../postgres/maintenance.js';
import type { BranchContext } from './context.js';
import { lockSource, tryLock } from './locks.js';
import { VIEW_DATABASE_PREFIX } from './names.js';
import { dropAbandonedViews } from './recovery.js';

/**
 * Runs `fn` with the name of a readable copy of a snapshot, for the work that must look inside one
 * (a diff): nobody connects to the snapshot itself, so it is copied (copy-on-write where the server
 * can, otherwise a file copy, about a second a gigabyte) and the copy is dropped afterwards. The
 * copy's lock is taken before it exists and held until it is gone, so a copy whose lock is free was
 * left by a killed ayb: every call first drops such leftovers (as the first command of any process
 * does, recovery.ts). The snapshot's lock is held shared, so it is not deleted under the copy.
 */
export async function withSnapshotView<T>(ctx: BranchContext, snapshot: BranchRow, fn: (database: string) => Promise<T>): Promise<T> {
  const maint = await connectMaintenance(ctx.main);
  try {
    await dropAbandonedViews(ctx, maint);
    const view = VIEW_DATABASE_PREFIX + randomBytes(6).toString('hex');
    if (!(await tryLock(maint, { view }))) throw new Error(`the lock of ${view} is taken`);
    await lockSource(maint, snapshot.name);
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
