import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureManagedCluster, restartManagedCluster, stopManagedCluster } from '../../src/postgres/managed/index.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { advisoryLocksHeld, branchDatabases, fillSlowSource, holdGate, toolSessions, waitForDumpAtGate, waitForRestoreOf, waitUntil } from '../helpers/clone-probes.js';
import { holdDatabaseGate } from '../helpers/gate.js';

/**
 * What a kill -9 of ayb, or a server restarted or stopped under it, leaves, and how the next
 * command finishes it. A private cluster: these tests stop and restart the server.
 */
describe('recovery from interrupted commands', () => {
  let cluster: TestCluster;
  let env: Record<string, string>;
  let dir: string;
  const cli = (...args: string[]) => runCli(args, { env });
  const row = async (name: string) =>
    (await cluster.query('SELECT status, error_message, temp_databases FROM _ayb_branches WHERE name = $1', [name], 'app')).rows[0] as
      { status: string; error_message: string | null; temp_databases: string[] } | undefined;
  const databases = async (pattern: string) =>
    (await cluster.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY datname', [pattern], 'postgres')).rows.map((r) => r.datname);
  const listed = async (kind: 'branch' | 'snapshot', name: string) => {
    const result = await cli(kind, 'list', '--json');
    expect(result.exitCode, result.stderr).toBe(0);
    return { stderr: result.stderr, record: (result.json() as { name: string }[]).find((r) => r.name === name) as Record<string, unknown> | undefined };
  };
  const made = async (...args: string[]) => {
    const result = await cli(...args);
    if (result.exitCode !== 0) throw new Error(`ayb ${args.join(' ')}: ${result.stderr}`);
  };
  /** A config file with `[branching] reconnect_timeout`. */
  const configWith = async (reconnectTimeout: string) => {
    const file = path.join(dir, `ayb-${reconnectTimeout}.toml`);
    await writeFile(file, `[branching]\nreconnect_timeout = "${reconnectTimeout}"\n`);
    return file;
  };

  beforeAll(async () => {
    cluster = await startTestCluster({ private: true });
    dir = await mkdtemp(path.join(os.tmpdir(), 'ayb-recovery-'));
    await chmod(dir, 0o755); // the tablespace below is made in it by the server's OS user
    await cluster.createDatabase('app');
    // The restore into a branch crawls (1 s a row), so a create is caught in the middle of it.
    await fillSlowSource(cluster, 'app', { rows: 400, msPerRow: 1000 });
    env = { AYB_DATABASE_URL: cluster.url('app') };
  });
  afterAll(async () => {
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  describe.each(['branch', 'snapshot'] as const)('a %s delete killed while its DROP waits', (kind) => {
    it('leaves a record that says deleting (no URL for it), and the next command finishes the delete and says so', async () => {
      const name = `doomed-${kind}`;
      const database = `${kind === 'branch' ? 'ayb_branch_' : 'ayb_snap_'}doomed_${kind}`;
      await made(kind, 'create', name, '--strategy', 'template');
      // DROP DATABASE waits at this gate, holding the branch lock on its session.
      const gate = await holdDatabaseGate(cluster, database);
      try {
        const child = spawnCli([kind, 'delete', name, '--yes'], { env });
        await waitUntil('the DROP DATABASE to wait at the gate', async () => {
          const { rowCount } = await cluster.query(
            "SELECT 1 FROM pg_stat_activity WHERE query LIKE 'DROP DATABASE%' AND wait_event_type = 'Lock'", [], 'postgres');
          return (rowCount ?? 0) > 0;
        });
        child.kill('SIGKILL');
        expect((await child).signal).toBe('SIGKILL');
        // The server session still waits to drop (it holds the lock): the delete is under way, and says so.
        const during = await listed(kind, name);
        expect(during.record).toMatchObject({ status: 'deleting' });
        if (kind === 'branch') {
          const url = await cli('branch', 'url', name, '--json');
          expect(url.exitCode).toBe(4);
          expect(url.json().error).toMatchObject({ code: 'branch_not_ready', message: expect.stringContaining('status: deleting') });
        }
      } finally {
        await gate.release();
      }
      // Released, the orphaned session drops the database and ends, and the lock with it.
      await waitUntil('the database to be dropped', async () => (await databases(database)).length === 0);
      await waitUntil('the branch lock to be released', async () => (await advisoryLocksHeld(cluster)) === 0);
      expect((await row(name))?.status).toBe('deleting');
      const after = await listed(kind, name);
      expect(after.stderr).toContain(`Finished deleting ${kind} "${name}" (its delete was interrupted).`);
      expect(after.record).toBeUndefined();
      expect(await row(name)).toBeUndefined();
      const gone = await cli(kind, 'show', name, '--json');
      expect(gone.exitCode).toBe(3);
    });
  });

  it('a delete cut off by the server stopping: exit 5, the record says deleting, and the next command after the restart finishes it', async () => {
    await made('branch', 'create', 'cutoff', '--strategy', 'template');
    const gate = await holdDatabaseGate(cluster, 'ayb_branch_cutoff');
    let result: Awaited<ReturnType<typeof spawnCli>>;
    try {
      const child = spawnCli(['branch', 'delete', 'cutoff', '--yes', '--json'], { env });
      await waitUntil('the DROP DATABASE to wait at the gate', async () => {
        const { rowCount } = await cluster.query(
          "SELECT 1 FROM pg_stat_activity WHERE query LIKE 'DROP DATABASE%' AND wait_event_type = 'Lock'", [], 'postgres');
        return (rowCount ?? 0) > 0;
      });
      await stopManagedCluster({ dataDir: cluster.dataDir });
      result = await child;
    } finally {
      await gate.release();
      await ensureManagedCluster({ dataDir: cluster.dataDir, port: cluster.port });
    }
    expect(result.exitCode).toBe(5);
    // The DROP was rolled back with the shutdown: the database is still there, its record says so.
    expect(await branchDatabases(cluster)).toEqual(['ayb_branch_cutoff']);
    expect((await row('cutoff'))?.status).toBe('deleting');
    const next = await listed('branch', 'cutoff');
    expect(next.stderr).toContain('Finished deleting branch "cutoff" (its delete was interrupted).');
    expect(next.record).toBeUndefined();
    expect(await branchDatabases(cluster)).toEqual([]);
  });

  it('a ready branch or snapshot whose database was dropped outside ayb is flagged, and url refuses it', async () => {
    await made('branch', 'create', 'lost', '--strategy', 'template');
    await made('snapshot', 'create', 'lost-snap', '--strategy', 'template');
    await cluster.query('DROP DATABASE ayb_branch_lost', [], 'postgres');
    await cluster.query('DROP DATABASE ayb_snap_lost_snap', [], 'postgres');

    expect((await listed('branch', 'lost')).record).toMatchObject({ status: 'ready', problem: 'database_missing' });
    expect((await listed('snapshot', 'lost-snap')).record).toMatchObject({ status: 'ready', problem: 'database_missing' });
    const table = await cli('branch', 'list');
    expect(table.stdout).toMatch(/^lost +ready \(database missing\) /m);
    const show = await cli('snapshot', 'show', 'lost-snap');
    expect(show.stdout).toMatch(/^Status +ready \(database missing\)$/m);
    const url = await cli('branch', 'url', 'lost', '--json');
    expect(url.exitCode).toBe(3);
    expect(url.json().error).toMatchObject({ code: 'database_missing', hint: expect.stringContaining('ayb branch reset lost') });
    expect(url.stdout).not.toContain('postgres://');

    // A reset makes the branch's database anew; a flagged snapshot goes with a plain delete.
    await made('branch', 'reset', 'lost');
    expect((await listed('branch', 'lost')).record).not.toHaveProperty('problem');
    expect((await cli('branch', 'url', 'lost')).exitCode).toBe(0);
    await made('snapshot', 'delete', 'lost-snap', '--yes');
    await made('branch', 'delete', 'lost', '--yes');
  });

  it('an invalid database (a DROP interrupted halfway) is flagged, and delete --force and prune --failed remove it', async () => {
    await made('branch', 'create', 'half', '--strategy', 'template');
    await made('branch', 'create', 'half-failed', '--strategy', 'template');
    // What a DROP DATABASE cut off by a full disk or a crash leaves (PostgreSQL 15.4+).
    await cluster.query("UPDATE pg_database SET datconnlimit = -2 WHERE datname IN ('ayb_branch_half', 'ayb_branch_half_failed')", [], 'postgres');
    expect((await listed('branch', 'half')).record).toMatchObject({ status: 'ready', problem: 'database_invalid' });

    const deleted = await cli('branch', 'delete', 'half', '--yes', '--force', '--json');
    expect(deleted.exitCode, deleted.stdout).toBe(0);
    expect(deleted.json()).toMatchObject({ name: 'half', deleted: true });

    await cluster.query("UPDATE _ayb_branches SET status = 'failed' WHERE name = 'half-failed'", [], 'app');
    const pruned = await cli('branch', 'prune', '--failed', '--json');
    expect(pruned.exitCode, pruned.stdout).toBe(0);
    expect(pruned.json().branches).toEqual([expect.objectContaining({ name: 'half-failed', action: 'deleted' })]);
    expect(await branchDatabases(cluster)).toEqual([]);
  });

  it('server restarted mid dump create: ayb waits for it, removes the partial branch, and says so (--json too)', async () => {
    const config = await configWith('60s');
    const child = spawnCli(['branch', 'create', 'restarted', '--strategy', 'dump', '--json', '--config', config], { env });
    await waitForRestoreOf(cluster, 'a_slow');
    await restartManagedCluster({ dataDir: cluster.dataDir, port: cluster.port });
    const result = await child;
    expect(result.exitCode).toBe(5);
    const error = JSON.parse(String(result.stdout)).error;
    expect(error.cleanup).toBe('done');
    expect(error.hint).toMatch(/the partial database was removed and the branch marked failed$/);
    expect(await branchDatabases(cluster)).toEqual([]);
    expect(await row('restarted')).toMatchObject({ status: 'failed', error_message: expect.any(String) });
  });

  it('server stopped mid dump create: exit 5 saying the branch is not cleaned yet; the next command cleans it and says so', async () => {
    const config = await configWith('1s');
    const child = spawnCli(['branch', 'create', 'stopped', '--strategy', 'dump', '--config', config], { env });
    await waitForRestoreOf(cluster, 'a_slow');
    await stopManagedCluster({ dataDir: cluster.dataDir });
    try {
      const result = await child;
      expect(result.exitCode).toBe(5);
      expect(String(result.stderr)).toMatch(
        /^Hint: .*ayb could not reach the server to remove the partial branch \(.+\): the next ayb command run against this server removes "ayb_branch_stopped" and marks it failed$/m);
      expect(String(result.stderr)).not.toMatch(/was removed/);
    } finally {
      await ensureManagedCluster({ dataDir: cluster.dataDir, port: cluster.port });
    }
    // As the server came back: the database and the `creating` row are still there.
    expect(await branchDatabases(cluster)).toEqual(['ayb_branch_stopped']);
    expect((await row('stopped'))?.status).toBe('creating');
    const next = await listed('branch', 'stopped');
    expect(next.stderr).toContain('Removed the partial database "ayb_branch_stopped" of branch "stopped", whose create was interrupted');
    expect(next.record).toMatchObject({ status: 'failed', error_message: expect.stringMatching(/^its create was interrupted/) });
    expect(await branchDatabases(cluster)).toEqual([]);
    // A failed name is simply created again.
    await cluster.query(`ALTER ROLE ${cluster.conn.user} SET ayb_test.ms_per_row = '0'`, [], 'postgres');
    try {
      await made('branch', 'create', 'stopped', '--strategy', 'dump');
    } finally {
      await cluster.query(`ALTER ROLE ${cluster.conn.user} RESET ayb_test.ms_per_row`, [], 'postgres');
    }
    expect((await row('stopped'))?.status).toBe('ready');
    await made('branch', 'delete', 'stopped', '--yes');
  });

  it('a create killed with -9: the next command removes its partial database and marks it failed', async () => {
    const child = spawnCli(['branch', 'create', 'killed', '--strategy', 'dump'], { env });
    await waitForRestoreOf(cluster, 'a_slow');
    child.kill('SIGKILL');
    await child;
    await waitUntil('the branch lock to be released', async () => (await advisoryLocksHeld(cluster)) === 0);
    const next = await listed('branch', 'killed');
    expect(next.stderr).toContain('Removed the partial database "ayb_branch_killed" of branch "killed"');
    expect(next.record).toMatchObject({ status: 'failed' });
    await waitUntil('the restore sessions to end', async () => (await toolSessions(cluster)).length === 0);
    expect(await branchDatabases(cluster)).toEqual([]);
    await made('branch', 'delete', 'killed', '--yes', '--force');
  });

  it('a reset killed with -9 leaves its temporaries written down on the record, and the next command drops exactly those', async () => {
    await made('branch', 'create', 'resetme', '--strategy', 'template');
    // pg_dump of the reset waits at this gate; the fresh copy exists by then.
    const gate = await holdGate(cluster, 'app', 'z_bulk');
    let temps: string[];
    try {
      const child = spawnCli(['branch', 'reset', 'resetme', '--strategy', 'dump'], { env });
      await waitForDumpAtGate(cluster);
      temps = (await row('resetme'))!.temp_databases;
      expect(temps).toHaveLength(2);
      expect(await databases('ayb\\_reset\\_%')).toEqual([temps.find((t) => t.endsWith('_new'))]);
      child.kill('SIGKILL');
      await child;
    } finally {
      await gate.release();
    }
    await waitUntil('the branch lock to be released', async () => (await advisoryLocksHeld(cluster)) === 0);
    // The names are written down on the record, not derived from the branch's database name: the
    // next command (here a rename, which finishes what was interrupted before it starts) drops them.
    const renamed = await cli('branch', 'rename', 'resetme', 'renamed');
    expect(renamed.exitCode, renamed.stderr).toBe(0);
    expect(renamed.stderr).toContain(`Removing "${temps.find((t) => t.endsWith('_new'))}", a temporary database left by an interrupted reset of branch "resetme"`);
    expect((await listed('branch', 'renamed')).record).toMatchObject({ status: 'ready' });
    expect(await databases('ayb\\_reset\\_%')).toEqual([]);
    expect((await row('renamed'))?.temp_databases).toEqual([]);
    await made('branch', 'delete', 'renamed', '--yes');
  });

  it('a readable copy of a snapshot left by a killed ayb is dropped by the next command', async () => {
    await cluster.createDatabase('ayb_view_0123456789ab');
    const next = await cli('snapshot', 'list', '--json');
    expect(next.stderr).toContain('Removing "ayb_view_0123456789ab", a copy of a snapshot left by an ayb process that was killed');
    expect(await databases('ayb\\_view\\_%')).toEqual([]);
  });

  // A real full disk: a 24 MB tmpfs as the tablespace that dump creates land in (template0 moved
  // there, so CREATE DATABASE … TEMPLATE template0 puts the branch on it). Needs root, for mount.
  it.skipIf(!isRoot)('disk full mid dump create: exit 5 naming psql and the full disk, the partial database removed and the space freed', async () => {
    const mountPoint = path.join(dir, 'small');
    await mkdir(mountPoint);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mountPoint]);
    try {
      // The cluster runs as the `postgres` OS user when the tests run as root.
      const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }));
      await chown(mountPoint, id('-u'), id('-g'));
      await cluster.createDatabase('big');
      // About 45 MB of rows: far more than the tablespace holds.
      await cluster.query("CREATE TABLE filler AS SELECT g AS id, repeat(md5(g::text), 8) AS payload FROM generate_series(1, 150000) g", [], 'big');
      await cluster.query(`CREATE TABLESPACE small LOCATION '${mountPoint}'`, [], 'postgres');
      await cluster.query('ALTER DATABASE template0 SET TABLESPACE small', [], 'postgres');
      const free = () => Number(execFileSync('df', ['--output=avail', '-B1', mountPoint], { encoding: 'utf8' }).trim().split('\n')[1]);
      const before = free();

      const result = await cli('branch', 'create', 'full', '--from', cluster.url('big'), '--strategy', 'dump', '--json');
      expect(result.exitCode).toBe(5);
      const error = result.json().error;
      expect(error).toMatchObject({ code: 'psql_failed', cleanup: 'done' });
      expect(error.message).toMatch(/No space left on device/);
      expect(error.hint).toMatch(/the partial database was removed and the branch marked failed$/);
      expect(await branchDatabases(cluster)).toEqual([]);
      expect((await row('full'))?.status).toBe('failed');
      expect(free()).toBe(before);
    } finally {
      await cluster.query('ALTER DATABASE template0 SET TABLESPACE pg_default', [], 'postgres').catch(() => undefined);
      await cluster.query('DROP TABLESPACE IF EXISTS small', [], 'postgres').catch(() => undefined);
      execFileSync('umount', [mountPoint]);
    }
  });
});

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

