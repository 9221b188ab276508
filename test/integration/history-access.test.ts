import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findTool } from '../../src/postgres/tools.js';
import { spawnCli } from '../helpers/cli.js';
import { waitUntil } from '../helpers/gate.js';
import type { TestCluster } from '../helpers/cluster.js';
import { type HistoryScenario, startHistoryScenario } from '../helpers/history-scenario.js';

/**
 * A point-in-time branch grants no more than main did at that moment: object grants, REVOKEs,
 * default privileges and database-level grants carried. The judges are pg_dump's own privilege
 * statements and the server's has_*_privilege answers, never ayb's view. And a point-in-time
 * create checks and reserves its name before it restores anything.
 */
describe('point-in-time copies: privileges and names', () => {
  let scenario: HistoryScenario;
  let cluster: TestCluster;
  let work: string;
  const cli = (...args: string[]) => scenario.cli(...args);
  const now = async () =>
    (await cluster.query<{ t: string }>(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t`)).rows[0]!.t;
  /** The GRANT/REVOKE/ALTER DEFAULT PRIVILEGES statements pg_dump writes for `database`. */
  const privilegeLines = async (database: string) => {
    const tool = await findTool('pg_dump', 0);
    const { conn } = cluster;
    const { stdout } = await execa(tool.path, ['--schema-only', '-h', conn.host, '-p', String(conn.port), '-U', conn.user ?? 'postgres', database], {
      env: { PGPASSWORD: conn.password ?? '' },
    });
    return stdout.split('\n').filter((line) => /^(GRANT|REVOKE|ALTER DEFAULT PRIVILEGES)/.test(line)).sort();
  };
  const canRun = async (database: string) =>
    (await cluster.query<{ ok: boolean }>("SELECT has_function_privilege('pit_user', 'public.as_owner()', 'EXECUTE') AS ok", [], database)).rows[0]!.ok;
  const canConnect = async (database: string) =>
    (await cluster.query<{ ok: boolean }>("SELECT has_database_privilege('pit_user', $1, 'CONNECT') AS ok", [database], 'postgres')).rows[0]!.ok;
  let moment: string;

  beforeAll(async () => {
    scenario = await startHistoryScenario({ name: 'history-access' });
    ({ cluster, work } = scenario);
    await cluster.query('CREATE ROLE pit_user LOGIN', [], 'postgres');
    await cluster.query(
      `CREATE TABLE secret (id int);
       CREATE FUNCTION as_owner() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
       REVOKE EXECUTE ON FUNCTION as_owner() FROM PUBLIC;
       GRANT SELECT ON secret TO pit_user;
       ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
       REVOKE ALL ON DATABASE ayb FROM PUBLIC`,
    );
    moment = await now();
  }, 300_000);
  afterAll(async () => {
    await scenario?.stop();
  });

  it('checks the name before restoring anything: a bad name exit 2, a taken one exit 4, neither restores', async () => {
    const bad = await cli('branch', 'create', 'bad.name', '--from', `main@${moment}`);
    expect(bad.exitCode, bad.stderr).toBe(2);
    expect(bad.stderr).not.toMatch(/Restoring base backup/);
    expect((await cli('branch', 'create', 'taken')).exitCode).toBe(0);
    const taken = await cli('branch', 'create', 'taken', '--from', `main@${moment}`);
    expect(taken.exitCode, taken.stderr).toBe(4);
    expect(taken.stderr).not.toMatch(/Restoring base backup/);
  }, 300_000);

  it('reserves the name before restoring: a plain create of the same name meanwhile is refused', async () => {
    const slow = spawnCli(['branch', 'create', 'racer', '--from', `main@${moment}`], { cwd: work, timeout: 300_000 });
    // The temporary cluster's folder appears once the restore has begun.
    await waitUntil('the restore to begin', async () =>
      (await readdir(path.join(work, 'history')).catch(() => [] as string[])).some((n) => n.startsWith('restore-')), 120_000);
    const plain = await cli('branch', 'create', 'racer');
    expect(plain.exitCode, plain.stderr).toBe(4);
    const done = await slow;
    expect(done.exitCode, done.stderr).toBe(0);
    expect((await cli('branch', 'show', 'racer', '--json')).json()).toMatchObject({ source_database: `main@${moment}`, status: 'ready' });
  }, 300_000);

  it('a branch of main at a moment carries its REVOKEs, grants and default privileges, and its database grants', async () => {
    const made = await cli('branch', 'create', 'then', '--from', `main@${moment}`);
    expect(made.exitCode, made.stderr).toBe(0);
    expect(await canRun('ayb')).toBe(false);
    expect(await canRun('ayb_branch_then')).toBe(false);
    expect(await canConnect('ayb')).toBe(false);
    expect(await canConnect('ayb_branch_then')).toBe(false);
    expect(await privilegeLines('ayb_branch_then')).toEqual(await privilegeLines('ayb'));
  }, 300_000);

  it('a role dropped since the moment: refused before anything is copied, naming the role (exit 4), nothing left', async () => {
    await cluster.query('CREATE ROLE pit_gone; GRANT SELECT ON secret TO pit_gone', [], 'ayb');
    const then = await now();
    await cluster.query('REVOKE ALL ON secret FROM pit_gone; DROP ROLE pit_gone', [], 'ayb');
    const made = await cli('branch', 'create', 'gone-role', '--from', `main@${then}`, '--json');
    expect(made.exitCode, made.stderr).toBe(4);
    const error = JSON.parse(made.stdout).error;
    expect(error).toMatchObject({ code: 'roles_missing', roles: ['pit_gone'] });
    expect(error.hint).toMatch(/CREATE ROLE "pit_gone"/);
    const left = await cluster.query("SELECT 1 FROM pg_database WHERE datname = 'ayb_branch_gone_role'", [], 'postgres');
    expect(left.rowCount).toBe(0);
  }, 300_000);

  it('finds what a killed prune left (a base backup folder without backup.json, a .pruning- folder) and removes it, saying so', async () => {
    const base = path.join(work, 'history', 'base');
    const orphan = path.join(base, '2026-01-01T00-00-00.000Z');
    await mkdir(path.join(orphan, 'data'), { recursive: true });
    await writeFile(path.join(orphan, 'data', 'PG_VERSION'), 'x'.repeat(1024 * 1024));
    await mkdir(path.join(base, '.pruning-2026-01-02T00-00-00.000Z', 'data'), { recursive: true });
    const shown = await cli('history');
    expect(shown.exitCode, shown.stderr).toBe(0);
    expect(shown.stderr).toMatch(/Removed a base backup folder without its backup.json.*2026-01-01T00-00-00.000Z/);
    expect(shown.stderr).toMatch(/Removed a base backup whose prune was interrupted/);
    expect((await readdir(base)).filter((n) => n.startsWith('2026-01-0') || n.startsWith('.pruning-'))).toEqual([]);
  }, 300_000);

  it('a changed [history] dir is announced, and a fresh base backup is taken, also when it is changed back', async () => {
    const backups = async (dir: string) => (await readdir(path.join(work, dir, 'base')).catch(() => [] as string[])).filter((n) => !n.startsWith('.'));
    const toml = (dir: string) => writeFile(
      path.join(work, 'ayb.toml'),
      `[managed_pg]\ndata_dir = "${cluster.dataDir}"\nport = ${cluster.port}\n\n[history]\nenabled = true\ndir = "${dir}"\n`,
    );
    const before = (await backups('history')).length;
    await toml('history2');
    const moved = await cli('history');
    expect(moved.exitCode, moved.stderr).toBe(0);
    expect(moved.stderr).toMatch(/\[history\] dir changed from .*\/history to .*\/history2: .*delete that folder/);
    expect(await backups('history2')).toHaveLength(1);
    await toml('history');
    const back = await cli('history');
    expect(back.exitCode, back.stderr).toBe(0);
    expect(back.stderr).toMatch(/\[history\] dir changed from .*\/history2 to .*\/history:/);
    // The backups already there cannot reach the moments since the move: a fresh one is taken.
    expect(back.stderr).toMatch(/Taking a base backup/);
    expect(await backups('history')).toHaveLength(before + 1);
  }, 300_000);
});
