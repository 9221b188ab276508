import { Args, Flags } from '@oclif/core';
import { resetBranch } from '../../branching/reset.js';
import { branchDetailColumns, branchJson } from '../../output/branch-view.js';
import { CLEAR_LINE, copyProgressLine } from '../../output/progress.js';
import { DatabaseCommand } from '../base.js';
import { outputFlag } from '../command.js';

export default class BranchReset extends DatabaseCommand {
  static override summary = "Bring a branch back to its source's current state";
  static override description = `Copies the branch's source again (its parent branch, or main) and puts the copy in the branch's place: same name, same database name and URL, new contents. Everything written to the branch since it was made is discarded; the expiry time is kept.

With --to <snapshot> the branch is brought back to that snapshot instead (ayb snapshot create), always by a fast template copy, even while main is busy; the branch's snapshot field then names it.

The copy goes into a temporary database first, with the same strategies as create. Only when it is complete are sessions on the branch ended and the two databases swapped, in one step. If anything fails, or on Ctrl-C, the temporary copy is dropped and the branch is left exactly as it was.`;
  static override examples = [
    '<%= config.bin %> branch reset feature-auth',
    { description: 'Reset by dump, e.g. while main is busy', command: '<%= config.bin %> branch reset feature-auth --strategy dump' },
    { description: 'In a script', command: '<%= config.bin %> branch reset pr-123 --json' },
    { description: 'Undo a migration: back to a snapshot taken before it', command: '<%= config.bin %> branch reset dev --to before-migration' },
  ];
  static override args = { name: Args.string({ description: 'branch name', required: true }) };
  static override flags = {
    to: Flags.string({ description: 'reset to this snapshot instead of the branch\'s source' }),
    strategy: Flags.string({ description: 'how to copy (as for create)', options: ['auto', 'template', 'dump'] }),
    output: outputFlag(),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(BranchReset);
    this.setOutput(flags);
    const ctx = await this.branchContext(flags);
    const started = Date.now();
    const result = await this.interruptible((signal) =>
      resetBranch(ctx, {
        name: args.name,
        to: flags.to,
        strategy: flags.strategy as 'auto' | 'template' | 'dump' | undefined,
        signal,
        onProgress: this.writer.interactive
          ? (p) => this.writer.progress(CLEAR_LINE + copyProgressLine(p, process.stderr.columns))
          : undefined,
      }),
    );
    if (this.writer.interactive) this.writer.progress(CLEAR_LINE);
    this.writer.log(`Reset branch "${result.branch.name}" to ${flags.to === undefined ? 'the current state of ' : ''}${result.source} (${result.strategy}) in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    this.writer.record(result.branch, branchDetailColumns({ mainDatabase: ctx.main.database }), (b) => branchJson(b));
  }
}
