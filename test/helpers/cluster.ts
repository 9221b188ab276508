import { mkdtemp, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { destroyManagedCluster, ensureManagedCluster } from '../../src/postgres/managed.js';
import { type ConnInfo, formatConnInfo, withDatabase } from '../../src/postgres/conninfo.js';
import { quoteIdent } from '../../src/postgres/quote.js';
import { freePort } from '../../src/postgres/ports.js';

export { freePort };

/**
 * A throwaway PostgreSQL cluster for one test file, started by the same managed-cluster code that
 * `ayb` uses, in a temporary folder on a free port. `stop()` removes it.
 */
export interface TestCluster {
  readonly dataDir: string;
  readonly port: number;
  /** Superuser connection to the main database `ayb`. */
  readonly conn: ConnInfo;
  /** A postgres:// URL (password included) for a database on this cluster. */
  url(database?: string): string;
  /** Runs SQL as the superuser against a database (default: `ayb`). */
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[], database?: string): Promise<pg.QueryResult<T>>;
  /** Creates an empty database, dropping any previous one of that name. */
  createDatabase(name: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestCluster(): Promise<TestCluster> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'ayb-test-'));
  await chmod(root, 0o755);
  const dataDir = path.join(root, 'data');
  const port = await freePort();
  const cluster = await ensureManagedCluster({ dataDir, port });
  const conn = cluster.conn;
  const query = async <T extends pg.QueryResultRow>(sql: string, params?: unknown[], database = conn.database) => {
    const client = new pg.Client({ host: conn.host, port: conn.port, user: conn.user, password: conn.password, database });
    await client.connect();
    try {
      return await client.query<T>(sql, params);
    } finally {
      await client.end();
    }
  };
  return {
    dataDir,
    port: cluster.port,
    conn,
    url: (database = conn.database) => formatConnInfo(withDatabase(conn, database), { showPassword: true }),
    query,
    async createDatabase(name) {
      await query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`, [], 'postgres');
      await query(`CREATE DATABASE ${quoteIdent(name)}`, [], 'postgres');
    },
    async stop() {
      await destroyManagedCluster({ dataDir });
      const { rm } = await import('node:fs/promises');
      await rm(root, { recursive: true, force: true });
    },
  };
}
