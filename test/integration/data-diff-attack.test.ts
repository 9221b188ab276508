import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestCluster } from '../helpers/cluster.js';
import { type DataDiffHarness, dbOf, startDataDiff } from '../helpers/data-diff-round-trip.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { holdGate, waitUntil } from '../helpers/gate.js';

/**
 * Issue 24, from the outside: schemas a user really has (triggers, generated and identity columns,
 * domains, row-level security, partitions with a default partition, odd names, extension types as
 * keys, foreign-key chains and cycles, values at the edges of their types) changed on a branch; the
 * DML `ayb branch diff --data --output sql` prints from main to it, applied to a fresh copy of main
 * under foreign session settings, must make the copy's rows the branch's. Judged by fingerprints of
 * ordered rows (test/helpers/fingerprint.ts), never by ayb's own view.
 */
const MAIN_SQL = `
  CREATE EXTENSION ltree;
  CREATE EXTENSION citext;

  -- Triggers that rewrite rows and write audit rows; identity GENERATED ALWAYS; a partitioned table
  -- with a default partition and a trigger on the parent.
  CREATE SCHEMA trg;
  CREATE TABLE trg.audit (n int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, what text NOT NULL);
  CREATE FUNCTION trg.rewrite() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.v := upper(NEW.v) || ' (rewritten)'; RETURN NEW; END $$;
  CREATE FUNCTION trg.log() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO trg.audit (what) VALUES (TG_OP || ' ' || TG_TABLE_NAME); RETURN NULL; END $$;
  CREATE TABLE trg.t (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text, len int GENERATED ALWAYS AS (length(v)) STORED);
  CREATE TRIGGER a_rewrite BEFORE INSERT OR UPDATE ON trg.t FOR EACH ROW EXECUTE FUNCTION trg.rewrite();
  CREATE TRIGGER b_log AFTER INSERT OR UPDATE OR DELETE ON trg.t FOR EACH ROW EXECUTE FUNCTION trg.log();
  INSERT INTO trg.t (v) VALUES ('one'), ('two'), ('three');
  CREATE TABLE trg.ev (id int NOT NULL, region text NOT NULL, v text, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
  CREATE TABLE trg.ev_eu PARTITION OF trg.ev FOR VALUES IN ('eu');
  CREATE TABLE trg.ev_rest PARTITION OF trg.ev DEFAULT;
  CREATE TRIGGER c_rewrite BEFORE INSERT OR UPDATE ON trg.ev FOR EACH ROW EXECUTE FUNCTION trg.rewrite();
  CREATE TRIGGER d_log AFTER INSERT OR UPDATE OR DELETE ON trg.ev FOR EACH ROW EXECUTE FUNCTION trg.log();
  INSERT INTO trg.ev VALUES (1, 'eu', 'a'), (2, 'us', 'b'), (3, 'eu', 'c');
  TRUNCATE trg.audit;

  -- Odd names, a domain with a check, row-level security forced on the owner, hundreds of columns.
  CREATE SCHEMA "Odd schema ""q"" é";
  CREATE DOMAIN "Odd schema ""q"" é".positive AS numeric CHECK (VALUE > 0);
  CREATE TABLE "Odd schema ""q"" é"."Table ""One"" ü" ("Id" text COLLATE "C" PRIMARY KEY, "a b" "Odd schema ""q"" é".positive, "ünï" text, "ayb lo" int);
  INSERT INTO "Odd schema ""q"" é"."Table ""One"" ü" VALUES ('A', 1, 'x', 1), ('a', 2, 'y', 2), ('b c', 3, 'z', 3);
  ALTER TABLE "Odd schema ""q"" é"."Table ""One"" ü" ENABLE ROW LEVEL SECURITY;
  ALTER TABLE "Odd schema ""q"" é"."Table ""One"" ü" FORCE ROW LEVEL SECURITY;
  CREATE POLICY only_a ON "Odd schema ""q"" é"."Table ""One"" ü" USING ("Id" = 'A');
  CREATE TABLE "Odd schema ""q"" é".ranged (id int PRIMARY KEY, "ayb lo" int, "ayb n" int, "ayb range" int);
  INSERT INTO "Odd schema ""q"" é".ranged SELECT i, i, i, i FROM generate_series(1, 20) i;
  DO $$ BEGIN EXECUTE 'CREATE TABLE "Odd schema ""q"" é".wide (id int PRIMARY KEY, ' || (SELECT string_agg(format('c%s text', i), ', ') FROM generate_series(1, 400) i) || ')'; END $$;
  INSERT INTO "Odd schema ""q"" é".wide (id, c1, c400) VALUES (1, 'first', 'last'), (2, 'x', 'y');

  -- Keys of extension types, whose equality operators live outside pg_catalog.
  CREATE SCHEMA ext;
  CREATE TABLE ext.path (p ltree PRIMARY KEY, v text);
  INSERT INTO ext.path VALUES ('top.a', 'a'), ('top.b', 'b'), ('top.c', 'c');
  CREATE TABLE ext.ci (email citext PRIMARY KEY, v text);
  INSERT INTO ext.ci VALUES ('Ann@x', 'a'), ('bob@x', 'b');

  -- Values at the edges of their types, keyed and not.
  CREATE SCHEMA vals;
  CREATE TYPE vals.pair AS (n numeric, label text);
  CREATE TABLE vals.v (id uuid PRIMARY KEY, n numeric, f float8, ts timestamp, tstz timestamptz, d date, j json, jb jsonb, b bytea, big text, pairs vals.pair[]);
  INSERT INTO vals.v VALUES ('00000000-0000-0000-0000-000000000001', 1, 1, now(), now(), current_date, '{}', '{}', '\\x00', 'small', ARRAY[ROW(1, 'a')::vals.pair]);
  CREATE TABLE vals.bag (n numeric, f float8, label text, j json);
  INSERT INTO vals.bag VALUES (1, 1, 'dup', '{}'), (1, 1, 'dup', '{}'), (NULL, NULL, NULL, NULL);
  CREATE TABLE vals.nothing ();
  INSERT INTO vals.nothing DEFAULT VALUES;
  CREATE TABLE vals.nullable_unique (code text UNIQUE, v int);
  INSERT INTO vals.nullable_unique VALUES (NULL, 1), (NULL, 1), ('a', 2);

  -- Foreign keys across three levels, with and without cascades.
  CREATE SCHEMA fk;
  CREATE TABLE fk.g (id int PRIMARY KEY);
  CREATE TABLE fk.p (id int PRIMARY KEY, g int NOT NULL REFERENCES fk.g);
  CREATE TABLE fk.c (id int PRIMARY KEY, p int NOT NULL REFERENCES fk.p);
  INSERT INTO fk.g VALUES (1), (2);
  INSERT INTO fk.p VALUES (10, 1), (20, 2);
  INSERT INTO fk.c VALUES (100, 10), (200, 20);
  CREATE TABLE fk.gc (id int PRIMARY KEY);
  CREATE TABLE fk.pc (id int PRIMARY KEY, g int NOT NULL REFERENCES fk.gc ON DELETE CASCADE);
  CREATE TABLE fk.cc (id int PRIMARY KEY, p int NOT NULL REFERENCES fk.pc ON DELETE CASCADE);
  INSERT INTO fk.gc VALUES (1), (2);
  INSERT INTO fk.pc VALUES (10, 1), (20, 2);
  INSERT INTO fk.cc VALUES (100, 10), (200, 20);
  CREATE TABLE fk.pu (id int PRIMARY KEY, code text UNIQUE NOT NULL);
  CREATE TABLE fk.cu (id int PRIMARY KEY, p int NOT NULL REFERENCES fk.pu ON DELETE CASCADE ON UPDATE CASCADE);
  INSERT INTO fk.pu VALUES (1, 'A'), (2, 'B');
  INSERT INTO fk.cu VALUES (10, 1), (20, 2);

  -- A table its owner (not a superuser) sees only part of: row-level security forced on the owner.
  CREATE ROLE app_owner LOGIN PASSWORD 'owner-pw';
  CREATE SCHEMA rls AUTHORIZATION app_owner;
  CREATE TABLE rls.t (id int PRIMARY KEY, v text);
  ALTER TABLE rls.t OWNER TO app_owner;
  INSERT INTO rls.t VALUES (1, 'a'), (20, 'hidden from its owner');
  ALTER TABLE rls.t ENABLE ROW LEVEL SECURITY;
  ALTER TABLE rls.t FORCE ROW LEVEL SECURITY;
  CREATE POLICY small ON rls.t USING (id < 10);

  -- Gates for the snapshot test.
  CREATE SCHEMA gate;
  CREATE TABLE gate.t1 (id int PRIMARY KEY);
  CREATE TABLE gate.t2 (id int PRIMARY KEY);
  INSERT INTO gate.t1 VALUES (1);
  INSERT INTO gate.t2 VALUES (1);

  -- A unique value swapped between two rows of a referenced table; a cycle of foreign keys.
  CREATE SCHEMA swap;
  CREATE TABLE swap.parent (id int PRIMARY KEY, code text UNIQUE NOT NULL);
  CREATE TABLE swap.child (id int PRIMARY KEY, parent int NOT NULL REFERENCES swap.parent);
  INSERT INTO swap.parent VALUES (1, 'A'), (2, 'B');
  INSERT INTO swap.child VALUES (1, 1), (2, 2);
  CREATE TABLE swap.emp (id int PRIMARY KEY, dept int NOT NULL);
  CREATE TABLE swap.dept (id int PRIMARY KEY, head int NOT NULL REFERENCES swap.emp);
  INSERT INTO swap.emp VALUES (1, 1);
  INSERT INTO swap.dept VALUES (1, 1);
  ALTER TABLE swap.emp ADD CONSTRAINT emp_dept_fkey FOREIGN KEY (dept) REFERENCES swap.dept;
  CREATE TABLE swap.deferrable_parent (id int PRIMARY KEY, code text NOT NULL, CONSTRAINT code_unique UNIQUE (code) DEFERRABLE);
  CREATE TABLE swap.deferrable_child (id int PRIMARY KEY, parent int NOT NULL REFERENCES swap.deferrable_parent);
  INSERT INTO swap.deferrable_parent VALUES (1, 'A'), (2, 'B');
  INSERT INTO swap.deferrable_child VALUES (1, 1);
`;

const FOREIGN_SETTINGS = [
  "DateStyle = 'SQL, DMY'",
  "TimeZone = 'Pacific/Chatham'",
  "IntervalStyle = 'sql_standard'",
  'extra_float_digits = -2',
  "bytea_output = 'escape'",
  'standard_conforming_strings = off',
  "search_path = 'vals, ext, public'",
];
const OTHER_FOREIGN_SETTINGS = [
  "DateStyle = 'German, MDY'",
  "TimeZone = 'America/St_Johns'",
  "IntervalStyle = 'iso_8601'",
  'extra_float_digits = 0',
  "search_path = 'trg, fk'",
];

describe('ayb branch diff --data --output sql, attacked with the schemas users have', () => {
  let cluster: TestCluster;
  let h: DataDiffHarness;
  const ayb = (...args: string[]) => h.ayb(...args);
  const branch = (name: string, changes?: string) => h.branch(name, changes);
  /** Applies a script with psql, in an applying session of its own (extra libpq environment allowed). */
  const apply = (db: string, sql: string, extraEnv?: Record<string, string>) => h.apply(db, sql, extraEnv);

  /** The round trip (test/helpers/data-diff-round-trip.ts) from a branch of main with `changes`: main's copy + ayb's DML equals the branch, by fingerprints. */
  async function roundTrip(name: string, changes: string, options: { applyEnv?: Record<string, string> } = {}): Promise<string> {
    await branch(name, changes);
    return h.roundTrip(name, { applyEnv: options.applyEnv });
  }

  beforeAll(async () => {
    ({ cluster, h } = await startDataDiff(MAIN_SQL, { foreign: FOREIGN_SETTINGS, otherForeign: OTHER_FOREIGN_SETTINGS }));
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('holds off triggers that rewrite rows and write audit rows, on plain and partitioned tables, rows moving into and out of the default partition', async () => {
    await roundTrip('triggers', `
      INSERT INTO trg.t (v) VALUES ('four');
      UPDATE trg.t SET v = 'TWO changed' WHERE id = 2;
      DELETE FROM trg.t WHERE id = 3;
      UPDATE trg.ev SET region = 'us' WHERE id = 1;
      UPDATE trg.ev SET region = 'eu' WHERE id = 2;
      INSERT INTO trg.ev VALUES (4, 'jp', 'new');
    `);
  });

  it('writes odd names, domains, forced row-level security, columns named like its own aliases and 400 columns', async () => {
    await roundTrip('odd', `
      UPDATE "Odd schema ""q"" é"."Table ""One"" ü" SET "a b" = 7, "ünï" = 'ünï ''"' WHERE "Id" = 'a';
      DELETE FROM "Odd schema ""q"" é"."Table ""One"" ü" WHERE "Id" = 'A';
      INSERT INTO "Odd schema ""q"" é"."Table ""One"" ü" VALUES ('Z "z"', 9, NULL, 4);
      UPDATE "Odd schema ""q"" é".ranged SET "ayb n" = -1 WHERE id = 5;
      UPDATE "Odd schema ""q"" é".wide SET c399 = 'changed' WHERE id = 2;
      INSERT INTO "Odd schema ""q"" é".wide (id, c200) VALUES (3, 'mid');
    `);
  });

  it("matches and writes keys of extension types (ltree, citext) whose equality is not pg_catalog's", async () => {
    await roundTrip('ext', `
      UPDATE ext.path SET v = 'B' WHERE p = 'top.b';
      DELETE FROM ext.path WHERE p = 'top.c';
      INSERT INTO ext.path VALUES ('top.d.e', 'e');
      UPDATE ext.ci SET v = 'B' WHERE email = 'bob@x';
      DELETE FROM ext.ci WHERE email = 'ann@x';
      INSERT INTO ext.ci VALUES ('Cy@x', 'c');
    `);
  });

  it('writes values at the edges of their types: NaN, Infinity, -0, infinite timestamps, unicode escapes in json, bytea, TOAST, arrays of composites, duplicates and NULLs', async () => {
    await roundTrip('edges', `
      UPDATE vals.v SET n = 'NaN', f = '-0', ts = 'infinity', tstz = '-infinity', d = 'infinity', j = '{"a": "\\u00e9\\u0000x", "a": 2}', jb = '{"k": "\\ud83d\\ude00"}',
        b = '\\x00ff5c27', big = repeat('toast é ', 200000), pairs = ARRAY[ROW('Infinity', 'x"y'), ROW(NULL, NULL), NULL]::vals.pair[];
      INSERT INTO vals.v (id, n, f, big) VALUES ('00000000-0000-0000-0000-000000000002', '-Infinity', '-Infinity', E'tab\\there \\\\ back');
      INSERT INTO vals.bag VALUES (1, 1, 'dup', '{}'), ('NaN', '-0', 'new', '{"u": "\\u00e9"}'), (NULL, NULL, NULL, NULL);
      DELETE FROM vals.bag WHERE label IS NULL;
      INSERT INTO vals.nullable_unique VALUES (NULL, 1);
      UPDATE vals.nullable_unique SET v = 3 WHERE code = 'a';
    `);
  });

  it('compares and writes a table without columns', async () => {
    await roundTrip('no-columns', 'INSERT INTO vals.nothing DEFAULT VALUES; INSERT INTO vals.nothing DEFAULT VALUES;');
    await roundTrip('no-columns-less', 'DELETE FROM vals.nothing;');
  });

  it('applies in a session whose client encoding is not UTF8', async () => {
    await roundTrip('encoding', `
      UPDATE vals.v SET big = 'é ü' WHERE id = '00000000-0000-0000-0000-000000000001';
    `, { applyEnv: { PGCLIENTENCODING: 'LATIN1' } });
  });

  it('moves a row of a referenced table to another parent before that parent is deleted', async () => {
    await roundTrip('chain', `
      UPDATE fk.p SET g = 2 WHERE id = 10;
      DELETE FROM fk.g WHERE id = 1;
    `);
  });

  it('moves a row of a referenced table to another parent before that parent is deleted, with ON DELETE CASCADE', async () => {
    await roundTrip('chain-cascade', `
      UPDATE fk.pc SET g = 2 WHERE id = 10;
      DELETE FROM fk.gc WHERE id = 1;
    `);
  });

  it('changes a primary key and reuses a deleted row\'s unique value in a table whose foreign keys cascade deletes and updates', async () => {
    await roundTrip('cascades', `
      UPDATE fk.pu SET id = 100 WHERE id = 1;
      DELETE FROM fk.pu WHERE id = 2;
      INSERT INTO fk.pu VALUES (3, 'B');
      INSERT INTO fk.cu VALUES (30, 3);
    `);
  });

  it('applies a deferrable unique value swapped between rows of a referenced table', async () => {
    await roundTrip('swap-deferrable', `
      BEGIN; SET CONSTRAINTS ALL DEFERRED;
      UPDATE swap.deferrable_parent SET code = CASE id WHEN 1 THEN 'B' ELSE 'A' END;
      COMMIT;
    `);
  });

  it('applies a unique value swapped between rows of a referenced table', async () => {
    await roundTrip('swap', `
      UPDATE swap.parent SET code = 'tmp' WHERE id = 1; UPDATE swap.parent SET code = 'A' WHERE id = 2; UPDATE swap.parent SET code = 'B' WHERE id = 1;
    `);
  });

  it('applies a cycle of foreign keys between tables', async () => {
    await roundTrip('cycle', `
      BEGIN;
      ALTER TABLE swap.emp DROP CONSTRAINT emp_dept_fkey;
      INSERT INTO swap.emp VALUES (2, 2);
      INSERT INTO swap.dept VALUES (2, 2);
      ALTER TABLE swap.emp ADD CONSTRAINT emp_dept_fkey FOREIGN KEY (dept) REFERENCES swap.dept;
      COMMIT;
    `);
  });

  it('--output sql holds main\'s snapshot one table at a time: a row committed on main after the first table was read is deleted by the script', async () => {
    await branch('gate-sql');
    // The branch side waits at gate.t1 until released; main reads gate.t1 meanwhile.
    const gate = await holdGate(cluster, dbOf('gate-sql'), 'gate.t1');
    const diff = ayb('branch', 'diff', 'main', 'gate-sql', '--data', '--table', 'gate.t1', '--table', 'gate.t2', '--output', 'sql');
    try {
      await waitUntil('the diff to wait at the gate', async () => {
        const { rowCount } = await cluster.query("SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' AND application_name <> 'test-gate'", [dbOf('gate-sql')], 'postgres');
        return (rowCount ?? 0) > 0 || undefined;
      });
      await cluster.query('INSERT INTO gate.t2 VALUES (2)', [], 'app');
    } finally {
      await gate.release();
    }
    const result = await diff;
    expect(result.exitCode, result.stderr).toBe(0);
    // Read in a snapshot of its own, taken after the insert, gate.t2 has a row the branch lacks.
    expect(result.stdout).toMatch(/DELETE FROM (ONLY )?"gate"\."t2"[^;]*'2'::integer/);
    await cluster.query('DELETE FROM gate.t2 WHERE id = 2', [], 'app');
  });

  it('fails loudly, rather than skipping rows, when the applying role is subject to row-level security', async () => {
    await branch('rls', "DELETE FROM rls.t WHERE id = 20; UPDATE rls.t SET v = 'b' WHERE id = 1;");
    const replay = await branch('rls-r');
    const sql = await ayb('branch', 'diff', 'main', 'rls', '--data', '--output', 'sql');
    expect(sql.exitCode, sql.stderr).toBe(0);
    // Applied by the table's owner, whose policy hides row 20: a DELETE would silently miss it.
    await expect(apply(replay, sql.stdout, { PGUSER: 'app_owner', PGPASSWORD: 'owner-pw' })).rejects.toThrow(/row-level security/);
    const [got, main] = await Promise.all([fingerprint(cluster, replay), fingerprint(cluster, 'app')]);
    expect(got.tables['rls.t']).toEqual(main.tables['rls.t']);
  });
});
