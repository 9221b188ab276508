import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { startServer, type RunningServer } from '../helpers/server.js';

/**
 * `ayb start --pooler`: an agent connected to a branch through the PgBouncer ayb runs (idle, between
 * transactions) while a branch of that branch is made. Without the pooler the copy finds the agent's
 * session on the source and falls back to a dump; with it, the source is paused in the pooler for the
 * copy, so the copy is a template copy and the agent's connection survives and works after.
 *
 * Judged by the server, not ayb's record: a template copy (a file copy) keeps the tables' OIDs
 * (pg_class.oid), which a dump restored into a new database never does; the agent's server
 * session is found in pg_stat_activity under its application_name.
 */
describe('a busy parent branched through the pooler', () => {
  let cluster: TestCluster;
  let server: RunningServer;
  let token: string;
  const PASSWORD = 'pooler-test';

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await cluster.query("CREATE TABLE items (id int PRIMARY KEY, note text); INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 50) g", [], 'app');
    server = await startServer(['--pooler'], { env: { AYB_DATABASE_URL: cluster.url('app'), AYB_ADMIN_PASSWORD: PASSWORD } });
    token = await server.login(PASSWORD);
  });
  afterAll(async () => {
    await server?.stop();
    await cluster?.stop();
  });

  const post = async (json: unknown) => {
    const response = await server.fetch('/api/admin/branches', { method: 'POST', token, json });
    const body = (await response.json()) as Record<string, unknown>;
    expect(response.status, JSON.stringify(body)).toBe(201);
    return body;
  };
  const itemsOid = async (database: string) => (await cluster.query<{ oid: string }>("SELECT 'items'::regclass::oid::text AS oid", [], database)).rows[0]!.oid;

  it('the API gives branch URLs through the pooler, not the server', async () => {
    await post({ name: 'work' });
    const { url } = (await (await server.fetch('/api/admin/branches/work/url', { token })).json()) as { url: string };
    const serverPort = new URL(cluster.url('app')).port;
    expect(new URL(url).port).not.toBe(serverPort);
    expect(new URL(url).pathname).toBe('/ayb_branch_work');
  });

  it('a create from a branch with an idle client on it is a template copy, and the client keeps working', async () => {
    const { url } = (await (await server.fetch('/api/admin/branches/work/url', { token })).json()) as { url: string };
    const agent = new pg.Client({ connectionString: url, application_name: 'pooled-agent' });
    const errors: Error[] = [];
    agent.on('error', (error) => errors.push(error));
    await agent.connect();
    await agent.query("INSERT INTO items VALUES (1000, 'agent row')");
    // Idle between transactions, connected: the pooler holds a server session of its pool on the branch.
    const before = await cluster.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = 'ayb_branch_work'", [], 'postgres');
    expect(before.rows[0]!.n).toBeGreaterThan(0);

    const child = await post({ name: 'child', from: 'work' });
    expect(child).toMatchObject({ name: 'child', parent: 'work', strategy: 'template' });
    expect(await itemsOid('ayb_branch_child')).toBe(await itemsOid('ayb_branch_work'));
    const copied = await cluster.query<{ note: string }>('SELECT note FROM items WHERE id = 1000', [], 'ayb_branch_child');
    expect(copied.rows).toEqual([{ note: 'agent row' }]);

    // The same client, never disconnected, goes on.
    const after = await agent.query<{ n: number }>('SELECT count(*)::int AS n FROM items');
    expect(after.rows).toEqual([{ n: 51 }]);
    await agent.query("INSERT INTO items VALUES (1001, 'after the copy')");
    expect((await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM items WHERE id = 1001', [], 'ayb_branch_work')).rows).toEqual([{ n: 1 }]);
    expect(errors).toEqual([]);
    await agent.end();
  });

  it('the same client connected straight to the server (no pooler) still makes the copy a dump', async () => {
    const direct = new pg.Client({ connectionString: cluster.url('ayb_branch_work'), application_name: 'direct-agent' });
    await direct.connect();
    try {
      const child = await post({ name: 'child-direct', from: 'work' });
      expect(child).toMatchObject({ strategy: 'dump' });
      expect(await itemsOid('ayb_branch_child_direct')).not.toBe(await itemsOid('ayb_branch_work'));
    } finally {
      await direct.end();
    }
  });
});
