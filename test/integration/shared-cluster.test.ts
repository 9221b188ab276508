import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resetCluster, startTestCluster, type TestCluster } from '../helpers/cluster.js';

/**
 * The test harness's promise that files sharing a cluster never see each other's leftovers: after
 * a file changed about everything a test may change, the reset leaves the state of a fresh cluster.
 */
describe('shared test cluster reset', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  /** What a test could see of earlier files: databases, roles, settings, sessions. */
  async function state() {
    const q = async (sql: string) => (await cluster.query(sql, [], 'postgres')).rows;
    return {
      databases: await q("SELECT datname, datistemplate, datallowconn FROM pg_database ORDER BY datname"),
      roles: await q("SELECT rolname FROM pg_roles WHERE rolname NOT LIKE 'pg\\_%' ORDER BY rolname"),
      settings: await q('SELECT setdatabase, setrole, setconfig FROM pg_db_role_setting'),
      system: await q("SELECT name, setting FROM pg_file_settings WHERE sourcefile LIKE '%postgresql.auto.conf'"),
      mainTables: (await cluster.query("SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace")).rows,
      sessions: await q("SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"),
    };
  }

  it('starts as a fresh cluster does, and returns to that state after a file changed everything', async () => {
    const fresh = await state();
    expect(fresh.databases).toEqual([
      { datname: 'ayb', datistemplate: false, datallowconn: true },
      { datname: 'postgres', datistemplate: false, datallowconn: true },
      { datname: 'template0', datistemplate: true, datallowconn: false },
      { datname: 'template1', datistemplate: true, datallowconn: true },
    ]);
    expect(fresh.roles).toEqual([{ rolname: cluster.conn.user }]);
    expect(fresh).toMatchObject({ settings: [], system: [], mainTables: [], sessions: [{ n: 0 }] });

    const user = cluster.conn.user;
    for (const sql of [
      "CREATE ROLE leftover LOGIN PASSWORD 'x'",
      'CREATE DATABASE ayb_branch_dev OWNER leftover',
      'CREATE DATABASE shut',
      'ALTER DATABASE shut WITH ALLOW_CONNECTIONS false',
      'CREATE DATABASE tmpl IS_TEMPLATE true',
      "ALTER DATABASE ayb_branch_dev SET work_mem = '7MB'",
      `ALTER ROLE ${user} SET ayb_test.ms_per_row = '5'`,
      `ALTER ROLE ${user} IN DATABASE postgres SET statement_timeout = '42s'`,
      "ALTER ROLE ALL SET lock_timeout = '9s'",
      "ALTER SYSTEM SET log_min_duration_statement = '1s'",
      'CREATE TABLE leftover_in_postgres (id int)',
    ]) {
      await cluster.query(sql, [], 'postgres');
    }
    await cluster.query('CREATE TABLE leftover_in_main (id int)');
    // A session a test left open, idle in a transaction on the main database.
    const { default: pg } = await import('pg');
    const open = new pg.Client({ ...cluster.conn, database: 'ayb' });
    open.on('error', () => undefined);
    await open.connect();
    await open.query('BEGIN');
    await open.query('LOCK TABLE leftover_in_main IN ACCESS EXCLUSIVE MODE');

    await resetCluster(cluster.conn);
    await open.end().catch(() => undefined);
    const after = await state();
    expect(after).toEqual(fresh);
    expect((await cluster.query('SELECT relname FROM pg_class WHERE relname = $1', ['leftover_in_postgres'], 'postgres')).rows).toEqual([]);
  });
});
