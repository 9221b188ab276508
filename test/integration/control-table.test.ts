import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';

/**
 * The control table's schema version and migrations (branching/control-table.ts), judged by the
 * catalogs: the table's comment, and its columns and CHECKs against a table made fresh.
 */
describe('control table schema version', () => {
  let cluster: TestCluster;
  const cli = (database: string, ...args: string[]) => runCli(args, { env: { AYB_DATABASE_URL: cluster.url(database) } });
  const comment = async (database: string) =>
    (await cluster.query<{ c: string | null }>("SELECT obj_description('public._ayb_branches'::regclass, 'pg_class') AS c", [], database)).rows[0]!.c;
  /** The table's shape as the catalogs describe it: columns with types, defaults and nullability, and the CHECKs by name. */
  const shape = async (database: string) => ({
    columns: (await cluster.query(
      `SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name = '_ayb_branches' ORDER BY column_name`, [], database)).rows,
    checks: (await cluster.query(
      "SELECT conname FROM pg_constraint WHERE conrelid = 'public._ayb_branches'::regclass AND contype = 'c' AND conname LIKE '\\_ayb%' ORDER BY 1", [], database)).rows,
  });

  beforeAll(async () => {
    cluster = await startTestCluster();
    for (const db of ['fresh', 'older', 'newer']) await cluster.createDatabase(db);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('a new control table states its schema version', async () => {
    expect((await cli('fresh', 'branch', 'list', '--json')).exitCode).toBe(0);
    expect(await comment('fresh')).toMatch(/^ayb control table, schema version 2\. /);
  });

  it('a table of an ayb from before versioning is migrated once to the same shape as a new one', async () => {
    // The complete table of the previous release: every column, the named CHECKs, but no version.
    expect((await cli('older', 'branch', 'list', '--json')).exitCode).toBe(0);
    await cluster.query("COMMENT ON TABLE public._ayb_branches IS 'Branches and snapshots made by ayb (one row per database). Managed by ayb; do not edit by hand.'", [], 'older');
    await cluster.query('ALTER TABLE public._ayb_branches DROP COLUMN temp_databases, DROP COLUMN masked', [], 'older');
    expect((await cli('older', 'branch', 'create', 'one', '--json')).exitCode).toBe(0);
    expect(await comment('older')).toMatch(/^ayb control table, schema version 2\. /);
    expect(await shape('older')).toEqual(await shape('fresh'));
  });

  it('a table of a newer ayb (a higher version) is used as it is, never downgraded', async () => {
    expect((await cli('newer', 'branch', 'list', '--json')).exitCode).toBe(0);
    await cluster.query("COMMENT ON TABLE public._ayb_branches IS 'ayb control table, schema version 99. From the future.'", [], 'newer');
    await cluster.query('ALTER TABLE public._ayb_branches ADD COLUMN future text', [], 'newer');
    const made = await cli('newer', 'branch', 'create', 'two', '--json');
    expect(made.exitCode, made.stderr).toBe(0);
    expect(await comment('newer')).toBe('ayb control table, schema version 99. From the future.');
    expect((await cluster.query("SELECT name FROM public._ayb_branches", [], 'newer')).rows).toEqual([{ name: 'two' }]);
  });
});
