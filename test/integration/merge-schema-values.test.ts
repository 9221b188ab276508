import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAyb } from '../../src/lib/index.js';
import { runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { runPsql } from '../helpers/pagila.js';

/**
 * Issue 25 (merge-outsider4's narrowing and drop cases, as a class): a value the merge would change by casting
 * it into a column type with a smaller modifier (numeric scale rounded, timestamp precision rounded,
 * varchar cut), on either side, is a conflict (merge_value_conflict, exit 4, nothing applied); a
 * value that fits merges as it is. A table or column the branch dropped conflicts only when the
 * target added or changed what the drop would lose (not for rows it deleted or NULLs it added). Expected rows written by hand; "nothing applied" judged by
 * fingerprints of the target's ordered rows.
 */
describe('ayb branch merge: schema changes against the other side\'s values', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const psql = (database: string, sql: string) => runPsql(cluster, database, { sql });
  const rows = async (database: string, table: string) =>
    (await cluster.query<{ t: string }>(`SELECT t::text AS t FROM ${table} t ORDER BY t::text COLLATE "C"`, [], database)).rows.map((r) => r.t);
  const scenario = async (database: string, sql: string, branch: string) => {
    await cluster.createDatabase(database);
    await psql(database, sql);
    const env = { AYB_DATABASE_URL: cluster.url(database), AYB_LOCK_TIMEOUT: '5s' };
    const ayb = await openAyb({ databaseUrl: env.AYB_DATABASE_URL, env: { AYB_LOCK_TIMEOUT: '5s' }, cwd: os.tmpdir() });
    await ayb.create(branch, { keepBase: true });
    return (...args: string[]) => runCli(args, { env });
  };

  it('main narrowed numeric(12,4) -> numeric(12,2) and timestamp -> timestamp(0) while the branch wrote digits they would round: refused, nothing applied', async () => {
    const cli = await scenario('ty_round', `
      CREATE TABLE t (id int PRIMARY KEY, n numeric(12,4), ts timestamp);
      INSERT INTO t VALUES (1, 1.5, '2024-01-01 12:00:00');
    `, 'tyr');
    await psql('ayb_branch_tyr', `INSERT INTO t VALUES (2, 1.2345, '2024-01-01 12:00:00');`);
    await psql('ayb_branch_tyr', `INSERT INTO t VALUES (3, 2.5, '2024-01-01 12:00:00.4');`);
    await psql('ty_round', `ALTER TABLE t ALTER COLUMN n TYPE numeric(12,2), ALTER COLUMN ts TYPE timestamp(0);`);
    const before = await fingerprint(cluster, 'ty_round');
    const merged = await cli('branch', 'merge', 'tyr', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(4);
    expect(merged.stdout + merged.stderr).toContain('merge_value_conflict');
    expect(await fingerprint(cluster, 'ty_round')).toEqual(before);
  });

  it('main narrowed varchar(10) -> varchar(5) and numeric(12,4) -> numeric(12,2) while the branch wrote values that fit: merged as they are', async () => {
    const cli = await scenario('ty_fits', `
      CREATE TABLE t (id int PRIMARY KEY, code varchar(10), n numeric(12,4));
      INSERT INTO t VALUES (1, 'a', 1.5);
    `, 'tyf');
    await psql('ayb_branch_tyf', `INSERT INTO t VALUES (2, 'abcde', 1.25); UPDATE t SET code = 'xy', n = 3 WHERE id = 1;`);
    await psql('ty_fits', `ALTER TABLE t ALTER COLUMN code TYPE varchar(5), ALTER COLUMN n TYPE numeric(12,2);`);
    const merged = await cli('branch', 'merge', 'tyf', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('ty_fits', 't')).toEqual(['(1,xy,3.00)', '(2,abcde,1.25)']);
  });

  it('the branch narrowed numeric(12,4) -> numeric(12,2) while main wrote a value it would round: refused, nothing applied; one that fits merges', async () => {
    const cli = await scenario('ty_brround', `
      CREATE TABLE t (id int PRIMARY KEY, n numeric(12,4));
      INSERT INTO t VALUES (1, 1.5);
    `, 'tybr');
    await psql('ayb_branch_tybr', `ALTER TABLE t ALTER COLUMN n TYPE numeric(12,2);`);
    await psql('ty_brround', `INSERT INTO t VALUES (2, 1.2345);`);
    const before = await fingerprint(cluster, 'ty_brround');
    const merged = await cli('branch', 'merge', 'tybr', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(4);
    expect(merged.stdout + merged.stderr).toContain('merge_value_conflict');
    expect(await fingerprint(cluster, 'ty_brround')).toEqual(before);
    await psql('ty_brround', `UPDATE t SET n = 1.25 WHERE id = 2;`);
    const again = await cli('branch', 'merge', 'tybr', '--json');
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    expect(await rows('ty_brround', 't')).toEqual(['(1,1.50)', '(2,1.25)']);
  });

  it('a column and a table the branch dropped, while main added rows with NULL in the column, deleted a row and changed other columns: no conflict, merged (nothing of main\'s is lost)', async () => {
    const cli = await scenario('ty_drop', `
      CREATE TABLE t (id int PRIMARY KEY, v text, gone text);
      INSERT INTO t VALUES (1, 'a', 'g1'), (2, 'b', 'g2'), (3, 'c', NULL);
      CREATE TABLE old (id int PRIMARY KEY, v text);
      INSERT INTO old VALUES (1, 'x'), (2, 'y');
    `, 'tyd');
    await psql('ayb_branch_tyd', `ALTER TABLE t DROP COLUMN gone; DROP TABLE old; UPDATE t SET v = 'theirs' WHERE id = 2;`);
    await psql('ty_drop', `INSERT INTO t VALUES (4, 'd', NULL); DELETE FROM t WHERE id = 3; UPDATE t SET v = 'ours' WHERE id = 1; DELETE FROM old WHERE id = 2;`);
    const merged = await cli('branch', 'merge', 'tyd', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    expect(await rows('ty_drop', 't')).toEqual(['(1,ours)', '(2,theirs)', '(4,d)']);
    expect((await cluster.query(`SELECT to_regclass('public.old') AS r`, [], 'ty_drop')).rows[0]).toEqual({ r: null });
  });
});
