import { listBranches } from '../../branching/list.js';
import { branchJson, snapshotListColumns } from '../../output/branch-view.js';
import { AybCommand, outputFlag } from '../base.js';

export default class SnapshotList extends AybCommand {
  static override summary = 'List snapshots, oldest first';
  static override description = 'Lists every snapshot with its status, what it was taken of, size and expiry. Prints [] with --json when there are none.';
  static override examples = [
    '<%= config.bin %> snapshot list',
    { description: 'Names of ready snapshots, for a script', command: "<%= config.bin %> snapshot list --json | jq -r '.[] | select(.status == \"ready\") | .name'" },
  ];
  static override flags = { output: outputFlag() };

  async run(): Promise<void> {
    const { flags } = await this.parse(SnapshotList);
    this.setOutput(flags);
    const ctx = await this.branchContext(flags);
    const snapshots = await listBranches(ctx, 'snapshot');
    const empty = 'No snapshots yet. Take one with: ayb snapshot create <name>';
    this.writer.records(snapshots, snapshotListColumns({ mainDatabase: ctx.main.database, anyMasked: snapshots.some((s) => s.masked) }), (s) => branchJson(s), empty);
  }
}
