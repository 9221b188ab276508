import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { copyDatabaseFiles } from '../../src/clone/clone.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { connect } from '../../src/postgres/client.js';
import { dumpWaitingAtGate, holdGate, waitUntil } from '../helpers/gate.js';

/**
 * Who may reach a copy: a snapshot (and a branch while it is being made) is unreachable for anyone
 * but ayb from the moment its database exists, and no copy grants more at the database level than
 * its source did. The judge is the server itself (logins tried, has_database_privilege), never ayb.
 */
const PASSWORD = 'Mall0ry-pw';

describe('access to copies', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCli(args, { env });
  const roleUrl = (role: string, database: string) => `postgres://${role}:${PASSWORD}@127.0.0.1:${cluster.port}/${database}`;
  const exists = async (database: string) =>
    (await cluster.query('SELECT 1 FROM pg_database WHERE datname = $1', [database], 'postgres')).rowCount === 1;
  /** Each role's CONNECT/CREATE/TEMPORARY on `database`, as the server answers it. */
  const privileges = async (database: string) =>
    (await cluster.query<{ role: string; connect: boolean; create: boolean; temp: boolean }>(
      `SELECT rolname AS role, has_database_privilege(rolname, $1, 'CONNECT') AS connect,
              has_database_privilege(rolname, $1, 'CREATE') AS create, has_database_privilege(rolname, $1, 'TEMPORARY') AS temp
         FROM pg_roles WHERE rolname IN ('acc_mallory', 'acc_reader', 'acc_builder') ORDER BY rolname`,
      [database],
      'postgres',
    )).rows;

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    for (const role of ['acc_mallory', 'acc_reader', 'acc_builder']) {
      await cluster.query(`DROP ROLE IF EXISTS ${role}`, [], 'postgres').catch(() => undefined);
      await cluster.query(`CREATE ROLE ${role} LOGIN PASSWORD '${PASSWORD}'`, [], 'postgres');
    }
    await cluster.query(
      `CREATE TABLE items (id int PRIMARY KEY, note text);
       INSERT INTO items SELECT g, 'seed ' || g FROM generate_series(1, 3) g;
       GRANT SELECT, INSERT ON items TO acc_mallory`,
      [],
      'app',
    );
    env = { AYB_DATABASE_URL: cluster.url('app') };
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('a snapshot made by the dump path is unreachable while it is copied, and no session outlives "ready"', async () => {
    // A session on main makes auto choose the dump path; the gate holds pg_dump mid-copy.
    const busy = new pg.Client({ connectionString: cluster.url('app') });
    await busy.connect();
    const gate = await holdGate(cluster, 'app', 'items');
    let intruder: pg.Client | undefined;
    let intruderError: Error | undefined;
    try {
      const create = spawnCli(['snapshot', 'create', 'frozen', '--json'], { env });
      await waitUntil('the snapshot database to exist', () => exists('ayb_snap_frozen'));
      await dumpWaitingAtGate(cluster);
      const client = new pg.Client({ connectionString: roleUrl('acc_mallory', 'ayb_snap_frozen') });
      client.on('error', () => undefined);
      try {
        await client.connect();
        intruder = client;
      } catch (error) {
        intruderError = error as Error;
      }
      await gate.release();
      const made = await create;
      expect(made.exitCode, made.stderr).toBe(0);
      expect(JSON.parse(made.stdout)).toMatchObject({ name: 'frozen', status: 'ready', strategy: 'dump' });
    } finally {
      await gate.release();
      await busy.end();
    }
    // Whoever got in (nobody should have) can write nothing once the snapshot is ready.
    if (intruder) {
      const wrote = await intruder.query("INSERT INTO items VALUES (99, 'after ready')").then(() => true, () => false);
      await intruder.end().catch(() => undefined);
      expect(wrote).toBe(false);
    }
    expect(intruder, 'a role other than ayb connected to the snapshot during its copy').toBeUndefined();
    expect(intruderError?.message).toMatch(/too many connections|not currently accepting|permission denied/);
    const sessions = await cluster.query("SELECT pid FROM pg_stat_activity WHERE datname = 'ayb_snap_frozen'", [], 'postgres');
    expect(sessions.rowCount).toBe(0);
    // The snapshot holds main's rows, nothing else: a branch of it shows them.
    expect((await cli('branch', 'create', 'of-frozen', '--from', 'frozen')).exitCode).toBe(0);
    const ids = await cluster.query<{ id: number }>('SELECT id FROM items ORDER BY id', [], 'ayb_branch_of_frozen');
    expect(ids.rows.map((r) => r.id)).toEqual([1, 2, 3]);
  });

  it('a branch is no more open than main at the database level (CONNECT/CREATE/TEMPORARY), by template and by dump', async () => {
    await cluster.query(
      `REVOKE ALL ON DATABASE app FROM PUBLIC;
       GRANT CONNECT ON DATABASE app TO acc_reader;
       GRANT CONNECT, CREATE, TEMPORARY ON DATABASE app TO acc_builder`,
      [],
      'postgres',
    );
    const expected = await privileges('app');
    expect(expected).toEqual([
      { role: 'acc_builder', connect: true, create: true, temp: true },
      { role: 'acc_mallory', connect: false, create: false, temp: false },
      { role: 'acc_reader', connect: true, create: false, temp: false },
    ]);
    for (const strategy of ['template', 'dump']) {
      const made = await cli('branch', 'create', `acl-${strategy}`, '--strategy', strategy);
      expect(made.exitCode, made.stderr).toBe(0);
      expect(await privileges(`ayb_branch_acl_${strategy}`)).toEqual(expected);
    }
    // A snapshot keeps main's grants for the branches made of it.
    expect((await cli('snapshot', 'create', 'acl-snap')).exitCode).toBe(0);
    expect((await cli('branch', 'create', 'acl-of-snap', '--from', 'acl-snap')).exitCode).toBe(0);
    expect(await privileges('ayb_branch_acl_of_snap')).toEqual(expected);
    // And the roles see it so: mallory, refused on main, is refused on the branch.
    const mallory = new pg.Client({ connectionString: roleUrl('acc_mallory', 'ayb_branch_acl_template') });
    await expect(mallory.connect()).rejects.toThrow(/permission denied/);
  });

  it("ayb's own throwaway copy of a snapshot (ayb_view_…) lets no other role in while it exists", async () => {
    expect((await cli('snapshot', 'create', 'viewed')).exitCode).toBe(0);
    const maint = await connect({ ...cluster.conn, database: 'postgres' });
    try {
      await copyDatabaseFiles(maint, cluster.conn, ConfigSchema.parse({}), 'ayb_snap_viewed', 'ayb_view_feedfacecafe');
      const intruder = new pg.Client({ connectionString: roleUrl('acc_mallory', 'ayb_view_feedfacecafe') });
      intruder.on('error', () => undefined);
      const got = await intruder.connect().then(() => true, () => false);
      if (got) await intruder.end().catch(() => undefined);
      expect(got).toBe(false);
      // ayb itself (the owner) still reads it, as a diff does.
      const own = await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM items', [], 'ayb_view_feedfacecafe');
      expect(own.rows[0]!.n).toBe(3);
    } finally {
      await maint.query('DROP DATABASE IF EXISTS ayb_view_feedfacecafe WITH (FORCE)');
      await maint.end();
    }
  });
});
