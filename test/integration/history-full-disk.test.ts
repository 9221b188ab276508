import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { waitUntil } from '../helpers/gate.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * The history folder on a real small disk (a tmpfs, as recovery.test.ts does for a full disk; needs
 * root, for mount). Filled up: archiving fails, and that is said (ayb history, a warning on every
 * command, the window ending at the last archived segment); an overdue base backup fails no
 * command; with space back, archiving resumes by itself (atomic copies, no partial segment left
 * under its final name). The judge is the server's pg_stat_archiver and the files on disk.
 */
describe.skipIf(!isRoot)('history on a full disk', () => {
  let cluster: TestCluster;
  let work: string;
  let historyDir: string;
  let mounted = false;
  const cli = (...args: string[]) => runCli(args, { cwd: work, timeout: 300_000 });
  const config = (every: string) => writeFile(
    path.join(work, 'ayb.toml'),
    `[managed_pg]\ndata_dir = "${cluster.dataDir}"\nport = ${cluster.port}\n\n[history]\nenabled = true\ndir = "history"\nbase_backup_every = "${every}"\n`,
  );
  const archiver = async () => (await cluster.query<{ archived: string | null; failed: string | null; failing: boolean }>(
    `SELECT last_archived_wal AS archived, last_failed_wal AS failed,
            last_failed_time IS NOT NULL AND (last_archived_time IS NULL OR last_failed_time > last_archived_time) AS failing
       FROM pg_stat_archiver`,
  )).rows[0]!;
  const switchWal = async () => {
    await cluster.query('SELECT txid_current()');
    return (await cluster.query<{ segment: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS segment')).rows[0]!.segment;
  };
  const filler = () => path.join(historyDir, 'filler');

  beforeAll(async () => {
    cluster = await startTestCluster({ private: true });
    work = await mkdtemp(path.join(os.tmpdir(), 'ayb-history-full-'));
    await chmod(work, 0o755);
    historyDir = path.join(work, 'history');
    await mkdir(historyDir);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=160m', 'tmpfs', historyDir]);
    mounted = true;
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }));
    await chown(historyDir, id('-u'), id('-g'));
    await config('1d');
    const first = await cli('history');
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/Taking a base backup/);
  }, 300_000);
  afterAll(async () => {
    await cluster?.stop();
    if (mounted) execFileSync('umount', [historyDir]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('a full history disk: archiving failure shown in ayb history and warned on every command, with the fix', async () => {
    // First the archiver catches up with a segment switched now. pg_basebackup (-X stream) does not
    // wait for archiving, so the base backup's last segment may still be on its way into the history
    // folder: filling the disk under it would fail that segment (or fallocate) instead of the one
    // switched below; and archived before the backup's recorded end, it would leave no segment
    // archived inside the window, whose end the check below compares with the last archived one.
    const settled = await switchWal();
    await waitUntil('archiving to reach the segment switched before filling the disk', async () => {
      const now = await archiver();
      return !now.failing && now.archived !== null && now.archived >= settled;
    }, 120_000);
    // Leave 4 MB: less than one 16 MB WAL segment.
    const avail = Number(execFileSync('df', ['--output=avail', '-B1', historyDir], { encoding: 'utf8' }).trim().split('\n')[1]);
    execFileSync('fallocate', ['-l', String(avail - 4 * 1024 * 1024), filler()]);
    const segment = await switchWal();
    await waitUntil('archiving to fail', async () => {
      const now = await archiver();
      return now.failing && now.failed === segment;
    }, 120_000);

    const shown = await cli('history', '--json');
    expect(shown.exitCode, shown.stderr).toBe(0);
    const status = shown.json();
    expect(status.archiving).toMatchObject({ failing: true, last_failed_wal: segment });
    expect(status.warnings[0]).toMatch(/fails .*free space on the disk of/);
    // The window does not pretend to reach now.
    expect(Date.parse(status.window.to)).toBeLessThanOrEqual(Date.parse(status.archiving.last_archived_at));
    const listed = await cli('branch', 'list');
    expect(listed.exitCode, listed.stderr).toBe(0);
    expect(listed.stderr).toMatch(/warning: WAL archiving into .* fails/);
  }, 300_000);

  it('an overdue base backup on the full disk fails no command: branch list and history prune still work', async () => {
    await config('1s');
    const listed = await cli('branch', 'list');
    expect(listed.exitCode, listed.stderr).toBe(0);
    expect(listed.stderr).toMatch(/warning: the base backup \[history\] is due could not be taken/);
    const pruned = await cli('history', 'prune');
    expect(pruned.exitCode, pruned.stderr).toBe(0);
    expect((await readdir(path.join(historyDir, 'base'))).filter((n) => n.startsWith('.partial'))).toEqual([]);
    await config('1d');
  }, 300_000);

  it('with space back, archiving resumes by itself, and no partial segment is left', async () => {
    const failed = (await archiver()).failed!;
    await rm(filler());
    const segment = await switchWal();
    await waitUntil('archiving to catch up', async () => {
      const now = await archiver();
      return !now.failing && now.archived !== null && now.archived >= segment;
    }, 120_000);
    const wal = path.join(historyDir, 'wal');
    expect((await stat(path.join(wal, failed))).size).toBe(16 * 1024 * 1024);
    expect((await readdir(wal)).filter((n) => n.endsWith('.partial'))).toEqual([]);
    const shown = (await cli('history', '--json')).json();
    expect(shown.archiving.failing).toBe(false);
    expect(shown.warnings).toEqual([]);
  }, 300_000);
});
