import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../helpers/cli.js';
import { execa } from 'execa';
import { findTool } from '../../src/postgres/tools.js';
import { waitUntil } from '../helpers/gate.js';
import type { TestCluster } from '../helpers/cluster.js';
import { type HistoryScenario, startHistoryScenario } from '../helpers/history-scenario.js';

/**
 * An outsider's attacks on copies in the making: a role other than ayb must reach neither a copy
 * nor what it is copied from while ayb makes it. The judges are the server's own answers (a login
 * tried, the rows of the branch compared with main's as they were), never ayb's view.
 */
const PASSWORD = 'Mall0ry-pw';

describe('copies attacked while they are made', () => {
  let scenario: HistoryScenario;
  let cluster: TestCluster;
  let work: string;
  const cli = (...args: string[]) => runCli(args, { cwd: work, timeout: 300_000 });
  const now = async () =>
    (await cluster.query<{ t: string }>(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t`)).rows[0]!.t;

  beforeAll(async () => {
    scenario = await startHistoryScenario({ name: 'copy-attack' });
    ({ cluster, work } = scenario);
    await cluster.query(`CREATE ROLE att_mallory LOGIN PASSWORD '${PASSWORD}'`, [], 'postgres');
    await cluster.query(
      `CREATE TABLE items (id int PRIMARY KEY, note text);
       INSERT INTO items SELECT g, 'seed ' || g FROM generate_series(1, 3) g;
       GRANT SELECT, INSERT ON items TO att_mallory`,
    );
  }, 300_000);
  afterAll(async () => {
    await scenario?.stop();
  });

  it('the temporary cluster of a point-in-time create lets no role but ayb in, so the branch is main at that moment and nothing else', async () => {
    const moment = await now();
    // After the moment: a row the branch must not have, and a role that may no longer log in.
    await cluster.query("INSERT INTO items VALUES (4, 'after the moment')");
    await cluster.query('ALTER ROLE att_mallory NOLOGIN', [], 'postgres');
    const create = spawnCli(['branch', 'create', 'past', '--from', `main@${moment}`, '--json'], { cwd: work, timeout: 300_000 });
    let finished = false;
    void create.finally(() => { finished = true; });
    const history = path.join(work, 'history');
    // The temporary cluster's port, from its postmaster.pid (line 4), once it has started.
    const port = await waitUntil('the temporary cluster to start', async () => {
      if (finished) return -1;
      for (const entry of await readdir(history).catch(() => [] as string[])) {
        if (!entry.startsWith('restore-')) continue;
        const pid = await readFile(path.join(history, entry, 'data', 'postmaster.pid'), 'utf8').catch(() => '');
        const port = Number(pid.split('\n')[3]);
        if (port > 0) return port;
      }
      return undefined;
    }, 120_000);
    expect(port, 'the create ended before its temporary cluster was seen').toBeGreaterThan(0);
    // Mallory, who could log in at that moment, tries as long as the create runs.
    let admitted = false;
    let wrote = false;
    const refusals = new Set<string>();
    while (!finished) {
      const client = new pg.Client({ host: '127.0.0.1', port, user: 'att_mallory', password: PASSWORD, database: 'ayb' });
      client.on('error', () => undefined);
      try {
        await client.connect();
        admitted = true;
        // Once promoted, the session may write: a row the branch would carry.
        while (!finished && !wrote) {
          const recovering = (await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r;
          if (!recovering) {
            await client.query("INSERT INTO items VALUES (666, 'written by mallory')");
            wrote = true;
          }
        }
      } catch (error) {
        refusals.add((error as Error).message);
      } finally {
        await client.end().catch(() => undefined);
      }
      if (admitted) break;
    }
    const made = await create;
    expect(made.exitCode, String(made.stderr)).toBe(0);
    const ids = await cluster.query<{ id: number }>('SELECT id FROM items ORDER BY id', [], 'ayb_branch_past');
    expect(ids.rows.map((r) => r.id)).toEqual([1, 2, 3]);
    expect(admitted, `a role other than ayb logged in to the temporary cluster${wrote ? ' and wrote a row' : ''}`).toBe(false);
    // The server was up and said no (not merely a port nobody listened on).
    expect([...refusals].join('\n')).toMatch(/no pg_hba\.conf entry/);
  }, 300_000);

  it('every kind of copy grants exactly what main grants: owners, object, column and default privileges, SECURITY DEFINER, RLS, schemas, database', async () => {
    await writeFile(
      path.join(work, 'ayb.toml'),
      `[managed_pg]\ndata_dir = "${cluster.dataDir}"\nport = ${cluster.port}\n\n[history]\nenabled = true\ndir = "history"\n\n` +
        '[masking]\nkeep = ["app.t.secret", "app.t.public_note"]\n\n[[masking.rules]]\ntable = "items"\ncolumn = "note"\nfunction = "sql"\nargs = { expression = "\'masked-\' || id" }\n',
    );
    for (const role of ['att_owner', 'att_reader']) await cluster.query(`CREATE ROLE ${role} LOGIN`, [], 'postgres');
    await cluster.query(
      `REVOKE ALL ON SCHEMA public FROM PUBLIC;
       GRANT USAGE ON SCHEMA public TO att_reader, att_mallory;
       CREATE SCHEMA app AUTHORIZATION att_owner;
       SET ROLE att_owner;
       ALTER DEFAULT PRIVILEGES IN SCHEMA app REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
       ALTER DEFAULT PRIVILEGES IN SCHEMA app GRANT SELECT ON TABLES TO att_reader;
       CREATE TABLE app.t (id int PRIMARY KEY, secret text, public_note text);
       INSERT INTO app.t VALUES (1, 's1', 'p1'), (2, 's2', 'p2');
       REVOKE SELECT ON app.t FROM att_reader;
       GRANT SELECT (id, public_note) ON app.t TO att_reader;
       GRANT UPDATE (public_note) ON app.t TO att_mallory;
       ALTER TABLE app.t ENABLE ROW LEVEL SECURITY;
       ALTER TABLE app.t FORCE ROW LEVEL SECURITY;
       CREATE POLICY only_one ON app.t TO att_reader USING (id = 1);
       CREATE SEQUENCE app.s;
       GRANT USAGE ON SEQUENCE app.s TO att_reader;
       CREATE TYPE app.mood AS ENUM ('ok');
       REVOKE USAGE ON TYPE app.mood FROM PUBLIC;
       CREATE FUNCTION app.peek() RETURNS bigint LANGUAGE sql SECURITY DEFINER AS 'SELECT count(*) FROM app.t';
       GRANT EXECUTE ON FUNCTION app.peek() TO att_reader;
       CREATE FUNCTION app.open_fn() RETURNS int LANGUAGE sql AS 'SELECT 1';
       RESET ROLE;
       GRANT USAGE ON SCHEMA app TO att_reader;
       REVOKE ALL ON DATABASE ayb FROM PUBLIC;
       GRANT CONNECT ON DATABASE ayb TO att_reader, att_owner;
       ALTER DATABASE ayb CONNECTION LIMIT 50`,
    );
    const moment = await now();
    /** The server's own answer, per role, for every object of the fixture. */
    const matrix = async (database: string) =>
      (await cluster.query(
        `SELECT r.rolname AS role,
                has_database_privilege(r.rolname, $1, 'CONNECT') AS db_connect, has_database_privilege(r.rolname, $1, 'CREATE') AS db_create,
                has_database_privilege(r.rolname, $1, 'TEMPORARY') AS db_temp,
                has_schema_privilege(r.rolname, 'public', 'USAGE') AS public_usage, has_schema_privilege(r.rolname, 'public', 'CREATE') AS public_create,
                has_schema_privilege(r.rolname, 'app', 'USAGE') AS app_usage, has_schema_privilege(r.rolname, 'app', 'CREATE') AS app_create,
                has_table_privilege(r.rolname, 'app.t', 'SELECT') AS t_select, has_table_privilege(r.rolname, 'app.t', 'UPDATE') AS t_update,
                has_column_privilege(r.rolname, 'app.t', 'secret', 'SELECT') AS secret_select,
                has_column_privilege(r.rolname, 'app.t', 'public_note', 'SELECT') AS note_select,
                has_column_privilege(r.rolname, 'app.t', 'public_note', 'UPDATE') AS note_update,
                has_sequence_privilege(r.rolname, 'app.s', 'USAGE') AS s_usage, has_type_privilege(r.rolname, 'app.mood', 'USAGE') AS mood_usage,
                has_function_privilege(r.rolname, 'app.peek()', 'EXECUTE') AS peek_exec,
                has_function_privilege(r.rolname, 'app.open_fn()', 'EXECUTE') AS open_exec,
                has_table_privilege(r.rolname, 'items', 'INSERT') AS items_insert,
                pg_has_role(r.rolname, (SELECT relowner FROM pg_class WHERE oid = 'app.t'::regclass), 'USAGE') AS owns_t,
                (SELECT prosecdef AND pg_get_userbyid(proowner) = 'att_owner' FROM pg_proc WHERE oid = 'app.peek()'::regprocedure) AS peek_definer_owner,
                (SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE oid = 'app.t'::regclass) AS rls_forced,
                (SELECT count(*)::int FROM pg_policy WHERE polrelid = 'app.t'::regclass) AS policies,
                (SELECT datconnlimit FROM pg_database WHERE datname = $1) AS connlimit
           FROM pg_roles r WHERE r.rolname IN ('att_owner', 'att_reader', 'att_mallory') ORDER BY 1`,
        [database],
        database,
      )).rows;
    /** pg_dump's own privilege, owner, policy and security lines (the control table's aside). */
    const privilegeLines = async (database: string) => {
      const tool = await findTool('pg_dump', 0);
      const { conn } = cluster;
      const { stdout } = await execa(tool.path, ['--schema-only', '-h', conn.host, '-p', String(conn.port), '-U', conn.user ?? 'ayb', database], {
        env: { PGPASSWORD: conn.password ?? '' },
      });
      return stdout.split('\n')
        .filter((line) => /^(GRANT|REVOKE|ALTER DEFAULT PRIVILEGES|CREATE POLICY|SET SESSION AUTHORIZATION)|OWNER TO|ROW LEVEL SECURITY|SECURITY DEFINER/.test(line))
        .filter((line) => !/_ayb_branches/.test(line))
        .sort();
    };
    const expectedMatrix = await matrix('ayb');
    const expectedLines = await privilegeLines('ayb');
    expect(expectedLines.length).toBeGreaterThan(10);
    const env = { AYB_MASKING_SECRET: 'attack-secret-0123456789abcdef' };
    const run = async (...args: string[]) => {
      const result = await runCli(args, { cwd: work, timeout: 300_000, env });
      expect(result.exitCode, `ayb ${args.join(' ')}: ${result.stderr}`).toBe(0);
    };
    await run('branch', 'create', 'k-template', '--strategy', 'template');
    await run('branch', 'create', 'k-dump', '--strategy', 'dump');
    await run('branch', 'create', 'k-masked-dump', '--strategy', 'dump', '--masked');
    await run('branch', 'create', 'k-masked-template', '--strategy', 'template', '--masked');
    await run('snapshot', 'create', 'k-snap', '--strategy', 'template');
    await run('snapshot', 'create', 'k-snapd', '--strategy', 'dump');
    await run('branch', 'create', 'k-of-snap', '--from', 'k-snap');
    await run('branch', 'create', 'k-of-snapd', '--from', 'k-snapd');
    await run('branch', 'create', 'k-of-branch', '--from', 'k-dump', '--strategy', 'dump');
    await run('branch', 'create', 'k-reset-dump', '--strategy', 'template');
    await run('branch', 'reset', 'k-reset-dump', '--strategy', 'dump');
    await run('branch', 'create', 'k-reset-snap', '--strategy', 'dump');
    await run('branch', 'reset', 'k-reset-snap', '--to', 'k-snapd');
    await run('branch', 'create', 'k-past', '--from', `main@${moment}`);
    await run('snapshot', 'create', 'k-past-snap', '--of', `main@${moment}`);
    await run('branch', 'create', 'k-of-past-snap', '--from', 'k-past-snap');
    const copies = ['k_template', 'k_dump', 'k_masked_dump', 'k_masked_template', 'k_of_snap', 'k_of_snapd', 'k_of_branch', 'k_reset_dump', 'k_reset_snap', 'k_past', 'k_of_past_snap'];
    const got: Record<string, unknown> = {};
    const want: Record<string, unknown> = {};
    for (const copy of copies) {
      const database = `ayb_branch_${copy}`;
      got[copy] = { matrix: (await matrix(database)).map((row) => ({ ...row })), lines: await privilegeLines(database) };
      want[copy] = { matrix: expectedMatrix.map((row) => ({ ...row })), lines: expectedLines };
    }
    expect(got).toEqual(want);
  }, 600_000);

  /** Alive and not a zombie waiting for init to reap it. */
  const alive = (pid: number) => {
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  };
  /**
   * A folder first on ayb's PATH whose `tool` stands in for the real one when its argv contains
   * `when`: it writes its pid and waits (exec sleep: the pid stays the tool's), standing for a long
   * copy; anything else (--version) runs the real tool.
   */
  const stallingTool = async (tool: string, real: string, when: string) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ayb-stall-'));
    await chmod(dir, 0o777);
    const script = `#!/bin/sh\ncase "$*" in *${when}*) echo $$ > ${dir}/pid; exec sleep 600;; esac\nexec ${real} "$@"\n`;
    await writeFile(path.join(dir, tool), script, { mode: 0o755 });
    return { dir, pid: async () => Number((await readFile(path.join(dir, 'pid'), 'utf8').catch(() => '')).trim()) || undefined };
  };

  it('kill -9 of ayb during the cp -a of a point-in-time restore: cp dies with it', async () => {
    const moment = await now();
    const stall = await stallingTool('cp', '/bin/cp', '/restore-');
    let pid: number | undefined;
    try {
      const create = spawnCli(['branch', 'create', 'killed-cp', '--from', `main@${moment}`], {
        cwd: work, timeout: 300_000, env: { PATH: `${stall.dir}:${process.env.PATH}` },
      });
      pid = await waitUntil('cp -a to start', stall.pid, 120_000);
      expect(alive(pid)).toBe(true);
      process.kill(create.pid!, 'SIGKILL');
      await create;
      await waitUntil(`cp (pid ${pid}) to end with ayb`, async () => !alive(pid!), 15_000);
    } finally {
      if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
      await rm(stall.dir, { recursive: true, force: true });
    }
    // The next history command removes what the killed one left.
    expect((await cli('history')).exitCode).toBe(0);
  }, 300_000);

  it('kill -9 of ayb during pg_basebackup: pg_basebackup dies with it', async () => {
    const real = await findTool('pg_basebackup', 0);
    const stall = await stallingTool('pg_basebackup', real.path, '.partial-');
    // A new history folder: the next command takes a base backup there.
    await writeFile(
      path.join(work, 'ayb.toml'),
      `[managed_pg]\ndata_dir = "${cluster.dataDir}"\nport = ${cluster.port}\n\n[history]\nenabled = true\ndir = "history-moved"\n`,
    );
    let pid: number | undefined;
    try {
      const history = spawnCli(['history'], { cwd: work, timeout: 300_000, env: { PATH: `${stall.dir}:${process.env.PATH}` } });
      pid = await waitUntil('pg_basebackup to start', stall.pid, 120_000);
      expect(alive(pid)).toBe(true);
      process.kill(history.pid!, 'SIGKILL');
      await history;
      await waitUntil(`pg_basebackup (pid ${pid}) to end with ayb`, async () => !alive(pid!), 15_000);
    } finally {
      if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
      await rm(stall.dir, { recursive: true, force: true });
    }
  }, 300_000);

  it('branch reset of a point-in-time branch brings it back to that moment (its source main@<time> is in the window)', async () => {
    const expected = (await cluster.query<{ id: number; note: string }>('SELECT id, note FROM items ORDER BY id')).rows;
    // A base backup first: a test before this one killed ayb during one, and the moment must fall after the next.
    const history = await cli('history');
    expect(history.exitCode, history.stderr).toBe(0);
    const moment = await now();
    await cluster.query("INSERT INTO items VALUES (5, 'after the moment')");
    const made = await cli('branch', 'create', 'pit-reset', '--from', `main@${moment}`);
    expect(made.exitCode, made.stderr).toBe(0);
    await cluster.query("INSERT INTO items VALUES (777, 'written on the branch')", [], 'ayb_branch_pit_reset');
    const reset = await cli('branch', 'reset', 'pit-reset');
    expect(reset.exitCode, reset.stderr).toBe(0);
    const rows = (await cluster.query<{ id: number; note: string }>('SELECT id, note FROM items ORDER BY id', [], 'ayb_branch_pit_reset')).rows;
    expect(rows).toEqual(expected);
  }, 300_000);

  it('branch reset, as branch url suggests for a branch whose database is invalid (an interrupted DROP), makes it anew', async () => {
    expect((await cli('branch', 'create', 'inv', '--strategy', 'template')).exitCode).toBe(0);
    // What an interrupted DROP DATABASE leaves (PostgreSQL 15.4+ marks it so).
    await cluster.query("UPDATE pg_database SET datconnlimit = -2 WHERE datname = 'ayb_branch_inv'", [], 'postgres');
    const url = await cli('branch', 'url', 'inv');
    expect(url.exitCode).not.toBe(0);
    expect(url.stderr).toMatch(/ayb branch reset inv/);
    const reset = await cli('branch', 'reset', 'inv');
    expect(reset.exitCode, reset.stderr).toBe(0);
    const expected = (await cluster.query<{ id: number }>('SELECT id FROM items ORDER BY id')).rows;
    expect((await cluster.query<{ id: number }>('SELECT id FROM items ORDER BY id', [], 'ayb_branch_inv')).rows).toEqual(expected);
    expect((await cli('branch', 'url', 'inv')).exitCode).toBe(0);
  }, 300_000);
});
