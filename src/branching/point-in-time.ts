import { UsageError } from '../core/errors.js';
import { type ArchiverStatus, archiverStatus, archivingFailure, archivingFix, ensureHistory, pruneHistory, type PruneResult } from '../history/archive.js';
import { withClient } from '../postgres/client.js';
import { type BaseBackup, baseDir, diskUsage, type HistorySettings, historyWindow, listBaseBackups, walDir } from '../history/store.js';
import type { BranchContext, OpenedContext } from './context.js';

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

export interface HistoryStatus {
  readonly dir: string;
  readonly keep: string;
  readonly base_backup_every: string;
  /** null until the first base backup is taken. */
  readonly window: { readonly from: string; readonly to: string } | null;
  readonly base_backups: readonly { readonly name: string; readonly started_at: string; readonly finished_at: string; readonly bytes: number }[];
  readonly wal_bytes: number;
  readonly total_bytes: number;
  /** pg_stat_archiver: whether WAL still reaches the history. */
  readonly archiving: ArchiverStatus;
  /** What is wrong and how to fix it (archiving failing), else empty. */
  readonly warnings: readonly string[];
}

/** `ayb history`: the window, the base backups and the disk they use. */
export async function historyStatus(ctx: OpenedContext): Promise<HistoryStatus> {
  const history = historyOf(ctx);
  const backups = await listBaseBackups(history);
  const window = historyWindow(backups);
  const sized = await Promise.all(backups.map(async (b: BaseBackup) => ({
    name: b.name,
    started_at: b.startedAt.toISOString(),
    finished_at: b.finishedAt.toISOString(),
    bytes: await diskUsage(b.path),
  })));
  const walBytes = await diskUsage(walDir(history));
  const archiving = await withClient(ctx.main, (c) => archiverStatus(c));
  // While archiving fails, moments after the last archived segment cannot be restored.
  const to = window && archiving.failing && archiving.last_archived_at && Date.parse(archiving.last_archived_at) < window.to.getTime()
    ? new Date(Math.max(window.from.getTime(), Date.parse(archiving.last_archived_at)))
    : window?.to;
  return {
    dir: history.dir,
    keep: history.keep,
    base_backup_every: history.everyText,
    window: window ? { from: window.from.toISOString(), to: to!.toISOString() } : null,
    base_backups: sized,
    wal_bytes: walBytes,
    total_bytes: walBytes + (await diskUsage(baseDir(history))),
    archiving,
    warnings: archiving.failing ? [`${archivingFailure(history, archiving)}; ${archivingFix(history)}`] : [],
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
