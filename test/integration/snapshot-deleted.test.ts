import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';

/**
 * A deleted snapshot is not named by any branch record afterwards. A branch made from a snapshot
 * has it as its parent, so that snapshot cannot be deleted under it; but `branch reset --to <snap>`
 * records the snapshot without making it the parent, and the snapshot may then be deleted (as a
 * git tag may: the branch's data never depended on it). The judge is the control table itself, read
 * with SQL, and a later snapshot of the same name that the branch was never reset to.
 */
describe('a deleted snapshot', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCli(args, { env });
  const recorded = async (name: string) =>
    (await cluster.query<{ snapshot: string | null }>('SELECT snapshot FROM public._ayb_branches WHERE name = $1', [name], 'app')).rows[0]?.snapshot;

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await cluster.query('CREATE TABLE items (id int PRIMARY KEY)', [], 'app');
    await cluster.query('INSERT INTO items VALUES (1)', [], 'app');
    env = { AYB_DATABASE_URL: cluster.url('app') };
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('is no longer named by a branch reset to it, and the delete says which branches it was named by', async () => {
    expect((await cli('branch', 'create', 'dev')).exitCode).toBe(0);
    expect((await cli('snapshot', 'create', 'pre')).exitCode).toBe(0);
    const reset = await cli('branch', 'reset', 'dev', '--to', 'pre');
    expect(reset.exitCode, reset.stderr).toBe(0);
    expect(await recorded('dev')).toBe('pre');

    // Not the parent of dev: deletable.
    const deleted = await cli('snapshot', 'delete', 'pre', '--yes', '--json');
    expect(deleted.exitCode, deleted.stderr).toBe(0);
    expect(deleted.stderr).toMatch(/branch "dev" was last reset to snapshot "pre"; its record no longer names it/);
    expect(await recorded('dev')).toBeNull();
    expect((await cli('branch', 'show', 'dev', '--json')).json()).toMatchObject({ snapshot: null });

    // A new snapshot of the same name is not the one dev was reset to, and dev must not claim it.
    await cluster.query('INSERT INTO items VALUES (2)', [], 'app');
    expect((await cli('snapshot', 'create', 'pre')).exitCode).toBe(0);
    expect(await recorded('dev')).toBeNull();
  });
});
