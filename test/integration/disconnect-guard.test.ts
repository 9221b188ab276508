import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { clientConfig } from '../../src/postgres/client.js';
import { withDatabase } from '../../src/postgres/conninfo.js';
import { ensureManagedCluster, stopManagedCluster } from '../../src/postgres/managed/index.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { jsonError } from '../helpers/cli-errors.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { holdDatabaseGate, waitUntil } from '../helpers/gate.js';
import { allowsConnections, connectionGuards, waitingOnLock } from '../helpers/refusal.js';

/**
 * `--disconnect` makes main refuse connections for the copy. When the server goes away in the
 * middle (stopped here for real, on a cluster of this file's own), ayb cannot allow connections
 * again itself: its guard keeps trying until the server is back (for AYB_GUARD_WINDOW), and should
 * it give up, the next ayb command finds ayb's note and allows them. Main refusing connections for
 * any other reason is an error that names the ALTER DATABASE to run.
 */
describe('--disconnect when the server goes away', () => {
  let cluster: TestCluster;
  let stateDir: string;
  let configDir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    cluster = await startTestCluster({ private: true });
    await cluster.createDatabase('app');
    await cluster.query('CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items VALUES (1)', [], 'app');
    stateDir = await mkdtemp(path.join(os.tmpdir(), 'ayb-state-'));
    // The guard tries every 200 ms instead of every second, so counting its tries takes no long wait.
    env = { AYB_DATABASE_URL: cluster.url('app'), AYB_STATE_DIR: stateDir, AYB_GUARD_INTERVAL: '200ms' };
    // A create whose server stopped under it waits 1 s (not the default 30 s) for the server to
    // come back before it gives up removing its partial branch: the server stays down here anyway.
    configDir = await mkdtemp(path.join(os.tmpdir(), 'ayb-config-'));
    await writeFile(path.join(configDir, 'ayb.toml'), '[branching]\nreconnect_timeout = "1s"\n');
    expect((await runCli(['branch', 'list'], { env })).exitCode).toBe(0);
  });
  // A test that failed with the server stopped leaves it running again for the next.
  afterEach(async () => {
    await restartServer();
  });
  afterAll(async () => {
    await cluster?.stop();
    await rm(stateDir, { recursive: true, force: true });
    await rm(configDir, { recursive: true, force: true });
  });

  /** ayb's notes of databases it made refuse connections (src/postgres/refusal-record.ts). */
  async function notes(): Promise<{ databases: string[]; guard?: { attempts: number } }[]> {
    const dir = path.join(stateDir, 'refusing');
    const files = (await readdir(dir).catch(() => [] as string[])).filter((file) => file.endsWith('.json'));
    return Promise.all(files.map(async (file) => JSON.parse(await readFile(path.join(dir, file), 'utf8'))));
  }

  /**
   * Starts `branch create <name> --disconnect` from main, holds its copy at a gate while main refuses
   * connections, then stops the server under it; returns ayb's result.
   */
  async function stopServerMidCopy(name: string, extraEnv: Record<string, string> = {}) {
    const gate = await holdDatabaseGate(cluster, 'app');
    const create = spawnCli(['branch', 'create', name, '--disconnect', '--strategy', 'template'], { env: { ...env, ...extraEnv }, cwd: configDir });
    try {
      await waitUntil('the copy to wait at the gate', async () => (await waitingOnLock(cluster, 'CREATE DATABASE')).length === 1);
      expect(await allowsConnections(cluster, 'app')).toBe(false);
      expect(await notes()).toEqual([expect.objectContaining({ databases: ['app'] })]);
      await stopManagedCluster({ dataDir: cluster.dataDir });
    } finally {
      await gate.release();
    }
    const result = await create;
    expect(result.exitCode, String(result.stderr)).toBe(5);
    return result;
  }

  async function restartServer(): Promise<void> {
    await ensureManagedCluster({ dataDir: cluster.dataDir, port: cluster.port });
  }

  /** A killed create leaves its branch half-made: that is delete --force's work. */
  async function removeBranch(name: string): Promise<void> {
    expect((await runCli(['branch', 'delete', name, '--yes', '--force', '--if-exists'], { env })).exitCode).toBe(0);
  }

  it('the guard keeps trying while the server is down for longer than a few seconds, and allows connections once it is back', async () => {
    const result = await stopServerMidCopy('outage');
    expect(String(result.stderr)).toMatch(/could not allow connections to "app" again .* connection guard will/);
    // The guard keeps its count in the note: well past the five tries it used to give up after.
    await waitUntil('the guard to have tried 8 times', async () => ((await notes())[0]?.guard?.attempts ?? 0) >= 8, 30_000);
    expect(connectionGuards(cluster)).toHaveLength(1);
    await restartServer();
    await waitUntil('the guard to allow connections to app again', () => allowsConnections(cluster, 'app'), 20_000);
    await waitUntil('the guard to exit', async () => connectionGuards(cluster).length === 0);
    expect(await notes()).toEqual([]);
    await removeBranch('outage');
  });

  it('when the guard gave up, the next ayb command allows connections again and says so', async () => {
    await stopServerMidCopy('gave-up', { AYB_GUARD_WINDOW: '1s' });
    await waitUntil('the guard to give up', async () => connectionGuards(cluster).length === 0, 20_000);
    await restartServer();
    expect(await allowsConnections(cluster, 'app')).toBe(false);
    // Said on stderr even with --json: ayb did it on its own.
    const list = await runCli(['branch', 'list', '--json'], { env });
    expect(list.exitCode, list.stderr).toBe(0);
    expect(list.stderr).toMatch(/Database "app" was left refusing connections by an ayb process that was cut off \(ayb process \d+, since .*\); allowed connections again/);
    expect(await allowsConnections(cluster, 'app')).toBe(true);
    expect(await notes()).toEqual([]);
    await removeBranch('gave-up');
  });

  it('main refusing connections with no note from ayb: exit 5 naming the ALTER DATABASE to run, and ayb leaves it as it is', async () => {
    await cluster.query('ALTER DATABASE app WITH ALLOW_CONNECTIONS false', [], 'postgres');
    try {
      const error = jsonError(await runCli(['branch', 'list', '--json'], { env }), 5, 'connections_refused');
      expect(error.message).toMatch(/database "app" on 127\.0\.0\.1:\d+ refuses connections \(ALLOW_CONNECTIONS is false\)/);
      expect(error.hint).toContain(`psql -d postgres -c 'ALTER DATABASE "app" WITH ALLOW_CONNECTIONS true'`);
      expect(error.hint).not.toMatch(/database URL/);
      expect(error.sql).toBe('ALTER DATABASE "app" WITH ALLOW_CONNECTIONS true');
      expect(await allowsConnections(cluster, 'app')).toBe(false);
    } finally {
      await cluster.query('ALTER DATABASE app WITH ALLOW_CONNECTIONS true', [], 'postgres');
    }
  });

  it('while the ayb process that made main refuse connections is still at it, another command says so (exit 4) and leaves it', async () => {
    // ayb's state in the middle of a --disconnect copy, made by hand: its note, its session holding
    // the refusing lock of app shared, and app refusing connections. (A real copy in flight also
    // holds a lock on app that makes new connections wait for the copy instead of failing.)
    await mkdir(path.join(stateDir, 'refusing'), { recursive: true });
    await writeFile(path.join(stateDir, 'refusing', 'in-flight.json'), JSON.stringify({
      host: '127.0.0.1', port: cluster.port, lock: 'app', databases: ['app'], pid: 1, since: new Date().toISOString(),
    }));
    const holder = new pg.Client({ ...clientConfig(withDatabase(cluster.conn, 'postgres')) });
    await holder.connect();
    try {
      await holder.query("SELECT pg_advisory_lock_shared(hashtextextended('ayb:refusing:' || 'app', 0))");
      await cluster.query('ALTER DATABASE app WITH ALLOW_CONNECTIONS false', [], 'postgres');
      const error = jsonError(await runCli(['branch', 'list', '--json'], { env }), 4, 'connections_refused');
      expect(error.message).toMatch(/another ayb process is copying or renaming it \(ayb process 1, since/);
      expect(await allowsConnections(cluster, 'app')).toBe(false);
    } finally {
      await holder.end();
    }
    // That session has ended: the next command allows connections again.
    expect((await runCli(['branch', 'list'], { env })).exitCode).toBe(0);
    expect(await allowsConnections(cluster, 'app')).toBe(true);
    expect(await notes()).toEqual([]);
  });

  it('a note left after someone allowed connections by hand is forgotten, so a later refusal is not undone by ayb', async () => {
    await mkdir(path.join(stateDir, 'refusing'), { recursive: true });
    await writeFile(path.join(stateDir, 'refusing', 'old.json'), JSON.stringify({
      host: '127.0.0.1', port: cluster.port, lock: 'app', databases: ['app'], pid: 1, since: new Date(Date.now() - 3_600_000).toISOString(),
    }));
    expect((await runCli(['branch', 'list'], { env })).exitCode).toBe(0);
    expect(await notes()).toEqual([]);
    await cluster.query('ALTER DATABASE app WITH ALLOW_CONNECTIONS false', [], 'postgres');
    try {
      jsonError(await runCli(['branch', 'list', '--json'], { env }), 5, 'connections_refused');
      expect(await allowsConnections(cluster, 'app')).toBe(false);
    } finally {
      await cluster.query('ALTER DATABASE app WITH ALLOW_CONNECTIONS true', [], 'postgres');
    }
  });

  it('a branch a rename left refusing connections when the server went away, with its guard gone, is let in again by the next command', async () => {
    expect((await runCli(['branch', 'create', 'before'], { env })).exitCode).toBe(0);
    // ALTER DATABASE … RENAME waits at the gate while the branch refuses connections; then the server stops.
    const gate = await holdDatabaseGate(cluster, 'ayb_branch_before');
    const rename = spawnCli(['branch', 'rename', 'before', 'after', '--disconnect'], { env: { ...env, AYB_GUARD_WINDOW: '1s' } });
    try {
      await waitUntil('the rename to wait at the gate', async () => (await waitingOnLock(cluster, 'ALTER DATABASE')).length === 1);
      expect(await allowsConnections(cluster, 'ayb_branch_before')).toBe(false);
      await stopManagedCluster({ dataDir: cluster.dataDir });
    } finally {
      await gate.release();
    }
    expect((await rename).exitCode).toBe(5);
    await waitUntil('the guard to give up', async () => connectionGuards(cluster).length === 0, 20_000);
    await restartServer();
    expect(await allowsConnections(cluster, 'ayb_branch_before')).toBe(false);
    const list = await runCli(['branch', 'list', '--json'], { env });
    expect(list.exitCode, list.stderr).toBe(0);
    expect(list.stderr).toMatch(/Database "ayb_branch_before" was left refusing connections by an ayb process that was cut off; allowed connections again/);
    expect(await allowsConnections(cluster, 'ayb_branch_before')).toBe(true);
    expect(await notes()).toEqual([]);
    expect((await runCli(['branch', 'delete', 'before', '--yes'], { env })).exitCode).toBe(0);
  });
});
