import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestCluster } from '../helpers/cluster.js';
import { type DataDiffHarness, dbOf, startDataDiff } from '../helpers/data-diff-round-trip.js';
import { holdGate, waitUntil } from '../helpers/gate.js';

/**
 * Issue 24: the data diff is exact whatever the sessions' settings, whatever the keys' shapes, and at
 * any size. Each case changes a branch of main, has ayb print the DML from main to it, applies the DML
 * to a fresh copy of main whose database carries foreign settings, and judges by fingerprints of
 * ordered rows (test/helpers/fingerprint.ts, read with the same default settings on both).
 */
const MAIN_SQL = `
  CREATE SCHEMA vals;
  CREATE TABLE vals.v (id int PRIMARY KEY, d date, ts timestamp, tstz timestamptz, iv interval, f8 float8, f4 real,
    n numeric, m money, b bytea, t text, j json, jb jsonb, x xml, arr text[], r int4range, tt timetz);
  INSERT INTO vals.v SELECT i, DATE '2024-02-01' + i, TIMESTAMP '2024-02-03 04:05:06.789012' + i * INTERVAL '1 day',
    TIMESTAMPTZ '2024-02-03 23:30:00+00' + i * INTERVAL '1 hour', make_interval(days => -i, hours => i, secs => 1.5),
    0.1 + i / 3.0, 1.1::real * i, 1.10 * i, 1234.56 * i, decode('00ff5c' || lpad(to_hex(i), 2, '0'), 'hex'),
    E'back\\\\slash ''q'' ' || i, '{"b": 1, "a": [1, 2]}', '{"b": 1, "a": [1, 2]}', ('<a x="1">' || i || '</a>')::xml,
    ARRAY['x', NULL, 'NULL', 'a"b'], int4range(i, i + 10), TIMETZ '10:00:00+05:30'
    FROM generate_series(1, 5) i;
  CREATE FUNCTION vals.scramble() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.t := 'scrambled by a trigger'; RETURN NEW; END $$;
  CREATE TRIGGER scramble BEFORE INSERT OR UPDATE ON vals.v FOR EACH ROW EXECUTE FUNCTION vals.scramble();
  CREATE TABLE vals.ev (id int, at date NOT NULL, note text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
  CREATE TABLE vals.ev_2023 PARTITION OF vals.ev FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
  CREATE TABLE vals.ev_2024 PARTITION OF vals.ev FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
  INSERT INTO vals.ev VALUES (1, '2023-03-02', 'a'), (2, '2023-12-31', 'b'), (3, '2024-02-03', 'c');

  CREATE SCHEMA keys;
  CREATE TABLE keys.t (id int PRIMARY KEY, v text);
  INSERT INTO keys.t VALUES (1, 'a'), (2, 'b'), (3, 'c');

  CREATE SCHEMA ord;
  CREATE TABLE ord.u (id int PRIMARY KEY, email text UNIQUE NOT NULL);
  INSERT INTO ord.u VALUES (1, 'one@x'), (2, 'two@x');
  CREATE TABLE ord.tree (id int PRIMARY KEY, parent int REFERENCES ord.tree);
  INSERT INTO ord.tree VALUES (1, NULL), (2, 1), (3, NULL);
  CREATE TABLE ord.s (id int PRIMARY KEY, code text UNIQUE NOT NULL);
  INSERT INTO ord.s VALUES (1, 'A'), (2, 'B'), (3, 'C');
  CREATE TABLE ord.country (id int PRIMARY KEY, name text UNIQUE NOT NULL);
  INSERT INTO ord.country VALUES (1, 'Iceland'), (2, 'Norway');
  CREATE TABLE ord.city (id int PRIMARY KEY, country int NOT NULL REFERENCES ord.country, name text UNIQUE NOT NULL);
  INSERT INTO ord.city VALUES (1, 1, 'Reykjavik'), (2, 2, 'Oslo');

  CREATE SCHEMA cols;
  CREATE TABLE cols.t (id int PRIMARY KEY, v text);
  INSERT INTO cols.t VALUES (1, 'a');

  CREATE SCHEMA gate;
  CREATE TABLE gate.t1 (id int PRIMARY KEY);
  CREATE TABLE gate.t2 (id int PRIMARY KEY);
  INSERT INTO gate.t1 VALUES (1);
  INSERT INTO gate.t2 VALUES (1);
`;

/** Settings a database may carry that change how its values read and how literals are taken. */
const FOREIGN_SETTINGS = [
  "DateStyle = 'SQL, DMY'",
  "TimeZone = 'Pacific/Chatham'",
  "IntervalStyle = 'sql_standard'",
  'extra_float_digits = -2',
  "bytea_output = 'escape'",
  'standard_conforming_strings = off',
  "search_path = 'ord, vals, public'",
];
const OTHER_FOREIGN_SETTINGS = [
  "DateStyle = 'German, MDY'",
  "TimeZone = 'America/St_Johns'",
  "IntervalStyle = 'iso_8601'",
  'extra_float_digits = 0',
  "bytea_output = 'escape'",
  "search_path = 'keys, ord'",
];

interface Change { table: string; key: string[] | null; match: string; added: number; removed: number; changed: number; only_in?: string; not_a_key_on_both?: string[] }

describe('ayb branch diff --data: exact under any settings and key shapes', () => {
  let cluster: TestCluster;
  let h: DataDiffHarness;
  const ayb = (...args: string[]) => h.ayb(...args);
  const setDatabase = (db: string, settings: readonly string[]) => h.setDatabase(db, settings);
  const branch = (name: string, changes?: string) => h.branch(name, changes);
  /** The round trip (test/helpers/data-diff-round-trip.ts); the schema migration, when the schemas differ, comes first in the copy. */
  const roundTrip = (name: string, schemaStep?: string) => h.roundTrip(name, { replayChanges: schemaStep });

  beforeAll(async () => {
    ({ cluster, h } = await startDataDiff(MAIN_SQL, { foreign: FOREIGN_SETTINGS, otherForeign: OTHER_FOREIGN_SETTINGS }));
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('finds identical rows identical when one database has its own DateStyle, TimeZone, IntervalStyle, float digits and bytea output', async () => {
    const b = await branch('same-settings');
    await setDatabase(b, FOREIGN_SETTINGS);
    const result = await ayb('branch', 'diff', 'main', 'same-settings', '--data', '--json', '--exit-code');
    expect(result.exitCode, JSON.stringify(result.json<Change[]>().filter((c) => c.added + c.removed + c.changed > 0))).toBe(0);
  });

  it('writes DML whose values mean the same in a session with other settings (dates, times, intervals, floats, money, bytea, xml)', async () => {
    await branch('settings', `
      UPDATE vals.v SET d = DATE '2024-02-03', ts = TIMESTAMP '2024-12-01 00:00:00.000001', tstz = TIMESTAMPTZ '2024-03-31 01:59:59.5+00',
        iv = INTERVAL '-1 year -2 mons +3 days -04:05:06.7', f8 = 0.1 + 0.2, f4 = 3.4028235e38, n = 1.500, m = 9.99, b = '\\x5c27', x = '<b/>' WHERE id IN (1, 2, 3, 4);
      DELETE FROM vals.v WHERE id = 5;
      INSERT INTO vals.v (id, d, tstz, iv, f8, b, arr) VALUES (6, '2024-02-03', '2024-02-03 10:00:00+13:45', '1 day -1 second', 'NaN', '\\x', '{}');
      UPDATE vals.ev SET at = '2024-03-02' WHERE id = 1;
    `);
    const sql = await roundTrip('settings');
    expect(sql).toMatch(/SET LOCAL DateStyle = 'ISO, MDY';/);
  });

  it('matches by a key only where it is unique and not null on both sides; otherwise by whole rows, and says so', async () => {
    await branch('dupes', `
      ALTER TABLE keys.t DROP CONSTRAINT t_pkey;
      INSERT INTO keys.t VALUES (1, 'x'), (2, 'y');
    `);
    const result = await ayb('branch', 'diff', 'main', 'dupes', '--data', '--table', 'keys.t', '--json');
    expect(result.exitCode, result.stderr).toBe(0);
    const [t] = result.json<Change[]>();
    expect(t).toMatchObject({ table: 'keys.t', match: 'rows', key: null, added: 2, removed: 0, changed: 0, not_a_key_on_both: ['id'] });
    const text = await ayb('branch', 'diff', 'main', 'dupes', '--data', '--table', 'keys.t');
    expect(text.stdout).toMatch(/keys\.t: .*\(id\).* not unique and not null on both sides/);
    // Matched by id, the two new rows would be UPDATEs of rows 1 and 2: applied, they would overwrite them.
    await roundTrip('dupes', 'ALTER TABLE keys.t DROP CONSTRAINT t_pkey;');
  });

  it('--exit-code fails when a table is on one side only, and says the table differs', async () => {
    await branch('tables', 'CREATE TABLE public.newt (id int); DROP TABLE cols.t;');
    const result = await ayb('branch', 'diff', 'main', 'tables', '--data', '--exit-code');
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/Only in tables \(a difference.*public\.newt/);
    const json = await ayb('branch', 'diff', 'main', 'tables', '--data', '--json');
    expect(json.json<Change[]>().filter((c) => c.only_in)).toEqual([
      expect.objectContaining({ table: 'cols.t', only_in: 'from' }),
      expect.objectContaining({ table: 'public.newt', only_in: 'to' }),
    ]);
    const sql = await ayb('branch', 'diff', 'main', 'tables', '--data', '--output', 'sql');
    expect(sql.exitCode).toBe(4);
    expect(sql.stdout).toBe('');
    expect(sql.stderr).toMatch(/schema/);
  });

  it('--output sql refuses tables whose columns differ rather than dropping columns silently', async () => {
    await branch('columns', 'ALTER TABLE cols.t ADD COLUMN w int DEFAULT 5; UPDATE cols.t SET v = \'b\';');
    const plain = await ayb('branch', 'diff', 'main', 'columns', '--data', '--output', 'sql');
    expect(plain.exitCode).toBe(4);
    expect(plain.stdout).toBe('');
    expect(plain.stderr).toMatch(/cols\.t/);
    expect(plain.stderr).toMatch(/--output sql/);
  });

  it('orders statements so that a primary key change beside a UNIQUE column, a self-referencing key and a swapped unique value all apply', async () => {
    await branch('order', `
      UPDATE ord.u SET id = 100 WHERE id = 1;
      INSERT INTO ord.tree VALUES (60, NULL), (50, 60);
      DELETE FROM ord.tree WHERE id = 2; DELETE FROM ord.tree WHERE id = 1;
      UPDATE ord.tree SET parent = 60 WHERE id = 3;
      UPDATE ord.s SET code = 'tmp' WHERE id = 1; UPDATE ord.s SET code = 'A' WHERE id = 2; UPDATE ord.s SET code = 'B' WHERE id = 1;
      INSERT INTO ord.country VALUES (9, 'Norway2');
      UPDATE ord.city SET country = 9 WHERE id = 1;
      UPDATE ord.city SET country = 1, name = 'Oslo (moved)' WHERE id = 2;
      INSERT INTO ord.city VALUES (3, 9, 'Oslo');
      DELETE FROM ord.country WHERE id = 2;
      UPDATE ord.country SET name = 'Norway' WHERE id = 9;
    `);
    await roundTrip('order');
  });

  it('streams the DML of 150,000 changed rows', async () => {
    await cluster.query('CREATE TABLE public.big (id int PRIMARY KEY, v text)', [], 'app');
    await cluster.query("INSERT INTO public.big SELECT i, 'v' || i FROM generate_series(1, 150000) i", [], 'app');
    await branch('big', "UPDATE public.big SET v = v || '!';");
    await roundTrip('big');
    await cluster.query('DROP TABLE public.big', [], 'app');
  }, 300_000);

  it('holds main\'s snapshot one table at a time when counting: a row committed after the first table was read is seen in the second', async () => {
    await branch('gate');
    // The branch side waits at gate.t1 until released; main reads gate.t1 meanwhile.
    const gate = await holdGate(cluster, dbOf('gate'), 'gate.t1');
    const diff = ayb('branch', 'diff', 'main', 'gate', '--data', '--table', 'gate.t1', '--table', 'gate.t2', '--json');
    try {
      await waitUntil('the diff to wait at the gate', async () => {
        const { rowCount } = await cluster.query("SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock' AND application_name <> 'test-gate'", [dbOf('gate')], 'postgres');
        return (rowCount ?? 0) > 0 || undefined;
      });
      await cluster.query('INSERT INTO gate.t2 VALUES (2)', [], 'app');
    } finally {
      await gate.release();
    }
    const result = await diff;
    expect(result.exitCode, result.stderr).toBe(0);
    const t2 = result.json<Change[]>().find((c) => c.table === 'gate.t2')!;
    expect(t2).toMatchObject({ removed: 1 });
  });
});
