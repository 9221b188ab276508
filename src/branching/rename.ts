import { sessionsOn } from '../clone/template.js';
import { ConflictError, UsageError } from '../core/errors.js';
import { type Client, sqlState, SqlState } from '../postgres/client.js';
import { refuseConnections } from '../postgres/connection-guard.js';
import { databaseExists, terminateSessions } from '../postgres/maintenance.js';
import { quoteIdent } from '../postgres/quote.js';
import { findRow, findRowByDatabase, renameRow } from './control-table.js';
import { withBranchLocks } from './locks.js';
import { branchDatabaseName, validateBranchName } from './names.js';
import { type BranchContext, withControl } from './context.js';
import { missingBranchError } from './delete.js';
import { existsError, wrongKindError } from './errors.js';
import { getBranch } from './list.js';
import { type Branch } from '../core/records.js';

export interface RenameOptions {
  readonly from: string;
  readonly to: string;
  /** End the sessions connected to the branch; without it a branch in use is refused. */
  readonly disconnect?: boolean;
}

/**
 * Renames a branch and its database (`ayb_branch_<old>` → `ayb_branch_<new>`), and points the
 * branches made from it at the new name. The new name follows the rules of create: valid, free, not
 * mapping to a database another branch uses, and not an existing database ayb did not make.
 *
 * PostgreSQL renames only a database nobody is connected to. Connected sessions are refused (listed)
 * unless `disconnect` is given: a rename is a casual, non-destructive command, so unlike delete it
 * must not end other people's work unasked. Both names are locked meanwhile.
 */
export async function renameBranch(ctx: BranchContext, options: RenameOptions): Promise<Branch> {
  const { from, to } = options;
  validateBranchName(from);
  validateBranchName(to);
  if (from === to) {
    throw new UsageError(`the old and the new name are both "${from}"`, { hint: 'give a different new name' }, 'same_name');
  }
  const fromDatabase = branchDatabaseName(from);
  const toDatabase = branchDatabaseName(to);
  const sameDatabase = fromDatabase === toDatabase;
  return withBranchLocks(ctx, [from, to], async (maint) => {
    const row = await withControl(ctx, async (client) => {
      const found = await findRow(client, from);
      if (!found) throw await missingBranchError(ctx, from);
      if (found.kind !== 'branch') throw wrongKindError(found, 'branch');
      if (found.status !== 'ready') {
        throw new ConflictError('branch_not_ready', `branch "${from}" is ${found.status}; only a ready branch can be renamed`, {
          hint: `delete it with: ayb branch delete ${from} --yes --force, then create ${to} anew`,
        });
      }
      const taken = (await findRow(client, to)) ?? (await findRowByDatabase(client, toDatabase));
      if (taken && taken.id !== found.id) throw existsError(taken, to);
      return found;
    });
    // The row and the database are renamed in one transaction on main (a connection to main is not
    // one to the branch's database, so it may rename it): both change, or neither does, whatever
    // happens to ayb meanwhile. `a-b` → `a_b` keeps the database; only the recorded name changes.
    const renameBoth = () =>
      withControl(ctx, (client) =>
        renameRow(client, row, { name: to, branch_database: toDatabase },
          sameDatabase ? undefined : () => renameDatabaseOn(client, maint, from, fromDatabase, toDatabase)),
      );
    if (sameDatabase) {
      await renameBoth();
    } else {
      if (await databaseExists(maint, toDatabase)) {
        throw new ConflictError('database_exists', `database "${toDatabase}" already exists but was not created by ayb`, {
          hint: 'ayb never touches a database it did not create; choose another name, or drop that database yourself',
        });
      }
      await renameUnused(maint, fromDatabase, toDatabase, from, options.disconnect === true, ctx, renameBoth);
    }
    return getBranch(ctx, to);
  });
}

function inUseError(name: string, sessions: readonly { pid: number; application_name: string }[]): ConflictError {
  const who = sessions.map((s) => `pid ${s.pid}${s.application_name ? ` (${s.application_name})` : ''}`).join(', ');
  return new ConflictError('branch_in_use', `branch "${name}" has ${sessions.length} session(s) connected: ${who}; a database in use cannot be renamed`, {
    hint: 'close those sessions, or end them with --disconnect',
    details: { sessions },
  });
}

/** ALTER DATABASE … RENAME on `client` (connected to main), inside the transaction that renames the row. */
async function renameDatabaseOn(client: Client, maint: Client, name: string, from: string, to: string): Promise<void> {
  try {
    await client.query(`ALTER DATABASE ${quoteIdent(from)} RENAME TO ${quoteIdent(to)}`);
  } catch (error) {
    // Someone connected between the check (or the end of their sessions) and the rename.
    if (sqlState(error) === SqlState.objectInUse) throw inUseError(name, await sessionsOn(maint, from));
    throw error;
  }
}

/** Runs `rename` (of the database `from` to `to`) once nobody is connected to `from`. */
async function renameUnused(
  maint: Client,
  from: string,
  to: string,
  name: string,
  disconnect: boolean,
  ctx: BranchContext,
  rename: () => Promise<unknown>,
): Promise<void> {
  if (!disconnect) {
    const sessions = await sessionsOn(maint, from);
    if (sessions.length > 0) throw inUseError(name, sessions);
    await rename();
    return;
  }
  // Refuse new connections first, so nobody slips in between terminate and rename. Should ayb die
  // in between, its guard allows them again under whichever name the database has then.
  const refusal = await refuseConnections(maint, ctx.main, from, [from, to], ctx.log);
  let renamed = false;
  try {
    await terminateSessions(maint, from);
    await rename();
    renamed = true;
  } finally {
    await refusal.end(renamed ? to : from);
  }
}
