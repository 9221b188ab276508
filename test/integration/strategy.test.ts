import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { loadPagila } from '../helpers/pagila.js';
import { holdDatabaseGate, waitUntil } from '../helpers/gate.js';
import { allowsConnections as allowsConnectionsTo, connectionGuards, killWhileRefusing, waitingOnLock } from '../helpers/refusal.js';

/**
 * How `branch create` picks and runs its strategy on a real cluster with Pagila: auto takes the
 * template when the source is idle and the dump when someone is connected, never disconnecting
 * anyone; --strategy template on a busy source is a conflict that names the sessions; --disconnect
 * ends them and always lets connections in again; both strategies carry database settings.
 */
describe('branch create strategies', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  const open: pg.Client[] = [];

  /** A session on a database, as an app would hold one. */
  async function connectApp(database: string, applicationName: string): Promise<pg.Client> {
    const { conn } = cluster;
    const client = new pg.Client({ host: conn.host, port: conn.port, user: conn.user, password: conn.password, database, application_name: applicationName });
    client.on('error', () => undefined);
    await client.connect();
    open.push(client);
    return client;
  }

  const allowsConnections = (database: string) => allowsConnectionsTo(cluster, database);

  async function deleteBranch(name: string): Promise<void> {
    const deleted = await runCli(['branch', 'delete', name, '--yes', '--force', '--if-exists'], { env });
    expect(deleted.exitCode).toBe(0);
  }

  beforeAll(async () => {
    cluster = await startTestCluster();
    await loadPagila(cluster, 'pagila');
    env = { AYB_DATABASE_URL: cluster.url('pagila') };
  });
  afterAll(async () => {
    await Promise.all(open.map((c) => c.end().catch(() => undefined)));
    await cluster?.stop();
  });

  it('auto copies files when the source is idle, and says so in create, list, show and --json', async () => {
    const created = await runCli(['branch', 'create', 'idle-copy', '--json'], { env });
    expect(created.exitCode, created.stderr).toBe(0);
    expect(created.json()).toMatchObject({ name: 'idle-copy', status: 'ready', strategy: 'template', copy_method: 'file_copy' });

    const list = await runCli(['branch', 'list', '--json'], { env });
    expect(list.json().find((b: { name: string }) => b.name === 'idle-copy')).toMatchObject({ strategy: 'template', copy_method: 'file_copy' });
    const table = await runCli(['branch', 'list'], { env });
    expect(table.stdout).toMatch(/idle-copy.*template/);
    const show = await runCli(['branch', 'show', 'idle-copy'], { env });
    expect(show.stdout).toMatch(/^Strategy +template$/m);
    expect(show.stdout).toMatch(/^Copy method +file_copy$/m);

    const rows = await cluster.query<{ n: string }>('SELECT count(*)::text AS n FROM rental', [], 'ayb_branch_idle_copy');
    const source = await cluster.query<{ n: string }>('SELECT count(*)::text AS n FROM rental', [], 'pagila');
    expect(rows.rows[0]!.n).toBe(source.rows[0]!.n);
    // The copy of main never carries the control table.
    const control = await cluster.query("SELECT to_regclass('public._ayb_branches') AS t", [], 'ayb_branch_idle_copy');
    expect(control.rows[0]!.t).toBeNull();
    await deleteBranch('idle-copy');
  });

  it('auto dumps, without disconnecting anyone, when a session is connected to the source', async () => {
    const app = await connectApp('pagila', 'busy-app');
    const created = await runCli(['branch', 'create', 'busy-copy', '--json'], { env });
    expect(created.exitCode, created.stderr).toBe(0);
    expect(created.json()).toMatchObject({ strategy: 'dump', copy_method: 'pg_dump' });
    // The app's session is still there and works.
    expect((await app.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    const show = await runCli(['branch', 'show', 'busy-copy', '--json'], { env });
    expect(show.json()).toMatchObject({ strategy: 'dump', copy_method: 'pg_dump' });
    await deleteBranch('busy-copy');
    await app.end();
  });

  it('--strategy template on a busy source exits 4 and lists who is connected', async () => {
    const app = await connectApp('pagila', 'report-job');
    const pid = (await app.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;

    const plain = await runCli(['branch', 'create', 'forced', '--strategy', 'template'], { env });
    expect(plain.exitCode).toBe(4);
    expect(plain.stderr).toMatch(new RegExp(`Error: source database "pagila" has 1 other session\\(s\\) connected: pid ${pid} \\(report-job\\) from 127\\.0\\.0\\.1`));
    expect(plain.stderr).toMatch(/Hint: .*--strategy dump.*--disconnect/);

    const json = await runCli(['branch', 'create', 'forced', '--strategy', 'template', '--json'], { env });
    expect(json.exitCode).toBe(4);
    const error = json.json().error;
    expect(error).toMatchObject({ code: 'source_busy', exit_code: 4 });
    expect(error.sessions).toEqual([expect.objectContaining({ pid, application_name: 'report-job', client_addr: '127.0.0.1' })]);
    // The failed attempt is recorded, nothing is left behind, and the app was not touched.
    const failed = await runCli(['branch', 'show', 'forced', '--json'], { env });
    expect(failed.json()).toMatchObject({ status: 'failed', strategy: 'template' });
    expect((await cluster.query("SELECT 1 FROM pg_database WHERE datname = 'ayb_branch_forced'")).rowCount).toBe(0);
    expect((await app.query('SELECT 1 AS one')).rows[0].one).toBe(1);
    await deleteBranch('forced');
    await app.end();
  });

  it('--disconnect ends the sessions, copies the files and allows connections again', async () => {
    await cluster.createDatabase('devdb');
    await cluster.query('CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2)', [], 'devdb');
    const app = await connectApp('devdb', 'dev-server');
    const ended = new Promise<Error>((resolve) => app.once('error', resolve));
    const created = await runCli(['branch', 'create', 'dev-copy', '--from', cluster.url('devdb'), '--strategy', 'template', '--disconnect'], { env });
    expect(created.exitCode, created.stderr).toBe(0);
    expect(created.stderr).toMatch(/Ending 1 session\(s\) on "devdb" for the copy \(--disconnect\): pid \d+ \(dev-server\)/);
    expect(String(await ended)).toMatch(/terminat/i);
    expect(await allowsConnections('devdb')).toBe(true);
    const rows = await cluster.query('SELECT count(*)::int AS n FROM t', [], 'ayb_branch_dev_copy');
    expect(rows.rows[0].n).toBe(2);
    // The guard that stood by for the copy has been told it is done, and is gone.
    await waitUntil('the connection guard to exit', async () => connectionGuards(cluster).length === 0, 20_000);
    await deleteBranch('dev-copy');
  });

  it('--disconnect allows connections again when the copy fails, and when it is interrupted', async () => {
    // A session elsewhere holds a lock on the database object that CREATE DATABASE … TEMPLATE must wait for.
    const gate = await holdDatabaseGate(cluster, 'devdb');
    const url = cluster.url('devdb');
    const waitingCopy = () => waitingOnLock(cluster, 'CREATE DATABASE');

    const failing = spawnCli(['branch', 'create', 'cancelled', '--from', url, '--disconnect', '--json'], { env });
    await waitUntil('the copy to wait on the lock', async () => (await waitingCopy()).length === 1, 20_000);
    expect(await allowsConnections('devdb')).toBe(false);
    await cluster.query('SELECT pg_cancel_backend($1)', [(await waitingCopy())[0]!], 'postgres');
    const failed = await failing;
    expect(failed.exitCode).toBe(5);
    expect(JSON.parse(String(failed.stdout)).error.message).toMatch(/cancel/i);
    expect(await allowsConnections('devdb')).toBe(true);

    const interrupted = spawnCli(['branch', 'create', 'interrupted', '--from', url, '--disconnect'], { env });
    await waitUntil('the copy to wait on the lock', async () => (await waitingCopy()).length === 1, 20_000);
    interrupted.kill('SIGINT');
    const result = await interrupted;
    expect(result.exitCode).toBe(130);
    expect(await allowsConnections('devdb')).toBe(true);
    await gate.release();

    for (const name of ['cancelled', 'interrupted']) {
      const show = await runCli(['branch', 'show', name, '--json'], { env });
      expect(show.json().status).toBe('failed');
      await deleteBranch(name);
    }
  });

  it('--disconnect: when ayb is killed while the source refuses connections, its guard allows them again', async () => {
    // CREATE DATABASE … TEMPLATE waits at the gate while devdb refuses connections.
    await killWhileRefusing(cluster, ['branch', 'create', 'killed', '--from', cluster.url('devdb'), '--disconnect'], env, {
      gated: 'devdb', prefix: 'CREATE DATABASE', refused: 'devdb', healed: 'devdb', onRefusingSession: true,
    });
    // The branch itself was left half-made, as any killed create is: the next command removes the
    // copy and marks it failed.
    const show = await runCli(['branch', 'show', 'killed', '--json'], { env });
    expect(show.stderr).toMatch(/^Removed the partial database "ayb_branch_killed" of branch "killed"/m);
    expect(show.json().status).toBe('failed');
    expect((await cluster.query("SELECT 1 FROM pg_database WHERE datname = 'ayb_branch_killed'", [], 'postgres')).rowCount).toBe(0);
    await deleteBranch('killed');
  });

  it('a source given as a URL of another server is dumped; template is refused for it', async () => {
    // "localhost" is not the main database's "127.0.0.1": ayb treats it as another server.
    const other = cluster.url('devdb').replace('127.0.0.1', 'localhost');
    const created = await runCli(['branch', 'create', 'from-url', '--from', other, '--json'], { env });
    expect(created.exitCode, created.stdout).toBe(0);
    expect(created.json()).toMatchObject({ strategy: 'dump', copy_method: 'pg_dump' });
    expect(created.json().source_database).not.toContain(cluster.conn.password!);
    const refused = await runCli(['branch', 'create', 'from-url-t', '--from', other, '--strategy', 'template'], { env });
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/--strategy template needs a source on the same server/);
    await deleteBranch('from-url');
  });

  it('both strategies carry database settings, role-in-database settings and the comment', async () => {
    await cluster.createDatabase('configured');
    await cluster.query('CREATE TABLE t (id int)', [], 'configured');
    const setup = [
      "ALTER DATABASE configured SET work_mem = '7MB'",
      'ALTER DATABASE configured SET search_path = "$user", public, "odd ""name"""',
      "ALTER DATABASE configured SET app.tenant = 'it''s me'",
      "ALTER ROLE ayb IN DATABASE configured SET statement_timeout = '42s'",
      "COMMENT ON DATABASE configured IS 'the configured one'",
    ];
    for (const sql of setup) await cluster.query(sql, [], 'postgres');
    const settingsOf = async (database: string) =>
      (await cluster.query<{ role: string | null; config: string[] }>(
        `SELECT r.rolname AS role, s.setconfig AS config FROM pg_db_role_setting s
           JOIN pg_database d ON d.oid = s.setdatabase LEFT JOIN pg_roles r ON r.oid = s.setrole
          WHERE d.datname = $1 ORDER BY 1 NULLS FIRST`, [database], 'postgres')).rows.map((r) => ({ role: r.role, config: [...r.config].sort() }));
    const commentOf = async (database: string) =>
      (await cluster.query("SELECT shobj_description(oid, 'pg_database') AS c FROM pg_database WHERE datname = $1", [database], 'postgres')).rows[0].c;
    const expected = await settingsOf('configured');
    expect(expected).toHaveLength(2);

    for (const strategy of ['template', 'dump']) {
      const name = `configured-${strategy}`;
      const created = await runCli(['branch', 'create', name, '--from', cluster.url('configured'), '--strategy', strategy, '--json'], { env });
      expect(created.exitCode, created.stdout).toBe(0);
      const database = created.json().branch_database;
      expect(await settingsOf(database)).toEqual(expected);
      expect(await commentOf(database)).toBe('the configured one');
      // A new session on the branch gets them, as it would on the source.
      const shown = await cluster.query("SELECT current_setting('work_mem') AS w, current_setting('search_path') AS p, current_setting('app.tenant') AS a", [], database);
      expect(shown.rows[0]).toEqual({ w: '7MB', p: '"$user", public, "odd ""name"""', a: "it's me" });
      await deleteBranch(name);
    }
  });

  it('a dump draws no progress when stderr is not a terminal, and does on a terminal', async () => {
    const quiet = await runCli(['branch', 'create', 'quiet-dump', '--strategy', 'dump'], { env });
    expect(quiet.exitCode, quiet.stderr).toBe(0);
    expect(quiet.stderr).not.toMatch(/Copying|\x1b\[K/);
    expect(quiet.stderr).toMatch(/Created branch "quiet-dump" \(dump\)/);
    await deleteBranch('quiet-dump');

    // script(1) gives the command a terminal; its output is what that terminal showed.
    const { execa } = await import('execa');
    const { BIN } = await import('../helpers/cli.js');
    const tty = await execa('script', ['-qec', `node ${BIN} branch create tty-dump --strategy dump`, '/dev/null'], {
      reject: false,
      env: { ...env, NO_COLOR: '1' },
      stdin: 'ignore',
      timeout: 120_000,
    });
    expect(tty.exitCode, String(tty.stdout)).toBe(0);
    expect(String(tty.stdout)).toMatch(/\r\x1b\[KCopying \d+(\.\d)? [kM]?B of ~\d+(\.\d)? [kMG]?B/);
    await deleteBranch('tty-dump');
  });
});

describe('the dump restore session', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('restores with synchronous_commit off and the server\'s own maintenance_work_mem, and the rows are the same', async () => {
    await cluster.createDatabase('app');
    // A stored generated column is computed again by the restore's COPY, in psql's session: it shows that session's settings.
    await cluster.query(`
      CREATE FUNCTION restore_settings() RETURNS text IMMUTABLE LANGUAGE sql
        AS $$ SELECT current_setting('synchronous_commit') || ',' || current_setting('maintenance_work_mem') $$;
      CREATE TABLE t (id int PRIMARY KEY, seen text GENERATED ALWAYS AS (restore_settings()) STORED);
      INSERT INTO t (id) SELECT generate_series(1, 3);`, [], 'app');
    const env = { AYB_DATABASE_URL: cluster.url('app') };
    const created = await runCli(['branch', 'create', 'restored', '--strategy', 'dump', '--json'], { env });
    expect(created.exitCode, created.stdout).toBe(0);
    const source = await cluster.query('SELECT DISTINCT seen FROM t', [], 'app');
    expect(source.rows).toEqual([{ seen: 'on,64MB' }]);
    const branch = await cluster.query('SELECT count(*)::int AS n, min(seen) AS seen FROM t', [], 'ayb_branch_restored');
    expect(branch.rows[0]).toEqual({ n: 3, seen: 'off,64MB' });
  });
});
