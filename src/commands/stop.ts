import { stopManagedDatabase } from '../branching/context.js';
import { DatabaseCommand } from './base.js';

export default class Stop extends DatabaseCommand {
  static override summary = 'Stop the managed PostgreSQL';
  static override description = 'Stops the local PostgreSQL cluster that ayb runs when no database URL is configured. Its data stays in [managed_pg] data_dir; the next command starts it again.';
  static override examples = ['<%= config.bin %> stop', '<%= config.bin %> stop --json'];

  async run(): Promise<void> {
    const { flags } = await this.parse(Stop);
    this.setOutput(flags);
    const loaded = await this.loadConfig(flags);
    const { dataDir, stopped } = await stopManagedDatabase(loaded);
    if (this.writer.json) this.writer.jsonDocument({ managed_pg: { data_dir: dataDir, stopped, was_running: stopped } });
    else this.writer.log(stopped ? `Stopped the managed PostgreSQL (${dataDir})` : `The managed PostgreSQL is not running (${dataDir})`);
  }
}
