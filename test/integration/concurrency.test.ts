import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { branchDatabases, holdGate, toolSessions, waitForDumpAtGate } from '../helpers/clone-probes.js';

/**
 * Several ayb processes at once. To make "at the same time" certain rather than likely, the
 * winner's pg_dump is held at a gate (a lock on a table of main) while the others run.
 */
describe('concurrent creates', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;

  beforeAll(async () => {
    cluster = await startTestCluster();
    env = await cluster.createApp("CREATE TABLE items (id serial PRIMARY KEY, label text NOT NULL); INSERT INTO items (label) VALUES ('one'), ('two')");
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  async function rows(): Promise<{ name: string; status: string }[]> {
    const { rows } = await cluster.query<{ name: string; status: string }>('SELECT name, status FROM _ayb_branches ORDER BY name', [], 'app');
    return rows;
  }

  async function cleanUp(): Promise<void> {
    const deletes = (await rows()).map(({ name }) => runCli(['branch', 'delete', name, '--yes', '--force'], { env }));
    for (const deleted of await Promise.all(deletes)) expect(deleted.exitCode).toBe(0);
    expect(await branchDatabases(cluster)).toEqual([]);
  }

  it.each([
    { names: ['same', 'same'], label: 'one name' },
    { names: ['a-b', 'a_b'], label: 'two names that share a database (a-b, a_b)' },
  ])('two creates of $label started together: one succeeds, the other is a conflict (exit 4); one row', async ({ names }) => {
    const gate = await holdGate(cluster, 'app', 'items');
    try {
      const creates = names.map((name) => spawnCli(['branch', 'create', name, '--strategy', 'dump', '--json'], { env }));
      // The winner waits at the gate; the loser must already have given up by then.
      const loser = await Promise.race(creates.map((c, i) => c.then((result) => ({ result, i }))));
      const at = await waitForDumpAtGate(cluster);
      expect(at.datname).toBe('app');
      expect(loser.result.exitCode).toBe(4);
      const error = JSON.parse(String(loser.result.stdout)).error;
      expect(error.code).toBe('branch_busy');
      expect(error.message).toMatch(/is being created .*by another ayb process right now/);
      expect(error.hint).toMatch(/ayb branch show/);

      await gate.release();
      const winner = await creates[1 - loser.i]!;
      expect(winner.exitCode).toBe(0);
      expect(JSON.parse(String(winner.stdout))).toMatchObject({ name: names[1 - loser.i], status: 'ready' });
      expect(await rows()).toEqual([{ name: names[1 - loser.i], status: 'ready' }]);
      expect(await branchDatabases(cluster)).toEqual([names[0]!.startsWith('a') ? 'ayb_branch_a_b' : 'ayb_branch_same']);
    } finally {
      await gate.release();
    }

    // Once the winner is done, the same create is an ordinary conflict.
    const late = await runCli(['branch', 'create', names[0]!, '--json'], { env });
    expect(late.exitCode).toBe(4);
    expect(late.json().error.code).toMatch(/^(branch_exists|name_collision)$/);
    await cleanUp();
  });

  it('a delete, even with --force, refuses a branch that is still being created', async () => {
    const gate = await holdGate(cluster, 'app', 'items');
    try {
      const create = spawnCli(['branch', 'create', 'busy', '--strategy', 'dump'], { env });
      await waitForDumpAtGate(cluster);
      const deleted = await runCli(['branch', 'delete', 'busy', '--yes', '--force', '--json'], { env });
      expect(deleted.exitCode).toBe(4);
      expect(deleted.json().error.code).toBe('branch_busy');
      expect(await rows()).toEqual([{ name: 'busy', status: 'creating' }]);

      await gate.release();
      expect((await create).exitCode).toBe(0);
      expect(await rows()).toEqual([{ name: 'busy', status: 'ready' }]);
    } finally {
      await gate.release();
    }
    await cleanUp();
  });

  it.each(['auto', 'dump'])('creates of different names at the same time all succeed (--strategy %s)', async (strategy) => {
    const names = ['par-1', 'par-2', 'par-3', 'par-4'];
    const results = await Promise.all(names.map((name) => runCli(['branch', 'create', name, '--strategy', strategy, '--json'], { env })));
    for (const result of results) {
      expect(result.stderr).toBe('');
      expect(result.exitCode).toBe(0);
    }
    expect(await rows()).toEqual(names.map((name) => ({ name, status: 'ready' })));
    for (const name of names) {
      const { rows: items } = await cluster.query('SELECT label FROM items ORDER BY id', [], `ayb_branch_${name.replace('-', '_')}`);
      expect(items.map((r) => r.label)).toEqual(['one', 'two']);
    }
    expect(await toolSessions(cluster)).toEqual([]);
    await cleanUp();
  });
});
