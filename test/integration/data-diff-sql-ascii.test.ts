import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { runPsql } from '../helpers/pagila.js';

/**
 * Issue 24 (outsider 4): a SQL_ASCII main whose text holds bytes that are not UTF-8 (LATIN1 é 0xE9,
 * è 0xE8, 0xFF). The data diff moves such values as their bytes and its script writes them as escape
 * strings, so the counts are right and the script gives a copy of main the branch's bytes, in keys,
 * values, whole rows (a table without a key), a table foreign keys point at, arrays and json. Judged
 * by counts written here by hand and by a fingerprint of each table written here (md5 of each row's
 * bytes, ordered by its bytes). A name that holds such bytes is still refused by name (data_not_utf8,
 * exit 4): the diff reads names as UTF-8.
 */
const MAIN_SQL = String.raw`
  CREATE TABLE k (k text PRIMARY KEY, v text);
  INSERT INTO k VALUES (E'caf\xe9', E'r\xe9sum\xe9'), (E'caf\xe8', 'b'), (E'gone\xff', 'x'), (E'back\\slash''q', E'\xe9\\351');
  CREATE TABLE bag (v text, n int);
  INSERT INTO bag VALUES (E'\xe9t\xe9', 1), (E'\xe9t\xe9', 1), ('plain', 2);
  CREATE TABLE parent (code text PRIMARY KEY, label text);
  CREATE TABLE child (id int PRIMARY KEY, code text REFERENCES parent);
  INSERT INTO parent VALUES (E'p\xe9', 'one'), (E'q\xe8', 'two');
  INSERT INTO child VALUES (1, E'p\xe9'), (2, E'q\xe8');
  CREATE TABLE arr (id int PRIMARY KEY, a text[], j json);
  INSERT INTO arr VALUES (1, ARRAY[E'x\xe9'], E'{"k": "\xe9"}'), (2, NULL, NULL);
`;

const BRANCH_SQL = String.raw`
  UPDATE k SET v = E'\xe8' WHERE k = E'caf\xe8';
  DELETE FROM k WHERE k = E'gone\xff';
  INSERT INTO k VALUES (E'new\xe9\\''', E'\xc3\xbc');
  UPDATE k SET v = E'x\\\xe9''' WHERE k = E'back\\slash''q';
  DELETE FROM bag WHERE ctid = (SELECT min(ctid) FROM bag WHERE v = E'\xe9t\xe9');
  INSERT INTO bag VALUES (E'\xe8', 3);
  INSERT INTO parent VALUES (E'r\xe9', 'three');
  UPDATE child SET code = E'r\xe9' WHERE id = 1;
  DELETE FROM parent WHERE code = E'p\xe9';
  UPDATE parent SET label = E'l\xe9' WHERE code = E'q\xe8';
  UPDATE arr SET a = ARRAY[E'y\xe8', NULL], j = E'{"k": "\xe8\\u00e9"}' WHERE id = 1;
`;

const TABLES = ['k', 'bag', 'parent', 'child', 'arr'];

describe('ayb branch diff --data: a SQL_ASCII database with bytes that are not UTF-8', () => {
  let cluster: TestCluster;
  const env = () => ({ AYB_DATABASE_URL: cluster.url('legacy') });
  /** Each table's rows as the md5 of their bytes, ordered by their bytes. */
  const fingerprint = async (db: string) => Promise.all(TABLES.map(async (t) => (await cluster.query<{ r: string | null }>(
    `SELECT string_agg(md5(convert_to(x::text, 'SQL_ASCII')), ',' ORDER BY convert_to(x::text, 'SQL_ASCII')) AS r FROM ${t} x`, [], db)).rows[0]!.r));

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.query("CREATE DATABASE legacy ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0", [], 'postgres');
    await runPsql(cluster, 'legacy', { sql: MAIN_SQL });
    for (const name of ['lg', 'lg-r']) {
      const made = await runCli(['branch', 'create', name, '--strategy', 'template'], { env: env() });
      expect(made.exitCode, made.stderr).toBe(0);
    }
    await runPsql(cluster, 'ayb_branch_lg', { sql: BRANCH_SQL });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('counts keys, values and whole rows by their bytes, and the script gives a copy the branch\'s bytes', async () => {
    const out = await runCli(['branch', 'diff', 'main', 'lg', '--data', '--json'], { env: env() });
    expect(out.exitCode, out.stderr).toBe(0);
    const counts = new Map(out.json<{ table: string; added: number; removed: number; changed: number; examples?: Record<string, { k?: string }[]> }[]>().map((t) => [t.table, t]));
    expect(counts.get('public.k')).toMatchObject({ added: 1, removed: 1, changed: 2 });
    expect(counts.get('public.bag')).toMatchObject({ added: 1, removed: 1, changed: 0 });
    expect(counts.get('public.parent')).toMatchObject({ added: 1, removed: 1, changed: 1 });
    expect(counts.get('public.child')).toMatchObject({ added: 0, removed: 0, changed: 1 });
    expect(counts.get('public.arr')).toMatchObject({ added: 0, removed: 0, changed: 1 });
    // Examples show such a key's bytes escaped (a byte of the high half as \ooo, a backslash doubled).
    expect(counts.get('public.k')!.examples!.removed).toEqual([{ k: 'gone\\377' }]);
    expect(counts.get('public.k')!.examples!.added).toEqual([{ k: "new\\351\\\\'" }]);

    const sql = await runCli(['branch', 'diff', 'main', 'lg', '--data', '--output', 'sql'], { env: env() });
    expect(sql.exitCode, sql.stderr).toBe(0);
    // The script is ASCII: the bytes are escapes in it.
    expect([...sql.stdout].every((ch) => ch.charCodeAt(0) < 128)).toBe(true);
    const [before, want] = await Promise.all([fingerprint('ayb_branch_lg_r'), fingerprint('ayb_branch_lg')]);
    expect(before).not.toEqual(want);
    await runPsql(cluster, 'ayb_branch_lg_r', { sql: sql.stdout });
    expect(await fingerprint('ayb_branch_lg_r')).toEqual(want);
  });

  it('a table whose name holds bytes that are not UTF-8 is refused by name (data_not_utf8, exit 4)', async () => {
    await cluster.query("DO $$ BEGIN EXECUTE format('CREATE TABLE %I (id int)', convert_from('\\x74e9'::bytea, 'SQL_ASCII')); END $$", [], 'legacy');
    const out = await runCli(['branch', 'diff', 'main', 'lg', '--data', '--json'], { env: env() });
    expect(out.exitCode, out.stderr).toBe(4);
    expect(`${out.stderr}${out.stdout}`).toMatch(/data_not_utf8/);
    expect(`${out.stderr}${out.stdout}`).toMatch(/a name/);
  });
});
