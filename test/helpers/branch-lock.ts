import pg from 'pg';
import type { TestCluster } from './cluster.js';

/**
 * Holds the per-branch advisory lock that ayb takes while it creates, deletes, resets or renames a
 * branch, so a test can stand in for "another ayb process is working on it right now" without
 * racing a real one. Same key as src/postgres/maintenance.ts.
 */
export async function holdBranchLock(cluster: TestCluster, branchDatabase: string): Promise<{ release(): Promise<void>; pid: number }> {
  const client = new pg.Client({ host: cluster.conn.host, port: cluster.port, user: cluster.conn.user, password: cluster.conn.password, database: 'postgres' });
  await client.connect();
  await client.query("SELECT pg_advisory_lock(hashtextextended('ayb:branch:' || $1, 0))", [branchDatabase]);
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return { pid: rows[0]!.pid, release: () => client.end() };
}

/** How many sessions wait for an advisory lock right now (e.g. `create --if-not-exists` waiting for another create). */
export async function advisoryLockWaiters(cluster: TestCluster): Promise<number> {
  const { rows } = await cluster.query<{ n: string }>("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted");
  return Number(rows[0]!.n);
}


export async function databaseExists(cluster: TestCluster, name: string): Promise<boolean> {
  const { rowCount } = await cluster.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  return (rowCount ?? 0) > 0;
}
