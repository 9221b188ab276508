import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { advisoryLocksHeld, waitUntil } from '../helpers/clone-probes.js';
import { whileRunning } from '../helpers/gate.js';

/**
 * kill -9 at the points of the agent-speed protocol (issue 28): a copy that leaves the control table
 * out is dropped and opened in one transaction on a session of the copy's (its source's grants and
 * connection limit given with the drop, after its database settings); a delete lifts the DROP's
 * statement limit while it marks the record. Each point is reached with a lock the test holds (no
 * sleeps), ayb is killed there, and what is left is judged from pg_database, the copy's own catalog
 * and the control table, by SQL of the test's own; the next command must leave no orphaned database
 * and no stale record.
 *
 * The source is a database of the same server given by URL (as another ayb's main would be): its
 * copy leaves the control table out like a copy of main, while a session on main (the test's gate
 * on the record) does not make the copy wait.
 */
describe('kill -9 at the points of the create and delete protocol', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  let sourceUrl: string;
  const cli = (...args: string[]) => runCli(args, { env });
  const record = async (name: string) =>
    (await cluster.query<{ status: string }>('SELECT status FROM _ayb_branches WHERE name = $1', [name], 'app')).rows[0]?.status;
  const databaseThere = async (database: string) =>
    ((await cluster.query('SELECT 1 FROM pg_database WHERE datname = $1', [database], 'postgres')).rowCount ?? 0) > 0;
  /** A statement of ayb's waiting for a lock, by the start of its text. */
  const waiting = (start: string) => async () =>
    ((await cluster.query("SELECT 1 FROM pg_stat_activity WHERE starts_with(query, $1) AND wait_event_type = 'Lock'", [start], 'postgres')).rowCount ?? 0) > 0;

  /** An open transaction of the test's that has run `statements` (holding their locks) until release(). */
  const hold = async (database: string, ...statements: string[]) => {
    const { conn } = cluster;
    const client = new pg.Client({ host: conn.host, port: conn.port, user: conn.user, password: conn.password, database, application_name: 'test-gate' });
    client.on('error', () => undefined);
    await client.connect();
    await client.query('BEGIN');
    for (const statement of statements) await client.query(statement);
    let released = false;
    return {
      async release() {
        if (released) return;
        released = true;
        await client.query('ROLLBACK').catch(() => undefined);
        await client.end().catch(() => undefined);
      },
    };
  };

  beforeAll(async () => {
    cluster = await startTestCluster();
    env = await cluster.createApp('CREATE TABLE item (id int PRIMARY KEY, label text); INSERT INTO item VALUES (1, $$one$$), (2, $$two$$);');
    await cluster.query('DROP DATABASE IF EXISTS agent_kill_src', [], 'postgres');
    await cluster.query('CREATE DATABASE agent_kill_src', [], 'postgres');
    // Another ayb's main, as far as a copy can tell: a control table of its own, grants, a limit, a setting.
    await cluster.query(
      `CREATE TABLE public._ayb_branches (id int); INSERT INTO public._ayb_branches VALUES (1);
       CREATE TABLE thing (id int PRIMARY KEY); INSERT INTO thing SELECT generate_series(1, 50);`,
      [],
      'agent_kill_src',
    );
    await cluster.query("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'agent_kill_reader') THEN CREATE ROLE agent_kill_reader; END IF; END $$", [], 'postgres');
    await cluster.query(
      `REVOKE ALL ON DATABASE agent_kill_src FROM PUBLIC;
       GRANT CONNECT ON DATABASE agent_kill_src TO agent_kill_reader;
       ALTER DATABASE agent_kill_src CONNECTION LIMIT 7;
       ALTER DATABASE agent_kill_src SET work_mem = '5MB'`,
      [],
      'postgres',
    );
    sourceUrl = cluster.url('agent_kill_src');
  });
  afterAll(async () => {
    await cluster?.query('DROP DATABASE IF EXISTS agent_kill_src', [], 'postgres').catch(() => undefined);
    await cluster?.stop();
  });

  /** The copy as the server has it: the control table, PUBLIC's and the reader's CONNECT, the limit. */
  const copyState = async (database: string) => {
    const { rows } = await cluster.query<{ public_connect: boolean; reader_connect: boolean; connlimit: number }>(
      `SELECT has_database_privilege('public', datname, 'CONNECT') AS public_connect,
              has_database_privilege('agent_kill_reader', datname, 'CONNECT') AS reader_connect, datconnlimit AS connlimit
         FROM pg_database WHERE datname = $1`,
      [database],
      'postgres',
    );
    const { rows: table } = await cluster.query<{ there: boolean }>("SELECT to_regclass('public._ayb_branches') IS NOT NULL AS there", [], database);
    return { ...rows[0]!, controlTable: table[0]!.there };
  };

  it('a finished copy: no control table, its source grants and limit, ready', async () => {
    const made = await cli('branch', 'create', 'k-plain', '--from', sourceUrl, '--strategy', 'template', '--json');
    expect(made.exitCode, made.stderr).toBe(0);
    expect(await record('k-plain')).toBe('ready');
    expect(await copyState('ayb_branch_k_plain')).toEqual({ public_connect: false, reader_connect: true, connlimit: 7, controlTable: false });
    const { rows } = await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM thing', [], 'ayb_branch_k_plain');
    expect(rows[0]!.n).toBe(50);
    expect((await cli('branch', 'delete', 'k-plain', '--yes')).exitCode).toBe(0);
  });

  it('killed after the copy is made, before it is dropped and opened: the next command drops it and marks the record failed', async () => {
    // The copy's database settings are given on the maintenance session before the drop and open are
    // sent: a lock on pg_db_role_setting holds them there, with the copy made and the record `creating`.
    const gate = await hold('postgres', 'LOCK TABLE pg_catalog.pg_db_role_setting IN EXCLUSIVE MODE');
    let released = false;
    try {
      const child = spawnCli(['branch', 'create', 'k-made', '--from', sourceUrl, '--strategy', 'template'], { env });
      await waitUntil('the copy\'s settings to wait at the gate', waiting('ALTER DATABASE "ayb_branch_k_made" SET'), { unless: whileRunning(child, 'ayb') });
      expect(await record('k-made')).toBe('creating');
      expect(await databaseThere('ayb_branch_k_made')).toBe(true);
      // Not dropped nor opened yet: the control table is there, PUBLIC has lost CONNECT, the limit is 0.
      expect(await copyState('ayb_branch_k_made')).toMatchObject({ controlTable: true, public_connect: false, reader_connect: false });
      child.kill('SIGKILL');
      expect((await child).signal).toBe('SIGKILL');
      await gate.release();
      released = true;
    } finally {
      if (!released) await gate.release();
    }
    // The killed process's sessions end once their statements do, and its branch lock with them.
    await waitUntil('the branch lock to be released', async () => (await advisoryLocksHeld(cluster)) === 0);
    const next = await cli('branch', 'list', '--json');
    expect(next.exitCode, next.stderr).toBe(0);
    expect(next.stderr).toContain('Removed the partial database "ayb_branch_k_made" of branch "k-made"');
    expect(await databaseThere('ayb_branch_k_made')).toBe(false);
    expect(await record('k-made')).toBe('failed');
    // The name can be created again (the failed record replaced), complete.
    const again = await cli('branch', 'create', 'k-made', '--from', sourceUrl, '--strategy', 'template');
    expect(again.exitCode, again.stderr).toBe(0);
    expect(await record('k-made')).toBe('ready');
    expect(await copyState('ayb_branch_k_made')).toEqual({ public_connect: false, reader_connect: true, connlimit: 7, controlTable: false });
    expect((await cli('branch', 'delete', 'k-made', '--yes')).exitCode).toBe(0);
  });

  it('killed while `ready` waits, after the copy was dropped and opened in one commit: the server finishes the create, nothing is left over', async () => {
    const settings = await hold('postgres', 'LOCK TABLE pg_catalog.pg_db_role_setting IN EXCLUSIVE MODE');
    let ready: { release(): Promise<void> } | undefined;
    try {
      const child = spawnCli(['branch', 'create', 'k-ready', '--from', sourceUrl, '--strategy', 'template'], { env });
      await waitUntil('the copy\'s settings to wait at the gate', waiting('ALTER DATABASE "ayb_branch_k_ready" SET'), { unless: whileRunning(child, 'ayb') });
      // The record is `creating` now: hold its row, so that `ready` waits, then let the copy finish.
      ready = await hold('app', "SELECT 1 FROM public._ayb_branches WHERE name = 'k-ready' FOR UPDATE");
      await settings.release();
      await waitUntil('`ready` to wait for the record', waiting('UPDATE public._ayb_branches SET status'), { unless: whileRunning(child, 'ayb') });
      // Dropped and opened, all in one commit, before `ready` is asked for.
      expect(await copyState('ayb_branch_k_ready')).toEqual({ public_connect: false, reader_connect: true, connlimit: 7, controlTable: false });
      expect(await record('k-ready')).toBe('creating');
      child.kill('SIGKILL');
      expect((await child).signal).toBe('SIGKILL');
    } finally {
      await settings.release();
      await ready?.release();
    }
    // The UPDATE had reached the server: its session finishes it once the row is free, then ends.
    await waitUntil('the branch lock to be released', async () => (await advisoryLocksHeld(cluster)) === 0);
    await waitUntil('the killed process\'s sessions to end', async () =>
      ((await cluster.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'ayb'", [], 'postgres')).rowCount ?? 0) === 0);
    const next = await cli('branch', 'list', '--json');
    expect(next.exitCode, next.stderr).toBe(0);
    const listed = (next.json() as { name: string; status: string }[]).find((r) => r.name === 'k-ready');
    expect(listed?.status).toBe('ready');
    expect(await record('k-ready')).toBe('ready');
    expect(await databaseThere('ayb_branch_k_ready')).toBe(true);
    expect((await cli('branch', 'delete', 'k-ready', '--yes')).exitCode).toBe(0);
    expect(await databaseThere('ayb_branch_k_ready')).toBe(false);
    expect(await record('k-ready')).toBeUndefined();
  });

  it('a delete killed while it marks the record (its DROP\'s limit lifted beside it): the next command finishes the delete', async () => {
    const made = await cli('branch', 'create', 'k-del', '--strategy', 'template');
    expect(made.exitCode, made.stderr).toBe(0);
    const row = await hold('app', "SELECT 1 FROM public._ayb_branches WHERE name = 'k-del' FOR UPDATE");
    let released = false;
    try {
      const child = spawnCli(['branch', 'delete', 'k-del', '--yes'], { env });
      await waitUntil('the mark `deleting` to wait for the record', waiting('UPDATE public._ayb_branches SET status'), { unless: whileRunning(child, 'ayb') });
      child.kill('SIGKILL');
      expect((await child).signal).toBe('SIGKILL');
      await row.release();
      released = true;
    } finally {
      if (!released) await row.release();
    }
    await waitUntil('the branch lock to be released', async () => (await advisoryLocksHeld(cluster)) === 0);
    // The mark reached the server and was written once the row was free; the DROP was never sent.
    expect(await record('k-del')).toBe('deleting');
    expect(await databaseThere('ayb_branch_k_del')).toBe(true);
    const next = await cli('branch', 'list', '--json');
    expect(next.exitCode, next.stderr).toBe(0);
    expect(next.stderr).toContain('Finished deleting branch "k-del" (its delete was interrupted).');
    expect(await databaseThere('ayb_branch_k_del')).toBe(false);
    expect(await record('k-del')).toBeUndefined();
  });
});
