import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processRuns } from '../../src/postgres/lock.js';
import { runCli, spawnCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { waitUntil } from '../helpers/gate.js';

/**
 * Point-in-time branches: ayb manages this private cluster (its config names the data directory and
 * port) with [history] enabled, so it archives WAL, takes a base backup, and restores moments of it.
 * Every moment is read from the server's clock; nothing waits for time to pass.
 */
describe('point-in-time branches', () => {
  let cluster: TestCluster;
  let work: string;
  let historyDir: string;
  const cli = (...args: string[]) => runCli(args, { cwd: work, timeout: 300_000 });
  const now = async () =>
    (await cluster.query<{ t: string }>(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t`)).rows[0]!.t;
  const ids = async (database: string) => (await cluster.query<{ id: number }>('SELECT id FROM t ORDER BY id', [], database)).rows.map((r) => r.id);
  const tableExists = async (database: string, table: string) =>
    (await cluster.query<{ found: boolean }>('SELECT to_regclass($1) IS NOT NULL AS found', [table], database)).rows[0]!.found;
  const baseBackups = async () => (await readdir(path.join(historyDir, 'base'))).filter((n) => !n.startsWith('.'));
  const leftovers = async () => (await readdir(historyDir)).filter((n) => n.startsWith('restore-'));
  /** The pid in a postmaster.pid once the server has written it (the file appears before its content). */
  const postmasterPid = async (file: string) => {
    const pid = Number((await readFile(file, 'utf8').catch(() => '')).split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  };
  let t2: string;
  let t4: string;

  beforeAll(async () => {
    cluster = await startTestCluster({ private: true });
    work = await mkdtemp(path.join(os.tmpdir(), 'ayb-history-'));
    await chmod(work, 0o755);
    historyDir = path.join(work, 'history');
    await writeFile(
      path.join(work, 'ayb.toml'),
      `[managed_pg]\ndata_dir = "${cluster.dataDir}"\nport = ${cluster.port}\n\n[history]\nenabled = true\ndir = "history"\n`,
    );
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('turns on WAL archiving (restarting once, saying so) and takes a first base backup', async () => {
    const first = await cli('history');
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/Restarting the managed PostgreSQL once to turn on WAL archiving/);
    expect(first.stderr).toMatch(/Taking a base backup/);
    const again = await cli('history');
    expect(again.stderr).not.toMatch(/Restarting|Taking a base backup/);
    const shown = await cli('history', '--json');
    expect(shown.exitCode, shown.stderr).toBe(0);
    const status = shown.json();
    expect(status.base_backups).toHaveLength(1);
    expect(status.window).not.toBeNull();
    expect(status.total_bytes).toBeGreaterThan(0);
    // The server's own view: archiving is on and archives into the history folder.
    const { rows } = await cluster.query<{ mode: string; command: string }>("SELECT current_setting('archive_mode') AS mode, current_setting('archive_command') AS command");
    expect(rows[0]).toMatchObject({ mode: 'on' });
    expect(rows[0]!.command).toContain(path.join(historyDir, 'wal'));
  }, 120_000);

  it('branches main as it was at T2 (row and table there) and at T4 (row deleted, table dropped at T3)', async () => {
    // T1: the row and the table appear.
    await cluster.query("CREATE TABLE t (id int PRIMARY KEY, note text); INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 50) g");
    await cluster.query('CREATE TABLE gone (x int); INSERT INTO gone VALUES (1), (2), (3)');
    const frozen = await cli('snapshot', 'create', 'real2');
    expect(frozen.exitCode, frozen.stderr).toBe(0);
    t2 = await now();
    // T3: the row is deleted and the table dropped.
    await cluster.query('DELETE FROM t WHERE id = 1; DROP TABLE gone');
    t4 = await now();

    const at2 = await cli('branch', 'create', 'at2', '--from', `main@${t2}`, '--json');
    expect(at2.exitCode, at2.stderr).toBe(0);
    expect(at2.json()).toMatchObject({ name: 'at2', status: 'ready', source_database: `main@${t2}` });
    const at4 = await cli('branch', 'create', 'at4', '--from', `main@${t4}`);
    expect(at4.exitCode, at4.stderr).toBe(0);
    expect(at4.stderr).toMatch(/Restored .* in [\d.]+s, replayed WAL to .* in [\d.]+s/);

    expect((await ids('ayb_branch_at2'))[0]).toBe(1);
    expect(await ids('ayb_branch_at2')).toHaveLength(50);
    expect(await tableExists('ayb_branch_at2', 'public.gone')).toBe(true);
    expect((await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM gone', [], 'ayb_branch_at2')).rows[0]!.n).toBe(3);
    expect(await ids('ayb_branch_at4')).toEqual(Array.from({ length: 49 }, (_, i) => i + 2));
    expect(await tableExists('ayb_branch_at4', 'public.gone')).toBe(false);
    // Main itself moved on; the branches are copies, not main.
    expect(await tableExists('ayb', 'public.gone')).toBe(false);

    // Every table's rows equal those of a snapshot taken at T2.
    await cluster.query('ALTER DATABASE ayb_snap_real2 WITH ALLOW_CONNECTIONS true', [], 'postgres');
    expect(await fingerprint(cluster, 'ayb_branch_at2')).toEqual(await fingerprint(cluster, 'ayb_snap_real2'));
    await cluster.query('ALTER DATABASE ayb_snap_real2 WITH ALLOW_CONNECTIONS false', [], 'postgres');
    expect(await leftovers()).toEqual([]);
  }, 300_000);

  it('snapshot create --of main@<time> freezes that moment', async () => {
    const made = await cli('snapshot', 'create', 'snap2', '--of', `main@${t2}`, '--json');
    expect(made.exitCode, made.stderr).toBe(0);
    expect(made.json()).toMatchObject({ name: 'snap2', kind: 'snapshot', source_database: `main@${t2}` });
    await cluster.query('ALTER DATABASE ayb_snap_snap2 WITH ALLOW_CONNECTIONS true', [], 'postgres');
    expect(await tableExists('ayb_snap_snap2', 'public.gone')).toBe(true);
    expect((await ids('ayb_snap_snap2'))[0]).toBe(1);
  }, 300_000);

  it('refuses a moment outside the window (exit 3, the window in the hint) and records nothing', async () => {
    for (const moment of ['main@-30d', 'main@2000-01-01T00:00Z']) {
      const result = await cli('branch', 'create', 'too-old', '--from', moment, '--json');
      expect(result.exitCode, result.stderr).toBe(3);
      const error = JSON.parse(result.stdout).error;
      expect(error.code).toBe('outside_history_window');
      expect(error.hint).toMatch(/history reaches \d{4}-\d\d-\d\dT.* \.\. /);
    }
    expect((await cli('branch', 'list', '--json')).json().map((b: { name: string }) => b.name)).not.toContain('too-old');
  }, 120_000);

  it('refuses on a server ayb does not manage (exit 2) and when history is off', async () => {
    const unmanaged = await runCli(['branch', 'create', 'elsewhere', '--from', 'main@-1h', '--json'], { env: { AYB_DATABASE_URL: cluster.url() } });
    expect(unmanaged.exitCode, unmanaged.stderr).toBe(2);
    expect(JSON.parse(unmanaged.stdout).error).toMatchObject({ code: 'history_unavailable' });
    expect(JSON.parse(unmanaged.stdout).error.hint).toMatch(/pgBackRest|WAL-G/);
    const off = path.join(work, 'off.toml');
    await writeFile(off, `[managed_pg]\ndata_dir = "${cluster.dataDir}"\nport = ${cluster.port}\n`);
    // Turning history off turns archiving off (one restart, said) and keeps the history on disk.
    const turnedOff = await cli('branch', 'list', '--config', off);
    expect(turnedOff.exitCode, turnedOff.stderr).toBe(0);
    expect(turnedOff.stderr).toContain(`Restarting the managed PostgreSQL once to turn off WAL archiving ([history] is not enabled); the history kept so far stays in ${historyDir}`);
    const { rows } = await cluster.query<{ mode: string }>("SELECT current_setting('archive_mode') AS mode");
    expect(rows[0]!.mode).toBe('off');
    expect(await baseBackups()).not.toEqual([]);
    const disabled = await cli('snapshot', 'create', 'nohistory', '--of', 'main@-1m', '--config', off, '--json');
    expect(disabled.exitCode, disabled.stderr).toBe(2);
    expect(JSON.parse(disabled.stdout).error).toMatchObject({ code: 'history_disabled' });
    // With [history] still naming its folder, the refusal points at the history kept there.
    const offWithDir = path.join(work, 'off-dir.toml');
    await writeFile(offWithDir, `[managed_pg]\ndata_dir = "${cluster.dataDir}"\nport = ${cluster.port}\n\n[history]\nenabled = false\ndir = "history"\n`);
    const kept = await cli('history', '--config', offWithDir, '--json');
    expect(kept.exitCode, kept.stderr).toBe(2);
    expect(JSON.parse(kept.stdout).error.hint).toContain(`the history kept from when it was on is still in ${historyDir}`);
    const again = await cli('branch', 'list', '--config', off);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stderr).not.toMatch(/Restarting/);
  }, 120_000);

  it('turned back on: archives again (one restart), takes a fresh base backup, and still reaches moments from before', async () => {
    const before = await baseBackups();
    const turnedOn = await cli('history');
    expect(turnedOn.exitCode, turnedOn.stderr).toBe(0);
    expect(turnedOn.stderr).toMatch(/Restarting the managed PostgreSQL once to turn on WAL archiving/);
    expect(turnedOn.stderr).toMatch(/Taking a base backup/);
    expect((await cli('history', '--json')).json().base_backups).toHaveLength(before.length + 1);
    const { rows } = await cluster.query<{ mode: string }>("SELECT current_setting('archive_mode') AS mode");
    expect(rows[0]!.mode).toBe('on');
    const back = await cli('branch', 'create', 'backt4', '--from', `main@${t4}`);
    expect(back.exitCode, back.stderr).toBe(0);
    expect(await ids('ayb_branch_backt4')).toEqual(Array.from({ length: 49 }, (_, i) => i + 2));
  }, 300_000);

  it('on Ctrl-C during the replay, stops and removes the temporary cluster and records nothing (exit 130)', async () => {
    const child = spawnCli(['branch', 'create', 'interrupted', '--from', `main@${t2}`], { cwd: work, timeout: 300_000, detached: true });
    const pidFile = path.join(historyDir, `restore-${child.pid}-1`, 'data', 'postmaster.pid');
    const postmaster = await waitUntil('the temporary cluster to start', () => postmasterPid(pidFile), 120_000);
    process.kill(-child.pid!, 'SIGINT');
    const result = await child;
    expect(result.exitCode, String(result.stderr)).toBe(130);
    expect(await leftovers()).toEqual([]);
    await waitUntil(`the temporary postmaster ${postmaster} to be gone`, async () => !processRuns(postmaster), 15_000); // a stopped postmaster lingers until init reaps it
    expect((await cli('branch', 'list', '--json')).json().map((b: { name: string }) => b.name)).not.toContain('interrupted');
  }, 300_000);

  it('removes a temporary cluster left by a killed ayb on the next history command, and says so', async () => {
    const child = spawnCli(['branch', 'create', 'killed', '--from', `main@${t2}`], { cwd: work, timeout: 300_000 });
    const folder = path.join(historyDir, `restore-${child.pid}-1`); // the first restore of that process
    const pidFile = path.join(folder, 'data', 'postmaster.pid');
    const postmaster = await waitUntil('the temporary cluster to start', () => postmasterPid(pidFile), 120_000);
    child.kill('SIGKILL');
    await child;

    const next = await cli('history');
    expect(next.exitCode, next.stderr).toBe(0);
    expect(next.stderr).toContain(`Removed a temporary cluster left by an interrupted ayb (pid ${child.pid})`);
    expect(existsSync(folder)).toBe(false);
    await waitUntil(`the temporary postmaster ${postmaster} to be gone`, async () => !processRuns(postmaster), 15_000); // a stopped postmaster lingers until init reaps it
    expect(await leftovers()).toEqual([]);
  }, 300_000);

  it('a command run where there is no ayb.toml (a subfolder of the project, the home folder) leaves the history alone', async () => {
    // No ayb.toml here: the defaults name ~/.ayb/data, which is this managed cluster (as it is for a
    // project whose ayb.toml leaves data_dir out). That says nothing about [history]: archiving stays on.
    const home = await mkdtemp(path.join(os.tmpdir(), 'ayb-history-home-'));
    try {
      await chmod(home, 0o755);
      await mkdir(path.join(home, '.ayb'));
      await symlink(cluster.dataDir, path.join(home, '.ayb', 'data'));
      const elsewhere = await runCli(['branch', 'list'], { cwd: home, env: { HOME: home }, timeout: 120_000 });
      expect(elsewhere.exitCode, elsewhere.stderr).toBe(0);
      expect(elsewhere.stderr).not.toMatch(/Restarting|turn off WAL archiving/);
      const { rows } = await cluster.query<{ mode: string }>("SELECT current_setting('archive_mode') AS mode");
      expect(rows[0]!.mode).toBe('on');
      // So the project's next command finds its history as it left it: no restart, no new base backup.
      const back = await cli('history');
      expect(back.exitCode, back.stderr).toBe(0);
      expect(back.stderr).not.toMatch(/Restarting|Taking a base backup/);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  }, 300_000);
});
