import { UsageError } from '../core/errors.js';
import { type ArchiverStatus, archiverStatus, archivingFailure, archivingFix, ensureHistory, pruneHistory, type PruneResult } from '../history/archive.js';
import { withClient } from '../postgres/client.js';
import { parsePointInTime } from '../history/point-in-time.js';
import { checkInWindow, withClusterAt } from '../history/restore.js';
import { type BaseBackup, baseDir, diskUsage, historyRanges, type HistorySettings, listBaseBackups, readBreaks, walDir } from '../history/store.js';
import type { BranchContext, OpenedContext } from './context.js';
import { createBranch, type CreateOptions, type CreateResult } from './create.js';
import { validateBranchName } from './names.js';
import type { ResolvedSource } from './source.js';

export { isPointInTime } from '../history/point-in-time.js';

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

/**
 * `branch create --from main@<time>` and `snapshot create --of main@<time>`: restores main as it
 * was at that moment into a temporary cluster, copies its main database into a new branch (the
 * dump path of a copy from another server) and removes the temporary cluster. The branch records
 * its source as `main@<time>`.
 */
export async function createAtPointInTime(ctx: OpenedContext, options: CreateOptions & { readonly from: string }): Promise<CreateResult> {
  const at = parsePointInTime(options.from);
  const history = historyOf(ctx);
  // Said before anything is restored: a bad name, a moment outside the window. A taken name is
  // refused, and a free one reserved (the create's lock and its `creating` record), by
  // createBranch before it calls `provide`, so the ~20 s of restore and replay come after.
  validateBranchName(options.name);
  await checkInWindow(history, at);
  const claimed: ResolvedSource = { conn: ctx.main, label: at.label, sameServer: false, sameRoles: true, parent: null, snapshot: null, masked: false };
  return createBranch(ctx, {
    ...options,
    from: undefined,
    sourceLabel: at.label,
    deferredSource: {
      claimed,
      provide: (copy) => withClusterAt(history, ctx.main, at, async ({ conn }) => {
        const started = Date.now();
        // The restored cluster as a typed value: its roles are main's, so grants and owners are
        // carried (a URL parsed back would be "another server", copied without them).
        const result = await copy({ ...claimed, conn });
        ctx.log?.(`Copied main as of ${at.time} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
        return result;
      }, { signal: options.signal, log: ctx.log }),
    },
  });
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
  /** pg_stat_archiver: whether WAL still reaches the history. */
  readonly archiving: ArchiverStatus;
  /** What is wrong and how to fix it (archiving failing), else empty. */
  readonly warnings: readonly string[];
}

/** `ayb history`: the window, the base backups and the disk they use. */
export async function historyStatus(ctx: OpenedContext): Promise<HistoryStatus> {
  const history = historyOf(ctx);
  const backups = await listBaseBackups(history);
  const found = historyRanges(backups, await readBreaks(history.dir));
  const sized = await Promise.all(backups.map(async (b: BaseBackup) => ({
    name: b.name,
    started_at: b.startedAt.toISOString(),
    finished_at: b.finishedAt.toISOString(),
    bytes: await diskUsage(b.path),
  })));
  const walBytes = await diskUsage(walDir(history));
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
