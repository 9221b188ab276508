import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';

interface WorkerReport {
  readonly worker: string;
  readonly created: string[];
  readonly deleted: string[];
  readonly refused: { op: string; name: string; code: string }[];
  readonly unexpected: { op: string; name: string; code?: string; message: string }[];
}

/**
 * Eight agents, each its own process using the library, create and delete branches on one server
 * at once, own names and shared ones. Judged by the server's catalog (pg_database) against the
 * control table read with SQL of our own: the records and the databases agree, nothing is left
 * half-made, and every refusal is a conflict or a not-found, never anything else.
 */
describe('8 concurrent agents', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;

  beforeAll(async () => {
    cluster = await startTestCluster();
    await cluster.createDatabase('app');
    await cluster.query("CREATE TABLE items (id int PRIMARY KEY, note text); INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 50) g", [], 'app');
    env = { AYB_DATABASE_URL: cluster.url('app') };
    const seed = await runCli(['snapshot', 'create', 'seed', '--json'], { env });
    expect(seed.exitCode, seed.stderr).toBe(0);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('keep the control table and the databases in agreement, with conflicts as the only refusals', async () => {
    const rounds = 3;
    const workers = Array.from({ length: 8 }, (_, i) =>
      execa('node', [path.join(REPO_ROOT, 'test/programs/library-worker.mjs'), String(i), String(rounds)], {
        cwd: REPO_ROOT, env: { ...env, NO_COLOR: '1' }, extendEnv: true, reject: false, timeout: 600_000,
      }));
    const reports: WorkerReport[] = [];
    for (const worker of await Promise.all(workers)) {
      expect(worker.exitCode, worker.stderr).toBe(0);
      reports.push(JSON.parse(worker.stdout));
    }
    for (const report of reports) {
      expect(report.unexpected, `worker ${report.worker}`).toEqual([]);
      // Its own names nobody else touches: every create and delete of them went through.
      const own = Array.from({ length: rounds }, (_, i) => `w${report.worker}-${i}`);
      expect(report.created.filter((n) => n.startsWith('w')), `worker ${report.worker}`).toEqual(own);
      expect(report.deleted.filter((n) => n.startsWith('w')), `worker ${report.worker}`).toEqual(own);
      for (const refusal of report.refused) {
        expect(refusal.name).toMatch(/^shared-/);
        expect(['branch_busy', 'branch_exists', 'branch_not_found']).toContain(refusal.code);
      }
    }
    // Each shared name: its successful creates and deletes alternate, so they differ by at most one.
    for (const name of ['shared-0', 'shared-1']) {
      const created = reports.flatMap((r) => r.created).filter((n) => n === name).length;
      const deleted = reports.flatMap((r) => r.deleted).filter((n) => n === name).length;
      expect(created - deleted, name).toBeGreaterThanOrEqual(0);
      expect(created - deleted, name).toBeLessThanOrEqual(1);
    }

    // The server's view against the records, read with SQL of our own.
    const databases = (await cluster.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'ayb\\_%' ORDER BY 1", [], 'postgres')).rows.map((r) => r.datname);
    const records = (await cluster.query<{ branch_database: string; status: string }>('SELECT branch_database, status FROM _ayb_branches ORDER BY 1', [], 'app')).rows;
    expect(records.filter((r) => r.status !== 'ready')).toEqual([]);
    expect(databases).toEqual(records.map((r) => r.branch_database));
    expect(databases).toContain('ayb_snap_seed');
    expect(databases.filter((d) => d.startsWith('ayb_branch_w'))).toEqual([]);
    // No advisory lock of ayb's is left held (every worker has exited).
    const locks = await cluster.query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory'", [], 'postgres');
    expect(locks.rowCount).toBe(0);
  });
});
