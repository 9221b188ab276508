import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { runPsql } from '../helpers/pagila.js';

/**
 * Issue 25 (after the merge, item 2): every session of a merge pins all the value settings
 * (src/postgres/value-settings.ts), whatever the target's and the branch's databases set. The
 * judge: a database built independently (the same schema, the branch's statements, then the
 * target's), with the same foreign settings, compared by fingerprints of ordered rows.
 */
describe('ayb branch merge: foreign session settings', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await startTestCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const SCHEMA = `
    CREATE SCHEMA other;
    CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
    CREATE TABLE public.t (id int PRIMARY KEY, d date, ts timestamptz, iv interval, f float8, b bytea, tags text[], m public.mood, note text);
    INSERT INTO public.t VALUES
      (1, '2024-01-01', '2024-01-01 00:00+00', '1 day', 1.5, '\\x00ff', ARRAY['a'], 'ok', 'one'),
      (2, '2024-01-02', '2024-01-02 12:00+00', '2 hours', 2.5, '\\x01', ARRAY['b'], 'sad', 'two'),
      (3, '2024-01-03', '2024-01-03 23:59+00', '-1 day +03:00', 3.5, NULL, NULL, NULL, 'three');
  `;
  // ISO literals and typed values only: the statements mean one thing under any of the settings.
  const BRANCH = `
    UPDATE public.t SET d = DATE '2024-02-03', ts = TIMESTAMPTZ '2024-02-03 10:00:00+00', iv = INTERVAL '-1 day +02:00:00', f = 0.1::float8 + 0.2::float8, b = '\\xdeadbeef'::bytea, tags = ARRAY['x', NULL] WHERE id = 1;
    UPDATE public.t SET m = 'happy' WHERE id = 2;
    INSERT INTO public.t VALUES (4, DATE '1999-12-31', TIMESTAMPTZ '1999-12-31 23:30:00+00', INTERVAL '1 year 2 mons -3 days', 1e-300::float8, '\\x5c'::bytea, ARRAY[NULL, 'NULL', E'back\\\\slash'], 'sad', 'four');
    DELETE FROM public.t WHERE id = 3;
  `;
  const MAIN = `UPDATE public.t SET note = 'main' WHERE id = 1; UPDATE public.t SET note = 'main two' WHERE id = 2;`;
  const FOREIGN = [
    "DateStyle = 'SQL, DMY'",
    "TimeZone = 'Asia/Kolkata'",
    "IntervalStyle = 'sql_standard'",
    'extra_float_digits = 0',
    "bytea_output = 'escape'",
    'search_path = other',
    'array_nulls = off',
    "xmloption = 'document'",
  ];
  const foreign = async (database: string) => {
    for (const s of FOREIGN) await cluster.query(`ALTER DATABASE ${database} SET ${s}`);
  };

  it('a merge between databases that set DateStyle, TimeZone, IntervalStyle, extra_float_digits, bytea_output, search_path and array_nulls gives the independently built result', async () => {
    await cluster.createDatabase('m_foreign');
    await runPsql(cluster, 'm_foreign', { sql: SCHEMA });
    const env = { AYB_DATABASE_URL: cluster.url('m_foreign'), AYB_LOCK_TIMEOUT: '5s' };
    const ayb = (...args: string[]) => runCli(args, { env });
    expect((await ayb('branch', 'create', 'fs', '--keep-base')).exitCode).toBe(0);
    await foreign('m_foreign');
    await foreign('ayb_branch_fs');
    await runPsql(cluster, 'ayb_branch_fs', { sql: BRANCH });
    await runPsql(cluster, 'm_foreign', { sql: MAIN });

    // The judge: the same schema, the branch's statements, then main's, with the same settings.
    await cluster.createDatabase('m_foreign_expected');
    await runPsql(cluster, 'm_foreign_expected', { sql: SCHEMA });
    await foreign('m_foreign_expected');
    await runPsql(cluster, 'm_foreign_expected', { sql: BRANCH });
    await runPsql(cluster, 'm_foreign_expected', { sql: MAIN });

    const merged = await ayb('branch', 'merge', 'fs', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    const result = merged.json() as { conflicts: unknown[]; tables: { table: string; inserted: number; updated: number; deleted: number }[] };
    expect(result.conflicts).toEqual([]);
    expect(result.tables.find((t) => t.table === 'public.t')).toMatchObject({ inserted: 1, updated: 2, deleted: 1 });
    const [got, want] = [await fingerprint(cluster, 'm_foreign'), await fingerprint(cluster, 'm_foreign_expected')];
    expect(got.tables['public.t']).toEqual(want.tables['public.t']);
    // The judge itself is not blind: the rows are not what they were before the merge.
    expect(want.tables['public.t']!.rows).toBe(3);
  });
});
