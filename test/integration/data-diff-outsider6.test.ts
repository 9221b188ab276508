import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import type { TestCluster } from '../helpers/cluster.js';
import { type DataDiffHarness, dbOf, startDataDiff } from '../helpers/data-diff-round-trip.js';
import { runPsql } from '../helpers/pagila.js';

/**
 * Issue 24, outsider's sixth attack on the data diff's script (`ayb branch diff a b --data --output
 * sql`) where it was changed last: foreign keys lifted around rows that swap a unique value, event
 * triggers held off, search_path pg_catalog then b's own, wide rows written in pieces. Judged by
 * fingerprints of ordered rows of b against a copy of a with the script applied by psql under foreign
 * session settings (the round trip), and by rows and catalog state read here with SQL of this file.
 */
const MAIN_SQL = `
  -- a parent whose unique code two rows swap, with children acting on its deletes in every way, one of them itself referenced
  CREATE SCHEMA lf;
  CREATE TABLE lf.p (id int PRIMARY KEY, code text NOT NULL UNIQUE, UNIQUE (id, code));
  INSERT INTO lf.p VALUES (0, 'zero'), (1, 'a'), (2, 'b'), (3, 'c');
  CREATE TABLE lf.c (id int PRIMARY KEY, p int, q int, v text,
    CONSTRAINT "odd ""fk"" Näme" FOREIGN KEY (p) REFERENCES lf.p ON DELETE SET NULL (p));
  COMMENT ON CONSTRAINT "odd ""fk"" Näme" ON lf.c IS 'it''s kept';
  CREATE TABLE lf.g (id int PRIMARY KEY, c int REFERENCES lf.c ON DELETE CASCADE);
  CREATE TABLE lf.d (id int PRIMARY KEY, p int DEFAULT 0,
    CONSTRAINT "odd ""fk"" Näme" FOREIGN KEY (p) REFERENCES lf.p ON DELETE SET DEFAULT DEFERRABLE INITIALLY IMMEDIATE);
  CREATE TABLE lf.m (id int PRIMARY KEY, a int, b text, FOREIGN KEY (a, b) REFERENCES lf.p (id, code) MATCH FULL ON DELETE CASCADE ON UPDATE CASCADE);
  CREATE TABLE lf.pc (id int, p int REFERENCES lf.p ON DELETE CASCADE, PRIMARY KEY (id)) PARTITION BY RANGE (id);
  CREATE TABLE lf.pc1 PARTITION OF lf.pc FOR VALUES FROM (0) TO (100);
  CREATE TABLE lf.pc2 PARTITION OF lf.pc FOR VALUES FROM (100) TO (200);
  CREATE TABLE lf.nv (id int PRIMARY KEY, p int);
  INSERT INTO lf.c VALUES (1, 1, 1, 'c1'), (2, 2, 2, 'c2'), (3, 3, 3, 'c3');
  INSERT INTO lf.g VALUES (1, 1), (2, 2);
  INSERT INTO lf.d VALUES (1, 1), (2, 2), (3, NULL);
  INSERT INTO lf.m VALUES (1, 1, 'a'), (2, 2, 'b'), (3, 3, 'c');
  INSERT INTO lf.pc VALUES (1, 1), (101, 2), (102, 3);
  INSERT INTO lf.nv VALUES (1, 1), (2, 2), (3, 99);
  ALTER TABLE lf.nv ADD CONSTRAINT nv_p FOREIGN KEY (p) REFERENCES lf.p ON DELETE CASCADE NOT VALID;

  -- a self-reference (SET NULL) beside another child; a cycle of cascades; a partitioned parent with a unique value swapped
  CREATE SCHEMA lx;
  CREATE TABLE lx.t (id int PRIMARY KEY, code text UNIQUE, parent int REFERENCES lx.t ON DELETE SET NULL);
  CREATE TABLE lx.o (id int PRIMARY KEY, t int REFERENCES lx.t ON DELETE CASCADE);
  INSERT INTO lx.t VALUES (1, 'a', NULL), (2, 'b', 1), (3, 'c', 2), (4, 'd', 1);
  INSERT INTO lx.o VALUES (1, 1), (2, 2), (3, 4);
  CREATE TABLE lx.x (id int PRIMARY KEY, code text UNIQUE, y int);
  CREATE TABLE lx.y (id int PRIMARY KEY, code text UNIQUE, x int REFERENCES lx.x ON DELETE CASCADE);
  ALTER TABLE lx.x ADD FOREIGN KEY (y) REFERENCES lx.y ON DELETE CASCADE;
  INSERT INTO lx.x VALUES (1, 'a', NULL), (2, 'b', NULL);
  INSERT INTO lx.y VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 1);
  UPDATE lx.x SET y = id;
  CREATE TABLE lx.pp (id int, r int, code text, PRIMARY KEY (id, r), UNIQUE (code, r)) PARTITION BY LIST (r);
  CREATE TABLE lx.pp1 PARTITION OF lx.pp FOR VALUES IN (1);
  CREATE TABLE lx.pp2 PARTITION OF lx.pp FOR VALUES IN (2);
  CREATE TABLE lx.pk (id int PRIMARY KEY, pid int, r int, FOREIGN KEY (pid, r) REFERENCES lx.pp ON DELETE SET NULL);
  INSERT INTO lx.pp VALUES (1, 1, 'a'), (2, 1, 'b'), (3, 2, 'a'), (4, 2, 'b');
  INSERT INTO lx.pk VALUES (1, 1, 1), (2, 2, 1), (3, 3, 2);

  -- a referencing partitioned table whose partition brought its own foreign key (another name) when attached, a comment on it
  CREATE SCHEMA lp;
  CREATE TABLE lp.p (id int PRIMARY KEY, code text NOT NULL UNIQUE);
  CREATE TABLE lp.c (id int, p int REFERENCES lp.p ON DELETE CASCADE, PRIMARY KEY (id)) PARTITION BY RANGE (id);
  CREATE TABLE lp.c1 PARTITION OF lp.c FOR VALUES FROM (0) TO (100);
  CREATE TABLE lp.c2 (id int PRIMARY KEY, p int, CONSTRAINT "c2 own key" FOREIGN KEY (p) REFERENCES lp.p ON DELETE CASCADE);
  ALTER TABLE lp.c ATTACH PARTITION lp.c2 FOR VALUES FROM (100) TO (200);
  COMMENT ON CONSTRAINT "c2 own key" ON lp.c2 IS 'the partition''s own';
  CREATE TABLE lp.g (id int PRIMARY KEY, c int REFERENCES lp.c);
  INSERT INTO lp.p VALUES (1, 'a'), (2, 'b');
  INSERT INTO lp.c VALUES (1, 1), (101, 2);
  INSERT INTO lp.g VALUES (1, 1), (2, 101);

  -- children that follow a parent's unique value by ON UPDATE CASCADE / SET NULL (no delete action)
  CREATE SCHEMA up;
  CREATE TABLE up.p (id int PRIMARY KEY, code text NOT NULL UNIQUE);
  CREATE TABLE up.c (id int PRIMARY KEY, code text REFERENCES up.p (code) ON UPDATE CASCADE);
  CREATE TABLE up.n (id int PRIMARY KEY, code text REFERENCES up.p (code) ON UPDATE SET NULL);
  CREATE TABLE up.g (id int PRIMARY KEY, c int REFERENCES up.c);
  INSERT INTO up.p VALUES (1, 'a'), (2, 'b'), (3, 'c');
  INSERT INTO up.c VALUES (1, 'a'), (2, 'b'), (3, 'c');
  INSERT INTO up.n VALUES (1, 'a'), (2, 'b'), (3, 'c');
  INSERT INTO up.g VALUES (1, 1);

  -- values swapped under an exclusion constraint (checked row by row, like a unique index), with and without a child acting on deletes
  CREATE SCHEMA ex;
  CREATE TABLE ex.t (id int PRIMARY KEY, r int4range, EXCLUDE USING gist (r WITH &&));
  INSERT INTO ex.t VALUES (1, '[1,5)'), (2, '[5,10)');
  CREATE TABLE ex.u (id int PRIMARY KEY, r int4range, EXCLUDE USING gist (r WITH &&));
  CREATE TABLE ex.c (id int PRIMARY KEY, u int REFERENCES ex.u ON DELETE CASCADE);
  INSERT INTO ex.u VALUES (1, '[1,5)'), (2, '[5,10)');
  INSERT INTO ex.c VALUES (1, 1), (2, 2);

  -- a parent with a NOT VALID foreign key of its own (rows violating it), unique codes swapped, a child acting on its deletes that is itself referenced
  CREATE SCHEMA ng;
  CREATE TABLE ng.r (id int PRIMARY KEY);
  CREATE TABLE ng.p (id int PRIMARY KEY, code text NOT NULL UNIQUE, r int);
  CREATE TABLE ng.c (id int PRIMARY KEY, p int REFERENCES ng.p ON DELETE CASCADE);
  CREATE TABLE ng.g (id int PRIMARY KEY, c int REFERENCES ng.c);
  INSERT INTO ng.r VALUES (1);
  INSERT INTO ng.p VALUES (1, 'a', 1), (2, 'b', 77), (3, 'c', NULL);
  ALTER TABLE ng.p ADD CONSTRAINT p_r FOREIGN KEY (r) REFERENCES ng.r NOT VALID;
  INSERT INTO ng.c VALUES (1, 1), (2, 2);
  INSERT INTO ng.g VALUES (1, 1), (2, 2);
  CREATE TABLE ng.q (id int PRIMARY KEY, code text NOT NULL UNIQUE, r int);
  INSERT INTO ng.q VALUES (1, 'a', 1), (2, 'b', 77);
  ALTER TABLE ng.q ADD CONSTRAINT q_r FOREIGN KEY (r) REFERENCES ng.r NOT VALID;
  CREATE TABLE ng.s (id int PRIMARY KEY, code text NOT NULL UNIQUE, r int);
  CREATE TABLE ng.sc (id int PRIMARY KEY, s int REFERENCES ng.s ON DELETE CASCADE);
  INSERT INTO ng.s VALUES (1, 'a', 1), (2, 'b', 77);
  ALTER TABLE ng.s ADD CONSTRAINT s_r FOREIGN KEY (r) REFERENCES ng.r NOT VALID;
  INSERT INTO ng.sc VALUES (1, 1), (2, 2);

  -- event triggers: a DDL guard, a sql_drop log (ALWAYS), a table_rewrite one (REPLICA), odd names
  CREATE SCHEMA ev;
  CREATE TABLE ev.log (id serial PRIMARY KEY, what text);
  CREATE FUNCTION ev.guard() RETURNS event_trigger LANGUAGE plpgsql AS $$
    BEGIN IF pg_catalog.current_setting('app.ddl_ok', true) IS DISTINCT FROM 'on' THEN RAISE EXCEPTION 'DDL is guarded: %', tg_tag; END IF; END $$;
  CREATE FUNCTION ev.dropped() RETURNS event_trigger LANGUAGE plpgsql AS $$
    BEGIN INSERT INTO ev.log (what) SELECT object_type FROM pg_catalog.pg_event_trigger_dropped_objects() WHERE schema_name IN ('ev', 'lf', 'sp', 'wd'); END $$;
  CREATE TABLE ev.create_log (what text);
  CREATE FUNCTION ev.any_drop() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN IF pg_catalog.current_database() = 'ayb_branch_evlog' THEN
    INSERT INTO ev.create_log SELECT object_identity FROM pg_catalog.pg_event_trigger_dropped_objects(); END IF; END $$;
  CREATE FUNCTION ev.rewrite() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO ev.log (what) VALUES ('rewrite'); END $$;
  CREATE FUNCTION ev.noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
  CREATE TABLE ev.t (id int PRIMARY KEY, v text);
  CREATE TRIGGER t_noop BEFORE INSERT OR UPDATE ON ev.t FOR EACH ROW EXECUTE FUNCTION ev.noop();
  INSERT INTO ev.t VALUES (1, 'a'), (2, 'b');
  -- objects in public that shadow what a script may name unqualified
  CREATE FUNCTION public.unnest(text[]) RETURNS SETOF text LANGUAGE sql AS $$ SELECT 'shadow'::text $$;
  CREATE FUNCTION public.txt_eq(text, text) RETURNS boolean LANGUAGE sql AS $$ SELECT false $$;
  CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.txt_eq);
  CREATE FUNCTION public.tid_eq(tid, tid[]) RETURNS boolean LANGUAGE sql AS $$ SELECT false $$;
  CREATE FUNCTION public.arr_eq(text[], text[]) RETURNS boolean LANGUAGE sql AS $$ SELECT false $$;
  CREATE OPERATOR public.= (LEFTARG = text[], RIGHTARG = text[], FUNCTION = public.arr_eq);
  CREATE SCHEMA "My Sch";
  CREATE SCHEMA sp;
  CREATE TABLE sp.k (code text PRIMARY KEY, tags text[], n int);
  CREATE TABLE sp.nokey (v text, tags text[]);
  INSERT INTO sp.k VALUES ('x', '{a,b}', 1), ('y', '{}', 2), ('z', NULL, 3);
  INSERT INTO sp.nokey VALUES ('x', '{a}'), ('x', '{a}'), ('y', '{"b c"}'), (NULL, NULL);

  -- wide rows (written in pieces): multibyte characters, bytea, arrays, a table without a key
  CREATE SCHEMA wd;
  CREATE TABLE wd.t (id int PRIMARY KEY, v text, b bytea, a text[]);
  CREATE TABLE wd.nokey (v text, a text[]);
  INSERT INTO wd.t VALUES (1, 'é€😀x', decode('00ff', 'hex'), '{é,€}'), (2, 'plain', NULL, NULL);
  INSERT INTO wd.nokey VALUES ('é€😀'), ('abc');

  -- (last: the guard refuses DDL from here on)
  CREATE EVENT TRIGGER "Guard ""x"" é" ON ddl_command_start WHEN TAG IN ('ALTER TABLE', 'CREATE TABLE', 'DROP TABLE') EXECUTE FUNCTION ev.guard();
  CREATE EVENT TRIGGER "drops.log" ON sql_drop EXECUTE FUNCTION ev.dropped();
  ALTER EVENT TRIGGER "drops.log" ENABLE ALWAYS;
  CREATE EVENT TRIGGER any_drop ON sql_drop EXECUTE FUNCTION ev.any_drop();
  ALTER EVENT TRIGGER any_drop ENABLE ALWAYS;
  CREATE EVENT TRIGGER "rewrite" ON table_rewrite EXECUTE FUNCTION ev.rewrite();
  ALTER EVENT TRIGGER "rewrite" ENABLE REPLICA;

`;

describe('ayb branch diff --data --output sql: outsider attack 6', () => {
  let cluster: TestCluster;
  let h: DataDiffHarness;

  beforeAll(async () => {
    ({ cluster, h } = await startDataDiff(MAIN_SQL, {
      foreign: ["DateStyle = 'SQL, DMY'", "TimeZone = 'Asia/Kathmandu'", 'extra_float_digits = -3', `search_path = "$user", "My Sch", nosuch, public`, 'app.ddl_ok = on'],
      otherForeign: ["DateStyle = 'German'", "IntervalStyle = 'iso_8601'", 'search_path = public', "bytea_output = 'escape'"],
    }));
    // ayb's own control table in main is DDL too: main allows it; a copy of main (made later) does not.
    await cluster.query('ALTER DATABASE app SET app.ddl_ok = on', [], 'postgres');
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const rowsOf = async (db: string, sql: string) => (await cluster.query<{ r: string }>(sql, [], db)).rows.map((x) => x.r);
  const CHILDREN = `SELECT format('%s %s', t, r) AS r FROM (
      SELECT 'c' AS t, c::text AS r FROM lf.c UNION ALL SELECT 'g', g::text FROM lf.g UNION ALL SELECT 'd', d::text FROM lf.d
      UNION ALL SELECT 'm', m::text FROM lf.m UNION ALL SELECT 'pc', pc::text FROM lf.pc UNION ALL SELECT 'nv', nv::text FROM lf.nv) x ORDER BY 1`;
  const KEYS = `SELECT format('%s %s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid), obj_description(oid, 'pg_constraint')) AS r
      FROM pg_constraint WHERE contype = 'f' AND connamespace = 'lf'::regnamespace ORDER BY 1`;

  it("swapped unique codes under children acting on deletes every way (SET NULL (col), SET DEFAULT, MATCH FULL, partitioned, NOT VALID, quoted names shared by two tables): the children end as b's and the keys as a's", async () => {
    await h.branch('lift', `UPDATE lf.p SET code = 'tmp' WHERE id = 1; UPDATE lf.p SET code = 'a' WHERE id = 2; UPDATE lf.p SET code = 'b' WHERE id = 1;
      SET session_replication_role = replica; INSERT INTO lf.nv VALUES (4, 98); RESET session_replication_role; UPDATE lf.c SET v = 'c1!' WHERE id = 1;`);
    // Hand-computed: the children untouched by the swap (no cascade, no SET NULL, no SET DEFAULT), but lf.m's ON UPDATE CASCADE.
    expect(await rowsOf(dbOf('lift'), CHILDREN)).toEqual([
      'c (1,1,1,c1!)', 'c (2,2,2,c2)', 'c (3,3,3,c3)', 'd (1,1)', 'd (2,2)', 'd (3,)', 'g (1,1)', 'g (2,2)',
      'm (1,1,b)', 'm (2,2,a)', 'm (3,3,c)', 'nv (1,1)', 'nv (2,2)', 'nv (3,99)', 'nv (4,98)', 'pc (1,1)', 'pc (101,2)', 'pc (102,3)']);
    const script = await h.roundTrip('lift');
    expect(script).toMatch(/DROP CONSTRAINT/);
    expect(await rowsOf(dbOf('lift-r'), CHILDREN)).toEqual(await rowsOf(dbOf('lift'), CHILDREN));
    expect(await rowsOf(dbOf('lift-r'), KEYS)).toEqual(await rowsOf('app', KEYS));
  });

  const LX = `SELECT format('%s %s', t, r) AS r FROM (
      SELECT 't' AS t, t::text AS r FROM lx.t UNION ALL SELECT 'o', o::text FROM lx.o UNION ALL SELECT 'x', x::text FROM lx.x
      UNION ALL SELECT 'y', y::text FROM lx.y UNION ALL SELECT 'pp', pp::text FROM lx.pp UNION ALL SELECT 'pk', pk::text FROM lx.pk) x ORDER BY 1`;

  it('the swap beside a parent row removed (its cascades, SET NULLs and SET DEFAULTs written as b has them): the children end as b\'s', async () => {
    await h.branch('lift2', `UPDATE lf.p SET code = 'tmp' WHERE id = 1; UPDATE lf.p SET code = 'a' WHERE id = 2; UPDATE lf.p SET code = 'b' WHERE id = 1;
      DELETE FROM lf.p WHERE id = 3; UPDATE lf.p SET code = 'c' WHERE id = 0; DELETE FROM lf.d WHERE id = 1; DELETE FROM lf.p WHERE id = 1 AND false;`);
    expect(await rowsOf(dbOf('lift2'), CHILDREN)).toEqual([
      'c (1,1,1,c1)', 'c (2,2,2,c2)', 'c (3,,3,c3)', 'd (2,2)', 'd (3,)', 'g (1,1)', 'g (2,2)',
      'm (1,1,b)', 'm (2,2,a)', 'nv (1,1)', 'nv (2,2)', 'nv (3,99)', 'pc (1,1)', 'pc (101,2)']);
    await h.roundTrip('lift2');
    expect(await rowsOf(dbOf('lift2-r'), CHILDREN)).toEqual(await rowsOf(dbOf('lift2'), CHILDREN));
  });

  it('a self-reference (SET NULL) beside another child, a cycle of cascades, a partitioned parent: unique values swapped, children as b has them', async () => {
    await h.branch('lx', `UPDATE lx.t SET code = 'tmp' WHERE id = 1; UPDATE lx.t SET code = 'a' WHERE id = 2; UPDATE lx.t SET code = 'b' WHERE id = 1;
      UPDATE lx.x SET code = 'tmp' WHERE id = 1; UPDATE lx.x SET code = 'a' WHERE id = 2; UPDATE lx.x SET code = 'b' WHERE id = 1;
      UPDATE lx.y SET code = 'tmp' WHERE id = 1; UPDATE lx.y SET code = 'a' WHERE id = 2; UPDATE lx.y SET code = 'b' WHERE id = 1;
      UPDATE lx.pp SET code = 'tmp' WHERE id = 1; UPDATE lx.pp SET code = 'a' WHERE id = 2; UPDATE lx.pp SET code = 'b' WHERE id = 1;
      DELETE FROM lx.t WHERE id = 4;`);
    expect(await rowsOf(dbOf('lx'), LX)).toEqual([
      'o (1,1)', 'o (2,2)', 'pk (1,1,1)', 'pk (2,2,1)', 'pk (3,3,2)', 'pp (1,1,b)', 'pp (2,1,a)', 'pp (3,2,a)', 'pp (4,2,b)',
      't (1,b,)', 't (2,a,1)', 't (3,c,2)', 'x (1,b,1)', 'x (2,a,2)', 'y (1,b,1)', 'y (2,a,2)', 'y (3,c,1)']);
    await h.roundTrip('lx');
    expect(await rowsOf(dbOf('lx-r'), LX)).toEqual(await rowsOf(dbOf('lx'), LX));
  });

  // Found: lp.c2 was attached to the partitioned lp.c with a foreign key of its own ("c2 own key", with a comment),
  // which PostgreSQL adopted as the partition's copy of lp.c's key c_p_fkey. The script lifts c_p_fkey (lp.p's codes
  // swap, lp.c is itself referenced) with ALTER TABLE lp.c DROP CONSTRAINT / ADD CONSTRAINT, which re-creates the
  // partitions' copies under the parent's name: the copy's lp.c2 holds "c_p_fkey" without comment where a and b hold
  // "c2 own key" with its comment — the rows are b's, the schema is no longer a's (a schema diff would now show it).
  // From liftedKeys/addKey (src/datadiff/script-ddl.ts): only the parent's constraint (conparentid = 0) is read and
  // re-added; the partitions' constraint names and comments are not.
  // Fixed: a partition's copy with its own name or a comment is added first (and commented), the parent's key adopts it.
  it("a partition's own foreign key (its own name, a comment) under a lifted key: the copy's keys are a's", async () => {
    await h.branch('lp', "UPDATE lp.p SET code = 'tmp' WHERE id = 1; UPDATE lp.p SET code = 'a' WHERE id = 2; UPDATE lp.p SET code = 'b' WHERE id = 1;");
    const keys = `SELECT format('%s %s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid), obj_description(oid, 'pg_constraint')) AS r
      FROM pg_constraint WHERE contype = 'f' AND connamespace = 'lp'::regnamespace ORDER BY 1`;
    const script = await h.roundTrip('lp');
    expect(script).toMatch(/DROP CONSTRAINT/);
    expect(await rowsOf(dbOf('lp-r'), keys)).toEqual(await rowsOf(dbOf('lp'), keys));
  });

  it('unique values swapped under children that follow them by ON UPDATE CASCADE and ON UPDATE SET NULL: the children end as b\'s', async () => {
    await h.branch('up', `UPDATE up.p SET code = 'tmp' WHERE id = 1; UPDATE up.p SET code = 'a' WHERE id = 2; UPDATE up.p SET code = 'b' WHERE id = 1;
      UPDATE up.p SET code = 'z' WHERE id = 3; UPDATE up.n SET code = 'z' WHERE id = 3;`);
    const rows = "SELECT format('%s %s', t, r) AS r FROM (SELECT 'c' AS t, c::text AS r FROM up.c UNION ALL SELECT 'n', n::text FROM up.n UNION ALL SELECT 'p', p::text FROM up.p) x ORDER BY 1";
    expect(await rowsOf(dbOf('up'), rows)).toEqual(['c (1,b)', 'c (2,a)', 'c (3,z)', 'n (1,)', 'n (2,)', 'n (3,z)', 'p (1,b)', 'p (2,a)', 'p (3,z)']);
    await h.roundTrip('up');
    expect(await rowsOf(dbOf('up-r'), rows)).toEqual(await rowsOf(dbOf('up'), rows));
  });

  it('ranges swapped under an exclusion constraint, with and without a child acting on deletes', async () => {
    await h.branch('ex', `UPDATE ex.t SET r = 'empty' WHERE id = 1; UPDATE ex.t SET r = '[1,5)' WHERE id = 2; UPDATE ex.t SET r = '[5,10)' WHERE id = 1;
      UPDATE ex.u SET r = 'empty' WHERE id = 1; UPDATE ex.u SET r = '[1,5)' WHERE id = 2; UPDATE ex.u SET r = '[5,10)' WHERE id = 1;`);
    await h.roundTrip('ex');
    expect(await rowsOf(dbOf('ex-r'), 'SELECT c::text AS r FROM ex.c ORDER BY id')).toEqual(['(1,1)', '(2,2)']);
  });

  // Found: ng.p has a NOT VALID foreign key of its own (a row violates it), so the script updates its changed rows in
  // place (an INSERT would be checked against the key); two rows swap a unique code, and the one UPDATE … FROM
  // (VALUES …) that writes both fails: 23505 duplicate key value violates unique constraint "p_code_key" (a unique
  // index is checked row by row). stashPlan skips tables with notValidReferences, so the lift does not apply either.
  // From together()/stashPlan (src/datadiff/sql.ts): the in-place path of a table with a NOT VALID key has no answer to
  // a value two rows swap (the next test: the same with nothing pointing at the table).
  // Fixed: such a table's own NOT VALID keys are lifted too (added again NOT VALID), its changed rows deleted and inserted again.
  it('unique codes swapped on a parent with a NOT VALID key of its own (rows violating it) and a referenced child acting on its deletes', async () => {
    await h.branch('ng', "UPDATE ng.p SET code = 'tmp' WHERE id = 1; UPDATE ng.p SET code = 'a' WHERE id = 2; UPDATE ng.p SET code = 'b' WHERE id = 1;");
    await h.roundTrip('ng');
    expect(await rowsOf(dbOf('ng-r'), "SELECT format('%s %s', 'c', c) AS r FROM ng.c UNION ALL SELECT format('%s %s', 'g', g) FROM ng.g ORDER BY 1"))
      .toEqual(['c (1,1)', 'c (2,2)', 'g (1,1)', 'g (2,2)']);
  });

  // Found: the same without any child: ng.q (id, code UNIQUE, r) with a NOT VALID key q_r and a row violating it, b
  // swapped two codes; the script writes "ng.q: foreign keys point at these tables … 2 row(s) updated in place (a
  // foreign key acts on its deletes)" (nothing points at ng.q) as one UPDATE, which fails with 23505 on q_code_key.
  // Also ng.s, the same with a plain child acting on its deletes (set aside): its rows deleted and inserted again were
  // checked against its NOT VALID key (23503 on the row violating it) before that key was lifted too.
  it('unique codes swapped on a table with a NOT VALID key of its own (rows violating it), nothing pointing at it, or a plain child acting on its deletes', async () => {
    await h.branch('ngq', `UPDATE ng.q SET code = 'tmp' WHERE id = 1; UPDATE ng.q SET code = 'a' WHERE id = 2; UPDATE ng.q SET code = 'b' WHERE id = 1;
      UPDATE ng.s SET code = 'tmp' WHERE id = 1; UPDATE ng.s SET code = 'a' WHERE id = 2; UPDATE ng.s SET code = 'b' WHERE id = 1;`);
    await h.roundTrip('ngq');
    // The key lifted around the rows is back as it was: its name, NOT VALID (the row violating it is still there).
    const keys = `SELECT format('%s %s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid), convalidated) AS r
      FROM pg_constraint WHERE contype = 'f' AND connamespace = 'ng'::regnamespace ORDER BY 1`;
    expect(await rowsOf(dbOf('ngq-r'), keys)).toEqual(await rowsOf(dbOf('ngq'), keys));
    expect(await rowsOf(dbOf('ngq-r'), "SELECT format('q %s', q) AS r FROM ng.q UNION ALL SELECT format('s %s', s) FROM ng.s UNION ALL SELECT format('sc %s', sc) FROM ng.sc ORDER BY 1"))
      .toEqual(['q (1,b,1)', 'q (2,a,77)', 's (1,b,1)', 's (2,a,77)', 'sc (1,1)', 'sc (2,2)']);
  });

  it('event triggers (a DDL guard, sql_drop ALWAYS, table_rewrite REPLICA, odd names) are held off and come back in their modes; none logs', async () => {
    await h.branch('evt', "UPDATE ev.t SET v = 'B' WHERE id = 2;");
    const script = await h.roundTrip('evt');
    expect(script).toMatch(/ALTER EVENT TRIGGER "Guard ""x"" é" DISABLE/);
    const modes = "SELECT format('%s %s', evtname, evtenabled) AS r FROM pg_event_trigger ORDER BY 1";
    expect(await rowsOf(dbOf('evt-r'), modes)).toEqual(await rowsOf('app', modes));
    expect(await rowsOf(dbOf('evt-r'), 'SELECT l::text AS r FROM ev.log l')).toEqual([]);
  });

  // Found (not the script: branch creation): ev.any_drop, an sql_drop event trigger ENABLE ALWAYS (as replication-aware
  // audits are), logs in the new branch's database 22 objects of ayb's own control table (public._ayb_branches, its
  // indexes, constraints, defaults, toast, row type), which the copy drops: the branch's ev.create_log holds 22 rows
  // main does not, so a branch is not main's rows the moment it is made (and its data diff counts them). The DDL
  // guard (ENABLE, origin) did not stop it. Suspected: the DROP TABLE IF EXISTS of excludeTables in the copy
  // (src/clone/clone.ts, ~line 164) run with user event triggers live. Fixed: that DROP runs with the copy's event triggers held off (withoutEventTriggers).
  it('a branch just made holds main\'s rows: an ALWAYS sql_drop event trigger logs nothing of ayb\'s own in it', async () => {
    await h.branch('evlog');
    expect(await rowsOf(dbOf('evlog'), 'SELECT what AS r FROM ev.create_log ORDER BY 1')).toEqual([]);
  });

  // Holding an event trigger off takes a superuser; a table's owner who may apply the script otherwise
  // (disable its triggers, write its rows) was refused at the first ALTER EVENT TRIGGER. For another
  // role the script leaves the event triggers on (the DDL guard lets this session's DDL through).
  it('applied by the table\'s owner, not a superuser: the event triggers stay on, the script applies and the rows are b\'s', async () => {
    await cluster.query("CREATE ROLE ev_owner LOGIN PASSWORD 'ev-pw'", [], 'postgres');
    await h.branch('evo', "UPDATE ev.t SET v = 'O' WHERE id = 1;");
    const script = await h.roundTrip('evo', {
      replayChanges: 'SET app.ddl_ok = on; GRANT USAGE ON SCHEMA ev TO ev_owner; ALTER TABLE ev.t OWNER TO ev_owner;',
      applyEnv: { PGUSER: 'ev_owner', PGPASSWORD: 'ev-pw', PGOPTIONS: '-c app.ddl_ok=on' },
    });
    expect(script).toMatch(/IF \(SELECT r\.rolsuper .*EXECUTE 'ALTER EVENT TRIGGER "Guard ""x"" é" DISABLE'/);
  });

  it('an event trigger the branch created (absent from a) does not break the script', async () => {
    await h.branch('evt2', `SET app.ddl_ok = on; CREATE EVENT TRIGGER "new one" ON ddl_command_end EXECUTE FUNCTION ev.rewrite();
      UPDATE ev.t SET v = 'C' WHERE id = 1;`);
    await h.roundTrip('evt2');
  });

  it('b\'s search_path with "$user", a quoted and a missing schema, public shadowing = on text and text[] and unnest(text[]): the script applies exactly', async () => {
    await h.branch('sp', `UPDATE sp.k SET tags = '{c}', n = 10 WHERE code = 'x'; DELETE FROM sp.k WHERE code = 'y'; INSERT INTO sp.k VALUES ('w', '{d,e}', 4);
      DELETE FROM sp.nokey WHERE ctid = (SELECT min(ctid) FROM sp.nokey WHERE v = 'x'); DELETE FROM sp.nokey WHERE v IS NULL; INSERT INTO sp.nokey VALUES ('q', '{q}');`);
    const script = await h.roundTrip('sp');
    expect(script).toMatch(/SET LOCAL search_path = "pg_catalog", "\$user", "My Sch", "nosuch", "public";/);
  });

  it('rows over the piece size (1 Mi characters) with multibyte characters at the cuts, a wide bytea and a wide array, in a table with and without a key', async () => {
    await h.branch('wide', `UPDATE wd.t SET v = repeat('é€😀x', 262145) || 'end', b = decode(repeat('00ff5c27', 300000), 'hex'), a = array_fill('€'::text, ARRAY[300000]) WHERE id = 1;
      INSERT INTO wd.t VALUES (3, 'x' || repeat('😀', 1048577), NULL, NULL);
      INSERT INTO wd.nokey VALUES (repeat('''é', 700000), ARRAY[repeat('€', 1048576), 'b']), (repeat('''é', 700000), ARRAY[repeat('€', 1048576), 'b']);`);
    await h.roundTrip('wide');
  });

  it('a SQL_ASCII database: unique byte values swapped under lifted keys, bytes in a composite key, arrays and json, a backslash and digits, a wide row of escapes', async () => {
    await cluster.query("CREATE DATABASE legacy ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0", [], 'postgres');
    await runPsql(cluster, 'legacy', { sql: String.raw`
      CREATE TYPE pair AS (a text, b int);
      CREATE TABLE p (id int PRIMARY KEY, code text NOT NULL UNIQUE);
      CREATE TABLE c (id int PRIMARY KEY, p int REFERENCES p ON DELETE CASCADE, v text);
      CREATE TABLE g (id int PRIMARY KEY, c int REFERENCES c ON DELETE SET NULL);
      CREATE TABLE ck (k pair PRIMARY KEY, a text[], j json, w text);
      INSERT INTO p VALUES (1, E'caf\xe9'), (2, E'caf\xe8'), (3, 'a\351');
      INSERT INTO c VALUES (1, 1, E'\xe9'), (2, 2, 'x'), (3, 3, 'a\\351');
      INSERT INTO g VALUES (1, 1), (2, 2);
      INSERT INTO ck VALUES (ROW(E'k\xe9', 1), ARRAY[E'\xe9', 'a\351'], E'{"\xe9": "\\u00e9"}', 'w'), (ROW('k\351', 2), NULL, NULL, NULL);` });
    const env = { AYB_DATABASE_URL: cluster.url('legacy') };
    for (const name of ['lg', 'lg-r']) {
      const made = await runCli(['branch', 'create', name, '--strategy', 'template'], { env });
      expect(made.exitCode, made.stderr).toBe(0);
    }
    await runPsql(cluster, dbOf('lg'), { sql: String.raw`
      UPDATE p SET code = 'tmp' WHERE id = 1; UPDATE p SET code = E'caf\xe9' WHERE id = 2; UPDATE p SET code = E'caf\xe8' WHERE id = 1;
      UPDATE p SET code = 'a\352' WHERE id = 3; UPDATE c SET v = E'\xe8\\' WHERE id = 1;
      UPDATE ck SET a = ARRAY[E'\xe8', NULL, 'b\\052'], j = E'{"\xe8": 1}', w = repeat(E'\xe9\\1', 700000) WHERE k = ROW(E'k\xe9', 1)::pair;
      DELETE FROM ck WHERE k = ROW('k\351', 2)::pair; INSERT INTO ck VALUES (ROW(E'k\xe8\\', 3), ARRAY[E'\xff'], NULL, E'\xe9');` });
    const sql = await runCli(['branch', 'diff', 'main', 'lg', '--data', '--output', 'sql'], { env });
    expect(sql.exitCode, sql.stderr).toBe(0);
    expect(sql.stdout).toMatch(/ALTER TABLE public\.c DROP CONSTRAINT/);
    // Independent judge: each table's rows as the md5 of their bytes, ordered by their bytes.
    const bytes = async (db: string) => Promise.all(['p', 'c', 'g', 'ck'].map(async (t) => (await cluster.query<{ r: string | null }>(
      `SELECT string_agg(md5(convert_to(x::text, 'SQL_ASCII')), ',' ORDER BY convert_to(x::text, 'SQL_ASCII')) AS r FROM ${t} x`, [], db)).rows[0]!.r));
    const [before, want] = await Promise.all([bytes(dbOf('lg-r')), bytes(dbOf('lg'))]);
    expect(before).not.toEqual(want);
    await runPsql(cluster, dbOf('lg-r'), { sql: sql.stdout });
    expect(await bytes(dbOf('lg-r'))).toEqual(want);
  });
});
