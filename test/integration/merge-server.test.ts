import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { mergeHarness } from '../helpers/merge-scenario.js';

/**
 * Issue 25 item 7: the three-way comparison on the target's server. Per shape, which path merged the
 * table (`merged_by`: `server`, set-based; `ayb`, the Node path kept as a fallback), and the result,
 * judged against a database where the same SQL was run by hand (fingerprints), or hand-computed rows.
 */
// The cases are independent (each its own databases and branch; none changes a role or anything
// else the cluster shares), so a few run at a time. The branches are made through ayb's library, in
// this process (set-up: what is checked is the merge, run as the CLI a user runs).
describe.concurrent('ayb branch merge: the three-way comparison on the server', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startTestCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const { scenario, rows, psql } = mergeHarness(() => cluster);
  type Plan = { tables: { table: string; inserted: number; updated: number; deleted: number; conflicts: number; merged_by: string }[]; conflicts: { table: string; key: Record<string, string>; columns: string[]; base: unknown; our: unknown; their: unknown }[] };

  /** Builds the expected target independently: the schema, then the branch's SQL, then main's, by hand. */
  const expected = async (database: string, ...scripts: string[]) => {
    await cluster.createDatabase(database);
    for (const sql of scripts) await psql(database, sql);
    return fingerprint(cluster, database);
  };

  it('keyed tables (single, composite and text keys; inserts, cell-wise updates, deletes, a column the branch added and backfilled) merge on the server', async () => {
    const SCHEMA = `
      CREATE TABLE p (id int PRIMARY KEY, a text, b int, c numeric(12,2));
      CREATE TABLE pair (x int, y text, v text, PRIMARY KEY (x, y));
      CREATE TABLE tag (name text PRIMARY KEY, n int);
      INSERT INTO p SELECT i, 'a' || i, i, i / 4.0 FROM generate_series(1, 3000) i;
      INSERT INTO pair SELECT i % 50, 'y"\\' || i, 'v' || i FROM generate_series(1, 500) i;
      INSERT INTO tag SELECT 'tag ' || i || E'\\t,{}"', i FROM generate_series(1, 200) i;
    `;
    const BRANCH = `
      UPDATE p SET a = 'branch' WHERE id % 3 = 0;
      DELETE FROM p WHERE id % 11 = 0 AND id % 3 <> 0;
      INSERT INTO p SELECT i, NULL, -i, 1.5 FROM generate_series(3001, 3400) i;
      ALTER TABLE pair ADD COLUMN w int DEFAULT 7; UPDATE pair SET w = x WHERE x % 2 = 0;
      UPDATE pair SET v = NULL WHERE x = 3;
      UPDATE tag SET n = n + 1000 WHERE n % 4 = 0; DELETE FROM tag WHERE n % 9 = 0;
    `;
    // Main: other columns of rows the branch changed, rows it did not touch; nothing that conflicts.
    const MAIN = `
      UPDATE p SET b = b + 1 WHERE id % 5 = 0 AND id % 11 <> 0 AND id <= 3000;
      UPDATE pair SET v = 'main' WHERE x = 4;
      UPDATE tag SET name = name || ' (main)' WHERE n % 7 = 0 AND n % 9 <> 0 AND n % 4 <> 0;
    `;
    const ayb = await scenario('s_keyed', SCHEMA);
    await ayb.branch('k');
    await psql('ayb_branch_k', BRANCH);
    await psql('s_keyed', MAIN);
    const want = await expected('s_keyed_expected', SCHEMA, BRANCH, MAIN);
    const dry = await ayb('branch', 'merge', 'k', '--dry-run', '--json');
    expect(dry.exitCode, dry.stdout + dry.stderr).toBe(0);
    const plan = dry.json() as Plan;
    expect(plan.tables.map((t) => [t.table, t.merged_by]).sort()).toEqual([['public.p', 'server'], ['public.pair', 'server'], ['public.tag', 'server']]);
    // Hand-computed counts (the server only does the arithmetic): p's updates are id % 3 = 0, its deletes id % 11 = 0 but not % 3.
    const count = async (sql: string) => Number((await cluster.query<{ n: string }>(sql, [], 's_keyed')).rows[0]!.n);
    const p = plan.tables.find((t) => t.table === 'public.p')!;
    expect(p).toMatchObject({
      inserted: 400,
      updated: await count('SELECT count(*) AS n FROM generate_series(1, 3000) i WHERE i % 3 = 0'),
      deleted: await count('SELECT count(*) AS n FROM generate_series(1, 3000) i WHERE i % 11 = 0 AND i % 3 <> 0'),
      conflicts: 0,
    });
    const merged = await ayb('branch', 'merge', 'k', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    // The column w the branch added comes with the migration: the expected database got it from BRANCH.
    expect((await fingerprint(cluster, 's_keyed')).tables).toEqual(want.tables);
  });

  it('conflicts found on the server are listed cell by cell with base, ours and theirs, and settled by --strategy', async () => {
    const ayb = await scenario('s_conf', `
      CREATE TABLE t (id int PRIMARY KEY, a text, b text);
      INSERT INTO t VALUES (1, 'a1', 'b1'), (2, 'a2', 'b2'), (3, 'a3', 'b3'), (4, 'a4', 'b4');
    `);
    await ayb.branch('c');
    // 1: both set a, differently (conflict on a; b merges); 2: branch deletes, main changes (conflict);
    // 3: both set b alike (no conflict); 5: both add, differently (conflict on a).
    await psql('ayb_branch_c', `UPDATE t SET a = 'A1 branch', b = 'B1 branch' WHERE id = 1; DELETE FROM t WHERE id = 2; UPDATE t SET b = 'same' WHERE id = 3; INSERT INTO t VALUES (5, 'a5 branch', 'b5');`);
    await psql('s_conf', `UPDATE t SET a = 'A1 main' WHERE id = 1; UPDATE t SET a = 'A2 main' WHERE id = 2; UPDATE t SET b = 'same' WHERE id = 3; INSERT INTO t VALUES (5, 'a5 main', 'b5');`);
    const dry = await ayb('branch', 'merge', 'c', '--dry-run', '--json');
    expect(dry.exitCode).toBe(4);
    const plan = dry.json() as Plan;
    expect(plan.tables[0]).toMatchObject({ table: 'public.t', merged_by: 'server', conflicts: 3 });
    expect(plan.conflicts.map((c) => ({ key: c.key, columns: c.columns, base: c.base, our: c.our, their: c.their }))).toEqual([
      { key: { id: '5' }, columns: ['a'], base: null, our: { a: 'a5 main' }, their: { a: 'a5 branch' } },
      { key: { id: '2' }, columns: [], base: { id: '2', a: 'a2', b: 'b2' }, our: { id: '2', a: 'A2 main', b: 'b2' }, their: null },
      { key: { id: '1' }, columns: ['a'], base: { a: 'a1' }, our: { a: 'A1 main' }, their: { a: 'A1 branch' } },
    ]);
    expect(await rows('s_conf', 't')).toEqual(['(1,"A1 main",b1)', '(2,"A2 main",b2)', '(3,a3,same)', '(4,a4,b4)', '(5,"a5 main",b5)']);
    const theirs = await ayb('branch', 'merge', 'c', '--strategy', 'theirs', '--json');
    expect(theirs.exitCode, theirs.stdout + theirs.stderr).toBe(0);
    // Hand-computed: the branch's values where they clash, main's elsewhere, row 2 deleted.
    expect(await rows('s_conf', 't')).toEqual(['(1,"A1 branch","B1 branch")', '(3,a3,same)', '(4,a4,b4)', '(5,"a5 branch",b5)']);
  });

  it('a column retyped to numeric(14,4) compares as the target will hold it (server); one retyped to a type the target lacks falls back to ayb', async () => {
    const ayb = await scenario('s_retype', `
      CREATE TABLE m (id int PRIMARY KEY, amount numeric(12,2), note text);
      CREATE TABLE e (id int PRIMARY KEY, mood text);
      INSERT INTO m VALUES (1, 1.50, 'x'), (2, 2.25, 'y');
      INSERT INTO e VALUES (1, 'ok'), (2, 'sad');
    `);
    await ayb.branch('r');
    await psql('ayb_branch_r', `
      ALTER TABLE m ALTER COLUMN amount TYPE numeric(14,4); UPDATE m SET note = 'branch' WHERE id = 2;
      CREATE TYPE mood AS ENUM ('ok', 'sad', 'glad'); ALTER TABLE e ALTER COLUMN mood TYPE mood USING mood::mood; UPDATE e SET mood = 'glad' WHERE id = 2;
    `);
    await psql('s_retype', `UPDATE m SET note = 'main' WHERE id = 1;`);
    const dry = await ayb('branch', 'merge', 'r', '--dry-run', '--json');
    expect(dry.exitCode, dry.stdout + dry.stderr).toBe(0);
    const plan = dry.json() as Plan;
    expect(plan.conflicts).toEqual([]);
    expect(plan.tables.map((t) => [t.table, t.merged_by, t.updated]).sort()).toEqual([['public.e', 'ayb', 1], ['public.m', 'server', 1]]);
    const merged = await ayb('branch', 'merge', 'r', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('s_retype', 'm')).toEqual(['(1,1.5000,main)', '(2,2.2500,branch)']);
    expect(await rows('s_retype', 'e')).toEqual(['(1,ok)', '(2,glad)']);
  });

  it('rows of a table the branch created are copied server to server; a table without a key merges in ayb', async () => {
    const ayb = await scenario('s_new', `CREATE TABLE bag (v text); INSERT INTO bag VALUES ('a'), ('a'), ('b');`);
    await ayb.branch('n');
    await psql('ayb_branch_n', `
      CREATE TABLE fresh (id int PRIMARY KEY, s text); INSERT INTO fresh SELECT i, E'line\\n' || i FROM generate_series(1, 1500) i;
      INSERT INTO bag VALUES ('c'); DELETE FROM bag WHERE v = 'b';
    `);
    const dry = await ayb('branch', 'merge', 'n', '--dry-run', '--json');
    expect(dry.exitCode, dry.stdout + dry.stderr).toBe(0);
    const plan = dry.json() as Plan;
    expect(plan.tables.map((t) => [t.table, t.merged_by, t.inserted, t.deleted]).sort()).toEqual([['public.bag', 'ayb', 1, 1], ['public.fresh', 'server', 1500, 0]]);
    const merged = await ayb('branch', 'merge', 'n', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    for (const table of ['fresh', 'bag']) expect(await rows('s_new', table)).toEqual(await rows('ayb_branch_n', table));
    expect(await rows('s_new', 'fresh')).toHaveLength(1500);
  });
});
