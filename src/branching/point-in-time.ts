import { UsageError } from '../core/errors.js';
import { type ArchiverStatus, archiverStatus, archivingFailure, archivingFix, ensureHistory, pruneHistory, type PruneResult } from '../history/archive.js';
import { withClient } from '../postgres/client.js';
import { backupBytesByDatabase, type BaseBackup, baseDir, diskUsage, historyRanges, type HistorySettings, listBaseBackups, readBreaks, walDir } from '../history/store.js';
import type { BranchContext, OpenedContext } from './context.js';
import { BRANCH_DATABASE_PREFIX, SNAPSHOT_DATABASE_PREFIX } from './names.js';

/** The history of the managed PostgreSQL, or exit 2 saying why there is none. */
export function historyOf(ctx: OpenedContext): HistorySettings {
  if (ctx.source !== 'managed') {
    throw new UsageError('a branch of main at a past moment needs the history that only the managed PostgreSQL keeps; ayb does not manage this server', {
      hint: 'use the managed PostgreSQL with [history] enabled = true, or keep a WAL archive of your server (pgBackRest, WAL-G) or use a hosted service with branching; see README "Point-in-time branches"',
    }, 'history_unavailable');
  }
  if (!ctx.history) {
    const kept = ctx.keptHistoryDir
      ? `; the history kept from when it was on is still in ${ctx.keptHistoryDir} (delete that folder if you no longer need it)`
      : '';
    throw new UsageError('history is off for the managed PostgreSQL', {
      hint: `set [history] enabled = true in ayb.toml; from then on ayb keeps WAL and base backups, and moments after the first base backup can be branched${kept}`,
    }, 'history_disabled');
  }
  return ctx.history;
}

export interface HistoryShare {
  /** Summed over all base backups. */
  readonly main_bytes: number;
  readonly branches_bytes: number;
  readonly snapshots_bytes: number;
  /** Other databases (postgres, template0/1, ayb's temporary copies, databases dropped since the backup). */
  readonly other_bytes: number;
  /** The rest of the base backups: shared catalogs, the WAL the backup needs, configuration. */
  readonly cluster_bytes: number;
  /** The newest base backup, database by database, largest first. */
  readonly newest: { readonly backup: string; readonly databases: readonly { readonly database: string; readonly kind: 'main' | 'branch' | 'snapshot' | 'other'; readonly bytes: number }[] };
}

export interface HistoryStatus {
  readonly dir: string;
  readonly keep: string;
  readonly base_backup_every: string;
  /**
   * From the first restorable moment to the last; null until the first base backup is taken. When
   * the history has gaps (`[history] dir` changed, history off for a while), not every moment in it
   * can be restored: `ranges` are the ones that can.
   */
  readonly window: { readonly from: string; readonly to: string } | null;
  /** The moments that can be restored, oldest first: every moment inside one of them (edges included). */
  readonly ranges: readonly { readonly from: string; readonly to: string }[];
  /** The moments between two ranges that cannot be restored, and why. */
  readonly gaps: readonly { readonly from: string; readonly to: string; readonly why: string }[];
  readonly base_backups: readonly { readonly name: string; readonly started_at: string; readonly finished_at: string; readonly bytes: number }[];
  readonly wal_bytes: number;
  readonly total_bytes: number;
  /**
   * How much of the base backups is whose: every base backup holds every database of main's cluster,
   * branches and snapshots included (they live there). Per database, from the newest backup's
   * `base/<oid>` folders; `branches_bytes` and the others sum over all base backups. The WAL is one
   * stream for the whole cluster and is not split by database.
   */
  readonly share: HistoryShare | null;
  /** pg_stat_archiver: whether WAL still reaches the history. */
  readonly archiving: ArchiverStatus;
  /** What is wrong and how to fix it (archiving failing), else empty. */
  readonly warnings: readonly string[];
}

/** `ayb history`: the window, the base backups and the disk they use. */
export async function historyStatus(ctx: OpenedContext): Promise<HistoryStatus> {
  const history = historyOf(ctx);
  const backups = await listBaseBackups(history);
  const breaks = await readBreaks(history.dir);
  const found = historyRanges(backups, breaks);
  const sized = await Promise.all(backups.map(async (b: BaseBackup) => ({
    name: b.name,
    started_at: b.startedAt.toISOString(),
    finished_at: b.finishedAt.toISOString(),
    bytes: await diskUsage(b.path),
  })));
  const walBytes = await diskUsage(walDir(history));
  const share = await historyShare(ctx, backups, sized.map((b) => b.bytes));
  const archiving = await withClient(ctx.main, (c) => archiverStatus(c));
  // While archiving fails, moments after the last archived segment cannot be restored.
  const ranges = found.ranges.map((r, i) => {
    const last = i === found.ranges.length - 1;
    const to = last && archiving.failing && archiving.last_archived_at && Date.parse(archiving.last_archived_at) < r.to.getTime()
      ? new Date(Math.max(r.from.getTime(), Date.parse(archiving.last_archived_at)))
      : r.to;
    return { from: r.from.toISOString(), to: to.toISOString() };
  });
  return {
    dir: history.dir,
    keep: history.keep,
    base_backup_every: history.everyText,
    window: ranges.length > 0 ? { from: ranges[0]!.from, to: ranges.at(-1)!.to } : null,
    ranges,
    gaps: found.gaps.map((g) => ({ from: g.from.toISOString(), to: g.to.toISOString(), why: g.why })),
    base_backups: sized,
    wal_bytes: walBytes,
    total_bytes: walBytes + (await diskUsage(baseDir(history))),
    share,
    archiving,
    warnings: [
      ...(archiving.failing ? [`${archivingFailure(history, archiving)}; ${archivingFix(history)}`] : []),
      ...breaks.filter((b) => b.unknown).map((b) => b.why),
    ],
  };
}

/** Whose the base backups' bytes are: main's, the branches', the snapshots', the rest. */
async function historyShare(ctx: OpenedContext, backups: readonly BaseBackup[], totals: readonly number[]): Promise<HistoryShare | null> {
  if (backups.length === 0) return null;
  const names = await withClient(ctx.main, async (c) =>
    new Map((await c.query<{ oid: string; datname: string }>('SELECT oid::text, datname FROM pg_database')).rows.map((r) => [Number(r.oid), r.datname])));
  const kindOf = (database: string | undefined): 'main' | 'branch' | 'snapshot' | 'other' =>
    database === ctx.main.database ? 'main' : database?.startsWith(BRANCH_DATABASE_PREFIX) ? 'branch' : database?.startsWith(SNAPSHOT_DATABASE_PREFIX) ? 'snapshot' : 'other';
  const sums = { main: 0, branch: 0, snapshot: 0, other: 0 };
  let inDatabases = 0;
  let newest: HistoryShare['newest']['databases'] = [];
  for (const [i, backup] of backups.entries()) {
    const databases = [...(await backupBytesByDatabase(backup)).entries()].map(([oid, bytes]) => {
      const database = names.get(oid);
      return { database: database ?? `(oid ${oid}, dropped since)`, kind: kindOf(database), bytes };
    });
    for (const d of databases) {
      sums[d.kind] += d.bytes;
      inDatabases += d.bytes;
    }
    if (i === backups.length - 1) newest = databases.sort((a, b) => b.bytes - a.bytes);
  }
  const total = totals.reduce((a, b) => a + b, 0);
  return {
    main_bytes: sums.main,
    branches_bytes: sums.branch,
    snapshots_bytes: sums.snapshot,
    other_bytes: sums.other,
    cluster_bytes: Math.max(0, total - inDatabases),
    newest: { backup: backups.at(-1)!.name, databases: newest },
  };
}

/** `ayb history prune`: base backups and WAL older than the window needs. */
export async function pruneHistoryNow(ctx: OpenedContext): Promise<PruneResult> {
  return pruneHistory(historyOf(ctx), ctx.log);
}

/** `ayb start`, every hour: a base backup when the newest is older than base_backup_every, then a prune. */
export async function keepHistory(ctx: OpenedContext | BranchContext): Promise<void> {
  const history = (ctx as Partial<OpenedContext>).history;
  if (history) await ensureHistory(history, ctx.main, ctx.log);
}
