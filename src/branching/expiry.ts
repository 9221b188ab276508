import { UsageError } from '../core/errors.js';
import { type Client, queryError } from '../postgres/client.js';
import { scrubSecret } from '../postgres/conninfo.js';
import { connectMaintenance, servedByAybStart } from '../postgres/maintenance.js';
import { type BranchRow } from '../core/records.js';
import { findChildren, findRow, listRows, updateRow } from './control-table.js';
import { parseTimestamp, ttlExpiry } from '../core/duration.js';
import { ifLockFree, lockHeld, withBranchLocks } from './locks.js';
import { validateBranchName } from './names.js';
import { type BranchContext, withControl } from './context.js';
import { dropBranch } from './delete.js';
import { finishInterruptedWork } from './recovery.js';
import { notFoundNear } from './errors.js';
import { getBranch } from './list.js';
import { type Branch } from '../core/records.js';

export interface ExpiryFlags {
  /** A duration from now (`7d`). */
  readonly ttl?: string;
  /** An ISO 8601 time. */
  readonly expiresAt?: string;
  /** Never expires. */
  readonly never?: boolean;
  /**
   * Take an `expiresAt` in the past as it is (the copy is then expired at once and the next prune
   * deletes it). Without it a past time is refused: it is far more often a typo (2020 for 2030).
   */
  readonly allowPast?: boolean;
}

/**
 * The expiry the flags ask for: a time, `null` for never, or `undefined` when no flag was given
 * (create then applies `[branching] default_ttl`). More than one flag is a usage error.
 */
export function expiryFromFlags(flags: ExpiryFlags, now: Date = new Date()): Date | null | undefined {
  const given = [flags.ttl !== undefined && '--ttl', flags.expiresAt !== undefined && '--expires-at', flags.never && '--never'].filter(Boolean);
  if (given.length > 1) {
    throw new UsageError(`${given.join(' and ')} cannot be combined`, { hint: 'give one of --ttl <duration>, --expires-at <time> or --never' });
  }
  if (flags.ttl !== undefined) return ttlExpiry(flags.ttl, '--ttl', now);
  if (flags.expiresAt !== undefined) {
    const when = parseTimestamp(flags.expiresAt, '--expires-at');
    if (!flags.allowPast && when.getTime() <= now.getTime()) {
      throw new UsageError(`--expires-at "${flags.expiresAt}" is in the past (${when.toISOString()}): the copy would be expired at once and deleted by the next prune`, {
        hint: 'give a future time (e.g. 2030-01-31T18:00Z) or a --ttl, or add --allow-past if an expired copy is what you want',
      }, 'expiry_in_past');
    }
    return when;
  }
  if (flags.never) return null;
  return undefined;
}

/**
 * Sets (or with `null` clears) when a branch expires. Holds the branch lock, so a prune that is
 * deciding about this branch right now finishes first, and never deletes it after `--never`.
 */
export async function setBranchExpiry(ctx: BranchContext, name: string, expiresAt: Date | null): Promise<Branch> {
  validateBranchName(name);
  await withBranchLocks(ctx, [name], () =>
    withControl(ctx, async (client) => {
      const row = await findRow(client, name);
      if (!row) throw await notFoundNear(client, name);
      await updateRow(client, row.id, { expires_at: expiresAt });
    }),
  );
  return getBranch(ctx, name);
}

export type PruneReason = 'expired' | 'older_than' | 'failed';
export type PruneAction = 'deleted' | 'would_delete' | 'skipped' | 'error';

export interface PruneOptions {
  /** List what would be deleted; change nothing. */
  readonly dryRun?: boolean;
  /** Also select branches created at least this many milliseconds ago. */
  readonly olderThan?: number;
  /** Also select failed branches, and half-made ones whose creator is gone. */
  readonly failed?: boolean;
  /** The clock (tests); default now. */
  readonly now?: Date;
  /** Branches never deleted by this prune, reported as skipped with the reason (the branch `ayb start` serves). */
  readonly keep?: ReadonlyMap<string, string>;
  /**
   * Ctrl-C, or `ayb start` shutting down: the branch being dropped is finished (its database and
   * its row go together), then the prune stops and throws the signal's reason.
   */
  readonly signal?: AbortSignal;
}

export interface PruneItem {
  readonly name: string;
  /** A branch or a snapshot: prune takes both, and says which it counted. */
  readonly kind: BranchRow['kind'];
  readonly branch_database: string;
  readonly status: BranchRow['status'];
  readonly parent: string | null;
  readonly created_at: string;
  readonly expires_at: string | null;
  /** Why it was selected. */
  readonly reasons: readonly PruneReason[];
  readonly action: PruneAction;
  /** Why it was skipped, or what went wrong. */
  readonly detail?: string;
}

export interface PruneResult {
  readonly dry_run: boolean;
  /** Every selected branch, in the order handled (deepest first), with what happened to it. */
  readonly branches: readonly PruneItem[];
}

/** Why `row` is selected by these options at `now`; empty when it is not. Pure, so it can be re-checked under the lock. */
export function pruneReasons(row: BranchRow, options: PruneOptions, now: Date): PruneReason[] {
  const reasons: PruneReason[] = [];
  if (row.expires_at !== null && row.expires_at.getTime() <= now.getTime()) reasons.push('expired');
  if (options.olderThan !== undefined && row.created_at.getTime() <= now.getTime() - options.olderThan) reasons.push('older_than');
  if (options.failed && row.status !== 'ready') reasons.push('failed');
  return reasons;
}

/** Depth in the parent chain (a root is 0), guarded against hand-made cycles. */
function depthOf(row: BranchRow, byName: ReadonlyMap<string, BranchRow>): number {
  let depth = 0;
  const seen = new Set([row.name]);
  for (let parent = row.parent; parent !== null && byName.has(parent) && !seen.has(parent); parent = byName.get(parent)!.parent) {
    seen.add(parent);
    depth++;
  }
  return depth;
}

/**
 * Deletes expired branches, and with options old or failed ones. Only selected branches are
 * touched, each re-checked under its lock just before it is dropped: one whose expiry was changed
 * meanwhile, one being created, reset or renamed right now (its lock is held), and one that other
 * branches (not being pruned) were made from, are skipped and reported. Children go before their
 * parents. A failure on one branch is reported and the others still run. An abort stops it between
 * two branches, never between dropping one's database and removing its row. `ayb start` calls this
 * periodically.
 */
export async function pruneBranches(ctx: BranchContext, options: PruneOptions = {}): Promise<PruneResult> {
  const now = options.now ?? new Date();
  const dryRun = options.dryRun === true;
  // `ayb start` prunes for as long as it runs: what was interrupted meanwhile is finished each time.
  const rows = await withControl(ctx, async (client) => {
    await finishInterruptedWork(ctx, client, { again: true });
    return listRows(client);
  });
  const byName = new Map(rows.map((row) => [row.name, row]));
  const selected = rows
    .map((row) => ({ row, reasons: pruneReasons(row, options, now) }))
    .filter((s) => s.reasons.length > 0)
    .sort((a, b) => depthOf(b.row, byName) - depthOf(a.row, byName));
  if (selected.length === 0) return { dry_run: dryRun, branches: [] };

  const remaining = new Set(rows.map((row) => row.name));
  const items: PruneItem[] = [];
  const maint = await connectMaintenance(ctx.main);
  try {
    for (const { row, reasons } of selected) {
      options.signal?.throwIfAborted();
      const item = (action: PruneAction, detail?: string): PruneItem => ({
        name: row.name,
        kind: row.kind,
        branch_database: row.branch_database,
        status: row.status,
        parent: row.parent,
        created_at: row.created_at.toISOString(),
        expires_at: row.expires_at ? row.expires_at.toISOString() : null,
        reasons,
        action,
        ...(detail ? { detail } : {}),
      });
      const kept = options.keep?.get(row.name);
      if (kept !== undefined) {
        items.push(item('skipped', kept));
        continue;
      }
      const children = rows.filter((r) => r.parent === row.name && remaining.has(r.name)).map((r) => r.name);
      if (children.length > 0) {
        items.push(item('skipped', `branches were made from it: ${children.join(', ')}`));
        continue;
      }
      let outcome: Outcome;
      try {
        outcome = dryRun ? await dryRunOutcome(maint, row) : await pruneOne(ctx, maint, row, options, now);
      } catch (error) {
        items.push(item('error', scrubSecret(queryError(error, ctx.main).message, ctx.main)));
        continue;
      }
      if (outcome.kind === 'busy') {
        // Someone works on it right now. If only --failed selected it, it is a create in progress,
        // not a failure: leave it out of the report altogether.
        if (!(reasons.length === 1 && reasons[0] === 'failed')) items.push(item('skipped', busyDetail(row)));
      } else if (outcome.kind === 'skipped') {
        items.push(item('skipped', outcome.detail));
      } else {
        remaining.delete(row.name);
        items.push(item(dryRun ? 'would_delete' : 'deleted'));
      }
    }
  } finally {
    await maint.end().catch(() => undefined);
  }
  return { dry_run: dryRun, branches: items };
}

type Outcome = { readonly kind: 'deleted' | 'busy' } | { readonly kind: 'skipped'; readonly detail: string };

function busyDetail(row: BranchRow): string {
  return row.status === 'creating' ? 'being created right now' : 'being changed by another ayb process right now';
}

/**
 * For a dry run, what the real prune would do, checked the same way without taking anything: busy
 * when its lock is held, skipped when `ayb start` serves it, else deleted. (A `creating` row with a
 * free lock is a leftover, and deletable.)
 */
async function dryRunOutcome(maint: Client, row: BranchRow): Promise<Outcome> {
  if (await lockHeld(maint, { record: row.name })) return { kind: 'busy' };
  return (await servedByAybStart(maint, row.branch_database)) ? servedOutcome : { kind: 'deleted' };
}

const servedOutcome: Outcome = { kind: 'skipped', detail: 'served by a running ayb start' };

/** Drops one selected branch under its lock, after checking it is still the same row and still selected. */
async function pruneOne(ctx: BranchContext, maint: Client, selected: BranchRow, options: PruneOptions, now: Date): Promise<Outcome> {
  const outcome = await ifLockFree(maint, { record: selected.name }, () => pruneLocked(ctx, maint, selected, options, now));
  return outcome ?? { kind: 'busy' };
}

/** pruneOne, holding the lock of `selected`. */
async function pruneLocked(ctx: BranchContext, maint: Client, selected: BranchRow, options: PruneOptions, now: Date): Promise<Outcome> {
  const skip = await withControl(ctx, async (client) => {
    const row = await findRow(client, selected.name);
    if (!row || row.id !== selected.id) return 'deleted or replaced meanwhile';
    if (pruneReasons(row, options, now).length === 0) return 'no longer selected (its expiry changed meanwhile)';
    const children = await findChildren(client, row.name);
    if (children.length > 0) return `branches were made from it: ${children.map((c) => c.name).join(', ')}`;
    return undefined;
  });
  if (skip) return { kind: 'skipped', detail: skip };
  if (await servedByAybStart(maint, selected.branch_database)) return servedOutcome;
  await dropBranch(ctx, maint, selected);
  return { kind: 'deleted' };
}
