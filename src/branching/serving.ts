import { ExternalError, NotFoundError } from '../core/errors.js';
import { type Client, withClient } from '../postgres/client.js';
import { type ConnInfo, withDatabase } from '../postgres/conninfo.js';
import { connectMaintenance, holdServingLock } from '../postgres/maintenance.js';
import { type TableStats, tableStats } from '../postgres/table-stats.js';
import type { BranchContext } from './context.js';
import { resolveDatabase } from './list.js';

/** The database `ayb start` serves: main, or a ready branch. */
export interface ServedDatabase {
  readonly conn: ConnInfo;
  readonly database: string;
  /** The branch name, or null for main. */
  readonly branch: string | null;
}

/** A maintenance session holding the serving lock of `database` (see holdServingLock). */
export async function holdServing(ctx: BranchContext, database: string): Promise<Client> {
  const client = await connectMaintenance(ctx.main);
  try {
    await holdServingLock(client, database);
    return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
}

/** Main, or the ready branch named by --branch; checks that the database answers before serving it. */
export async function servedDatabase(ctx: BranchContext, branch: string | undefined): Promise<ServedDatabase> {
  const { database, branch: record } = await resolveDatabase(ctx, branch ?? 'main');
  const conn = withDatabase(ctx.main, database);
  await withClient(conn, (client) => client.query('SELECT 1'));
  return { conn, database, branch: record?.name ?? null };
}

/** The served database's tables with row counts, for the dashboard. */
export async function servedTables(served: ServedDatabase): Promise<TableStats[]> {
  return withClient(served.conn, (client) => tableStats(client));
}

/**
 * Whether the served database can be reached, asked through the maintenance database so the check
 * never holds a session on it (a session on main would block template clones of main).
 */
export async function probeServedDatabase(served: ServedDatabase): Promise<void> {
  const client = await connectMaintenance(served.conn);
  try {
    const { rows } = await client.query<{ datallowconn: boolean }>('SELECT datallowconn FROM pg_database WHERE datname = $1', [served.database]);
    if (rows.length === 0) {
      throw new NotFoundError('database_not_found', `database "${served.database}" no longer exists`, {
        hint: served.branch ? `the branch was deleted; restart with: ayb start --branch <another branch>` : 'check the database URL',
      });
    }
    if (!rows[0]!.datallowconn) {
      throw new ExternalError('database_unavailable', `database "${served.database}" does not allow connections`, {
        hint: `allow them again with: ALTER DATABASE ${served.database} WITH ALLOW_CONNECTIONS true`,
      });
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}
