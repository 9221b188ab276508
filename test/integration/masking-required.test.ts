import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';

/** `[masking] required = true`: every branch and snapshot is masked, and stays masked through a reset. */
describe('masking required', () => {
  let cluster: TestCluster;
  let config: string;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCli([...args, '--config', config], { env });
  const emails = async (database: string) =>
    (await cluster.query<{ email: string }>('SELECT email FROM people ORDER BY id', [], database)).rows.map((r) => r.email);

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await cluster.query(`CREATE TABLE people (id int PRIMARY KEY, email text UNIQUE, ssn text, nick text, profile jsonb);
      INSERT INTO people SELECT g, 'person' || g || '@real.example', '123-45-' || lpad(g::text, 4, '0'), 'nick' || g,
        jsonb_build_object('ip', '10.0.0.' || g, 'theme', 'dark', 'seen', ('2024-01-01'::date + g)::text) FROM generate_series(1, 20) g`, [], 'app');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ayb-mask-required-'));
    config = path.join(dir, 'ayb.toml');
    await writeFile(config, '[masking]\nrequired = true\n[[masking.rules]]\ntable = "people"\ncolumn = "email"\nfunction = "email"\n[[masking.rules]]\ntable = "people"\ncolumn = "ssn"\nfunction = "redact"\nargs = { keep_last = 2 }\n' +
      '[[masking.rules]]\ntable = "people"\ncolumn = "nick"\nfunction = "sql"\nargs = { expression = "upper(left(nick, 1)) || repeat(\'*\', length(nick) - 1)" }\n' +
      '[[masking.rules]]\ntable = "people"\ncolumn = "profile"\nfunction = "json_keys"\nargs = { keys = ["ip"], function = "redact" }\n');
    env = { AYB_DATABASE_URL: cluster.url('app'), AYB_MASKING_SECRET: 'required-secret-0123456789' };
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('masks a snapshot and a branch made without --masked', async () => {
    const snap = await cli('snapshot', 'create', 'nightly', '--json');
    expect(snap.exitCode, snap.stderr).toBe(0);
    expect(snap.json()).toMatchObject({ kind: 'snapshot', masked: true });
    const branch = await cli('branch', 'create', 'dev', '--json');
    expect(branch.json()).toMatchObject({ masked: true });
    const masked = await emails('ayb_branch_dev');
    expect(masked.some((e) => e.endsWith('@real.example'))).toBe(false);
    expect(new Set(masked).size).toBe(20);
    const ssn = (await cluster.query<{ ssn: string }>('SELECT ssn FROM people WHERE id = 7', [], 'ayb_branch_dev')).rows[0]!.ssn;
    expect(ssn).toMatch(/^\d{3}-\d{2}-\d{2}07$/);
    expect(ssn).not.toBe('123-45-0007');
  });

  it('copies a masked snapshot as it is (no second masking), and re-masks a branch on reset', async () => {
    const fromSnap = await cli('branch', 'create', 'ci', '--from', 'nightly', '--json');
    expect(fromSnap.json()).toMatchObject({ masked: true, snapshot: 'nightly' });
    expect(await emails('ayb_branch_ci')).toEqual(await emails('ayb_branch_dev'));

    await cluster.query("UPDATE people SET email = 'changed@real.example' WHERE id = 1", [], 'app');
    const reset = await cli('branch', 'reset', 'dev', '--json');
    expect(reset.exitCode, reset.stderr).toBe(0);
    const after = await emails('ayb_branch_dev');
    expect(after.some((e) => e.endsWith('@real.example'))).toBe(false);
    expect(after.slice(1)).toEqual((await emails('ayb_branch_ci')).slice(1));
    expect(after[0]).not.toBe((await emails('ayb_branch_ci'))[0]);
    const shown = await cli('branch', 'show', 'dev', '--json');
    expect(shown.json()).toMatchObject({ masked: true });
  });

  it('masks a copy from another server in the stream, sql and json_keys rules included, exactly as in place', async () => {
    await cluster.query("UPDATE people SET email = 'person1@real.example' WHERE id = 1", [], 'app');
    await cli('branch', 'reset', 'dev');
    const remote = await cli('branch', 'create', 'remote', '--from', cluster.url('app').replace('127.0.0.1', 'localhost'), '--json');
    expect(remote.exitCode, remote.stderr).toBe(0);
    expect(remote.json()).toMatchObject({ masked: true, strategy: 'dump' });
    const all = 'SELECT id, email, ssn, nick, profile FROM people ORDER BY id';
    const streamed = (await cluster.query(all, [], 'ayb_branch_remote')).rows;
    expect(streamed).toEqual((await cluster.query(all, [], 'ayb_branch_dev')).rows);
    expect(streamed[4]).toMatchObject({ nick: 'N****' });
    expect(streamed[4].profile.ip).toMatch(/^\d+\.\d\.\d\.\d$/);
    expect(streamed[4].profile.ip).not.toBe('10.0.0.5');
    expect(streamed[4].profile.theme).toBe('dark');
  });
});
