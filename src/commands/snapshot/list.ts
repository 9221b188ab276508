import { Flags } from '@oclif/core';
import { listBranches } from '../../branching/list.js';
import { branchJson, snapshotListColumns } from '../../output/branch-view.js';
import { DatabaseCommand } from '../base.js';
import { outputFlag } from '../command.js';

export default class SnapshotList extends DatabaseCommand {
  static override summary = 'List snapshots, oldest first';
  static override description = 'Lists every snapshot with its status, what it was taken of and expiry. Prints [] with --json when there are none. Sizes on disk only with --sizes (a scan of each snapshot\'s files); `ayb snapshot show <name>` always gives one.';
  static override examples = [
    '<%= config.bin %> snapshot list',
    { description: 'With each snapshot\'s size on disk', command: '<%= config.bin %> snapshot list --sizes' },
    { description: 'Names of ready snapshots, for a script', command: "<%= config.bin %> snapshot list --json | jq -r '.[] | select(.status == \"ready\") | .name'" },
  ];
  static override flags = {
    sizes: Flags.boolean({ description: 'add each snapshot\'s size on disk (Size; size_bytes with --json): a scan of every snapshot\'s files' }),
    output: outputFlag(),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(SnapshotList);
    this.setOutput(flags);
    const ctx = await this.branchContext(flags);
    const snapshots = await listBranches(ctx, 'snapshot', { sizes: flags.sizes });
    const empty = 'No snapshots yet. Take one with: ayb snapshot create <name>';
    this.writer.records(snapshots, snapshotListColumns({ mainDatabase: ctx.main.database, anyMasked: snapshots.some((s) => s.masked), sizes: flags.sizes }), (s) => branchJson(s), empty);
  }
}
