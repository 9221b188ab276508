import { Args } from '@oclif/core';
import { branchUrl } from '../../branching/context.js';
import { resolveDatabase } from '../../branching/list.js';
import { DatabaseCommand } from '../base.js';

export default class BranchUrl extends DatabaseCommand {
  static override summary = 'Print the connection URL of a branch (or of main)';
  static override description = 'Prints only the URL, password included, so it can be handed straight to psql or an app. The branch must be ready.';
  static override examples = [
    'psql "$(<%= config.bin %> branch url feature-auth)"',
    'DATABASE_URL="$(<%= config.bin %> branch url main)" npm run migrate',
    "<%= config.bin %> branch url feature-auth --json | jq -r .url",
  ];
  static override args = { name: Args.string({ description: 'branch name, or main', required: true }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(BranchUrl);
    this.setOutput(flags);
    const ctx = await this.branchContext(flags);
    const { database } = await resolveDatabase(ctx, args.name);
    const url = branchUrl(ctx, database, true);
    if (this.writer.json) this.writer.jsonDocument({ name: args.name, database, url });
    else this.writer.data(url);
  }
}
