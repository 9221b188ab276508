import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { runPsql } from '../helpers/pagila.js';

/**
 * Issue 24, the rest: a unique value swapped between rows of a table whose deletes a foreign key acts
 * on (CASCADE, SET NULL, RESTRICT; none deferrable). Each case changes a branch of main, has ayb print
 * the DML from main to it, applies it to a fresh copy of main, and judges by fingerprints of ordered rows.
 */
const MAIN_SQL = `
  CREATE SCHEMA sw;
  CREATE TABLE sw.u (id int PRIMARY KEY, email text UNIQUE NOT NULL, name text);
  CREATE TABLE sw.o (id int PRIMARY KEY, u int NOT NULL REFERENCES sw.u ON DELETE CASCADE, note text);
  CREATE TABLE sw.n (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, u int REFERENCES sw.u ON DELETE SET NULL);
  CREATE TABLE sw.r (u int NOT NULL REFERENCES sw.u (id) ON DELETE RESTRICT, note text);
  INSERT INTO sw.u VALUES (1, 'a@x', 'A'), (2, 'b@x', 'B'), (3, 'c@x', 'C'), (4, 'd@x', 'D');
  INSERT INTO sw.o VALUES (1, 1, 'o1'), (2, 2, 'o2'), (3, 3, 'o3'), (4, 1, 'o4'), (5, 4, 'o5');
  INSERT INTO sw.n (u) VALUES (1), (2), (3);
  INSERT INTO sw.r VALUES (1, 'r1'), (2, 'r2'), (2, 'r2');

  CREATE SCHEMA trg;
  CREATE TABLE trg.t (id int PRIMARY KEY, v text);
  CREATE FUNCTION trg.f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
  CREATE TRIGGER t BEFORE INSERT OR UPDATE ON trg.t FOR EACH ROW EXECUTE FUNCTION trg.f();
  INSERT INTO trg.t VALUES (1, 'a');
  CREATE ROLE ayb_writer;
  GRANT USAGE ON SCHEMA trg TO ayb_writer;
  GRANT SELECT, INSERT, UPDATE, DELETE ON trg.t TO ayb_writer;
`;

const dbOf = (branch: string) => `ayb_branch_${branch.replace(/-/g, '_')}`;

describe('ayb branch diff --data --output sql: more shapes', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  const ayb = (...args: string[]) => runCli(args, { env });

  async function branch(name: string, changes?: string): Promise<string> {
    const created = await ayb('branch', 'create', name, '--strategy', 'template', '--json');
    expect(created.exitCode, created.stdout + created.stderr).toBe(0);
    if (changes) await runPsql(cluster, dbOf(name), { sql: changes });
    return dbOf(name);
  }

  /** ayb's DML from main to `name`, applied to a fresh copy of main, makes the copy's rows those of the branch. */
  async function roundTrip(name: string): Promise<string> {
    const replay = await branch(`${name}-r`);
    const sql = await ayb('branch', 'diff', 'main', name, '--data', '--output', 'sql');
    expect(sql.exitCode, sql.stderr).toBe(0);
    await runPsql(cluster, replay, { sql: sql.stdout });
    const [got, want, main] = await Promise.all([fingerprint(cluster, replay), fingerprint(cluster, dbOf(name)), fingerprint(cluster, 'app')]);
    expect(got.tables).toEqual(want.tables);
    expect(want.tables).not.toEqual(main.tables);
    return sql.stdout;
  }

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await runPsql(cluster, 'app', { sql: MAIN_SQL });
    env = { AYB_DATABASE_URL: cluster.url('app') };
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('swaps a unique value between rows whose deletes cascade, set null and are restricted, and leaves the rows that stay alone', async () => {
    await branch('swap', `
      UPDATE sw.u SET email = 'tmp' WHERE id = 1; UPDATE sw.u SET email = 'a@x' WHERE id = 2; UPDATE sw.u SET email = 'b@x' WHERE id = 1;
      UPDATE sw.u SET name = 'C2' WHERE id = 3;
      DELETE FROM sw.o WHERE id = 1;
      UPDATE sw.o SET note = 'o2 changed' WHERE id = 2;
      INSERT INTO sw.o VALUES (6, 2, 'o6');
      DELETE FROM sw.u WHERE id = 4;
    `);
    const sql = await roundTrip('swap');
    // The rows that stay were neither deleted by a cascade nor nulled: their identity values are those of main.
    const { rows } = await cluster.query<{ id: number; u: number | null }>('SELECT id, u FROM sw.n ORDER BY id', [], dbOf('swap-r'));
    expect(rows).toEqual([{ id: 1, u: 1 }, { id: 2, u: 2 }, { id: 3, u: 3 }]);
    expect(sql).not.toMatch(/session_replication_role/);
    expect(sql).toMatch(/^-- It sets child rows aside in temporary tables/m);
  });

  it('says in the script\'s header that applying it takes the ownership of tables with triggers: a role that may only write the rows is refused, nothing applied', async () => {
    await branch('trig', "UPDATE trg.t SET v = 'b'; INSERT INTO trg.t VALUES (2, 'c');");
    const replay = await branch('trig-r');
    const sql = await ayb('branch', 'diff', 'main', 'trig', '--data', '--table', 'trg.t', '--output', 'sql');
    expect(sql.exitCode, sql.stderr).toBe(0);
    expect(sql.stdout.split('BEGIN;')[0]).toMatch(/Applying it takes the ownership of trg\.t/);
    await expect(runPsql(cluster, replay, { sql: `SET ROLE ayb_writer;\n${sql.stdout}` })).rejects.toThrow(/must be owner of table t/);
    const { rows } = await cluster.query<{ v: string }>('SELECT string_agg(v, \',\' ORDER BY id) AS v FROM trg.t', [], replay);
    expect(rows[0]!.v).toBe('a');
    await runPsql(cluster, replay, { sql: sql.stdout });
    const [got, want] = await Promise.all([fingerprint(cluster, replay), fingerprint(cluster, dbOf('trig'))]);
    expect(got.tables).toEqual(want.tables);
  });
});
