import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { loadPagila, runPsql } from '../helpers/pagila.js';

/** `ayb branch diff` as users run it: the built CLI against a real cluster whose main database is Pagila. */
describe('ayb branch diff', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  const ayb = (...args: string[]) => runCli(args, { env });

  beforeAll(async () => {
    cluster = await startTestCluster();
    await loadPagila(cluster, 'app');
    env = { AYB_DATABASE_URL: cluster.url('app') };
    for (const [name, strategy] of [['fresh-template', 'template'], ['fresh-dump', 'dump'], ['feature', 'template']] as const) {
      const created = await ayb('branch', 'create', name, '--strategy', strategy, '--json');
      expect(created.exitCode, created.stdout + created.stderr).toBe(0);
    }
    await cluster.query(
      `ALTER TABLE film ADD COLUMN imdb_id text;
       CREATE UNIQUE INDEX film_imdb_id_idx ON film (imdb_id);
       ALTER TABLE staff DROP COLUMN picture;
       ALTER TYPE mpaa_rating ADD VALUE 'NR'`,
      [],
      'ayb_branch_feature',
    );
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('shows no difference between main and a fresh branch, made by either strategy', async () => {
    for (const branch of ['fresh-template', 'fresh-dump']) {
      const json = await ayb('branch', 'diff', branch, '--json', '--exit-code');
      expect(json.exitCode, json.stderr).toBe(0);
      expect(json.stdout.trim()).toBe('[]');

      const table = await ayb('branch', 'diff', 'main', branch);
      expect(table.exitCode).toBe(0);
      expect(table.stdout.trim()).toBe(`No schema differences between main and ${branch}.`);
    }
    const sql = await ayb('branch', 'diff', 'fresh-template', 'fresh-dump', '--output', 'sql', '--exit-code');
    expect(sql.exitCode).toBe(0);
    expect(sql.stdout.trim()).toMatch(/-- No schema differences\.$/);
  });

  it('prints the changes as JSON, and exits 1 with --exit-code', async () => {
    const result = await ayb('branch', 'diff', 'feature', '--json', '--exit-code');
    expect(result.exitCode).toBe(1);
    const changes = result.json();
    expect(changes.map((c: { kind: string; name: string; action: string }) => `${c.kind} ${c.name} ${c.action}`)).toEqual([
      'enum mpaa_rating changed',
      'column imdb_id added',
      'column picture removed',
      'index film_imdb_id_idx added',
    ]);
    expect(changes[2]).toEqual({
      kind: 'column',
      schema: 'public',
      table: 'staff',
      name: 'picture',
      action: 'removed',
      destructive: true,
      detail: 'bytea',
      from: { type: 'bytea', collation: null, not_null: false, default: null, identity: null, generated: null, statistics: null, storage: null, compression: null, options: [] },
      to: null,
    });
    // Without --exit-code, differences are not an error.
    expect((await ayb('branch', 'diff', 'feature', '--json')).exitCode).toBe(0);
  });

  it('reads "main → branch" with one name, and the other way round with two', async () => {
    const forward = (await ayb('branch', 'diff', 'feature', '--json')).json();
    const backward = (await ayb('branch', 'diff', 'feature', 'main', '--json')).json();
    expect(backward.find((c: { name: string }) => c.name === 'imdb_id').action).toBe('removed');
    expect(forward.find((c: { name: string }) => c.name === 'imdb_id').action).toBe('added');
  });

  it('prints a table grouped by table, with destructive changes marked', async () => {
    const result = await ayb('branch', 'diff', 'feature');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('Schema changes from main to feature: 4 changes (1 destructive)');
    expect(result.stdout).toMatch(/^ {2}public\.staff\n- {5}column picture +bytea {2}\[destructive\]$/m);
    expect(result.stdout).toMatch(/^\+ {5}column imdb_id +text$/m);
  });

  it('prints a migration that, applied to a copy of main, leaves no difference', async () => {
    const sql = await ayb('branch', 'diff', 'main', 'feature', '--output', 'sql');
    expect(sql.exitCode).toBe(0);
    expect(sql.stdout).toContain('-- destructive: drops column public.staff.picture and its data\nALTER TABLE "public"."staff" DROP COLUMN "picture";');

    expect((await ayb('branch', 'create', 'migrated', '--json')).exitCode).toBe(0);
    await runPsql(cluster, 'ayb_branch_migrated', { sql: sql.stdout });
    const after = await ayb('branch', 'diff', 'migrated', 'feature', '--json', '--exit-code');
    expect(after.stdout.trim()).toBe('[]');
    expect(after.exitCode).toBe(0);
  });

  it('exits 1 with a "-- manual:" comment when the migration cannot make a change', async () => {
    for (const name of ['rangea', 'rangeb']) expect((await ayb('branch', 'create', name, '--json')).exitCode).toBe(0);
    const setup = 'CREATE TYPE floatrange AS RANGE (subtype = float8); CREATE TABLE span (r floatrange)';
    await cluster.query(setup, [], 'ayb_branch_rangea');
    await cluster.query(`${setup}; ALTER TABLE span DROP COLUMN r; DROP TYPE floatrange;
      CREATE TYPE floatrange AS RANGE (subtype = float8, subtype_diff = float8mi); ALTER TABLE span ADD COLUMN r floatrange`, [], 'ayb_branch_rangeb');
    const sql = await ayb('branch', 'diff', 'rangea', 'rangeb', '--output', 'sql');
    expect(sql.exitCode).toBe(1);
    expect(sql.stdout).toMatch(/^-- manual: range type public\.floatrange is defined differently, and PostgreSQL cannot change it while columns use it \(public\.span\.r\)/m);
    expect(sql.stdout).not.toContain('DROP TYPE');
    expect(sql.stderr).toContain('cannot be migrated by the script');
    // The other outputs report the change as usual.
    expect((await ayb('branch', 'diff', 'rangea', 'rangeb', '--json')).exitCode).toBe(0);
  });

  it('refuses an unknown branch, a bad output and --json with --output sql, with the contract exit codes', async () => {
    const missing = await ayb('branch', 'diff', 'nope', '--json');
    expect(missing.exitCode).toBe(3);
    expect(missing.json().error.code).toBe('branch_not_found');

    const badOutput = await ayb('branch', 'diff', 'feature', '--output', 'yaml');
    expect(badOutput.exitCode).toBe(2);

    const both = await ayb('branch', 'diff', 'feature', '--json', '--output', 'sql');
    expect(both.exitCode).toBe(2);
    expect(both.json().error.message).toMatch(/--json and --output sql/);
  });
});
