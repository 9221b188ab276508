import { listBranches } from '../../branching/service.js';
import { BRANCH_LIST_COLUMNS, branchJson } from '../../output/branch-view.js';
import { AybCommand, outputFlag } from '../base.js';

export default class BranchList extends AybCommand {
  static override summary = 'List branches, oldest first';
  static override description = 'Lists every branch recorded in the control table with its status, source, strategy and size. Prints [] with --json when there are none.';
  static override examples = [
    '<%= config.bin %> branch list',
    { description: 'Names of ready branches, for a script', command: "<%= config.bin %> branch list --json | jq -r '.[] | select(.status == \"ready\") | .name'" },
  ];
  static override flags = { output: outputFlag() };

  async run(): Promise<void> {
    const { flags } = await this.parse(BranchList);
    this.setOutput(flags);
    const ctx = await this.branchContext(flags);
    const branches = await listBranches(ctx);
    this.writer.records(branches, BRANCH_LIST_COLUMNS, (b) => branchJson(b), 'No branches yet. Create one with: ayb branch create <name>');
  }
}
