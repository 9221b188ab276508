import { pruneHistoryNow } from '../../branching/point-in-time.js';
import { DatabaseCommand } from '../base.js';

export default class HistoryPrune extends DatabaseCommand {
  static override summary = 'Delete base backups and WAL older than the history window needs';
  static override description = `Deletes every base backup that ended before now - [history] keep, except the newest of those (the window's oldest moments are restored from it), and the archived WAL that only the deleted ones needed (pg_archivecleanup). ayb also prunes after each base backup it takes.`;
  static override examples = ['<%= config.bin %> history prune', '<%= config.bin %> history prune --json'];

  async run(): Promise<void> {
    const { flags } = await this.parse(HistoryPrune);
    this.setOutput(flags);
    const result = await pruneHistoryNow(await this.historyContext(flags));
    if (this.writer.json) this.writer.jsonDocument({ deleted_base_backups: result.deletedBackups, deleted_wal_files: result.deletedWalFiles });
    else if (result.deletedBackups.length === 0 && result.deletedWalFiles === 0) this.writer.log('Nothing to prune: everything kept is inside the window');
  }
}
