import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';

/**
 * `branch list` / `snapshot list` give sizes only with --sizes (pg_database_size scans every file of
 * every database: seconds for hundreds of branches). Without it, the records and their problems are
 * all still there; with it, each size is the server's own pg_database_size of that database.
 */
describe('list sizes on request', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCli(args, { env });

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await cluster.query("CREATE TABLE items (id int PRIMARY KEY, note text); INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 500) g", [], 'app');
    env = { AYB_DATABASE_URL: cluster.url('app') };
    for (const args of [['branch', 'create', 'small'], ['branch', 'create', 'gone'], ['snapshot', 'create', 'snap']]) {
      const made = await cli(...args, '--json');
      expect(made.exitCode, made.stderr).toBe(0);
    }
    // Dropped outside ayb: the list must still say so without sizes.
    await cluster.query('DROP DATABASE ayb_branch_gone', [], 'postgres');
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const serverSize = async (database: string) =>
    Number((await cluster.query<{ size: string }>('SELECT pg_database_size($1)::text AS size', [database], 'postgres')).rows[0]!.size);

  it('without --sizes: every record and problem, no size_bytes, no Size column', async () => {
    const listed = await cli('branch', 'list', '--json');
    expect(listed.exitCode, listed.stderr).toBe(0);
    const records = listed.json() as Record<string, unknown>[];
    expect(records.map((r) => r.name)).toEqual(['small', 'gone']);
    for (const record of records) expect(record).not.toHaveProperty('size_bytes');
    expect(records.find((r) => r.name === 'gone')).toMatchObject({ status: 'ready', problem: 'database_missing' });
    expect(records.find((r) => r.name === 'small')).not.toHaveProperty('problem');

    const table = await cli('branch', 'list');
    expect(table.stdout).toMatch(/Name/);
    expect(table.stdout).not.toMatch(/Size/);
    const snapshots = await cli('snapshot', 'list', '--json');
    expect((snapshots.json() as Record<string, unknown>[])[0]).not.toHaveProperty('size_bytes');
  });

  it('create does not size the branch it made (nobody asked); show of it does', async () => {
    const made = await cli('branch', 'create', 'unsized', '--json');
    expect(made.exitCode, made.stderr).toBe(0);
    expect(made.json()).toMatchObject({ name: 'unsized', status: 'ready' });
    expect(made.json()).not.toHaveProperty('size_bytes');
    expect((await cli('branch', 'show', 'unsized', '--json')).json().size_bytes).toBe(await serverSize('ayb_branch_unsized'));
    expect((await cli('branch', 'delete', 'unsized', '--yes', '--json')).exitCode).toBe(0);
  });

  it('with --sizes: each size is the server\'s pg_database_size of that database', async () => {
    const listed = await cli('branch', 'list', '--sizes', '--json');
    expect(listed.exitCode, listed.stderr).toBe(0);
    const records = listed.json() as Record<string, unknown>[];
    expect(records.find((r) => r.name === 'small')?.size_bytes).toBe(await serverSize('ayb_branch_small'));
    expect(records.find((r) => r.name === 'gone')).not.toHaveProperty('size_bytes');
    expect(records.find((r) => r.name === 'gone')).toMatchObject({ problem: 'database_missing' });
    expect((await cli('branch', 'list', '--sizes')).stdout).toMatch(/Size/);

    const snapshots = (await cli('snapshot', 'list', '--sizes', '--json')).json() as Record<string, unknown>[];
    expect(snapshots[0]?.size_bytes).toBe(await serverSize('ayb_snap_snap'));
    // show keeps its size without a flag.
    expect((await cli('branch', 'show', 'small', '--json')).json().size_bytes).toBe(await serverSize('ayb_branch_small'));
  });
});
