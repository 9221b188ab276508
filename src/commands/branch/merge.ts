import { Args, Flags } from '@oclif/core';
import { mergeBranch, type MergeResult, type MergeStrategy } from '../../branching/merge.js';
import { ExitCode } from '../../core/errors.js';
import { renderTable } from '../../output/writer.js';
import { AybCommand, outputFlag } from '../base.js';

export default class BranchMerge extends AybCommand {
  static override summary = 'Bring a branch\'s schema and row changes into its parent (a three-way merge)';
  static override description = [
    'Compares the branch with its base (the snapshot it was made from: "ayb branch create <name> --keep-base" keeps one;',
    'or --base <snapshot>) and applies what the branch changed to the target (--into; default: what the base was taken of):',
    'first the schema changes (the migration "ayb branch diff" prints), then the rows added, removed or changed on the branch,',
    'matched by primary key (else a unique not-null index, else whole rows).',
    '',
    'A row the target changed too since the base, differently, is a conflict. --strategy fail (the default) applies nothing,',
    'lists the conflicts and exits 4; ours keeps the target\'s row, theirs takes the branch\'s. Everything runs in one',
    'transaction on the target: failed, interrupted or in conflict, the target is untouched. --dry-run prints the plan',
    '(the SQL it would run, and the conflicts) and changes nothing. Not merged: renames (seen as drop and add), large',
    'objects, rows of tables either side dropped, grants and comments.',
  ].join('\n');
  static override examples = [
    '<%= config.bin %> branch create backfill --keep-base',
    '<%= config.bin %> branch merge backfill --dry-run',
    '<%= config.bin %> branch merge backfill',
    '<%= config.bin %> branch merge backfill --into staging --base backfill-base --strategy theirs --json',
  ];
  static override args = {
    branch: Args.string({ description: 'the branch whose changes are merged', required: true }),
  };
  static override flags = {
    into: Flags.string({ description: 'target: main or a branch [default: what the base snapshot was taken of]' }),
    base: Flags.string({ description: 'the snapshot the branch started from [default: the one it was made from]' }),
    strategy: Flags.string({ description: 'rows changed on both sides: fail (apply nothing, exit 4), ours (keep the target\'s), theirs (take the branch\'s)', options: ['fail', 'ours', 'theirs'], default: 'fail' }),
    'dry-run': Flags.boolean({ description: 'print the plan (SQL and conflicts); change nothing' }),
    output: outputFlag(),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(BranchMerge);
    this.setOutput(flags);
    const ctx = await this.branchContext(flags);
    const result = await mergeBranch(ctx, {
      branch: args.branch,
      into: flags.into,
      base: flags.base,
      strategy: flags.strategy as MergeStrategy,
      dryRun: flags['dry-run'],
    });
    if (this.writer.json) this.writer.jsonDocument(result);
    else this.render(result);
    // A dry run that a real merge would refuse says so in its exit code, for scripts.
    if (result.dry_run && result.strategy === 'fail' && result.conflicts.length > 0) process.exitCode = ExitCode.conflict;
  }

  private render(result: MergeResult): void {
    if (result.dry_run) this.writer.data(result.sql);
    const rows = result.tables.filter((t) => t.inserted + t.updated + t.deleted + t.conflicts > 0);
    if (rows.length > 0) {
      this.writer.log(renderTable(rows, [
        { header: 'table', get: (t) => t.table },
        { header: 'inserted', get: (t) => t.inserted },
        { header: 'updated', get: (t) => t.updated },
        { header: 'deleted', get: (t) => t.deleted },
        { header: 'conflicts', get: (t) => t.conflicts },
      ]));
    }
    for (const c of result.conflicts.slice(0, 20)) this.writer.log(`conflict: ${c.table} ${JSON.stringify(c.key)} (ours: ${c.ours}, theirs: ${c.theirs})`);
    if (result.conflicts.length > 20) this.writer.log(`… and ${result.conflicts.length - 20} more conflict(s) (--json lists them all)`);
    const what = `${result.schema_statements} schema statement(s), ${rows.reduce((n, t) => n + t.inserted + t.updated + t.deleted, 0)} row change(s)`;
    this.writer.log(result.applied
      ? `Merged ${result.branch} into ${result.into} (base: ${result.base}): ${what}.`
      : `Dry run: merging ${result.branch} into ${result.into} (base: ${result.base}) would apply ${what}; nothing was changed.`);
  }
}
