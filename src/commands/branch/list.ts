import { Flags } from '@oclif/core';
import { listBranches } from '../../branching/list.js';
import { type Branch } from '../../core/records.js';
import { buildTree, flattenTree, type TreeNode } from '../../branching/tree.js';
import { branchJson, type BranchJson, branchListColumns } from '../../output/branch-view.js';
import { DatabaseCommand } from '../base.js';
import { outputFlag } from '../command.js';

type NestedBranchJson = BranchJson & { children: NestedBranchJson[] };

function nested(node: TreeNode<Branch>): NestedBranchJson {
  return { ...branchJson(node.branch), children: node.children.map(nested) };
}

export default class BranchList extends DatabaseCommand {
  static override summary = 'List branches, oldest first';
  static override description = `Lists every branch recorded in the control table with its status, parent, strategy and expiry. Prints [] with --json when there are none.

Sizes on disk are left out unless --sizes is given: PostgreSQL sizes a database by reading the size of each of its files, which made a list of hundreds of branches take seconds. ayb branch show <name> always gives the size of one branch.

The Parent column names the branch a branch was made from (create --from <branch>), or main. --tree draws branches under their parents; with --json it nests each branch's "children" (plain --json stays a flat list with a "parent" key).`;
  static override examples = [
    '<%= config.bin %> branch list',
    { description: 'Branches under the branches they were made from', command: '<%= config.bin %> branch list --tree' },
    { description: 'With each branch\'s size on disk (slower with many branches)', command: '<%= config.bin %> branch list --sizes' },
    { description: 'Names of ready branches, for a script', command: "<%= config.bin %> branch list --json | jq -r '.[] | select(.status == \"ready\") | .name'" },
    { description: 'Branches that expire within the next day', command: "<%= config.bin %> branch list --json | jq -r --arg t \"$(date -u -d '+1 day' +%FT%TZ)\" '.[] | select(.expires_at != null and .expires_at < $t) | .name'" },
  ];
  static override flags = {
    tree: Flags.boolean({ description: 'show branches under the branches they were made from' }),
    sizes: Flags.boolean({ description: 'add each branch\'s size on disk (Size; size_bytes with --json): a scan of every branch\'s files, slow with many branches' }),
    output: outputFlag(),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(BranchList);
    this.setOutput(flags);
    const ctx = await this.branchContext(flags);
    const branches = await listBranches(ctx, 'branch', { sizes: flags.sizes });
    const empty = 'No branches yet. Create one with: ayb branch create <name>';
    const mainDatabase = ctx.main.database;
    const anyMasked = branches.some((b) => b.masked);
    if (!flags.tree) {
      this.writer.records(branches, branchListColumns({ mainDatabase, anyMasked, sizes: flags.sizes }), (b) => branchJson(b), empty);
      return;
    }
    const roots = buildTree(branches);
    if (this.writer.json) {
      this.writer.jsonDocument(roots.map(nested));
      return;
    }
    const rows = flattenTree(roots);
    const prefixes = new Map(rows.map((row) => [row.branch, row.prefix]));
    this.writer.records(rows.map((row) => row.branch), branchListColumns({ mainDatabase, anyMasked, sizes: flags.sizes, namePrefix: (b) => prefixes.get(b) ?? '' }), (b) => branchJson(b), empty);
  }
}
