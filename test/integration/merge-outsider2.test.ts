import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { mergeHarness } from '../helpers/merge-scenario.js';

/**
 * Issue 25, an outsider's second pass at the lifting of acting foreign keys around a unique swap (the
 * keys dropped while swapped rows are deleted and inserted again, their actions emulated, the keys
 * added back) and at the staging of values as array literals through unnest. Each scenario is a
 * schema of its own; every expected target is written here by hand (rows as the server's row text,
 * constraints as pg_constraint holds them), or is the branch's own rows for tables main never touched.
 */
describe('ayb branch merge: an outsider on lifted foreign keys and array staging', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  const { scenario, rows, psql, foreignKeys: constraints } = mergeHarness(() => cluster);
  /** The branch's SQL that swaps the codes of rows 1 ('c2') and 2 ('c1') of `table`, through a free value. */
  const swap = (table: string) =>
    `UPDATE ${table} SET code = 'tmp' WHERE id = 1; UPDATE ${table} SET code = 'c2' WHERE id = 2; UPDATE ${table} SET code = 'c1' WHERE id = 1;`;

  // Three shapes in one target (one branch, one merge): each defect found here failed it alone first.
  it('lifted keys: a self-reference cascading two levels deep into rows main added; a parent whose names hold dots; multi-column keys (SET NULL of one column, MATCH FULL CASCADE with NULLs), DEFERRABLE INITIALLY DEFERRED, with a comment', async () => {
    const ayb = await scenario('o2_lifted', `
      CREATE TABLE emp (id int PRIMARY KEY, code text NOT NULL UNIQUE, boss int REFERENCES emp ON DELETE CASCADE, note text);
      INSERT INTO emp VALUES (1, 'c2', NULL, 'one'), (2, 'c1', NULL, 'two'), (10, 'x', NULL, 'top'), (11, 'y', 10, 'mid'), (12, 'z', 11, 'low');
      CREATE SCHEMA "s.x";
      CREATE TABLE "s.x"."p.q" (id int PRIMARY KEY, code text NOT NULL UNIQUE);
      CREATE TABLE dc (id int PRIMARY KEY, p_id int REFERENCES "s.x"."p.q" ON DELETE CASCADE);
      INSERT INTO "s.x"."p.q" VALUES (1, 'c2'), (2, 'c1'), (3, 'z');
      INSERT INTO dc VALUES (10, 1), (30, 3);
      CREATE TABLE g (id int PRIMARY KEY, dc_id int REFERENCES dc ON DELETE CASCADE, note text);
      INSERT INTO g VALUES (100, 10, 'kept'), (300, 30, 'base');
      CREATE TABLE p (id int, sub int, code text NOT NULL UNIQUE, PRIMARY KEY (id, sub));
      CREATE TABLE c (id int PRIMARY KEY, pid int, psub int, note text,
        CONSTRAINT c_fk FOREIGN KEY (pid, psub) REFERENCES p ON DELETE SET NULL (pid) DEFERRABLE INITIALLY DEFERRED);
      CREATE TABLE d (id int PRIMARY KEY, pid int, psub int,
        CONSTRAINT d_fk FOREIGN KEY (pid, psub) REFERENCES p MATCH FULL ON DELETE CASCADE);
      COMMENT ON CONSTRAINT c_fk ON c IS 'the owner''s key';
      INSERT INTO p VALUES (1, 1, 'c2'), (2, 1, 'c1'), (3, 1, 'z');
      INSERT INTO c VALUES (10, 1, 1, 'a'), (20, NULL, 3, 'loose');
      INSERT INTO d VALUES (40, NULL, NULL), (41, 2, 1);
    `);
    const keys = await constraints('o2_lifted');
    await ayb.branch('o2l');
    // The branch swaps the codes of rows 1 and 2 of each parent, and deletes emp 10 (its own cascade
    // takes 11 and 12), "p.q" 3 (dc 30 goes) and p (3, 1).
    await psql('ayb_branch_o2l', `${swap('emp')} DELETE FROM emp WHERE id = 10;
      ${swap('"s.x"."p.q"')} DELETE FROM "s.x"."p.q" WHERE id = 3;
      ${swap('p')} DELETE FROM p WHERE id = 3;`);
    // Main adds emp 13 under 11 and 14 under 13 (a cascade two levels deep into rows the branch never
    // saw), and children of p (3, 1) on each key: cascade conflicts, settled theirs.
    await psql('o2_lifted', `INSERT INTO emp VALUES (13, 'w', 11, 'main'), (14, 'v', 13, 'main');
      INSERT INTO c VALUES (30, 3, 1, 'main'); INSERT INTO d VALUES (42, 3, 1);
      UPDATE g SET note = 'main' WHERE id = 300;`);
    // Unsettled: conflicts (main's grandchild g 300, two cascades below "p.q" 3, among them), nothing applied.
    const before = await fingerprint(cluster, 'o2_lifted');
    const refused = await ayb('branch', 'merge', 'o2l', '--json');
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(4);
    expect(JSON.stringify(refused.json())).toContain('public.g');
    expect(await fingerprint(cluster, 'o2_lifted')).toEqual(before);
    const merged = await ayb('branch', 'merge', 'o2l', '--strategy', 'theirs', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    // By hand: codes swapped; emp 10 and everything under it gone (13 and 14 by the cascade).
    expect(await rows('o2_lifted', 'emp')).toEqual(['(1,c1,,one)', '(2,c2,,two)']);
    expect(await rows('o2_lifted', '"s.x"."p.q"')).toEqual(['(1,c1)', '(2,c2)']);
    expect(await rows('o2_lifted', 'dc')).toEqual(['(10,1)']);
    expect(await rows('o2_lifted', 'g')).toEqual(['(100,10,kept)']);
    expect(await rows('o2_lifted', 'p')).toEqual(['(1,1,c1)', '(2,1,c2)']);
    // SET NULL (pid): psub kept; MATCH FULL CASCADE: 42 gone, the all-NULL 40 kept.
    expect(await rows('o2_lifted', 'c')).toEqual(['(10,1,1,a)', '(20,,3,loose)', '(30,,1,main)']);
    expect(await rows('o2_lifted', 'd')).toEqual(['(40,,)', '(41,2,1)']);
    // The keys as they were: definitions, validated, the comment.
    expect(await constraints('o2_lifted')).toEqual(keys);
  });

  // Was a defect (exit 0, the child silently re-parented): a unique swap is applied as a DELETE and
  // an INSERT of the swapped rows, so a key referencing the swapped column (ON UPDATE CASCADE) never
  // saw an update, and cascadeConflicts looked at deletes only. Now a key update that reaches a row
  // the target added is a conflict (exit 4, nothing applied); settled theirs, the lifted key's ON
  // UPDATE action is done by row (the child follows row 1 to c1), as an update in place would.
  it('a key ON UPDATE CASCADE (and ON DELETE CASCADE) on the swapped unique column, main added a child of a swapped row: a conflict, not a silent re-parenting', async () => {
    const ayb = await scenario('o2_upd', `
      CREATE TABLE p (id int PRIMARY KEY, code text NOT NULL UNIQUE);
      CREATE TABLE c (id int PRIMARY KEY, p_code text REFERENCES p (code) ON DELETE CASCADE ON UPDATE CASCADE);
      INSERT INTO p VALUES (1, 'c2'), (2, 'c1');
    `);
    await ayb.branch('o2u');
    await psql('ayb_branch_o2u', swap('p'));
    // Main adds a child of row 1 (by its code c2): applying the branch's change of row 1's code cascades onto it.
    await psql('o2_upd', `INSERT INTO c VALUES (10, 'c2');`);
    const before = await fingerprint(cluster, 'o2_upd');
    const merged = await ayb('branch', 'merge', 'o2u', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(4);
    expect(JSON.stringify(merged.json())).toContain('changes its referenced key');
    expect(await fingerprint(cluster, 'o2_upd')).toEqual(before);
    const theirs = await ayb('branch', 'merge', 'o2u', '--strategy', 'theirs', '--json');
    expect(theirs.exitCode, theirs.stdout + theirs.stderr).toBe(0);
    // The child still belongs to row 1: its code followed, as ON UPDATE CASCADE does.
    expect(await rows('o2_upd', 'p')).toEqual(['(1,c1)', '(2,c2)']);
    expect(await rows('o2_upd', 'c')).toEqual(['(10,c1)']);
  });

  it('the branch adds a child of a parent main deleted (and moves another child there), during a lifted swap: refused as without the swap, the rows not lost to an emulated cascade', async () => {
    const ayb = await scenario('o2_orphan', `
      CREATE TABLE p (id int PRIMARY KEY, code text NOT NULL UNIQUE);
      CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p ON DELETE CASCADE);
      CREATE TABLE n (id int PRIMARY KEY, p_id int REFERENCES p ON DELETE SET NULL);
      INSERT INTO p VALUES (1, 'c2'), (2, 'c1'), (3, 'z');
      INSERT INTO c VALUES (10, 1);
      INSERT INTO n VALUES (20, 1);
    `);
    await ayb.branch('o2o');
    await psql('ayb_branch_o2o', `${swap('p')} INSERT INTO c VALUES (30, 3); UPDATE n SET p_id = 3 WHERE id = 20;`);
    await psql('o2_orphan', `DELETE FROM p WHERE id = 3;`);
    const before = await fingerprint(cluster, 'o2_orphan');
    // Without the swap the key refuses these rows (23503: exit 4); the lifted key's emulated actions
    // must not delete c 30 or set n 20 to NULL and report success.
    const merged = await ayb('branch', 'merge', 'o2o', '--strategy', 'theirs', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(4);
    expect(await fingerprint(cluster, 'o2_orphan')).toEqual(before);
  });

  // Was a defect (a false conflict, exit 4 merge_constraint_conflict 23505 though the target never
  // touched p or q): the swap was lifted only when every acting key was plain, else the rows were
  // updated in place. Now a NOT VALID key is lifted and added back NOT VALID (its old orphan kept,
  // new ones refused), and a partitioned table's key is dropped and added back as its one top
  // constraint (its partitions' copies with it).
  it('keys that are not lifted (one NOT VALID with an old orphan, one on a partitioned child): the swap merges, the keys as they were', async () => {
    const ayb = await scenario('o2_unlifted', `
      CREATE TABLE p (id int PRIMARY KEY, code text NOT NULL UNIQUE);
      CREATE TABLE c (id int PRIMARY KEY, p_id int);
      INSERT INTO p VALUES (1, 'c2'), (2, 'c1'), (3, 'z');
      INSERT INTO c VALUES (10, 1), (99, 999);
      ALTER TABLE c ADD CONSTRAINT c_fk FOREIGN KEY (p_id) REFERENCES p ON DELETE CASCADE NOT VALID;
      CREATE TABLE q (id int PRIMARY KEY, code text NOT NULL UNIQUE);
      CREATE TABLE pc (id int, q_id int REFERENCES q ON DELETE CASCADE, PRIMARY KEY (id)) PARTITION BY RANGE (id);
      CREATE TABLE pc_1 PARTITION OF pc FOR VALUES FROM (0) TO (100);
      INSERT INTO q VALUES (1, 'c2'), (2, 'c1'), (3, 'z');
      INSERT INTO pc VALUES (10, 1), (30, 3);
    `);
    const keys = await constraints('o2_unlifted');
    await ayb.branch('o2n');
    await psql('ayb_branch_o2n', `${swap('p')} DELETE FROM p WHERE id = 3; ${swap('q')} DELETE FROM q WHERE id = 3;`);
    const before = await fingerprint(cluster, 'o2_unlifted');
    const merged = await ayb('branch', 'merge', 'o2n', '--json');
    if (merged.exitCode !== 0) expect(await fingerprint(cluster, 'o2_unlifted')).toEqual(before);
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('o2_unlifted', 'p')).toEqual(['(1,c1)', '(2,c2)']);
    expect(await rows('o2_unlifted', 'c')).toEqual(['(10,1)', '(99,999)']);
    expect(await rows('o2_unlifted', 'q')).toEqual(['(1,c1)', '(2,c2)']);
    expect(await rows('o2_unlifted', 'pc')).toEqual(['(10,1)']);
    expect(await constraints('o2_unlifted')).toEqual(keys);
  });

  it('a BEFORE DELETE trigger on the child that cancels the delete: the emulated cascade does not leave an orphan, nothing applied', async () => {
    const ayb = await scenario('o2_trigger', `
      CREATE TABLE p (id int PRIMARY KEY, code text NOT NULL UNIQUE);
      CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p ON DELETE CASCADE);
      INSERT INTO p VALUES (1, 'c2'), (2, 'c1'), (3, 'z');
      INSERT INTO c VALUES (10, 1);
    `);
    await ayb.branch('o2t');
    await psql('ayb_branch_o2t', `${swap('p')} DELETE FROM p WHERE id = 3;`);
    await psql('o2_trigger', `
      CREATE FUNCTION keep() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
      CREATE TRIGGER keep BEFORE DELETE ON c FOR EACH ROW EXECUTE FUNCTION keep();
      INSERT INTO c VALUES (31, 3);`);
    const before = await fingerprint(cluster, 'o2_trigger');
    const merged = await ayb('branch', 'merge', 'o2t', '--strategy', 'theirs', '--json');
    const orphans = await cluster.query<{ n: string }>(`SELECT count(*)::text AS n FROM c WHERE NOT EXISTS (SELECT FROM p WHERE p.id = c.p_id)`, [], 'o2_trigger');
    expect(orphans.rows[0]!.n).toBe('0');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(4);
    expect(await fingerprint(cluster, 'o2_trigger')).toEqual(before);
  });

  it('a concurrent session holding an uncommitted child of a row the branch deletes: the merge waits it out (lock timeout), no orphan commits', async () => {
    const ayb = await scenario('o2_conc', `
      CREATE TABLE p (id int PRIMARY KEY, code text NOT NULL UNIQUE);
      CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p ON DELETE CASCADE);
      INSERT INTO p VALUES (1, 'c2'), (2, 'c1'), (3, 'z');
    `);
    await ayb.branch('o2c');
    await psql('ayb_branch_o2c', `${swap('p')} DELETE FROM p WHERE id = 3;`);
    const { conn } = cluster;
    const other = new pg.Client({ host: conn.host, port: conn.port, user: conn.user, password: conn.password, database: 'o2_conc' });
    await other.connect();
    try {
      await other.query(`BEGIN; INSERT INTO c VALUES (31, 3)`);
      const before = await rows('o2_conc', 'p');
      const merged = await runCli(['branch', 'merge', 'o2c', '--json'], { env: { AYB_DATABASE_URL: cluster.url('o2_conc'), AYB_LOCK_TIMEOUT: '1s' } });
      expect(merged.exitCode, merged.stdout + merged.stderr).toBe(4);
      expect(await rows('o2_conc', 'p')).toEqual(before);
      await other.query('COMMIT');
    } finally {
      await other.end();
    }
    expect(await rows('o2_conc', 'c')).toEqual(['(31,3)']);
    // Now a cascade conflict (main's new child of 3); settled theirs, the child goes with its parent.
    const merged = await ayb('branch', 'merge', 'o2c', '--strategy', 'theirs', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('o2_conc', 'p')).toEqual(['(1,c1)', '(2,c2)']);
    expect(await rows('o2_conc', 'c')).toEqual([]);
  });

  it('ON DELETE SET DEFAULT whose default row is missing: refused with a clear error, nothing applied, the key still there', async () => {
    const ayb = await scenario('o2_setdef', `
      CREATE TABLE p (id int PRIMARY KEY, code text NOT NULL UNIQUE);
      CREATE TABLE c (id int PRIMARY KEY, p_id int DEFAULT 0 REFERENCES p ON DELETE SET DEFAULT);
      INSERT INTO p VALUES (1, 'c2'), (2, 'c1'), (3, 'z');
    `);
    const keys = await constraints('o2_setdef');
    await ayb.branch('o2sd');
    await psql('ayb_branch_o2sd', `${swap('p')} DELETE FROM p WHERE id = 3;`);
    await psql('o2_setdef', `INSERT INTO c VALUES (31, 3);`);
    const before = await fingerprint(cluster, 'o2_setdef');
    const merged = await ayb('branch', 'merge', 'o2sd', '--strategy', 'theirs', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(4);
    expect(merged.json().error.message).toContain('c_p_id_fkey');
    expect(await fingerprint(cluster, 'o2_setdef')).toEqual(before);
    expect(await constraints('o2_setdef')).toEqual(keys);
  });

  it('staged values and keys: quotes, backslashes, braces, commas, NULL vs "NULL", empty vs NULL arrays, 2-D arrays, composites, domains over arrays, bytea, json, unicode, huge text, standard_conforming_strings off; json, point, xml cells (no equality) set alike on both sides: no conflict', async () => {
    const ayb = await scenario('o2_values', `
      ALTER DATABASE o2_values SET standard_conforming_strings = off;
      CREATE TYPE pair AS (a text, b int[]);
      CREATE DOMAIN posints AS int[] CHECK (VALUE IS NULL OR 0 < ALL (VALUE));
      CREATE TABLE v (id int PRIMARY KEY, t text, ta text[], ma int[], cp pair, dm posints, b bytea, j json, pt point, x xml);
      INSERT INTO v VALUES (1, 'base', '{a}', '{{1,2},{3,4}}', ROW('a', '{1}'), '{1}', decode('00', 'hex'), '{}', '(0,0)', '<a/>');
      INSERT INTO v (id) VALUES (2);
      CREATE TABLE kt (k text PRIMARY KEY, n int);
      INSERT INTO kt VALUES (E'a"b', 0), (E'c\\\\d', 0), ('{x,y}', 0), ('NULL', 0), ('', 0), (E'l\\n', 0), ('gone,"{', 0);
      CREATE TABLE w (id int PRIMARY KEY, j json, pt point, x xml, n int);
      INSERT INTO w VALUES (1, '{"a": 0}', '(0,0)', '<a/>', 0), (2, '[]', '(9,9)', '<z/>', 0);
    `);
    await ayb.branch('o2v');
    await psql('ayb_branch_o2v', String.raw`
      INSERT INTO v VALUES
        (3, E'q"u''o\\te{s},\n', ARRAY['NULL', NULL, '', '"', E'\\', '{,}', ' sp '], '{{5,6},{7,8}}', ROW(E'x"\\y,{z}', '{1,NULL}'), '{}', decode('5c7b7d2c22', 'hex'), json_build_object('k', E'v"\\'), '(1.5,-2)', '<a b="1">&amp;</a>'),
        (4, 'NULL', '{}', '{}', ROW(NULL, NULL), NULL, decode('', 'hex'), 'null', NULL, NULL),
        (5, repeat(E'é😀\\', 200000), ARRAY[E'line\nbreak', E'tab\there'], NULL, NULL, '{2,3}', decode(repeat('ff00', 1000), 'hex'), '[1, 2.50, "\u00e9"]', '(1e10,1e-10)', '<r>é</r>');
      UPDATE v SET t = E'new\\"val', ta = ARRAY[E'a,b', '}'], ma = '{{9}}', cp = ROW('', '{}'), dm = '{7}', b = decode('deadbeef', 'hex'), j = '{"a" : 1}', pt = '(3,4)', x = '<b/>' WHERE id = 1;
      UPDATE v SET t = '', ta = '{}', cp = ROW(NULL, '{}') WHERE id = 2;
      UPDATE kt SET n = 1 WHERE k <> 'gone,"{'; DELETE FROM kt WHERE k = 'gone,"{'; INSERT INTO kt VALUES (E'new\"}', 2);
      UPDATE w SET j = '{"a": [1, 2]}', pt = '(1,2)', x = '<a>1</a>' WHERE id = 1; UPDATE w SET j = '[1]', pt = '(8,8)' WHERE id = 2;`);
    // Main sets row 1's json, point and xml as the branch did (and n), and another column of row 2.
    await psql('o2_values', `UPDATE w SET j = '{"a": [1, 2]}', pt = '(1,2)', x = '<a>1</a>', n = 1 WHERE id = 1; UPDATE w SET x = '<y/>', n = 2 WHERE id = 2;`);
    // Main never touched v and kt: they must end as the branch holds them.
    const expected = await rows('ayb_branch_o2v', 'v');
    const expectedKeys = await rows('ayb_branch_o2v', 'kt');
    const merged = await ayb('branch', 'merge', 'o2v', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('o2_values', 'v')).toEqual(expected);
    expect(await rows('o2_values', 'kt')).toEqual(expectedKeys);
    expect(expectedKeys).toHaveLength(7);
    expect(await rows('o2_values', 'w')).toEqual(['(1,"{""a"": [1, 2]}","(1,2)",<a>1</a>,1)', '(2,[1],"(8,8)",<y/>,2)']);
  });
});
