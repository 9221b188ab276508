import { setTimeout as delay } from 'node:timers/promises';
import { AybError, ExternalError } from '../output/errors.js';
import { type Client, connect } from './client.js';
import { type ConnInfo, withDatabase } from './conninfo.js';
import { quoteIdent } from './quote.js';
import { sqlState, SqlState } from './client.js';

/**
 * A connection to the server's maintenance database (`postgres`, else `template1`), for the work
 * that must not hold a session on the main database: CREATE DATABASE … TEMPLATE main refuses while
 * anyone, ayb included, is connected to main. Branch locks live here too, so every ayb process on
 * a server agrees on them.
 */
export async function connectMaintenance(main: ConnInfo): Promise<Client> {
  try {
    return await connect(withDatabase(main, 'postgres'));
  } catch (error) {
    if (!(error instanceof AybError && error.code === 'database_not_found')) throw error;
    return connect(withDatabase(main, 'template1'));
  }
}

/** Session-level lock on a branch database name, held for as long as a create or delete runs. */
export async function tryLockBranch(client: Client, branchDatabase: string): Promise<boolean> {
  const { rows } = await client.query<{ locked: boolean }>(
    "SELECT pg_try_advisory_lock(hashtextextended('ayb:branch:' || $1, 0)) AS locked",
    [branchDatabase],
  );
  return rows[0]?.locked === true;
}

/** Waits for the branch lock (for `create --if-not-exists` racing another create of the same name). */
export async function lockBranch(client: Client, branchDatabase: string): Promise<void> {
  await client.query("SELECT pg_advisory_lock(hashtextextended('ayb:branch:' || $1, 0))", [branchDatabase]);
}

export async function unlockBranch(client: Client, branchDatabase: string): Promise<void> {
  await client.query("SELECT pg_advisory_unlock(hashtextextended('ayb:branch:' || $1, 0))", [branchDatabase]);
}

/**
 * The same lock, shared: held by every create (and reset) copying from this branch, so any number
 * of copies can run at once while a delete, reset or rename of it (which need the lock exclusively)
 * gets a conflict instead of pulling the database from under them.
 */
export async function tryLockBranchShared(client: Client, branchDatabase: string): Promise<boolean> {
  const { rows } = await client.query<{ locked: boolean }>(
    "SELECT pg_try_advisory_lock_shared(hashtextextended('ayb:branch:' || $1, 0)) AS locked",
    [branchDatabase],
  );
  return rows[0]?.locked === true;
}

export async function unlockBranchShared(client: Client, branchDatabase: string): Promise<void> {
  await client.query("SELECT pg_advisory_unlock_shared(hashtextextended('ayb:branch:' || $1, 0))", [branchDatabase]);
}

/**
 * Whether a process that is creating this branch still runs: its lock is held. A `creating` row
 * whose lock is free was left by a process that died (SIGKILL, power loss) and is stale.
 */
export async function branchLockHeld(client: Client, branchDatabase: string): Promise<boolean> {
  if (!(await tryLockBranch(client, branchDatabase))) return true;
  await unlockBranch(client, branchDatabase);
  return false;
}

/**
 * `ayb start --branch` holds this lock (shared) on the database it serves for as long as it runs;
 * its session ending (stop, crash, kill) releases it. Delete and prune look at it so they don't
 * drop a database out from under a running server.
 */
const SERVING_KEY = "hashtextextended('ayb:serving:' || $1, 0)";

export async function holdServingLock(client: Client, database: string): Promise<void> {
  await client.query(`SELECT pg_advisory_lock_shared(${SERVING_KEY})`, [database]);
}

/** Whether a running `ayb start` serves `database` (holds its serving lock). */
export async function servedByAybStart(client: Client, database: string): Promise<boolean> {
  const { rows } = await client.query<{ free: boolean }>(`SELECT pg_try_advisory_lock(${SERVING_KEY}) AS free`, [database]);
  if (rows[0]?.free !== true) return true;
  await client.query(`SELECT pg_advisory_unlock(${SERVING_KEY})`, [database]);
  return false;
}

export async function databaseExists(client: Client, name: string): Promise<boolean> {
  const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  return (rowCount ?? 0) > 0;
}

/** Drops a database, ending its sessions first. Only ever called for databases ayb registered. */
export async function dropDatabase(client: Client, name: string): Promise<void> {
  // Refuse new connections first, so nobody slips in between terminate and drop.
  await client.query(`ALTER DATABASE ${quoteIdent(name)} WITH ALLOW_CONNECTIONS false`).catch((error: unknown) => {
    if (sqlState(error) !== SqlState.invalidCatalogName) throw error;
  });
  await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
  await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
}

/** Lets sessions connect to `database`, or stops new ones (superusers included) from connecting. */
export async function setAllowConnections(client: Client, database: string, allow: boolean): Promise<void> {
  await client.query(`ALTER DATABASE ${quoteIdent(database)} WITH ALLOW_CONNECTIONS ${allow ? 'true' : 'false'}`);
}

/**
 * Ends every other session on `database` and waits until they are gone (a rename needs none).
 * Terminating is asynchronous on the server, hence the bounded poll.
 */
export async function terminateSessions(client: Client, database: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rowCount } = await client.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [database],
    );
    if (!rowCount) return;
    if (Date.now() > deadline) {
      throw new ExternalError('sessions_remain', `${rowCount} session(s) on database "${database}" did not end within ${timeoutMs / 1000}s`, {
        hint: 'check pg_stat_activity for sessions that ignore termination, then try again',
      });
    }
    await delay(50);
  }
}

/** Cancels the statement running on `client` when the signal fires (CREATE DATABASE can take a while). */
export function cancelOnAbort(main: ConnInfo, client: Client, signal: AbortSignal | undefined): () => void {
  if (!signal) return () => undefined;
  const pid = (client as unknown as { processID?: number }).processID;
  const onAbort = () => {
    if (!pid) return;
    void connectMaintenance(main)
      .then(async (other) => {
        try {
          await other.query('SELECT pg_cancel_backend($1)', [pid]);
        } finally {
          await other.end().catch(() => undefined);
        }
      })
      .catch(() => undefined);
  };
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}
