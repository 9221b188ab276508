import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';

/**
 * ayb as a library (`import { openAyb } from 'ayb'`): a program imports the built package by name
 * and runs a branch-mutate-evaluate loop; judged by the server's catalogs and by the CLI's own
 * --json output for the same questions.
 */
describe('library', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await cluster.query('CREATE TABLE items (id int PRIMARY KEY, note text)', [], 'app');
    await cluster.query("INSERT INTO items SELECT g, 'seed ' || g FROM generate_series(1, 5) g", [], 'app');
    env = { AYB_DATABASE_URL: cluster.url('app') };
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('the package entry is typed: exports and types point at the built library', async () => {
    const pkg = JSON.parse(await readFile(path.join(REPO_ROOT, 'package.json'), 'utf8'));
    expect(pkg.exports['.']).toEqual({ types: './dist/lib/index.d.ts', default: './dist/lib/index.js' });
    const types = await readFile(path.join(REPO_ROOT, pkg.exports['.'].types), 'utf8');
    expect(types).toMatch(/export declare function openAyb\(options\?: AybOptions\): Promise<Ayb>/);
    for (const method of ['list', 'create', 'url', 'reset', 'diff', 'merge', 'snapshot', 'delete']) expect(types).toMatch(new RegExp(`\\b${method}\\(`));
  });

  it('a program creates, connects to, diffs, snapshots, resets and deletes branches in-process', async () => {
    const run = await execa('node', [path.join(REPO_ROOT, 'test/programs/library-agent.mjs')], {
      cwd: REPO_ROOT, reject: false, env: { ...env, NO_COLOR: '1' }, extendEnv: true, timeout: 240_000,
    });
    expect(run.exitCode, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout);

    expect(out.created).toMatchObject({ name: 'lib-a', kind: 'branch', status: 'ready', branch_database: 'ayb_branch_lib_a', source_database: 'app', parent: null });
    expect(out.url).toEqual({ name: 'lib-a', database: 'ayb_branch_lib_a', url: expect.stringMatching(/^postgres(ql)?:\/\//) });
    expect(out.fromSnapshot).toMatchObject({ name: 'lib-b', parent: 'lib-snap', snapshot: 'lib-snap', strategy: 'template' });
    expect(out.fromBranch).toMatchObject({ name: 'lib-c', parent: 'lib-a', strategy: 'dump' });
    expect(out.snapshot).toMatchObject({ name: 'lib-snap', kind: 'snapshot', branch_database: 'ayb_snap_lib_snap' });
    expect(out.list.map((b: { name: string }) => b.name).sort()).toEqual(['lib-a', 'lib-b', 'lib-c']);
    expect(out.snapshots.map((b: { name: string }) => b.name)).toEqual(['lib-snap']);
    // The row the program wrote through the URL: in the diff, and gone after the reset.
    expect(out.diffData).toEqual([expect.objectContaining({ table: 'public.items', added: 1, removed: 0, changed: 0 })]);
    expect(out.diffSchema).toEqual([]);
    expect(out.reset).toMatchObject({ name: 'lib-a', status: 'ready' });
    expect(out.afterReset).toEqual([{ n: 0 }]);
    // Errors: the CLI's, code, exit code and --json document alike.
    expect(out.duplicate).toMatchObject({ isAybError: true, exitCode: 4 });
    const cliDuplicate = await runCli(['branch', 'create', 'lib-a', '--json'], { env });
    expect(cliDuplicate.exitCode).toBe(out.duplicate.exitCode);
    expect(out.duplicate.json).toEqual(cliDuplicate.json());
    const cliMissing = await runCli(['branch', 'url', 'no-such-branch', '--json'], { env });
    expect(out.missing).toEqual(cliMissing.json());
    expect(out.deleted).toEqual([
      { name: 'lib-b', branch_database: 'ayb_branch_lib_b', deleted: true },
      { name: 'lib-c', branch_database: 'ayb_branch_lib_c', deleted: true },
      { name: 'lib-snap', branch_database: 'ayb_snap_lib_snap', deleted: true },
    ]);

    // The server's own view: exactly the databases of what is left.
    const { rows } = await cluster.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'ayb\\_%' ORDER BY 1", [], 'postgres');
    expect(rows.map((r) => r.datname)).toEqual(['ayb_branch_lib_a']);
    // And what the CLI lists is what the library listed last.
    expect((await runCli(['branch', 'list', '--json'], { env })).json()).toEqual(out.listAfter);
    // The program's row never reached main.
    expect((await cluster.query('SELECT count(*)::int AS n FROM items', [], 'app')).rows).toEqual([{ n: 5 }]);
  });
});
