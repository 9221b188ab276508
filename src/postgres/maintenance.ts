import { setTimeout as delay } from 'node:timers/promises';
import { AybError, ExternalError } from '../core/errors.js';
import { type Client, connect } from './client.js';
import { type ConnInfo, withDatabase } from './conninfo.js';
import { quoteIdent } from './quote.js';
import { sessionTimeouts, withoutTimeouts } from './timeouts.js';

/**
 * A connection to the server's maintenance database (`postgres`, else `template1`), for the work
 * that must not hold a session on the main database: CREATE DATABASE … TEMPLATE main refuses while
 * anyone, ayb included, is connected to main. Branch locks live here too, so every ayb process on
 * a server agrees on them. The session has ayb's limits (timeouts.ts); the statements that may
 * rightly take long lift them (withoutTimeouts).
 */
export async function connectMaintenance(main: ConnInfo): Promise<Client> {
  const timeouts = sessionTimeouts();
  try {
    return await connect(withDatabase(main, 'postgres'), timeouts);
  } catch (error) {
    if (!(error instanceof AybError && error.code === 'database_not_found')) throw error;
    return connect(withDatabase(main, 'template1'), timeouts);
  }
}

/**
 * ayb's advisory locks, session-level, keyed by a namespace and a database name:
 * - `branch`: held for as long as a create, delete, reset, rename, expire or prune of that branch
 *   runs (exclusive), or while a copy is made from it (shared);
 * - `serving`: held shared by `ayb start --branch` on the database it serves, for as long as it
 *   runs; its session ending (stop, crash, kill) releases it, so delete and prune can tell.
 * - `refusing`: held shared by the session that makes a database refuse connections for a moment
 *   (a `--disconnect` copy of it, a rename, a reset's swap) until it allows them again; the
 *   connection guard takes it exclusively, which waits until that session has ended (see
 *   connection-guard.ts).
 */
type LockSpace = 'branch' | 'serving' | 'refusing';
type LockMode = 'exclusive' | 'shared';

function lockCall(fn: 'pg_try_advisory_lock' | 'pg_advisory_lock' | 'pg_advisory_unlock', space: LockSpace, mode: LockMode): string {
  return `SELECT ${fn}${mode === 'shared' ? '_shared' : ''}(hashtextextended('ayb:${space}:' || $1, 0)) AS result`;
}

async function tryLock(client: Client, space: LockSpace, name: string, mode: LockMode): Promise<boolean> {
  const { rows } = await client.query<{ result: boolean }>(lockCall('pg_try_advisory_lock', space, mode), [name]);
  return rows[0]?.result === true;
}

async function unlock(client: Client, space: LockSpace, name: string, mode: LockMode): Promise<void> {
  await client.query(lockCall('pg_advisory_unlock', space, mode), [name]);
}

/** Whether another session holds the lock in any mode: taking it exclusively fails (and is undone if not). */
async function heldElsewhere(client: Client, space: LockSpace, name: string): Promise<boolean> {
  // One statement: CASE evaluates the unlock only when the try succeeded (AND does not promise an order).
  const key = `hashtextextended('ayb:${space}:' || $1, 0)`;
  const { rows } = await client.query<{ free: boolean }>(`SELECT CASE WHEN pg_try_advisory_lock(${key}) THEN pg_advisory_unlock(${key}) ELSE false END AS free`, [name]);
  return rows[0]?.free !== true;
}

/** The branch lock, exclusive: a create, delete, reset, rename, expire or prune of this branch. */
export function tryLockBranch(client: Client, branchDatabase: string): Promise<boolean> {
  return tryLock(client, 'branch', branchDatabase, 'exclusive');
}

/** Waits for the branch lock (for `create --if-not-exists` racing another create of the same name). */
export async function lockBranch(client: Client, branchDatabase: string): Promise<void> {
  await withoutTimeouts(client, 'all', () => client.query(lockCall('pg_advisory_lock', 'branch', 'exclusive'), [branchDatabase]));
}

export function unlockBranch(client: Client, branchDatabase: string): Promise<void> {
  return unlock(client, 'branch', branchDatabase, 'exclusive');
}

/**
 * The same lock, shared: held by every create (and reset) copying from this branch, so any number
 * of copies can run at once while a delete, reset or rename of it (which need the lock exclusively)
 * gets a conflict instead of pulling the database from under them.
 */
export function tryLockBranchShared(client: Client, branchDatabase: string): Promise<boolean> {
  return tryLock(client, 'branch', branchDatabase, 'shared');
}

export function unlockBranchShared(client: Client, branchDatabase: string): Promise<void> {
  return unlock(client, 'branch', branchDatabase, 'shared');
}

/**
 * Whether a process that is creating this branch still runs: its lock is held. A `creating` row
 * whose lock is free was left by a process that died (SIGKILL, power loss) and is stale.
 */
export function branchLockHeld(client: Client, branchDatabase: string): Promise<boolean> {
  return heldElsewhere(client, 'branch', branchDatabase);
}

/** `ayb start --branch`: holds the serving lock of `database` until this session ends. */
export async function holdServingLock(client: Client, database: string): Promise<void> {
  await withoutTimeouts(client, 'all', () => client.query(lockCall('pg_advisory_lock', 'serving', 'shared'), [database]));
}

/** This session is about to make `database` refuse connections (see refuseConnections). */
export async function holdRefusingLock(client: Client, database: string): Promise<void> {
  await withoutTimeouts(client, 'all', () => client.query(lockCall('pg_advisory_lock', 'refusing', 'shared'), [database]));
}

export function releaseRefusingLock(client: Client, database: string, mode: LockMode = 'shared'): Promise<void> {
  return unlock(client, 'refusing', database, mode);
}

/** The refusing lock, exclusively, without waiting: false while a session that refused connections to `database` is still at it. */
export function tryTakeRefusingLock(client: Client, database: string): Promise<boolean> {
  return tryLock(client, 'refusing', database, 'exclusive');
}

/** The connection guard's wait for every session holding the refusing lock of `$1` to end. */
export const WAIT_FOR_REFUSING_SESSIONS_SQL = lockCall('pg_advisory_lock', 'refusing', 'exclusive');

/** Whether a running `ayb start` serves `database` (holds its serving lock). */
export function servedByAybStart(client: Client, database: string): Promise<boolean> {
  return heldElsewhere(client, 'serving', database);
}

export async function databaseExists(client: Client, name: string): Promise<boolean> {
  const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  return (rowCount ?? 0) > 0;
}

export const TERMINATE_OTHER_SESSIONS_SQL = 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()';

/**
 * Drops a database, ending its sessions. Only ever called for databases ayb registered. One
 * statement: DROP … WITH (FORCE) takes the database's lock, which every new connection to it waits
 * for (and then finds the database gone), before it ends the sessions there, so nobody slips in
 * between; the ALTER … ALLOW_CONNECTIONS false and pg_terminate_backend that came first added
 * nothing but round trips. A database that a DROP interrupted halfway (`datconnlimit = -2`) is
 * dropped the same way, and one already gone is not an error (IF EXISTS).
 */
export async function dropDatabase(client: Client, name: string): Promise<void> {
  // Removing a large database's files may take a while; a lock it cannot get still ends it.
  await withoutTimeouts(client, 'statement', () => dropDatabaseNow(client, name));
}

/** dropDatabase's statement alone, for a caller that has lifted the statement limit itself. */
export async function dropDatabaseNow(client: Client, name: string): Promise<void> {
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
    const { rowCount } = await client.query(TERMINATE_OTHER_SESSIONS_SQL, [database]);
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
