import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { runPsql } from '../helpers/pagila.js';

const SCHEMA = `
  CREATE TABLE owners (id int PRIMARY KEY, name text NOT NULL);
  CREATE TABLE items (id serial PRIMARY KEY, owner_id int REFERENCES owners, name text, qty int, data jsonb);
  CREATE TABLE tags (tag text, weight int);
  INSERT INTO owners VALUES (1, 'ann'), (2, 'bob');
  INSERT INTO items (owner_id, name, qty, data) SELECT 1 + i % 2, 'item ' || i, i, jsonb_build_object('i', i) FROM generate_series(1, 20) i;
  INSERT INTO tags VALUES ('a', 1), ('a', 1), ('b', 2);
`;

describe('ayb branch merge', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  const ayb = (...args: string[]) => runCli(args, { env });
  /** The judge: the server's text of every row of a table, in order. */
  const rows = async (database: string, table: string) =>
    (await cluster.query<{ t: string }>(`SELECT t::text AS t FROM ${table} t ORDER BY t::text`, [], database)).rows.map((r) => r.t);

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await runPsql(cluster, 'app', { sql: SCHEMA });
    env = { AYB_DATABASE_URL: cluster.url('app') };
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('keeps a base with --keep-base, refuses conflicts under fail without touching the target, and merges with theirs', async () => {
    const created = await ayb('branch', 'create', 'feat', '--keep-base', '--json');
    expect(created.exitCode, created.stderr).toBe(0);
    expect(created.json()).toMatchObject({ name: 'feat', snapshot: 'feat-base' });

    await runPsql(cluster, 'ayb_branch_feat', { sql: `
      ALTER TABLE items ADD COLUMN color text DEFAULT 'red';
      UPDATE items SET color = 'blue' WHERE id = 7;
      UPDATE items SET qty = 100 WHERE id = 1;
      UPDATE items SET name = 'Zoë''s' WHERE id = 4;
      DELETE FROM items WHERE id = 2;
      INSERT INTO owners VALUES (3, 'cyd');
      INSERT INTO items (owner_id, name, qty) VALUES (3, 'new', NULL);
      INSERT INTO tags VALUES ('c', 3);
      DELETE FROM tags WHERE ctid = (SELECT min(ctid) FROM tags WHERE tag = 'a');
    ` });
    await runPsql(cluster, 'app', { sql: `
      UPDATE items SET qty = -1 WHERE id = 1;
      UPDATE items SET qty = 33 WHERE id = 3;
      UPDATE items SET name = 'Zoë''s' WHERE id = 4;
    ` });
    const before = await rows('app', 'items');

    const refused = await ayb('branch', 'merge', 'feat', '--json');
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(4);
    expect(refused.json().error).toMatchObject({ code: 'merge_conflict', conflicts: [{ table: 'public.items', key: { id: '1' }, ours: 'changed', theirs: 'changed' }] });
    expect(await rows('app', 'items')).toEqual(before);
    const columns = await cluster.query(`SELECT 1 FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'color'`, [], 'app');
    expect(columns.rowCount).toBe(0);

    const dry = await ayb('branch', 'merge', 'feat', '--dry-run', '--strategy', 'theirs');
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/ALTER TABLE "?public"?\."?items"? ADD COLUMN "?color"?/);
    expect(dry.stdout).toMatch(/DELETE FROM "public"."items" WHERE "id" = '2'::integer;/);
    expect(await rows('app', 'items')).toEqual(before);

    const merged = await ayb('branch', 'merge', 'feat', '--strategy', 'theirs', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(merged.json()).toMatchObject({ branch: 'feat', into: 'main', base: 'feat-base', applied: true, schema_statements: 1 });
    const items = await cluster.query<{ id: number; qty: number | null; name: string; color: string; owner_id: number }>('SELECT id, qty, name, color, owner_id FROM items ORDER BY id', [], 'app');
    const byId = new Map(items.rows.map((r) => [r.id, r]));
    expect(byId.get(1)!.qty).toBe(100); // conflict, theirs
    expect(byId.get(3)!.qty).toBe(33); // the target's own change stays
    expect(byId.get(4)!.name).toBe('Zoë\'s'); // the same change on both sides: no conflict
    expect(byId.has(2)).toBe(false);
    // The backfill of the column the branch added arrives too, the other rows keep its default.
    expect([byId.get(7)!.color, byId.get(8)!.color]).toEqual(['blue', 'red']);
    expect(byId.get(21)).toMatchObject({ owner_id: 3, name: 'new', qty: null });
    expect(await rows('app', 'owners')).toEqual(['(1,ann)', '(2,bob)', '(3,cyd)']);
    expect(await rows('app', 'tags')).toEqual(['(a,1)', '(b,2)', '(c,3)']);
    // The sequence moved on with the branch: the next item does not collide.
    await cluster.query(`INSERT INTO items (name) VALUES ('after')`, [], 'app');
  });

  it('keeps the target\'s rows with ours, and applies the rest', async () => {
    expect((await ayb('branch', 'create', 'feat2', '--keep-base')).exitCode).toBe(0);
    await runPsql(cluster, 'ayb_branch_feat2', { sql: `UPDATE items SET qty = 500 WHERE id = 5; UPDATE items SET qty = 600 WHERE id = 6;` });
    await runPsql(cluster, 'app', { sql: `UPDATE items SET qty = 55 WHERE id = 5;` });
    const merged = await ayb('branch', 'merge', 'feat2', '--strategy', 'ours', '--json');
    expect(merged.exitCode, merged.stderr).toBe(0);
    expect(merged.json().conflicts).toEqual([{ table: 'public.items', schema: 'public', name: 'items', key: { id: '5' }, ours: 'changed', theirs: 'changed', columns: ['qty'], base: { qty: '5' }, our: { qty: '55' }, their: { qty: '500' }, resolution: 'ours' }]);
    const { rows: r } = await cluster.query<{ id: number; qty: number }>('SELECT id, qty FROM items WHERE id IN (5, 6) ORDER BY id', [], 'app');
    expect(r).toEqual([{ id: 5, qty: 55 }, { id: 6, qty: 600 }]);
    // The temporary copies of the base are gone, and the snapshot still refuses connections.
    const { rows: dbs } = await cluster.query<{ datname: string; datallowconn: boolean }>(`SELECT datname, datallowconn FROM pg_database WHERE datname LIKE 'ayb_view_%' OR datname LIKE 'ayb_snap_%' ORDER BY 1`);
    // Left: the bases the branches were made from, and each merge's record (the branch as merged).
    expect(dbs.map((d) => d.datname.replace(/_merged_\d+$/, '_merged')).sort()).toEqual(['ayb_snap_feat2_base', 'ayb_snap_feat2_merged', 'ayb_snap_feat_base', 'ayb_snap_feat_merged']);
    expect(dbs.every((d) => !d.datallowconn)).toBe(true);
  });

  it('says how to get a base when a branch has none', async () => {
    expect((await ayb('branch', 'create', 'plain')).exitCode).toBe(0);
    const result = await ayb('branch', 'merge', 'plain');
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/has no base to merge against\nHint: .*--keep-base/);
  });
});
