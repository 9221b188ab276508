import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { type DataDiffHarness, dataDiffHarness, dbOf } from '../helpers/data-diff-round-trip.js';

/**
 * Issue 24, session 3: a table with inheritance children is its own rows only (ONLY): a child's rows
 * are neither counted again in its parent nor deleted or updated through it; and the rows set aside
 * under a changed parent row are found by the foreign key's own equality (citext), not a bare `=`.
 * Judged by counts of each table's own rows read with ONLY and fingerprints of ordered rows.
 */
const MAIN_SQL = `
  CREATE SCHEMA inh;
  CREATE TABLE inh.parent (id int PRIMARY KEY, v text);
  CREATE TABLE inh.child (extra text) INHERITS (inh.parent);
  ALTER TABLE inh.child ADD PRIMARY KEY (id);
  INSERT INTO inh.parent VALUES (1, 'p1'), (2, 'p2');
  INSERT INTO inh.child VALUES (10, 'c10', 'x'), (11, 'c11', 'y'), (12, 'c12', 'z');
  CREATE TABLE inh.bag (v text);
  CREATE TABLE inh.bag_child () INHERITS (inh.bag);
  INSERT INTO inh.bag VALUES ('a');
  INSERT INTO inh.bag_child VALUES ('a'), ('b');

  CREATE EXTENSION IF NOT EXISTS citext SCHEMA public;
  CREATE SCHEMA ci;
  CREATE TABLE ci.u (id int PRIMARY KEY, email public.citext UNIQUE NOT NULL, name text);
  CREATE TABLE ci.o (id int PRIMARY KEY, email public.citext NOT NULL REFERENCES ci.u (email) ON DELETE CASCADE ON UPDATE CASCADE, note text);
  INSERT INTO ci.u VALUES (1, 'Ann@X', 'A'), (2, 'Bob@X', 'B'), (3, 'Cat@X', 'C');
  INSERT INTO ci.o VALUES (1, 'ann@x', 'o1'), (2, 'BOB@X', 'o2'), (3, 'Ann@X', 'o3'), (4, 'cat@x', 'o4');
`;

describe('ayb branch diff --data: inheritance and the set-aside join', () => {
  let cluster: TestCluster;
  let h: DataDiffHarness;

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await cluster.query(MAIN_SQL, [], 'app');
    h = await dataDiffHarness(cluster, { foreign: [], otherForeign: [] });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  /** Each table's own rows (ONLY), ordered, as text: the judge. */
  async function ownRows(db: string, table: string): Promise<string[]> {
    const { rows } = await cluster.query<{ r: string }>(`SELECT t::text AS r FROM ONLY ${table} t ORDER BY 1`, [], db);
    return rows.map((x) => x.r);
  }

  it('counts a child\'s rows in the child only, not again in its parent', async () => {
    await h.branch('inh-count', `
      UPDATE inh.child SET v = 'c10!' WHERE id = 10;
      DELETE FROM inh.child WHERE id = 11;
      INSERT INTO inh.child VALUES (13, 'c13', 'w');
      INSERT INTO inh.bag_child VALUES ('c');
    `);
    const out = await h.ayb('branch', 'diff', 'main', 'inh-count', '--data', '--json');
    expect(out.exitCode, out.stderr).toBe(0);
    const tables = JSON.parse(out.stdout) as { table: string; added: number; removed: number; changed: number }[];
    const of = (t: string) => tables.find((x) => x.table === t);
    // Independently: the parents' own rows are the same on both sides.
    expect(await ownRows(dbOf('inh-count'), 'inh.parent')).toEqual(await ownRows('app', 'inh.parent'));
    expect(await ownRows(dbOf('inh-count'), 'inh.bag')).toEqual(await ownRows('app', 'inh.bag'));
    expect(of('inh.parent')).toMatchObject({ added: 0, removed: 0, changed: 0 });
    expect(of('inh.child')).toMatchObject({ added: 1, removed: 1, changed: 1 });
    expect(of('inh.bag')).toMatchObject({ added: 0, removed: 0 });
    expect(of('inh.bag_child')).toMatchObject({ added: 1, removed: 0 });
  });

  it('--output sql changes a parent\'s own rows without touching its children\'s', async () => {
    await h.branch('inh-sql', `
      UPDATE ONLY inh.parent SET v = 'p1!' WHERE id = 1;
      DELETE FROM ONLY inh.parent WHERE id = 2;
      INSERT INTO inh.parent VALUES (3, 'p3');
      DELETE FROM ONLY inh.bag;
      UPDATE inh.child SET v = 'c12!' WHERE id = 12;
    `);
    await h.roundTrip('inh-sql');
    for (const t of ['inh.parent', 'inh.child', 'inh.bag', 'inh.bag_child']) {
      expect(await ownRows(dbOf('inh-sql-r'), t), t).toEqual(await ownRows(dbOf('inh-sql'), t));
    }
  });

  it('sets aside the rows under a changed row by the foreign key\'s own equality (citext), so none is lost to the cascade', async () => {
    // Two users swap their emails (a unique value besides the key), a third changes its name: the order
    // pointing at it in another case ('cat@x' for 'Cat@X', equal as citext) must be set aside and come
    // back, not cascade away.
    await h.branch('ci-swap', `
      UPDATE ci.u SET email = 'tmp' WHERE id = 1; UPDATE ci.u SET email = 'Ann@X' WHERE id = 2; UPDATE ci.u SET email = 'Bob@X' WHERE id = 1;
      UPDATE ci.u SET name = 'B2' WHERE id = 2;
      UPDATE ci.u SET name = 'C2' WHERE id = 3;
    `);
    await h.roundTrip('ci-swap');
    expect(await ownRows(dbOf('ci-swap-r'), 'ci.o')).toEqual(await ownRows(dbOf('ci-swap'), 'ci.o'));
  });
});
