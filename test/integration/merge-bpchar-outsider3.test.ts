import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { runPsql } from '../helpers/pagila.js';

/**
 * bpchar without a length keeps trailing spaces, but its cast to text drops them (rtrim). The merge read
 * rows as `col::text` and so wrote 'x' where the branch had 'x  '. The judge: each value's bytes as
 * bpchar's send function writes them (not a text of ayb's), on main after the merge, against the same
 * statements run on an independent database.
 */
describe('ayb branch merge: bpchar trailing spaces', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const SCHEMA = `
    CREATE DOMAIN public.dbp AS bpchar;
    CREATE TABLE public.k (id int PRIMARY KEY, c bpchar, d public.dbp, f character(4));
    INSERT INTO public.k VALUES (1, 'x', 'y', 'z'), (2, 'p', 'q', 'r');
  `;
  const BRANCH = `
    UPDATE public.k SET c = 'x  ', d = 'y ' WHERE id = 1;
    INSERT INTO public.k VALUES (3, ' s  ', 't   ', 'u ');
    CREATE TABLE public.fresh (c bpchar);
    INSERT INTO public.fresh VALUES ('a  '), (NULL);
  `;
  const bytes = async (db: string, table: string) => (await cluster.query<{ r: string }>(
    `SELECT pg_catalog.concat_ws('|', ${table === 'public.k' ? "id, encode(bpcharsend(c), 'hex'), encode(bpcharsend(d), 'hex'), encode(bpcharsend(f), 'hex')" : "encode(bpcharsend(c), 'hex')"}) AS r FROM ${table} ORDER BY 1`, [], db)).rows.map((x) => x.r);

  it('values whose trailing spaces the branch changed or added arrive with their spaces (keyed table, domain, a table the branch created)', async () => {
    await cluster.createDatabase('m_bp');
    await runPsql(cluster, 'm_bp', { sql: SCHEMA });
    const env = { AYB_DATABASE_URL: cluster.url('m_bp'), AYB_LOCK_TIMEOUT: '5s' };
    const ayb = (...args: string[]) => runCli(args, { env });
    expect((await ayb('branch', 'create', 'bp', '--keep-base')).exitCode).toBe(0);
    await runPsql(cluster, 'ayb_branch_bp', { sql: BRANCH });
    await cluster.createDatabase('m_bp_expected');
    await runPsql(cluster, 'm_bp_expected', { sql: SCHEMA + BRANCH });

    const merged = await ayb('branch', 'merge', 'bp', '--json');
    expect(merged.exitCode, merged.stdout + merged.stderr).toBe(0);
    for (const table of ['public.k', 'public.fresh']) expect(await bytes('m_bp', table), table).toEqual(await bytes('m_bp_expected', table));
    // The judge is not blind: the spaces are in the bytes it compares.
    expect(await bytes('m_bp_expected', 'public.k')).toContain(`1|${Buffer.from('x  ').toString('hex')}|${Buffer.from('y ').toString('hex')}|${Buffer.from('z   ').toString('hex')}`);
  });
});
