import { Args, Flags } from '@oclif/core';
import { DatabaseCommand } from '../base.js';
import { outputFlag } from '../command.js';

export default class SnapshotDelete extends DatabaseCommand {
  static override summary = 'Delete a snapshot: drop its database and remove its record';
  static override description = `Asks for confirmation on a terminal (answering no exits 1, nothing changed); elsewhere (scripts, CI) --yes is required (exit 2 without it). A snapshot that branches were made from (or are being made from right now) is refused unless --with-children is given; then those branches are deleted first, deepest first. Deleting a snapshot never touches main or the branch it was taken of.`;
  static override examples = [
    '<%= config.bin %> snapshot delete before-migration',
    { description: 'In a script or CI job', command: '<%= config.bin %> snapshot delete nightly --yes --if-exists' },
    { description: 'Delete a snapshot and every branch made from it', command: '<%= config.bin %> snapshot delete seeded --with-children --yes' },
  ];
  static override args = { name: Args.string({ description: 'snapshot name', required: true }) };
  static override flags = {
    yes: Flags.boolean({ char: 'y', description: 'do not ask for confirmation' }),
    force: Flags.boolean({ description: 'also delete a failed or orphaned snapshot (and its leftover database)' }),
    'if-exists': Flags.boolean({ description: 'succeed when the snapshot does not exist' }),
    'with-children': Flags.boolean({ description: 'also delete the branches made from this snapshot, and theirs (deepest first)' }),
    output: outputFlag(),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(SnapshotDelete);
    this.setOutput(flags);
    await this.deleteRecord('snapshot', args.name, flags);
  }
}
