import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddedBinDir, runAsServiceUser } from '../../src/postgres/managed/index.js';
import { findTool } from '../../src/postgres/tools.js';
import type { TestCluster } from '../helpers/cluster.js';
import { type HistoryScenario, startHistoryScenario } from '../helpers/history-scenario.js';

/**
 * What README ("What PostgreSQL does not bring back") and `snapshot show` say a snapshot and a
 * point-in-time branch carry, proved on a real cluster so the words cannot drift from the behaviour:
 * privileges carried; a point-in-time branch's unlogged tables empty and its sequences up to 32
 * values ahead; a template snapshot's unlogged rows lost after a server crash. The judges are the
 * server's answers (counts, a sequence's last_value, has_function_privilege, pg_dump's grants).
 */
describe('what a snapshot and a point-in-time branch carry', () => {
  let scenario: HistoryScenario;
  let cluster: TestCluster;
  let work: string;
  const cli = (...args: string[]) => scenario.cli(...args);
  const count = async (database: string, table: string) =>
    Number((await cluster.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`, [], database)).rows[0]!.n);
  const lastValue = async (database: string) =>
    Number((await cluster.query<{ v: string }>('SELECT last_value::text AS v FROM counter', [], database)).rows[0]!.v);
  const privilegeLines = async (database: string) => {
    const tool = await findTool('pg_dump', 0);
    const { conn } = cluster;
    const { stdout } = await execa(tool.path, ['--schema-only', '-h', conn.host, '-p', String(conn.port), '-U', conn.user ?? 'postgres', database], {
      env: { PGPASSWORD: conn.password ?? '' },
    });
    return stdout.split('\n').filter((line) => /^(GRANT|REVOKE|ALTER DEFAULT PRIVILEGES)/.test(line)).sort();
  };
  let moment: string;

  beforeAll(async () => {
    scenario = await startHistoryScenario({ name: 'history-carries' });
    ({ cluster, work } = scenario);
    await cluster.query('CREATE ROLE carry_user LOGIN', [], 'postgres');
    await cluster.query(
      `CREATE UNLOGGED TABLE scratch (id int);
       INSERT INTO scratch SELECT generate_series(1, 3);
       CREATE SEQUENCE counter;
       CREATE TABLE used (id bigint PRIMARY KEY DEFAULT nextval('counter'));
       INSERT INTO used SELECT FROM generate_series(1, 5);
       CREATE FUNCTION as_owner() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
       REVOKE EXECUTE ON FUNCTION as_owner() FROM PUBLIC;
       GRANT SELECT ON used TO carry_user`,
    );
    moment = (await cluster.query<{ t: string }>(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t`)).rows[0]!.t;
    // After the moment: the sequence moves on in main.
    await cluster.query('INSERT INTO used SELECT FROM generate_series(1, 3)');
  }, 300_000);
  afterAll(async () => {
    await scenario?.stop();
  });

  it('a point-in-time branch: unlogged tables empty, sequences ahead by 1 to 32 (never reusing a value), privileges carried', async () => {
    const made = await cli('branch', 'create', 'then', '--from', `main@${moment}`);
    expect(made.exitCode, made.stderr).toBe(0);
    // Main at the moment: 3 unlogged rows, the sequence at 5 (its rows 1..5).
    expect(await count('ayb_branch_then', 'used')).toBe(5);
    expect(await count('ayb_branch_then', 'scratch')).toBe(0);
    const ahead = (await lastValue('ayb_branch_then')) - 5;
    expect(ahead).toBeGreaterThan(0);
    expect(ahead).toBeLessThanOrEqual(32);
    const next = Number((await cluster.query<{ v: string }>("SELECT nextval('counter')::text AS v", [], 'ayb_branch_then')).rows[0]!.v);
    const max = Number((await cluster.query<{ v: string }>('SELECT max(id)::text AS v FROM used', [], 'ayb_branch_then')).rows[0]!.v);
    expect(next).toBeGreaterThan(max);
    expect((await cluster.query<{ ok: boolean }>("SELECT has_function_privilege('carry_user', 'public.as_owner()', 'EXECUTE') AS ok", [], 'ayb_branch_then')).rows[0]!.ok).toBe(false);
    expect(await privilegeLines('ayb_branch_then')).toEqual(await privilegeLines('ayb'));
  }, 300_000);

  it('a template snapshot carries unlogged rows and privileges, and loses the unlogged rows when the server crashes', async () => {
    const snap = await cli('snapshot', 'create', 'frozen', '--strategy', 'template');
    expect(snap.exitCode, snap.stderr).toBe(0);
    expect((await cli('branch', 'create', 'before-crash', '--from', 'frozen')).exitCode).toBe(0);
    expect(await count('ayb_branch_before_crash', 'scratch')).toBe(3);
    expect(await privilegeLines('ayb_branch_before_crash')).toEqual(await privilegeLines('ayb'));
    const shown = await cli('snapshot', 'show', 'frozen');
    expect(shown.stderr).toMatch(/Unlogged tables of a snapshot lose their rows if the server crashes/);
    expect(shown.stderr).toMatch(/privileges .* carried/);

    // A crash: immediate shutdown, so the next start runs crash recovery (ayb starts the managed cluster again).
    const stopped = await runAsServiceUser(path.join(await embeddedBinDir(), 'pg_ctl'), ['stop', '-D', cluster.dataDir, '-m', 'immediate', '-w'], {});
    expect(stopped.exitCode, stopped.output).toBe(0);
    const after = await cli('branch', 'create', 'after-crash', '--from', 'frozen');
    expect(after.exitCode, after.stderr).toBe(0);
    expect(await count('ayb_branch_after_crash', 'scratch')).toBe(0);
    // Main's own unlogged table too: PostgreSQL, not ayb.
    expect(await count('ayb', 'scratch')).toBe(0);
  }, 300_000);

  it('ayb history says how much of the base backups is the branches\' and the snapshots\', per database as the backup\'s base/<oid> folders hold it', async () => {
    // A fresh base backup now, while branch "then" and snapshot "frozen" exist.
    await writeFile(
      path.join(work, 'ayb.toml'),
      `[managed_pg]\ndata_dir = "${cluster.dataDir}"\nport = ${cluster.port}\n\n[history]\nenabled = true\ndir = "history"\nbase_backup_every = "1s"\n`,
    );
    const shown = await cli('history', '--json');
    expect(shown.exitCode, shown.stderr).toBe(0);
    const status = shown.json();
    const newest = status.base_backups.at(-1).name as string;
    expect(status.share.newest.backup).toBe(newest);
    // Independently: each database's oid from pg_database, its folder in the backup summed with du.
    const oids = (await cluster.query<{ oid: string; datname: string }>('SELECT oid::text, datname FROM pg_database', [], 'postgres')).rows;
    const du = async (oid: string) => (await execa('find', [path.join(work, 'history', 'base', newest, 'data', 'base', oid), '-type', 'f', '-printf', '%s\n'])).stdout
      .split('\n').filter(Boolean).reduce((sum, n) => sum + Number(n), 0);
    const byName = new Map(status.share.newest.databases.map((d: { database: string; bytes: number; kind: string }) => [d.database, d]));
    let branches = 0;
    for (const { oid, datname } of oids) {
      if (datname === 'template0') continue;
      const bytes = await du(oid);
      expect(byName.get(datname), datname).toMatchObject({ bytes });
      if (datname.startsWith('ayb_branch_')) branches += bytes;
    }
    expect(byName.get('ayb_branch_then')).toMatchObject({ kind: 'branch' });
    expect(byName.get('ayb_snap_frozen')).toMatchObject({ kind: 'snapshot' });
    expect(byName.get('ayb')).toMatchObject({ kind: 'main' });
    expect(branches).toBeGreaterThan(0);
    // The sum over all backups is at least the newest one's.
    expect(status.share.branches_bytes).toBeGreaterThanOrEqual(branches);
    const text = await cli('history');
    expect(text.stdout).toMatch(/Base backups hold every database of main's cluster: main .*, branches .*, snapshots /);
  }, 300_000);

  it('a point-in-time snapshot says so in snapshot show', async () => {
    const snap = await cli('snapshot', 'create', 'then-snap', '--of', `main@${moment}`);
    expect(snap.exitCode, snap.stderr).toBe(0);
    const shown = await cli('snapshot', 'show', 'then-snap');
    expect(shown.stderr).toMatch(/unlogged tables are empty and its sequences may stand up to 32 values ahead/);
  }, 300_000);
});
