import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openContext, type OpenedContext } from '../../src/branching/context.js';
import { diffBranchData } from '../../src/branching/data-diff.js';
import { loadConfig } from '../../src/config/resolve.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { type DataDiffHarness, dataDiffHarness, dbOf } from '../helpers/data-diff-round-trip.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { readFile } from 'node:fs/promises';

/**
 * Issue 24, outsider's second attack on the data diff of this session (packed keys, ONLY, the
 * set-aside join, main's per-table snapshot). Judged by fingerprints of ordered rows of b against a
 * copy of a with the script applied, and by counts written here in SQL of their own.
 */
const MAIN_SQL = `
  CREATE EXTENSION IF NOT EXISTS citext SCHEMA public;
  -- keys whose text is not unique under their own equality (1.0 = 1.00, 'Ann@X' = 'ann@x')
  CREATE SCHEMA k;
  CREATE TABLE k.price (id numeric PRIMARY KEY, v text);
  CREATE TABLE k.line (id int PRIMARY KEY, price_id numeric NOT NULL REFERENCES k.price ON DELETE CASCADE, note text);
  CREATE TABLE k.acct (email public.citext PRIMARY KEY, name text);
  CREATE TABLE k.login (id int PRIMARY KEY, email public.citext NOT NULL REFERENCES k.acct ON DELETE CASCADE);
  CREATE TABLE k.plain (id numeric PRIMARY KEY, v text);
  CREATE TABLE k.span (id interval PRIMARY KEY, v text);
  CREATE TABLE k.fl (id float8 PRIMARY KEY, v text);
  INSERT INTO k.span VALUES ('1 day', 's1'), ('2 hours', 's2');
  INSERT INTO k.fl VALUES (0, 'f0'), (1.5, 'f1');
  -- a case-insensitive ICU collation (nondeterministic), pointed at by ON DELETE CASCADE
  CREATE COLLATION public.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
  CREATE TABLE k.tag (name text COLLATE public.ci PRIMARY KEY, v text);
  CREATE TABLE k.tagged (id int PRIMARY KEY, tag text COLLATE public.ci NOT NULL REFERENCES k.tag ON DELETE CASCADE);
  INSERT INTO k.tag VALUES ('Red', 'r'), ('Blue', 'b');
  INSERT INTO k.tagged VALUES (1, 'Red'), (2, 'RED'), (3, 'blue');
  -- set aside (two unique indexes and a cascade): a key's text changes while two rows swap a unique value
  CREATE TABLE k.member (id numeric PRIMARY KEY, email text UNIQUE NOT NULL);
  CREATE TABLE k.post (id int PRIMARY KEY, member_id numeric NOT NULL REFERENCES k.member ON DELETE CASCADE);
  INSERT INTO k.member VALUES (1.0, 'a@x'), (2, 'b@x'), (3, 'c@x');
  INSERT INTO k.post VALUES (1, 1.0), (2, 2), (3, 3), (4, 1);
  CREATE TABLE k.ident (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);
  CREATE TABLE k.ident_child (id int PRIMARY KEY, ident_id int NOT NULL REFERENCES k.ident ON DELETE CASCADE);
  INSERT INTO k.ident (v) VALUES ('i1'), ('i2');
  CREATE TABLE k.ident2 (code text PRIMARY KEY, n int GENERATED ALWAYS AS IDENTITY, v text);
  CREATE TABLE k.ident2_child (id int PRIMARY KEY, code text NOT NULL REFERENCES k.ident2 ON DELETE CASCADE);
  INSERT INTO k.ident2 (code, v) VALUES ('a', 'i1'), ('b', 'i2');
  INSERT INTO k.ident2_child VALUES (1, 'a'), (2, 'b');
  INSERT INTO k.ident_child VALUES (1, 1), (2, 2);
  INSERT INTO k.price VALUES (1.0, 'a'), (2.5, 'b'), (3, 'c');
  INSERT INTO k.line VALUES (1, 1.0, 'x'), (2, 2.5, 'y'), (3, 3, 'z');
  INSERT INTO k.acct VALUES ('Ann@X', 'Ann'), ('Bob@X', 'Bob');
  INSERT INTO k.login VALUES (1, 'Ann@X'), (2, 'ann@x'), (3, 'Bob@X');
  INSERT INTO k.plain VALUES (1, 'p1'), (2.5, 'p2'), (7.000, 'p7');

  -- inheritance: multiple parents, a child with columns of its own, a grandchild, a foreign key to a parent
  CREATE SCHEMA inh2;
  CREATE TABLE inh2.a (id int PRIMARY KEY, v text);
  CREATE TABLE inh2.b (w int);
  CREATE TABLE inh2.ab (extra text) INHERITS (inh2.a, inh2.b);
  ALTER TABLE inh2.ab ADD PRIMARY KEY (id);
  CREATE TABLE inh2.abc (deep jsonb) INHERITS (inh2.ab);
  ALTER TABLE inh2.abc ADD PRIMARY KEY (id);
  CREATE TABLE inh2.ref (id int PRIMARY KEY, a_id int NOT NULL REFERENCES inh2.a ON DELETE CASCADE);
  INSERT INTO inh2.a VALUES (1, 'a1'), (2, 'a2'), (3, 'a3');
  INSERT INTO inh2.b VALUES (5), (5), (6);
  INSERT INTO inh2.ab VALUES (10, 'ab10', 1, 'e10'), (11, 'ab11', 2, 'e11');
  INSERT INTO inh2.abc VALUES (20, 'abc20', 3, 'e20', '{"x": 1}'), (21, 'abc21', 4, 'e21', '[1, 2]');
  INSERT INTO inh2.ref VALUES (1, 1), (2, 2), (3, 3);

  -- wide composite keys with odd bytes: more differing keys than one packed piece holds (4096)
  CREATE SCHEMA w;
  CREATE TABLE w.k (t text, b bytea, n int, v text, PRIMARY KEY (t, b, n));
  INSERT INTO w.k SELECT E'line\\nbreak\\t"q" \\\\ \\'' || chr(8232) || repeat('ж', 120) || '🙂' || i, decode(md5(i::text) || '00ff0a', 'hex'),
           CASE WHEN i <= 4150 THEN 0 WHEN i <= 4200 THEN 1 ELSE 2 END, 'v' || i
    FROM generate_series(1, 4250) i;
  CREATE TABLE w.many (id int PRIMARY KEY);

  -- a parent and a child, for main changing during a diff
  CREATE SCHEMA cc;
  CREATE TABLE cc.p1 (id int PRIMARY KEY, v text);
  CREATE TABLE cc.p2_child (id int PRIMARY KEY, p int NOT NULL REFERENCES cc.p1, v text);
  INSERT INTO cc.p1 VALUES (1, 'one'), (2, 'two');
  INSERT INTO cc.p2_child VALUES (5, 1, 'five');
`;

interface Counts { table: string; added: number; removed: number; changed: number; examples?: Record<string, Record<string, string | null>[]> }

describe('ayb branch diff --data: outsider attack 2', () => {
  let cluster: TestCluster;
  let h: DataDiffHarness;

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await cluster.query(MAIN_SQL, [], 'app');
    h = await dataDiffHarness(cluster, { foreign: ["DateStyle = 'SQL, DMY'"], otherForeign: ["TimeZone = 'Asia/Kathmandu'"] });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  async function counts(branch: string, ...extra: string[]): Promise<Map<string, Counts>> {
    const out = await h.ayb('branch', 'diff', 'main', branch, '--data', '--json', ...extra);
    expect(out.exitCode, out.stderr).toBe(0);
    return new Map((JSON.parse(out.stdout) as Counts[]).map((t) => [t.table, t]));
  }

  /** A table's own rows (ONLY) as id → row text: the judge of counts, by key. */
  async function ownRows(db: string, table: string): Promise<Map<string, string>> {
    const { rows } = await cluster.query<{ id: string; r: string }>(`SELECT id::text AS id, t::text AS r FROM ONLY ${table} t`, [], db);
    return new Map(rows.map((x) => [x.id, x.r]));
  }
  function judge(a: Map<string, string>, b: Map<string, string>): { added: number; removed: number; changed: number } {
    let added = 0; let removed = 0; let changed = 0;
    for (const [id, r] of b) if (!a.has(id)) added++; else if (a.get(id) !== r) changed++;
    for (const id of a.keys()) if (!b.has(id)) removed++;
    return { added, removed, changed };
  }

  it('a key whose text changes but stays equal (numeric 1.0 → 1.00, citext case) is one changed row, and the script keeps the rows a cascade would delete', async () => {
    await h.branch('ktext', `
      UPDATE k.price SET id = 1.00 WHERE id = 1;
      UPDATE k.acct SET email = 'ann@x' WHERE email = 'Ann@X';
      UPDATE k.plain SET id = 2.50 WHERE id = 2.5;
      UPDATE k.plain SET v = 'p7!' WHERE id = 7;
      UPDATE k.ident SET v = 'i1!' WHERE id = 1;
      UPDATE k.ident2 SET v = 'i1!' WHERE code = 'a';
      UPDATE k.span SET id = '24 hours' WHERE id = '1 day';
      UPDATE k.fl SET id = '-0' WHERE id = 0;
      UPDATE k.tag SET name = 'RED' WHERE name = 'Red';
      UPDATE k.member SET id = 1.000 WHERE id = 1;
      UPDATE k.member SET email = 'tmp' WHERE id = 2; UPDATE k.member SET email = 'b@x' WHERE id = 3; UPDATE k.member SET email = 'c@x' WHERE id = 2;
    `);
    // Independently: the same keys under the key's own equality on both sides (no key added or removed).
    const { rows } = await cluster.query<{ n: string }>(`SELECT count(*)::text AS n FROM k.plain WHERE id = ANY ('{1, 2.5, 7}'::numeric[])`, [], dbOf('ktext'));
    expect(rows[0]!.n).toBe('3');
    const c = await counts('ktext');
    expect(c.get('k.plain')).toMatchObject({ added: 0, removed: 0, changed: 2 });
    expect(c.get('k.price')).toMatchObject({ added: 0, removed: 0, changed: 1 });
    expect(c.get('k.acct')).toMatchObject({ added: 0, removed: 0, changed: 1 });
    for (const t of ['k.span', 'k.fl', 'k.tag']) expect(c.get(t), t).toMatchObject({ added: 0, removed: 0, changed: 1 });
    expect(c.get('k.member')).toMatchObject({ added: 0, removed: 0, changed: 3 });
    // A key's text alone changing (-0 for 0) fails the gate.
    expect((await h.ayb('branch', 'diff', 'main', 'ktext', '--data', '--table', 'k.fl', '--exit-code')).exitCode).toBe(1);
    await h.roundTrip('ktext');
  });

  it('inheritance: rows moving between parent, child and grandchild (multiple parents, columns of their own) are counted per table and the script moves them', async () => {
    await h.branch('inh2', `
      DELETE FROM ONLY inh2.a WHERE id = 3;
      INSERT INTO inh2.ab VALUES (3, 'moved down', 7, 'e3');
      DELETE FROM inh2.abc WHERE id = 20;
      INSERT INTO inh2.a VALUES (20, 'moved up');
      UPDATE inh2.a SET v = 'through the parent' WHERE id = 10;
      UPDATE inh2.b SET w = 66 WHERE w = 6;
      UPDATE ONLY inh2.a SET v = 'one' WHERE id = 1;
      UPDATE inh2.abc SET deep = '{"x": 2}' WHERE id = 21;
    `);
    const c = await counts('inh2');
    for (const t of ['inh2.a', 'inh2.ab', 'inh2.abc', 'inh2.ref']) {
      expect(c.get(t), t).toMatchObject(judge(await ownRows('app', t), await ownRows(dbOf('inh2'), t)));
    }
    expect(c.get('inh2.b')).toMatchObject({ added: 1, removed: 1 });
    // A difference in a grandchild alone fails the gate.
    expect((await h.ayb('branch', 'diff', 'main', 'inh2', '--data', '--table', 'inh2.abc', '--exit-code')).exitCode).toBe(1);
    await h.roundTrip('inh2');
  });

  it('more than a packed piece of wide composite keys (text of KB with newline, tab, quote, backslash, U+2028; bytea with NUL bytes) round-trip exactly', async () => {
    await h.branch('wide', `
      UPDATE w.k SET v = v || '!' WHERE n = 0;
      DELETE FROM w.k WHERE n = 1;
      INSERT INTO w.k SELECT E'new\\n' || repeat('é', 300) || i, decode('00' || md5(i::text), 'hex'), 9, 'n' || i FROM generate_series(1, 50) i;
    `);
    const main = await cluster.query<{ n0: number; n1: number }>('SELECT count(*) FILTER (WHERE n = 0)::int AS n0, count(*) FILTER (WHERE n = 1)::int AS n1 FROM w.k', [], 'app');
    const c = await counts('wide', '--limit', '3');
    expect(c.get('w.k')).toMatchObject({ added: 50, removed: main.rows[0]!.n1, changed: main.rows[0]!.n0 });
    // An example key is the key's exact text: it finds its row.
    const example = c.get('w.k')!.examples!.changed![0]!;
    const found = await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM w.k WHERE t = $1 AND b = $2::bytea AND n = $3::int', [example.t, example.b, example.n], 'app');
    expect(found.rows[0]!.n).toBe(1);
    await h.roundTrip('wide');
  });

  it('--limit above 10,000 lists every differing key asked for', async () => {
    await h.branch('many', 'INSERT INTO w.many SELECT generate_series(1, 10050);');
    const c = await counts('many', '--limit', '20000', '--table', 'w.many');
    const examples = c.get('w.many')!.examples!.added!.map((e) => Number(e.id));
    expect(c.get('w.many')!.added).toBe(10050);
    expect(examples).toHaveLength(10050);
    expect(examples).toEqual(Array.from({ length: 10050 }, (_, i) => i + 1));
  });

  // Last: it changes main.
  // Found by the attacker: with main as b, `--output sql` held main one table's scan at a time and read the
  // rows it writes afterwards, so a child row read then pointed at a parent committed after the parent's
  // table was scanned and not in the script: applying it failed with 23503 (p2_child_p_fkey, (p)=(9)). Now
  // b (main too) is read at one moment for the whole diff: the script gives main as it was when the diff
  // began, whatever main commits meanwhile.
  it('main changing between its tables\' scans and the reading of its rows: the script still applies and gives main at one moment (its inserted rows satisfy each other\'s foreign keys)', async () => {
    await h.branch('cc-feat', "UPDATE cc.p2_child SET v = 'feat' WHERE id = 5;");
    const before = await fingerprint(cluster, 'app');
    const ctx: OpenedContext = await openContext(await loadConfig({ databaseUrl: cluster.url('app'), env: {}, cwd: os.tmpdir() }));
    let changed = false;
    const result = await diffBranchData(ctx, 'cc-feat', 'main', {
      sql: true,
      // After cc.p1 and cc.p2_child are scanned: a new parent on main, and the child (which differs) moved to it.
      beforeTable: async (table) => {
        if (changed || table.startsWith('cc.')) return;
        changed = true;
        await cluster.query("INSERT INTO cc.p1 VALUES (9, 'nine'); UPDATE cc.p2_child SET p = 9 WHERE id = 5;", [], 'app');
      },
    });
    expect(changed).toBe(true);
    const script = await readFile(result.migration!.path, 'utf8');
    await result.migration!.remove();
    await h.apply(dbOf('cc-feat'), script);
    const [got, after] = await Promise.all([fingerprint(cluster, dbOf('cc-feat')), fingerprint(cluster, 'app')]);
    expect(after.tables['cc.p2_child']).not.toEqual(before.tables['cc.p2_child']);
    expect(got.tables['cc.p1']).toEqual(before.tables['cc.p1']);
    expect(got.tables['cc.p2_child']).toEqual(before.tables['cc.p2_child']);
  });
});
