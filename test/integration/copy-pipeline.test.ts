import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAyb } from '../../src/lib/index.js';
import { runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';

/**
 * One copy pipeline: the source parsed once at the edge (copy/source-ref.ts) and the masking decided
 * once in the domain, so the CLI, the admin API and the library answer alike.
 */
describe('copy pipeline: one source parser, one masking decision', () => {
  let cluster: TestCluster;
  let dir: string;
  let env: Record<string, string>;
  const databases = async () =>
    (await cluster.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'ayb\\_%' ORDER BY 1")).rows.map((r) => r.datname);

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await cluster.query("CREATE TABLE people (id int PRIMARY KEY, email text); INSERT INTO people VALUES (1, 'a@real.example')", [], 'app');
    dir = await mkdtemp(path.join(os.tmpdir(), 'ayb-copy-pipeline-'));
    // The secret from a file: the library reads it wherever it runs.
    await writeFile(path.join(dir, 'secret'), 'pipeline-secret-0123456789\n', { mode: 0o600 });
    await writeFile(path.join(dir, 'ayb.toml'), '[masking]\nrequired = true\nsecret_file = "secret"\n[[masking.rules]]\ntable = "people"\ncolumn = "email"\nfunction = "email"\n');
    env = { AYB_DATABASE_URL: cluster.url('app') };
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('the library refuses an unmasked copy where every copy is masked, as the admin API does, and makes nothing', async () => {
    const ayb = await openAyb({ cwd: dir, env: { ...process.env, ...env } });
    await expect(ayb.create('unmasked', { masked: false })).rejects.toMatchObject({ code: 'masking_required' });
    await expect(ayb.snapshot('unmasked-snap', { masked: false })).rejects.toMatchObject({ code: 'masking_required' });
    expect(await databases()).toEqual([]);
    const masked = await ayb.create('masked-dev');
    expect(masked).toMatchObject({ masked: true });
    const emails = (await cluster.query<{ email: string }>('SELECT email FROM people', [], 'ayb_branch_masked_dev')).rows.map((r) => r.email);
    expect(emails).toHaveLength(1);
    expect(emails[0]).not.toBe('a@real.example');
  });

  it('mask check of a past moment says it is one (exit 2), rather than calling main@… a bad branch name', async () => {
    const result = await runCli(['mask', 'check', '--from', 'main@-1h', '--json'], { env, cwd: dir });
    expect(result.exitCode).toBe(2);
    expect(result.stderr + result.stdout).toMatch(/invalid_point_in_time/);
    expect(result.stderr + result.stdout).not.toMatch(/invalid_name/);
  });
});
