import { chooseStrategy, cloneDatabase, type CloneOutcome, type CloneProgress, finishCopy } from '../clone/clone.js';
import type { StrategyChoice } from '../config/schema.js';
import type { CloneStrategy } from '../core/records.js';
import { CONTROL_TABLE_SQL } from '../core/records.js';
import { withClusterAt } from '../history/restore.js';
import type { MaskingJob } from '../masking/prepare.js';
import type { Verification } from '../masking/verify.js';
import type { Client } from '../postgres/client.js';
import { withDatabase } from '../postgres/conninfo.js';
import { type BranchContext, type OpenedContext, reconnectControl, releaseControl } from './context.js';
import { historyOf } from './point-in-time.js';
import { type ResolvedSource, strategyFor } from './source.js';

/** One copy of a resolved source into a new database: what create (branch, snapshot) and reset share. */
export interface CopyJob {
  readonly source: ResolvedSource;
  /** The database made: a new branch or snapshot, or a reset's fresh copy. */
  readonly target: string;
  /** As asked (`--strategy`, or `[branching] default_strategy`). */
  readonly requested: StrategyChoice;
  /** Planned before anything was recorded (maskingPlan); undefined for an unmasked copy. */
  readonly masking?: MaskingJob;
  /** A snapshot: sealed once made (nobody connects to it). */
  readonly seal?: boolean;
  /**
   * Leave the target closed to everyone but ayb: the caller opens it with `finishCopy(…, outcome.access)`
   * later (a reset, once the copy has the branch's name: a session held on the fresh copy would block the swap).
   */
  readonly deferAccess?: boolean;
  readonly disconnect?: boolean;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: CloneProgress) => void;
  /** The line said once the strategy is chosen. */
  readonly announce: (strategy: CloneStrategy) => string;
  /** Called just before the target is made: from here on, a failure leaves a database to drop. */
  readonly onStart?: (strategy: CloneStrategy) => void;
}

export interface CopyOutcome {
  readonly outcome: CloneOutcome;
  /** The masking verification, for the record; undefined for an unmasked copy. */
  readonly verified?: Verification;
}

/**
 * The one place a copy is assembled: the strategy (a snapshot by template only), main to itself for
 * a template copy of it, a temporary cluster for `main@<time>` (as a typed value: its roles are
 * main's, so grants are carried), the clone, the masking and its verification, and the target's
 * access. The caller holds the locks and records the result.
 */
export async function copyDatabase(ctx: BranchContext, maint: Client, job: CopyJob): Promise<CopyOutcome> {
  const { source, signal } = job;
  const requested = strategyFor(source, job.requested);
  // A copy of main needs main to itself: this command's own session on it goes first.
  const copiesMain = source.sameServer && source.conn.database === ctx.main.database;
  const run = async (from: ResolvedSource): Promise<CopyOutcome> => {
    signal?.throwIfAborted();
    if (copiesMain) await releaseControl(ctx);
    const strategy = await chooseStrategy(maint, from, requested, { disconnect: job.disconnect });
    ctx.log?.(job.announce(strategy));
    if (copiesMain) await releaseControl(ctx);
    job.onStart?.(strategy);
    const outcome = await cloneDatabase({
      main: ctx.main,
      config: ctx.config,
      maint,
      source: from,
      target: job.target,
      strategy,
      excludeTables: controlTableIn(source.parent !== null),
      signal,
      onProgress: job.onProgress,
      disconnect: job.disconnect,
      fallbackToDump: requested === 'auto' && source.snapshot === null,
      rewriteDump: job.masking?.rewriteDump,
      log: ctx.log,
      // Main is free again: the command's session on it reconnects while the copy is finished.
      onCopied: copiesMain ? () => reconnectControl(ctx) : undefined,
      // Nothing is done in it afterwards and it opens once made: opened with the control table's drop.
      openInCopy: !job.masking && !job.seal && !job.deferAccess,
    });
    // Never ready unless fully masked: a failure here drops the copy like any other.
    const verified = await job.masking?.afterCopy(withDatabase(ctx.main, job.target));
    signal?.throwIfAborted();
    // Closed since it was made; a branch now opens with its source's grants. Nobody connects to a
    // snapshot (no session is left on it), so it stays exactly as it was copied.
    if (!job.deferAccess && !outcome.opened) await finishCopy(maint, job.target, outcome.access, { seal: job.seal, log: ctx.log });
    signal?.throwIfAborted();
    return { outcome, verified };
  };
  const at = source.pointInTime;
  if (!at) return run(source);
  // main@<time>: main restored to that moment in a temporary cluster, removed once copied.
  return withClusterAt(historyOf(ctx as OpenedContext), ctx.main, at, async ({ conn }) => {
    const started = Date.now();
    const result = await run({ ...source, conn });
    ctx.log?.(`Copied main as of ${at.time} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    return result;
  }, { signal, log: ctx.log });
}

/**
 * What a copy of `source` must leave out: the control table, which main has (and a URL's database
 * may have, being another ayb's main). A branch or snapshot never has it (it was left out when that
 * was made), so a copy of one needs no session on the copy to drop it.
 */
export function controlTableIn(fromRecord: boolean): string[] {
  return fromRecord ? [] : [CONTROL_TABLE_SQL];
}
