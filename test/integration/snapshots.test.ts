import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';

/** Snapshots: frozen copies that nobody connects to, to branch from and reset to. */
describe('snapshots', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCli(args, { env });
  const ids = async (database: string) =>
    (await cluster.query<{ id: number }>('SELECT id FROM items ORDER BY id', [], database)).rows.map((r) => r.id);
  const allowsConnections = async (database: string) =>
    (await cluster.query<{ datallowconn: boolean }>('SELECT datallowconn FROM pg_database WHERE datname = $1', [database], 'postgres')).rows[0]?.datallowconn;

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await cluster.query('CREATE TABLE items (id int PRIMARY KEY, note text)', [], 'app');
    await cluster.query("INSERT INTO items SELECT g, 'seed ' || g FROM generate_series(1, 3) g", [], 'app');
    env = { AYB_DATABASE_URL: cluster.url('app') };
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('freezes main into ayb_snap_<name>, which refuses connections and has no control table', async () => {
    const made = await cli('snapshot', 'create', 'seeded', '--json');
    expect(made.exitCode, made.stderr).toBe(0);
    expect(made.json()).toMatchObject({ name: 'seeded', kind: 'snapshot', branch_database: 'ayb_snap_seeded', status: 'ready', source_database: 'app' });
    expect(made.json()).not.toHaveProperty('snapshot');
    // The server's own view, not ayb's: nobody can connect.
    expect(await allowsConnections('ayb_snap_seeded')).toBe(false);
    const direct = new pg.Client({ connectionString: cluster.url('ayb_snap_seeded') });
    await expect(direct.connect()).rejects.toThrow(/not currently accepting connections/);

    const listed = (await cli('snapshot', 'list', '--json')).json();
    expect(listed.map((s: { name: string }) => s.name)).toEqual(['seeded']);
    expect((await cli('branch', 'list', '--json')).json()).toEqual([]);
    const shown = await cli('snapshot', 'show', 'seeded');
    expect(shown.exitCode).toBe(0);
    expect(shown.stdout).toMatch(/ayb_snap_seeded/);
    expect(shown.stdout).not.toMatch(/URL/);
    // What PostgreSQL does not keep, said where the snapshot is shown.
    expect(shown.stderr).toMatch(/Unlogged tables of a snapshot lose their rows if the server crashes/);
  });

  it('branches from a snapshot by template even while main is busy, with the rows of the moment it was taken', async () => {
    await cluster.query('INSERT INTO items VALUES (4, $1)', ['after the snapshot'], 'app');
    const busy = new pg.Client({ connectionString: cluster.url('app') });
    await busy.connect();
    try {
      const made = await cli('branch', 'create', 'ci-1', '--from', 'seeded', '--json');
      expect(made.exitCode, made.stderr).toBe(0);
      expect(made.json()).toMatchObject({ name: 'ci-1', kind: 'branch', strategy: 'template', parent: 'seeded', snapshot: 'seeded' });
      // For contrast: auto from the busy main has to dump.
      const fromMain = await cli('branch', 'create', 'busy-main', '--json');
      expect(fromMain.json()).toMatchObject({ strategy: 'dump' });
    } finally {
      await busy.end();
    }
    expect(await ids('ayb_branch_ci_1')).toEqual([1, 2, 3]);
    expect((await cluster.query("SELECT to_regclass('public._ayb_branches') AS t", [], 'ayb_branch_ci_1')).rows[0].t).toBeNull();
    const table = await cli('branch', 'list');
    expect(table.stdout).toMatch(/^ci-1 +ready +seeded +seeded /m);
    expect(await cli('branch', 'create', 'ci-2', '--from', 'seeded', '--strategy', 'dump')).toMatchObject({ exitCode: 2 });
  });

  it('resets a branch to a snapshot, atomically, and records it', async () => {
    await cluster.query('DELETE FROM items', [], 'ayb_branch_busy_main');
    const reset = await cli('branch', 'reset', 'busy-main', '--to', 'seeded', '--json');
    expect(reset.exitCode, reset.stderr).toBe(0);
    expect(reset.json()).toMatchObject({ name: 'busy-main', snapshot: 'seeded', strategy: 'template' });
    expect(await ids('ayb_branch_busy_main')).toEqual([1, 2, 3]);
    expect(await cli('branch', 'reset', 'busy-main', '--to', 'nope')).toMatchObject({ exitCode: 3 });
    expect(await cli('branch', 'reset', 'busy-main', '--to', 'ci-1')).toMatchObject({ exitCode: 3 });
    expect(await cli('branch', 'reset', 'seeded')).toMatchObject({ exitCode: 4 });
  });

  it('shares one namespace of names with branches, and keeps each command to its kind', async () => {
    const taken = await cli('branch', 'create', 'seeded', '--json');
    expect(taken.exitCode).toBe(4);
    expect(taken.json().error.code).toBe('snapshot_exists');
    expect((await cli('snapshot', 'create', 'ci-1', '--json')).json().error.code).toBe('branch_exists');
    expect(await cli('snapshot', 'show', 'ci-1')).toMatchObject({ exitCode: 3 });
    expect(await cli('branch', 'show', 'seeded')).toMatchObject({ exitCode: 3 });
    expect(await cli('branch', 'delete', 'seeded', '--yes')).toMatchObject({ exitCode: 3 });
    expect(await cli('branch', 'rename', 'seeded', 'other')).toMatchObject({ exitCode: 3 });
    const url = await cli('branch', 'url', 'seeded', '--json');
    expect(url.exitCode).toBe(4);
    expect(url.json().error.code).toBe('snapshot_refuses_connections');
    const again = await cli('snapshot', 'create', 'seeded', '--if-not-exists', '--json');
    expect(again.exitCode).toBe(0);
    expect(again.json().name).toBe('seeded');
  });

  it('diffs a snapshot against main through a throwaway copy, and removes copies a killed ayb left', async () => {
    // What a kill -9 in the middle of a diff leaves: a copy whose lock nobody holds.
    await cluster.query('CREATE DATABASE ayb_view_0123456789ab', [], 'postgres');
    await cluster.query('ALTER TABLE items ADD COLUMN added_later int', [], 'app');
    const diff = await cli('branch', 'diff', 'seeded', 'main', '--exit-code');
    expect(diff.exitCode, diff.stderr).toBe(1);
    expect(diff.stderr).toMatch(/Removing "ayb_view_0123456789ab"/);
    expect(diff.stdout).toMatch(/added_later/);
    const json = await cli('branch', 'diff', 'seeded', 'main', '--json');
    expect(JSON.stringify(json.json())).toMatch(/added_later/);
    const same = await cli('branch', 'diff', 'seeded', 'ci-1', '--exit-code');
    expect(same.exitCode, same.stderr).toBe(0);
    const views = await cluster.query("SELECT datname FROM pg_database WHERE datname LIKE 'ayb_view_%'", [], 'postgres');
    expect(views.rows).toEqual([]);
    expect(await allowsConnections('ayb_snap_seeded')).toBe(false);
  });

  it('refuses to delete a snapshot that branches were made from, unless --with-children; never touches anything else', async () => {
    // A snapshot of a branch stands on its own: the branch going away leaves it alone.
    await cluster.query("INSERT INTO items VALUES (10, 'on ci-1')", [], 'ayb_branch_ci_1');
    const ofBranch = await cli('snapshot', 'create', 'of-ci', '--of', 'ci-1', '--json');
    expect(ofBranch.json()).toMatchObject({ source_database: 'ayb_branch_ci_1', parent: null });

    const refused = await cli('snapshot', 'delete', 'seeded', '--yes', '--json');
    expect(refused.exitCode, refused.stdout).toBe(4);
    expect(refused.json().error.children).toEqual(['ci-1']);
    const deleted = await cli('snapshot', 'delete', 'seeded', '--yes', '--with-children', '--json');
    expect(deleted.exitCode, deleted.stderr).toBe(0);
    expect(deleted.json()).toMatchObject({ name: 'seeded', deleted: true, deleted_children: ['ci-1'] });
    const left = (await cluster.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'ayb_%' ORDER BY 1", [], 'postgres')).rows.map((r) => r.datname);
    expect(left).toEqual(['ayb_branch_busy_main', 'ayb_snap_of_ci']);
    expect(await ids('app')).toEqual([1, 2, 3, 4]);
    // busy-main was reset to seeded: a record of where it came from, not a dependency.
    expect(await ids('ayb_branch_busy_main')).toEqual([1, 2, 3]);
    // The snapshot of ci-1 outlived ci-1, with ci-1's rows.
    expect((await cli('branch', 'create', 'check', '--from', 'of-ci')).exitCode).toBe(0);
    expect(await ids('ayb_branch_check')).toEqual([1, 2, 3, 10]);
  });

  it('prunes expired snapshots', async () => {
    expect((await cli('snapshot', 'create', 'old', '--expires-at', '2020-01-01T00:00Z', '--allow-past')).exitCode).toBe(0);
    const pruned = await cli('branch', 'prune', '--json');
    expect(pruned.json().branches).toEqual([expect.objectContaining({ name: 'old', action: 'deleted' })]);
    expect(await allowsConnections('ayb_snap_old')).toBeUndefined();
  });

  it('upgrades a control table made before snapshots: old rows become branches, and snapshots can be made', async () => {
    await cluster.createDatabase('legacy');
    // The table as an ayb without snapshots made it, with one branch recorded.
    await cluster.query(`
      CREATE TABLE public._ayb_branches (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$' AND length(name) <= 52),
        source_database text NOT NULL,
        branch_database text NOT NULL UNIQUE CHECK (branch_database = 'ayb_branch_' || replace(name, '-', '_')),
        status text NOT NULL CHECK (status IN ('creating', 'ready', 'failed')),
        strategy text, parent text, expires_at timestamptz, error_message text,
        created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
        creator_pid integer, creator_host text, copy_method text);
      INSERT INTO public._ayb_branches (name, source_database, branch_database, status) VALUES ('old-one', 'legacy', 'ayb_branch_old_one', 'failed')`, [], 'legacy');
    const legacy = (...args: string[]) => runCli(args, { env: { AYB_DATABASE_URL: cluster.url('legacy') } });
    const listed = await legacy('branch', 'list', '--json');
    expect(listed.json()).toEqual([expect.objectContaining({ name: 'old-one', kind: 'branch', snapshot: null })]);
    const made = await legacy('snapshot', 'create', 'legacy-snap', '--json');
    expect(made.exitCode, made.stderr).toBe(0);
    expect(made.json()).toMatchObject({ kind: 'snapshot', branch_database: 'ayb_snap_legacy_snap' });
    // The new CHECK still holds the database names to the rule.
    await expect(cluster.query("UPDATE public._ayb_branches SET branch_database = 'ayb_branch_legacy_snap' WHERE name = 'legacy-snap'", [], 'legacy'))
      .rejects.toThrow(/_ayb_branches_database_name/);
    // The status CHECK knows `deleting` now (a delete marks its row so), and only the known statuses.
    await cluster.query("UPDATE public._ayb_branches SET status = 'deleting' WHERE name = 'old-one'", [], 'legacy');
    await expect(cluster.query("UPDATE public._ayb_branches SET status = 'bogus' WHERE name = 'old-one'", [], 'legacy'))
      .rejects.toThrow(/_ayb_branches_status/);
    // Its delete, interrupted as far as anyone can tell, is finished by the next command.
    const next = await legacy('snapshot', 'list', '--json');
    expect(next.stderr).toContain('Finished deleting branch "old-one"');
    expect((await legacy('branch', 'list', '--json')).json()).toEqual([]);
  });
});
