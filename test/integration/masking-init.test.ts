import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { libpqEnv, loadPagila } from '../helpers/pagila.js';

/**
 * `ayb mask init` + `--masked` end to end on Pagila: the rules file it writes covers every column
 * that can hold text, and masked copies made with it (in place and in the stream) hold none of the
 * customers' emails, phones or street addresses, judged on pg_dump's output of each copy.
 */
describe('mask init on Pagila', () => {
  let cluster: TestCluster;
  let dir: string;
  let env: Record<string, string>;
  let originals: string[];
  const cli = (...args: string[]) => runCli([...args, '--config', path.join(dir, 'ayb.toml')], { env, cwd: dir });

  beforeAll(async () => {
    cluster = await startTestCluster();
    await loadPagila(cluster, 'pagila');
    dir = await mkdtemp(path.join(os.tmpdir(), 'ayb-mask-init-'));
    env = { AYB_DATABASE_URL: cluster.url('pagila'), AYB_MASKING_SECRET: 'pagila-init-secret-0123456789' };
    const rows = (await cluster.query<{ v: string }>(
      `SELECT lower(email) AS v FROM customer UNION SELECT lower(email) FROM staff WHERE email IS NOT NULL
       UNION SELECT phone FROM address WHERE length(phone) >= 8 UNION SELECT lower(address) FROM address`, [], 'pagila')).rows;
    originals = rows.map((r) => r.v);
  });
  afterAll(async () => {
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** Original values found in pg_dump's output of `database` (lower-cased). */
  async function inDump(database: string): Promise<string[]> {
    const dump = (await execa('pg_dump', ['--no-owner', database], { env: libpqEnv(cluster, database) })).stdout.toLowerCase();
    return originals.filter((o) => dump.includes(o));
  }

  it('writes rules for the personal columns and keep lines for the rest', async () => {
    const init = await runCli(['mask', 'init', '--file', path.join(dir, 'ayb.toml')], { env, cwd: dir });
    expect(init.exitCode, init.stderr).toBe(0);
    const toml = await readFile(path.join(dir, 'ayb.toml'), 'utf8');
    expect(toml).toMatch(/table = "customer"\ncolumn = "email"\nfunction = "email"/);
    expect(toml).toMatch(/table = "address"\ncolumn = "phone"\nfunction = "phone"/);
    expect(toml).toMatch(/"public\.film\.title", +# text$/m);
    expect(toml).not.toMatch(/TODO/);
    const again = await runCli(['mask', 'init', '--file', path.join(dir, 'ayb.toml')], { env, cwd: dir });
    expect(again.exitCode).toBe(4);
    const check = await cli('mask', 'check', '--json');
    expect(check.json()).toMatchObject({ ok: true, unmasked: [], uncovered: [], problems: [] });
  });

  it('a masked branch in place and one in the stream hold none of the originals', async () => {
    expect((await inDump('pagila')).length).toBe(originals.length);
    const inPlace = await cli('branch', 'create', 'dev', '--masked', '--json');
    expect(inPlace.exitCode, inPlace.stderr).toBe(0);
    const streamed = await cli('branch', 'create', 'ci', '--masked', '--from', cluster.url('pagila').replace('127.0.0.1', 'localhost'), '--json');
    expect(streamed.exitCode, streamed.stderr).toBe(0);
    expect(await inDump('ayb_branch_dev')).toEqual([]);
    expect(await inDump('ayb_branch_ci')).toEqual([]);
    // Both paths mask alike.
    const sql = 'SELECT customer_id, email, first_name FROM customer ORDER BY customer_id';
    expect((await cluster.query(sql, [], 'ayb_branch_ci')).rows).toEqual((await cluster.query(sql, [], 'ayb_branch_dev')).rows);
  });

  it('mask once, branch many: a masked snapshot of a URL, masked in the stream, and template branches of it', async () => {
    const url = cluster.url('pagila').replace('127.0.0.1', 'localhost');
    const snap = await cli('snapshot', 'create', 'prod', '--of', url, '--masked', '--json');
    expect(snap.exitCode, snap.stderr).toBe(0);
    expect(snap.json()).toMatchObject({ kind: 'snapshot', masked: true, strategy: 'dump', masking: { hits: 0 } });
    const dev = await cli('branch', 'create', 'from-prod', '--from', 'prod', '--json');
    expect(dev.exitCode, dev.stderr).toBe(0);
    expect(dev.json()).toMatchObject({ masked: true, strategy: 'template', snapshot: 'prod' });
    expect(await inDump('ayb_branch_from_prod')).toEqual([]);
    const sql = 'SELECT customer_id, email, first_name FROM customer ORDER BY customer_id';
    expect((await cluster.query(sql, [], 'ayb_branch_from_prod')).rows).toEqual((await cluster.query(sql, [], 'ayb_branch_dev')).rows);
  });
});
