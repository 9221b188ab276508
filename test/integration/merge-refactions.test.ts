import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { mergeHarness } from '../helpers/merge-scenario.js';

/**
 * Issue 25 item 1, the class behind it: referential actions and key shapes under which the merge's
 * staged apply (a unique swap deleted and inserted again, its acting keys lifted and their actions
 * done by hand) could differ from applying the branch's changes in place. Each scenario is a
 * database of its own; every expected target is written here by hand (rows as the server's row
 * text, keys as pg_constraint holds them). A key update that reaches a row the target added or
 * changed is a conflict (exit 4, nothing applied); settled theirs, the rows end as an update in
 * place would leave them.
 */
// The scenarios are independent (each its own database and branch; none changes a role or anything
// else the cluster shares), so a few run at a time.
describe.concurrent('ayb branch merge: referential actions on key updates', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  const { scenario, rows, psql, foreignKeys } = mergeHarness(() => cluster);
  /** The branch's SQL that swaps the codes of rows 1 ('c2') and 2 ('c1') of `table`, through a free value. */
  const swap = (table: string) =>
    `UPDATE ${table} SET code = 'tmp' WHERE id = 1; UPDATE ${table} SET code = 'c2' WHERE id = 2; UPDATE ${table} SET code = 'c1' WHERE id = 1;`;

  it('ON UPDATE SET NULL on the swapped column: the branch\'s own children set NULL; a child main added is a conflict, settled theirs set NULL too', async () => {
    const ayb = await scenario('ra_setnull', `
      CREATE TABLE p (id int PRIMARY KEY, code text NOT NULL UNIQUE);
      CREATE TABLE c (id int PRIMARY KEY, p_code text REFERENCES p (code) ON UPDATE SET NULL, note text);
      INSERT INTO p VALUES (1, 'c2'), (2, 'c1');
      INSERT INTO c VALUES (10, 'c2', 'base');
    `);
    const keys = await foreignKeys('ra_setnull');
    await ayb.branch('rsn');
    await psql('ayb_branch_rsn', swap('p'));
    await psql('ra_setnull', `INSERT INTO c VALUES (20, 'c1', 'main');`);
    const before = await fingerprint(cluster, 'ra_setnull');
    const refused = await ayb('branch', 'merge', 'rsn', '--json');
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(4);
    expect(await fingerprint(cluster, 'ra_setnull')).toEqual(before);
    const merged = await ayb('branch', 'merge', 'rsn', '--strategy', 'theirs', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('ra_setnull', 'p')).toEqual(['(1,c1)', '(2,c2)']);
    expect(await rows('ra_setnull', 'c')).toEqual(['(10,,base)', '(20,,main)']);
    expect(await foreignKeys('ra_setnull')).toEqual(keys);
  });

  it('ON UPDATE SET DEFAULT on the swapped column, main changed another column of a child the branch\'s cascade moved: merged cell-wise, no conflict', async () => {
    const ayb = await scenario('ra_setdef', `
      CREATE TABLE p (id int PRIMARY KEY, code text NOT NULL UNIQUE);
      CREATE TABLE c (id int PRIMARY KEY, p_code text DEFAULT 'c0' REFERENCES p (code) ON UPDATE SET DEFAULT, note text);
      INSERT INTO p VALUES (0, 'c0'), (1, 'c2'), (2, 'c1');
      INSERT INTO c VALUES (10, 'c2', 'base'), (11, 'c1', 'base'), (12, 'c0', 'base');
    `);
    await ayb.branch('rsd');
    await psql('ayb_branch_rsd', swap('p'));
    await psql('ra_setdef', `UPDATE c SET note = 'main' WHERE id = 11;`);
    const merged = await ayb('branch', 'merge', 'rsd', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('ra_setdef', 'p')).toEqual(['(0,c0)', '(1,c1)', '(2,c2)']);
    expect(await rows('ra_setdef', 'c')).toEqual(['(10,c0,base)', '(11,c0,main)', '(12,c0,base)']);
  });

  it('a composite key referencing a unique index (not the primary key), ON UPDATE CASCADE, MATCH SIMPLE with a NULL: the branch\'s swap merges, children follow their rows', async () => {
    const ayb = await scenario('ra_composite', `
      CREATE TABLE p (id int PRIMARY KEY, a int NOT NULL, b int NOT NULL, note text, UNIQUE (a, b));
      CREATE TABLE c (id int PRIMARY KEY, fa int, fb int, FOREIGN KEY (fa, fb) REFERENCES p (a, b) ON UPDATE CASCADE ON DELETE CASCADE);
      INSERT INTO p VALUES (1, 1, 1, 'one'), (2, 2, 2, 'two'), (3, 3, 3, 'three');
      INSERT INTO c VALUES (10, 1, 1), (11, 1, NULL), (20, 2, 2), (30, 3, 3);
    `);
    const keys = await foreignKeys('ra_composite');
    await ayb.branch('rco');
    await psql('ayb_branch_rco', `UPDATE p SET a = 9, b = 9 WHERE id = 1; UPDATE p SET a = 1, b = 1 WHERE id = 2; UPDATE p SET a = 2, b = 2 WHERE id = 1;
      DELETE FROM p WHERE id = 3;`);
    // Main changes the note of row 1 (another column of a swapped row): cell-wise.
    await psql('ra_composite', `UPDATE p SET note = 'main' WHERE id = 1;`);
    const merged = await ayb('branch', 'merge', 'rco', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('ra_composite', 'p')).toEqual(['(1,2,2,main)', '(2,1,1,two)']);
    expect(await rows('ra_composite', 'c')).toEqual(['(10,2,2)', '(11,1,)', '(20,1,1)']);
    expect(await foreignKeys('ra_composite')).toEqual(keys);
  });

  it('a DEFERRABLE INITIALLY DEFERRED key ON UPDATE CASCADE, main added a child of a swapped row: a conflict; settled theirs, the child follows its row', async () => {
    const ayb = await scenario('ra_deferred', `
      CREATE TABLE p (id int PRIMARY KEY, code text NOT NULL UNIQUE);
      CREATE TABLE c (id int PRIMARY KEY, p_code text, CONSTRAINT c_fk FOREIGN KEY (p_code) REFERENCES p (code) ON UPDATE CASCADE DEFERRABLE INITIALLY DEFERRED);
      INSERT INTO p VALUES (1, 'c2'), (2, 'c1');
      INSERT INTO c VALUES (20, 'c1');
    `);
    const keys = await foreignKeys('ra_deferred');
    await ayb.branch('rdf');
    await psql('ayb_branch_rdf', swap('p'));
    await psql('ra_deferred', `INSERT INTO c VALUES (10, 'c2');`);
    const before = await fingerprint(cluster, 'ra_deferred');
    const refused = await ayb('branch', 'merge', 'rdf', '--json');
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(4);
    expect(await fingerprint(cluster, 'ra_deferred')).toEqual(before);
    const merged = await ayb('branch', 'merge', 'rdf', '--strategy', 'theirs', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('ra_deferred', 'p')).toEqual(['(1,c1)', '(2,c2)']);
    expect(await rows('ra_deferred', 'c')).toEqual(['(10,c1)', '(20,c2)']);
    expect(await foreignKeys('ra_deferred')).toEqual(keys);
  });

  it('ON UPDATE CASCADE under a three-way rotation of the unique column (each row takes the next one\'s code): each child follows its own row, by row and not by value', async () => {
    const ayb = await scenario('ra_rotate', `
      CREATE TABLE p (id int PRIMARY KEY, code text NOT NULL UNIQUE);
      CREATE TABLE c (id int PRIMARY KEY, p_code text REFERENCES p (code) ON UPDATE CASCADE);
      INSERT INTO p VALUES (1, 'c1'), (2, 'c2'), (3, 'c3');
      INSERT INTO c VALUES (10, 'c1'), (20, 'c2'), (30, 'c3');
    `);
    await ayb.branch('rro');
    await psql('ayb_branch_rro', `UPDATE p SET code = 'tmp' WHERE id = 1; UPDATE p SET code = 'c1' WHERE id = 3; UPDATE p SET code = 'c3' WHERE id = 2;
      UPDATE p SET code = 'c2' WHERE id = 1;`);
    // The branch's own result, by hand: 1 → c2, 2 → c3, 3 → c1, each child with its row.
    expect(await rows('ayb_branch_rro', 'c')).toEqual(['(10,c2)', '(20,c3)', '(30,c1)']);
    const merged = await ayb('branch', 'merge', 'rro', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('ra_rotate', 'p')).toEqual(['(1,c2)', '(2,c3)', '(3,c1)']);
    expect(await rows('ra_rotate', 'c')).toEqual(['(10,c2)', '(20,c3)', '(30,c1)']);
  });

  it('a key between partitions: a partitioned parent (its key one constraint with a copy per partition) whose leaf swaps a unique value and deletes a row; the keys as they were', async () => {
    const ayb = await scenario('ra_parts', `
      CREATE TABLE pr (id int, code text NOT NULL, PRIMARY KEY (id)) PARTITION BY RANGE (id);
      CREATE TABLE pr_1 PARTITION OF pr FOR VALUES FROM (0) TO (100);
      CREATE TABLE pr_2 PARTITION OF pr FOR VALUES FROM (100) TO (200);
      CREATE UNIQUE INDEX pr_1_code ON pr_1 (code);
      CREATE TABLE cr (id int PRIMARY KEY, pr_id int REFERENCES pr ON DELETE CASCADE);
      CREATE TABLE pcr (id int, pr_id int REFERENCES pr ON DELETE SET NULL, PRIMARY KEY (id)) PARTITION BY RANGE (id);
      CREATE TABLE pcr_1 PARTITION OF pcr FOR VALUES FROM (0) TO (1000);
      INSERT INTO pr VALUES (1, 'c2'), (2, 'c1'), (3, 'z'), (101, 'far');
      INSERT INTO cr VALUES (10, 1), (30, 3), (31, 101);
      INSERT INTO pcr VALUES (10, 1), (30, 3);
    `);
    const keys = await foreignKeys('ra_parts');
    await ayb.branch('rpt');
    await psql('ayb_branch_rpt', `${swap('pr')} DELETE FROM pr WHERE id = 3;`);
    // Main adds a child of row 1 (not deleted): no conflict, kept.
    await psql('ra_parts', `INSERT INTO cr VALUES (11, 1);`);
    const merged = await ayb('branch', 'merge', 'rpt', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('ra_parts', 'pr')).toEqual(['(1,c1)', '(101,far)', '(2,c2)']);
    expect(await rows('ra_parts', 'cr')).toEqual(['(10,1)', '(11,1)', '(31,101)']);
    expect(await rows('ra_parts', 'pcr')).toEqual(['(10,1)', '(30,)']);
    expect(await foreignKeys('ra_parts')).toEqual(keys);
  });

  it('ON UPDATE NO ACTION (and ON DELETE NO ACTION) on the swapped column, main added a child of a swapped row: a conflict, not a silent re-parenting', async () => {
    const ayb = await scenario('ra_noaction', `
      CREATE TABLE p (id int PRIMARY KEY, code text NOT NULL UNIQUE);
      CREATE TABLE c (id int PRIMARY KEY, p_code text REFERENCES p (code));
      INSERT INTO p VALUES (1, 'c2'), (2, 'c1');
    `);
    await ayb.branch('rna');
    await psql('ayb_branch_rna', swap('p'));
    await psql('ra_noaction', `INSERT INTO c VALUES (10, 'c2');`);
    const before = await fingerprint(cluster, 'ra_noaction');
    const refused = await ayb('branch', 'merge', 'rna', '--json');
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(4);
    expect(await fingerprint(cluster, 'ra_noaction')).toEqual(before);
  });

  it('ON UPDATE RESTRICT, main added a child of a swapped row: a conflict; settled theirs the update is refused as in place (exit 4), nothing applied, the key there', async () => {
    const ayb = await scenario('ra_restrict', `
      CREATE TABLE p (id int PRIMARY KEY, code text NOT NULL UNIQUE);
      CREATE TABLE c (id int PRIMARY KEY, p_code text CONSTRAINT c_fk REFERENCES p (code) ON UPDATE RESTRICT ON DELETE CASCADE);
      INSERT INTO p VALUES (1, 'c2'), (2, 'c1');
    `);
    const keys = await foreignKeys('ra_restrict');
    await ayb.branch('rre');
    await psql('ayb_branch_rre', swap('p'));
    await psql('ra_restrict', `INSERT INTO c VALUES (10, 'c2');`);
    const before = await fingerprint(cluster, 'ra_restrict');
    const refused = await ayb('branch', 'merge', 'rre', '--json');
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(4);
    const merged = await ayb('branch', 'merge', 'rre', '--strategy', 'theirs', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(4);
    expect(merged.json().error.message).toContain('c_fk');
    expect(await fingerprint(cluster, 'ra_restrict')).toEqual(before);
    expect(await foreignKeys('ra_restrict')).toEqual(keys);
  });

  it('a value the branch frees by a delete and gives to another row (ON DELETE and ON UPDATE CASCADE), main added a child of the deleted row: a conflict; settled theirs, that child goes with its row, not re-parented to the row that took its value', async () => {
    const ayb = await scenario('ra_retaken', `
      CREATE TABLE p (id int PRIMARY KEY, code text NOT NULL UNIQUE);
      CREATE TABLE c (id int PRIMARY KEY, p_code text REFERENCES p (code) ON DELETE CASCADE ON UPDATE CASCADE);
      INSERT INTO p VALUES (1, 'c1'), (3, 'z');
      INSERT INTO c VALUES (10, 'c1');
    `);
    await ayb.branch('rrt');
    await psql('ayb_branch_rrt', `DELETE FROM p WHERE id = 3; UPDATE p SET code = 'z' WHERE id = 1;`);
    await psql('ra_retaken', `INSERT INTO c VALUES (30, 'z');`);
    const before = await fingerprint(cluster, 'ra_retaken');
    const refused = await ayb('branch', 'merge', 'rrt', '--json');
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(4);
    expect(await fingerprint(cluster, 'ra_retaken')).toEqual(before);
    const merged = await ayb('branch', 'merge', 'rrt', '--strategy', 'theirs', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    // By hand: row 3 deleted with its child 30 (the cascade); row 1 takes z, its child 10 with it.
    expect(await rows('ra_retaken', 'p')).toEqual(['(1,z)']);
    expect(await rows('ra_retaken', 'c')).toEqual(['(10,z)']);
  });

  it('--strategy ours on a key-update conflict: the referenced key stays as the target has it, the row\'s other columns merge', async () => {
    const ayb = await scenario('ra_ours', `
      CREATE TABLE p (id int PRIMARY KEY, code text NOT NULL UNIQUE, note text);
      CREATE TABLE c (id int PRIMARY KEY, p_code text REFERENCES p (code) ON UPDATE CASCADE);
      INSERT INTO p VALUES (1, 'a', 'base'), (2, 'b', 'base');
    `);
    await ayb.branch('rou');
    await psql('ayb_branch_rou', `UPDATE p SET code = 'a2', note = 'branch' WHERE id = 1; UPDATE p SET code = 'b2' WHERE id = 2;`);
    await psql('ra_ours', `INSERT INTO c VALUES (10, 'a');`);
    const merged = await ayb('branch', 'merge', 'rou', '--strategy', 'ours', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('ra_ours', 'p')).toEqual(['(1,a,branch)', '(2,b2,base)']);
    expect(await rows('ra_ours', 'c')).toEqual(['(10,a)']);
  });
});
