import { Flags } from '@oclif/core';
import { formatDuration, parseDuration } from '../../core/duration.js';
import { type PruneItem, pruneBranches } from '../../branching/expiry.js';
import { ExternalError } from '../../core/errors.js';
import { type Column, renderTable } from '../../output/writer.js';
import { DatabaseCommand } from '../base.js';
import { outputFlag } from '../command.js';

const ACTION_TEXT: Readonly<Record<PruneItem['action'], string>> = {
  deleted: 'deleted',
  would_delete: 'would delete',
  skipped: 'skipped',
  error: 'FAILED',
};

export default class BranchPrune extends DatabaseCommand {
  static override summary = 'Delete expired branches (and, when asked, old or failed ones)';
  static override description = `Deletes every branch whose expiry time has passed (set with create --ttl/--expires-at, "ayb branch expire" or [branching] default_ttl). --older-than and --failed add branches by age or by status; nothing else is touched.

Never deleted, only reported: a branch being created, reset or renamed right now, and a branch that other branches were made from (unless those are pruned too: children go first). --dry-run lists what would be deleted and changes nothing. "ayb start" runs the expiry part of this every [server] prune_interval_minutes.`;
  static override examples = [
    { description: 'See what would go', command: '<%= config.bin %> branch prune --dry-run' },
    '<%= config.bin %> branch prune',
    { description: 'Also branches older than two weeks, and failed ones', command: '<%= config.bin %> branch prune --older-than 2w --failed' },
    { description: 'Names deleted, for a script', command: "<%= config.bin %> branch prune --json | jq -r '.branches[] | select(.action == \"deleted\") | .name'" },
  ];
  static override flags = {
    'dry-run': Flags.boolean({ description: 'list what would be deleted; change nothing' }),
    'older-than': Flags.string({ description: 'also delete branches created at least this long ago: 12h, 7d, 2w' }),
    failed: Flags.boolean({ description: 'also delete failed branches and half-made ones whose creator is gone' }),
    output: outputFlag(),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(BranchPrune);
    this.setOutput(flags);
    const olderThan = flags['older-than'] !== undefined ? parseDuration(flags['older-than'], '--older-than') : undefined;
    const ctx = await this.branchContext(flags);
    const result = await this.interruptible((signal) => pruneBranches(ctx, { dryRun: flags['dry-run'], olderThan, failed: flags.failed, signal }));
    const failures = result.branches.filter((b) => b.action === 'error');
    if (failures.length > 0) {
      if (!this.writer.json) this.render(result.branches);
      throw new ExternalError('prune_incomplete', `could not delete ${countKinds(failures)}: ${failures.map((f) => `${f.name} (${f.detail})`).join('; ')}`, {
        hint: 'the others were handled as listed; fix the cause and run ayb branch prune again',
        details: { dry_run: result.dry_run, branches: result.branches },
      });
    }
    if (this.writer.json) {
      this.writer.jsonDocument(result);
      return;
    }
    if (result.branches.length === 0) {
      this.writer.log(flags['dry-run'] ? 'Nothing to prune.' : 'Nothing to prune; no branch was touched.');
      return;
    }
    this.render(result.branches);
    const done = result.branches.filter((b) => b.action === 'deleted' || b.action === 'would_delete');
    const skipped = result.branches.filter((b) => b.action === 'skipped').length;
    this.writer.log(`${flags['dry-run'] ? 'Would delete' : 'Deleted'} ${countKinds(done)}${skipped ? `, skipped ${skipped}` : ''}.${flags['dry-run'] && done.length ? ' Run without --dry-run to delete.' : ''}`);
  }

  private render(items: readonly PruneItem[]): void {
    const now = Date.now();
    const columns: Column<PruneItem>[] = [
      { header: 'Name', get: (b) => b.name },
      { header: 'Kind', get: (b) => b.kind },
      { header: 'Status', get: (b) => b.status },
      { header: 'Why', get: (b) => b.reasons.map((r) => reasonText(r, b, now)).join(', ') },
      { header: 'Action', get: (b) => ACTION_TEXT[b.action] + (b.detail ? `: ${b.detail}` : '') },
    ];
    this.writer.data(renderTable(items, columns));
  }
}

function reasonText(reason: PruneItem['reasons'][number], item: PruneItem, now: number): string {
  if (reason === 'expired' && item.expires_at) return `expired ${formatDuration(now - Date.parse(item.expires_at))} ago`;
  if (reason === 'older_than') return `created ${formatDuration(now - Date.parse(item.created_at))} ago`;
  return reason;
}

/** "3 branches and 1 snapshot", "1 branch", "0 branches": what was counted, by its name. */
export function countKinds(items: readonly Pick<PruneItem, 'kind'>[]): string {
  const branches = items.filter((i) => i.kind !== 'snapshot').length;
  const snapshots = items.length - branches;
  const part = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  if (snapshots === 0) return part(branches, 'branch', 'branches');
  if (branches === 0) return part(snapshots, 'snapshot', 'snapshots');
  return `${part(branches, 'branch', 'branches')} and ${part(snapshots, 'snapshot', 'snapshots')}`;
}
