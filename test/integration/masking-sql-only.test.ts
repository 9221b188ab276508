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
    // (upper(body) was the rule here: the verification after the copy now refuses it, rightly, since
    // the original is still there in capitals; see the next test.)
    const config = path.join(dir, 'ayb.toml');
    await writeFile(config, `[masking]\nkeep = ["notes.author"]\n[[masking.rules]]\ntable = "notes"\ncolumn = "body"\nfunction = "sql"\nargs = { expression = "left(body, 1) || repeat('*', length(body) - 1)" }\n`);
    const env = { AYB_DATABASE_URL: cluster.url('keyless'), AYB_MASKING_SECRET: 'keyless-secret-0123456789' };
    const made = await runCli(['branch', 'create', 'keyless-masked', '--masked', '--strategy', 'template', '--config', config], { env });
    expect(made.exitCode, made.stderr).toBe(0);
    const { rows } = await cluster.query('SELECT body, author FROM notes', [], 'ayb_branch_keyless_masked');
    expect(rows).toEqual([{ body: 's**********', author: 'ada' }]);
    expect((await runCli(['branch', 'delete', 'keyless-masked', '--yes'], { env })).exitCode).toBe(0);
  });

  it('a rule that leaves the original readable (upper) fails the verification: no copy is kept', async () => {
    const config = path.join(dir, 'upper.toml');
    await writeFile(config, '[masking]\nkeep = ["notes.author"]\n[[masking.rules]]\ntable = "notes"\ncolumn = "body"\nfunction = "sql"\nargs = { expression = "upper(body)" }\n');
    const env = { AYB_DATABASE_URL: cluster.url('keyless'), AYB_MASKING_SECRET: 'keyless-secret-0123456789' };
    const made = await runCli(['branch', 'create', 'upper', '--masked', '--strategy', 'template', '--json', '--config', config], { env });
    expect(made.exitCode).toBe(5);
    expect(made.json().error).toMatchObject({ code: 'masking_verification_failed', hits: [{ place: 'public.notes.body', values: 1 }] });
    expect((await cluster.query("SELECT 1 FROM pg_database WHERE datname = 'ayb_branch_upper'", [], 'postgres')).rows).toEqual([]);
    // Judged independently: the original, in any case, is in no database but the source.
    const { rows } = await cluster.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'ayb_%'", [], 'postgres');
    for (const { datname } of rows) {
      expect((await cluster.query("SELECT 1 FROM notes WHERE lower(body) = 'secret plan'", [], datname)).rows).toEqual([]);
    }
  });
});
