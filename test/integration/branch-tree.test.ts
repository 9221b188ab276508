import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseExists } from '../helpers/branch-lock.js';
import { dumpWaitingAtGate, holdGate } from '../helpers/gate.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';

/** Branches of branches: the recorded parent, list --tree, and deletes that respect children. */
describe('branches of branches', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCli(args, { env });

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await cluster.query('CREATE TABLE items (id int PRIMARY KEY)', [], 'app');
    env = { AYB_DATABASE_URL: cluster.url('app') };
    // Oldest first matters for sibling order, so one at a time.
    for (const [name, from] of [['dev', 'main'], ['review', 'dev'], ['fix', 'review'], ['hotfix', 'dev'], ['other', 'main']]) {
      const made = await cli('branch', 'create', name!, '--from', from!);
      if (made.exitCode !== 0) throw new Error(made.stderr);
    }
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('records the parent and shows it in list, and as a tree with --tree', async () => {
    const flat = (await cli('branch', 'list', '--json')).json();
    expect(flat.map((b: { name: string; parent: string | null }) => [b.name, b.parent])).toEqual([
      ['dev', null], ['review', 'dev'], ['fix', 'review'], ['hotfix', 'dev'], ['other', null],
    ]);
    expect(flat.find((b: { name: string }) => b.name === 'fix').source_database).toBe('ayb_branch_review');

    const table = await cli('branch', 'list');
    expect(table.stdout).toMatch(/^Name +Status +Parent /);
    expect(table.stdout).toMatch(/^fix +ready +review /m);
    expect(table.stdout).toMatch(/^dev +ready +main /m);
    // Compact: a header line and one line per branch, no rules between rows.
    expect(table.stdout.trimEnd().split('\n')).toHaveLength(6);

    const tree = await cli('branch', 'list', '--tree');
    expect(tree.exitCode).toBe(0);
    const names = tree.stdout.split('\n').map((line) => /^(.*?) +(ready|creating|failed) /.exec(line)?.[1]).filter(Boolean);
    expect(names).toEqual(['dev', '├─ review', '│  └─ fix', '└─ hotfix', 'other']);

    const nested = (await cli('branch', 'list', '--tree', '--json')).json();
    const shape = (nodes: { name: string; children: unknown[] }[]): unknown => nodes.map((n) => [n.name, shape(n.children as never)]);
    expect(shape(nested)).toEqual([['dev', [['review', [['fix', []]]], ['hotfix', []]]], ['other', []]]);
    expect(nested[0].children[0]).toMatchObject({ name: 'review', parent: 'dev', status: 'ready' });
  });

  it('refuses to delete a branch that others were made from, with exit 4 and a hint', async () => {
    const refused = await cli('branch', 'delete', 'dev', '--yes');
    expect(refused.exitCode).toBe(4);
    expect(refused.stderr).toMatch(/^Error: branch "dev" has 3 branch\(es\) made from it: (review|hotfix|fix)/);
    expect(refused.stderr).toMatch(/Hint: .*ayb branch delete dev --with-children --yes/);
    const json = (await cli('branch', 'delete', 'review', '--yes', '--json')).json();
    expect(json.error).toMatchObject({ code: 'branch_has_children', exit_code: 4, children: ['fix'] });
    expect(await databaseExists(cluster, 'ayb_branch_dev')).toBe(true);
    expect(await databaseExists(cluster, 'ayb_branch_review')).toBe(true);
  });

  it('--with-children deletes the whole subtree, deepest first, and nothing else', async () => {
    const deleted = await cli('branch', 'delete', 'dev', '--with-children', '--yes', '--json');
    expect(deleted.exitCode).toBe(0);
    expect(deleted.json()).toEqual({ name: 'dev', branch_database: 'ayb_branch_dev', deleted: true, deleted_children: ['fix', 'review', 'hotfix'] });
    for (const name of ['dev', 'review', 'fix', 'hotfix']) expect(await databaseExists(cluster, `ayb_branch_${name}`)).toBe(false);
    expect((await cli('branch', 'list', '--json')).json().map((b: { name: string }) => b.name)).toEqual(['other']);
  });

  it('a branch being copied from cannot be deleted, reset or renamed, and any number of copies run at once', async () => {
    // Both copies from `other` wait at the gate (pg_dump needs the lock the test holds on its table).
    const gate = await holdGate(cluster, 'ayb_branch_other', 'items');
    const copies = ['copy-1', 'copy-2'].map((name) => spawnCli(['branch', 'create', name, '--from', 'other', '--strategy', 'dump', '--json'], { env }));
    try {
      await dumpWaitingAtGate(cluster, 2);
      for (const args of [['delete', 'other', '--yes', '--with-children'], ['reset', 'other'], ['rename', 'other', 'renamed']]) {
        const refused = await cli('branch', ...args, '--json');
        expect(refused.exitCode).toBe(4);
        expect(refused.json().error).toMatchObject({ code: 'branch_busy', message: expect.stringMatching(/^branch "other" is being .*copied from/) });
      }
    } finally {
      await gate.release();
    }
    const results = await Promise.all(copies);
    expect(results.map((r) => r.exitCode)).toEqual([0, 0]);
    expect(await databaseExists(cluster, 'ayb_branch_other')).toBe(true);
    const list = (await cli('branch', 'list', '--json')).json();
    expect(list.map((b: { name: string; parent: string | null }) => [b.name, b.parent]).sort()).toEqual([['copy-1', 'other'], ['copy-2', 'other'], ['other', null]]);

    // Once they are done, the parent is free again.
    const deleted = await cli('branch', 'delete', 'other', '--with-children', '--yes', '--json');
    expect(deleted.exitCode).toBe(0);
  });

  it('a reset of a branch holds its parent the same way', async () => {
    await cli('branch', 'create', 'base');
    await cli('branch', 'create', 'child', '--from', 'base');
    const gate = await holdGate(cluster, 'ayb_branch_base', 'items');
    const reset = spawnCli(['branch', 'reset', 'child', '--strategy', 'dump', '--json'], { env });
    try {
      await dumpWaitingAtGate(cluster);
      const refused = await cli('branch', 'rename', 'base', 'base-2', '--json');
      expect(refused.json().error).toMatchObject({ code: 'branch_busy', exit_code: 4 });
    } finally {
      await gate.release();
    }
    expect((await reset).exitCode).toBe(0);
    expect((await cli('branch', 'rename', 'base', 'base-2', '--json')).exitCode).toBe(0);
  });
});
