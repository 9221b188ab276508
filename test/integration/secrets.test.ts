import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { type FakeTools, fakeTools } from '../helpers/fake-tools.js';

/**
 * A password never leaves the connection it belongs to: not into a child's argv, a log line, an
 * error message, the control table or --json output. The role's password has characters that
 * URL-encoding changes, so both spellings are looked for.
 */
const PASSWORD = 'S3cr3t-pa55/w@rd:%#';
const SPELLINGS = [PASSWORD, encodeURIComponent(PASSWORD), 'S3cr3t-pa55'];

function expectNoPassword(text: string, where: string): void {
  for (const spelling of SPELLINGS) {
    expect(text.includes(spelling), `${where} contains the password (${spelling}):\n${text}`).toBe(false);
  }
}

function expectCleanOutput(result: CliResult, what: string): void {
  expectNoPassword(result.stdout, `stdout of ${what}`);
  expectNoPassword(result.stderr, `stderr of ${what}`);
}

describe('passwords stay secret (password-protected role)', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  let logged: FakeTools;
  let failing: FakeTools;
  let sourceUrl: string;

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.query(`CREATE ROLE secretive LOGIN CREATEDB PASSWORD '${PASSWORD.replace(/'/g, "''")}'`, [], 'postgres');
    for (const database of ['secretdb', 'secretsrc']) {
      await cluster.query(`CREATE DATABASE ${database} OWNER secretive`, [], 'postgres');
      await cluster.query(
        "CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes VALUES (1, 'hello'); ALTER TABLE notes OWNER TO secretive",
        [],
        database,
      );
    }
    const base = `postgres://secretive:${encodeURIComponent(PASSWORD)}@127.0.0.1:${cluster.port}`;
    env = { AYB_DATABASE_URL: `${base}/secretdb` };
    sourceUrl = `${base}/secretsrc`;
    logged = await fakeTools({ pg_dump: { kind: 'logged' }, psql: { kind: 'logged' } });
    // A psql that fails after some input and, carelessly, prints the password it was given.
    failing = await fakeTools({
      pg_dump: { kind: 'logged' },
      psql: { kind: 'fail-halfway', afterBytes: 100, exitCode: 3, stderr: 'psql: error: simulated failure; PGPASSWORD=$PGPASSWORD' },
    });
  });
  afterAll(async () => {
    await logged?.remove();
    await failing?.remove();
    await cluster?.stop();
  });

  it('creates by dump, by template and from a URL source, and fails, without the password showing anywhere', async () => {
    const runs: [string, string[]][] = [
      ['dump create', ['branch', 'create', 'by-dump', '--strategy', 'dump', '--config', logged.configFile]],
      ['dump create --json', ['branch', 'create', 'by-dump-json', '--strategy', 'dump', '--config', logged.configFile, '--json']],
      ['template create', ['branch', 'create', 'by-template', '--strategy', 'template', '--json']],
      ['create from a URL source', ['branch', 'create', 'from-url', '--from', sourceUrl, '--strategy', 'dump', '--config', logged.configFile, '--json']],
    ];
    for (const [what, args] of runs) {
      const result = await runCli(args, { env });
      expect(result.exitCode, `${what}: ${result.stderr}${result.stdout}`).toBe(0);
      expectCleanOutput(result, what);
    }
    const fromUrl = (await runCli(['branch', 'show', 'from-url', '--json'], { env })).json();
    expect(fromUrl.source_database).toBe(`postgres://secretive@127.0.0.1:${cluster.port}/secretsrc`);

    for (const json of [false, true]) {
      const failed = await runCli(['branch', 'create', `fails-${json ? 'json' : 'text'}`, '--strategy', 'dump', '--config', failing.configFile, ...(json ? ['--json'] : [])], { env });
      expect(failed.exitCode).toBe(5);
      expectCleanOutput(failed, 'a failing create');
      // The tool's stderr is quoted, with the password masked.
      expect(json ? failed.json().error.message : failed.stderr).toContain('PGPASSWORD=********');
    }

    const { rows } = await cluster.query<{ row: string }>('SELECT t::text AS row FROM _ayb_branches t ORDER BY name', [], 'secretdb');
    expect(rows.map((r) => r.row).join('\n')).toMatch(/fails-json.*failed.*PGPASSWORD=\*{8}/);
    expectNoPassword(rows.map((r) => r.row).join('\n'), 'the control table');
  });

  it('pg_dump and psql get the password in their environment, never in argv, and none of ayb\'s own settings', async () => {
    const calls = [...(await logged.calls()), ...(await failing.calls())];
    const clones = calls.filter((c) => c.argv.includes('--dbname'));
    expect(clones.filter((c) => c.tool === 'pg_dump').length).toBeGreaterThanOrEqual(4);
    expect(clones.filter((c) => c.tool === 'psql').length).toBeGreaterThanOrEqual(3);
    for (const call of clones) {
      expect(call.envNames).toContain('PGPASSWORD');
      expect(call.argv).toContain('--no-password');
    }
    for (const call of calls) expect(call.envNames.filter((n) => n.startsWith('AYB_'))).toEqual([]);
    expectNoPassword(await logged.rawLog(), 'the argv of pg_dump/psql');
    expectNoPassword(await failing.rawLog(), 'the argv of pg_dump/psql');
    // psql never reads a psqlrc and stops at the first error.
    for (const call of clones.filter((c) => c.tool === 'psql')) {
      expect(call.argv).toEqual(expect.arrayContaining(['--no-psqlrc', 'ON_ERROR_STOP=1']));
    }
  });

  it('list, show and --json mask the password; only url (and --show-password) print it', async () => {
    for (const args of [['branch', 'list'], ['branch', 'list', '--json'], ['branch', 'show', 'by-dump'], ['branch', 'show', 'by-dump', '--json']]) {
      const result = await runCli(args, { env });
      expect(result.exitCode).toBe(0);
      expectCleanOutput(result, args.join(' '));
    }
    const shown = (await runCli(['branch', 'show', 'by-dump', '--json'], { env })).json();
    expect(shown.url).toBe(`postgres://secretive:********@127.0.0.1:${cluster.port}/ayb_branch_by_dump`);
    // Printing the usable URL is what these two are for.
    const clear = `postgres://secretive:${encodeURIComponent(PASSWORD)}@127.0.0.1:${cluster.port}/ayb_branch_by_dump`;
    expect((await runCli(['branch', 'show', 'by-dump', '--json', '--show-password'], { env })).json().url).toBe(clear);
    expect((await runCli(['branch', 'url', 'by-dump'], { env })).stdout.trim()).toBe(clear);
  });

  it('wrong password: exit 5, "authentication failed", neither password echoed', async () => {
    const wrong = 'Wr0ng-pa55';
    const result = await runCli(['branch', 'list', '--json'], {
      env: { AYB_DATABASE_URL: `postgres://secretive:${wrong}@127.0.0.1:${cluster.port}/secretdb` },
    });
    expect(result.exitCode).toBe(5);
    const { error } = result.json();
    expect(error.code).toBe('authentication_failed');
    expect(error.message).toMatch(new RegExp(`^cannot log in to PostgreSQL at 127\\.0\\.0\\.1:${cluster.port} as "secretive": password authentication failed`));
    expect(result.stdout + result.stderr).not.toContain(wrong);
    expectCleanOutput(result, 'a wrong-password list');
  });

  it('no password at all: exit 5, says the server asks for one', async () => {
    const result = await runCli(['branch', 'list'], { env: { AYB_DATABASE_URL: `postgres://secretive@127.0.0.1:${cluster.port}/secretdb` } });
    expect(result.exitCode).toBe(5);
    expect(result.stderr).toMatch(new RegExp(`^Error: cannot log in to PostgreSQL at 127\\.0\\.0\\.1:${cluster.port} as "secretive": the server asks for a password and none was given$`, 'm'));
    expect(result.stderr).toMatch(/^Hint: .*PGPASSWORD/m);
  });
});
