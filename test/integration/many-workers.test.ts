import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { startServer, type RunningServer } from '../helpers/server.js';

interface Outcome {
  readonly op: string;
  readonly name: string;
  readonly status: number;
  readonly code?: string;
}

/**
 * Eight clients of one `ayb start` at once (the admin API: one process, a session per request), each
 * making a branch, a branch of that branch, and fighting the others over shared names and over
 * branches of shared branches while they are deleted, listing as it goes. agent-workers.test.ts
 * covers eight library processes on flat names; this covers one server's concurrent requests and
 * parents deleted while children of them are made.
 *
 * Judged by the server's catalog (pg_database) and the control table read with SQL of our own: every
 * ayb_branch_* database has a ready record and every record its database, no child outlives its
 * parent, no advisory lock is left, and every refusal is a conflict or a not-found (never a 500).
 */
describe('8 concurrent clients of the admin API creating and deleting', () => {
  let cluster: TestCluster;
  let server: RunningServer;
  let token: string;
  const PASSWORD = 'many-workers-test';

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await cluster.query("CREATE TABLE items (id int PRIMARY KEY, note text); INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 20) g", [], 'app');
    server = await startServer([], { env: { AYB_DATABASE_URL: cluster.url('app'), AYB_ADMIN_PASSWORD: PASSWORD } });
    token = await server.login(PASSWORD);
    const seed = await server.fetch('/api/admin/snapshots', { method: 'POST', token, json: { name: 'seed' } });
    expect(seed.status, await seed.clone().text()).toBe(201);
  });
  afterAll(async () => {
    await server?.stop();
    await cluster?.stop();
  });

  it('keep the records, the databases and the parents in agreement', async () => {
    const outcomes: Outcome[] = [];
    const call = async (op: string, name: string, method: string, path: string, json?: unknown) => {
      const response = await server.fetch(path, { method, token, json });
      const body = (await response.json()) as { code?: string; branches?: { name: string }[] };
      outcomes.push({ op, name, status: response.status, code: response.status >= 400 ? body.code : undefined });
      return { status: response.status, body };
    };
    const listedTwice: string[][] = [];
    const worker = async (w: number) => {
      for (let round = 0; round < 2; round++) {
        const own = `w${w}-${round}`;
        const shared = `s-${round}`;
        await call('create', own, 'POST', '/api/admin/branches', { name: own, from: 'seed' });
        await call('create', `${own}-c`, 'POST', '/api/admin/branches', { name: `${own}-c`, from: own });
        await call('create', shared, 'POST', '/api/admin/branches', { name: shared, from: 'seed' });
        await call('create', `${shared}-c${w}`, 'POST', '/api/admin/branches', { name: `${shared}-c${w}`, from: shared });
        await call('delete-parent', own, 'DELETE', `/api/admin/branches/${own}`);
        const { body } = await call('list', '', 'GET', '/api/admin/branches');
        const names = (body.branches ?? []).map((b) => b.name);
        if (new Set(names).size !== names.length) listedTwice.push(names);
        await call('delete', own, 'DELETE', `/api/admin/branches/${own}?with_children=true`);
        await call('delete', shared, 'DELETE', `/api/admin/branches/${shared}?with_children=true&force=true`);
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));

    expect(outcomes.filter((o) => o.status >= 500)).toEqual([]);
    expect(listedTwice).toEqual([]);
    // Own names nobody else touches: made, refused as a parent with a child, then deleted with it.
    const own = outcomes.filter((o) => /^w\d-\d(-c)?$/.test(o.name));
    for (const o of own) {
      if (o.op === 'create') expect(o, JSON.stringify(o)).toMatchObject({ status: 201 });
      if (o.op === 'delete-parent') expect(o).toMatchObject({ status: 409, code: 'branch_has_children' });
      if (o.op === 'delete') expect(o).toMatchObject({ status: 200 });
    }
    // Shared names: each outcome is a success, a conflict or a not-found.
    for (const o of outcomes.filter((x) => x.name.startsWith('s-'))) {
      expect([200, 201, 404, 409], JSON.stringify(o)).toContain(o.status);
    }
    expect(outcomes.filter((o) => o.op === 'list').every((o) => o.status === 200)).toBe(true);

    // The server's view against the records, read with SQL of our own.
    const databases = (await cluster.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'ayb\\_branch\\_%' ORDER BY 1", [], 'postgres')).rows.map((r) => r.datname);
    const records = (await cluster.query<{ branch_database: string; status: string }>("SELECT branch_database, status FROM _ayb_branches WHERE kind = 'branch' ORDER BY 1", [], 'app')).rows;
    expect(records.filter((r) => r.status !== 'ready')).toEqual([]);
    expect(databases).toEqual(records.map((r) => r.branch_database));
    expect(databases.filter((d) => d.startsWith('ayb_branch_w'))).toEqual([]);
    const orphans = await cluster.query(
      `SELECT c.name FROM _ayb_branches c
        WHERE c.source_database LIKE 'ayb\\_branch\\_%'
          AND NOT EXISTS (SELECT 1 FROM _ayb_branches p WHERE p.branch_database = c.source_database)`, [], 'app');
    expect(orphans.rows).toEqual([]);
    expect((await cluster.query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory'", [], 'postgres')).rowCount).toBe(0);
  });
});
