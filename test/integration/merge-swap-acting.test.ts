import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { mergeHarness } from '../helpers/merge-scenario.js';

/**
 * Issue 25: a unique value swapped between rows of a table that a foreign key with an ON DELETE
 * action points at. The merge deletes and inserts the swapped rows again with those keys lifted;
 * what the actions would do to rows pointing at rows the merge really deletes must still happen,
 * and the keys must come back as they were. Results are hand-computed rows (the server's row text)
 * and the target's constraints as pg_constraint holds them.
 */
describe('ayb branch merge: unique swaps under acting foreign keys', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  const { scenario, rows, psql, foreignKeys: constraints } = mergeHarness(() => cluster);

  it('a swap, a deleted parent whose children cascade (and one the target added, settled theirs), SET NULL children kept', async () => {
    const ayb = await scenario('sw_cascade', `
      CREATE TABLE p (id int PRIMARY KEY, code text NOT NULL UNIQUE);
      CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p ON DELETE CASCADE, note text);
      CREATE TABLE n (id int PRIMARY KEY, p_id int CONSTRAINT n_p_fk REFERENCES p ON DELETE SET NULL);
      INSERT INTO p VALUES (1, 'x'), (2, 'y'), (3, 'z');
      INSERT INTO c VALUES (10, 1, 'a'), (20, 2, 'b'), (30, 3, 'c');
      INSERT INTO n VALUES (100, 1), (300, 3);
    `);
    const before = await constraints('sw_cascade');
    await ayb.branch('sw');
    await psql('ayb_branch_sw', `UPDATE p SET code = 'tmp' WHERE id = 1; UPDATE p SET code = 'x' WHERE id = 2; UPDATE p SET code = 'y' WHERE id = 1;
      DELETE FROM p WHERE id = 3;`);
    // Main meanwhile adds a child of order 3 (a cascade conflict) and changes another child's note.
    await psql('sw_cascade', `INSERT INTO c VALUES (31, 3, 'main'); UPDATE c SET note = 'main' WHERE id = 20;`);
    const refused = await ayb('branch', 'merge', 'sw', '--json');
    expect(refused.exitCode, refused.stderr).toBe(4);
    const merged = await ayb('branch', 'merge', 'sw', '--strategy', 'theirs', '--json');
    expect(merged.exitCode, merged.stderr).toBe(0);
    // Hand-computed: codes swapped; order 3 gone with its children (30 by the branch, 31 by the cascade);
    // n's row of 3 set NULL; the children of 1 and 2 kept, main's note kept.
    expect(await rows('sw_cascade', 'p')).toEqual(['(1,y)', '(2,x)']);
    expect(await rows('sw_cascade', 'c')).toEqual(['(10,1,a)', '(20,2,main)']);
    expect(await rows('sw_cascade', 'n')).toEqual(['(100,1)', '(300,)']);
    expect(await constraints('sw_cascade')).toEqual(before);
  });

  it('a swap under an ON DELETE RESTRICT key while the target added a child of a row the branch deleted: refused, nothing applied', async () => {
    const ayb = await scenario('sw_restrict', `
      CREATE TABLE p (id int PRIMARY KEY, code text NOT NULL UNIQUE);
      CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p ON DELETE RESTRICT);
      INSERT INTO p VALUES (1, 'x'), (2, 'y'), (3, 'z');
      INSERT INTO c VALUES (10, 1);
    `);
    await ayb.branch('sr');
    await psql('ayb_branch_sr', `UPDATE p SET code = 'tmp' WHERE id = 1; UPDATE p SET code = 'x' WHERE id = 2; UPDATE p SET code = 'y' WHERE id = 1; DELETE FROM p WHERE id = 3;`);
    await psql('sw_restrict', `INSERT INTO c VALUES (30, 3);`);
    const before = await fingerprint(cluster, 'sw_restrict');
    const merged = await ayb('branch', 'merge', 'sr', '--strategy', 'theirs', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(4);
    expect(await fingerprint(cluster, 'sw_restrict')).toEqual(before);
  });
});
