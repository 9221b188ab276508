import { readFile, writeFile, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { mergeHarness } from '../helpers/merge-scenario.js';

/**
 * Issue 25, an outsider's third pass: the three-way comparison of keyed tables on the target's server
 * (rows staged with COPY as text, compared as text), tables the branch created copied server to
 * server, and the statements around the apply. Each scenario is a database of its own; every expected
 * result is written here by hand, or built by applying the same changes by hand to a copy and compared
 * by fingerprints of ordered rows, never read through ayb.
 */
describe.concurrent('ayb branch merge: an outsider on the server-side three-way merge', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  const { scenario, rows, psql } = mergeHarness(() => cluster);
  type Plan = { tables: { table: string; inserted: number; updated: number; deleted: number; conflicts: number; merged_by: string }[]; conflicts: { table: string; key: Record<string, string>; columns: string[] }[] };

  /** A database's rows of `table` as row text, read in a session with fixed settings (whatever the database sets). */
  const pinnedRows = async (database: string, table: string) => {
    const { conn } = cluster;
    const client = new pg.Client({ host: conn.host, port: conn.port, user: conn.user, password: conn.password, database });
    await client.connect();
    try {
      await client.query(`SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET extra_float_digits = 3; SET IntervalStyle = 'postgres'; SET bytea_output = 'hex'`);
      return (await client.query<{ t: string }>(`SELECT t::text AS t FROM ${table} t ORDER BY t::text COLLATE "C"`)).rows.map((r) => r.t);
    } finally {
      await client.end();
    }
  };

  it('an ALWAYS and a REPLICA trigger on a merged table keep their modes (the merge holds user triggers off around its DML)', async () => {
    const ayb = await scenario('o3_trig', `
      CREATE TABLE t (id int PRIMARY KEY, v text);
      CREATE TABLE log (msg text);
      CREATE FUNCTION note() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO log VALUES (TG_NAME); RETURN NEW; END $$;
      CREATE TRIGGER t_always AFTER UPDATE ON t FOR EACH ROW EXECUTE FUNCTION note();
      CREATE TRIGGER t_replica AFTER UPDATE ON t FOR EACH ROW EXECUTE FUNCTION note();
      CREATE TRIGGER t_origin AFTER UPDATE ON t FOR EACH ROW EXECUTE FUNCTION note();
      ALTER TABLE t ENABLE ALWAYS TRIGGER t_always;
      ALTER TABLE t ENABLE REPLICA TRIGGER t_replica;
      INSERT INTO t VALUES (1, 'a'), (2, 'b');
    `);
    const modes = `SELECT tgname || '=' || tgenabled::text AS t FROM pg_trigger WHERE tgrelid = 'public.t'::regclass ORDER BY tgname`;
    const read = async () => (await cluster.query<{ t: string }>(modes, [], 'o3_trig')).rows.map((r) => r.t);
    expect(await read()).toEqual(['t_always=A', 't_origin=O', 't_replica=R']);
    await ayb.branch('o3t');
    await psql('ayb_branch_o3t', `UPDATE t SET v = 'theirs' WHERE id = 1;`);
    const merged = await ayb('branch', 'merge', 'o3t', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('o3_trig', 't')).toEqual(['(1,theirs)', '(2,b)']);
    // By hand: the modes as they were (a bare ENABLE TRIGGER makes both ordinary 'O' triggers).
    expect(await read()).toEqual(['t_always=A', 't_origin=O', 't_replica=R']);
  });

  // FAILS today: exit 0, "No data differences", the branch's delete dropped silently and main's row
  // ('(1.00,main)') kept. The server path matches the target's row by the key's text as well as its
  // equality (ho): a row whose key text main rewrote counts as absent there, and a delete of a row the
  // target lacks is nothing. Expected: main changed the row (its note) and the branch deleted it, a
  // conflict (exit 4), nothing applied.
  it('a numeric key whose text main rewrote (1.0 -> 1.00, same key) and whose other column main changed, while the branch deleted the row: a conflict, not a silently dropped delete', async () => {
    const ayb = await scenario('o3_numdel', `
      CREATE TABLE t (id numeric PRIMARY KEY, note text);
      INSERT INTO t VALUES (1.0, 'base'), (2, 'two');
    `);
    await ayb.branch('o3nd');
    await psql('ayb_branch_o3nd', `DELETE FROM t WHERE id = 1;`);
    await psql('o3_numdel', `UPDATE t SET id = 1.00, note = 'main' WHERE id = 1;`);
    const before = await fingerprint(cluster, 'o3_numdel');
    const merged = await ayb('branch', 'merge', 'o3nd', '--json');
    // By hand: main changed the row's note, the branch deleted the row: delete against change, a conflict.
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(4);
    expect(await fingerprint(cluster, 'o3_numdel')).toEqual(before);
  });

  // FAILS today at --strategy theirs: both adds are not seen as one key (the target's row is matched
  // by key text too), so the branch's row is planned as an insert and the apply hits t_pkey: exit 4
  // merge_constraint_conflict even under --strategy theirs, which cannot settle it, and the conflicts
  // list is empty (no base/ours/theirs to resolve). Expected: a row conflict on key 5, which
  // --strategy theirs settles with the branch's row.
  it('a numeric key both sides added, equal keys with different text (5.0 and 5.00) and different rows: a conflict (exit 4), not a raw unique violation', async () => {
    const ayb = await scenario('o3_numadd', `
      CREATE TABLE t (id numeric PRIMARY KEY, note text);
      INSERT INTO t VALUES (1, 'one');
    `);
    await ayb.branch('o3na');
    await psql('ayb_branch_o3na', `INSERT INTO t VALUES (5.0, 'theirs');`);
    await psql('o3_numadd', `INSERT INTO t VALUES (5.00, 'ours');`);
    const before = await fingerprint(cluster, 'o3_numadd');
    const merged = await ayb('branch', 'merge', 'o3na', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(4);
    expect(await fingerprint(cluster, 'o3_numadd')).toEqual(before);
    // Settled theirs: the branch's row replaces main's (one row of key 5).
    const theirs = await ayb('branch', 'merge', 'o3na', '--strategy', 'theirs', '--json');
    expect(theirs.exitCode, theirs.stdout + theirs.stderr).toBe(0);
    expect(await rows('o3_numadd', 't')).toEqual(['(1,one)', '(5.0,theirs)']);
  });

  // FAILS today, as the numeric case: exit 4 merge_constraint_conflict (t_pkey) even under
  // --strategy theirs. Expected: a row conflict on key abc, settled theirs with the branch's row.
  it('a citext key both sides added (abc / ABC) with different rows: a conflict, not a raw unique violation', async () => {
    const ayb = await scenario('o3_citext', `
      CREATE EXTENSION citext;
      CREATE TABLE t (k citext PRIMARY KEY, note text);
      INSERT INTO t VALUES ('x', 'one');
    `);
    await ayb.branch('o3ci');
    await psql('ayb_branch_o3ci', `INSERT INTO t VALUES ('abc', 'theirs');`);
    await psql('o3_citext', `INSERT INTO t VALUES ('ABC', 'ours');`);
    const before = await fingerprint(cluster, 'o3_citext');
    const merged = await ayb('branch', 'merge', 'o3ci', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(4);
    expect(await fingerprint(cluster, 'o3_citext')).toEqual(before);
    const theirs = await ayb('branch', 'merge', 'o3ci', '--strategy', 'theirs', '--json');
    expect(theirs.exitCode, theirs.stdout + theirs.stderr).toBe(0);
    expect(await rows('o3_citext', 't')).toEqual(['(abc,theirs)', '(x,one)']);
  });

  // Values whose text is tricky through COPY's text format and arrays of text, compared as text on the
  // server: both sides change different columns of the same rows (cell-wise), the databases set a
  // foreign TimeZone, DateStyle and IntervalStyle. The expected rows: the same changes applied by hand
  // to a copy built from the same SQL.
  it('tricky values (numeric scale, -0, NaN, timestamptz under a foreign TimeZone, intervals, arrays of composites, domains, enums, bytea, json/jsonb, tabs, newlines, backslashes, \\., NULL vs empty) merged cell-wise by the server', async () => {
    const setup = `
      CREATE TYPE pair AS (a text, b int);
      CREATE TYPE mood AS ENUM ('sad', 'ok');
      CREATE DOMAIN pos AS int CHECK (VALUE > 0);
      CREATE TABLE t (id int PRIMARY KEY, n numeric, f float8, ts timestamptz, iv interval, ps pair[], d pos, m mood, b bytea, j json, jb jsonb, s text, w text);
      INSERT INTO t SELECT g, 1.5, 0, '2024-01-01 00:00:00+00', '1 day', ARRAY[ROW('x', 1)::pair], 1, 'ok', '\\x00', '{"a":1}', '{"a":1}', 'base', 'base' FROM generate_series(1, 12) g;`;
    const theirsSql = `
      UPDATE t SET n = 1.50 WHERE id = 1;
      UPDATE t SET f = '-0' WHERE id = 2;
      UPDATE t SET f = 'NaN' WHERE id = 3;
      UPDATE t SET ts = '2024-03-31 02:30:00 Europe/Berlin' WHERE id = 4;
      UPDATE t SET iv = '24 hours' WHERE id = 5;
      UPDATE t SET ps = ARRAY[ROW('a"b,c\\d', NULL)::pair, ROW(NULL, 2)::pair, ROW('', 3)::pair] WHERE id = 6;
      UPDATE t SET d = 7, m = 'sad' WHERE id = 7;
      UPDATE t SET b = '\\x5c2e0a09000d' WHERE id = 8;
      UPDATE t SET j = '{"a" : 1,  "a": 2}', jb = '{"b": [1, 2.50]}' WHERE id = 9;
      UPDATE t SET s = E'tab\\there\\nnew\\\\line\\n\\\\.\\nend' WHERE id = 10;
      UPDATE t SET s = '' WHERE id = 11;
      UPDATE t SET s = NULL WHERE id = 12;
      UPDATE t SET s = 'NULL' WHERE id = 1;
      UPDATE t SET s = '{"NULL",NULL}' WHERE id = 2;`;
    const oursSql = `UPDATE t SET w = 'main' WHERE id % 2 = 0; UPDATE t SET w = NULL WHERE id % 2 = 1;`;
    // (DateStyle left alone: see the next case.)
    const foreign = (db: string) => `ALTER DATABASE ${db} SET TimeZone = 'Pacific/Chatham'; ALTER DATABASE ${db} SET IntervalStyle = 'sql_standard'; ALTER DATABASE ${db} SET extra_float_digits = -15; ALTER DATABASE ${db} SET bytea_output = 'escape';`;
    const ayb = await scenario('o3_vals', `${setup} ${foreign('o3_vals')}`);
    await ayb.branch('o3v');
    await psql('ayb_branch_o3v', `${foreign('ayb_branch_o3v')} ${theirsSql}`);
    await psql('o3_vals', oursSql);
    await cluster.createDatabase('o3_vals_judge');
    await psql('o3_vals_judge', `${setup} ${oursSql} ${theirsSql}`);
    const dry = await ayb('branch', 'merge', 'o3v', '--dry-run', '--json');
    expect(dry.exitCode, dry.stdout + dry.stderr).toBe(0);
    expect((dry.json() as Plan).tables.map((t) => [t.table, t.merged_by, t.updated, t.conflicts])).toEqual([['public.t', 'server', 12, 0]]);
    const merged = await ayb('branch', 'merge', 'o3v', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await pinnedRows('o3_vals', 't')).toEqual(await pinnedRows('o3_vals_judge', 't'));
  });

  // Found on the way (outside the merge), failed before the fix: with DateStyle 'SQL, DMY' set on main's
  // database, creating a branch failed "unexpected" (exit 1): branch-view's created_at.toISOString() on
  // null, the control table's timestamps read in a session that did not pin DateStyle (node-pg parses
  // ISO only). Every session of ayb's now starts with DateStyle and IntervalStyle pinned (client.ts).
  it('a branch of a database whose DateStyle is SQL, DMY is created (the control table read under the pinned settings)', async () => {
    const ayb = await scenario('o3_dstyle', `CREATE TABLE t (id int PRIMARY KEY); ALTER DATABASE o3_dstyle SET DateStyle = 'SQL, DMY';`);
    const created = await ayb('branch', 'create', 'o3ds', '--json');
    expect(created.exitCode, created.stdout + created.stderr).toBe(0);
  });

  it('a table the branch created (identity ALWAYS, a STORED generated column, a dropped column, a key to an old table, odd text) arrives with every row, and its identity continues after them', async () => {
    const ayb = await scenario('o3_new', `CREATE TABLE p (id int PRIMARY KEY); INSERT INTO p VALUES (1), (2);`);
    await ayb.branch('o3n');
    await psql('ayb_branch_o3n', `
      CREATE TABLE fresh (junk int, id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, p_id int REFERENCES p ON DELETE CASCADE, s text, len int GENERATED ALWAYS AS (length(s)) STORED);
      ALTER TABLE fresh DROP COLUMN junk;
      INSERT INTO fresh (p_id, s) VALUES (1, E'a\\tb'), (2, E'\\\\.'), (1, ''), (NULL, NULL), (2, E'x\\ny\\\\z');
      DELETE FROM fresh WHERE id = 3;`);
    const merged = await ayb('branch', 'merge', 'o3n', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    // By hand: the branch's rows, the generated lengths computed.
    expect(await pinnedRows('o3_new', 'fresh')).toEqual(await pinnedRows('ayb_branch_o3n', 'fresh'));
    expect((await pinnedRows('o3_new', 'fresh')).length).toBe(4);
    // The identity continues after the branch's last value (5): the next row is 6, on both.
    await psql('o3_new', `INSERT INTO fresh (p_id, s) VALUES (1, 'next');`);
    expect((await cluster.query<{ id: number }>(`SELECT max(id) AS id FROM fresh`, [], 'o3_new')).rows[0]!.id).toBe(6);
  });

  // More than one round of 50,000 keys, keys of a composite text/int key with characters array
  // literals and COPY escape; main changes another column of some of the same rows and deletes a row
  // the branch never touched. The expected database: the same changes by hand on a copy.
  it('60,010 changed rows with odd composite text keys (NULL, quotes, backslashes, braces, tabs, commas) across the 50,000-key rounds, cell-wise against main', async () => {
    const setup = `
      CREATE TABLE big (k text, n int, a int, b text, PRIMARY KEY (k, n));
      INSERT INTO big SELECT 'k', g, 0, 'base' FROM generate_series(1, 60000) g;
      INSERT INTO big SELECT x, 1, 0, 'base' FROM unnest(ARRAY['NULL', 'null', '"', '\\', '{x}', ',', E'a\\tb', E'l\\nm', ' lead', '\\.']) x;
      INSERT INTO big VALUES ('gone', 1, 0, 'base');`;
    const theirsSql = `UPDATE big SET a = n + 1 WHERE k <> 'gone';`;
    const oursSql = `UPDATE big SET b = 'main' WHERE n % 1000 = 0 OR n = 1; DELETE FROM big WHERE k = 'gone';`;
    const ayb = await scenario('o3_big', setup);
    await ayb.branch('o3b');
    await psql('ayb_branch_o3b', theirsSql);
    await psql('o3_big', oursSql);
    await cluster.createDatabase('o3_big_judge');
    await psql('o3_big_judge', `${setup} ${oursSql} ${theirsSql}`);
    const merged = await ayb('branch', 'merge', 'o3b', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect((merged.json() as Plan).tables.map((t) => [t.table, t.merged_by, t.updated, t.conflicts])).toEqual([['public.big', 'server', 60010, 0]]);
    expect((await fingerprint(cluster, 'o3_big')).tables).toEqual((await fingerprint(cluster, 'o3_big_judge')).tables);
  });

  // FAILS today: exit 4, a conflict on key abc. The server path matches the target's row by the key's
  // text as well as its equality, so the row whose citext key main rewrote (abc -> ABC, the same key)
  // counts as gone from the target, and the branch's change of another column is then a conflict.
  // Expected (cell-wise: different columns of one row): exit 0, the row (ABC, theirs).
  it('a citext key main rewrote (abc -> ABC) while the branch changed another column of that row: merged cell-wise, not a conflict', async () => {
    const ayb = await scenario('o3_cirw', `
      CREATE EXTENSION citext;
      CREATE TABLE t (k citext PRIMARY KEY, note text);
      INSERT INTO t VALUES ('abc', 'base'), ('x', 'one');
    `);
    await ayb.branch('o3cr');
    await psql('ayb_branch_o3cr', `UPDATE t SET note = 'theirs' WHERE k = 'abc';`);
    await psql('o3_cirw', `UPDATE t SET k = 'ABC' WHERE k = 'abc';`);
    const merged = await ayb('branch', 'merge', 'o3cr', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('o3_cirw', 't')).toEqual(['(ABC,theirs)', '(x,one)']);
  });

  it('columns in different orders on each side (main added y, the branch x, main dropped and re-added w: attnum gaps) and a key the branch retyped int -> bigint: merged cell-wise by name', async () => {
    const setup = `CREATE TABLE t (id int PRIMARY KEY, v text, w text); INSERT INTO t SELECT g, 'base', 'w' FROM generate_series(1, 4) g;`;
    const theirsSql = `ALTER TABLE t ALTER id TYPE bigint; ALTER TABLE t ADD COLUMN x int; UPDATE t SET v = 'theirs', x = id * 10 WHERE id IN (1, 2); INSERT INTO t (id, v, w, x) VALUES (5, 'new', 'w', 5);`;
    const oursSql = `ALTER TABLE t ADD COLUMN y text; ALTER TABLE t DROP COLUMN w; ALTER TABLE t ADD COLUMN w text; UPDATE t SET y = 'ours', w = 'w2' WHERE id IN (2, 3);`;
    const ayb = await scenario('o3_order', setup);
    await ayb.branch('o3o');
    await psql('ayb_branch_o3o', theirsSql);
    await psql('o3_order', oursSql);
    const merged = await ayb('branch', 'merge', 'o3o', '--json');
    // By hand: w is main's (dropped and re-added: NULL but for rows 2 and 3; the branch's new row
    // brings its own 'w'), the key bigint, x added after main's columns.
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    const cols = (await cluster.query<{ c: string }>(`SELECT string_agg(attname || ':' || format_type(atttypid, atttypmod), ',' ORDER BY attnum) AS c FROM pg_attribute WHERE attrelid = 'public.t'::regclass AND attnum > 0 AND NOT attisdropped`, [], 'o3_order')).rows[0]!.c;
    expect(cols).toBe('id:bigint,v:text,y:text,w:text,x:integer');
    expect(await rows('o3_order', 't')).toEqual(['(1,theirs,,,10)', '(2,theirs,ours,w2,20)', '(3,base,ours,w2,)', '(4,base,,,)', '(5,new,,w,5)']);
  });

  // FAILS today: exit 5, raw "PostgreSQL error 22003: value "5000000000" is out of range for type
  // integer". The branch retyped its key int -> bigint and added a row beyond int's range; the plan
  // reads the target's rows with the key cast to the target's type before the migration. Expected (by
  // hand): the key retyped bigint and the row added, exit 0.
  it('a key the branch retyped int -> bigint with a new row beyond int: merged, not a raw 22003', async () => {
    const ayb = await scenario('o3_bigkey', `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'base');`);
    await ayb.branch('o3k');
    await psql('ayb_branch_o3k', `ALTER TABLE t ALTER id TYPE bigint; INSERT INTO t VALUES (5000000000, 'big');`);
    const merged = await ayb('branch', 'merge', 'o3k', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('o3_bigkey', 't')).toEqual(['(1,base)', '(5000000000,big)']);
  });

  // A dry run of a merge that adds a serial column, an enum value, a table, a row changed cell-wise,
  // cascades, and a conflict settled theirs: nothing of the target moves, not a row's xmin or ctid,
  // not a sequence (the judge: the server's own row versions and fingerprints taken before).
  it('a dry run (with a serial column added, an enum value added and used, cascades, a conflict settled theirs) changes nothing: rows, their versions, sequences', async () => {
    const ayb = await scenario('o3_dry', `
      CREATE TYPE mood AS ENUM ('sad', 'ok');
      CREATE TABLE p (id int PRIMARY KEY, m mood, note text);
      CREATE TABLE c (id serial PRIMARY KEY, p_id int REFERENCES p ON DELETE SET NULL ON UPDATE CASCADE, note text);
      INSERT INTO p SELECT g, 'ok', 'base' FROM generate_series(1, 5) g;
      INSERT INTO c (p_id, note) SELECT g, 'base' FROM generate_series(1, 5) g;
    `);
    await ayb.branch('o3d');
    await psql('ayb_branch_o3d', `ALTER TYPE mood ADD VALUE 'glad';`);
    await psql('ayb_branch_o3d', `
      ALTER TABLE p ADD COLUMN seq serial;
      UPDATE p SET m = 'glad' WHERE id = 1; UPDATE p SET note = 'theirs' WHERE id IN (2, 3);
      DELETE FROM p WHERE id = 4; CREATE TABLE fresh AS SELECT g AS id FROM generate_series(1, 3) g;`);
    await psql('o3_dry', `UPDATE p SET note = 'ours' WHERE id = 3; INSERT INTO c (p_id, note) VALUES (5, 'main'); UPDATE p SET note = 'main' WHERE id = 1;`);
    const versions = async () => (await cluster.query<{ t: string }>(
      `SELECT string_agg(x, ' ' ORDER BY x) AS t FROM (SELECT 'p' || ctid::text || xmin::text AS x FROM p UNION ALL SELECT 'c' || ctid::text || xmin::text FROM c) v`, [], 'o3_dry')).rows[0]!.t;
    const before = await fingerprint(cluster, 'o3_dry');
    const seqBefore = (await cluster.query<{ t: string }>(`SELECT last_value::text || is_called::text AS t FROM c_id_seq`, [], 'o3_dry')).rows[0]!.t;
    const v0 = await versions();
    for (const args of [['--dry-run'], ['--dry-run', '--strategy', 'theirs']]) {
      const dry = await ayb('branch', 'merge', 'o3d', '--json', ...args);
      expect([0, 4], dry.stdout + dry.stderr).toContain(dry.exitCode);
    }
    expect(await fingerprint(cluster, 'o3_dry')).toEqual(before);
    expect(await versions()).toBe(v0);
    expect((await cluster.query<{ t: string }>(`SELECT last_value::text || is_called::text AS t FROM c_id_seq`, [], 'o3_dry')).rows[0]!.t).toBe(seqBefore);
    expect((await cluster.query<{ n: string }>(`SELECT count(*)::text AS n FROM pg_enum WHERE enumlabel = 'glad'`, [], 'o3_dry')).rows[0]!.n).toBe('0');
    // Then the merge itself, settled theirs; by hand: p 1 glad with main's note (cell-wise), p 3
    // theirs, p 4 gone with c 4's parent set NULL, main's c 6 kept, fresh brought, seq numbered.
    const merged = await ayb('branch', 'merge', 'o3d', '--json', '--strategy', 'theirs');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('o3_dry', 'p')).toEqual(['(1,glad,main,1)', '(2,ok,theirs,2)', '(3,ok,theirs,3)', '(5,ok,base,5)']);
    expect(await rows('o3_dry', 'c')).toEqual(['(1,1,base)', '(2,2,base)', '(3,3,base)', '(4,,base)', '(5,5,base)', '(6,5,main)']);
    expect(await rows('o3_dry', 'fresh')).toEqual(['(1)', '(2)', '(3)']);
  });

  // A writer on main holds row 2 (updated, not committed) while the merge applies; it commits once the
  // merge's session waits on it (seen in pg_stat_activity). Main's committed value must not be lost:
  // whatever the merge's exit, row 2 holds main's value unless listed as a conflict the merge settled.
  it('a write on main committed while the merge waits on its row lock: main\'s value not overwritten silently', async () => {
    const ayb = await scenario('o3_conc', `CREATE TABLE t (id int PRIMARY KEY, note text); INSERT INTO t SELECT g, 'base' FROM generate_series(1, 3) g;`);
    await ayb.branch('o3c');
    await psql('ayb_branch_o3c', `UPDATE t SET note = 'theirs' WHERE id IN (1, 2);`);
    const { conn } = cluster;
    const writer = new pg.Client({ host: conn.host, port: conn.port, user: conn.user, password: conn.password, database: 'o3_conc' });
    await writer.connect();
    try {
      await writer.query(`BEGIN; UPDATE t SET note = 'concurrent' WHERE id = 2`);
      const pid = (await writer.query<{ p: number }>('SELECT pg_backend_pid() AS p')).rows[0]!.p;
      const merging = ayb('branch', 'merge', 'o3c', '--json');
      let done = false;
      void merging.then(() => { done = true; });
      // Wait (by observation) until some session is blocked behind the writer, or the merge ended.
      for (;;) {
        const { rows: blocked } = await cluster.query<{ n: string }>(`SELECT count(*)::text AS n FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))`, [pid], 'o3_conc');
        if (blocked[0]!.n !== '0' || done) break;
        await new Promise((r) => setImmediate(r));
      }
      await writer.query('COMMIT');
      const merged = await merging;
      const after = await rows('o3_conc', 't');
      if (merged.exitCode === 0) {
        const conflicts = (merged.json() as Plan).conflicts;
        // Applied with no conflict listed: main's committed change of row 2 must still be there.
        expect(conflicts, merged.stdout).toEqual([]);
        expect(after).toEqual(['(1,theirs)', '(2,concurrent)', '(3,base)']);
      } else {
        // Refused: nothing applied, main's write kept.
        expect(after, merged.stdout + merged.stderr).toEqual(['(1,base)', '(2,concurrent)', '(3,base)']);
      }
    } finally {
      await writer.end();
    }
  });

  // Cell-wise conflicts resolved row by row through --conflicts: ours, theirs, and an object of values
  // holding a tab, a newline, a backslash and a null; a column only the branch changed in a conflicting
  // row still merges. Expected rows by hand.
  it('--conflicts file: resolutions ours, theirs and an object (tab, newline, backslash, null) on cell-wise conflicts', async () => {
    const ayb = await scenario('o3_res', `CREATE TABLE t (id int PRIMARY KEY, a text, b text, c int); INSERT INTO t SELECT g, 'a', 'b', 1 FROM generate_series(1, 4) g;`);
    await ayb.branch('o3r');
    await psql('ayb_branch_o3r', `UPDATE t SET a = 't1' WHERE id = 1; UPDATE t SET a = 't2', b = 't2', c = 20 WHERE id = 2; UPDATE t SET b = 't3' WHERE id = 3; UPDATE t SET c = 40 WHERE id = 4;`);
    await psql('o3_res', `UPDATE t SET a = 'o1' WHERE id = 1; UPDATE t SET a = 'o2', b = 'o2' WHERE id = 2; UPDATE t SET b = 'o3' WHERE id = 3; UPDATE t SET a = 'o4' WHERE id = 4;`);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'o3-res-'));
    const file = path.join(dir, 'conflicts.json');
    const before = await fingerprint(cluster, 'o3_res');
    const first = await ayb('branch', 'merge', 'o3r', '--conflicts', file);
    expect(first.exitCode, first.stdout + first.stderr).toBe(4);
    expect(await fingerprint(cluster, 'o3_res')).toEqual(before);
    const doc = JSON.parse(await readFile(file, 'utf8')) as { conflicts: { key: Record<string, string>; resolution: unknown }[] };
    expect(doc.conflicts.map((c) => Object.values(c.key)[0]).sort()).toEqual(['1', '2', '3']);
    for (const c of doc.conflicts) {
      const id = String(Object.values(c.key)[0]);
      c.resolution = id === '1' ? 'ours' : id === '3' ? 'theirs' : { a: 'x\ty\nz\\', b: null };
    }
    await writeFile(file, JSON.stringify(doc));
    const second = await ayb('branch', 'merge', 'o3r', '--conflicts', file);
    expect(second.exitCode, second.stdout + second.stderr).toBe(0);
    const got = (await cluster.query<{ id: number; a: string | null; b: string | null; c: number }>(`SELECT id, a, b, c FROM t ORDER BY id`, [], 'o3_res')).rows;
    expect(got).toEqual([
      { id: 1, a: 'o1', b: 'b', c: 1 },
      { id: 2, a: 'x\ty\nz\\', b: null, c: 20 },
      { id: 3, a: 'a', b: 't3', c: 1 },
      { id: 4, a: 'o4', b: 'b', c: 40 },
    ]);
  });

  // An identity ALWAYS key on an old table (rows inserted on both sides), a STORED generated column
  // main added, a CHECK main added that one of the branch's rows breaks (refused, nothing applied),
  // then that row fixed on the branch: merged, the generated column computed from the merged values.
  it('identity ALWAYS rows added on both sides, a generated column and a CHECK main added: refused whole, then merged with the generated values by hand', async () => {
    const ayb = await scenario('o3_ident', `CREATE TABLE t (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, a int, s text); INSERT INTO t (a, s) VALUES (1, 'x'), (2, 'y');`);
    await ayb.branch('o3i');
    await psql('ayb_branch_o3i', `INSERT INTO t (id, a, s) OVERRIDING SYSTEM VALUE VALUES (10, 10, 'theirs'); UPDATE t SET a = -5 WHERE id = 1;`);
    await psql('o3_ident', `ALTER TABLE t ADD COLUMN g int GENERATED ALWAYS AS (a * 2) STORED; ALTER TABLE t ADD CONSTRAINT a_pos CHECK (a > 0); INSERT INTO t (a, s) VALUES (3, 'ours'); UPDATE t SET s = 'main' WHERE id = 1;`);
    const before = await fingerprint(cluster, 'o3_ident');
    const refused = await ayb('branch', 'merge', 'o3i', '--json');
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(4);
    expect(refused.stdout + refused.stderr).toContain('a_pos');
    expect(await fingerprint(cluster, 'o3_ident')).toEqual(before);
    await psql('ayb_branch_o3i', `UPDATE t SET a = 5 WHERE id = 1;`);
    const merged = await ayb('branch', 'merge', 'o3i', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('o3_ident', 't')).toEqual(['(1,5,main,10)', '(10,10,theirs,20)', '(2,2,y,4)', '(3,3,ours,6)']);
    // The identity: main's position (3) kept, not moved back to the branch's (2; its row 10 came with
    // OVERRIDING SYSTEM VALUE and moved no sequence): the next row is 4, as on main before the merge.
    await psql('o3_ident', `INSERT INTO t (a, s) VALUES (7, 'next');`);
    expect((await cluster.query<{ id: number }>(`SELECT id FROM t WHERE s = 'next'`, [], 'o3_ident')).rows[0]!.id).toBe(4);
  });
});
