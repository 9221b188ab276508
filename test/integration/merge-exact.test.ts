import { writeFile, readFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { mergeHarness } from '../helpers/merge-scenario.js';
import { startServer } from '../helpers/server.js';

/**
 * Issue 25: merges judged against hand-computed results, each in its own database playing main.
 * The judge reads rows with the server's own row text (`t::text`), never through ayb.
 */
describe('ayb branch merge: exact', () => {
  let cluster: TestCluster;
  let dir: string;

  beforeAll(async () => {
    cluster = await startTestCluster();
    dir = await mkdtemp(path.join(tmpdir(), 'ayb-merge-'));
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  /** A database playing main, with `sql` in it, and a CLI bound to it (test/helpers/merge-scenario.ts). */
  const { scenario, rows, psql } = mergeHarness(() => cluster);

  it('1: a delete that cascades onto a row the target added since the base is a conflict; nothing is applied', async () => {
    const ayb = await scenario('m_cascade', `
      CREATE TABLE orders (id int PRIMARY KEY, note text);
      CREATE TABLE order_items (id int PRIMARY KEY, order_id int REFERENCES orders ON DELETE CASCADE, sku text);
      CREATE TABLE tags (id int PRIMARY KEY, order_id int REFERENCES orders ON DELETE SET NULL);
      INSERT INTO orders VALUES (75, 'a'), (76, 'b'), (77, 'c');
      INSERT INTO order_items VALUES (1, 76, 'x'), (2, 77, 'y');
      INSERT INTO tags VALUES (1, 77);
    `);
    await ayb.branch('casc');
    await psql('ayb_branch_casc', 'DELETE FROM orders WHERE id IN (76, 77); DELETE FROM orders WHERE id = 75;');
    // main: a new item of order 76, and a changed tag of order 77 (SET NULL would overwrite it).
    await psql('m_cascade', `INSERT INTO order_items VALUES (3, 76, 'new on main'); UPDATE tags SET order_id = 77 WHERE id = 1; UPDATE tags SET id = 5 WHERE id = 1;`);
    const before = await fingerprint(cluster, 'm_cascade');
    const refused = await ayb('branch', 'merge', 'casc', '--json');
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(4);
    const conflicts = refused.json().error.conflicts as { table: string; key: unknown; cascade?: { table: string; key: unknown }[] }[];
    // Hand-computed: tag 1 was removed on main (renamed 5) and changed on the branch (SET NULL);
    // order 76 cascades onto item 3 (added on main), order 77 onto tag 5 (added on main).
    expect(conflicts.map((c) => [c.table, c.key, c.cascade?.map(({ table, key }) => ({ table, key }))])).toEqual([
      ['public.tags', { id: '1' }, undefined],
      ['public.orders', { id: '76' }, [{ table: 'public.order_items', key: { id: '3' } }]],
      ['public.orders', { id: '77' }, [{ table: 'public.tags', key: { id: '5' } }]],
    ]);
    expect(await fingerprint(cluster, 'm_cascade')).toEqual(before);
    // ours keeps the orders whose delete would cascade; the unconflicted delete (75) goes through,
    // and so do the branch's own deletes of items 1 and 2 (main did not change them).
    const merged = await ayb('branch', 'merge', 'casc', '--strategy', 'ours');
    expect(merged.exitCode, merged.stderr).toBe(0);
    expect(await rows('m_cascade', 'orders')).toEqual(['(76,b)', '(77,c)']);
    expect(await rows('m_cascade', 'order_items')).toEqual(['(3,76,"new on main")']);
    expect(await rows('m_cascade', 'tags')).toEqual(['(5,77)']);
  });

  it('2, 3: rows of a table the branch created arrive; a second merge is "Already up to date"; a later one brings only newer changes', async () => {
    const ayb = await scenario('m_created', `CREATE TABLE items (id int PRIMARY KEY, qty int); INSERT INTO items SELECT i, i FROM generate_series(1, 5) i;`);
    await ayb.branch('cre');
    await psql('ayb_branch_cre', `
      CREATE TABLE notes (id serial PRIMARY KEY, body text, at date);
      INSERT INTO notes (body, at) VALUES ('one', '2024-01-02'), ('two', NULL), (NULL, '1999-12-31');
      CREATE TABLE loose (a int, b text); INSERT INTO loose VALUES (1, 'x'), (1, 'x'), (2, NULL);
      UPDATE items SET qty = 20 WHERE id = 2;
    `);
    const first = await ayb('branch', 'merge', 'cre', '--json');
    expect(first.exitCode, first.stdout + first.stderr).toBe(0);
    expect(await rows('m_created', 'notes')).toEqual(await rows('ayb_branch_cre', 'notes'));
    expect(await rows('m_created', 'notes')).toEqual(['(1,one,2024-01-02)', '(2,two,)', '(3,,1999-12-31)']);
    expect(await rows('m_created', 'loose')).toEqual(['(1,x)', '(1,x)', '(2,)']);
    // The sequence came along: the next note does not collide.
    await cluster.query(`INSERT INTO notes (body) VALUES ('after')`, [], 'm_created');

    const again = await ayb('branch', 'merge', 'cre');
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    expect(again.stderr + again.stdout).toMatch(/Already up to date/);

    // main now changes the row the branch changed before: not a conflict any more (the base moved).
    await psql('m_created', 'UPDATE items SET qty = 200 WHERE id = 2;');
    await psql('ayb_branch_cre', 'UPDATE items SET qty = 30 WHERE id = 3;');
    const later = await ayb('branch', 'merge', 'cre', '--json');
    expect(later.exitCode, later.stdout + later.stderr).toBe(0);
    expect(later.json()).toMatchObject({ conflicts: [], tables: [{ table: 'public.items', updated: 1 }] });
    expect(await rows('m_created', 'items')).toEqual(['(1,1)', '(2,200)', '(3,30)', '(4,4)', '(5,5)']);
  });

  it('3: schema conflicts are listed like row conflicts (exit 4, nothing applied), also under theirs and --dry-run; the same change on both sides merges', async () => {
    const ayb = await scenario('m_schema', `CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes VALUES (1, 'a');`);
    await ayb.branch('sch');
    await psql('ayb_branch_sch', `ALTER TABLE notes ADD COLUMN tag text; ALTER TABLE notes ADD COLUMN seen bool; UPDATE notes SET tag = 't', seen = true;`);
    await psql('m_schema', `ALTER TABLE notes ADD COLUMN tag int; ALTER TABLE notes ADD COLUMN seen bool;`);
    const before = await fingerprint(cluster, 'm_schema');
    for (const extra of [[], ['--strategy', 'theirs'], ['--dry-run']]) {
      const result = await ayb('branch', 'merge', 'sch', '--json', ...extra);
      expect(result.exitCode, `${extra.join(' ')}: ${result.stdout}${result.stderr}`).toBe(4);
      const doc = result.json();
      const listed = doc.error?.schema_conflicts ?? doc.schema_conflicts;
      expect(listed).toMatchObject([{ object: 'column public.notes.tag', ours: 'added', theirs: 'added' }]);
    }
    expect(await fingerprint(cluster, 'm_schema')).toEqual(before);
    // Made alike by hand: the merge goes through, bringing the values of both columns.
    await psql('m_schema', 'ALTER TABLE notes ALTER COLUMN tag TYPE text;');
    const merged = await ayb('branch', 'merge', 'sch');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('m_schema', 'notes')).toEqual(['(1,a,t,t)']);
  });

  it('4: --dry-run runs no schema SQL on the target, takes no lock beyond reads, advances no sequence; the apply waits --lock-timeout and names the blocker', async () => {
    const ayb = await scenario('m_dry', `
      CREATE SEQUENCE tickets START 1000;
      CREATE TABLE items (id int PRIMARY KEY, qty int);
      INSERT INTO items SELECT i, i FROM generate_series(1, 10) i;
    `);
    await ayb.branch('dry');
    await psql('ayb_branch_dry', `ALTER TABLE items ADD COLUMN ticket bigint DEFAULT nextval('tickets'); UPDATE items SET qty = 100 WHERE id = 1;`);
    await psql('m_dry', `UPDATE items SET qty = -1 WHERE id = 1;`);
    const sequence = async () => (await cluster.query<{ v: string }>('SELECT last_value::text AS v FROM tickets', [], 'm_dry')).rows[0]!.v;
    const start = await sequence();

    // Another session holds EXCLUSIVE: only ACCESS SHARE (plain reads) can be granted beside it.
    const holder = new pg.Client({ connectionString: cluster.url('m_dry'), application_name: 'the-holder' });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE items IN EXCLUSIVE MODE');
      const dry = await ayb('branch', 'merge', 'dry', '--dry-run', '--strategy', 'theirs');
      expect(dry.exitCode, dry.stdout + dry.stderr).toBe(0);
      expect(dry.stdout).toMatch(/ADD COLUMN "?ticket"?/);
      const conflicted = await ayb('branch', 'merge', 'dry');
      expect(conflicted.exitCode, conflicted.stdout + conflicted.stderr).toBe(4);
      expect(await sequence()).toBe(start);
      const columns = await cluster.query(`SELECT 1 FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'ticket'`, [], 'm_dry');
      expect(columns.rowCount).toBe(0);

      const blocked = await ayb('branch', 'merge', 'dry', '--strategy', 'theirs', '--lock-timeout', '1s', '--json');
      expect(blocked.exitCode, blocked.stdout + blocked.stderr).toBe(4);
      const pid = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      expect(blocked.json().error).toMatchObject({ code: 'merge_blocked', sessions: [{ pid, application_name: 'the-holder' }] });
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
    const merged = await ayb('branch', 'merge', 'dry', '--strategy', 'theirs');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    // The branch's tickets, exactly: the migration's defaults are overwritten by the branch's values.
    expect(await rows('m_dry', 'items')).toEqual(await rows('ayb_branch_dry', 'items'));
  });

  it('5: an enum value the branch added and used merges (the ADD VALUE committed first)', async () => {
    const ayb = await scenario('m_enum', `CREATE TYPE mood AS ENUM ('sad', 'ok'); CREATE TABLE people (id int PRIMARY KEY, m mood); INSERT INTO people VALUES (1, 'sad'), (2, 'ok');`);
    await ayb.branch('enu');
    await psql('ayb_branch_enu', `ALTER TYPE mood ADD VALUE 'happy'; `);
    await psql('ayb_branch_enu', `UPDATE people SET m = 'happy' WHERE id = 1; INSERT INTO people VALUES (3, 'happy');`);
    const merged = await ayb('branch', 'merge', 'enu', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(merged.json().committed_first).toEqual([`ALTER TYPE "public"."mood" ADD VALUE 'happy' AFTER 'ok'`]);
    expect(await rows('m_enum', 'people')).toEqual(['(1,happy)', '(2,ok)', '(3,happy)']);
  });

  it('6: a retype the target never saw is no conflict: values compared as the target will hold them', async () => {
    const ayb = await scenario('m_retype', `CREATE TABLE prices (id int PRIMARY KEY, amount numeric(12,2)); INSERT INTO prices VALUES (1, 1.5), (2, 2.25), (3, 3);`);
    await ayb.branch('ret');
    await psql('ayb_branch_ret', `ALTER TABLE prices ALTER COLUMN amount TYPE numeric(14,4); UPDATE prices SET amount = 2.1234 WHERE id = 2;`);
    const merged = await ayb('branch', 'merge', 'ret', '--strategy', 'ours', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(merged.json().conflicts).toEqual([]);
    expect(await rows('m_retype', 'prices')).toEqual(['(1,1.5000)', '(2,2.1234)', '(3,3.0000)']);
  });

  it('8, 9: cell-wise: different columns of one row merge; the same column is a conflict shown with base/ours/theirs, resolved through a --conflicts file', async () => {
    const ayb = await scenario('m_cells', `CREATE TABLE items (id int PRIMARY KEY, name text, qty int, price int); INSERT INTO items SELECT i, 'n' || i, i, i * 10 FROM generate_series(1, 5) i;`);
    await ayb.branch('cel');
    await psql('ayb_branch_cel', `UPDATE items SET qty = 100 WHERE id = 1; UPDATE items SET qty = 200, price = 21 WHERE id = 2; UPDATE items SET qty = 300 WHERE id = 3; UPDATE items SET name = 'same' WHERE id = 4;`);
    await psql('m_cells', `UPDATE items SET name = 'main' WHERE id = 1; UPDATE items SET qty = 222 WHERE id = 2; UPDATE items SET qty = 333 WHERE id = 3; UPDATE items SET name = 'same' WHERE id = 4;`);
    const before = await fingerprint(cluster, 'm_cells');

    const refused = await ayb('branch', 'merge', 'cel');
    expect(refused.exitCode).toBe(4);
    // The list shows what each side holds, not only the key (issue 27, item 13).
    expect(refused.stderr).toMatch(/public\.items \(id=2\): qty: base "2", ours "222", theirs "200"/);
    expect(refused.stderr).toMatch(/public\.items \(id=3\): qty: base "3", ours "333", theirs "300"/);

    const file = path.join(dir, 'conflicts.json');
    const written = await ayb('branch', 'merge', 'cel', '--conflicts', file);
    expect(written.exitCode).toBe(4);
    const doc = JSON.parse(await readFile(file, 'utf8')) as { conflicts: { key: { id: string }; columns: string[]; base: unknown; our: unknown; their: unknown; resolution: unknown }[] };
    expect(doc.conflicts.map((c) => [c.key.id, c.columns, c.base, c.our, c.their, c.resolution])).toEqual([
      ['2', ['qty'], { qty: '2' }, { qty: '222' }, { qty: '200' }, null],
      ['3', ['qty'], { qty: '3' }, { qty: '333' }, { qty: '300' }, null],
    ]);
    expect(await fingerprint(cluster, 'm_cells')).toEqual(before);
    doc.conflicts[0]!.resolution = 'theirs';
    doc.conflicts[1]!.resolution = { qty: '42' };
    await writeFile(file, JSON.stringify(doc));
    const merged = await ayb('branch', 'merge', 'cel', '--conflicts', file);
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    // Hand-computed: row 1 takes both sides' columns, row 2 theirs' qty and price, row 3 the edited value.
    expect(await rows('m_cells', 'items')).toEqual(['(1,main,100,10)', '(2,n2,200,21)', '(3,n3,42,30)', '(4,same,4,40)', '(5,n5,5,50)']);
  });

  it('10: the admin API merges: a dry run lists conflicts with their values and changes nothing; resolutions sent back are applied', async () => {
    const ayb = await scenario('m_api', `CREATE TABLE items (id int PRIMARY KEY, qty int); INSERT INTO items SELECT i, i FROM generate_series(1, 4) i;`);
    await ayb.branch('api');
    await psql('ayb_branch_api', 'UPDATE items SET qty = 10 WHERE id = 1; UPDATE items SET qty = 20 WHERE id = 2; DELETE FROM items WHERE id = 4;');
    await psql('m_api', 'UPDATE items SET qty = 11 WHERE id = 1;');
    const before = await fingerprint(cluster, 'm_api');
    const server = await startServer([], { env: { AYB_DATABASE_URL: cluster.url('m_api'), AYB_ADMIN_PASSWORD: 'merge-secret-pw' } });
    try {
      const token = await server.login('merge-secret-pw');
      const dry = await server.fetch('/api/admin/branches/api/merge', { method: 'POST', token, json: { dry_run: true } });
      expect(dry.status).toBe(200);
      const plan = await dry.json() as { applied: boolean; unresolved: number; conflicts: { columns: string[]; base: unknown; our: unknown; their: unknown; resolution: unknown }[] };
      expect(plan).toMatchObject({ applied: false, unresolved: 1, conflicts: [{ columns: ['qty'], base: { qty: '1' }, our: { qty: '11' }, their: { qty: '10' }, resolution: null }] });
      expect(await fingerprint(cluster, 'm_api')).toEqual(before);
      const refused = await server.fetch('/api/admin/branches/api/merge', { method: 'POST', token, json: {} });
      expect(refused.status).toBe(409);
      plan.conflicts[0]!.resolution = 'theirs';
      const merged = await server.fetch('/api/admin/branches/api/merge', { method: 'POST', token, json: { conflicts: plan.conflicts } });
      expect(merged.status, await merged.clone().text()).toBe(200);
      expect(await merged.json()).toMatchObject({ applied: true, unresolved: 0 });
    } finally {
      await server.stop('SIGTERM');
    }
    expect(await rows('m_api', 'items')).toEqual(['(1,10)', '(2,20)', '(3,3)']);
  });
});
