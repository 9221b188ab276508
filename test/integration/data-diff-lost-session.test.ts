import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import type { TestCluster } from '../helpers/cluster.js';
import { dbOf, type DataDiffHarness, startDataDiff } from '../helpers/data-diff-round-trip.js';

/**
 * Issue 24: a session of the data diff that the server ends (b's own idle_in_transaction_session_timeout,
 * pg_terminate_backend, a restart) ended in `"code": "unexpected"`, exit 1, which is what `--exit-code`
 * means by "rows differ": a CI gate read a lost session as a difference. Made deterministic: main's table
 * is locked, so the diff waits on main's side (in its catalog read) while its session on the branch sits
 * idle in its transaction; that session is ended from outside, then the lock released.
 */
describe('ayb branch diff --data: a session the server ends', () => {
  let cluster: TestCluster;
  let h: DataDiffHarness;
  beforeAll(async () => {
    ({ cluster, h } = await startDataDiff('CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, \'a\');', { foreign: [], otherForeign: [] }));
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('the branch\'s session ended while the diff waits on main: connection_lost, exit 5 (not 1, "rows differ")', async () => {
    await h.branch('lost', "UPDATE t SET v = 'b';");
    const holder = new pg.Client({ connectionString: cluster.url('app') });
    await holder.connect();
    try {
      await holder.query('BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE');
      const diff = runCli(['branch', 'diff', 'main', 'lost', '--data', '--exit-code', '--json'], { env: { AYB_DATABASE_URL: cluster.url('app') } });
      // Wait (by the server's own account, no sleep) until the diff's session on main waits for the lock
      // and its session on the branch sits idle in its transaction; then end the latter.
      let ended = false;
      for (const deadline = Date.now() + 60_000; Date.now() < deadline && !ended;) {
        const { rows } = await holder.query<{ pid: number }>(
          `SELECT b.pid FROM pg_stat_activity b
            WHERE b.datname = $1 AND b.state IN ('idle', 'idle in transaction') AND b.backend_type = 'client backend'
              AND EXISTS (SELECT FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND a.datname = 'app')`,
          [dbOf('lost')],
        );
        if (rows.length === 1) {
          await holder.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
          ended = true;
        } else {
          await holder.query('SELECT pg_stat_clear_snapshot()');
        }
      }
      if (!ended) console.error((await holder.query("SELECT datname, state, wait_event_type, left(query, 80) AS q FROM pg_stat_activity WHERE datname IS NOT NULL")).rows);
      expect(ended).toBe(true);
      await holder.query('COMMIT');
      const out = await diff;
      expect(out.exitCode, out.stdout + out.stderr).toBe(5);
      expect(JSON.parse(out.stdout || out.stderr)).toMatchObject({ error: { code: 'connection_lost' } });
    } finally {
      await holder.end().catch(() => undefined);
    }
  });
});
