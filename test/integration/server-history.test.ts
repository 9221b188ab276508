import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processRuns } from '../../src/postgres/lock.js';
import { runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { waitUntil } from '../helpers/gate.js';
import { startServer, type RunningServer } from '../helpers/server.js';

/**
 * Point-in-time branches through the admin API: `ayb start` on a managed PostgreSQL (this private
 * cluster, named by the config) with [history] enabled. Moments are read from the server's clock.
 */
const PASSWORD = 'server history test password';

describe('ayb start: point-in-time branches and snapshots', () => {
  let cluster: TestCluster;
  let work: string;
  let server: RunningServer;
  let token: string;
  let t2: string;
  let t4: string;
  const now = async () =>
    (await cluster.query<{ t: string }>(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t`)).rows[0]!.t;
  const ids = async (database: string) => (await cluster.query<{ id: number }>('SELECT id FROM t ORDER BY id', [], database)).rows.map((r) => r.id);
  const post = (route: string, json: unknown) => server.fetch(route, { method: 'POST', token, json });

  beforeAll(async () => {
    cluster = await startTestCluster({ private: true });
    work = await mkdtemp(path.join(os.tmpdir(), 'ayb-server-history-'));
    await chmod(work, 0o755);
    await writeFile(
      path.join(work, 'ayb.toml'),
      `[managed_pg]\ndata_dir = "${cluster.dataDir}"\nport = ${cluster.port}\n\n[history]\nenabled = true\ndir = "history"\n`,
    );
    // Turns on WAL archiving and takes the first base backup, so the window starts here.
    const history = await runCli(['history'], { cwd: work, timeout: 120_000 });
    expect(history.exitCode, history.stderr).toBe(0);
    await cluster.query('CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10)');
    t2 = await now();
    await cluster.query('DELETE FROM t WHERE id <= 3');
    t4 = await now();
    await cluster.query('DELETE FROM t WHERE id <= 5');
    server = await startServer([], { cwd: work, env: { AYB_ADMIN_PASSWORD: PASSWORD } });
    token = await server.login(PASSWORD);
  }, 180_000);
  afterAll(async () => {
    if (server) expect((await server.stop('SIGTERM')).exitCode).toBe(0);
    await cluster?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('GET /api/admin/history answers as ayb history --json, archiving state included', async () => {
    const response = await server.fetch('/api/admin/history', { token });
    expect(response.status).toBe(200);
    const status = await response.json();
    expect(status).toMatchObject({ archiving: { failing: false }, warnings: [] });
    expect(status.window).not.toBeNull();
    // The restorable ranges (one, no gap here) and whose the base backups are.
    expect(status.ranges).toEqual([status.window]);
    expect(status.gaps).toEqual([]);
    expect(status.share.newest.databases).toEqual(expect.arrayContaining([expect.objectContaining({ database: 'ayb', kind: 'main' })]));
  });

  it('POST "from": "main@<time>" branches main as it was then, and the record says so', async () => {
    const created = await post('/api/admin/branches', { name: 'at2', from: `main@${t2}` });
    expect(created.status, await created.clone().text()).toBe(201);
    expect(await created.json()).toMatchObject({ name: 'at2', status: 'ready', source_database: `main@${t2}`, parent: null });
    expect(await ids('ayb_branch_at2')).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(await ids('ayb')).toEqual([6, 7, 8, 9, 10]);
    const listed = (await (await server.fetch('/api/admin/branches', { token })).json()).branches;
    expect(listed).toEqual([expect.objectContaining({ name: 'at2', source_database: `main@${t2}` })]);
    // Main at a moment is no parent to compare rows with.
    const dataDiff = await server.fetch('/api/admin/branches/at2/data-diff', { token });
    expect([dataDiff.status, (await dataDiff.json()).code]).toEqual([409, 'no_parent']);
  }, 180_000);

  it('restores one moment at a time when two requests come at once (a branch and a snapshot), both right', async () => {
    const [branch, snapshot] = await Promise.all([
      post('/api/admin/branches', { name: 'at4', from: `main@${t4}`, ttl: '1d' }),
      post('/api/admin/snapshots', { name: 'snap2', of: `main@${t2}` }),
    ]);
    expect(branch.status, await branch.clone().text()).toBe(201);
    expect(snapshot.status, await snapshot.clone().text()).toBe(201);
    expect(await branch.json()).toMatchObject({ name: 'at4', source_database: `main@${t4}`, expires_at: expect.any(String) });
    expect(await snapshot.json()).toMatchObject({ name: 'snap2', kind: 'snapshot', source_database: `main@${t2}` });
    expect(await ids('ayb_branch_at4')).toEqual([4, 5, 6, 7, 8, 9, 10]);
    expect((await post('/api/admin/branches', { name: 'of-snap2', from: 'snap2' })).status).toBe(201);
    expect(await ids('ayb_branch_of_snap2')).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(server.stderr()).toContain('Waiting for another point-in-time copy to finish');
    // No temporary cluster is left behind.
    expect((await readdir(path.join(work, 'history'))).filter((n) => n.startsWith('restore-'))).toEqual([]);
  }, 300_000);

  it('a moment outside the window is 404 (the CLI\'s exit 3) with the window in the hint; a bad one 400; nothing recorded', async () => {
    for (const moment of ['main@2000-01-01T00:00Z', 'main@-30d']) {
      const response = await post('/api/admin/branches', { name: 'too-old', from: moment });
      const body = await response.json();
      expect([response.status, body.code], moment).toEqual([404, 'outside_history_window']);
      expect(body.hint).toMatch(/history reaches \d{4}-\d\d-\d\dT.* \.\. /);
    }
    const invalid = await post('/api/admin/branches', { name: 'too-old', from: 'main@2026-02-30T10:00Z' });
    expect([invalid.status, (await invalid.json()).code]).toEqual([400, 'invalid_point_in_time']);
    const names = (await (await server.fetch('/api/admin/branches', { token })).json()).branches.map((b: { name: string }) => b.name);
    expect(names).not.toContain('too-old');
  }, 120_000);

  // Last: it stops the server.
  it('SIGTERM during a point-in-time create exits 0 and leaves no temporary cluster and no half-made branch', async () => {
    const pending = post('/api/admin/branches', { name: 'stopped', from: `main@${t2}` }).catch((error: unknown) => error);
    const postmaster = await waitUntil('the temporary cluster to start', async () => {
      const folder = (await readdir(path.join(work, 'history'))).find((n) => n.startsWith(`restore-${server.pid}-`));
      if (!folder) return undefined;
      const pidFile = path.join(work, 'history', folder, 'data', 'postmaster.pid');
      const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).split('\n')[0]);
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    }, 120_000);
    const stopped = await server.stop('SIGTERM');
    expect(stopped.exitCode, server.stderr()).toBe(0);
    await pending;
    expect((await readdir(path.join(work, 'history'))).filter((n) => n.startsWith('restore-'))).toEqual([]);
    await waitUntil(`the temporary postmaster ${postmaster} to be gone`, async () => !processRuns(postmaster), 15_000); // a stopped postmaster lingers until init reaps it
    // Either it finished while the server drained its requests, or it was stopped: never half-made.
    // Stopped before its copy began, nothing is recorded; during the copy (a loaded machine, where the
    // restore outlasts the drain), the record says failed, as for any interrupted create, and its database is gone.
    const left = (await runCli(['branch', 'list', '--json'], { cwd: work })).json().filter((b: { name: string }) => b.name === 'stopped');
    expect(left.length).toBeLessThanOrEqual(1);
    if (left[0]?.status === 'ready') {
      expect(await cluster.query('SELECT count(*)::int AS n FROM t', [], 'ayb_branch_stopped')).toMatchObject({ rows: [{ n: 10 }] });
    } else {
      if (left.length) expect(left[0]).toMatchObject({ status: 'failed', error_message: 'interrupted by SIGTERM' });
      expect(await cluster.query("SELECT 1 FROM pg_database WHERE datname = 'ayb_branch_stopped'", [], 'postgres')).toMatchObject({ rowCount: 0 });
    }
  }, 180_000);
});
