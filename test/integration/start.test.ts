import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { holdGate, dumpWaitingAtGate } from '../helpers/gate.js';
import { startServer } from '../helpers/server.js';

const PASSWORD = 'a password chosen by hand';


describe('ayb start', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await cluster.query("CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items VALUES (1), (2)", [], 'app');
    env = { AYB_DATABASE_URL: cluster.url('app'), AYB_ADMIN_PASSWORD: PASSWORD };
    expect((await runCli(['branch', 'create', 'feature', '--json'], { env })).exitCode).toBe(0);
    // Half-made and failed branches, as a crashed or failed create leaves them.
    await cluster.query(
      `INSERT INTO _ayb_branches (name, source_database, branch_database, status, error_message)
       VALUES ('broken', 'app', 'ayb_branch_broken', 'failed', 'pg_dump failed'),
              ('halfway', 'app', 'ayb_branch_halfway', 'creating', NULL)`,
      [],
      'app',
    );
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('refuses a missing branch (3), a branch that is not ready (4) and an invalid name (2)', async () => {
    const missing = await runCli(['start', '--branch', 'ghost', '--port', '0'], { env });
    expect(missing.exitCode).toBe(3);
    expect(missing.stderr).toMatch(/^Error: branch "ghost" does not exist\nHint: /m);
    // The first command found the half-made one with nobody creating it, and marked it failed.
    expect(missing.stderr).toMatch(/^Removed the partial database "ayb_branch_halfway" of branch "halfway", whose create was interrupted/);
    for (const name of ['broken', 'halfway']) {
      const notReady = await runCli(['start', '--branch', name, '--port', '0', '--json'], { env });
      expect(notReady.exitCode).toBe(4);
      expect(notReady.json()).toMatchObject({ error: { code: 'branch_not_ready', hint: expect.any(String) } });
    }
    expect((await runCli(['start', '--branch', 'Not_Valid', '--port', '0'], { env })).exitCode).toBe(2);
  });

  it('refuses a non-loopback host unless the admin password was chosen', async () => {
    const { AYB_ADMIN_PASSWORD: _, ...noPassword } = env;
    const refused = await runCli(['start', '--host', '0.0.0.0', '--port', '0'], { env: noPassword });
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/refusing to listen on 0\.0\.0\.0/);
    expect(refused.stderr).toMatch(/Hint: .*AYB_ADMIN_PASSWORD/);

    const server = await startServer(['--host', '0.0.0.0'], { env });
    try {
      await server.waitForStderr('plain HTTP');
      expect((await server.fetch('/health')).status).toBe(200);
      // Reachable by any name now, so no Host check.
      expect((await server.fetch('/health', { headers: { Host: 'box.example' } })).status).toBe(200);
    } finally {
      expect((await server.stop()).exitCode).toBe(0);
    }
  });

  it('with --branch serves the branch, while the admin API manages the branches of main', async () => {
    const server = await startServer(['--branch', 'feature'], { env });
    try {
      expect(server.stdout()).toMatch(/serving database ayb_branch_feature \(branch feature\)/);
      expect(server.stdout()).toMatch(/\/ayb_branch_feature$/m);
      expect(await (await server.fetch('/health')).json()).toEqual({ status: 'ok', database: 'ayb_branch_feature', branch: 'feature', pid: server.pid });
      const token = await server.login(PASSWORD);
      const { branches } = await (await server.fetch('/api/admin/branches', { token })).json();
      expect(branches.map((b: { name: string }) => b.name).sort()).toEqual(['broken', 'feature', 'halfway']);
      // New branches come from main, not from the served branch.
      const created = await server.fetch('/api/admin/branches', { method: 'POST', token, json: { name: 'sibling' } });
      expect(created.status).toBe(201);
      expect(await created.json()).toMatchObject({ source_database: 'app', parent: null });
      // The served branch cannot be deleted under the server.
      const refused = await server.fetch('/api/admin/branches/feature', { method: 'DELETE', token });
      expect(refused.status).toBe(409);
      expect(await refused.json()).toMatchObject({ code: 'branch_in_use' });
      const glance = await (await server.fetch('/api/admin/database', { token })).json();
      expect(glance).toMatchObject({ database: 'ayb_branch_feature', branch: 'feature', tables: [{ name: 'items', rows: 2, exact: true }] });
      // Failed ones go with force, as on the command line.
      expect((await server.fetch('/api/admin/branches/broken', { method: 'DELETE', token })).status).toBe(409);
      expect((await server.fetch('/api/admin/branches/broken?force=true', { method: 'DELETE', token })).status).toBe(200);
      expect((await server.fetch('/api/admin/branches/sibling', { method: 'DELETE', token })).status).toBe(200);
    } finally {
      expect((await server.stop('SIGINT')).exitCode).toBe(0);
    }
  });

  it('generates an admin password when none is set, prints it once, and keeps it out of JSON', async () => {
    const { AYB_ADMIN_PASSWORD: _, ...noPassword } = env;
    const server = await startServer(['--json'], { env: noPassword });
    try {
      const document = JSON.parse(server.stdout());
      expect(document).toMatchObject({ database: 'app', branch: null, admin_password_source: 'generated' });
      expect(document.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(document.database_url).toContain('********');
      await server.waitForStderr('Admin password');
      const match = /Admin password \(generated, shown only this once\): (\S+)/.exec(server.stderr());
      expect(match).not.toBeNull();
      const generated = match![1]!;
      expect(server.stdout()).not.toContain(generated);
      expect(server.stderr().split(generated)).toHaveLength(2);
      expect(await server.login(generated)).toEqual(expect.any(String));
    } finally {
      expect((await server.stop()).exitCode).toBe(0);
    }
  });

  it('says so when the port is taken (exit 4)', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const port = (blocker.address() as net.AddressInfo).port;
      const result = await runCli(['start', '--port', String(port)], { env });
      expect(result.exitCode).toBe(4);
      expect(result.stderr).toMatch(/another program uses that port\nHint: .*--port/);
    } finally {
      blocker.close();
    }
  });

  it('says so when the port is taken by another ayb start, with its pid and URL (exit 4, issue 27)', async () => {
    const first = await startServer([], { env });
    try {
      const port = new URL(first.origin).port;
      const result = await runCli(['start', '--port', port], { env });
      expect(result.exitCode).toBe(4);
      expect(result.stderr).toContain(`cannot listen on 127.0.0.1:${port}: ayb start already runs there (pid ${first.pid}), serving app (main) at http://127.0.0.1:${port}/admin`);
      expect(result.stderr).toMatch(new RegExp(`^Hint: .*kill ${first.pid}.*--port`, 'm'));
    } finally {
      expect((await first.stop()).exitCode).toBe(0);
    }
  });

  it('prunes expired branches at start and periodically, but never the branch it serves, nor do delete and prune elsewhere', async () => {
    for (const name of ['old-a', 'served-old']) expect((await runCli(['branch', 'create', name], { env })).exitCode).toBe(0);
    const expire = (names: string[]) =>
      cluster.query("UPDATE _ayb_branches SET expires_at = now() - interval '1 minute' WHERE name = ANY($1)", [names], 'app');
    await expire(['old-a', 'served-old']);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ayb-start-'));
    // Every 0.6 s, so the test sees a second run quickly.
    await writeFile(path.join(dir, 'ayb.toml'), '[server]\nprune_interval_minutes = 0.01\n');
    const server = await startServer(['--branch', 'served-old', '--config', path.join(dir, 'ayb.toml')], { env });
    try {
      await server.waitForStderr('Pruned branch "old-a" (expired)');
      const token = await server.login(PASSWORD);
      const created = await server.fetch('/api/admin/branches', { method: 'POST', token, json: { name: 'old-b' } });
      expect(created.status).toBe(201);
      await expire(['old-b']);
      await server.waitForStderr('Pruned branch "old-b" (expired)');
      const { rows } = await cluster.query<{ name: string }>('SELECT name FROM _ayb_branches ORDER BY name', [], 'app');
      expect(rows.map((r) => r.name)).toContain('served-old');
      expect(rows.map((r) => r.name)).not.toContain('old-a');
      expect((await server.fetch('/health')).status).toBe(200);

      // From another terminal, delete and prune leave the served branch alone while the server runs.
      const refused = await runCli(['branch', 'delete', 'served-old', '--yes', '--json'], { env });
      expect(refused.exitCode).toBe(4);
      expect(refused.json().error).toMatchObject({ code: 'branch_in_use', message: 'branch "served-old" is served by a running "ayb start"' });
      // The dry run says exactly what the real prune then does.
      const dry = await runCli(['branch', 'prune', '--dry-run', '--json'], { env });
      expect(dry.json().branches).toEqual([expect.objectContaining({ name: 'served-old', action: 'skipped', detail: 'served by a running ayb start' })]);
      const pruned = await runCli(['branch', 'prune', '--json'], { env });
      expect(pruned.json().branches).toEqual(dry.json().branches);
      expect((await cluster.query("SELECT 1 FROM pg_database WHERE datname = 'ayb_branch_served_old'", [], 'postgres')).rowCount).toBe(1);
    } finally {
      expect((await server.stop()).exitCode).toBe(0);
      await rm(dir, { recursive: true, force: true });
    }
    // Stopped, the server no longer holds it.
    expect((await runCli(['branch', 'delete', 'served-old', '--yes'], { env })).exitCode).toBe(0);
  });

  describe('shutdown', () => {
    it('stops on SIGINT and SIGTERM with exit 0, not waiting for idle keep-alive connections', async () => {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        const server = await startServer([], { env });
        // fetch keeps its connection open for reuse.
        expect((await server.fetch('/health')).status).toBe(200);
        const stopped = await server.stop(signal);
        expect(stopped.exitCode, server.stderr()).toBe(0);
        // Straight from the signal to the end: the idle connection counted as no request in flight.
        expect(server.stderr()).toMatch(new RegExp(`\\n\\nStopping \\(${signal}\\) …\\nStopped\\.\\n$`));
      }
    });

    it('lets an in-flight request finish', async () => {
      const server = await startServer([], { env });
      const token = await server.login(PASSWORD);
      const gate = await holdGate(cluster, 'app', 'items');
      try {
        const create = server.fetch('/api/admin/branches', { method: 'POST', token, json: { name: 'inflight', strategy: 'dump' } });
        await dumpWaitingAtGate(cluster);
        const stopping = server.stop('SIGTERM');
        await server.waitForStderr('Stopping (SIGTERM)');
        await gate.release();
        const response = await create;
        expect(response.status).toBe(201);
        expect(await response.json()).toMatchObject({ name: 'inflight', status: 'ready' });
        const stopped = await stopping;
        expect(stopped.exitCode).toBe(0);
      } finally {
        await gate.release();
      }
      expect((await runCli(['branch', 'delete', 'inflight', '--yes'], { env })).exitCode).toBe(0);
    });

    it('aborts a create that does not finish in time, cleans it up, and still exits 0', async () => {
      const server = await startServer([], { env });
      const token = await server.login(PASSWORD);
      const gate = await holdGate(cluster, 'app', 'items');
      try {
        const create = server.fetch('/api/admin/branches', { method: 'POST', token, json: { name: 'stuck', strategy: 'dump' } });
        await dumpWaitingAtGate(cluster);
        // The gate stays shut until the server has exited: it cannot have waited for the create.
        const stopped = await server.stop('SIGTERM');
        expect(stopped.exitCode, server.stderr()).toBe(0);
        expect(server.stderr()).toMatch(/Stopping \(SIGTERM\) …\nWaiting for 1 request\(s\) to stop and clean up …\n(.*\n)*Stopped\.\n$/);
        const response = await create;
        expect(response.status).toBe(503);
        expect(await response.json()).toMatchObject({ code: 'interrupted' });
      } finally {
        await gate.release();
      }
      const { rows } = await cluster.query("SELECT status, error_message FROM _ayb_branches WHERE name = 'stuck'", [], 'app');
      expect(rows).toEqual([{ status: 'failed', error_message: expect.stringContaining('SIGTERM') }]);
      const leftovers = await cluster.query("SELECT 1 FROM pg_database WHERE datname = 'ayb_branch_stuck'", [], 'postgres');
      expect(leftovers.rowCount).toBe(0);
    });
  });
});
