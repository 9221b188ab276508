import { Args, Flags } from '@oclif/core';
import { checkDeletable, deleteBranch } from '../../branching/delete.js';
import { UsageError } from '../../core/errors.js';
import { AybCommand, confirm, outputFlag } from '../base.js';

export default class BranchDelete extends AybCommand {
  static override summary = 'Delete a branch: end its sessions, drop its database, remove its record';
  static override description = `Asks for confirmation on a terminal; elsewhere (scripts, CI) --yes is required.
Only databases that ayb created and registered are ever dropped.
A branch that other branches were made from (--from <branch>) is refused unless --with-children is given; then those are deleted first, deepest first.`;
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
    const ctx = await this.branchContext(flags);
    const options = { name: args.name, force: flags.force, ifExists: flags['if-exists'], withChildren: flags['with-children'] };
    if (!flags.yes) {
      if (!process.stdin.isTTY || this.writer.json) {
        throw new UsageError(`refusing to delete branch "${args.name}" without confirmation`, {
          hint: `pass --yes to delete without a prompt: ayb branch delete ${args.name} --yes`,
        }, 'confirmation_required');
      }
      const plan = await checkDeletable(ctx, options);
      const also = plan?.descendants.length ? `, and the ${plan.descendants.length} branch(es) made from it (${plan.descendants.map((d) => d.name).reverse().join(', ')})` : '';
      if (plan && !(await confirm(`Delete branch "${plan.row.name}" and its database ${plan.row.branch_database}${also}?`))) {
        throw new UsageError('deletion cancelled', { hint: 'nothing was changed' }, 'cancelled');
      }
    }
    // Dropping takes a moment; a Ctrl-C now would split "database dropped" from "row removed",
    // so the delete runs to its end and the interrupt is reported afterwards.
    const result = await this.interruptible(() => deleteBranch(ctx, options));
    if (this.writer.json) {
      this.writer.jsonDocument({ name: result.name, branch_database: result.branch_database, deleted: result.deleted, ...(result.deleted_children ? { deleted_children: result.deleted_children } : {}) });
    } else {
      if (result.deleted_children) this.writer.log(`Deleted ${result.deleted_children.length} branch(es) made from "${result.name}": ${result.deleted_children.join(', ')}`);
      this.writer.log(result.deleted ? `Deleted branch "${result.name}" (${result.branch_database})` : `Branch "${result.name}" does not exist; nothing to delete`);
    }
  }
}
