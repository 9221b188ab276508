import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseExists, holdBranchLock } from '../helpers/branch-lock.js';
import { runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { killWhileRefusing } from '../helpers/refusal.js';

describe('branch rename', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCli(args, { env });
  const connectTo = async (database: string) => {
    const client = new pg.Client({ host: cluster.conn.host, port: cluster.port, user: cluster.conn.user, password: cluster.conn.password, database, application_name: 'rename-test' });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };

  beforeAll(async () => {
    cluster = await startTestCluster();
    env = await cluster.createApp('CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items VALUES (1), (2)');
    for (const [name, from] of [['alpha', 'main'], ['kid', 'alpha'], ['taken', 'main'], ['x-y', 'main']]) {
      const made = await cli('branch', 'create', name!, '--from', from!);
      if (made.exitCode !== 0) throw new Error(made.stderr);
    }
    await cluster.query('INSERT INTO items VALUES (3)', [], 'ayb_branch_alpha');
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('renames the branch and its database, keeps its contents and expiry, and repoints its children', async () => {
    await cli('branch', 'expire', 'alpha', '--expires-at', '2031-01-01T00:00:00Z');
    const renamed = await cli('branch', 'rename', 'alpha', 'beta', '--json');
    expect(renamed.exitCode).toBe(0);
    expect(renamed.json()).toMatchObject({ name: 'beta', branch_database: 'ayb_branch_beta', status: 'ready', expires_at: '2031-01-01T00:00:00.000Z' });
    expect(await databaseExists(cluster, 'ayb_branch_alpha')).toBe(false);
    const rows = await cluster.query('SELECT id FROM items ORDER BY id', [], 'ayb_branch_beta');
    expect(rows.rows.map((r) => r.id)).toEqual([1, 2, 3]);
    expect((await cli('branch', 'url', 'beta')).stdout.trim()).toMatch(/\/ayb_branch_beta$/);
    expect((await cli('branch', 'show', 'alpha', '--json')).json().error).toMatchObject({ code: 'branch_not_found', exit_code: 3 });

    const kid = (await cli('branch', 'show', 'kid', '--json')).json();
    expect(kid).toMatchObject({ parent: 'beta', source_database: 'ayb_branch_beta' });
    // The child still resets from its (renamed) parent.
    const reset = await cli('branch', 'reset', 'kid', '--json');
    expect(reset.exitCode).toBe(0);
    const kidRows = await cluster.query('SELECT id FROM items ORDER BY id', [], 'ayb_branch_kid');
    expect(kidRows.rows.map((r) => r.id)).toEqual([1, 2, 3]);
  });

  it('follows the naming and collision rules of create, and never touches a database ayb did not make', async () => {
    const exists = await cli('branch', 'rename', 'beta', 'taken', '--json');
    expect(exists.exitCode).toBe(4);
    expect(exists.json().error.code).toBe('branch_exists');

    const collision = await cli('branch', 'rename', 'beta', 'x_y');
    expect(collision.exitCode).toBe(4);
    expect(collision.stderr).toMatch(/would use database "ayb_branch_x_y", which branch "x-y" already uses/);

    await cluster.createDatabase('ayb_branch_foreign');
    const foreign = await cli('branch', 'rename', 'beta', 'foreign', '--json');
    expect(foreign.exitCode).toBe(4);
    expect(foreign.json().error.code).toBe('database_exists');
    expect(await databaseExists(cluster, 'ayb_branch_foreign')).toBe(true);

    expect((await cli('branch', 'rename', 'beta', 'Bad-Name')).exitCode).toBe(2);
    expect((await cli('branch', 'rename', 'beta', 'main')).exitCode).toBe(2);
    expect((await cli('branch', 'rename', 'beta', 'beta')).exitCode).toBe(2);
    expect((await cli('branch', 'rename', 'nope', 'fresh')).exitCode).toBe(3);
    expect(await databaseExists(cluster, 'ayb_branch_beta')).toBe(true);

    // "-" and "_" share the database: renaming x-y to x_y only changes the recorded name.
    const spelling = await cli('branch', 'rename', 'x-y', 'x_y', '--json');
    expect(spelling.exitCode).toBe(0);
    expect(spelling.json()).toMatchObject({ name: 'x_y', branch_database: 'ayb_branch_x_y' });
  });

  it('refuses a branch in use, listing the sessions, unless --disconnect; waits for nobody', async () => {
    const session = await connectTo('ayb_branch_taken');
    try {
      const refused = await cli('branch', 'rename', 'taken', 'gamma', '--json');
      expect(refused.exitCode).toBe(4);
      expect(refused.json().error).toMatchObject({ code: 'branch_in_use', hint: expect.stringMatching(/--disconnect/) });
      expect(refused.json().error.sessions).toEqual([expect.objectContaining({ application_name: 'rename-test' })]);
      expect((await session.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);

      const forced = await cli('branch', 'rename', 'taken', 'gamma', '--disconnect', '--json');
      expect(forced.exitCode).toBe(0);
      await expect(session.query('SELECT 1')).rejects.toThrow();
    } finally {
      await session.end().catch(() => undefined);
    }
    // Connections are allowed again under the new name.
    const again = await connectTo('ayb_branch_gamma');
    await again.end();

    const lock = await holdBranchLock(cluster, 'ayb_branch_delta');
    try {
      const busy = await cli('branch', 'rename', 'gamma', 'delta', '--json');
      expect(busy.json().error).toMatchObject({ code: 'branch_busy', exit_code: 4 });
    } finally {
      await lock.release();
    }
    expect((await cli('branch', 'list', '--json')).json().map((b: { name: string }) => b.name).sort()).toEqual(['beta', 'gamma', 'kid', 'x_y']);
  });

  it('--disconnect: a rename killed midway changes neither the row nor the database, and connections are allowed again', async () => {
    const made = await cli('branch', 'create', 'doomed', '--from', 'main');
    if (made.exitCode !== 0) throw new Error(made.stderr);
    // ALTER DATABASE … RENAME waits at the gate inside the transaction that also renames the row,
    // on the connection to main. Once the gate opens the statement ends on the server, but nobody
    // commits: both stay as they were. The guard waits only for the session that refused
    // connections (a rename cannot refuse any), so it may allow them while the rename still waits.
    await killWhileRefusing(cluster, ['branch', 'rename', 'doomed', 'survivor', '--disconnect'], env, {
      gated: 'ayb_branch_doomed', prefix: 'ALTER DATABASE', refused: 'ayb_branch_doomed', healed: 'ayb_branch_doomed', onRefusingSession: false,
    });
    expect(await databaseExists(cluster, 'ayb_branch_survivor')).toBe(false);
    expect((await cli('branch', 'show', 'doomed', '--json')).json()).toMatchObject({ status: 'ready', branch_database: 'ayb_branch_doomed' });
    const session = await connectTo('ayb_branch_doomed');
    await session.end();
    // And the rename, tried again, goes through.
    expect((await cli('branch', 'rename', 'doomed', 'survivor', '--disconnect', '--json')).json()).toMatchObject({ name: 'survivor', branch_database: 'ayb_branch_survivor' });
  });
});
