import { existsSync } from 'node:fs';
import { lstat, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type LoadedConfig, managedClusterOptions, resolvePath } from '../config/resolve.js';
import { parseDuration } from '../core/duration.js';
import { UsageError } from '../core/errors.js';
import { processRuns } from '../postgres/lock.js';
import { type ManagedClusterOptions, stopManagedCluster } from '../postgres/managed/index.js';

/**
 * The on-disk layout of `[history]`, beside the managed data directory by default:
 *
 *   <dir>/wal/<segment>                  WAL archived by the server's archive_command
 *   <dir>/base/<finished>/data/          a base backup (pg_basebackup, plain format)
 *   <dir>/base/<finished>/backup.json    when it started and finished, its first WAL segment
 *   <dir>/base/.partial-<pid>/           a backup being taken (renamed when done)
 *   <dir>/restore-<pid>-<n>/data/        a temporary cluster restored to a moment
 *   <dir>/breaks.json                    moments after which the WAL went elsewhere (dir changed, history off)
 *
 * Folders named by a pid belong to that ayb process; one whose process is gone was left by a kill
 * and is removed by the next ayb that touches history.
 */
export interface HistorySettings {
  readonly dir: string;
  readonly keepMs: number;
  readonly everyMs: number;
  readonly keep: string;
  readonly everyText: string;
  /** The managed cluster whose history this is. */
  readonly cluster: ManagedClusterOptions;
}

export interface BaseBackup {
  /** Folder name under base/. */
  readonly name: string;
  readonly path: string;
  readonly startedAt: Date;
  /** A restore can reach any moment from here on (the backup is consistent once it ended). */
  readonly finishedAt: Date;
  /** The first WAL segment the backup needs; older archived WAL serves only older backups. */
  readonly startWal: string;
}

export interface BackupMeta {
  readonly started_at: string;
  readonly finished_at: string;
  readonly start_wal: string;
}

export function historySettings(loaded: LoadedConfig): HistorySettings {
  const cluster = managedClusterOptions(loaded);
  const history = loaded.config.history;
  const dir = history.dir ? resolvePath(loaded, history.dir) : path.join(path.dirname(cluster.dataDir), 'history');
  // The path goes into archive_command and restore_command, between single quotes.
  if (/['"\\%\n]/.test(dir)) {
    throw new UsageError(`[history] dir "${dir}" contains a quote, backslash, % or newline`, { hint: 'choose a plain path' }, 'invalid_config');
  }
  return {
    dir,
    keep: history.keep,
    everyText: history.base_backup_every,
    keepMs: parseDuration(history.keep, '[history] keep'),
    everyMs: parseDuration(history.base_backup_every, '[history] base_backup_every'),
    cluster,
  };
}

export const walDir = (s: HistorySettings) => path.join(s.dir, 'wal');
export const baseDir = (s: HistorySettings) => path.join(s.dir, 'base');

/** The base backups, oldest first. */
export async function listBaseBackups(settings: HistorySettings): Promise<BaseBackup[]> {
  const names = await readdir(baseDir(settings)).catch(() => [] as string[]);
  const backups: BaseBackup[] = [];
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const dir = path.join(baseDir(settings), name);
    try {
      const meta = JSON.parse(await readFile(path.join(dir, 'backup.json'), 'utf8')) as BackupMeta;
      backups.push({ name, path: dir, startedAt: new Date(meta.started_at), finishedAt: new Date(meta.finished_at), startWal: meta.start_wal });
    } catch {
      // Not a backup ayb finished; ignored.
    }
  }
  return backups.sort((a, b) => a.finishedAt.getTime() - b.finishedAt.getTime());
}

/** The moments a branch can be made of: from the end of the oldest base backup until now. */
export interface HistoryWindow {
  readonly from: Date;
  readonly to: Date;
}

export function historyWindow(backups: readonly BaseBackup[], now: Date = new Date()): HistoryWindow | undefined {
  return backups.length === 0 ? undefined : { from: backups[0]!.finishedAt, to: now };
}

/**
 * A moment after which this folder's WAL stops (`[history] dir` changed to another folder, history
 * turned off): ayb archived every change up to `at` before it switched, so moments up to `at` are
 * restorable from the base backups before it, and nothing after it until a base backup taken later.
 * Written in `<dir>/breaks.json`, oldest first.
 */
export interface HistoryBreak {
  readonly at: Date;
  /** What stopped the WAL, for `ayb history` and the refusal of a moment in the gap. */
  readonly why: string;
  /**
   * The moment could not be read (breaks.json damaged or hand-edited): somewhere before the
   * newest base backup the WAL may have gone elsewhere, so only that backup is trusted.
   * `raw` is what was there, written back as it was so that the doubt survives the next break.
   */
  readonly unknown?: { readonly raw: unknown };
}

const breaksFile = (dir: string) => path.join(dir, 'breaks.json');

/** breaks.json of `dir`: none when missing; what cannot be read becomes a break of unknown moment, never nothing. */
export async function readBreaks(dir: string): Promise<HistoryBreak[]> {
  let text: string;
  try {
    text = await readFile(breaksFile(dir), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    return [unknownBreak(`${breaksFile(dir)} cannot be read (${(error as Error).message})`, { unreadable: true })];
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    raw = undefined;
  }
  if (!Array.isArray(raw)) return [unknownBreak(`${breaksFile(dir)} is not a list of breaks (damaged or hand-edited)`, { unreadable: text.slice(0, 200) })];
  return raw
    .map((entry: unknown): HistoryBreak => {
      const e = (entry ?? {}) as { at?: unknown; why?: unknown };
      const at = typeof e.at === 'string' ? new Date(e.at) : new Date(Number.NaN);
      if (Number.isNaN(at.getTime())) return unknownBreak(`an entry of ${breaksFile(dir)} has no readable moment (${JSON.stringify(entry).slice(0, 120)})`, entry);
      return { at, why: typeof e.why === 'string' ? e.why : 'the WAL went elsewhere' };
    })
    .sort((a, b) => a.at.getTime() - b.at.getTime());
}

function unknownBreak(why: string, raw: unknown): HistoryBreak {
  return { at: new Date(0), why: `${why}: only moments after the newest base backup are trusted`, unknown: { raw } };
}

/** Appends a break (written under a temporary name and renamed, so a crash leaves the old list or the new one). */
export async function recordBreak(dir: string, brk: HistoryBreak): Promise<void> {
  const breaks = [...(await readBreaks(dir)), brk].map((b) => (b.unknown ? b.unknown.raw : { at: b.at.toISOString(), why: b.why }));
  const temporary = `${breaksFile(dir)}.${process.pid}`;
  await writeFile(temporary, JSON.stringify(breaks, null, 2) + '\n');
  await rename(temporary, breaksFile(dir));
}

/** Base backups a restore may start from: with a break of unknown moment, only the newest. */
function trusted(backups: readonly BaseBackup[], breaks: readonly HistoryBreak[]): readonly BaseBackup[] {
  return breaks.some((b) => b.unknown) ? backups.slice(-1) : backups;
}

/** A run of moments that can be restored. */
export interface HistoryRange {
  readonly from: Date;
  readonly to: Date;
}

/** A run of moments between two ranges that cannot be restored, and why. */
export interface HistoryGap extends HistoryRange {
  readonly why: string;
}

/**
 * The restorable moments, oldest first: each base backup reaches from its end until the first break
 * after it (or `now`); overlapping reaches are one range. Pure.
 */
export function historyRanges(backups: readonly BaseBackup[], breaks: readonly HistoryBreak[], now: Date = new Date()): { ranges: HistoryRange[]; gaps: HistoryGap[] } {
  const known = breaks.filter((b) => !b.unknown);
  const reaches = trusted(backups, breaks)
    .map((b) => ({ from: b.finishedAt, to: breakAfter(known, b.finishedAt)?.at ?? now }))
    .filter((r) => r.to.getTime() >= r.from.getTime())
    .sort((a, b) => a.from.getTime() - b.from.getTime());
  const ranges: HistoryRange[] = [];
  for (const reach of reaches) {
    const last = ranges.at(-1);
    if (last && reach.from.getTime() <= last.to.getTime()) {
      if (reach.to.getTime() > last.to.getTime()) ranges[ranges.length - 1] = { from: last.from, to: reach.to };
    } else {
      ranges.push(reach);
    }
  }
  const gaps = ranges.slice(1).map((range, i) => {
    const before = ranges[i]!;
    return { from: before.to, to: range.from, why: breakAfter(known, before.to)?.why ?? 'no base backup reaches these moments' };
  });
  return { ranges, gaps };
}

/** The first break at or after `from`. */
function breakAfter(breaks: readonly HistoryBreak[], from: Date): HistoryBreak | undefined {
  return breaks.find((b) => b.at.getTime() >= from.getTime());
}

/**
 * The newest base backup a restore to `at` can start from: it ended before `at`, and no break of
 * the WAL lies between its end and `at` (`atMicros`: the moment to the microsecond, when known).
 */
export function backupFor(backups: readonly BaseBackup[], at: Date, breaks: readonly HistoryBreak[] = [], atMicros: number = at.getTime() * 1000): BaseBackup | undefined {
  const backup = trusted(backups, breaks).filter((b) => b.finishedAt.getTime() <= at.getTime()).at(-1);
  if (!backup) return undefined;
  const brk = breakAfter(breaks.filter((b) => !b.unknown), backup.finishedAt);
  // In microseconds: a break is written to the millisecond, and a moment later in that millisecond is after it.
  return brk && brk.at.getTime() * 1000 < atMicros ? undefined : backup;
}

/**
 * Which base backups `prune` deletes: every one that ended before the window (now - keep) except
 * the newest of those, which the oldest moments of the window are restored from. Pure.
 */
export function backupsToPrune(backups: readonly BaseBackup[], keepMs: number, now: Date = new Date()): BaseBackup[] {
  const cutoff = now.getTime() - keepMs;
  const before = backups.filter((b) => b.finishedAt.getTime() <= cutoff);
  return before.slice(0, -1);
}

/** Bytes used by a folder, recursively (symlinks not followed). */
export async function diskUsage(dir: string): Promise<number> {
  let info;
  try {
    info = await lstat(dir);
  } catch {
    return 0;
  }
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) total += await diskUsage(path.join(dir, name));
  return total;
}

/**
 * Removes what an ayb killed mid-way left: a temporary cluster (stopped first) or a half-taken base
 * backup, found by the pid in its folder name, and says so. Folders of live processes stay.
 */
export async function removeLeftovers(settings: HistorySettings, log?: (line: string) => void): Promise<string[]> {
  const removed: string[] = [];
  const candidates = [
    ...(await readdir(settings.dir).catch(() => [] as string[])).map((n) => ({ parent: settings.dir, name: n, prefix: 'restore-' })),
    ...(await readdir(baseDir(settings)).catch(() => [] as string[])).map((n) => ({ parent: baseDir(settings), name: n, prefix: '.partial-' })),
  ];
  // A base backup being pruned is renamed .pruning-<name> first (pruneHistory), so a prune killed
  // halfway leaves that, never a listed backup with files missing. A folder under base/ without its
  // backup.json (what a prune killed in an earlier version left, or a backup.json deleted by hand)
  // restores nothing either: both are removed, and said.
  for (const name of await readdir(baseDir(settings)).catch(() => [] as string[])) {
    const dir = path.join(baseDir(settings), name);
    const pruning = name.startsWith('.pruning-');
    if (!pruning && (name.startsWith('.') || existsSync(path.join(dir, 'backup.json')))) continue;
    if (!pruning && !(await lstat(dir).then((i) => i.isDirectory(), () => false))) continue;
    const bytes = await diskUsage(dir);
    await rm(dir, { recursive: true, force: true });
    removed.push(dir);
    log?.(`Removed ${pruning ? 'a base backup whose prune was interrupted' : 'a base backup folder without its backup.json (a prune or copy was interrupted), which restores nothing'}: ${dir} (${Math.round(bytes / 1024 / 1024)} MB)`);
  }
  for (const { parent, name, prefix } of candidates) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || processRuns(pid)) continue;
    const dir = path.join(parent, name);
    const dataDir = path.join(dir, 'data');
    if (existsSync(path.join(dataDir, 'postmaster.pid'))) {
      try {
        await stopManagedCluster({ dataDir, binDir: settings.cluster.binDir, osUser: settings.cluster.osUser });
      } catch (error) {
        log?.(`warning: could not stop the temporary cluster in ${dir} left by pid ${pid}: ${(error as Error).message}`);
        continue;
      }
    }
    await rm(dir, { recursive: true, force: true });
    removed.push(dir);
    log?.(`Removed ${prefix === 'restore-' ? 'a temporary cluster' : 'a half-taken base backup'} left by an interrupted ayb (pid ${pid}): ${dir}`);
  }
  return removed;
}

/**
 * The bytes each database takes in a base backup: its folder `data/base/<oid>` (pg_basebackup, plain
 * format, copies every database of the cluster; shared catalogs, pg_wal and the rest are not in any).
 */
export async function backupBytesByDatabase(backup: BaseBackup): Promise<Map<number, number>> {
  const dir = path.join(backup.path, 'data', 'base');
  const sizes = new Map<number, number>();
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (/^\d+$/.test(name)) sizes.set(Number(name), await diskUsage(path.join(dir, name)));
  }
  return sizes;
}

