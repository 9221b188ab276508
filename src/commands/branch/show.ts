import { Args, Flags } from '@oclif/core';
import { branchUrl } from '../../branching/context.js';
import { getBranch } from '../../branching/list.js';
import { branchDetailColumns, branchJson } from '../../output/branch-view.js';
import { DatabaseCommand } from '../base.js';
import { outputFlag } from '../command.js';

export default class BranchShow extends DatabaseCommand {
  static override summary = 'Show one branch: status, source, size and connection URL';
  static override description = 'The connection URL has its password masked unless --show-password is given.';
  static override examples = [
    '<%= config.bin %> branch show feature-auth',
    '<%= config.bin %> branch show feature-auth --json --show-password',
  ];
  static override args = { name: Args.string({ description: 'branch name', required: true }) };
  static override flags = {
    'show-password': Flags.boolean({ description: 'show the password in the connection URL' }),
    output: outputFlag(),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(BranchShow);
    this.setOutput(flags);
    const ctx = await this.branchContext(flags);
    const branch = await getBranch(ctx, args.name);
    // Only a ready record has a database to connect to: a failed or unfinished one prints no URL.
    const url = branch.status === 'ready' ? branchUrl(ctx, branch.branch_database, flags['show-password']) : undefined;
    this.writer.record(branch, branchDetailColumns({ url, mainDatabase: ctx.main.database }), (b) => branchJson(b, { url }));
  }
}
