import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { jsonError } from '../helpers/cli-errors.js';
import { branchDatabases } from '../helpers/clone-probes.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';

/**
 * `--from` a URL on main's server copies what that URL's role may read, not what main's role may:
 * a template copy runs as main's role, so ayb first logs in with the URL's credentials and refuses
 * a source that role cannot read in full. Its errors point at --from, a password typed into --from
 * draws a warning, and passwords never show, AYB_DEBUG stacks and quoted stray arguments included.
 */
const PASSWORD = 'R3ader-pa55:w0rd';

describe('--from with credentials of its own', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  let readerUrl: (password?: string, database?: string) => string;

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await cluster.createDatabase('src');
    await cluster.query(`CREATE ROLE reader LOGIN PASSWORD '${PASSWORD}'`, [], 'postgres');
    await cluster.query(
      `CREATE TABLE open_data (id int PRIMARY KEY); INSERT INTO open_data VALUES (1);
       CREATE TABLE salaries (id int PRIMARY KEY, amount int); INSERT INTO salaries VALUES (1, 100);
       GRANT SELECT ON open_data TO reader`,
      [],
      'src',
    );
    env = { AYB_DATABASE_URL: cluster.url('app') };
    readerUrl = (password = PASSWORD, database = 'src') =>
      `postgres://reader:${encodeURIComponent(password)}@127.0.0.1:${cluster.port}/${database}`;
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  async function nothingMade(name: string): Promise<void> {
    expect(await branchDatabases(cluster)).toEqual([]);
    expect((await runCli(['branch', 'show', name, '--json'], { env })).exitCode).toBe(3);
  }

  it('a role that cannot read every table: exit 5 source_not_readable naming the tables, for template and auto alike; nothing recorded', async () => {
    for (const strategy of ['template', 'auto']) {
      const error = jsonError(
        await runCli(['branch', 'create', 'peek', '--from', readerUrl(), '--strategy', strategy, '--json'], { env }),
        5,
        'source_not_readable',
      );
      expect(error.message).toBe('role "reader" of the --from URL cannot read all of database "src" (public.salaries)');
      expect(error.unreadable).toEqual(['public.salaries']);
      expect(error.hint).toMatch(/grant "reader" SELECT/);
      expect(JSON.stringify(error)).not.toContain(PASSWORD);
      await nothingMade('peek');
    }
  });

  it('rows hidden from the role by row-level security count as unreadable', async () => {
    await cluster.query('GRANT SELECT ON salaries TO reader; ALTER TABLE salaries ENABLE ROW LEVEL SECURITY', [], 'src');
    try {
      const error = jsonError(await runCli(['branch', 'create', 'peek', '--from', readerUrl(), '--json'], { env }), 5, 'source_not_readable');
      expect(error.unreadable).toEqual(['public.salaries']);
      await nothingMade('peek');
    } finally {
      await cluster.query('ALTER TABLE salaries DISABLE ROW LEVEL SECURITY', [], 'src');
    }
  });

  it('once the role can read it all, the copy is made (a template copy when it can be)', async () => {
    const created = await runCli(['branch', 'create', 'readable', '--from', readerUrl(), '--json'], { env });
    expect(created.exitCode, created.stderr + created.stdout).toBe(0);
    expect(created.json()).toMatchObject({ status: 'ready', strategy: 'template', source_database: `postgres://reader@127.0.0.1:${cluster.port}/src` });
    expect((await cluster.query('SELECT count(*)::int AS n FROM salaries', [], 'ayb_branch_readable')).rows[0]!.n).toBe(1);
    expect((await runCli(['branch', 'delete', 'readable', '--yes'], { env })).exitCode).toBe(0);
  });

  it('a wrong password on --from: exit 5 authentication_failed that points at --from, not the database URL; nothing recorded', async () => {
    const result = await runCli(['branch', 'create', 'wrong', '--from', readerUrl('not-it'), '--strategy', 'template', '--json'], { env });
    const error = jsonError(result, 5, 'authentication_failed');
    expect(error.message).toMatch(/^source \(--from\): cannot log in to PostgreSQL at 127\.0\.0\.1:\d+ as "reader"/);
    expect(error.hint).toMatch(/--from URL/);
    expect(error.hint).not.toMatch(/--database-url|AYB_DATABASE_URL/);
    expect(result.stdout + result.stderr).not.toContain('not-it');
    await nothingMade('wrong');
  });

  it('a role without CONNECT on the source: exit 5 saying so', async () => {
    await cluster.query('REVOKE CONNECT ON DATABASE src FROM PUBLIC', [], 'postgres');
    try {
      const error = jsonError(await runCli(['branch', 'create', 'barred', '--from', readerUrl(), '--json'], { env }), 5, 'connection_failed');
      expect(error.message).toMatch(/^source \(--from\): .*permission denied for database "src"/);
      expect(error.hint).toMatch(/needs CONNECT on database "src"/);
      await nothingMade('barred');
    } finally {
      await cluster.query('GRANT CONNECT ON DATABASE src TO PUBLIC', [], 'postgres');
    }
  });

  it('a password typed into --from or --database-url draws a warning; one from PGPASSWORD does not', async () => {
    const typed = await runCli(['branch', 'create', 'typed', '--from', readerUrl(), '--strategy', 'dump', '--database-url', cluster.url('app')]);
    expect(typed.exitCode, typed.stderr).toBe(0);
    expect(typed.stderr).toMatch(/^warning: the password in --from is visible to other users of this machine \(ps\) and stays in your shell history; leave it out and use PGPASSWORD or ~\/\.pgpass$/m);
    expect(typed.stderr).toMatch(/^warning: the password in --database-url is visible .* use AYB_DATABASE_URL or ~\/\.pgpass$/m);
    expect(typed.stderr).not.toContain(PASSWORD);
    const quiet = await runCli(['branch', 'create', 'quiet', '--from', `postgres://reader@127.0.0.1:${cluster.port}/src`, '--strategy', 'dump'], {
      env: { ...env, PGPASSWORD: PASSWORD },
    });
    expect(quiet.exitCode, quiet.stderr).toBe(0);
    expect(quiet.stderr).not.toMatch(/warning/);
    for (const name of ['typed', 'quiet']) expect((await runCli(['branch', 'delete', name, '--yes'], { env })).exitCode).toBe(0);
  });

  it('AYB_DEBUG stacks and errors that quote the command line never show a password', async () => {
    const debug = { ...env, AYB_DEBUG: '1' };
    const mistyped = await runCli(['branch', 'list', `--databse-url=${readerUrl()}`], { env: debug });
    expect(mistyped.exitCode).toBe(2);
    expect(mistyped.stderr).toMatch(/^Error: unknown flag: --databse-url=postgres:\/\/reader:\*{8}@127\.0\.0\.1/m);
    const stray = await runCli(['branch', 'list', readerUrl()], { env: debug });
    expect(stray.exitCode).toBe(2);
    const failed = await runCli(['branch', 'create', 'wrong', '--from', readerUrl('An0ther-secret')], { env: debug });
    expect(failed.exitCode).toBe(5);
    expect(failed.stderr).toMatch(/^\s+at /m); // the stack is there
    for (const result of [mistyped, stray, failed]) {
      for (const secret of [PASSWORD, encodeURIComponent(PASSWORD), 'An0ther-secret']) expect(result.stderr + result.stdout).not.toContain(secret);
    }
  });
});
