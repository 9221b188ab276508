import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { startServer, type RunningServer } from '../helpers/server.js';

/**
 * A create through the admin API is a template copy of main when main is idle: the request's own
 * session on main must be let go before the copy, as the CLI's is. (It was not: ayb's own session
 * made `--strategy template` fail and `auto` fall back to a dump.) Judged by pg_database.
 */
describe('admin API create from an idle main', () => {
  let cluster: TestCluster;
  let server: RunningServer;
  let token: string;
  const PASSWORD = 'template-copy-test';

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await cluster.query("CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items VALUES (1), (2)", [], 'app');
    server = await startServer([], { env: { AYB_DATABASE_URL: cluster.url('app'), AYB_ADMIN_PASSWORD: PASSWORD } });
    token = await server.login(PASSWORD);
  });
  afterAll(async () => {
    await server?.stop();
    await cluster?.stop();
  });

  it('strategy template succeeds, and auto picks template', async () => {
    const forced = await server.fetch('/api/admin/branches', { method: 'POST', token, json: { name: 'forced', strategy: 'template' } });
    expect(forced.status, await forced.clone().text()).toBe(201);
    const auto = await server.fetch('/api/admin/branches', { method: 'POST', token, json: { name: 'auto' } });
    expect(auto.status).toBe(201);
    expect(await auto.json()).toMatchObject({ strategy: 'template' });
    const { rows } = await cluster.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'ayb_branch_%' ORDER BY 1", [], 'postgres');
    expect(rows.map((r) => r.datname)).toEqual(['ayb_branch_auto', 'ayb_branch_forced']);
    const copied = await cluster.query<{ n: string }>('SELECT count(*)::text AS n FROM items', [], 'ayb_branch_auto');
    expect(copied.rows[0]!.n).toBe('2');
  });
});
