import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import type { TestCluster } from './cluster.js';

/** Polls `check` until it returns a truthy value, at most `timeoutMs`; fails naming `what` otherwise. */
export async function waitUntil<T>(what: string, check: () => Promise<T>, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(50);
  }
}

/**
 * Holds ACCESS EXCLUSIVE on a table in an open transaction: a dump clone's pg_dump (which takes
 * ACCESS SHARE on every table it dumps) waits at this gate until `release()`, so a create stays in
 * flight exactly as long as a test wants, without sleeps. `release()` may be called twice.
 */
export function holdGate(cluster: TestCluster, database: string, table: string): Promise<{ release(): Promise<void> }> {
  return openTransactionHolding(cluster, database, `LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
}

/**
 * Holds a lock on the database object `database` (COMMENT ON DATABASE, from a session on
 * `postgres`, in an open transaction): CREATE DATABASE … TEMPLATE of it and ALTER DATABASE … RENAME
 * of it wait at this gate until `release()`, while ALTER DATABASE … ALLOW_CONNECTIONS does not.
 */
export function holdDatabaseGate(cluster: TestCluster, database: string): Promise<{ release(): Promise<void> }> {
  return openTransactionHolding(cluster, 'postgres', `COMMENT ON DATABASE "${database}" IS 'gate'`);
}

async function openTransactionHolding(cluster: TestCluster, database: string, statement: string): Promise<{ release(): Promise<void> }> {
  const { conn } = cluster;
  const client = new pg.Client({ host: conn.host, port: conn.port, user: conn.user, password: conn.password, database, application_name: 'test-gate' });
  client.on('error', () => undefined);
  await client.connect();
  await client.query('BEGIN');
  await client.query(statement);
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      await client.query('ROLLBACK').catch(() => undefined);
      await client.end().catch(() => undefined);
    },
  };
}

/** Resolves once `count` of ayb's pg_dumps are blocked on a lock (the gate). */
export function dumpWaitingAtGate(cluster: TestCluster, count = 1): Promise<true> {
  return waitUntil(count === 1 ? 'pg_dump to wait at the gate' : `${count} pg_dumps to wait at the gate`, async () => {
    const { rowCount } = await cluster.query(
      "SELECT 1 FROM pg_stat_activity WHERE application_name = 'ayb-pg_dump' AND wait_event_type = 'Lock'",
      [],
      'postgres',
    );
    return (rowCount ?? 0) >= count || undefined;
  });
}
