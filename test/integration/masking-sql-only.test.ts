import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';

/** A table whose only rules need no key (sql expressions) is masked in place too. */
describe('masking a table with sql rules only', () => {
  let cluster: TestCluster;
  let dir: string;

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('keyless');
    await cluster.query("CREATE TABLE notes (id int PRIMARY KEY, body text, author text); INSERT INTO notes VALUES (1, 'secret plan', 'ada')", [], 'keyless');
    dir = await mkdtemp(path.join(os.tmpdir(), 'ayb-keyless-'));
  });
  afterAll(async () => {
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('an sql rule alone: the masked branch is made, with the values masked', async () => {
    const config = path.join(dir, 'ayb.toml');
    await writeFile(config, '[[masking.rules]]\ntable = "notes"\ncolumn = "body"\nfunction = "sql"\nargs = { expression = "upper(body)" }\n');
    const env = { AYB_DATABASE_URL: cluster.url('keyless'), AYB_MASKING_SECRET: 'keyless-secret-0123456789' };
    const made = await runCli(['branch', 'create', 'keyless-masked', '--masked', '--strategy', 'template', '--config', config], { env });
    expect(made.exitCode, made.stderr).toBe(0);
    const { rows } = await cluster.query('SELECT body, author FROM notes', [], 'ayb_branch_keyless_masked');
    expect(rows).toEqual([{ body: 'SECRET PLAN', author: 'ada' }]);
    expect((await runCli(['branch', 'delete', 'keyless-masked', '--yes'], { env })).exitCode).toBe(0);
  });
});
