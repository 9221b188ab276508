import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { runPsql } from '../helpers/pagila.js';

/**
 * Issue 25 after the merge: the set-based apply (rows staged in the target's session, applied one
 * statement per table and kind), unique values swapped between rows, tables that reference each
 * other, and deleting a branch with its merge record. Judged by rows read with the server's own row
 * text, hand-computed, or by fingerprints of a database built independently.
 */
describe('ayb branch merge: set-based apply', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startTestCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const scenario = async (database: string, sql: string) => {
    await cluster.createDatabase(database);
    await runPsql(cluster, database, { sql });
    const env = { AYB_DATABASE_URL: cluster.url(database), AYB_LOCK_TIMEOUT: '5s' };
    return (...args: string[]) => runCli(args, { env });
  };
  const rows = async (database: string, table: string) =>
    (await cluster.query<{ t: string }>(`SELECT t::text AS t FROM ${table} t ORDER BY t::text`, [], database)).rows.map((r) => r.t);
  const psql = (database: string, sql: string) => runPsql(cluster, database, { sql });

  it('item 3: two rows the branch swapped a unique value between merge (no false merge_constraint_conflict)', async () => {
    const ayb = await scenario('m_swap', `
      CREATE TABLE people (id int PRIMARY KEY, email text UNIQUE, name text);
      CREATE TABLE orders (id int PRIMARY KEY, person_id int REFERENCES people);
      INSERT INTO people VALUES (1, 'a@x', 'A'), (2, 'b@x', 'B'), (3, 'c@x', 'C');
      INSERT INTO orders VALUES (10, 1), (20, 2);
    `);
    expect((await ayb('branch', 'create', 'sw', '--keep-base')).exitCode).toBe(0);
    // On the branch: 1 and 2 swap their e-mails (through a free value: the constraint is immediate).
    await psql('ayb_branch_sw', `UPDATE people SET email = 'tmp' WHERE id = 1; UPDATE people SET email = 'a@x' WHERE id = 2; UPDATE people SET email = 'b@x' WHERE id = 1;`);
    // On main: another column of a swapped row, and another row.
    await psql('m_swap', `UPDATE people SET name = 'A (main)' WHERE id = 1; UPDATE people SET name = 'C (main)' WHERE id = 3;`);
    const merged = await ayb('branch', 'merge', 'sw', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    // Hand-computed: the swap and main's names, cell by cell; the orders still reference 1 and 2.
    expect(await rows('m_swap', 'people')).toEqual(['(1,b@x,"A (main)")', '(2,a@x,B)', '(3,c@x,"C (main)")']);
    expect(await rows('m_swap', 'orders')).toEqual(['(10,1)', '(20,2)']);
  });

  it('item 4: rows the branch added to two tables that reference each other merge', async () => {
    const ayb = await scenario('m_cycle', `
      CREATE TABLE a (id int PRIMARY KEY, b_id int);
      CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a);
      ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b;
      INSERT INTO a VALUES (1, NULL); INSERT INTO b VALUES (1, 1); UPDATE a SET b_id = 1 WHERE id = 1;
    `);
    expect((await ayb('branch', 'create', 'cy', '--keep-base')).exitCode).toBe(0);
    await psql('ayb_branch_cy', `
      INSERT INTO a VALUES (2, NULL); INSERT INTO b VALUES (2, 2); UPDATE a SET b_id = 2 WHERE id = 2;
      INSERT INTO a VALUES (3, NULL); INSERT INTO b VALUES (3, 3), (4, 3); UPDATE a SET b_id = 4 WHERE id = 3;
      UPDATE a SET b_id = NULL WHERE id = 1; DELETE FROM b WHERE id = 1; DELETE FROM a WHERE id = 1;
    `);
    const merged = await ayb('branch', 'merge', 'cy', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('m_cycle', 'a')).toEqual(['(2,2)', '(3,4)']);
    expect(await rows('m_cycle', 'b')).toEqual(['(2,2)', '(3,3)', '(4,3)']);
  });

  it('item 4: a cycle the target broke is refused with merge_constraint_conflict (exit 4), nothing applied', async () => {
    const ayb = await scenario('m_cycle2', `
      CREATE TABLE a (id int PRIMARY KEY, b_id int);
      CREATE TABLE b (id int PRIMARY KEY, a_id int REFERENCES a);
      ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b;
      INSERT INTO a VALUES (1, NULL);
    `);
    expect((await ayb('branch', 'create', 'cy2', '--keep-base')).exitCode).toBe(0);
    await psql('ayb_branch_cy2', `INSERT INTO b VALUES (5, 1);`);
    await psql('m_cycle2', `DELETE FROM a WHERE id = 1;`);
    const before = await fingerprint(cluster, 'm_cycle2');
    const refused = await ayb('branch', 'merge', 'cy2', '--json');
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(4);
    expect(refused.json().error.code).toBe('merge_constraint_conflict');
    expect(await fingerprint(cluster, 'm_cycle2')).toEqual(before);
  });

  it('a merge of 20,000 rows of every kind (inserts, cell-wise updates, deletes) gives the independently built result', async () => {
    const SCHEMA = `
      CREATE TABLE parent (id int PRIMARY KEY, code text UNIQUE, v int, w text);
      CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent ON DELETE CASCADE, note text);
      INSERT INTO parent SELECT i, 'c' || i, i, 'w' || i FROM generate_series(1, 20000) i;
      INSERT INTO child SELECT i, i, 'n' || i FROM generate_series(1, 20000, 10) i;
    `;
    const BRANCH = `
      UPDATE parent SET v = v * 2 WHERE id % 3 = 0;
      DELETE FROM child WHERE parent_id % 7 = 0; DELETE FROM parent WHERE id % 7 = 0 AND id % 3 <> 0;
      INSERT INTO parent SELECT i, 'c' || i, -i, NULL FROM generate_series(20001, 25000) i;
      INSERT INTO child SELECT i, i, 'new' FROM generate_series(20001, 25000, 5) i;
    `;
    // Main changes other columns of rows the branch changed, and rows the branch did not touch (of the rows it has).
    const MAIN = `UPDATE parent SET w = 'main' WHERE id % 5 = 0 AND id % 7 <> 0 AND id <= 20000; UPDATE child SET note = 'main' WHERE id % 4 = 1 AND parent_id % 7 <> 0 AND id <= 20000;`;
    const ayb = await scenario('m_bulk', SCHEMA);
    expect((await ayb('branch', 'create', 'bulk', '--keep-base')).exitCode).toBe(0);
    await psql('ayb_branch_bulk', BRANCH);
    await psql('m_bulk', MAIN);
    await cluster.createDatabase('m_bulk_expected');
    await psql('m_bulk_expected', SCHEMA);
    await psql('m_bulk_expected', BRANCH);
    await psql('m_bulk_expected', MAIN);

    const dry = await ayb('branch', 'merge', 'bulk', '--dry-run', '--json');
    expect(dry.exitCode, dry.stderr).toBe(0);
    const planned = (dry.json() as { tables: { table: string; inserted: number; updated: number; deleted: number }[] }).tables;
    // Hand-computed counts: ids ≤ 20000 with id % 3 = 0 (6666) updated;
    // deleted: id % 7 = 0 and id % 3 <> 0 (2857 - 952 = 1905); inserted 5000.
    expect(planned.find((t) => t.table === 'public.parent')).toMatchObject({ inserted: 5000, updated: 6666, deleted: 1905 });
    const merged = await ayb('branch', 'merge', 'bulk', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    const [got, want] = [await fingerprint(cluster, 'm_bulk'), await fingerprint(cluster, 'm_bulk_expected')];
    expect(got.tables).toEqual(want.tables);
  });

  it('item 5: deleting a branch deletes the merge record it owns, and keeps one that branches were made from', async () => {
    const ayb = await scenario('m_records', `CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 1);`);
    expect((await ayb('branch', 'create', 'rec', '--keep-base')).exitCode).toBe(0);
    await psql('ayb_branch_rec', 'UPDATE t SET v = 2');
    expect((await ayb('branch', 'merge', 'rec')).exitCode).toBe(0);
    // This test's databases (those of rec and rec2; other tests of the file left theirs).
    const databases = async () => (await cluster.query<{ d: string }>("SELECT datname AS d FROM pg_database WHERE datname ~ '^ayb_.*_rec2?(_|$)' ORDER BY 1", [], 'postgres')).rows.map((r) => r.d);
    const record = (await databases()).find((d) => d.startsWith('ayb_snap_rec_merged_'));
    expect(record).toBeDefined();
    const deleted = await ayb('branch', 'delete', 'rec', '--yes', '--json');
    expect(deleted.exitCode, deleted.stderr).toBe(0);
    expect(deleted.json()).toMatchObject({ name: 'rec', deleted: true, deleted_merge_record: expect.stringMatching(/^rec-merged-\d+$/) });
    // Judged by the server: only the keep-base snapshot's database is left.
    expect(await databases()).toEqual(['ayb_snap_rec_base']);

    // A record that a branch was made from stays, and the delete says so.
    expect((await ayb('branch', 'create', 'rec2', '--keep-base')).exitCode).toBe(0);
    await psql('ayb_branch_rec2', 'UPDATE t SET v = 3');
    expect((await ayb('branch', 'merge', 'rec2')).exitCode).toBe(0);
    const name = ((await ayb('snapshot', 'list', '--json')).json() as { name: string }[]).map((r) => r.name).find((n) => n.startsWith('rec2-merged-'))!;
    expect((await ayb('branch', 'create', 'from-record', '--from', name)).exitCode).toBe(0);
    const kept = await ayb('branch', 'delete', 'rec2', '--yes', '--json');
    expect(kept.exitCode, kept.stderr).toBe(0);
    expect(kept.json()).toMatchObject({ name: 'rec2', deleted: true, kept_merge_record: name });
    expect((await databases()).some((d) => d.startsWith('ayb_snap_rec2_merged_'))).toBe(true);
  });
});
