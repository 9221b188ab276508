import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { connect } from '../../src/postgres/client.js';
import { withDatabase } from '../../src/postgres/conninfo.js';
import { connectMaintenance } from '../../src/postgres/maintenance.js';
import { MaintenancePool } from '../../src/postgres/maintenance-pool.js';
import { templateClone } from '../../src/clone/template.js';
import { openAyb } from '../../src/lib/index.js';

/**
 * Issue 28 item 1: a long-lived process (the library's Ayb, `ayb start`) keeps its maintenance
 * sessions between commands, and a template copy lifts and restores its statement limit inside
 * the round trips around CREATE DATABASE. Judged by the server's own views (pg_locks,
 * pg_stat_activity, current_setting on a fresh session), never by the pool's view of itself.
 */
describe('kept maintenance sessions and the statement limit of a copy', () => {
  let cluster: TestCluster;
  /** statement_timeout as ayb's limits set it on a fresh maintenance session (the reference). */
  let limit: string;

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createApp('CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items VALUES (1), (2)');
    const fresh = await connectMaintenance(withDatabase(cluster.conn, 'app'));
    try {
      limit = (await fresh.query<{ v: string }>("SELECT current_setting('statement_timeout') AS v")).rows[0]!.v;
    } finally {
      await fresh.end();
    }
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const advisoryLocksOf = async (pid: number) =>
    Number((await cluster.query<{ n: string }>("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = $1", [pid], 'postgres')).rows[0]!.n);

  it('a session given back comes out again with no lock, no setting and ayb\'s limits', async () => {
    const pool = new MaintenancePool(withDatabase(cluster.conn, 'app'));
    try {
      const first = await pool.acquire();
      const pid = (await first.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      // What a command cut short could leave: a lock it never released, its limit lifted, a name.
      await first.query("SELECT pg_advisory_lock(4242); SET statement_timeout = 0; SET application_name = 'left-over'");
      expect(await advisoryLocksOf(pid)).toBe(1);
      await first.end();
      // Given back: the lease refuses further statements (a late caller never reaches the next command's session).
      await expect(first.query('SELECT 1')).rejects.toThrow(/given back/);

      const second = await pool.acquire();
      const again = (await second.query<{ pid: number; timeout: string; app: string }>(
        "SELECT pg_backend_pid() AS pid, current_setting('statement_timeout') AS timeout, current_setting('application_name') AS app",
      )).rows[0]!;
      expect(again.pid).toBe(pid); // kept, not a new connection
      expect(pool.connections).toBe(1);
      expect(await advisoryLocksOf(pid)).toBe(0);
      expect(again.timeout).toBe(limit);
      expect(again.app).toBe('ayb');
      await second.end();
    } finally {
      await pool.close();
    }
  });

  it('a session the server ended is not handed out again', async () => {
    const pool = new MaintenancePool(withDatabase(cluster.conn, 'app'));
    try {
      const first = await pool.acquire();
      const pid = (await first.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      await first.end();
      const second = await pool.acquire(); // the same session, once reset
      await second.end();
      await cluster.query('SELECT pg_terminate_backend($1)', [pid], 'postgres');
      await cluster.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid], 'postgres');
      // Whether or not the client has noticed yet, the next command gets a session that works.
      let third = await pool.acquire();
      const answer = await third.query<{ pid: number }>('SELECT pg_backend_pid() AS pid').catch(async () => {
        await third.end();
        third = await pool.acquire();
        return third.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      });
      expect(answer.rows[0]!.pid).not.toBe(pid);
      await third.end();
    } finally {
      await pool.close();
    }
  });

  it('the library keeps no session on main between calls: a bare template copy of main works at once, no lock is left', async () => {
    const ayb = await openAyb({ databaseUrl: cluster.url('app') });
    try {
      await ayb.create('kept-a');
      await ayb.delete('kept-a');
      // A failed create (a name taken by a database ayb did not make) on a kept session.
      await cluster.query('CREATE DATABASE ayb_branch_kept_b', [], 'postgres');
      await expect(ayb.create('kept-b')).rejects.toMatchObject({ code: 'database_exists' });
      // A call that takes a maintenance session after it: it waits for the failed create's to be reset.
      await ayb.delete('no-such', { ifExists: true });
      const onMain = await cluster.query("SELECT pid FROM pg_stat_activity WHERE datname = 'app' AND application_name = 'ayb' AND state IS NOT NULL", [], 'postgres');
      const aybSessions = await cluster.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = 'postgres' AND application_name = 'ayb'", [], 'postgres');
      const locks = await cluster.query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = ANY($1::int[])", [aybSessions.rows.map((r) => r.pid)], 'postgres');
      expect(locks.rowCount).toBe(0);
      expect(aybSessions.rowCount).toBeLessThanOrEqual(2);
      // A session on main just closed may still be listed while its backend exits; CREATE DATABASE waits for those.
      expect(onMain.rowCount).toBeLessThanOrEqual(1);
      await cluster.query('CREATE DATABASE bare_copy TEMPLATE app STRATEGY FILE_COPY', [], 'postgres');
      await cluster.query('DROP DATABASE bare_copy', [], 'postgres');
      await cluster.query('DROP DATABASE ayb_branch_kept_b', [], 'postgres');
    } finally {
      await ayb.close();
    }
  });

  it.each([
    ['never calls close()', ''],
    // Ending kept (unref'd) sessions with nothing else to do: the await must settle (it did not: exit 13).
    ['awaits close() last', 'await ayb.close(); console.log("closed");'],
  ])('a program that %s exits, exit code 0', async (_, last) => {
    const program = `
      const { openAyb } = await import(${JSON.stringify(path.join(REPO_ROOT, 'dist/lib/index.js'))});
      const ayb = await openAyb({ databaseUrl: process.env.URL });
      await ayb.create('exits-a');
      await ayb.delete('exits-a');
      console.log('done');
      ${last}`;
    const run = await execa('node', ['--input-type=module', '-e', program], { env: { URL: cluster.url('app') }, reject: false, timeout: 60_000 });
    expect(run.timedOut).toBe(false);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout.trim().split('\n')).toEqual(last ? ['done', 'closed'] : ['done']);
  });

  it('a template copy puts the statement limit back: after the copy, after a failed one, lifted by the caller or not', async () => {
    const maint = await connectMaintenance(withDatabase(cluster.conn, 'app'));
    const timeout = async () => (await maint.query<{ v: string }>("SELECT current_setting('statement_timeout') AS v")).rows[0]!.v;
    const major = Math.floor(Number((await maint.query<{ n: string }>("SELECT current_setting('server_version_num') AS n")).rows[0]!.n) / 10000);
    let busy: Awaited<ReturnType<typeof connect>> | undefined;
    try {
      // Lifted by the caller (as a template copy's source read does): back after the copy.
      await maint.query('SET statement_timeout = 0');
      await templateClone(maint, 'app', 'lift_a', major, 'copy', { lifted: true });
      expect(await timeout()).toBe(limit);
      // Lifted here: the same.
      await templateClone(maint, 'app', 'lift_b', major, 'copy');
      expect(await timeout()).toBe(limit);
      // The source busy: the copy fails, the limit is back all the same.
      busy = await connect(withDatabase(cluster.conn, 'app'));
      await maint.query('SET statement_timeout = 0');
      await expect(templateClone(maint, 'app', 'lift_c', major, 'copy', { lifted: true })).rejects.toMatchObject({ code: 'source_busy' });
      expect(await timeout()).toBe(limit);
      // The target taken: the copy fails, the limit is back.
      await busy.end();
      busy = undefined;
      await maint.query('SET statement_timeout = 0');
      await expect(templateClone(maint, 'app', 'lift_a', major, 'copy', { lifted: true })).rejects.toThrow(/already exists/);
      expect(await timeout()).toBe(limit);
      const made = await cluster.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'lift_%' ORDER BY 1", [], 'postgres');
      expect(made.rows.map((r) => r.datname)).toEqual(['lift_a', 'lift_b']);
    } finally {
      await busy?.end().catch(() => undefined);
      for (const name of ['lift_a', 'lift_b', 'lift_c']) await maint.query(`DROP DATABASE IF EXISTS ${name}`).catch(() => undefined);
      await maint.end();
    }
  });
});
