import { Args, Flags } from '@oclif/core';
import { DatabaseCommand } from '../base.js';
import { outputFlag } from '../command.js';

export default class BranchDelete extends DatabaseCommand {
  static override summary = 'Delete a branch: end its sessions, drop its database, remove its record';
  static override description = `Asks for confirmation on a terminal (answering no exits 1, nothing changed); elsewhere (scripts, CI) --yes is required (exit 2 without it). Only databases that ayb created and registered are ever dropped. A branch that other branches were made from (--from <branch>) is refused unless --with-children is given; then those are deleted first, deepest first.`;
  static override examples = [
    '<%= config.bin %> branch delete feature-auth',
    { description: 'In a script or CI job', command: '<%= config.bin %> branch delete pr-123 --yes --if-exists' },
    { description: 'Clean up a failed or half-made branch', command: '<%= config.bin %> branch delete feature-auth --yes --force' },
    { description: 'Delete a branch and every branch made from it', command: '<%= config.bin %> branch delete feature-auth --with-children --yes' },
  ];
  static override args = { name: Args.string({ description: 'branch name', required: true }) };
  static override flags = {
    yes: Flags.boolean({ char: 'y', description: 'do not ask for confirmation' }),
    force: Flags.boolean({ description: 'also delete a failed or orphaned branch (and its leftover database)' }),
    'if-exists': Flags.boolean({ description: 'succeed when the branch does not exist' }),
    'with-children': Flags.boolean({ description: 'also delete the branches made from this one, and theirs (deepest first)', aliases: ['recursive'] }),
    output: outputFlag(),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(BranchDelete);
    this.setOutput(flags);
    await this.deleteRecord('branch', args.name, flags);
  }
}
