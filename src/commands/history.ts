import { historyStatus } from '../branching/point-in-time.js';
import { formatBytes } from '../output/writer.js';
import { DatabaseCommand } from './base.js';
import { outputFlag } from './command.js';

export default class History extends DatabaseCommand {
  static override summary = 'Show the history window of the managed PostgreSQL: how far back a branch of main can reach';
  static override description = `With [history] enabled = true, ayb archives the managed PostgreSQL's WAL and takes a base backup every [history] base_backup_every, so that "ayb branch create <name> --from main@<time>" can make a branch of main as it was at any moment of the window: from the end of the oldest base backup until now. Only moments that can be restored are shown: when the WAL went elsewhere for a while ([history] dir changed and changed back, history turned off and on), the window has gaps, listed with why ("ranges" and "gaps" in --json), and a moment in a gap is refused at once (exit 3). This shows the window, the base backups, the disk they and the WAL use (and how much of the base backups is main's, the branches' and the snapshots': they live in main's cluster, so every base backup holds them; "share" in --json, per database for the newest backup), and whether archiving works (pg_stat_archiver): while it fails (a full history disk, say) the window ends at the last archived segment, every ayb command warns, and the warning says how to fix it. "ayb history prune" deletes what falls outside [history] keep (ayb also does after each base backup).`;
  static override examples = [
    '<%= config.bin %> history',
    '<%= config.bin %> history --json',
    { description: 'Branch main as it was two hours ago', command: '<%= config.bin %> branch create before-migration --from main@-2h' },
  ];
  static override flags = { output: outputFlag() };

  async run(): Promise<void> {
    const { flags } = await this.parse(History);
    this.setOutput(flags);
    const status = await historyStatus(await this.historyContext(flags));
    if (this.writer.json) {
      this.writer.jsonDocument(status);
      return;
    }
    const lines = [
      `Window:      ${status.window ? `${status.window.from} .. ${status.window.to}` : 'empty (no base backup yet)'}`,
      ...(status.gaps.length > 0
        ? [
          `Restorable:  only these moments (the history has ${status.gaps.length} gap(s)):`,
          ...status.ranges.map((r) => `  ${r.from} .. ${r.to}`),
          `Gaps:`,
          ...status.gaps.map((g) => `  ${g.from} .. ${g.to}  ${g.why}`),
        ]
        : []),
      `Keep:        ${status.keep} (a base backup every ${status.base_backup_every})`,
      `Folder:      ${status.dir}`,
      `Disk used:   ${formatBytes(status.total_bytes)} (WAL ${formatBytes(status.wal_bytes)})`,
      ...(status.share
        ? [
          `Base backups hold every database of main's cluster: main ${formatBytes(status.share.main_bytes)}, branches ${formatBytes(status.share.branches_bytes)}, snapshots ${formatBytes(status.share.snapshots_bytes)}, other databases ${formatBytes(status.share.other_bytes)}, the rest ${formatBytes(status.share.cluster_bytes)}`,
          `             (the WAL is one stream for the whole cluster: the branches' writes are in it too, not split by database)`,
        ]
        : []),
      `Archiving:   ${status.archiving.failing ? `FAILING since ${status.archiving.last_failed_at} (segment ${status.archiving.last_failed_wal})` : status.archiving.last_archived_wal ? `ok (last segment ${status.archiving.last_archived_wal} at ${status.archiving.last_archived_at})` : 'ok (nothing archived yet)'}`,
      `Base backups:`,
      ...status.base_backups.map((b) => `  ${b.finished_at}  ${formatBytes(b.bytes)}`),
    ];
    this.writer.data(lines.join('\n'));
    for (const warning of status.warnings) this.writer.log(`warning: ${warning}`);
  }
}
