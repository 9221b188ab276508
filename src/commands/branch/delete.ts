import { Args, Flags } from '@oclif/core';
import { checkDeletable, deleteBranch } from '../../branching/service.js';
import { UsageError } from '../../output/errors.js';
import { AybCommand, confirm, outputFlag } from '../base.js';

export default class BranchDelete extends AybCommand {
  static override summary = 'Delete a branch: end its sessions, drop its database, remove its record';
  static override description = `Asks for confirmation on a terminal; elsewhere (scripts, CI) --yes is required.
Only databases that ayb created and registered are ever dropped.`;
  static override examples = [
    '<%= config.bin %> branch delete feature-auth',
    { description: 'In a script or CI job', command: '<%= config.bin %> branch delete pr-123 --yes --if-exists' },
    { description: 'Clean up a failed or half-made branch', command: '<%= config.bin %> branch delete feature-auth --yes --force' },
  ];
  static override args = { name: Args.string({ description: 'branch name', required: true }) };
  static override flags = {
    yes: Flags.boolean({ char: 'y', description: 'do not ask for confirmation' }),
    force: Flags.boolean({ description: 'also delete a failed or orphaned branch (and its leftover database)' }),
    'if-exists': Flags.boolean({ description: 'succeed when the branch does not exist' }),
    output: outputFlag(),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(BranchDelete);
    this.setOutput(flags);
    const ctx = await this.branchContext(flags);
    const options = { name: args.name, force: flags.force, ifExists: flags['if-exists'] };
    if (!flags.yes) {
      if (!process.stdin.isTTY || this.writer.json) {
        throw new UsageError(`refusing to delete branch "${args.name}" without confirmation`, {
          hint: `pass --yes to delete without a prompt: ayb branch delete ${args.name} --yes`,
        }, 'confirmation_required');
      }
      const row = await checkDeletable(ctx, options);
      if (row && !(await confirm(`Delete branch "${row.name}" and its database ${row.branch_database}?`))) {
        throw new UsageError('deletion cancelled', { hint: 'nothing was changed' }, 'cancelled');
      }
    }
    const result = await deleteBranch(ctx, options);
    if (this.writer.json) {
      this.writer.jsonDocument({ name: result.name, branch_database: result.branch_database, deleted: result.deleted });
    } else {
      this.writer.log(result.deleted ? `Deleted branch "${result.name}" (${result.branch_database})` : `Branch "${result.name}" does not exist; nothing to delete`);
    }
  }
}
