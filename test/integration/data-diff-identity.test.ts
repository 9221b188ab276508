import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { type DataDiffHarness, dataDiffHarness, dbOf } from '../helpers/data-diff-round-trip.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { mergeHarness } from '../helpers/merge-scenario.js';

/**
 * Issues 24 and 25: a table is one table, whatever its name holds. Tables whose schema and name would
 * read alike once joined (`dot."a.b"` / `"dot.a".b`, and a three-part `x."y.z"` / `"x.y".z`), names with
 * spaces and quotes, and two names the script's comments once wrote alike (a newline / a backslash and
 * an n). Judged by counts written here by hand, rows read by SQL of its own, and fingerprints of ordered
 * rows of the branch against a copy of main with the script applied.
 */
const MAIN_SQL = `
  CREATE SCHEMA dot; CREATE SCHEMA "dot.a";
  CREATE TABLE dot."a.b" (id int PRIMARY KEY, v text);
  CREATE TABLE "dot.a".b (id int PRIMARY KEY, v text);
  CREATE SCHEMA x; CREATE SCHEMA "x.y";
  CREATE TABLE x."y.z" (id int PRIMARY KEY, v text);
  CREATE TABLE "x.y".z (id int PRIMARY KEY, v text);
  CREATE SCHEMA "q""s"; CREATE SCHEMA "q";
  CREATE TABLE "q""s"."t t" (id int PRIMARY KEY, v text);
  CREATE TABLE "q"."""s.t t" (id int PRIMARY KEY, v text);
  CREATE SCHEMA nl;
  CREATE TABLE nl."two
lines" (id int PRIMARY KEY, v text);
  CREATE TABLE nl."two\\nlines" (id int PRIMARY KEY, v text);
  INSERT INTO dot."a.b" VALUES (1, 'one'), (2, 'two'); INSERT INTO "dot.a".b VALUES (1, 'one'), (2, 'two');
  INSERT INTO x."y.z" VALUES (1, 'one'); INSERT INTO "x.y".z VALUES (1, 'one');
  INSERT INTO "q""s"."t t" VALUES (1, 'one'); INSERT INTO "q"."""s.t t" VALUES (1, 'one');
  INSERT INTO nl."two
lines" VALUES (1, 'one'); INSERT INTO nl."two\\nlines" VALUES (1, 'one');
`;

type Record = { table: string; schema: string; name: string; added: number; removed: number; changed: number };

describe('a table is one table, whatever its name holds: data diff', () => {
  let cluster: TestCluster;
  let h: DataDiffHarness;
  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await cluster.query(MAIN_SQL, [], 'app');
    h = await dataDiffHarness(cluster, {
      foreign: ["DateStyle = 'SQL, DMY'"],
      otherForeign: ["TimeZone = 'Asia/Kathmandu'", 'standard_conforming_strings = off'],
    });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('tables whose schema.name read alike are each compared, counted and written by the script', async () => {
    await h.branch('ids', `
      UPDATE dot."a.b" SET v = 'uno' WHERE id = 1; DELETE FROM "dot.a".b WHERE id = 2; INSERT INTO "dot.a".b VALUES (3, 'three');
      UPDATE x."y.z" SET v = 'uno'; INSERT INTO "x.y".z VALUES (2, 'two');
      UPDATE "q""s"."t t" SET v = 'uno'; DELETE FROM "q"."""s.t t";
      UPDATE nl."two
lines" SET v = 'uno'; INSERT INTO nl."two\\nlines" VALUES (2, 'two');`);
    const out = await h.ayb('branch', 'diff', 'main', 'ids', '--data', '--json');
    expect(out.exitCode, out.stderr).toBe(0);
    const got = (JSON.parse(out.stdout) as Record[]).map((r) => [r.schema, r.name, r.added, r.removed, r.changed]);
    // By hand: what each table's changes above add, remove and change.
    expect(got.sort()).toEqual([
      ['dot', 'a.b', 0, 0, 1],
      ['dot.a', 'b', 1, 1, 0],
      ['nl', 'two\\nlines', 1, 0, 0],
      ['nl', 'two\nlines', 0, 0, 1],
      ['q', '"s.t t', 0, 1, 0],
      ['q"s', 't t', 0, 0, 1],
      ['x', 'y.z', 0, 0, 1],
      ['x.y', 'z', 1, 0, 0],
    ].sort());
    // The same, read here: each table's rows on both sides.
    const read = async (db: string, table: string) => (await cluster.query<{ r: string }>(`SELECT string_agg(t::text, ' ' ORDER BY id) AS r FROM ${table} t`, [], db)).rows[0]!.r;
    expect([await read(dbOf('ids'), 'dot."a.b"'), await read(dbOf('ids'), '"dot.a".b')]).toEqual(['(1,uno) (2,two)', '(1,one) (3,three)']);
    // The text view names each table once, as its label.
    const text = await h.ayb('branch', 'diff', 'main', 'ids', '--data');
    expect(text.exitCode, text.stderr).toBe(0);
    for (const label of ['dot."a.b"', '"dot.a".b', 'x."y.z"', '"x.y".z', '"q""s".t t', 'q."""s.t t"']) expect(text.stdout).toContain(label);
    // The script applied to a copy of main makes it the branch (fingerprints); its comments name the
    // newline table and the backslash-n table differently.
    const script = await h.roundTrip('ids');
    const comments = script.split('\n').filter((l) => l.startsWith('-- nl.'));
    expect(new Set(comments).size, comments.join('\n')).toBe(comments.length);
    expect(comments.some((l) => l.startsWith('-- nl.two\\nlines:'))).toBe(true);
    expect(comments.some((l) => l.startsWith('-- nl."two\\\\nlines":'))).toBe(true);
  });

  it('--table takes a table by its label, and refuses a name that is two tables', async () => {
    await h.branch('pick', `UPDATE dot."a.b" SET v = 'uno' WHERE id = 1; UPDATE "dot.a".b SET v = 'eins' WHERE id = 1;`);
    const one = await h.ayb('branch', 'diff', 'main', 'pick', '--data', '--json', '--table', 'dot."a.b"');
    expect(one.exitCode, one.stderr).toBe(0);
    expect((JSON.parse(one.stdout) as Record[]).map((r) => [r.schema, r.name, r.changed])).toEqual([['dot', 'a.b', 1]]);
    const other = await h.ayb('branch', 'diff', 'main', 'pick', '--data', '--json', '--table', '"dot.a".b');
    expect((JSON.parse(other.stdout) as Record[]).map((r) => [r.schema, r.name, r.changed])).toEqual([['dot.a', 'b', 1]]);
    const both = await h.ayb('branch', 'diff', 'main', 'pick', '--data', '--json', '--table', 'dot.a.b');
    expect(both.exitCode).toBe(2);
    expect(JSON.parse(both.stdout || both.stderr).error.code).toBe('table_ambiguous');
  });
});

describe('a table is one table, whatever its name holds: merge', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  const { scenario, psql } = mergeHarness(() => cluster);

  it('two tables whose schema.name read alike: both merged, their conflicts told apart and resolved each its own way', async () => {
    const ayb = await scenario('id_merge', MAIN_SQL);
    await ayb.branch('idm');
    await psql('ayb_branch_idm', `
      UPDATE dot."a.b" SET v = 'theirs' WHERE id = 1; UPDATE "dot.a".b SET v = 'theirs' WHERE id = 1;
      INSERT INTO dot."a.b" VALUES (3, 'a.b new'); DELETE FROM "dot.a".b WHERE id = 2;
      UPDATE x."y.z" SET v = 'theirs'; UPDATE "q"."""s.t t" SET v = 'theirs';`);
    await psql('id_merge', `UPDATE dot."a.b" SET v = 'ours' WHERE id = 1; UPDATE "dot.a".b SET v = 'ours' WHERE id = 1;`);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'id-merge-'));
    const file = path.join(dir, 'conflicts.json');
    const before = await fingerprint(cluster, 'id_merge');
    const first = await ayb('branch', 'merge', 'idm', '--conflicts', file);
    expect(first.exitCode, first.stdout + first.stderr).toBe(4);
    expect(await fingerprint(cluster, 'id_merge')).toEqual(before);
    // By hand: one conflict in each dot table (row 1, v: ours / theirs), the same key and values.
    const doc = JSON.parse(await readFile(file, 'utf8')) as { conflicts: { schema: string; name: string; resolution: unknown }[] };
    expect(doc.conflicts.map((c) => [c.schema, c.name]).sort()).toEqual([['dot', 'a.b'], ['dot.a', 'b']]);
    for (const c of doc.conflicts) c.resolution = c.schema === 'dot' ? 'theirs' : 'ours';
    await writeFile(file, JSON.stringify(doc));
    const second = await ayb('branch', 'merge', 'idm', '--conflicts', file, '--json');
    expect(second.exitCode, second.stdout + second.stderr).toBe(0);
    const tables = (JSON.parse(second.stdout) as { tables: { schema: string; name: string }[] }).tables.map((t) => `${t.schema}|${t.name}`).sort();
    expect(tables).toEqual(['q|"s.t t', 'dot.a|b', 'dot|a.b', 'x|y.z'].sort());
    const read = async (table: string) => (await cluster.query<{ r: string }>(`SELECT string_agg(t::text, ' ' ORDER BY id) AS r FROM ${table} t`, [], 'id_merge')).rows[0]!.r;
    expect(await read('dot."a.b"')).toBe('(1,theirs) (2,two) (3,"a.b new")');
    expect(await read('"dot.a".b')).toBe('(1,ours)');
    expect(await read('x."y.z"')).toBe('(1,theirs)');
    expect(await read('"x.y".z')).toBe('(1,one)');
    expect(await read('"q"."""s.t t"')).toBe('(1,theirs)');
    expect(await read('"q""s"."t t"')).toBe('(1,one)');
  });
});
