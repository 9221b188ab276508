import { Args } from '@oclif/core';
import { getBranch } from '../../branching/list.js';
import { branchDetailColumns, branchJson } from '../../output/branch-view.js';
import { DatabaseCommand } from '../base.js';
import { outputFlag } from '../command.js';

export default class SnapshotShow extends DatabaseCommand {
  static override summary = 'Show one snapshot: status, source, size and expiry';
  static override description = 'A snapshot has no connection URL: nobody connects to it. Branch from it with: ayb branch create <name> --from <snapshot>. A note on stderr says what it carries (privileges, as its source had them) and what PostgreSQL does not keep: unlogged rows after a server crash, and for a snapshot of main@<time> unlogged rows and exact sequence positions.';
  static override examples = ['<%= config.bin %> snapshot show before-migration', '<%= config.bin %> snapshot show before-migration --json'];
  static override args = { name: Args.string({ description: 'snapshot name', required: true }) };
  static override flags = { output: outputFlag() };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(SnapshotShow);
    this.setOutput(flags);
    const ctx = await this.branchContext(flags);
    const snapshot = await getBranch(ctx, args.name, 'snapshot');
    this.writer.record(snapshot, branchDetailColumns({ kind: 'snapshot', mainDatabase: ctx.main.database }), (s) => branchJson(s));
    // What PostgreSQL does not keep (README "Point-in-time branches"); stderr, so --json stays one document.
    this.writer.log(snapshotCarriesNote(snapshot.source_database));
  }
}

/** What a snapshot does not carry, from what PostgreSQL itself does. */
function snapshotCarriesNote(source: string): string {
  const pointInTime = /^main@/.test(source)
    ? ' It was restored from history: its unlogged tables are empty and its sequences may stand up to 32 values ahead of that moment.'
    : '';
  return `Note: privileges (grants, REVOKEs, default privileges, database-level grants) are carried as its source had them. Unlogged tables of a snapshot lose their rows if the server crashes (crash recovery empties them).${pointInTime}`;
}
