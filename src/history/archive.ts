import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { ExternalError } from '../core/errors.js';
import { type Client, withClient } from '../postgres/client.js';
import { type ConnInfo, libpqEnv, scrubSecret } from '../postgres/conninfo.js';
import { withFileLock } from '../postgres/lock.js';
import { type ManagedClusterOptions, prepareServiceDir, restartManagedCluster, runAsServiceUser, shareCredentialsWithServiceUser } from '../postgres/managed/index.js';
import { quoteLiteral } from '../postgres/quote.js';
import { findTool } from '../postgres/tools.js';
import { type BackupMeta, baseDir, type BaseBackup, backupsToPrune, diskUsage, type HistorySettings, listBaseBackups, readBreaks, recordBreak, removeLeftovers, walDir } from './store.js';

/** A base backup of a large database takes a while; others wait for it rather than take a second one. */
const BACKUP_LOCK_TIMEOUT_MS = 6 * 3600_000;

/**
 * The archive_command ayb writes (run by the server's archiver, through /bin/sh). Atomic: the
 * segment is copied under a temporary name, flushed to disk, renamed, and the folder flushed, so a
 * full disk or a crash never leaves a partial segment under the final name. A segment already
 * archived is never overwritten (a second cluster, a restore, must not clobber main's): when its
 * content is identical that is success (the archiver retrying after a crash), otherwise failure.
 */
export function archiveCommand(settings: HistorySettings): string {
  const dir = walDir(settings);
  return `f='${dir}/%f'; if test -f "$f"; then cmp -s %p "$f"; else cp %p "$f.partial" && sync "$f.partial" && mv -f "$f.partial" "$f" && sync '${dir}' || { rm -f "$f.partial"; false; }; fi`;
}

/** Earlier ayb versions archived with this command (not atomic); it is replaced on the next command. */
function legacyArchiveCommand(dir: string): string {
  return `test ! -f '${dir}/wal/%f' && cp %p '${dir}/wal/%f'`;
}

/**
 * What `[history] enabled` keeps true on every ayb command that opens the managed cluster: leftovers
 * of killed runs removed, WAL archiving on (restarting the cluster once, and saying so), a base
 * backup no older than base_backup_every, and nothing kept beyond the window.
 */
export async function ensureHistory(settings: HistorySettings, main: ConnInfo, log?: (line: string) => void): Promise<void> {
  await prepareServiceDir(settings.dir, { ...settings.cluster, log });
  await prepareServiceDir(walDir(settings), settings.cluster);
  await prepareServiceDir(baseDir(settings), settings.cluster);
  await removeLeftovers(settings, log);
  // Archiving turned (back) on: WAL written while it was off is missing, so the newest base backup
  // cannot reach the moments from now on; a fresh one can.
  const turnedOn = await ensureArchiving(settings, main, log);
  const archiving = await withClient(main, (c) => archiverStatus(c));
  if (archiving.failing) log?.(`warning: ${archivingFailure(settings, archiving)}; ${archivingFix(settings)}`);
  // Also due when the newest base backup is older than a break of this folder (a fresh one failed
  // when the dir was changed back or archiving turned on): it cannot reach any moment since.
  const due = async () => {
    const newest = (await listBaseBackups(settings)).at(-1);
    const lastBreak = (await readBreaks(settings.dir)).filter((b) => !b.unknown).at(-1);
    return !newest || Date.now() - newest.finishedAt.getTime() >= settings.everyMs || (lastBreak !== undefined && newest.finishedAt.getTime() <= lastBreak.at.getTime());
  };
  if (turnedOn || (await due())) {
    // Due, but never at the cost of the command it runs before (a branch list, a create, a prune
    // that would free the space): a failure is a warning, and the next command tries again.
    try {
      await withFileLock(path.join(settings.dir, '.backup.lock'), async () => {
        if (!turnedOn && !(await due())) return;
        await takeBaseBackup(settings, main, log);
        await pruneHistory(settings, log);
      }, BACKUP_LOCK_TIMEOUT_MS);
    } catch (error) {
      const hint = error instanceof ExternalError && error.hint ? ` (${error.hint.replace(/\s*\n\s*/g, ' | ')})` : '';
      log?.(`warning: the base backup [history] is due could not be taken: ${(error as Error).message}${hint}; ${archivingFix(settings)}; the next ayb command tries again`);
    }
  }
}

/** What pg_stat_archiver says of the managed cluster's archiving into the history. */
export interface ArchiverStatus {
  /** The last attempt failed: segments from last_failed_wal on are not in the history. */
  readonly failing: boolean;
  readonly last_archived_wal: string | null;
  readonly last_archived_at: string | null;
  readonly last_failed_wal: string | null;
  readonly last_failed_at: string | null;
  readonly failed_count: number;
}

export async function archiverStatus(client: Client): Promise<ArchiverStatus> {
  const { rows } = await client.query<{ last_archived_wal: string | null; last_archived_at: Date | null; last_failed_wal: string | null; last_failed_at: Date | null; failed_count: string; failing: boolean }>(
    `SELECT last_archived_wal, last_archived_time AS last_archived_at, last_failed_wal, last_failed_time AS last_failed_at, failed_count::text,
            last_failed_time IS NOT NULL AND (last_archived_time IS NULL OR last_failed_time > last_archived_time) AS failing
       FROM pg_stat_archiver`,
  );
  const row = rows[0]!;
  return {
    failing: row.failing,
    last_archived_wal: row.last_archived_wal,
    last_archived_at: row.last_archived_at?.toISOString() ?? null,
    last_failed_wal: row.last_failed_wal,
    last_failed_at: row.last_failed_at?.toISOString() ?? null,
    failed_count: Number(row.failed_count),
  };
}

/** One line: archiving fails, since when, and what that means. */
export function archivingFailure(settings: HistorySettings, status: ArchiverStatus): string {
  const since = status.last_archived_at ? `; the history reaches no later than ${status.last_archived_at}` : '';
  return `WAL archiving into ${walDir(settings)} fails (segment ${status.last_failed_wal ?? '?'} at ${status.last_failed_at ?? '?'}, ${status.failed_count} failure(s) so far)${since}, and main's pg_wal grows until it works again`;
}

/** The fix, for a hint. */
export function archivingFix(settings: HistorySettings): string {
  return `free space on the disk of ${settings.dir} (ayb history prune deletes what the window no longer needs) and check that the folder is writable by the server's OS user; the server retries by itself, and postgres.log of the managed PostgreSQL says why it failed`;
}

/** Turns WAL archiving into the history on; true when it was off (and the cluster restarted). */
async function ensureArchiving(settings: HistorySettings, main: ConnInfo, log?: (line: string) => void): Promise<boolean> {
  const wanted = archiveCommand(settings);
  const current = await withClient(main, (c) => settingsOf(c));
  if (current.archive_mode === 'on' && current.archive_command === wanted && current.wal_level !== 'minimal') return false;
  return withFileLock(path.join(settings.dir, '.archiving.lock'), async () => {
    await shareCredentialsWithServiceUser(settings.cluster);
    const needsRestart = await withClient(main, async (c) => {
      const now = await settingsOf(c);
      const before = now.archive_mode === 'on' ? historyDirOfArchiveCommand(now.archive_command) : undefined;
      // The old folder's history ends here: everything up to now archived into it first, and the moment written down.
      if (before !== undefined && before !== settings.dir) await endHistoryIn(before, c, `[history] dir changed to ${settings.dir}`, log);
      if (now.wal_level === 'minimal') await c.query("ALTER SYSTEM SET wal_level = 'replica'");
      if (now.archive_mode !== 'on') await c.query("ALTER SYSTEM SET archive_mode = 'on'");
      if (now.archive_command !== wanted) await c.query(`ALTER SYSTEM SET archive_command = ${quoteLiteral(wanted)}`);
      await c.query('SELECT pg_reload_conf()');
      return { restart: now.archive_mode !== 'on' || now.wal_level === 'minimal', movedFrom: before !== undefined && before !== settings.dir ? before : undefined };
    });
    if (needsRestart.movedFrom !== undefined) {
      // The WAL from now on goes to the new folder: the old one's history ends here, and a base
      // backup already in the new folder (changed back) cannot reach the moments since it.
      const bytes = await diskUsage(needsRestart.movedFrom);
      log?.(`[history] dir changed from ${needsRestart.movedFrom} to ${settings.dir}: WAL is archived into the new folder from now on, and a fresh base backup is taken there; the history kept in ${needsRestart.movedFrom} (${Math.round(bytes / 1024 / 1024)} MB) is no longer used or pruned by ayb: delete that folder when you no longer need it`);
    }
    if (needsRestart.restart) {
      log?.(`Restarting the managed PostgreSQL once to turn on WAL archiving into ${walDir(settings)} ([history] enabled) …`);
      await restartManagedCluster(settings.cluster);
    }
    return needsRestart.restart || needsRestart.movedFrom !== undefined;
  });
}

/** The history folder an archive_command written by ayb (archiveCommand, or an earlier version's) copies into; undefined for any other command. */
export function historyDirOfArchiveCommand(command: string): string | undefined {
  const atomic = /^f='(.+)\/wal\/%f'; if test -f "\$f"; then cmp -s %p "\$f"; else cp %p "\$f\.partial" && sync "\$f\.partial" && mv -f "\$f\.partial" "\$f" && sync '(.+)\/wal' \|\| \{ rm -f "\$f\.partial"; false; \}; fi$/.exec(command);
  if (atomic) return atomic[1] === atomic[2] ? atomic[1] : undefined;
  const legacy = /^test ! -f '(.+)\/wal\/%f' && cp %p '(.+)\/wal\/%f'$/.exec(command);
  return legacy && legacy[1] === legacy[2] && command === legacyArchiveCommand(legacy[1]!) ? legacy[1] : undefined;
}

/**
 * `[history] enabled = false` (or absent) on a managed cluster that ayb once set to archive: turns
 * archiving off again (restarting the cluster once, and saying so). The history already kept stays
 * where it is, for the user to delete. An archive_command that ayb did not write is left alone.
 * Cheap when there is nothing to do: it reads postgresql.auto.conf, where ALTER SYSTEM put ayb's.
 */
export async function ensureNoArchiving(cluster: ManagedClusterOptions, main: ConnInfo, log?: (line: string) => void): Promise<void> {
  const auto = await readFile(path.join(path.resolve(cluster.dataDir), 'postgresql.auto.conf'), 'utf8').catch(() => '');
  if (!/^archive_command = '(test ! -f |f=)/m.test(auto)) return;
  const current = await withClient(main, (c) => settingsOf(c));
  const dir = historyDirOfArchiveCommand(current.archive_command);
  if (current.archive_mode !== 'on' || dir === undefined) return;
  // Beside the data directory, not in the history folder, which the user may have deleted already.
  await withFileLock(`${path.resolve(cluster.dataDir)}.archiving.lock`, async () => {
    const turnedOff = await withClient(main, async (c) => {
      const now = await settingsOf(c);
      const from = historyDirOfArchiveCommand(now.archive_command);
      if (now.archive_mode !== 'on' || from === undefined) return false;
      await endHistoryIn(from, c, 'history turned off ([history] enabled is not true)', log);
      await c.query('ALTER SYSTEM RESET archive_mode');
      // No reload: archive_mode needs the restart anyway, and an emptied archive_command with archiving
      // still on (ayb killed before the restart) would pile WAL up in pg_wal; until then it archives as before.
      await c.query('ALTER SYSTEM RESET archive_command');
      return true;
    });
    if (!turnedOff) return;
    log?.(`Restarting the managed PostgreSQL once to turn off WAL archiving ([history] is not enabled); the history kept so far stays in ${dir}: delete that folder when you no longer need it`);
    await restartManagedCluster(cluster);
  });
}

/** How long a switch of folder waits for the last segment to reach the old one. */
const END_ARCHIVE_WAIT_MS = 60_000;

/**
 * Before the WAL stops going into `dir`: commits a marker transaction after the moment `at` (so a
 * replay to `at` meets a commit after it and stops there), switches to a new segment, waits until
 * the archiver has copied it into `dir`, and writes `at` down as a break of that folder's history
 * (store.ts, recordBreak). When the segment cannot be archived (archiving fails), the break is put
 * at the last segment that was, so no moment is shown that cannot be restored.
 */
async function endHistoryIn(dir: string, client: Client, why: string, log?: (line: string) => void): Promise<void> {
  const at = (await client.query<{ at: Date }>('SELECT clock_timestamp() AS at')).rows[0]!.at;
  await client.query('SELECT txid_current()');
  const segment = (await client.query<{ segment: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS segment')).rows[0]!.segment;
  const deadline = Date.now() + END_ARCHIVE_WAIT_MS;
  let status = await archiverStatus(client);
  while ((status.last_archived_wal === null || status.last_archived_wal < segment) && !status.failing && Date.now() < deadline) {
    await delay(100);
    status = await archiverStatus(client);
  }
  const archived = status.last_archived_wal !== null && status.last_archived_wal >= segment;
  const end = archived ? at : new Date(Math.min(at.getTime(), status.last_archived_at ? Date.parse(status.last_archived_at) : 0));
  if (!archived) log?.(`warning: the last WAL of ${dir} could not be archived (${status.failing ? `archiving fails since ${status.last_failed_at ?? '?'}` : `not within ${END_ARCHIVE_WAIT_MS / 1000} s`}); its history ends at ${end.toISOString()}`);
  // The folder may be gone (deleted by the user before the change): nothing left to mark, and no
  // reason to fail the command.
  await recordBreak(dir, { at: end, why }).catch((error: unknown) => {
    log?.(`warning: could not write down in ${dir} where its history ends (${(error as Error).message}); moments after ${end.toISOString()} cannot be restored from it`);
  });
}

async function settingsOf(client: Client): Promise<{ archive_mode: string; archive_command: string; wal_level: string }> {
  const { rows } = await client.query<{ archive_mode: string; archive_command: string; wal_level: string }>(
    "SELECT current_setting('archive_mode') AS archive_mode, current_setting('archive_command') AS archive_command, current_setting('wal_level') AS wal_level",
  );
  return rows[0]!;
}

/** pg_basebackup, run as the cluster's OS user, into base/.partial-<pid>, renamed when complete. */
export async function takeBaseBackup(settings: HistorySettings, main: ConnInfo, log?: (line: string) => void): Promise<BaseBackup> {
  const { major } = await withClient(main, async (c) => ({ major: Math.floor(Number((await c.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]!.v) / 10000) }));
  const tool = await findTool('pg_basebackup', major);
  await prepareServiceDir(baseDir(settings), settings.cluster);
  const partial = path.join(baseDir(settings), `.partial-${process.pid}`);
  await rm(partial, { recursive: true, force: true });
  await prepareServiceDir(partial, settings.cluster);
  const started = new Date();
  log?.(`Taking a base backup of the managed PostgreSQL for [history] …`);
  try {
    const result = await runAsServiceUser(
      tool.path,
      ['-h', main.host, '-p', String(main.port), '-U', main.user ?? 'ayb', '-D', path.join(partial, 'data'), '-Fp', '-X', 'stream', '-c', 'fast', '-w'],
      settings.cluster,
      libpqEnv(main),
    );
    if (result.exitCode !== 0) {
      throw new ExternalError('base_backup_failed', 'pg_basebackup failed for [history]', { hint: scrubSecret(result.output.trim().split('\n').slice(-4).join('\n'), main) });
    }
    const finished = new Date();
    const label = await readFile(path.join(partial, 'data', 'backup_label'), 'utf8');
    const startWal = /START WAL LOCATION: .*\(file ([0-9A-F]{24})\)/.exec(label)?.[1];
    if (!startWal) throw new ExternalError('base_backup_failed', 'the base backup has no readable backup_label', { hint: `look at ${partial}` });
    const meta: BackupMeta = { started_at: started.toISOString(), finished_at: finished.toISOString(), start_wal: startWal };
    await writeFile(path.join(partial, 'backup.json'), JSON.stringify(meta, null, 2) + '\n');
    const name = finished.toISOString().replace(/:/g, '-');
    const final = path.join(baseDir(settings), name);
    await rename(partial, final);
    log?.(`Base backup ${name} taken in ${((finished.getTime() - started.getTime()) / 1000).toFixed(1)}s`);
    return { name, path: final, startedAt: started, finishedAt: finished, startWal };
  } catch (error) {
    await rm(partial, { recursive: true, force: true });
    throw error;
  }
}

export interface PruneResult {
  readonly deletedBackups: string[];
  readonly deletedWalFiles: number;
}

/** Deletes base backups that ended before the window (but the one it starts from) and the WAL only they needed. */
export async function pruneHistory(settings: HistorySettings, log?: (line: string) => void): Promise<PruneResult> {
  await removeLeftovers(settings, log);
  const backups = await listBaseBackups(settings);
  const doomed = backupsToPrune(backups, settings.keepMs);
  for (const backup of doomed) {
    // Renamed first (atomic): a prune killed halfway leaves .pruning-<name>, which the next ayb
    // that touches history removes (removeLeftovers), never a listed backup with files missing.
    const pruning = path.join(baseDir(settings), `.pruning-${backup.name}`);
    await rename(backup.path, pruning);
    await rm(pruning, { recursive: true, force: true });
    log?.(`Deleted base backup ${backup.name} (older than the window, [history] keep = ${settings.keep})`);
  }
  const oldestKept = backups[doomed.length];
  let deletedWalFiles = 0;
  if (oldestKept) {
    const tool = await findTool('pg_archivecleanup', 0);
    const { execa } = await import('execa');
    // -n: list what would go first, to count it; then delete for real.
    const dry = await execa(tool.path, ['-n', walDir(settings), oldestKept.startWal], { reject: false });
    deletedWalFiles = String(dry.stdout ?? '').split('\n').filter(Boolean).length;
    if (deletedWalFiles > 0) {
      const result = await execa(tool.path, [walDir(settings), oldestKept.startWal], { reject: false, all: true });
      if (result.exitCode !== 0) throw new ExternalError('prune_failed', 'pg_archivecleanup failed', { hint: String(result.all ?? '').trim() });
      log?.(`Deleted ${deletedWalFiles} archived WAL file(s) older than base backup ${oldestKept.name}`);
    }
  }
  return { deletedBackups: doomed.map((b) => b.name), deletedWalFiles };
}
