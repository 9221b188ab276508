import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { mergeHarness } from '../helpers/merge-scenario.js';

/**
 * Issue 25: the merge's fallback path (mergeKeyed / rowsByKey in merge-rows.ts), taken for keyed tables
 * the target's server cannot merge: here a column the branch retyped to an enum it created, which the
 * target lacks until it is migrated. Each case checks `merged_by: "ayb"` in the plan (so that it proves
 * which path ran) with keys equal under their type but written differently (numeric 1.0 / 1.00, citext
 * abc / ABC), the cases merge-outsider3 has for the server path. Expected rows are written here by hand;
 * "nothing applied" is judged by fingerprints of ordered rows taken before.
 */
describe.concurrent('ayb branch merge: the fallback path with keys equal under their type but written differently', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  const { scenario, rows, psql } = mergeHarness(() => cluster);
  type Plan = { tables: { table: string; merged_by: string; conflicts: number }[]; conflicts: { table: string; key: Record<string, string>; ours: string; theirs: string }[] };
  /** The merge's JSON plan (of a dry run, or of a merge that stopped on conflicts). */
  const plan = (stdout: string): Plan => {
    const doc = JSON.parse(stdout) as Plan & { error?: { details?: Plan } };
    return doc.error?.details ?? doc;
  };
  /** The branch retypes column s to an enum it creates: the target's server cannot cast to it before the migration. */
  const toEnum = `CREATE TYPE st AS ENUM ('a', 'b', 'c'); ALTER TABLE t ALTER s TYPE st USING s::st;`;
  const byAyb = async (ayb: (...args: string[]) => Promise<{ stdout: string }>, branch: string) => {
    const dry = await ayb('branch', 'merge', branch, '--dry-run', '--json');
    const p = plan(dry.stdout);
    expect(p.tables.find((x) => x.table === 'public.t')?.merged_by, dry.stdout).toBe('ayb');
    return p;
  };

  it('a numeric key main rewrote (1.0 -> 1.00) and whose note main changed, while the branch deleted the row: a conflict, not a silently dropped delete', async () => {
    const ayb = await scenario('fb_numdel', `
      CREATE TABLE t (id numeric PRIMARY KEY, s text, note text);
      INSERT INTO t VALUES (1.0, 'a', 'base'), (2, 'b', 'two');
    `);
    await ayb.branch('fbnd');
    await psql('ayb_branch_fbnd', `${toEnum} DELETE FROM t WHERE id = 1;`);
    await psql('fb_numdel', `UPDATE t SET id = 1.00, note = 'main' WHERE id = 1;`);
    const p = await byAyb(ayb, 'fbnd');
    // By hand: main changed the row (its note), the branch deleted it: one conflict on key 1.
    expect(p.conflicts.map((c) => [c.table, c.ours, c.theirs])).toEqual([['public.t', 'changed', 'removed']]);
    const before = await fingerprint(cluster, 'fb_numdel');
    const merged = await ayb('branch', 'merge', 'fbnd', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(4);
    expect(await fingerprint(cluster, 'fb_numdel')).toEqual(before);
  });

  it('a numeric key both sides added (5.0 / 5.00) with different rows: a conflict, settled theirs with the branch row', async () => {
    const ayb = await scenario('fb_numadd', `
      CREATE TABLE t (id numeric PRIMARY KEY, s text, note text);
      INSERT INTO t VALUES (1, 'a', 'one');
    `);
    await ayb.branch('fbna');
    await psql('ayb_branch_fbna', `${toEnum} INSERT INTO t VALUES (5.0, 'b', 'theirs');`);
    await psql('fb_numadd', `INSERT INTO t VALUES (5.00, 'b', 'ours');`);
    const p = await byAyb(ayb, 'fbna');
    expect(p.conflicts.map((c) => [c.table, c.ours, c.theirs])).toEqual([['public.t', 'added', 'added']]);
    const before = await fingerprint(cluster, 'fb_numadd');
    const merged = await ayb('branch', 'merge', 'fbna', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(4);
    expect(await fingerprint(cluster, 'fb_numadd')).toEqual(before);
    const theirs = await ayb('branch', 'merge', 'fbna', '--strategy', 'theirs', '--json');
    expect(theirs.exitCode, theirs.stdout + theirs.stderr).toBe(0);
    // By hand: one row of key 5, the branch's (its key text too: the conflicting columns are the branch's).
    expect(await rows('fb_numadd', 't')).toEqual(['(1,a,one)', '(5.0,b,theirs)']);
  });

  it('a citext key main recased (abc -> ABC) while the branch changed another column: merged cell-wise, not a conflict', async () => {
    const ayb = await scenario('fb_cirw', `
      CREATE EXTENSION citext;
      CREATE TABLE t (k citext PRIMARY KEY, s text, note text);
      INSERT INTO t VALUES ('abc', 'a', 'base'), ('x', 'b', 'one');
    `);
    await ayb.branch('fbcr');
    await psql('ayb_branch_fbcr', `${toEnum} UPDATE t SET note = 'theirs' WHERE k = 'abc';`);
    await psql('fb_cirw', `UPDATE t SET k = 'ABC' WHERE k = 'abc';`);
    const p = await byAyb(ayb, 'fbcr');
    expect(p.conflicts).toEqual([]);
    const merged = await ayb('branch', 'merge', 'fbcr', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    // By hand: main's key text, the branch's note.
    expect(await rows('fb_cirw', 't')).toEqual(['(ABC,a,theirs)', '(x,b,one)']);
  });

  it('a citext key both sides added (abc / ABC) with different rows: a conflict, not a raw unique violation', async () => {
    const ayb = await scenario('fb_ciadd', `
      CREATE EXTENSION citext;
      CREATE TABLE t (k citext PRIMARY KEY, s text, note text);
      INSERT INTO t VALUES ('x', 'a', 'one');
    `);
    await ayb.branch('fbca');
    await psql('ayb_branch_fbca', `${toEnum} INSERT INTO t VALUES ('abc', 'c', 'theirs');`);
    await psql('fb_ciadd', `INSERT INTO t VALUES ('ABC', 'c', 'ours');`);
    const p = await byAyb(ayb, 'fbca');
    expect(p.conflicts.map((c) => [c.table, c.ours, c.theirs])).toEqual([['public.t', 'added', 'added']]);
    const before = await fingerprint(cluster, 'fb_ciadd');
    const merged = await ayb('branch', 'merge', 'fbca', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(4);
    expect(await fingerprint(cluster, 'fb_ciadd')).toEqual(before);
    const theirs = await ayb('branch', 'merge', 'fbca', '--strategy', 'theirs', '--json');
    expect(theirs.exitCode, theirs.stdout + theirs.stderr).toBe(0);
    expect(await rows('fb_ciadd', 't')).toEqual(['(abc,c,theirs)', '(x,a,one)']);
  });
});
