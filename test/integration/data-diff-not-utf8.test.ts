import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { runPsql } from '../helpers/pagila.js';

/**
 * Issue 24 (outsider 4): a SQL_ASCII main whose text holds bytes that are not UTF-8 (LATIN1 é, è).
 * The data diff reads rows as UTF-8 text and cannot keep such bytes exact; it refuses by name
 * (exit 4, data_not_utf8, with a hint) rather than stopping at a raw PostgreSQL 22021 (exit 5,
 * database_error). Judged by the exit code and the JSON error document.
 */
describe('ayb branch diff --data: a SQL_ASCII database with bytes that are not UTF-8', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.query("CREATE DATABASE legacy ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0", [], 'postgres');
    await runPsql(cluster, 'legacy', { sql: "CREATE TABLE t (k text PRIMARY KEY, v int); INSERT INTO t VALUES (E'caf\\xe9', 1), (E'caf\\xe8', 2);" });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('refuses with data_not_utf8 (exit 4) and a hint, --json and --output sql alike', async () => {
    const env = { AYB_DATABASE_URL: cluster.url('legacy') };
    const made = await runCli(['branch', 'create', 'lg', '--strategy', 'template'], { env });
    expect(made.exitCode, made.stderr).toBe(0);
    await runPsql(cluster, 'ayb_branch_lg', { sql: "UPDATE t SET v = 20 WHERE k = E'caf\\xe8';" });
    for (const extra of [['--json'], ['--output', 'sql']]) {
      const out = await runCli(['branch', 'diff', 'main', 'lg', '--data', ...extra], { env });
      expect(out.exitCode, out.stderr).toBe(4);
      expect(`${out.stderr}${out.stdout}`).toMatch(/data_not_utf8|not valid UTF-8/);
      expect(out.stdout).not.toMatch(/INSERT|UPDATE|DELETE/);
    }
  });
});
