import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { holdGate, dumpWaitingAtGate } from '../helpers/gate.js';
import { startServer, type RunningServer } from '../helpers/server.js';

const PASSWORD = 'correct horse battery staple';




async function databaseExists(cluster: TestCluster, name: string): Promise<boolean> {
  const { rowCount } = await cluster.query('SELECT 1 FROM pg_database WHERE datname = $1', [name], 'postgres');
  return (rowCount ?? 0) > 0;
}

describe('ayb start: HTTP API', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  let server: RunningServer;
  let token: string;

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await cluster.query(
      `CREATE TABLE items (id serial PRIMARY KEY, label text NOT NULL);
       INSERT INTO items (label) VALUES ('one'), ('two'), ('three');
       CREATE SCHEMA billing; CREATE TABLE billing.invoices (id int);`,
      [],
      'app',
    );
    env = { AYB_DATABASE_URL: cluster.url('app'), AYB_ADMIN_PASSWORD: PASSWORD };
    server = await startServer([], { env });
    token = await server.login(PASSWORD);
  });
  afterAll(async () => {
    if (server) {
      const stopped = await server.stop('SIGTERM');
      expect(stopped.exitCode).toBe(0);
    }
    await cluster?.stop();
  });

  it('prints where it listens, what it serves and its URL without the password', () => {
    expect(server.stdout()).toMatch(/^ayb listening on http:\/\/127\.0\.0\.1:\d+ — serving database app \(main\)$/m);
    expect(server.stdout()).toMatch(/Database URL +postgres:\/\/ayb:\*{8}@127\.0\.0\.1:\d+\/app$/m);
    expect(server.stdout()).toContain('ayb branch url main');
    const output = server.stdout() + server.stderr();
    expect(output).not.toContain(cluster.conn.password!);
    // An explicit password is never printed.
    expect(output).not.toContain(PASSWORD);
  });

  it('GET /health says which database and branch it serves', async () => {
    const response = await server.fetch('/health');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok', database: 'app', branch: null, pid: server.pid });
  });

  it('answers 401 on every admin route without a valid token', async () => {
    const routes: [string, string, unknown?][] = [
      ['GET', '/api/admin/branches'],
      ['POST', '/api/admin/branches', { name: 'sneaky' }],
      ['GET', '/api/admin/branches/sneaky'],
      ['DELETE', '/api/admin/branches/sneaky'],
      ['GET', '/api/admin/database'],
      ['GET', '/api/admin/branches/sneaky/url'],
      ['GET', '/api/admin/branches/sneaky/data-diff'],
      ['POST', '/api/admin/branches/sneaky/reset', {}],
      ['POST', '/api/admin/branches/sneaky/expire', { never: true }],
      ['GET', '/api/admin/diff?to=sneaky'],
      ['GET', '/api/admin/snapshots'],
      ['POST', '/api/admin/snapshots', { name: 'sneaky' }],
      ['DELETE', '/api/admin/snapshots/sneaky'],
      ['GET', '/api/admin/no-such-route'],
      ['PUT', '/api/admin/branches'],
      ['GET', '/api/admin'],
    ];
    for (const badToken of [undefined, 'garbage', `${token}x`]) {
      for (const [method, path, json] of routes) {
        const response = await server.fetch(path, { method, json, token: badToken });
        expect(response.status, `${method} ${path} with token ${badToken}`).toBe(401);
        const body = await response.json();
        expect(body.code).toBe(badToken ? 'invalid_token' : 'unauthorized');
        expect(typeof body.message).toBe('string');
      }
    }
    expect(await cluster.query("SELECT 1 FROM pg_database WHERE datname = 'ayb_branch_sneaky'")).toHaveProperty('rowCount', 0);
  });

  it('POST /api/admin/auth: wrong password 401, bad body 400, right password a token', async () => {
    const wrong = await server.fetch('/api/admin/auth', { method: 'POST', json: { password: 'nope' } });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ code: 'invalid_password' });
    for (const body of ['{"password": 1}', '{}', '{"password": "x", "extra": 1}', 'not json', '']) {
      const response = await server.fetch('/api/admin/auth', { method: 'POST', body, headers: { 'Content-Type': 'application/json' } });
      expect(response.status, body).toBe(400);
      expect((await response.json()).code).toMatch(/^invalid_(body|json)$/);
    }
    const before = Date.now();
    const right = await server.fetch('/api/admin/auth', { method: 'POST', json: { password: PASSWORD } });
    const after = Date.now();
    expect(right.status).toBe(200);
    const { token: fresh, expires_at: expiresAt } = await right.json();
    expect(fresh).toEqual(expect.any(String));
    // The default lifetime, 60 minutes from the moment of the login.
    expect(Date.parse(expiresAt)).toBeGreaterThanOrEqual(before + 60 * 60_000);
    expect(Date.parse(expiresAt)).toBeLessThanOrEqual(after + 60 * 60_000);
  });

  it('creates, lists, shows and deletes a branch with the same records as the CLI', async () => {
    const created = await server.fetch('/api/admin/branches', { method: 'POST', token, json: { name: 'feature-auth' } });
    expect(created.status).toBe(201);
    const record = await created.json();
    expect(record).toMatchObject({ name: 'feature-auth', branch_database: 'ayb_branch_feature_auth', source_database: 'app', status: 'ready' });
    const rows = await cluster.query('SELECT count(*)::int AS n FROM items', [], 'ayb_branch_feature_auth');
    expect(rows.rows[0].n).toBe(3);

    const listed = await server.fetch('/api/admin/branches', { token });
    expect(listed.status).toBe(200);
    const { branches } = await listed.json();
    const cli = await runCli(['branch', 'list', '--json'], { env });
    // The same records, plus the connection URL of a ready branch, password masked.
    expect(branches.map(({ url: _url, ...rest }: { url?: string }) => rest)).toEqual(cli.json());
    expect(branches[0].url).toMatch(/^postgres:\/\/ayb:\*{8}@127\.0\.0\.1:\d+\/ayb_branch_feature_auth$/);
    expect(branches.map((b: { name: string }) => b.name)).toEqual(['feature-auth']);

    // One record, as `branch show`: the list's record, plus its size (a list sizes only on request).
    const shown = await server.fetch('/api/admin/branches/feature-auth', { token });
    expect(await shown.json()).toEqual({ ...branches[0], size_bytes: expect.any(Number) });

    // A branch of a branch.
    const child = await server.fetch('/api/admin/branches', { method: 'POST', token, json: { name: 'child', from: 'feature-auth', strategy: 'dump' } });
    expect(child.status).toBe(201);
    expect(await child.json()).toMatchObject({ parent: 'feature-auth', source_database: 'ayb_branch_feature_auth', strategy: 'dump' });

    // A branch others were made from goes only with its children, as with --with-children.
    const refused = await server.fetch('/api/admin/branches/feature-auth', { method: 'DELETE', token });
    expect(refused.status).toBe(409);
    const deleted = await server.fetch('/api/admin/branches/feature-auth?with_children=true', { method: 'DELETE', token });
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toEqual({ status: 'deleted', name: 'feature-auth', deleted_children: ['child'] });
    expect(await databaseExists(cluster, 'ayb_branch_feature_auth')).toBe(false);
    expect((await (await server.fetch('/api/admin/branches', { token })).json()).branches).toEqual([]);
  });

  it('copies, expires, resets and diffs a branch; creates, lists and deletes snapshots and branches from them', async () => {
    expect((await server.fetch('/api/admin/branches', { method: 'POST', token, json: { name: 'api-dev', ttl: '2d' } })).status).toBe(201);
    const { url } = await (await server.fetch('/api/admin/branches/api-dev/url', { token })).json();
    expect(url).toContain(cluster.conn.password!);
    expect(url).toMatch(/\/ayb_branch_api_dev$/);

    const noExpiry = await server.fetch('/api/admin/branches/api-dev/expire', { method: 'POST', token, json: {} });
    expect(noExpiry.status).toBe(400);
    const both = await server.fetch('/api/admin/branches/api-dev/expire', { method: 'POST', token, json: { ttl: '1d', never: true } });
    expect(both.status).toBe(400);
    const never = await server.fetch('/api/admin/branches/api-dev/expire', { method: 'POST', token, json: { never: true } });
    expect(await never.json()).toMatchObject({ name: 'api-dev', expires_at: null });
    const stored = await cluster.query("SELECT expires_at FROM _ayb_branches WHERE name = 'api-dev'", [], 'app');
    expect(stored.rows[0].expires_at).toBeNull();

    await cluster.query('CREATE TABLE extra (id int)', [], 'ayb_branch_api_dev');
    const diff = await (await server.fetch('/api/admin/diff?from=main&to=api-dev', { token })).json();
    expect(diff.changes.map((c: { kind: string; name: string; action: string }) => [c.action, c.kind, c.name])).toEqual([['added', 'table', 'extra']]);
    expect(diff.text).toMatch(/^\+ table public\.extra$/m);
    expect(diff.sql).toContain('CREATE TABLE "public"."extra"');
    expect((await server.fetch('/api/admin/diff', { token })).status).toBe(400);

    const reset = await server.fetch('/api/admin/branches/api-dev/reset', { method: 'POST', token, json: {} });
    expect(reset.status).toBe(200);
    const after = await cluster.query("SELECT to_regclass('public.extra') IS NULL AS gone", [], 'ayb_branch_api_dev');
    expect(after.rows[0].gone).toBe(true);

    const snap = await server.fetch('/api/admin/snapshots', { method: 'POST', token, json: { name: 'api-snap', of: 'api-dev' } });
    expect(snap.status).toBe(201);
    expect(await snap.json()).toMatchObject({ name: 'api-snap', kind: 'snapshot', branch_database: 'ayb_snap_api_snap', status: 'ready' });
    const { snapshots } = await (await server.fetch('/api/admin/snapshots', { token })).json();
    expect(snapshots).toEqual((await runCli(['snapshot', 'list', '--json'], { env })).json());
    const fromSnap = await server.fetch('/api/admin/branches', { method: 'POST', token, json: { name: 'api-from-snap', from: 'api-snap' } });
    expect(await fromSnap.json()).toMatchObject({ parent: 'api-snap', snapshot: 'api-snap', strategy: 'template' });
    expect((await server.fetch('/api/admin/snapshots/api-snap', { method: 'DELETE', token })).status).toBe(409);
    const gone = await server.fetch('/api/admin/snapshots/api-snap?with_children=true', { method: 'DELETE', token });
    expect(await gone.json()).toEqual({ status: 'deleted', name: 'api-snap', deleted_children: ['api-from-snap'] });
    expect((await server.fetch('/api/admin/snapshots/api-dev', { method: 'DELETE', token })).status).toBe(404);
    expect((await server.fetch('/api/admin/branches/api-dev', { method: 'DELETE', token })).status).toBe(200);
    expect(await databaseExists(cluster, 'ayb_snap_api_snap')).toBe(false);
  });

  it('answers 400 for invalid names and bodies, 404 for missing branches, 409 for conflicts, 413 for large bodies', async () => {
    const post = (body: unknown) => server.fetch('/api/admin/branches', { method: 'POST', token, json: body });
    const expectError = async (response: Response, status: number, code: string | RegExp) => {
      expect(response.status).toBe(status);
      const body = await response.json();
      expect(body.code).toMatch(code);
      expect(body.message).toEqual(expect.any(String));
    };
    await expectError(await post({ name: 'Bad Name' }), 400, 'invalid_name');
    await expectError(await post({ name: 'main' }), 400, 'invalid_name');
    await expectError(await post({ name: 'x'.repeat(53) }), 400, 'invalid_name');
    await expectError(await post({}), 400, 'invalid_body');
    await expectError(await post({ name: 'ok', strategy: 'teleport' }), 400, 'invalid_body');
    await expectError(await post({ name: 'ok', surprise: true }), 400, 'invalid_body');
    await expectError(await post([]), 400, 'invalid_body');
    await expectError(await server.fetch('/api/admin/branches', { method: 'POST', token, body: '{"name":', headers: { 'Content-Type': 'application/json' } }), 400, 'invalid_json');
    await expectError(await server.fetch('/api/admin/branches/Bad', { method: 'DELETE', token }), 400, 'invalid_name');

    await expectError(await server.fetch('/api/admin/branches/ghost', { method: 'DELETE', token }), 404, 'branch_not_found');
    await expectError(await server.fetch('/api/admin/branches/ghost', { token }), 404, 'branch_not_found');
    await expectError(await post({ name: 'orphan', from: 'ghost' }), 404, 'source_not_found');
    await expectError(await server.fetch('/api/admin/nothing-here', { token }), 404, 'not_found');

    expect((await post({ name: 'a-b' })).status).toBe(201);
    await expectError(await post({ name: 'a-b' }), 409, 'branch_exists');
    await expectError(await post({ name: 'a_b' }), 409, 'name_collision');

    const big = JSON.stringify({ name: 'big', from: 'x'.repeat(20_000) });
    await expectError(await server.fetch('/api/admin/branches', { method: 'POST', token, body: big, headers: { 'Content-Type': 'application/json' } }), 413, 'payload_too_large');
    // Chunked, without a Content-Length: refused while reading.
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(big));
        controller.close();
      },
    });
    await expectError(await server.fetch('/api/admin/branches', { method: 'POST', token, body: stream, duplex: 'half' } as RequestInit), 413, 'payload_too_large');
    expect(await databaseExists(cluster, 'ayb_branch_big')).toBe(false);

    // A URL source only when [branching] allow_url_sources says so.
    await expectError(await post({ name: 'from-url', from: cluster.url('app') }), 403, 'url_source_not_allowed');

    expect((await server.fetch('/api/admin/branches/a-b', { method: 'DELETE', token })).status).toBe(200);
  });

  it('GET /api/admin/database glances at the served database: its tables and row counts', async () => {
    const response = await server.fetch('/api/admin/database', { token });
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body.database).toBe('app');
    expect(body.branch).toBeNull();
    expect(body.tables).toEqual([
      { schema: 'billing', name: 'invoices', rows: 0, exact: true, size_bytes: expect.any(Number) },
      { schema: 'public', name: 'items', rows: 3, exact: true, size_bytes: expect.any(Number) },
    ]);
  });

  it('keeps answering while a branch is being created', async () => {
    const gate = await holdGate(cluster, 'app', 'items');
    try {
      const create = server.fetch('/api/admin/branches', { method: 'POST', token, json: { name: 'slow', strategy: 'dump' } });
      await dumpWaitingAtGate(cluster);
      // The create is in flight and blocked; everything else still answers.
      const health = await server.fetch('/health');
      expect(health.status).toBe(200);
      const list = await (await server.fetch('/api/admin/branches', { token })).json();
      expect(list.branches).toEqual([expect.objectContaining({ name: 'slow', status: 'creating' })]);
      expect((await server.fetch('/admin')).status).toBe(200);
      await gate.release();
      const created = await create;
      expect(created.status).toBe(201);
      expect(await created.json()).toMatchObject({ name: 'slow', status: 'ready', strategy: 'dump' });
    } finally {
      await gate.release();
    }
    expect((await server.fetch('/api/admin/branches/slow', { method: 'DELETE', token })).status).toBe(200);
  });

  it('answers 503 when the database cannot be reached', async () => {
    await cluster.query('ALTER DATABASE app WITH ALLOW_CONNECTIONS false', [], 'postgres');
    try {
      const list = await server.fetch('/api/admin/branches', { token });
      expect(list.status).toBe(503);
      expect(await list.json()).toMatchObject({ code: expect.any(String), message: expect.stringContaining('app') });
      const health = await server.fetch('/health');
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({ status: 'unavailable', database: 'app', branch: null, code: 'database_unavailable' });
    } finally {
      await cluster.query('ALTER DATABASE app WITH ALLOW_CONNECTIONS true', [], 'postgres');
    }
    expect((await server.fetch('/health')).status).toBe(200);
  });

  it('serves the dashboard with a strict content security policy and refuses foreign Host headers', async () => {
    const page = await server.fetch('/admin');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('/admin/app.js');
    const script = await server.fetch('/admin/app.js');
    expect(script.status).toBe(200);
    expect(await script.text()).toContain('/api/admin/branches');
    const redirect = await server.fetch('/', { redirect: 'manual' });
    expect([redirect.status, redirect.headers.get('location')]).toEqual([302, '/admin']);

    // A page on another origin that rebinds its name to 127.0.0.1 still sends its own Host.
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${server.origin}/health`, { headers: { Host: 'attacker.example' } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(421);
  });

  // Last: it locks this client out of logging in for a minute.
  it('rate-limits repeated failed logins', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push((await server.fetch('/api/admin/auth', { method: 'POST', json: { password: `guess-${i}` } })).status);
    }
    // The earlier wrong password was forgiven by the right one that followed: five fresh failures.
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    const locked = await server.fetch('/api/admin/auth', { method: 'POST', json: { password: PASSWORD } });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await locked.json()).toMatchObject({ code: 'too_many_attempts' });
    // Tokens already issued still work.
    expect((await server.fetch('/api/admin/branches', { token })).status).toBe(200);
  });
});
