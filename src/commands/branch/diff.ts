import { Args, Flags } from '@oclif/core';
import { diffBranches } from '../../branching/diff.js';
import { ExitCode, UsageError } from '../../core/errors.js';
import { renderChangesText } from '../../schema/render.js';
import { needsManualSteps, renderMigration } from '../../schema/sql.js';
import { AybCommand, outputFlag } from '../base.js';

export default class BranchDiff extends AybCommand {
  static override summary = 'Show the schema changes that turn one database into another';
  static override description = `<a> and <b> are branch or snapshot names, or main; with one name, compares main with that branch. Schemas, extensions, types (enums, domains, composite and range types), collations, sequences, tables, columns, constraints, indexes, views, functions, triggers, row-level security, operators, casts, event triggers, publications, foreign servers and tables, and comments are compared by definition, not just by name (owners and privileges only with --owners/--privileges); ayb's control table is ignored.

--output table groups the changes by table (a new table with its columns) and marks destructive ones; --output json prints an array of changes ([] when none; see docs/diff-json.md); --output sql prints a migration that, applied to <a>, makes its schema equal to <b>, with a comment above every statement that can lose data, and exits 1 when some change needs a manual step (see its "-- manual:" comments). --exit-code exits 1 when there are differences and 0 when there are none, for CI.`;
  static override examples = [
    '<%= config.bin %> branch diff feature-auth',
    '<%= config.bin %> branch diff main feature-auth --output sql > migration.sql',
    '<%= config.bin %> branch diff feature-a feature-b --json | jq \'map(select(.destructive))\'',
    '<%= config.bin %> branch diff feature-auth --exit-code > /dev/null || echo "the schema changed"',
    '<%= config.bin %> branch diff main feature-auth --owners --privileges --output sql',
  ];
  static override args = {
    a: Args.string({ description: 'branch, snapshot or main: the side the changes start from (with no <b>: the branch, compared with main)', required: true }),
    b: Args.string({ description: 'branch, snapshot or main: the side the changes lead to' }),
  };
  static override flags = {
    output: outputFlag(['table', 'json', 'sql']),
    'exit-code': Flags.boolean({ description: 'exit with 1 when there are differences, 0 when there are none' }),
    owners: Flags.boolean({ description: 'also compare who owns each object (ALTER … OWNER TO); off by default, as roles differ across servers' }),
    privileges: Flags.boolean({ description: 'also compare access privileges (GRANT / REVOKE); off by default, as roles differ across servers' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(BranchDiff);
    this.setOutput(flags);
    if (flags.json && flags.output === 'sql') {
      throw new UsageError('--json and --output sql ask for two different outputs', { hint: 'use one of them' });
    }
    const [from, to] = args.b === undefined ? ['main', args.a] : [args.a, args.b];
    const ctx = await this.branchContext(flags);
    const { comparison } = await diffBranches(ctx, from, to, { owners: flags.owners, privileges: flags.privileges });

    if (this.writer.json) this.writer.jsonDocument(comparison.changes);
    else if (flags.output === 'sql') {
      const migration = comparison.migration();
      this.writer.data(renderMigration(migration, `ayb branch diff ${from} ${to}: migration from ${from} to ${to}`));
      if (needsManualSteps(migration)) {
        // The script is printed, but it does not reach <b> alone: a script or CI must not take it as complete.
        this.writer.log('Some changes cannot be migrated by the script: see its "-- manual:" comments (exit 1).');
        process.exitCode = ExitCode.failure;
      }
    }
    else this.writer.data(renderChangesText(comparison.changes, { from, to }));

    if (flags['exit-code'] && comparison.changes.length > 0) process.exitCode = ExitCode.failure;
  }
}
