import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { mergeHarness } from '../helpers/merge-scenario.js';

/**
 * Issue 25: a key or value the branch retyped is compared as the target will hold it once migrated
 * (the branch's type), never cast to the target's old type, which may fail (int -> bigint: a key beyond
 * int), round (numeric scale) or lose a distinction (text -> citext). Expected rows written by hand;
 * "nothing applied" judged by fingerprints of ordered rows taken before.
 */
describe.concurrent('ayb branch merge: keys and values the branch retyped', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  const { scenario, rows, psql } = mergeHarness(() => cluster);
  type Plan = { tables: { table: string; merged_by: string }[]; conflicts: { table: string; key: Record<string, string>; ours: string; theirs: string }[] };
  const plan = (stdout: string): Plan => {
    const doc = JSON.parse(stdout) as Plan & { error?: { details?: Plan } };
    return doc.error?.details ?? doc;
  };

  it('a key the branch retyped text -> citext, both sides adding abc / ABC: a conflict (the migrated target cannot hold both), nothing applied', async () => {
    const ayb = await scenario('rt_citext', `
      CREATE EXTENSION citext;
      CREATE TABLE t (k text PRIMARY KEY, v text);
      INSERT INTO t VALUES ('x', 'one');
    `);
    await ayb.branch('rtc');
    await psql('ayb_branch_rtc', `ALTER TABLE t ALTER k TYPE citext; INSERT INTO t VALUES ('abc', 'theirs');`);
    await psql('rt_citext', `INSERT INTO t VALUES ('ABC', 'ours');`);
    const dry = await ayb('branch', 'merge', 'rtc', '--dry-run', '--json');
    expect(plan(dry.stdout).conflicts.map((c) => [c.table, c.ours, c.theirs]), dry.stdout + dry.stderr).toEqual([['public.t', 'added', 'added']]);
    const before = await fingerprint(cluster, 'rt_citext');
    const merged = await ayb('branch', 'merge', 'rtc', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(4);
    expect(await fingerprint(cluster, 'rt_citext')).toEqual(before);
    // Settled theirs: one row of key abc, the branch's; the key citext.
    const theirs = await ayb('branch', 'merge', 'rtc', '--strategy', 'theirs', '--json');
    expect(theirs.exitCode, theirs.stdout + theirs.stderr).toBe(0);
    expect(await rows('rt_citext', 't')).toEqual(['(abc,theirs)', '(x,one)']);
    expect((await cluster.query<{ t: string }>(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'public.t'::regclass AND attname = 'k'`, [], 'rt_citext')).rows[0]!.t).toBe('citext');
  });

  it('a key the branch retyped numeric(6,2) -> numeric(8,4) and a new key 1.2345 beside main\'s new 1.23: two rows, not a false conflict', async () => {
    const ayb = await scenario('rt_num', `
      CREATE TABLE t (id numeric(6,2) PRIMARY KEY, v text);
      INSERT INTO t VALUES (2, 'two');
    `);
    await ayb.branch('rtn');
    await psql('ayb_branch_rtn', `ALTER TABLE t ALTER id TYPE numeric(8,4); INSERT INTO t VALUES (1.2345, 'theirs');`);
    await psql('rt_num', `INSERT INTO t VALUES (1.23, 'ours');`);
    const merged = await ayb('branch', 'merge', 'rtn', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    // By hand: both new rows, every key as numeric(8,4) holds it.
    expect(await rows('rt_num', 't')).toEqual(['(1.2300,ours)', '(1.2345,theirs)', '(2.0000,two)']);
  });
});
