import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { BIN, runCli } from '../helpers/cli.js';
import type { TestCluster } from '../helpers/cluster.js';
import { type DataDiffHarness, dbOf, startDataDiff } from '../helpers/data-diff-round-trip.js';
import { runPsql } from '../helpers/pagila.js';

/**
 * Issue 24, outsider's fourth attack on the data diff (`ayb branch diff a b --data`: counts, --json,
 * --exit-code; `--output sql`: the script that turns a into b). Where the earlier attacks did not go:
 * rules on the tables the script writes, identity columns on a parent updated in place, foreign keys
 * NOT VALID with rows they never checked, sequences and data that is not in a table, keys compared
 * by a nondeterministic collation or float equality, exclusion constraints, partitions of another
 * column order, and rows too wide for one batch. Judged by counts written here by hand or in SQL of
 * their own (each key's record text on both sides), and by fingerprints of ordered rows of b against
 * a copy of a with the script applied with psql under foreign session settings.
 */
const MAIN_SQL = `
  -- rules: one that writes an audit row on each insert, one that keeps rows from being deleted
  CREATE SCHEMA rl;
  CREATE TABLE rl.t (id int PRIMARY KEY, v text);
  CREATE TABLE rl.audit (id int, what text);
  CREATE RULE t_audit AS ON INSERT TO rl.t DO ALSO INSERT INTO rl.audit VALUES (NEW.id, 'insert');
  INSERT INTO rl.t VALUES (1, 'a');
  CREATE TABLE rl.keep (id int PRIMARY KEY, v text);
  CREATE RULE keep_rows AS ON DELETE TO rl.keep DO INSTEAD NOTHING;
  INSERT INTO rl.keep VALUES (1, 'a'), (2, 'b');
  CREATE TABLE rl.parent (id int PRIMARY KEY, v text);
  CREATE TABLE rl.kid (id int PRIMARY KEY, parent int REFERENCES rl.parent);
  CREATE TABLE rl.log (what text);
  CREATE RULE parent_log AS ON INSERT TO rl.parent DO ALSO INSERT INTO rl.log VALUES ('parent ' || NEW.id);
  INSERT INTO rl.parent VALUES (1, 'a');
  INSERT INTO rl.kid VALUES (1, 1);

  -- a parent with an identity column GENERATED ALWAYS besides its key, whose deletes cascade to a child
  -- that is itself referenced (so the parent's changed rows are updated in place, not set aside)
  CREATE SCHEMA idp;
  CREATE TABLE idp.p (code text PRIMARY KEY, n int GENERATED ALWAYS AS IDENTITY, v text);
  CREATE TABLE idp.c (id int PRIMARY KEY, code text NOT NULL REFERENCES idp.p ON DELETE CASCADE);
  CREATE TABLE idp.g (id int PRIMARY KEY, c int REFERENCES idp.c);
  INSERT INTO idp.p (code, v) VALUES ('a', 'x'), ('b', 'y');
  INSERT INTO idp.c VALUES (1, 'a'), (2, 'b');
  INSERT INTO idp.g VALUES (1, 1);

  -- a foreign key added NOT VALID over a row it never checked (an orphan)
  CREATE SCHEMA nv;
  CREATE TABLE nv.p (id int PRIMARY KEY);
  CREATE TABLE nv.c (id int PRIMARY KEY, p int, v text);
  INSERT INTO nv.p VALUES (1);
  INSERT INTO nv.c VALUES (1, 1, 'a'), (2, 99, 'orphan');
  ALTER TABLE nv.c ADD CONSTRAINT c_p FOREIGN KEY (p) REFERENCES nv.p NOT VALID;

  -- sequences, a materialized view, large objects
  CREATE SCHEMA sq;
  CREATE TABLE sq.t (id serial PRIMARY KEY, v text);
  INSERT INTO sq.t (v) VALUES ('a');
  CREATE MATERIALIZED VIEW sq.m AS SELECT id, v FROM sq.t WITH NO DATA;

  -- a dropped column
  CREATE SCHEMA dc;
  CREATE TABLE dc.t (id int PRIMARY KEY, v text, secret text);
  INSERT INTO dc.t VALUES (1, 'a', 's1'), (2, 'b', 's2');

  -- keys compared by a nondeterministic collation: the column's, or only the unique index's
  CREATE SCHEMA ci;
  CREATE COLLATION ci.nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
  CREATE TABLE ci.t (k text COLLATE ci.nocase PRIMARY KEY, v int);
  INSERT INTO ci.t VALUES ('abc', 1), ('Straße', 2), ('x', 3);
  CREATE TABLE ci.child (id int PRIMARY KEY, k text COLLATE ci.nocase REFERENCES ci.t ON DELETE CASCADE);
  INSERT INTO ci.child VALUES (1, 'abc'), (2, 'x');
  CREATE TABLE ci.u (k text NOT NULL, v int);
  CREATE UNIQUE INDEX u_k ON ci.u (k COLLATE ci.nocase);
  INSERT INTO ci.u VALUES ('abc', 1), ('def', 2);
  -- no key: two rows equal under the collation, not in their text
  CREATE TABLE ci.bag (k text COLLATE ci.nocase, n int);
  INSERT INTO ci.bag VALUES ('ABC', 1);
  INSERT INTO ci.bag VALUES ('abc', 1);

  -- float keys: 0 and -0 are one key, NaN is one, Infinity
  CREATE SCHEMA fl;
  CREATE TABLE fl.t (k float8 PRIMARY KEY, v text);
  INSERT INTO fl.t VALUES (0, 'zero'), ('NaN', 'nan'), ('Infinity', 'inf'), (1.5, 'x');
  CREATE TABLE fl.child (id int PRIMARY KEY, k float8 REFERENCES fl.t ON DELETE CASCADE);
  INSERT INTO fl.child VALUES (1, 0), (2, 'NaN');
  CREATE TABLE fl.iv (k interval PRIMARY KEY, v text);
  INSERT INTO fl.iv VALUES ('1 day', 'a'), ('1 mon', 'b');

  -- a unique index by record_image_ops (its equality is *=, the bytes): rows equal by = but not by *=
  CREATE SCHEMA im;
  CREATE TYPE im.amount AS (n numeric);
  CREATE TABLE im.t (k im.amount NOT NULL, v text);
  CREATE UNIQUE INDEX t_k ON im.t (k record_image_ops);
  INSERT INTO im.t VALUES (ROW(1.0), 'one'), (ROW(1.00), 'one too'), (ROW(2), 'two');

  -- values: arrays with other lower bounds, multiranges, a composite type with a dropped attribute,
  -- a key of int[]
  CREATE SCHEMA va;
  CREATE TYPE va.pair AS (a int, gone text, b text);
  ALTER TYPE va.pair DROP ATTRIBUTE gone;
  CREATE TABLE va.t (id int PRIMARY KEY, arr int[], mr int4multirange, p va.pair, r numrange);
  INSERT INTO va.t VALUES (1, '{1,2}', '{[1,3),[5,7)}', ROW(1, 'x'), '[1,2)'), (2, '[0:1]={1,2}', '{}', ROW(NULL, NULL), 'empty');
  CREATE TABLE va.k (k int[] PRIMARY KEY, v text);
  INSERT INTO va.k VALUES ('{1,2}', 'a'), ('[5:5]={9}', 'b');

  -- exclusion constraints: two rows swap ranges, in a table no key points at and in one a key points at
  CREATE SCHEMA ex;
  CREATE TABLE ex.room (id int PRIMARY KEY, during int4range NOT NULL, EXCLUDE USING gist (during WITH &&));
  INSERT INTO ex.room VALUES (1, '[1,5)'), (2, '[5,9)');
  CREATE TABLE ex.slot (id int PRIMARY KEY, during int4range NOT NULL, EXCLUDE USING gist (during WITH &&));
  INSERT INTO ex.slot VALUES (1, '[1,5)'), (2, '[5,9)');
  CREATE TABLE ex.booking (id int PRIMARY KEY, slot int REFERENCES ex.slot);
  INSERT INTO ex.booking VALUES (1, 1), (2, 2);
  CREATE TABLE ex.desk (id int PRIMARY KEY, during int4range NOT NULL, EXCLUDE USING gist (during WITH &&));
  INSERT INTO ex.desk VALUES (1, '[1,5)'), (2, '[5,9)');
  CREATE TABLE ex.seat (id int PRIMARY KEY, desk int REFERENCES ex.desk ON DELETE CASCADE);
  INSERT INTO ex.seat VALUES (1, 1), (2, 2), (3, 2);

  -- partitions whose columns are in another order than their parent's (one with a dropped column)
  CREATE SCHEMA pt;
  CREATE TABLE pt.p (id int, k text, v text, PRIMARY KEY (id, k)) PARTITION BY LIST (k);
  CREATE TABLE pt.p_a (junk int, v text, k text NOT NULL, id int NOT NULL);
  ALTER TABLE pt.p_a DROP COLUMN junk;
  ALTER TABLE pt.p ATTACH PARTITION pt.p_a FOR VALUES IN ('a');
  CREATE TABLE pt.p_b PARTITION OF pt.p FOR VALUES IN ('b');
  INSERT INTO pt.p VALUES (1, 'a', 'one'), (2, 'a', 'two'), (3, 'b', 'three');

  -- a table of one column that is its key, a table empty on main, an unlogged table in a schema that needs quotes
  CREATE SCHEMA one;
  CREATE TABLE one.k (k text PRIMARY KEY);
  INSERT INTO one.k VALUES ('a'), ('b');
  CREATE TABLE one.e (id int PRIMARY KEY, v text);
  CREATE TABLE one.g (a int NOT NULL, k int GENERATED ALWAYS AS (a * 2) STORED PRIMARY KEY, v text);
  INSERT INTO one.g (a, v) VALUES (1, 'x'), (2, 'y');
  CREATE SCHEMA "UP""per";
  CREATE UNLOGGED TABLE "UP""per"."T" ("Id" int PRIMARY KEY, "V" text);
  INSERT INTO "UP""per"."T" VALUES (1, 'a'), (2, 'b');

  -- an enum whose value the branch renames
  CREATE SCHEMA en;
  CREATE TYPE en.state AS ENUM ('draft', 'done');
  CREATE TABLE en.t (id int PRIMARY KEY, s en.state);
  INSERT INTO en.t VALUES (1, 'draft'), (2, 'done');

  -- an operator = for text in public, which a search_path of public first would pick over pg_catalog's
  CREATE FUNCTION public.always_equal(text, text) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT true';
  CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.always_equal);
`;

describe('ayb branch diff --data: outsider attack 4', () => {
  let cluster: TestCluster;
  let h: DataDiffHarness;

  beforeAll(async () => {
    ({ cluster, h } = await startDataDiff(MAIN_SQL, {
      foreign: ["DateStyle = 'SQL, DMY'", "TimeZone = 'America/St_Johns'", 'extra_float_digits = 0', 'search_path = public, pg_catalog'],
      otherForeign: ["DateStyle = 'German'", 'search_path = public, pg_catalog', 'standard_conforming_strings = off', "bytea_output = 'escape'"],
    }));
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  type Counts = { table: string; added: number; removed: number; changed: number; match: string; only_in?: string };
  async function counts(branch: string, ...extra: string[]): Promise<Map<string, Counts>> {
    const out = await h.ayb('branch', 'diff', 'main', branch, '--data', '--json', ...extra);
    expect(out.exitCode, out.stderr).toBe(0);
    return new Map((JSON.parse(out.stdout) as Counts[]).map((t) => [t.table, t]));
  }
  const gate = async (branch: string, ...extra: string[]) => (await h.ayb('branch', 'diff', 'main', branch, '--data', '--exit-code', ...extra)).exitCode;

  /** The judge of a keyed table: per key (as record text), the row's record text on each side. */
  async function byKey(table: string, key: string[], branch: string): Promise<{ added: number; removed: number; changed: number }> {
    const read = async (db: string) => new Map((await cluster.query<{ k: string; r: string }>(
      `SELECT ROW(${key.map((c) => `rec.${c}`).join(', ')})::text AS k, rec::text AS r FROM ONLY ${table} rec`, [], db)).rows.map((x) => [x.k, x.r]));
    const [a, b] = await Promise.all([read('app'), read(dbOf(branch))]);
    return {
      added: [...b.keys()].filter((k) => !a.has(k)).length,
      removed: [...a.keys()].filter((k) => !b.has(k)).length,
      changed: [...b].filter(([k, r]) => a.has(k) && a.get(k) !== r).length,
    };
  }
  const rowsOf = async (db: string, sql: string) => (await cluster.query<{ r: string }>(sql, [], db)).rows.map((x) => x.r);

  // Found: rules are not held off as triggers are. rl.t has `ON INSERT DO ALSO INSERT INTO rl.audit`;
  // the branch inserted one row into rl.t (the rule wrote its audit row there). The script inserts
  // that row into rl.t — the rule fires and writes an audit row — and then inserts b's audit row too:
  // the copy's rl.audit holds (2,insert) twice, b's once (expected 2 audit rows, got 3). The README
  // says the script replays b's rows, "not the actions that made them", for triggers only.
  it('a DO ALSO rule on a table the script inserts into does not write its row a second time', async () => {
    await h.branch('rule-also', "INSERT INTO rl.t VALUES (2, 'b');");
    expect(await rowsOf(dbOf('rule-also'), 'SELECT a::text AS r FROM rl.audit a ORDER BY 1')).toEqual(['(1,insert)', '(2,insert)']);
    const c = await counts('rule-also');
    expect(c.get('rl.t')).toMatchObject({ added: 1, removed: 0, changed: 0 });
    expect(c.get('rl.audit')).toMatchObject({ added: 1, removed: 0, changed: 0 });
    await h.roundTrip('rule-also');
  });

  // Found: rl.keep has `ON DELETE DO INSTEAD NOTHING` (rows are never deleted: a common guard). The
  // branch changed one column of one row (UPDATE, which the rule does not touch). The script deletes
  // the changed row to insert it again (a table no foreign key points at): the rule turns the DELETE
  // into nothing, and the INSERT fails with 23505 duplicate key (rl.keep_pkey), nothing applied.
  // Expected: the script applies (update in place, or rules held off: ALTER TABLE … DISABLE RULE).
  it('an ON DELETE DO INSTEAD NOTHING rule: a row the branch updated is still written by the script', async () => {
    await h.branch('rule-instead', "UPDATE rl.keep SET v = 'B' WHERE id = 2;");
    expect(await byKey('rl.keep', ['id'], 'rule-instead')).toEqual({ added: 0, removed: 0, changed: 1 });
    expect((await counts('rule-instead')).get('rl.keep')).toMatchObject({ added: 0, removed: 0, changed: 1 });
    await h.roundTrip('rule-instead');
  });

  // Found: rl.parent (a foreign key points at it) has `ON INSERT DO ALSO INSERT INTO rl.log`. The
  // branch inserted a parent row. Its rows change in the script's one statement of data-modifying
  // WITH steps, which PostgreSQL refuses on a table with such a rule: 0A000 `DO ALSO rules are not
  // supported for data-modifying statements in WITH`, nothing applied. Expected: the script applies
  // (rules held off, ALTER TABLE … DISABLE RULE, as triggers are) and the copy holds b's rows.
  it('a rule on a table foreign keys point at: its rows still change in the script', async () => {
    await h.branch('rule-ref', "INSERT INTO rl.parent VALUES (2, 'b'); INSERT INTO rl.kid VALUES (2, 2);");
    const c = await counts('rule-ref');
    expect(c.get('rl.parent')).toMatchObject({ added: 1, removed: 0, changed: 0 });
    expect(c.get('rl.log')).toMatchObject({ added: 1, removed: 0, changed: 0 });
    await h.roundTrip('rule-ref');
  });

  // Found: idp.p's deletes cascade to idp.c, which idp.g references, so idp.p's changed rows are
  // updated in place (not set aside). That UPDATE sets every writable column, the identity column n
  // GENERATED ALWAYS included, though n did not change: applying fails with 428C9 `column "n" can only
  // be updated to DEFAULT`, nothing applied. Expected: the script applies (only the columns that
  // differ set, or never an identity ALWAYS column: the branch cannot change n but to DEFAULT).
  it('a parent updated in place with an identity column GENERATED ALWAYS beside its key', async () => {
    await h.branch('ident', "UPDATE idp.p SET v = 'z' WHERE code = 'a';");
    expect(await byKey('idp.p', ['code'], 'ident')).toEqual({ added: 0, removed: 0, changed: 1 });
    expect((await counts('ident')).get('idp.p')).toMatchObject({ added: 0, removed: 0, changed: 1 });
    await h.roundTrip('ident');
  });

  // Found: nv.c's foreign key was added NOT VALID over an orphan row (p = 99). The branch changed
  // only v of that row (an UPDATE that leaves the key alone is not checked). The script deletes the
  // changed row and inserts it again, and the INSERT is checked: 23503 `violates foreign key
  // constraint "c_p"`, nothing applied. Expected: the script applies, as the branch's own UPDATE did.
  it('a child row a NOT VALID foreign key never checked, changed in another column, is written', async () => {
    await h.branch('notvalid', "UPDATE nv.c SET v = 'still orphan' WHERE id = 2;");
    expect((await counts('notvalid')).get('nv.c')).toMatchObject({ added: 0, removed: 0, changed: 1 });
    await h.roundTrip('notvalid');
  });

  // Found: a sequence that moved (rows inserted and deleted again on the branch) is in the script
  // (`SELECT pg_catalog.setval('sq.t_id_seq', 2, true)`), but the counts say nothing differs and
  // --exit-code exits 0: the gate and the script disagree about whether a differs from b. The
  // schema diff's README says sequence positions are --data's business. Expected: exit 1 (or the
  // counts to name the sequence); got 0.
  it('--exit-code fails when only a sequence position differs, as the script has a setval for it', async () => {
    await h.branch('seq', "INSERT INTO sq.t (v) VALUES ('b'); DELETE FROM sq.t WHERE v = 'b';");
    const sql = await h.ayb('branch', 'diff', 'main', 'seq', '--data', '--output', 'sql');
    expect(sql.exitCode, sql.stderr).toBe(0);
    expect(sql.stdout).toMatch(/setval\('"sq"\."t_id_seq"', 2, true\)/);
    expect(await gate('seq')).toBe(1);
  });

  // Unsaid in the README, and a gate that passes on data that differs: a materialized view the
  // branch refreshed (populated, its rows now there) and a large object it created are not compared
  // (--exit-code 0, no entry in --json) and the script leaves them: the copy's sq.m stays
  // unpopulated, its pg_largeobject empty. Expected: compared (or refreshed by the script), or the
  // README to say that --data leaves them; got exit 0 and nothing said.
  it('--exit-code fails when only a materialized view\'s rows or a large object differ', async () => {
    await h.branch('outside', "REFRESH MATERIALIZED VIEW sq.m; SELECT lo_from_bytea(0, '\\x0102'::bytea);");
    expect(await gate('outside')).toBe(1);
  });

  // Arguable, reported: the branch dropped a column (its data gone). The table is flagged
  // columns_differ and compared on the shared columns, which are equal: --exit-code exits 0, as if no
  // data differed (issue 24 item 3 made a table on one side only a difference; a column on one side
  // only is not). Expected 1; got 0.
  it('--exit-code fails when the branch dropped a column and its data', async () => {
    await h.branch('dropcol', 'ALTER TABLE dc.t DROP COLUMN secret;');
    const c = await counts('dropcol');
    expect(c.get('dc.t')).toMatchObject({ columns_differ: true, added: 0, removed: 0, changed: 0 });
    expect(await gate('dropcol')).toBe(1);
  });

  it('a key under a nondeterministic collation whose case changed is one changed row, and the cascade under it is kept', async () => {
    await h.branch('ci', "UPDATE ci.t SET k = 'ABC' WHERE k = 'abc'; UPDATE ci.t SET k = 'X' WHERE v = 3; INSERT INTO ci.t VALUES ('new', 4);");
    // By hand: 'abc' → 'ABC' and 'x' → 'X' are the same keys under und-u-ks-level2, so two changed
    // rows and one added; the children under 'abc' and 'x' stay (a delete of the key would cascade).
    expect((await cluster.query<{ n: string }>("SELECT count(*)::text AS n FROM ci.t WHERE k = 'abc' OR k = 'x'", [], dbOf('ci'))).rows[0]!.n).toBe('2');
    const c = await counts('ci');
    expect(c.get('ci.t')).toMatchObject({ added: 1, removed: 0, changed: 2 });
    await h.roundTrip('ci');
    expect(await rowsOf(dbOf('ci-r'), 'SELECT c::text AS r FROM ci.child c ORDER BY id')).toEqual(['(1,abc)', '(2,x)']);
  });

  // Found: the unique index ci.u_k compares k under the nondeterministic collation (the column's own
  // is deterministic): 'abc' → 'ABC' is the same key by that index, as the README says keys are equal
  // "by the key's own equality … the case of a case-insensitive collation's key". Expected 1 changed;
  // got 1 removed and 1 added (equal-keys.ts looks at the column's collation, pg_attribute.attcollation,
  // not the index's, pg_index.indcollation; and the key is joined with the column's `=`).
  it('a key whose unique index (not its column) has a nondeterministic collation: a case change is one changed row', async () => {
    await h.branch('ci-index', "UPDATE ci.u SET k = 'ABC' WHERE k = 'abc';");
    const c = await counts('ci-index');
    expect(c.get('ci.u')).toMatchObject({ match: 'unique_index', added: 0, removed: 0, changed: 1 });
    await h.roundTrip('ci-index');
  });

  /** The judge of a table without a key: its rows as record text, a multiset difference. */
  async function multiset(table: string, branch: string): Promise<{ added: number; removed: number }> {
    const [a, b] = await Promise.all([rowsOf('app', `SELECT rec::text AS r FROM ONLY ${table} rec`), rowsOf(dbOf(branch), `SELECT rec::text AS r FROM ONLY ${table} rec`)]);
    const left = new Map<string, number>();
    for (const r of a) left.set(r, (left.get(r) ?? 0) + 1);
    let added = 0;
    for (const r of b) {
      const n = left.get(r) ?? 0;
      if (n > 0) left.set(r, n - 1);
      else added++;
    }
    return { added, removed: [...left.values()].reduce((s, n) => s + n, 0) };
  }

  // Found: ci.bag has no key; its rows ('ABC', 1) and ('abc', 1) differ in text but are equal under
  // the column's nondeterministic collation. The branch deleted ('abc', 1); the counts are right (1
  // removed), but the script deletes `WHERE format('%s', k) IS NOT DISTINCT FROM 'abc' LIMIT 1`, and
  // format() keeps the column's collation, so that comparison is case-insensitive and the first row
  // found goes: ('ABC', 1). Expected the copy to hold ('ABC',1) as b does; got ('abc',1).
  // (sql.ts writeDeletes' rowWhere: compare under COLLATE "C", or the bytes.)
  it('a table without a key whose rows differ only in case under a nondeterministic collation: the script deletes the row the branch deleted', async () => {
    await h.branch('ci-bag', `DELETE FROM ci.bag WHERE k COLLATE "C" = 'abc';`);
    expect(await multiset('ci.bag', 'ci-bag')).toEqual({ added: 0, removed: 1 });
    expect((await counts('ci-bag')).get('ci.bag')).toMatchObject({ added: 0, removed: 1, changed: 0 });
    await h.roundTrip('ci-bag');
    expect(await rowsOf(dbOf('ci-bag-r'), 'SELECT b::text AS r FROM ci.bag b')).toEqual(['(ABC,1)']);
  });

  // Found: im.t's key is a unique index by record_image_ops, whose equality is *= (the bytes: (1.0)
  // and (1.00) are two keys); catalog.ts KEYS_SQL writes every pg_catalog operator as a bare `=`,
  // and record's = finds (1.0) and (1.00) equal. The branch deleted the row (1.00): counted right (1
  // removed), but the script's DELETE … WHERE t.k = '(1.00)' deletes (1.0) too: the copy holds 1 row
  // where b holds 2. Expected: the key's own operator (OPERATOR(pg_catalog.*=)).
  it('a key by a unique index of record_image_ops: the script deletes only the row the branch deleted', async () => {
    await h.branch('image', "DELETE FROM im.t WHERE v = 'one too';");
    expect(await byKey('im.t', ['k'], 'image')).toEqual({ added: 0, removed: 1, changed: 0 });
    expect((await counts('image')).get('im.t')).toMatchObject({ added: 0, removed: 1, changed: 0 });
    await h.roundTrip('image');
  });

  it('float keys: 0 → -0 is one changed row (the cascade under it kept), NaN and Infinity keys, a new -Infinity; interval keys 1 day → 24 hours', async () => {
    await h.branch('float', "UPDATE fl.t SET k = '-0' WHERE k = 0; UPDATE fl.t SET v = 'NaN!' WHERE k = 'NaN'; DELETE FROM fl.t WHERE k = 'Infinity'; INSERT INTO fl.t VALUES ('-Infinity', 'minf'); UPDATE fl.iv SET k = '24 hours' WHERE k = '1 day'; UPDATE fl.iv SET k = '30 days', v = 'B' WHERE k = '1 mon';");
    const c = await counts('float');
    expect(c.get('fl.t')).toMatchObject({ added: 1, removed: 1, changed: 2 });
    // '1 day' = '24 hours' and '1 mon' = '30 days' by interval's equality: two changed rows.
    expect(c.get('fl.iv')).toMatchObject({ added: 0, removed: 0, changed: 2 });
    const sql = await h.roundTrip('float');
    expect(sql).not.toMatch(/DELETE FROM ONLY "fl"\."t"[^;]*'0'::double precision/);
    // The child keeps 0, which is equal to the parent's -0: the branch did not touch it.
    expect(await rowsOf(dbOf('float-r'), 'SELECT c::text AS r FROM fl.child c ORDER BY id')).toEqual(['(1,0)', '(2,NaN)']);
  });

  it('arrays with other lower bounds, multiranges, a composite type with a dropped attribute, a key of int[] with lower bounds', async () => {
    await h.branch('values', `
      UPDATE va.t SET arr = '[0:1]={1,2}', mr = '{[1,3),[5,8)}', p = ROW(1, 'y') WHERE id = 1;
      UPDATE va.t SET arr = '{1,2}', r = '[1.0,2)' WHERE id = 2;
      UPDATE va.k SET k = '[0:1]={1,2}' WHERE v = 'a';
      UPDATE va.k SET v = 'bb' WHERE v = 'b';`);
    const c = await counts('values');
    expect(c.get('va.t')).toMatchObject({ ...(await byKey('va.t', ['id'], 'values')) });
    expect(await byKey('va.t', ['id'], 'values')).toEqual({ added: 0, removed: 0, changed: 2 });
    // '{1,2}' and '[0:1]={1,2}' are different keys (array equality compares the bounds): one removed, one added.
    expect(await byKey('va.k', ['k'], 'values')).toEqual({ added: 1, removed: 1, changed: 1 });
    expect(c.get('va.k')).toMatchObject({ added: 1, removed: 1, changed: 1 });
    await h.roundTrip('values');
  });

  it('two rows swap ranges under an exclusion constraint: in a table no key points at, one a key points at, and one whose deletes cascade', async () => {
    // The constraint is checked row by row: the branch swaps through a third range.
    await h.branch('excl', `
      UPDATE ex.room SET during = '[100,101)' WHERE id = 1; UPDATE ex.room SET during = '[1,5)' WHERE id = 2; UPDATE ex.room SET during = '[5,9)' WHERE id = 1;
      UPDATE ex.slot SET during = '[100,101)' WHERE id = 1; UPDATE ex.slot SET during = '[1,5)' WHERE id = 2; UPDATE ex.slot SET during = '[5,9)' WHERE id = 1;
      UPDATE ex.desk SET during = '[100,101)' WHERE id = 1; UPDATE ex.desk SET during = '[1,5)' WHERE id = 2; UPDATE ex.desk SET during = '[5,9)' WHERE id = 1;`);
    const c = await counts('excl');
    expect(c.get('ex.room')).toMatchObject({ added: 0, removed: 0, changed: 2 });
    expect(c.get('ex.slot')).toMatchObject({ added: 0, removed: 0, changed: 2 });
    expect(c.get('ex.desk')).toMatchObject({ added: 0, removed: 0, changed: 2 });
    await h.roundTrip('excl');
    // The seats under the desks (whose deletes cascade) are all still there.
    expect(await rowsOf(dbOf('excl-r'), 'SELECT s::text AS r FROM ex.seat s ORDER BY id')).toEqual(['(1,1)', '(2,2)', '(3,2)']);
  });

  it('partitions whose columns are in another order (and one with a dropped column): rows moved between them and changed', async () => {
    await h.branch('parts', "UPDATE pt.p SET k = 'b' WHERE id = 1; UPDATE pt.p SET v = 'TWO' WHERE id = 2; INSERT INTO pt.p VALUES (4, 'a', 'four');");
    const c = await counts('parts');
    expect(c.get('pt.p_a')).toMatchObject(await byKey('pt.p_a', ['id', 'k'], 'parts'));
    expect(c.get('pt.p_b')).toMatchObject(await byKey('pt.p_b', ['id', 'k'], 'parts'));
    expect(c.get('pt.p_a')).toMatchObject({ added: 1, removed: 1, changed: 1 });
    expect(c.get('pt.p_b')).toMatchObject({ added: 1, removed: 0, changed: 0 });
    await h.roundTrip('parts');
  });

  it('a table of one column that is its key, a table empty on main, an unlogged table in a quoted schema, a STORED generated key; a shadowing = in public; --exit-code with --output sql and --json', async () => {
    await h.branch('small', `
      DELETE FROM one.k WHERE k = 'a'; INSERT INTO one.k VALUES ('c'), ('');
      INSERT INTO one.e VALUES (1, 'x'), (2, NULL);
      UPDATE "UP""per"."T" SET "V" = 'B' WHERE "Id" = 2; INSERT INTO "UP""per"."T" VALUES (3, 'c');
      UPDATE one.g SET a = 5 WHERE a = 1; UPDATE one.g SET v = 'Y' WHERE a = 2;`);
    const c = await counts('small');
    expect(c.get('one.k')).toMatchObject({ added: 2, removed: 1, changed: 0 });
    expect(c.get('one.e')).toMatchObject({ added: 2, removed: 0, changed: 0 });
    expect(c.get('UP"per.T')).toMatchObject({ added: 1, removed: 0, changed: 1 });
    // A key that is a STORED generated column: the row whose key moved 2 → 10 is one removed and one added.
    expect(c.get('one.g')).toMatchObject({ added: 1, removed: 1, changed: 1 });
    expect(await gate('small', '--table', 'one.e')).toBe(1);
    // --exit-code with the script or the JSON as output: still 1 when rows differ.
    expect((await h.ayb('branch', 'diff', 'main', 'small', '--data', '--output', 'sql', '--exit-code')).exitCode).toBe(1);
    expect((await h.ayb('branch', 'diff', 'main', 'small', '--data', '--json', '--exit-code')).exitCode).toBe(1);
    await h.roundTrip('small');
  });
  // Found: the branch renamed an enum value (ALTER TYPE … RENAME VALUE, a schema change: no row was
  // written). The data diff counts the row that holds it as changed, and --output sql neither refuses
  // (the columns' types have the same name, so no data_schema_differs) nor applies: psql stops at
  // 22P02 `invalid input value for enum en.state: "finished"`, nothing applied. Expected: refused
  // with exit 4 and the hint to apply the schema diff first, as for columns that differ.
  it('an enum value the branch renamed: --output sql refuses (data_schema_differs) rather than printing a script that cannot apply', async () => {
    await h.branch('enum', "ALTER TYPE en.state RENAME VALUE 'done' TO 'finished';");
    expect((await counts('enum')).get('en.t')).toMatchObject({ added: 0, removed: 0, changed: 1 });
    const sql = await h.ayb('branch', 'diff', 'main', 'enum', '--data', '--output', 'sql');
    expect(sql.exitCode).toBe(4);
    expect(sql.stderr).toMatch(/data_schema_differs|schema/);
  });

  // Found: a main database in SQL_ASCII (legacy databases are; its bytes are not checked as UTF-8,
  // and pg_dump copies them as they are). Its table t holds keys 'caf' || 0xE9 and 'caf' || 0xE8 (é
  // and è in LATIN1); the branch changed v of one row. `ayb branch diff main lg --data --json` exits 5:
  // `database_error`, `PostgreSQL error 22021: invalid byte sequence for encoding "UTF8": 0xe9 0x22
  // 0x5d` (the bytes é"] of a key's JSON): the diff cannot read such a database at all. Expected:
  // exit 0, one changed row, and a script that makes a copy's rows b's, byte for byte (md5 of each
  // key's bytes, written here).
  // Fixed (dd-fix): when a side is SQL_ASCII, values travel as their bytes (escaped ASCII, value-text.ts)
  // and the script writes them as escape strings (E'caf\351'); names that are not UTF-8 are still
  // refused by name (data-diff-not-utf8.test.ts).
  it('a SQL_ASCII main whose keys hold bytes that are not UTF-8: the script keeps the bytes', async () => {
    await cluster.query("CREATE DATABASE legacy ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0", [], 'postgres');
    await h.apply('legacy', "CREATE TABLE t (k text PRIMARY KEY, v int); INSERT INTO t VALUES (E'caf\\xe9', 1), (E'caf\\xe8', 2);");
    const env = { AYB_DATABASE_URL: cluster.url('legacy') };
    for (const name of ['lg', 'lg-r']) {
      const made = await runCli(['branch', 'create', name, '--strategy', 'template'], { env });
      expect(made.exitCode, made.stderr).toBe(0);
    }
    await h.apply(dbOf('lg'), "UPDATE t SET v = 20 WHERE k = E'caf\\xe8';");
    const rows = async (db: string) => rowsOf(db, "SELECT string_agg(md5(k::bytea) || ':' || v, ',' ORDER BY k::bytea) AS r FROM t");
    expect((await rows(dbOf('lg'))).join()).not.toBe((await rows('legacy')).join());
    const out = await runCli(['branch', 'diff', 'main', 'lg', '--data', '--json'], { env });
    expect(out.exitCode, out.stderr).toBe(0);
    expect(out.json<Counts[]>().find((t) => t.table === 'public.t')).toMatchObject({ added: 0, removed: 0, changed: 1 });
    const sql = await runCli(['branch', 'diff', 'main', 'lg', '--data', '--output', 'sql'], { env });
    expect(sql.exitCode, sql.stderr).toBe(0);
    await h.apply(dbOf('lg-r'), sql.stdout);
    expect(await rows(dbOf('lg-r'))).toEqual(await rows(dbOf('lg')));
  });

  it('tables of 1,500 columns, with a key and without: counted and written', async () => {
    const cols = (n: number) => Array.from({ length: n }, (_, i) => `c${i} text`).join(', ');
    await cluster.query(`CREATE SCHEMA w; CREATE TABLE w.keyed (id int PRIMARY KEY, ${cols(1500)}); CREATE TABLE w.bag (${cols(1500)});
      INSERT INTO w.keyed (id, c0, c1499) VALUES (1, 'a', 'z'), (2, 'b', 'y'); INSERT INTO w.bag (c0, c1499) VALUES ('a', 'z'), ('a', 'z');`, [], 'app');
    await h.branch('cols', "UPDATE w.keyed SET c1499 = 'changed' WHERE id = 2; INSERT INTO w.keyed (id, c700) VALUES (3, 'new'); UPDATE w.bag SET c700 = 'x' WHERE ctid = (SELECT min(ctid) FROM w.bag);");
    const c = await counts('cols', '--table', 'w.keyed', '--table', 'w.bag');
    expect(c.get('w.keyed')).toMatchObject({ added: 1, removed: 0, changed: 1 });
    expect(c.get('w.bag')).toMatchObject({ ...(await multiset('w.bag', 'cols')), changed: 0 });
    expect(await multiset('w.bag', 'cols')).toEqual({ added: 1, removed: 1 });
    await h.roundTrip('cols');
  });

  // Made here, after the other cases, so that their branches and fingerprints do not pay for them.
  it('300 tables never analysed, three of them changed: counted per table, the rest identical, gated per table', async () => {
    await cluster.query(`CREATE SCHEMA many;
      DO $$ BEGIN FOR i IN 1..300 LOOP
        EXECUTE format('CREATE TABLE many.%I (id int PRIMARY KEY, v text)', 't' || i);
        EXECUTE format('INSERT INTO many.%I VALUES (1, %L), (2, %L)', 't' || i, 'a' || i, 'b' || i);
      END LOOP; END $$;`, [], 'app');
    await h.branch('many', "UPDATE many.t150 SET v = 'x' WHERE id = 1; DELETE FROM many.t300 WHERE id = 2; INSERT INTO many.t1 VALUES (3, 'c');");
    const c = await counts('many');
    const differing = [...c.values()].filter((t) => t.added + t.removed + t.changed > 0).map((t) => `${t.table}:${t.added}/${t.removed}/${t.changed}`).sort();
    expect(differing).toEqual(['many.t1:1/0/0', 'many.t150:0/0/1', 'many.t300:0/1/0'].sort());
    expect([...c.keys()].filter((t) => t.startsWith('many.'))).toHaveLength(300);
    expect(await gate('many', '--table', 'many.t7')).toBe(0);
    expect(await gate('many', '--table', 'many.t300')).toBe(1);
  });
  // The same, cheaply: the parts' size lowered to 1,000 characters (AYB_TEST_DATA_PIECE_CHARS, a knob for tests), rows
  // of 2,500 to 4,500 characters (quotes doubled, two-byte characters) added and changed in a keyed table, in one
  // foreign keys point at (the one statement's steps), and in one without a key (whole rows, batched by their
  // characters); 600 narrow rows besides (two batches of keys). Judged by md5 of every row, written here.
  it('rows wider than the parts the script is read in: cut in pieces and written whole', async () => {
    await cluster.query(`CREATE SCHEMA ws;
      CREATE TABLE ws.doc (id int PRIMARY KEY, body text);
      CREATE TABLE ws.parent (id int PRIMARY KEY, label text);
      CREATE TABLE ws.kid (id int PRIMARY KEY, parent int REFERENCES ws.parent);
      CREATE TABLE ws.bag (body text);
      INSERT INTO ws.doc VALUES (1, 'short'), (2, repeat('b', 3000));
      INSERT INTO ws.parent VALUES (1, 'p'), (2, 'q');
      INSERT INTO ws.kid VALUES (1, 1), (2, 2);
      INSERT INTO ws.bag VALUES ('x');`, [], 'app');
    await h.branch('pieces', `UPDATE ws.doc SET body = repeat('a''b', 900) WHERE id = 1;
      INSERT INTO ws.doc SELECT 10 + g, repeat(chr(233), 1500) || g FROM generate_series(1, 3) g;
      INSERT INTO ws.doc SELECT 1000 + g, 'n' || g FROM generate_series(1, 600) g;
      UPDATE ws.parent SET label = repeat('l', 4500) WHERE id = 2;
      INSERT INTO ws.parent VALUES (3, repeat('m''', 1300)), (4, 'narrow');
      UPDATE ws.kid SET parent = 3 WHERE id = 1;
      INSERT INTO ws.bag SELECT repeat('w', 2000) || g FROM generate_series(1, 3) g;`);
    const env = { AYB_DATABASE_URL: cluster.url('app'), AYB_TEST_DATA_PIECE_CHARS: '1000' };
    const sql = await runCli(['branch', 'diff', 'main', 'pieces', '--data', '--table', 'ws.doc', '--table', 'ws.parent', '--table', 'ws.kid', '--table', 'ws.bag', '--output', 'sql'], { env });
    expect(sql.exitCode, sql.stderr).toBe(0);
    const copy = await h.branch('pieces-r');
    await h.apply(copy, sql.stdout);
    const rows = async (db: string) => Promise.all(['ws.doc', 'ws.parent', 'ws.kid', 'ws.bag'].map((t) => rowsOf(db, `SELECT string_agg(md5(x::text), ',' ORDER BY x::text) AS r FROM ${t} x`)));
    const want = await rows(dbOf('pieces'));
    expect(await rows('app')).not.toEqual(want);
    expect(await rows(copy)).toEqual(want);
  });

  // Found: a branch that added 500 documents of 1.15 MB of text each (TOAST compresses them to some
  // kB: small on disk). The counts are right (row hashes only: {"added":500}), but --output sql has
  // the server render the VALUES rows of 500 rows as ONE text (sql.ts renderedBatches, STATEMENT_ROWS
  // = 500: batches bounded by rows, not bytes): 575 MB, more than a JavaScript string may hold. Got:
  // exit 1, `Error: Cannot create a string longer than 0x1fffffe8 characters`, nothing on stdout.
  // Expected: exit 0 and a script that gives the copy b's documents (md5 of each, written here). The
  // README says memory stays flat however many rows differ. Heavy (4.6 GB of text read and hashed;
  // 100 s at load 10, 400 s at load 30): run with AYB_TEST_WIDE=1.
  // Fixed (dd-fix): the rows come from the server in parts of at most AYB_TEST_DATA_PIECE_CHARS characters (1 Mi
  // by default; a row longer than that in pieces), read one at a time through a cursor.
  (process.env.AYB_TEST_WIDE === '1' ? it : it.skip)('500 added rows of 1.15 MB each: --output sql writes the script (AYB_TEST_WIDE=1)', async () => {
    await cluster.query('CREATE SCHEMA wide; CREATE TABLE wide.doc (id int PRIMARY KEY, body text); ANALYZE wide.doc;', [], 'app');
    await h.branch('wide', "INSERT INTO wide.doc SELECT g, repeat('a', 1150000) FROM generate_series(1, 500) g;");
    const env = { AYB_DATABASE_URL: cluster.url('app') };
    const out = await runCli(['branch', 'diff', 'main', 'wide', '--data', '--json', '--table', 'wide.doc'], { env, timeout: 900_000 });
    expect(out.exitCode, out.stderr).toBe(0);
    expect(out.json<Counts[]>()[0]).toMatchObject({ table: 'wide.doc', added: 500, removed: 0, changed: 0 });
    // 575 MB of script: more than a JavaScript string holds, so to a file (execa's own buffer would stop at 100 MB).
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ayb-wide-'));
    try {
      const file = path.join(dir, 'rows.sql');
      // Redirected by the shell: through execa's pipe, the child met EPIPE (execa stops reading past its maxBuffer).
      const sql = await execa('sh', ['-c', 'exec node "$0" "$@" > "$AYB_TEST_OUT"', BIN, 'branch', 'diff', 'main', 'wide', '--data', '--table', 'wide.doc', '--output', 'sql'],
        { env: { ...env, NO_COLOR: '1', AYB_TEST_OUT: file }, reject: false, timeout: 900_000 });
      expect(sql.exitCode, String(sql.stderr).slice(0, 2000)).toBe(0);
      const copy = await h.branch('wide-r');
      await runPsql(cluster, copy, { file });
      const docs = async (db: string) => rowsOf(db, "SELECT string_agg(id || ':' || md5(body), ',' ORDER BY id) AS r FROM wide.doc");
      expect(await docs(copy)).toEqual(await docs(dbOf('wide')));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 1_800_000);
});
