import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { mergeHarness } from '../helpers/merge-scenario.js';

/**
 * Issue 25 (merge-outsider5's findings, the class around them): columns absent from the base.
 * A column both sides added alike merges cell by cell against its default as the base's value, on
 * the server and on the fallback path in ayb (a column the branch retyped to an enum it created sends
 * a table there), under `--strategy theirs`; a serial or identity column the branch added numbers the
 * target's other rows after the branch's (no duplicate, the sequence past them all), with a UNIQUE
 * index, GENERATED ALWAYS, and a row `--strategy ours` keeps that the branch deleted. Every expected
 * row is written here by hand.
 */
describe.concurrent('ayb branch merge: columns absent from the base', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  const { scenario, psql } = mergeHarness(() => cluster);
  const rows = async (database: string, table: string) =>
    (await cluster.query<{ t: string }>(`SELECT t::text AS t FROM ${table} t ORDER BY t.id`, [], database)).rows.map((r) => r.t);
  const value = async (database: string, sql: string) => (await cluster.query<{ v: string }>(sql, [], database)).rows[0]?.v;
  type Doc = { tables: { table: string; merged_by: string }[]; conflicts: { table: string; key: Record<string, string>; ours: string; theirs: string; columns: string[]; base: unknown }[] };

  it('a column both sides added: cell-wise against its default, on the server and in ayb, settled theirs', async () => {
    const ayb = await scenario('ac_both', `
      CREATE TABLE an (id int PRIMARY KEY, s text, v text);
      INSERT INTO an VALUES (1, 'a', 'a'), (2, 'b', 'b'), (3, 'c', 'c'), (4, 'a', 'd');
      CREATE TABLE ad (id int PRIMARY KEY, v text);
      INSERT INTO ad VALUES (1, 'a'), (2, 'b'), (3, 'c');`);
    await ayb.branch('acb');
    // an: s retyped to an enum the branch creates (the target's server cannot cast to it: merged in ayb).
    await psql('ayb_branch_acb', `
      CREATE TYPE st AS ENUM ('a', 'b', 'c'); ALTER TABLE an ALTER s TYPE st USING s::st;
      ALTER TABLE an ADD COLUMN tag text;
      UPDATE an SET tag = 'b1' WHERE id = 1; UPDATE an SET v = 'B' WHERE id = 2; DELETE FROM an WHERE id IN (3, 4);
      ALTER TABLE ad ADD COLUMN tag text DEFAULT 'none';
      UPDATE ad SET tag = 'b1' WHERE id = 1; UPDATE ad SET tag = 'b3' WHERE id = 3;`);
    await psql('ac_both', `
      ALTER TABLE an ADD COLUMN tag text;
      UPDATE an SET tag = 'm1' WHERE id = 1; UPDATE an SET tag = 'm2' WHERE id = 2; UPDATE an SET tag = 'm3' WHERE id = 3;
      ALTER TABLE ad ADD COLUMN tag text DEFAULT 'none';
      UPDATE ad SET tag = 'm2' WHERE id = 2; UPDATE ad SET tag = 'm3' WHERE id = 3;`);
    const merged = await ayb('branch', 'merge', 'acb', '--strategy', 'theirs', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    const doc = JSON.parse(merged.stdout) as Doc;
    expect(doc.tables.map((t) => [t.table, t.merged_by]).sort()).toEqual([['public.ad', 'server'], ['public.an', 'ayb']]);
    // By hand. an: row 1's tag both set (m1 / b1): a conflict, theirs; row 2: main's tag, the branch's v;
    // row 3: the branch deleted a row whose tag main set: a conflict, theirs (deleted); row 4 deleted.
    // ad (default 'none' in the base): row 1 only the branch set (b1), row 2 only main (m2), row 3 both: a conflict.
    expect(doc.conflicts.map((c) => [c.table, c.key, c.ours, c.theirs, c.columns]).sort()).toEqual([
      ['public.ad', { id: '3' }, 'changed', 'changed', ['tag']],
      ['public.an', { id: '1' }, 'changed', 'changed', ['tag']],
      ['public.an', { id: '3' }, 'changed', 'removed', []],
    ]);
    expect(doc.conflicts.find((c) => c.table === 'public.ad')?.base).toEqual({ tag: 'none' });
    expect(await rows('ac_both', 'an')).toEqual(['(1,a,a,b1)', '(2,b,B,m2)']);
    expect(await rows('ac_both', 'ad')).toEqual(['(1,a,b1)', '(2,b,m2)', '(3,c,b3)']);
  });

  it('serial and identity columns the branch added: the target\'s other rows numbered after the branch\'s, the sequences past them', async () => {
    const ayb = await scenario('ac_serial', `
      CREATE TABLE su (id int PRIMARY KEY, v text);
      INSERT INTO su VALUES (1, 'a'), (2, 'b'), (3, 'c');
      CREATE TABLE iu (id int PRIMARY KEY, v text);
      INSERT INTO iu VALUES (1, 'a'), (2, 'b'), (3, 'c');
      CREATE TABLE sd (id int PRIMARY KEY, v text);
      INSERT INTO sd VALUES (1, 'a'), (2, 'b'), (3, 'c');`);
    await ayb.branch('acs');
    await psql('ayb_branch_acs', `
      ALTER TABLE su ADD COLUMN n serial UNIQUE;
      ALTER TABLE iu ADD COLUMN n int GENERATED ALWAYS AS IDENTITY;
      ALTER TABLE sd ADD COLUMN n serial; DELETE FROM sd WHERE id = 2;`);
    // Main's inserts and updates put its rows in another physical order than the branch's numbering.
    await psql('ac_serial', `
      INSERT INTO su VALUES (5, 'e'), (4, 'd'); UPDATE su SET v = 'A' WHERE id = 1;
      UPDATE iu SET v = 'A' WHERE id = 1; INSERT INTO iu VALUES (4, 'd');
      UPDATE sd SET v = 'B' WHERE id = 2;`);
    const merged = await ayb('branch', 'merge', 'acs', '--strategy', 'ours', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    // Rows updated: su the branch's 3 and main's 2, iu 3 and 1, sd the branch's 2 and the kept row 2.
    const doc = JSON.parse(merged.stdout) as { tables: { table: string; updated: number }[] };
    expect(doc.tables.map((t) => [t.table, t.updated]).sort()).toEqual([['public.iu', 4], ['public.sd', 3], ['public.su', 5]]);
    // By hand: the branch's rows its numbers 1..3; main's rows after them, in key order; sd's row 2,
    // kept (ours) though the branch deleted it, after the branch's 3.
    expect(await rows('ac_serial', 'su')).toEqual(['(1,A,1)', '(2,b,2)', '(3,c,3)', '(4,d,4)', '(5,e,5)']);
    expect(await rows('ac_serial', 'iu')).toEqual(['(1,A,1)', '(2,b,2)', '(3,c,3)', '(4,d,4)']);
    expect(await rows('ac_serial', 'sd')).toEqual(['(1,a,1)', '(2,B,4)', '(3,c,3)']);
    expect(await value('ac_serial', `SELECT concat_ws(' ', nextval('su_n_seq'), nextval('iu_n_seq'), nextval('sd_n_seq')) AS v`)).toBe('6 5 5');
    expect(await value('ac_serial', `SELECT attidentity::text AS v FROM pg_attribute WHERE attrelid = 'iu'::regclass AND attname = 'n'`)).toBe('a');
  });
});
