import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { mergeHarness } from '../helpers/merge-scenario.js';

/**
 * Issue 25, defects left open by the earlier passes: user functions that name others unqualified
 * (evaluated by the merge as the database's own sessions do), partitioned tables whose partitioning
 * main changed, keyless tables whose duplicate counts both sides changed. Each scenario is a database
 * of its own playing main; every expected result is written here by hand, rows read as the server's
 * own row text (`t::text`), never through ayb.
 */
describe.concurrent('ayb branch merge: fixes, fifth pass', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const { scenario, rows, psql } = mergeHarness(() => cluster);

  // The database's sessions run norm() (an index expression and a CHECK, SQL functions inlined by the
  // planner) under its own search_path, where squash() is found; the merge's sessions pinned
  // search_path '' and failed (42883, squash(text) does not exist). The merge now runs under the
  // database's search_path with pg_catalog first; the `=` for text[] and unnest(text[]) planted in
  // public (a user's objects that would be better matches than pg_catalog's polymorphic ones) must
  // not capture ayb's own SQL: every merged row below goes through them if they did.
  it('an index expression and a CHECK over SQL functions naming others unqualified merge as the database evaluates them; a user\'s = for text[] and unnest(text[]) in public capture nothing of ayb\'s', async () => {
    const ayb = await scenario('f5_path', `
      CREATE FUNCTION squash(text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower(replace($1, ' ', '')) $$;
      CREATE FUNCTION norm(text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT squash($1) $$;
      CREATE FUNCTION fine(text) RETURNS bool LANGUAGE sql IMMUTABLE AS $$ SELECT norm($1) <> 'bad' $$;
      CREATE TABLE t (id int PRIMARY KEY, v text CHECK (fine(v)));
      CREATE INDEX t_norm ON t (norm(v));
      INSERT INTO t VALUES (1, 'A b'), (2, 'C d'), (4, 'G h');
      CREATE TABLE k (a text[] PRIMARY KEY, n int);
      INSERT INTO k VALUES ('{x}', 1), ('{y}', 2), ('{w}', 4);
      CREATE TABLE bag (a text[], n int);
      INSERT INTO bag VALUES ('{x}', 1), ('{x}', 1), ('{y}', 2);
      CREATE FUNCTION never(text[], text[]) RETURNS bool LANGUAGE sql IMMUTABLE AS 'SELECT false';
      CREATE OPERATOR = (LEFTARG = text[], RIGHTARG = text[], FUNCTION = never);
      CREATE FUNCTION unnest(text[]) RETURNS SETOF text LANGUAGE sql IMMUTABLE AS 'SELECT NULL::text WHERE false';
    `);
    await ayb.branch('f5p');
    await psql('ayb_branch_f5p', `
      INSERT INTO t VALUES (3, 'E F'); UPDATE t SET v = 'X y' WHERE id = 1; DELETE FROM t WHERE id = 4;
      UPDATE k SET n = 10 WHERE a OPERATOR(pg_catalog.=) '{x}'; DELETE FROM k WHERE a OPERATOR(pg_catalog.=) '{w}'; INSERT INTO k VALUES ('{z}', 3);
      DELETE FROM bag WHERE ctid = (SELECT min(ctid) FROM bag WHERE n = 1); INSERT INTO bag VALUES ('{z}', 3);
    `);
    await psql('f5_path', `UPDATE t SET v = 'Main' WHERE id = 2;`);
    const merged = await ayb('branch', 'merge', 'f5p', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('f5_path', 't')).toEqual(['(1,"X y")', '(2,Main)', '(3,"E F")']);
    expect(await rows('f5_path', 'k')).toEqual(['({x},10)', '({y},2)', '({z},3)']);
    expect(await rows('f5_path', 'bag')).toEqual(['({x},1)', '({y},2)', '({z},3)']);
    const indexed = await cluster.query<{ v: string }>(`SELECT string_agg(id::text, ',' ORDER BY id) AS v FROM t WHERE norm(v) IN ('xy', 'ef')`, [], 'f5_path');
    expect(indexed.rows[0]?.v).toBe('1,3');
  });

  // The same functions with a schema change by the branch as well: the migration runs under the
  // database's own settings, and the merge's settings come back for the rows after it. They came
  // back with VALUE_SETTINGS' empty search_path, so the rows were written where squash() cannot be
  // found (42883, exit 5): they are written under the row sessions' search_path, as without a migration.
  it('an index expression and a CHECK over SQL functions naming others unqualified, and a column the branch added: the rows are written under the database\'s search_path after the migration too', async () => {
    const ayb = await scenario('f5_path2', `
      CREATE FUNCTION squash(text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower(replace($1, ' ', '')) $$;
      CREATE FUNCTION norm(text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT squash($1) $$;
      CREATE FUNCTION fine(text) RETURNS bool LANGUAGE sql IMMUTABLE AS $$ SELECT norm($1) <> 'bad' $$;
      CREATE TABLE t (id int PRIMARY KEY, v text CHECK (fine(v)));
      CREATE INDEX t_norm ON t (norm(v));
      INSERT INTO t VALUES (1, 'A b'), (2, 'C d');
    `);
    await ayb.branch('f5p2');
    await psql('ayb_branch_f5p2', `ALTER TABLE t ADD COLUMN note text; INSERT INTO t VALUES (3, 'E F', 'n'); UPDATE t SET v = 'X y' WHERE id = 1;`);
    await psql('f5_path2', `UPDATE t SET v = 'Main' WHERE id = 2;`);
    const merged = await ayb('branch', 'merge', 'f5p2', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('f5_path2', 't')).toEqual(['(1,"X y",)', '(2,Main,)', '(3,"E F",n)']);
  });

  // Statements of the branch's migration that name an index or constraint the merge adds after the
  // rows (a unique index of a partitioned table attached to its partitions', a replica identity
  // using it) come after it too.
  it('a unique index the branch added to a partitioned table (with its partitions\' indexes attached) and a replica identity using a new one: merged', async () => {
    const ayb = await scenario('f5_uidx', `
      CREATE TABLE pu (id int, region text, code text) PARTITION BY LIST (region);
      CREATE TABLE pu_eu PARTITION OF pu FOR VALUES IN ('eu');
      CREATE TABLE pu_us PARTITION OF pu FOR VALUES IN ('us');
      INSERT INTO pu VALUES (1, 'eu', 'a'), (2, 'us', 'b');
      CREATE TABLE ri (id int NOT NULL, v text);
      INSERT INTO ri VALUES (1, 'x');
    `);
    await ayb.branch('f5u');
    await psql('ayb_branch_f5u', `CREATE UNIQUE INDEX pu_code ON pu (code, region); CREATE UNIQUE INDEX ri_id ON ri (id); ALTER TABLE ri REPLICA IDENTITY USING INDEX ri_id;
      INSERT INTO pu VALUES (3, 'eu', 'c');`);
    const merged = await ayb('branch', 'merge', 'f5u', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('f5_uidx', 'pu')).toEqual(['(1,eu,a)', '(2,us,b)', '(3,eu,c)']);
    const idx = await cluster.query<{ v: string }>(`SELECT string_agg(c.relname || ':' || i.indisunique || ':' || i.indisreplident, ',' ORDER BY c.relname) AS v FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname IN ('pu_code', 'ri_id')`, [], 'f5_uidx');
    expect(idx.rows[0]?.v).toBe('pu_code:true:false,ri_id:true:true');
  });

  // Main split the asia rows off the default partition into a new one (p_asia) after the branch
  // changed and deleted two of them: the target's rows of those keys are in another leaf than the
  // branch's. A row trigger, a statement trigger and a rule on the partitioned root do not fire on
  // the merge's writes (as on a plain table, where they are held off).
  it('a partitioned table main re-partitioned (rows moved to a new leaf): updates and deletes find them through the root; the root\'s triggers and rules do not fire', async () => {
    const ayb = await scenario('f5_part', `
      CREATE TABLE public.log (what text);
      CREATE FUNCTION public.logit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO public.log VALUES (TG_OP || ' ' || TG_LEVEL || ' ' || TG_TABLE_NAME); RETURN NULL; END $$;
      CREATE TABLE p (id int, region text, note text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
      CREATE TABLE p_eu PARTITION OF p FOR VALUES IN ('eu');
      CREATE TABLE p_rest PARTITION OF p DEFAULT;
      INSERT INTO p VALUES (1, 'eu', 'one'), (2, 'eu', 'two'), (3, 'asia', 'three'), (4, 'asia', 'four'), (5, 'us', 'five');
      CREATE TRIGGER p_row AFTER INSERT OR UPDATE OR DELETE ON p FOR EACH ROW EXECUTE FUNCTION public.logit();
      CREATE TRIGGER p_stmt AFTER INSERT OR UPDATE OR DELETE ON p FOR EACH STATEMENT EXECUTE FUNCTION public.logit();
      CREATE RULE p_rule AS ON UPDATE TO p DO ALSO INSERT INTO public.log VALUES ('rule');
    `);
    await ayb.branch('f5q');
    await psql('ayb_branch_f5q', `
      UPDATE p SET note = 'b1' WHERE id = 1; UPDATE p SET note = 'b3' WHERE id = 3; DELETE FROM p WHERE id = 4;
      INSERT INTO p VALUES (6, 'asia', 'six');
      TRUNCATE public.log;
    `);
    await psql('f5_part', `
      BEGIN;
      ALTER TABLE p DETACH PARTITION p_rest;
      CREATE TABLE p_asia PARTITION OF p FOR VALUES IN ('asia');
      INSERT INTO p_asia SELECT * FROM p_rest WHERE region = 'asia';
      DELETE FROM p_rest WHERE region = 'asia';
      ALTER TABLE p ATTACH PARTITION p_rest DEFAULT;
      UPDATE p SET note = 'main2' WHERE id = 2;
      COMMIT;
      TRUNCATE public.log;
    `);
    const merged = await ayb('branch', 'merge', 'f5q', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('f5_part', 'p_eu')).toEqual(['(1,eu,b1)', '(2,eu,main2)']);
    expect(await rows('f5_part', 'p_asia')).toEqual(['(3,asia,b3)', '(6,asia,six)']);
    expect(await rows('f5_part', 'p_rest')).toEqual(['(5,us,five)']);
    expect(await rows('f5_part', 'public.log')).toEqual([]);
  });

  // OPEN: the branch's changes to a partition main renamed (p_eu -> p_europe) since. The merge pairs
  // tables by name, leaf by leaf: p_eu is a table the target no longer has, its changes left behind,
  // silently (today: exit 0, p_europe still (1,eu,one), no row 7, nothing in the output says so).
  // Expected (by the partitioned table's key, as rowsTable reads and writes through the root): exit 0,
  // p_europe (1,eu,b1), (7,eu,seven). Where: src/datadiff/merge.ts (tables of a partitioned root
  // merged as the root, not per leaf name) and src/datadiff/catalog.ts (leaves only).
  it.fails('a partition main renamed since the branch changed and added rows in it: the rows merge into the renamed partition', async () => {
    const ayb = await scenario('f5_rename', `
      CREATE TABLE p (id int, region text, note text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
      CREATE TABLE p_eu PARTITION OF p FOR VALUES IN ('eu');
      CREATE TABLE p_rest PARTITION OF p DEFAULT;
      INSERT INTO p VALUES (1, 'eu', 'one'), (5, 'us', 'five');
    `);
    await ayb.branch('f5r');
    await psql('ayb_branch_f5r', `UPDATE p SET note = 'b1' WHERE id = 1; INSERT INTO p VALUES (7, 'eu', 'seven');`);
    await psql('f5_rename', `ALTER TABLE p_eu RENAME TO p_europe;`);
    const merged = await ayb('branch', 'merge', 'f5r', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('f5_rename', 'p_europe')).toEqual(['(1,eu,b1)', '(7,eu,seven)']);
  });

  // A table without a key is a multiset: a row's number of copies is what a side changes. Changed on
  // one side only: that side's count; on both alike: that count; on both differently: a conflict.
  it('a keyless table whose duplicate counts one side changed, or both alike: each row gets the count its changes give', async () => {
    const ayb = await scenario('f5_bag1', `
      CREATE TABLE m (a int, b text);
      INSERT INTO m SELECT 1, 'x' FROM generate_series(1, 3);
      INSERT INTO m SELECT 2, 'y' FROM generate_series(1, 2);
      INSERT INTO m SELECT 3, 'z' FROM generate_series(1, 3);
      INSERT INTO m VALUES (4, 'w');
    `);
    await ayb.branch('f5b1');
    await psql('ayb_branch_f5b1', `
      INSERT INTO m SELECT 1, 'x' FROM generate_series(1, 2);
      DELETE FROM m WHERE ctid IN (SELECT ctid FROM m WHERE a = 3 LIMIT 2);
      DELETE FROM m WHERE a = 4;
    `);
    await psql('f5_bag1', `
      INSERT INTO m SELECT 2, 'y' FROM generate_series(1, 2);
      DELETE FROM m WHERE ctid IN (SELECT ctid FROM m WHERE a = 3 LIMIT 2);
    `);
    const merged = await ayb('branch', 'merge', 'f5b1', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('f5_bag1', 'm')).toEqual(['(1,x)', '(1,x)', '(1,x)', '(1,x)', '(1,x)', '(2,y)', '(2,y)', '(2,y)', '(2,y)', '(3,z)']);
  });

  it('a keyless table where both sides changed one row\'s count of copies differently (base 3, main 5, branch 2): a conflict, nothing applied', async () => {
    const ayb = await scenario('f5_bag2', `
      CREATE TABLE m (a int, b text);
      INSERT INTO m SELECT 1, 'x' FROM generate_series(1, 3);
      INSERT INTO m VALUES (2, 'y');
    `);
    await ayb.branch('f5b2');
    await psql('ayb_branch_f5b2', `DELETE FROM m WHERE ctid IN (SELECT ctid FROM m WHERE a = 1 LIMIT 1); INSERT INTO m VALUES (3, 'z');`);
    await psql('f5_bag2', `INSERT INTO m SELECT 1, 'x' FROM generate_series(1, 2);`);
    const before = await fingerprint(cluster, 'f5_bag2');
    const merged = await ayb('branch', 'merge', 'f5b2', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(4);
    const text = merged.stdout.trim() || merged.stderr.trim();
    const doc = JSON.parse(text.slice(text.indexOf('{'))) as { conflicts?: { table: string; key: unknown }[]; error?: { conflicts?: { table: string; key: unknown }[] } };
    const conflicts = doc.conflicts ?? doc.error?.conflicts ?? [];
    expect(conflicts.map((c) => [c.table, c.key])).toEqual([['public.m', { a: '1', b: 'x' }]]);
    expect(await fingerprint(cluster, 'f5_bag2')).toEqual(before);
  });
});
