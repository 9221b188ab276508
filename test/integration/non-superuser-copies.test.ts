import { readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';

/**
 * ayb connected as a role that is not a superuser (CREATEDB, owner of main): `CONNECTION LIMIT 0`
 * would bind ayb itself, so a new copy must be closed another way from the moment it exists. A
 * role polling to connect to the copy must never get in; the server's own statement log shows the
 * copy was created refusing connections and opened only after PUBLIC lost CONNECT. And a reset's
 * fresh copy gets the branch's grants only after the swap, so a role allowed on the branch cannot
 * hold a session on it and block the swap.
 */
describe('copies made by a non-superuser ayb', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCli(args, { env, timeout: 300_000 });
  const url = (user: string, password: string, database: string) => `postgres://${user}:${password}@${cluster.conn.host}:${cluster.port}/${database}`;

  /** Tries to connect as `user` to any database whose name matches `like`, as fast as it can, until stopped; returns the databases it got into. */
  const poll = (user: string, password: string, like: string) => {
    let stop = false;
    const got: string[] = [];
    const held: pg.Client[] = [];
    const done = (async () => {
      while (!stop) {
        const names = (await cluster.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [like], 'postgres')).rows;
        for (const { datname } of names) {
          const client = new pg.Client({ connectionString: url(user, password, datname) });
          try {
            await client.connect();
            got.push(datname);
            held.push(client); // held open, as an attacker would
          } catch {
            await client.end().catch(() => undefined);
          }
        }
      }
    })();
    return {
      got,
      async end() {
        stop = true;
        await done;
        for (const c of held) await c.end().catch(() => undefined);
      },
    };
  };

  beforeAll(async () => {
    cluster = await startTestCluster({ private: true });
    for (const sql of [
      "ALTER SYSTEM SET log_statement = 'all'",
      'SELECT pg_reload_conf()',
      "CREATE ROLE ns_ayb LOGIN CREATEDB PASSWORD 'ns-ayb-pw'",
      "CREATE ROLE ns_poller LOGIN PASSWORD 'ns-poller-pw'",
      "CREATE ROLE ns_user LOGIN PASSWORD 'ns-user-pw'",
      'CREATE DATABASE ns_app OWNER ns_ayb',
    ]) await cluster.query(sql, [], 'postgres');
    const app = new pg.Client({ connectionString: url('ns_ayb', 'ns-ayb-pw', 'ns_app') });
    await app.connect();
    // Only ayb and ns_user may connect to main; the poller never may, on main or on any copy of it.
    await app.query(`CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items SELECT generate_series(1, 3);
      REVOKE ALL ON DATABASE ns_app FROM PUBLIC; GRANT CONNECT ON DATABASE ns_app TO ns_user; GRANT SELECT ON items TO ns_user`);
    await app.end();
    env = { AYB_DATABASE_URL: url('ns_ayb', 'ns-ayb-pw', 'ns_app') };
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('a new copy refuses connections from the moment it exists: a polling role never gets in, and the server log shows why', async () => {
    const poller = poll('ns_poller', 'ns-poller-pw', 'ayb_branch_copy%');
    const made = await cli('branch', 'create', 'copy1', '--strategy', 'dump');
    const made2 = await cli('branch', 'create', 'copy2', '--strategy', 'template');
    await poller.end();
    expect(made.exitCode, made.stderr).toBe(0);
    expect(made2.exitCode, made2.stderr).toBe(0);
    expect(poller.got).toEqual([]);
    // The server's statement log: each copy is created refusing connections, PUBLIC loses its
    // privileges, and only then are connections allowed.
    const log = await readFile(path.join(cluster.dataDir, 'postgres.log'), 'utf8');
    // One entry per logged statement: a statement of several lines (several statements sent in one
    // round trip) continues on lines without the log line prefix (%m: a timestamp).
    const entries = log.split('\n').reduce<string[]>((all, l) => {
      if (/^\d{4}-\d\d-\d\d \d/.test(l) || all.length === 0) all.push(l);
      else all[all.length - 1] += `\n${l}`;
      return all;
    }, []);
    for (const db of ['ayb_branch_copy1', 'ayb_branch_copy2']) {
      const lines = entries.filter((l) => l.includes(db) && /statement: /.test(l));
      const create = lines.findIndex((l) => /CREATE DATABASE/i.test(l));
      const revoke = lines.findIndex((l) => /REVOKE ALL ON DATABASE .* FROM PUBLIC/i.test(l));
      const allow = lines.findIndex((l) => /ALLOW_CONNECTIONS true/i.test(l));
      expect(lines[create], db).toMatch(/ALLOW_CONNECTIONS false/i);
      expect(revoke).toBeGreaterThan(create);
      expect(allow).toBeGreaterThan(revoke);
    }
    // Once ready, the copy has main's grants: ns_user may connect, the poller still not.
    const user = new pg.Client({ connectionString: url('ns_user', 'ns-user-pw', 'ayb_branch_copy1') });
    await user.connect();
    await user.end();
  }, 300_000);

  it('branch reset grants access to the fresh copy only after the swap: a role allowed on the branch holding a session cannot block it', async () => {
    const poller = poll('ns_user', 'ns-user-pw', 'ayb_reset_%_new');
    let failures = 0;
    for (let i = 0; i < 3; i++) {
      const reset = spawnCli(['branch', 'reset', 'copy1', '--strategy', 'dump'], { env, timeout: 300_000 });
      const done = await reset;
      if (done.exitCode !== 0) failures++;
    }
    await poller.end();
    expect(poller.got).toEqual([]);
    expect(failures).toBe(0);
    // The branch has its grants back after the swap.
    const expected = (await cluster.query<{ ok: boolean }>("SELECT has_database_privilege('ns_user', 'ns_app', 'CONNECT') AS ok", [], 'postgres')).rows[0]!.ok;
    const got = (await cluster.query<{ ok: boolean }>("SELECT has_database_privilege('ns_user', 'ayb_branch_copy1', 'CONNECT') AS ok", [], 'postgres')).rows[0]!.ok;
    expect(got).toBe(expected);
  }, 300_000);
});
