import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { waitUntil } from '../helpers/gate.js';
import { openAyb } from '../../src/lib/index.js';

/**
 * The busy check of a template copy (issue 28): a session of ayb's own on main (another ayb
 * process's command, or this one's session just closed, still in pg_stat_activity while its backend
 * exits) is not a user. A create of an idle main waits for it to leave and copies by template; it
 * fell back to a dump (seconds) before. Judged by the strategy recorded and the rows counted in the
 * copy by the server; a session of anything else still sends auto to a dump at once.
 */
describe('busy check of a copy of main', () => {
  let cluster: TestCluster;
  let url: string;

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await cluster.query("CREATE TABLE items (id int PRIMARY KEY, note text); INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 20) g", [], 'app');
    url = cluster.url('app');
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('an ayb session on main that ends while the create checks does not make it dump', async () => {
    const ayb = await openAyb({ databaseUrl: url });
    await ayb.create('warm-up'); // the control table made, so the create below does only its own work
    const holder = new pg.Client({ connectionString: url, application_name: 'ayb' });
    await holder.connect();
    let holderEnded = false;
    try {
      const created = ayb.create('while-ayb-on-main');
      // The create has looked at main's sessions (a query on pg_stat_activity from ayb's maintenance
      // session) and seen the holder: only then does the holder leave, as a finished command would.
      await waitUntil('the create to check the sessions on main', async () => {
        const { rows } = await cluster.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname IN ('postgres', 'template1') AND application_name = 'ayb' AND query LIKE '%pg_stat_activity%' AND pid <> pg_backend_pid()`,
          [], 'postgres');
        return rows[0]!.n > 0;
      });
      await holder.end();
      holderEnded = true;
      const branch = await created;
      expect(branch.strategy).toBe('template');
      const { rows } = await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM items', [], 'ayb_branch_while_ayb_on_main');
      expect(rows[0]!.n).toBe(20);
    } finally {
      if (!holderEnded) await holder.end().catch(() => undefined);
      await ayb.delete('while-ayb-on-main').catch(() => undefined);
      await ayb.delete('warm-up').catch(() => undefined);
    }
  });

  it('a session of anything else on main still makes auto dump at once', async () => {
    const ayb = await openAyb({ databaseUrl: url });
    const user = new pg.Client({ connectionString: url, application_name: 'someone' });
    await user.connect();
    try {
      const branch = await ayb.create('while-user-on-main');
      expect(branch.strategy).toBe('dump');
      const { rows } = await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM items', [], 'ayb_branch_while_user_on_main');
      expect(rows[0]!.n).toBe(20);
    } finally {
      await user.end();
      await ayb.delete('while-user-on-main').catch(() => undefined);
    }
  });
});
