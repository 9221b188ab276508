import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { dumpWaitingAtGate, holdDatabaseGate, holdGate, waitUntil } from '../helpers/gate.js';
import { waitingOnLock } from '../helpers/refusal.js';

/**
 * Recovery (the next command finishing what an interrupted one left) and the work of other
 * processes and people on the same server: it never drops what is not its own, and ayb's locks stay
 * held for as long as the work they guard runs. A create whose maintenance session (and with it the
 * branch lock) is gone looks interrupted to the next command, which finishes it; the name may then
 * be created again by another process, and the first create's own cleanup must not drop that.
 * A private cluster: the tests end ayb's sessions and change server settings.
 */
describe('recovery and the work of others', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;

  beforeAll(async () => {
    cluster = await startTestCluster({ private: true });
    await cluster.createDatabase('app');
    await cluster.createDatabase('src');
    await cluster.query('CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items VALUES (1)', [], 'src');
    // pg_dump waits at the gate for as long as the test holds it.
    env = { AYB_DATABASE_URL: cluster.url('app'), AYB_LOCK_TIMEOUT: '0' };
    expect((await runCli(['branch', 'list'], { env })).exitCode).toBe(0);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('a create that lost its lock, then failed, leaves alone the branch another process made of the name meanwhile', async () => {
    const gate = await holdGate(cluster, 'src', 'items');
    const first = spawnCli(['branch', 'create', 'raced', '--from', cluster.url('src'), '--strategy', 'dump'], { env });
    try {
      await dumpWaitingAtGate(cluster);
      // The first create's maintenance session, which holds the branch lock, is ended (as the
      // server's idle_session_timeout would end it during a long copy).
      await cluster.query("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted", [], 'postgres');
      await waitUntil('the branch lock to be free', async () =>
        (await cluster.query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory'", [], 'postgres')).rowCount === 0);
      // Another process finds the create interrupted, finishes it, and makes the name anew.
      const second = await runCli(['branch', 'create', 'raced', '--strategy', 'dump'], { env });
      expect(second.exitCode, second.stderr).toBe(0);
      await cluster.query('CREATE TABLE precious (id int); INSERT INTO precious VALUES (42)', [], 'ayb_branch_raced');
    } finally {
      await gate.release();
    }
    const failed = await first;
    expect(failed.exitCode).not.toBe(0);
    expect(String(failed.stderr)).toMatch(/another ayb process found this create interrupted/);
    // The second create's branch, with what was written into it, is still there and ready.
    const { rows } = await cluster.query<{ id: number }>('SELECT id FROM precious', [], 'ayb_branch_raced');
    expect(rows).toEqual([{ id: 42 }]);
    const shown = await runCli(['branch', 'show', 'raced', '--json'], { env });
    expect(shown.exitCode, shown.stderr).toBe(0);
    expect(shown.json()).toMatchObject({ status: 'ready' });
    expect(shown.json().problem).toBeUndefined();
  });

  it("another role's leftover snapshot copy (ayb_view_…) on the server neither fails this role's commands nor is touched", async () => {
    // Two people, two roles, one server: each ayb sees the other's databases in pg_database.
    await cluster.query("CREATE ROLE dev LOGIN CREATEDB PASSWORD 'devpw'; CREATE ROLE other LOGIN CREATEDB", [], 'postgres');
    await cluster.query('CREATE DATABASE devmain OWNER dev', [], 'postgres');
    await cluster.query('CREATE DATABASE ayb_view_0123456789ab OWNER other', [], 'postgres');
    const dev = { AYB_DATABASE_URL: `postgres://dev:devpw@127.0.0.1:${cluster.port}/devmain` };
    const listed = await runCli(['branch', 'list', '--json'], { env: dev });
    expect(listed.exitCode, listed.stderr).toBe(0);
    expect(listed.json()).toEqual([]);
    const { rowCount } = await cluster.query("SELECT 1 FROM pg_database WHERE datname = 'ayb_view_0123456789ab'", [], 'postgres');
    expect(rowCount).toBe(1);
  });

  it('a database of the branch name that someone else made while the copy waited is not dropped when the create fails on it', async () => {
    const gate = await holdDatabaseGate(cluster, 'app');
    const create = spawnCli(['branch', 'create', 'taken', '--strategy', 'template', '--json'], { env });
    try {
      await waitUntil('the copy to wait at the gate', async () => (await waitingOnLock(cluster, 'CREATE DATABASE')).length === 1);
      // Not ayb's: made by hand (or by a tool) between ayb's check of the name and its copy.
      await cluster.query('CREATE DATABASE ayb_branch_taken', [], 'postgres');
      await cluster.query('CREATE TABLE theirs (id int)', [], 'ayb_branch_taken');
    } finally {
      await gate.release();
    }
    const result = await create;
    expect(result.exitCode).toBe(4);
    expect(JSON.parse(String(result.stdout)).error.code).toBe('database_exists');
    // Nor is it left on a record that a later create (or delete, or recovery) would drop it by.
    const again = await runCli(['branch', 'create', 'taken', '--strategy', 'template', '--json'], { env });
    expect(again.exitCode).toBe(4);
    expect((await runCli(['branch', 'show', 'taken', '--json'], { env })).exitCode).toBe(3);
    const { rowCount } = await cluster.query("SELECT 1 FROM pg_tables WHERE tablename = 'theirs'", [], 'ayb_branch_taken');
    expect(rowCount).toBe(1);
    await cluster.query('DROP DATABASE ayb_branch_taken', [], 'postgres');
  });

  it("a server's idle_session_timeout does not end the session that holds a long dump create's branch lock", async () => {
    // A server (or its maintenance database) set to end idle sessions, as some hosted PostgreSQL are.
    await cluster.query("ALTER DATABASE postgres SET idle_session_timeout = '1s'", [], 'postgres');
    const gate = await holdGate(cluster, 'src', 'items');
    const create = spawnCli(['branch', 'create', 'idle', '--from', cluster.url('src'), '--strategy', 'dump'], { env });
    try {
      await dumpWaitingAtGate(cluster);
      // Held at the gate for longer than idle_session_timeout: ayb's maintenance session sits idle meanwhile.
      await waitUntil('the gate to be held for 3 s', async () =>
        (await cluster.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'ayb-pg_dump' AND now() - state_change > interval '3 s'", [], 'src')).rowCount === 1);
      const { rowCount } = await cluster.query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted", [], 'src');
      expect(rowCount, 'the branch lock is still held').toBeGreaterThan(0);
    } finally {
      await gate.release();
      await cluster.query('ALTER DATABASE postgres RESET idle_session_timeout', [], 'src');
    }
    const result = await create;
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect((await runCli(['branch', 'delete', 'idle', '--yes'], { env })).exitCode).toBe(0);
  });

  it("a server's idle_session_timeout on main does not cut off a delete whose DROP waits", async () => {
    expect((await runCli(['branch', 'create', 'slow-drop', '--strategy', 'template'], { env })).exitCode).toBe(0);
    await cluster.query("ALTER DATABASE app SET idle_session_timeout = '1s'", [], 'postgres');
    // The DROP waits at the gate while ayb's session on main (the control table) sits idle.
    const gate = await holdDatabaseGate(cluster, 'ayb_branch_slow_drop');
    const deleted = spawnCli(['branch', 'delete', 'slow-drop', '--yes'], { env });
    try {
      await waitUntil('the DROP to wait at the gate for 3 s', async () =>
        (await cluster.query("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'DROP DATABASE%' AND now() - query_start > interval '3 s'", [], 'postgres')).rowCount === 1);
    } finally {
      await gate.release();
      await cluster.query('ALTER DATABASE app RESET idle_session_timeout', [], 'postgres');
    }
    const result = await deleted;
    expect(result.exitCode, String(result.stderr)).toBe(0);
    expect((await runCli(['branch', 'show', 'slow-drop', '--json'], { env })).exitCode).toBe(3);
  });

  it("masking in place is not cut short by a statement_timeout main's database has, which its copy carries", async () => {
    // An application database with a limit of its own, as many have; a template copy carries its settings.
    await cluster.createDatabase('limited');
    await cluster.query("CREATE TABLE people (id int PRIMARY KEY, email text, nick text); INSERT INTO people VALUES (1, 'a@real.example', 'ay'), (2, 'b@real.example', 'bee')", [], 'limited');
    await cluster.query("ALTER DATABASE limited SET statement_timeout = '100ms'", [], 'postgres');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ayb-mask-limit-'));
    const config = path.join(dir, 'ayb.toml');
    // A rule that takes a while per row: the masking UPDATE runs longer than the application's limit.
    await writeFile(config, '[[masking.rules]]\ntable = "people"\ncolumn = "email"\nfunction = "sql"\nargs = { expression = "left(email, 1) || pg_sleep(0.2)::text || \'***\'" }\n' +
      '[[masking.rules]]\ntable = "people"\ncolumn = "nick"\nfunction = "hash"\n');
    try {
      const limited = { AYB_DATABASE_URL: cluster.url('limited'), AYB_MASKING_SECRET: 'limit-secret-0123456789' };
      const made = await runCli(['branch', 'create', 'masked-slow', '--masked', '--strategy', 'template', '--config', config], { env: limited });
      expect(made.exitCode, made.stderr).toBe(0);
      const { rows } = await cluster.query<{ email: string }>('SELECT email FROM people ORDER BY id', [], 'ayb_branch_masked_slow');
      expect(rows).toEqual([{ email: 'a***' }, { email: 'b***' }]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
