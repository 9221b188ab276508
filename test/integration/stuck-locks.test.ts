import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../helpers/cli.js';
import { jsonError } from '../helpers/cli-errors.js';
import { branchDatabases } from '../helpers/clone-probes.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { holdDatabaseGate, holdGate, waitUntil } from '../helpers/gate.js';
import { waitingOnLock } from '../helpers/refusal.js';

/**
 * A lock held by another session never hangs ayb: its control-table and maintenance sessions and
 * pg_dump give up after AYB_LOCK_TIMEOUT (exit 4, `lock_timeout`), a bookkeeping statement after
 * AYB_STATEMENT_TIMEOUT (exit 5), while the copy itself is never cut short by a statement limit.
 * Each case holds a real lock in an open transaction of another session.
 */
describe('stuck locks become errors', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;

  beforeAll(async () => {
    cluster = await startTestCluster();
    env = { ...(await cluster.createApp('CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items VALUES (1)')), AYB_LOCK_TIMEOUT: '1s' };
    // The control table exists before a test locks it.
    expect((await runCli(['branch', 'list'], { env })).exitCode).toBe(0);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('a lock on the control table: exit 4 lock_timeout naming the wait, and the next command works once it is gone', async () => {
    const gate = await holdGate(cluster, 'app', 'public._ayb_branches');
    try {
      const error = jsonError(await runCli(['branch', 'list', '--json'], { env }), 4, 'lock_timeout');
      expect(error.message).toMatch(/gave up waiting for a lock .* database "app": another session holds it/);
      expect(error.hint).toMatch(/pg_stat_activity/);
      expect(error.hint).toMatch(/AYB_LOCK_TIMEOUT/);
    } finally {
      await gate.release();
    }
    expect((await runCli(['branch', 'list'], { env })).exitCode).toBe(0);
  });

  it('a statement of the bookkeeping that runs too long: exit 5 statement_timeout', async () => {
    const gate = await holdGate(cluster, 'app', 'public._ayb_branches');
    try {
      const slow = { ...env, AYB_LOCK_TIMEOUT: '0', AYB_STATEMENT_TIMEOUT: '1s' };
      const error = jsonError(await runCli(['branch', 'list', '--json'], { env: slow }), 5, 'statement_timeout');
      expect(error.hint).toMatch(/AYB_STATEMENT_TIMEOUT/);
    } finally {
      await gate.release();
    }
  });

  it('pg_dump waiting for a table lock: exit 4 lock_timeout naming the table; the branch is failed, no database left', async () => {
    const gate = await holdGate(cluster, 'app', 'items');
    try {
      const error = jsonError(await runCli(['branch', 'create', 'dumped', '--strategy', 'dump', '--json'], { env }), 4, 'lock_timeout');
      expect(error.message).toMatch(/pg_dump gave up after 1s waiting for a lock on table public\.items of "app"/);
      expect(error.table).toBe('public.items');
    } finally {
      await gate.release();
    }
    expect(await branchDatabases(cluster)).toEqual([]);
    const shown = await runCli(['branch', 'show', 'dumped', '--json'], { env });
    expect(shown.json().status).toBe('failed');
    // Nothing left to clean: the same name is simply created again.
    expect((await runCli(['branch', 'create', 'dumped', '--strategy', 'dump'], { env })).exitCode).toBe(0);
    expect((await runCli(['branch', 'delete', 'dumped', '--yes'], { env })).exitCode).toBe(0);
  });

  it('a template copy held at a lock: exit 4 lock_timeout; the branch is failed, no database left', async () => {
    const gate = await holdDatabaseGate(cluster, 'app');
    try {
      jsonError(await runCli(['branch', 'create', 'copied', '--strategy', 'template', '--json'], { env }), 4, 'lock_timeout');
    } finally {
      await gate.release();
    }
    expect(await branchDatabases(cluster)).toEqual([]);
    expect((await runCli(['branch', 'show', 'copied', '--json'], { env })).json().status).toBe('failed');
    expect((await runCli(['branch', 'delete', 'copied', '--yes', '--force'], { env })).exitCode).toBe(0);
  });

  it('the copy itself is not cut short by the statement limit', async () => {
    // No lock limit, a 1s statement limit: CREATE DATABASE … TEMPLATE waits at the gate for longer
    // than that (measured by the server), then runs to its end once the gate opens.
    const gate = await holdDatabaseGate(cluster, 'app');
    const created = spawnCli(['branch', 'create', 'long', '--strategy', 'template', '--json'], { env: { ...env, AYB_LOCK_TIMEOUT: '0', AYB_STATEMENT_TIMEOUT: '1s' } });
    try {
      const [pid] = await waitUntil('CREATE DATABASE to wait at the gate', () => waitingOnLock(cluster, 'CREATE DATABASE').then((pids) => (pids.length === 1 ? pids : undefined)));
      await waitUntil('the copy to have run for longer than the statement limit', async () => {
        const { rows } = await cluster.query<{ long: boolean }>("SELECT now() - query_start > interval '1.5 s' AS long FROM pg_stat_activity WHERE pid = $1", [pid], 'postgres');
        return rows[0]?.long;
      });
    } finally {
      await gate.release();
    }
    const result = await created;
    expect(result.exitCode, String(result.stdout)).toBe(0);
    expect(JSON.parse(String(result.stdout)).status).toBe('ready');
    expect((await runCli(['branch', 'delete', 'long', '--yes'], { env })).exitCode).toBe(0);
  });

  it('a bad limit in the environment is a usage error', async () => {
    jsonError(await runCli(['branch', 'list', '--json'], { env: { ...env, AYB_LOCK_TIMEOUT: 'soon' } }), 2, 'invalid_duration');
  });
});
