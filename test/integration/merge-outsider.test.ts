import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAyb } from '../../src/lib/index.js';
import { runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { runPsql } from '../helpers/pagila.js';

/**
 * Issue 25, an outsider's attack on the set-based merge: schemas of its own, each merged result
 * judged against a target built independently (the schema, then the branch's SQL, then main's, in a
 * fresh database) by fingerprints of ordered rows, or against hand-computed rows. Never ayb's diff.
 */
// The cases are independent (each its own databases and branch; none changes a role or anything
// else the cluster shares), so a few run at a time.
describe.concurrent('ayb branch merge: an outsider attack', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startTestCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const psql = (database: string, sql: string) => runPsql(cluster, database, { sql });
  const rows = async (database: string, table: string) =>
    (await cluster.query<{ t: string }>(`SELECT t::text AS t FROM ${table} t ORDER BY t::text`, [], database)).rows.map((r) => r.t);

  /**
   * SCHEMA on main; a branch; BRANCH on the branch and MAIN on main; the merge. The expected target
   * is SCHEMA + BRANCH + MAIN run in a copy of main made before ayb touched it (CREATE DATABASE …
   * TEMPLATE: the scenarios' changes commute). The branch is made through ayb's library, in this
   * process (set-up: what is checked is the merge, run as the CLI a user runs), and the three
   * databases get their SQL side by side.
   */
  const mergeAndJudge = async (name: string, sql: { schema: string; branch: string; main?: string }, expectedExit = 0) => {
    await cluster.createDatabase(name);
    await psql(name, sql.schema);
    const expected = `${name}_expected`;
    if (expectedExit === 0) {
      await cluster.query(`DROP DATABASE IF EXISTS ${expected} WITH (FORCE)`, [], 'postgres');
      await cluster.query(`CREATE DATABASE ${expected} TEMPLATE ${name}`, [], 'postgres');
    }
    const env = { AYB_DATABASE_URL: cluster.url(name), AYB_LOCK_TIMEOUT: '5s' };
    const ayb = (...args: string[]) => runCli(args, { env });
    const library = await openAyb({ databaseUrl: env.AYB_DATABASE_URL, env: { AYB_LOCK_TIMEOUT: env.AYB_LOCK_TIMEOUT }, cwd: os.tmpdir() });
    const created = await library.create(name, { keepBase: true });
    expect(created.name).toBe(name);
    await Promise.all([
      psql(`ayb_branch_${name}`, sql.branch),
      sql.main ? psql(name, sql.main) : undefined,
      expectedExit === 0 ? (async () => {
        await psql(expected, sql.branch);
        if (sql.main) await psql(expected, sql.main);
      })() : undefined,
    ]);
    const before = await fingerprint(cluster, name);
    const merged = await ayb('branch', 'merge', name, '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(expectedExit);
    const got = await fingerprint(cluster, name);
    if (expectedExit === 0) expect(got.tables).toEqual((await fingerprint(cluster, expected)).tables);
    else expect(got).toEqual(before);
    return { merged, ayb };
  };

  it('values of many types round-trip exactly through the staging table (inserts and updates)', async () => {
    await mergeAndJudge('o_types', {
      schema: `
        CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
        CREATE DOMAIN posint AS int CHECK (VALUE > 0);
        CREATE TYPE pair AS (a int, b text);
        CREATE TABLE t (id int PRIMARY KEY, f8 float8, f4 real, n numeric, by bytea, ts timestamp, tz timestamptz, d date,
          iv interval, j json, jb jsonb, arr text[], iarr int[][], m money, bits bit varying(16), r int4range, tr tstzrange,
          x xml, u uuid, e mood, dom posint, c pair, tx text, inet_ inet, pt point);
        INSERT INTO t (id, f8, tx) VALUES (1, 1, 'one'), (2, 2, 'two');
      `,
      branch: `
        SET extra_float_digits = 0;
        INSERT INTO t VALUES
          (3, 0.1 + 0.2, 3.4028235e38, 'NaN', '\\x00ff5c22', '2024-02-29 23:59:59.999999', '2024-01-01 00:00:00.000001+05:30', 'infinity',
           '1 year 2 mons -3 days 04:05:06.000007', '{"a": [1, 2.50, "x\\u0000y"], "a": 2}', '{"k": "v\\\\", "n": 1.0}',
           ARRAY['a,b', NULL, 'NULL', '"q"', '', 'back\\slash'], '{{1,2},{3,NULL}}', '12.34', B'1010', '[1,5)', '[2024-01-01,infinity)',
           '<a b="1">t&amp;</a>', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'happy', 7, ROW(1, 'x,"y"'), repeat('long ', 200000) || E'\\ttab\\nline',
           '::ffff:1.2.3.4/128', '(1.5,-0)'),
          (4, '-0', 'NaN', '-0.000', '', '-infinity', 'infinity', '-infinity', '0', 'null', '[]', '{}', '{}', '-0', B'', 'empty', 'empty',
           '', '00000000-0000-0000-0000-000000000000', 'sad', 1, ROW(NULL, NULL), '', '0.0.0.0/0', '(0,0)'),
          (5, 1.7976931348623157e308, '-Infinity', 1e-40, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
        UPDATE t SET f8 = 4.9e-324, n = 123456789012345678901234567890.123456789, tx = E'quote '' " \\\\ \\u00e9 \\U0001F600' WHERE id = 1;
        UPDATE t SET f8 = 'Infinity', tx = NULL WHERE id = 2;
      `,
    });
  });

  it('quoted names, a non-public schema and a search_path trap', async () => {
    await mergeAndJudge('o_names', {
      schema: `
        CREATE SCHEMA "Odd Schema";
        CREATE TABLE "Odd Schema"."Ta""ble" ("Id" int PRIMARY KEY, "Mixed Case" text, "with space" int, "quo""te" text, "select" int);
        CREATE TABLE "Odd Schema".child (id int PRIMARY KEY, "Parent" int REFERENCES "Odd Schema"."Ta""ble" ON DELETE CASCADE);
        -- A trap: a public table of the same name with other columns, found first by an unqualified name.
        CREATE TABLE public."Ta""ble" (x int);
        INSERT INTO "Odd Schema"."Ta""ble" VALUES (1, 'a', 1, 'q', 1), (2, 'b', 2, 'r', 2), (3, 'c', 3, 's', 3);
        INSERT INTO "Odd Schema".child VALUES (10, 1), (30, 3);
      `,
      branch: `
        UPDATE "Odd Schema"."Ta""ble" SET "Mixed Case" = 'A!', "quo""te" = NULL WHERE "Id" = 1;
        DELETE FROM "Odd Schema"."Ta""ble" WHERE "Id" = 2;
        INSERT INTO "Odd Schema"."Ta""ble" VALUES (4, 'd', 4, 't', 4);
        INSERT INTO "Odd Schema".child VALUES (40, 4);
      `,
      main: `UPDATE "Odd Schema"."Ta""ble" SET "with space" = 33 WHERE "Id" = 3; UPDATE "Odd Schema"."Ta""ble" SET "select" = 11 WHERE "Id" = 1;`,
    });
  });

  it('cell-wise: one side sets a cell NULL, the other another column of the row; an explicit NULL where a default exists', async () => {
    await mergeAndJudge('o_nulls', {
      schema: `
        CREATE TABLE t (id int PRIMARY KEY, a text, b text, c int DEFAULT 5);
        INSERT INTO t VALUES (1, 'a1', 'b1', 1), (2, 'a2', 'b2', 2), (3, 'a3', 'b3', 3);
      `,
      branch: `
        UPDATE t SET a = NULL WHERE id = 1;
        UPDATE t SET a = NULL, c = NULL WHERE id = 3;
        INSERT INTO t VALUES (4, 'a4', NULL, NULL);
      `,
      main: `UPDATE t SET b = 'main' WHERE id = 1; UPDATE t SET b = NULL WHERE id = 2; UPDATE t SET a = NULL WHERE id = 3;`,
    });
  });

  it('the branch moves a row to a new key keeping its unique value', async () => {
    await mergeAndJudge('o_rekey', {
      schema: `
        CREATE TABLE u (id int PRIMARY KEY, email text UNIQUE, name text);
        INSERT INTO u VALUES (1, 'a@x', 'A'), (2, 'b@x', 'B');
      `,
      branch: `UPDATE u SET id = 100 WHERE id = 1;`,
      main: `UPDATE u SET name = 'B main' WHERE id = 2;`,
    });
  });

  it('the branch deletes a row and adds another with its unique value', async () => {
    await mergeAndJudge('o_reuse', {
      schema: `
        CREATE TABLE u (id int PRIMARY KEY, email text UNIQUE, name text);
        INSERT INTO u VALUES (1, 'a@x', 'A'), (2, 'b@x', 'B');
      `,
      branch: `DELETE FROM u WHERE id = 1; INSERT INTO u VALUES (3, 'a@x', 'A again');`,
    });
  });

  it('a unique value rotated across three rows (a cycle), one row also changed by main in another column', async () => {
    await mergeAndJudge('o_cycle3', {
      schema: `
        CREATE TABLE u (id int PRIMARY KEY, slot int UNIQUE, note text);
        INSERT INTO u VALUES (1, 1, 'n1'), (2, 2, 'n2'), (3, 3, 'n3'), (4, 4, 'n4');
      `,
      branch: `UPDATE u SET slot = -slot WHERE id <= 3; UPDATE u SET slot = 2 WHERE id = 1; UPDATE u SET slot = 3 WHERE id = 2; UPDATE u SET slot = 1 WHERE id = 3;`,
      main: `UPDATE u SET note = 'main' WHERE id = 2;`,
    });
  });

  // Was a defect: a table that a foreign key with an ON DELETE action references could not take the swap
  // path (deleting and inserting the rows again ran the action on the children), and an in-place UPDATE
  // of a swap fails a non-deferrable unique index: a false merge_constraint_conflict (exit 4). The acting
  // keys are now lifted around the statement (merge-stage.ts liftedKeys).
  it('a unique swap on a table that a foreign key with ON DELETE CASCADE references (children keep their rows)', async () => {
    await mergeAndJudge('o_swapfk', {
      schema: `
        CREATE TABLE p (id int PRIMARY KEY, code text UNIQUE);
        CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p ON DELETE CASCADE);
        INSERT INTO p VALUES (1, 'x'), (2, 'y');
        INSERT INTO c VALUES (10, 1), (20, 2);
      `,
      branch: `UPDATE p SET code = 'tmp' WHERE id = 1; UPDATE p SET code = 'x' WHERE id = 2; UPDATE p SET code = 'y' WHERE id = 1;`,
    });
  });

  it('generated (STORED) and identity (GENERATED ALWAYS) columns', async () => {
    const { ayb } = await mergeAndJudge('o_gen', {
      schema: `
        CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, price numeric, qty int, total numeric GENERATED ALWAYS AS (price * qty) STORED);
        INSERT INTO t (price, qty) VALUES (1.5, 2), (2, 3);
      `,
      branch: `INSERT INTO t (price, qty) VALUES (10, 10), (0.1, 3); UPDATE t SET qty = 7 WHERE id = 1;`,
      main: `UPDATE t SET price = 9 WHERE id = 2;`,
    });
    // Hand-computed: the identity continues after the branch's rows.
    expect(await rows('o_gen', 't')).toEqual(['(1,1.5,7,10.5)', '(2,9,3,27)', '(3,10,10,100)', '(4,0.1,3,0.3)']);
    await psql('o_gen', 'INSERT INTO t (price, qty) VALUES (1, 1)');
    expect((await cluster.query<{ m: number }>('SELECT max(id) AS m FROM t', [], 'o_gen')).rows[0]!.m).toBe(5);
    void ayb;
  });

  it('triggers of the target (BEFORE changing NEW, AFTER writing an audit table) do not fire twice', async () => {
    await mergeAndJudge('o_trig', {
      schema: `
        CREATE TABLE audit (id serial PRIMARY KEY, what text);
        CREATE TABLE t (id int PRIMARY KEY, name text);
        CREATE FUNCTION up() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.name := upper(NEW.name) || '!'; RETURN NEW; END $$;
        CREATE FUNCTION aud() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit (what) VALUES (TG_OP || ':' || coalesce(NEW.id, OLD.id)); RETURN NULL; END $$;
        CREATE TRIGGER t_up BEFORE INSERT OR UPDATE ON t FOR EACH ROW EXECUTE FUNCTION up();
        CREATE TRIGGER t_aud AFTER INSERT OR UPDATE OR DELETE ON t FOR EACH ROW EXECUTE FUNCTION aud();
        INSERT INTO t VALUES (1, 'a'), (2, 'b');
      `,
      branch: `INSERT INTO t VALUES (3, 'c'); UPDATE t SET name = 'z' WHERE id = 1; DELETE FROM t WHERE id = 2;`,
    });
  });

  it('ON DELETE SET NULL onto a row the target changed is a conflict (exit 4, nothing applied)', async () => {
    await mergeAndJudge('o_setnull', {
      schema: `
        CREATE TABLE p (id int PRIMARY KEY);
        CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p ON DELETE SET NULL, note text);
        INSERT INTO p VALUES (1), (2); INSERT INTO c VALUES (10, 1, 'n');
      `,
      branch: `DELETE FROM p WHERE id = 1;`,
      main: `UPDATE c SET note = 'main' WHERE id = 10; INSERT INTO c VALUES (11, 1, 'new');`,
    }, 4);
  });

  it('a row the branch deleted and inserted again with the same key merges as its new values', async () => {
    await mergeAndJudge('o_reinsert', {
      schema: `
        CREATE TABLE t (id int PRIMARY KEY, a text, b text);
        INSERT INTO t VALUES (1, 'a', 'b'), (2, 'a2', 'b2');
      `,
      branch: `DELETE FROM t WHERE id = 1; INSERT INTO t VALUES (1, 'A', 'b');`,
      main: `UPDATE t SET b = 'main' WHERE id = 1;`,
    });
  });

  it('a partitioned table: the branch moves a row to another partition', async () => {
    await mergeAndJudge('o_part', {
      schema: `
        CREATE TABLE m (region text, id int, v int, PRIMARY KEY (region, id)) PARTITION BY LIST (region);
        CREATE TABLE m_eu PARTITION OF m FOR VALUES IN ('eu');
        CREATE TABLE m_us PARTITION OF m FOR VALUES IN ('us');
        INSERT INTO m VALUES ('eu', 1, 1), ('eu', 2, 2), ('us', 3, 3);
      `,
      branch: `UPDATE m SET region = 'us' WHERE id = 1; UPDATE m SET v = 20 WHERE id = 2;`,
      main: `UPDATE m SET v = 30 WHERE id = 3;`,
    });
  });

  it('a text key under a nondeterministic (case-insensitive) collation', async () => {
    await mergeAndJudge('o_coll', {
      schema: `
        CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
        CREATE TABLE t (k text COLLATE ci PRIMARY KEY, v int);
        INSERT INTO t VALUES ('Apple', 1), ('berry', 2);
      `,
      branch: `UPDATE t SET v = 10 WHERE k = 'apple'; INSERT INTO t VALUES ('Cherry', 3);`,
      main: `UPDATE t SET v = 20 WHERE k = 'BERRY';`,
    });
  });

  it('a unique swap on a table with a column named like the swap step\'s own columns ("ayb v", "ayb m")', async () => {
    await mergeAndJudge('o_swapname', {
      schema: `
        CREATE TABLE u (id int PRIMARY KEY, slot int UNIQUE, "ayb v" text, "ayb m" text, d int);
        INSERT INTO u VALUES (1, 1, 'v1', 'm1', 1), (2, 2, 'v2', 'm2', 2);
      `,
      branch: `UPDATE u SET slot = 3 WHERE id = 1; UPDATE u SET slot = 1, "ayb v" = 'V2' WHERE id = 2; UPDATE u SET slot = 2 WHERE id = 1;`,
      main: `UPDATE u SET "ayb m" = 'main' WHERE id = 1;`,
    });
  });

  it('a swap under a DEFERRABLE unique constraint merges (checked at commit)', async () => {
    await mergeAndJudge('o_defer', {
      schema: `
        CREATE TABLE u (id int PRIMARY KEY, slot int, UNIQUE (slot) DEFERRABLE INITIALLY IMMEDIATE);
        CREATE TABLE c (id int PRIMARY KEY, u_id int REFERENCES u ON DELETE CASCADE);
        INSERT INTO u VALUES (1, 1), (2, 2); INSERT INTO c VALUES (10, 1), (20, 2);
      `,
      branch: `BEGIN; SET CONSTRAINTS ALL DEFERRED; UPDATE u SET slot = 3 - slot; COMMIT;`,
    });
  });

  it('a dry run (also one that stops on a conflict) changes nothing on the target, sequences included', async () => {
    await cluster.createDatabase('o_dry');
    await psql('o_dry', `
      CREATE SEQUENCE counter START 1000;
      CREATE TABLE t (id int PRIMARY KEY, v int);
      INSERT INTO t SELECT i, i FROM generate_series(1, 50) i;
    `);
    const env = { AYB_DATABASE_URL: cluster.url('o_dry'), AYB_LOCK_TIMEOUT: '5s' };
    const ayb = (...args: string[]) => runCli(args, { env });
    expect((await ayb('branch', 'create', 'dry', '--keep-base')).exitCode).toBe(0);
    await psql('ayb_branch_dry', `ALTER TABLE t ADD COLUMN n bigint NOT NULL DEFAULT nextval('counter'); UPDATE t SET v = -v WHERE id <= 10; INSERT INTO t (id, v) VALUES (100, 100);`);
    const before = await fingerprint(cluster, 'o_dry');
    const dry = await ayb('branch', 'merge', 'dry', '--dry-run', '--json');
    expect(dry.exitCode, dry.stdout + dry.stderr).toBe(0);
    expect(await fingerprint(cluster, 'o_dry')).toEqual(before);
    await psql('o_dry', 'UPDATE t SET v = 7 WHERE id = 1');
    const changed = await fingerprint(cluster, 'o_dry');
    const refused = await ayb('branch', 'merge', 'dry', '--json');
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(4);
    expect(await fingerprint(cluster, 'o_dry')).toEqual(changed);
  });

  // Found by the attacker: the rows of a table that INHERITS from another were read again as the parent's
  // own (`FROM t`, not `FROM ONLY t`), so sub's new row was also inserted into base. Fixed in the data diff's
  // reads and writes (`ONLY`), which merge goes through.
  it('inheritance: rows of a child table are not merged again into its parent', async () => {
    await mergeAndJudge('o_inherit', {
      schema: `
        CREATE TABLE base (id int PRIMARY KEY, v int);
        CREATE TABLE sub (extra text, PRIMARY KEY (id)) INHERITS (base);
        INSERT INTO base VALUES (1, 1), (2, 2); INSERT INTO sub VALUES (10, 10, 'x'), (11, 11, 'y');
      `,
      branch: `INSERT INTO sub VALUES (12, 12, 'z'); UPDATE sub SET v = 100 WHERE id = 10; DELETE FROM sub WHERE id = 11; UPDATE ONLY base SET v = 20 WHERE id = 2;`,
      main: `UPDATE ONLY base SET v = 9 WHERE id = 1;`,
    });
    // Hand-computed, each table on its own (ONLY).
    expect(await rows('o_inherit', 'ONLY base')).toEqual(['(1,9)', '(2,20)']);
    expect(await rows('o_inherit', 'sub')).toEqual(['(10,100,x)', '(12,12,z)']);
  });

  it('keys of float8, timestamptz, numeric and char(n) match their rows exactly', async () => {
    await mergeAndJudge('o_keys', {
      schema: `
        CREATE TABLE f (k float8 PRIMARY KEY, v int);
        CREATE TABLE ts (k timestamptz PRIMARY KEY, v int);
        CREATE TABLE n (k numeric PRIMARY KEY, v int);
        CREATE TABLE c (k char(6) PRIMARY KEY, v int);
        INSERT INTO f VALUES (0.1 + 0.2, 1), (1e-310, 2), (1.7976931348623157e308, 3), ('-0', 4);
        INSERT INTO ts VALUES ('2024-01-01 00:00:00.000001+00', 1), ('2024-06-30 12:34:56.789012+14', 2), ('infinity', 3);
        INSERT INTO n VALUES (1.50, 1), (123456789012345678901234567890.000000000001, 2), ('NaN', 3);
        INSERT INTO c VALUES ('a', 1), ('b  ', 2);
      `,
      branch: `UPDATE f SET v = v * 10; UPDATE ts SET v = v * 10; UPDATE n SET v = v * 10; UPDATE c SET v = v * 10;
               DELETE FROM f WHERE k = 1e-310; DELETE FROM n WHERE k = 'NaN';`,
    });
  });

  it('a key update that cascades (ON UPDATE/DELETE CASCADE) onto a child the target added for the old key is a conflict', async () => {
    await mergeAndJudge('o_rekeyfk', {
      schema: `
        CREATE TABLE p (id int PRIMARY KEY, name text);
        CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p ON UPDATE CASCADE ON DELETE CASCADE);
        INSERT INTO p VALUES (1, 'one'), (2, 'two'); INSERT INTO c VALUES (10, 1);
      `,
      branch: `UPDATE p SET id = 100 WHERE id = 1;`,
      main: `INSERT INTO c VALUES (11, 1);`,
    }, 4);
  });
});
