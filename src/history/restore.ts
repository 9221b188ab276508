import { appendFile, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { ExternalError, NotFoundError } from '../core/errors.js';
import { connect, withClient } from '../postgres/client.js';
import type { ConnInfo } from '../postgres/conninfo.js';
import { MANAGED_SUPERUSER, prepareServiceDir, runAsServiceUser, startClusterIn, stopManagedCluster } from '../postgres/managed/index.js';
import { freePort } from '../postgres/ports.js';
import { quoteLiteral } from '../postgres/quote.js';
import { archiverStatus, archivingFailure, archivingFix } from './archive.js';
import { momentMicros, type PointInTime, recoveryTargetTime } from './point-in-time.js';
import { type BaseBackup, backupFor, type HistoryGap, type HistoryRange, historyRanges, type HistorySettings, historyWindow, listBaseBackups, readBreaks, removeLeftovers, walDir } from './store.js';

const ARCHIVE_WAIT_MS = 120_000;
/** Replaying a day of WAL can take a while; pg_ctl waits this long for the restored cluster. */
const REPLAY_TIMEOUT_S = 6 * 3600;

export interface RestoreTimings {
  /** Copying the base backup into the temporary cluster's folder. */
  readonly restoreMs: number;
  /** Starting it and replaying WAL up to the moment. */
  readonly replayMs: number;
}

export interface RestoredCluster {
  /** The main database (`ayb`) of the temporary cluster, as it was at the moment. */
  readonly conn: ConnInfo;
  readonly backup: BaseBackup;
  readonly timings: RestoreTimings;
}

export interface RestoreOptions {
  readonly signal?: AbortSignal;
  readonly log?: (line: string) => void;
}

/** The moment must fall inside the window; the hint says what the window is. */
export function outsideWindowError(at: PointInTime, window: { from: Date; to: Date } | undefined): NotFoundError {
  const range = window ? `${window.from.toISOString()} .. ${window.to.toISOString()}` : 'empty (no base backup yet)';
  return new NotFoundError('outside_history_window', `${at.label} is outside the history window`, {
    hint: `the managed PostgreSQL's history reaches ${range}; pick a moment inside it (ayb history shows it)`,
    details: { window: window ? { from: window.from.toISOString(), to: window.to.toISOString() } : null },
  });
}

/** The moment falls between two restorable ranges: the WAL of it is not in this history. */
export function inGapError(at: PointInTime, gap: HistoryGap, ranges: readonly HistoryRange[]): NotFoundError {
  const shown = ranges.map((r) => `${r.from.toISOString()} .. ${r.to.toISOString()}`).join(', ');
  return new NotFoundError('outside_history_window', `${at.label} falls in a gap of the history (${gap.from.toISOString()} .. ${gap.to.toISOString()}: ${gap.why}), which no base backup can reach`, {
    hint: `the moments that can be restored: ${shown}; pick one of them (ayb history shows them)`,
    details: { ranges: ranges.map((r) => ({ from: r.from.toISOString(), to: r.to.toISOString() })), gap: { from: gap.from.toISOString(), to: gap.to.toISOString(), why: gap.why } },
  });
}

/** The base backup a restore to `at` starts from; exit 3 when `at` is outside the window or in a gap of it. */
export async function checkInWindow(settings: HistorySettings, at: PointInTime): Promise<BaseBackup> {
  const backups = await listBaseBackups(settings);
  const breaks = await readBreaks(settings.dir);
  const window = historyWindow(backups);
  const micros = momentMicros(at);
  const backup = backupFor(backups, at.at, breaks, micros);
  if (!backup || !window || at.at.getTime() > Date.now()) {
    const { ranges, gaps } = historyRanges(backups, breaks);
    const gap = gaps.find((g) => micros > g.from.getTime() * 1000 && micros < g.to.getTime() * 1000);
    if (gap) throw inGapError(at, gap, ranges);
    throw outsideWindowError(at, ranges.length > 0 ? { from: ranges[0]!.from, to: ranges.at(-1)!.to } : window);
  }
  return backup;
}

/** Restores begun by this process: two at once in one process (ayb start) get a folder each. */
let restores = 0;

/**
 * Runs `fn` with a temporary cluster restored to `at`: the newest base backup that ended before
 * `at`, in its own folder (restore-<pid>-<n>) on its own port, replaying archived WAL up to exactly
 * `at`, then promoted. The cluster is stopped and its folder deleted whatever happens, Ctrl-C
 * included; after a SIGKILL the next ayb that touches history removes it (removeLeftovers).
 */
export async function withClusterAt<T>(
  settings: HistorySettings,
  main: ConnInfo,
  at: PointInTime,
  fn: (restored: RestoredCluster) => Promise<T>,
  options: RestoreOptions = {},
): Promise<T> {
  const { signal, log } = options;
  await removeLeftovers(settings, log);
  const backup = await checkInWindow(settings, at);
  await archiveUpToNow(settings, main, signal);

  const folder = path.join(settings.dir, `restore-${process.pid}-${++restores}`);
  const dataDir = path.join(folder, 'data');
  const cluster = { ...settings.cluster, dataDir, port: 0, log: undefined };
  try {
    signal?.throwIfAborted();
    const t0 = Date.now();
    await rm(folder, { recursive: true, force: true });
    await prepareServiceDir(folder, cluster);
    log?.(`Restoring base backup ${backup.name} into a temporary cluster …`);
    const copied = await runAsServiceUser('cp', ['-a', path.join(backup.path, 'data'), dataDir], cluster, {}, signal);
    signal?.throwIfAborted();
    if (copied.exitCode !== 0) throw new ExternalError('restore_failed', `could not copy base backup ${backup.name}`, { hint: copied.output.trim() });
    await configureRecovery(settings, dataDir, at, main);
    signal?.throwIfAborted();
    const t1 = Date.now();
    const port = await freePort();
    log?.(`Replaying WAL up to ${at.time} …`);
    // A Ctrl-C or an `ayb start` shutdown ends the wait for the replay at once; discard stops the cluster.
    await startClusterIn({ ...cluster, port }, REPLAY_TIMEOUT_S, signal).catch(async (error: unknown) => {
      if (signal?.aborted) throw signal.reason;
      throw new ExternalError('replay_failed', `the temporary cluster could not replay WAL up to ${at.time}`, {
        hint: (await logTail(dataDir)) || (error as Error).message,
        cause: error,
      });
    });
    const conn: ConnInfo = { ...main, host: '127.0.0.1', port };
    await waitForPromotion(conn, dataDir, signal);
    const t2 = Date.now();
    const timings = { restoreMs: t1 - t0, replayMs: t2 - t1 };
    log?.(`Restored ${backup.name} in ${(timings.restoreMs / 1000).toFixed(1)}s, replayed WAL to ${at.time} in ${(timings.replayMs / 1000).toFixed(1)}s`);
    return await fn({ conn, backup, timings });
  } catch (error) {
    // A Ctrl-C also reaches the copy's children (cp, pg_dump): report the interrupt, not their failure.
    if (signal?.aborted) throw signal.reason;
    throw error;
  } finally {
    await discard(folder, cluster, log);
  }
}

/** Stops the temporary cluster and deletes its folder; a cluster that would not stop keeps its folder, for the next ayb to retry. */
async function discard(folder: string, cluster: { dataDir: string; binDir?: string; osUser?: string }, log?: (line: string) => void): Promise<void> {
  try {
    await stopManagedCluster({ dataDir: cluster.dataDir, binDir: cluster.binDir, osUser: cluster.osUser });
  } catch (error) {
    log?.(`warning: could not stop the temporary cluster in ${folder} (${(error as Error).message}); the next ayb command that touches history retries`);
    return;
  }
  await rm(folder, { recursive: true, force: true });
}

/**
 * Makes sure every change up to now is in the archive: a transaction that commits now (so replay
 * meets a commit after the moment and stops there, rather than running out of WAL before it), a
 * switch to a new WAL segment, and a wait until the archiver has copied the finished one.
 */
async function archiveUpToNow(settings: HistorySettings, main: ConnInfo, signal?: AbortSignal): Promise<void> {
  await withClient(main, async (client) => {
    await client.query('SELECT txid_current()');
    const { rows } = await client.query<{ segment: string; at: Date }>('SELECT pg_walfile_name(pg_switch_wal()) AS segment, clock_timestamp() AS at');
    const segment = rows[0]!.segment;
    const switchedAt = rows[0]!.at.getTime();
    const deadline = Date.now() + ARCHIVE_WAIT_MS;
    for (;;) {
      signal?.throwIfAborted();
      const status = await archiverStatus(client);
      const archived = status.last_archived_wal;
      if (archived !== null && archived >= segment) return;
      // A failure since the switch: waiting would not help, the fix is the user's.
      const failedSince = status.failing && status.last_failed_at !== null && Date.parse(status.last_failed_at) >= switchedAt;
      if (failedSince || Date.now() > deadline) {
        throw new ExternalError('archive_lagging', `WAL segment ${segment} is not in the history: ${status.failing ? archivingFailure(settings, status) : `not archived within ${ARCHIVE_WAIT_MS / 1000}s`}`, {
          hint: status.failing ? archivingFix(settings) : 'the archiver is behind; try again in a moment',
          details: { archiving: status },
        });
      }
      await delay(100);
    }
  });
}

/**
 * The temporary cluster's only door: ayb's own role, over loopback. The base backup carries main's
 * pg_hba.conf and main's roles with their passwords of that moment, so without this any of them
 * (one dropped, locked out or demoted since included) could log in while it replays and is copied,
 * read main as it was, and write rows that the branch then carried (copy-access-attack.test.ts).
 */
export function restoreHba(user: string): string {
  if (/["\s]/.test(user) || user === '') {
    throw new ExternalError('restore_failed', `the role name ${JSON.stringify(user)} cannot be written in a pg_hba.conf line`, {
      hint: 'connect to main with a role whose name has no quote or space to create point-in-time copies',
    });
  }
  return ['# ayb: a temporary copy restored to a moment; only ayb\'s own role may connect', `host all "${user}" 127.0.0.1/32 scram-sha-256`, ''].join('\n');
}

async function configureRecovery(settings: HistorySettings, dataDir: string, at: PointInTime, main: ConnInfo): Promise<void> {
  // pg_hba.conf exists (initdb made it, the base backup copied it) and belongs to the service
  // user; overwriting it keeps its owner. hba_file below makes sure it is the one read.
  const hba = path.join(dataDir, 'pg_hba.conf');
  await writeFile(hba, restoreHba(main.user ?? MANAGED_SUPERUSER));
  const lines = [
    '',
    '# ayb: a temporary copy restored to a moment; it archives nothing of its own',
    `hba_file = ${quoteLiteral(hba)}`,
    "listen_addresses = '127.0.0.1'",
    "unix_socket_directories = ''",
    "archive_mode = 'off'",
    `restore_command = ${quoteLiteral(`cp '${walDir(settings)}/%f' '%p'`)}`,
    `recovery_target_time = ${quoteLiteral(recoveryTargetTime(at))}`,
    "recovery_target_action = 'promote'",
    "recovery_target_timeline = 'current'",
    '',
  ];
  // postgresql.auto.conf is read last, so these win over what main's ALTER SYSTEM put there.
  await appendFile(path.join(dataDir, 'postgresql.auto.conf'), lines.join('\n'));
  await rm(path.join(dataDir, 'postgres.log'), { force: true });
  const signalFile = await runAsServiceUser('touch', [path.join(dataDir, 'recovery.signal')], settings.cluster);
  if (signalFile.exitCode !== 0) throw new ExternalError('restore_failed', 'could not write recovery.signal', { hint: signalFile.output.trim() });
}

async function waitForPromotion(conn: ConnInfo, dataDir: string, signal?: AbortSignal): Promise<void> {
  for (;;) {
    signal?.throwIfAborted();
    let inRecovery = true;
    try {
      const client = await connect(conn);
      try {
        inRecovery = (await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r;
      } finally {
        await client.end().catch(() => undefined);
      }
    } catch (error) {
      const tail = await logTail(dataDir);
      if (/FATAL|PANIC/.test(tail)) throw new ExternalError('replay_failed', 'the temporary cluster stopped while replaying WAL', { hint: tail, cause: error });
    }
    if (!inRecovery) return;
    await delay(100);
  }
}

async function logTail(dataDir: string): Promise<string> {
  const text = await readFile(path.join(dataDir, 'postgres.log'), 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-6).join('\n');
}
