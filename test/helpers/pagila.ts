import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { execa } from 'execa';
import type { TestCluster } from './cluster.js';

/**
 * The Pagila fixture (schema and data), carried in the repository (test/fixtures/pagila, under the
 * PostgreSQL licence of its LICENSE.txt) so that a clone alone runs the tests.
 */
export const PAGILA_DIR = process.env.AYB_PAGILA_DIR ?? fileURLToPath(new URL('../fixtures/pagila', import.meta.url));

/**
 * libpq environment for psql/pg_dump against a test cluster database: the password travels in the
 * environment, never in argv. PGOPTIONS etc. of the caller are cleared so nothing steers the tools.
 */
export function libpqEnv(cluster: TestCluster, database: string): Record<string, string | undefined> {
  return {
    PGHOST: cluster.conn.host,
    PGPORT: String(cluster.port),
    PGUSER: cluster.conn.user,
    PGPASSWORD: cluster.conn.password,
    PGDATABASE: database,
    PGOPTIONS: undefined,
    PGSERVICE: undefined,
    PGSSLMODE: 'disable',
  };
}

/** Runs SQL text through psql (stops at the first error, no psqlrc); for scripts with COPY or psql meta-commands. */
export async function runPsql(cluster: TestCluster, database: string, args: { sql?: string; file?: string }): Promise<void> {
  const argv = ['-X', '-q', '-v', 'ON_ERROR_STOP=1', ...(args.file ? ['-f', args.file] : [])];
  const result = await execa('psql', argv, { env: libpqEnv(cluster, database), input: args.sql, reject: false, all: true });
  if (result.exitCode !== 0) throw new Error(`psql failed on database ${database}: ${String(result.all)}`);
}

let schemaSql: Promise<string> | undefined;

/**
 * The Pagila schema without its `ALTER … OWNER TO postgres` lines: the objects belong to whoever
 * loads them, so the fixture works on a cluster without a `postgres` role.
 */
function pagilaSchemaSql(): Promise<string> {
  schemaSql ??= readFile(path.join(PAGILA_DIR, 'pagila-schema.sql'), 'utf8').then((sql) =>
    sql.replace(/^ALTER [A-Z ]+ .+ OWNER TO .+;$/gm, ''),
  );
  return schemaSql;
}

/**
 * Creates `database` (dropping any previous one) on the cluster and loads Pagila into it.
 * With `{ data: false }` only the schema is loaded (about ten times faster). To make several
 * copies, load once and clone with `CREATE DATABASE … TEMPLATE`.
 */
export async function loadPagila(cluster: TestCluster, database: string, options: { data?: boolean } = {}): Promise<void> {
  await cluster.createDatabase(database);
  await runPsql(cluster, database, { sql: await pagilaSchemaSql() });
  if (options.data !== false) await runPsql(cluster, database, { file: path.join(PAGILA_DIR, 'pagila-data.sql') });
}
