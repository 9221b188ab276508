import { Args, Flags } from '@oclif/core';
import { renameBranch } from '../../branching/rename.js';
import { branchDetailColumns, branchJson } from '../../output/branch-view.js';
import { DatabaseCommand } from '../base.js';
import { outputFlag } from '../command.js';

export default class BranchRename extends DatabaseCommand {
  static override summary = 'Rename a branch and its database';
  static override description = `Renames the branch and its database (ayb_branch_<old> becomes ayb_branch_<new>), so its connection URL changes; branches made from it follow the new name. The new name follows the rules of create: "a-b" and "a_b" share a database, so renaming to a name another branch maps to is a conflict, and a database ayb did not create is never touched.

PostgreSQL cannot rename a database while anyone is connected to it. Such a rename is refused with the sessions listed, unless --disconnect is given to end them.`;
  static override examples = [
    '<%= config.bin %> branch rename feature-auth auth-v2',
    { description: 'End the sessions connected to it', command: '<%= config.bin %> branch rename feature-auth auth-v2 --disconnect' },
  ];
  static override args = {
    old: Args.string({ description: 'current branch name', required: true }),
    new: Args.string({ description: 'new branch name: 1-52 of a-z 0-9 - _, starting and ending with a letter or digit', required: true }),
  };
  static override flags = {
    disconnect: Flags.boolean({ description: 'end the sessions connected to the branch, instead of refusing' }),
    output: outputFlag(),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(BranchRename);
    this.setOutput(flags);
    const ctx = await this.branchContext(flags);
    const branch = await renameBranch(ctx, { from: args.old, to: args.new, disconnect: flags.disconnect });
    this.writer.log(`Renamed branch "${args.old}" to "${branch.name}" (database ${branch.branch_database})`);
    this.writer.record(branch, branchDetailColumns({ mainDatabase: ctx.main.database }), (b) => branchJson(b));
  }
}
