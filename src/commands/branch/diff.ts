import { Args, Flags } from '@oclif/core';
import { diffBranchData } from '../../branching/data-diff.js';
import { diffBranches } from '../../branching/diff.js';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { hasDifferences, onlyOnOneSide, outsideChanges, tableChange } from '../../datadiff/data-diff.js';
import { renderDataChangesText } from '../../output/data-diff-view.js';
import { ExitCode, UsageError } from '../../core/errors.js';
import { renderChangesText } from '../../schema/render.js';
import { needsManualSteps, renderMigration } from '../../schema/sql.js';
import { DatabaseCommand } from '../base.js';
import { outputFlag } from '../command.js';

export default class BranchDiff extends DatabaseCommand {
  static override summary = 'Show the schema (and with --data, the row) changes that turn one database into another';
  static override description = `<a> and <b> are branch or snapshot names, or main; with one name, compares main with that branch. Schemas, extensions, types (enums, domains, composite and range types), collations, sequences, tables, columns, constraints, indexes, views, functions, triggers, row-level security, operators, casts, event triggers, publications, foreign servers and tables, and comments are compared by definition, not just by name (owners and privileges only with --owners/--privileges); ayb's control table is ignored.

--output table groups the changes by table (a new table with its columns) and marks destructive ones; --output json prints an array of changes ([] when none; see docs/diff-json.md); --output sql prints a migration that, applied to <a>, makes its schema equal to <b>, with a comment above every statement that can lose data, and exits 1 when some change needs a manual step (see its "-- manual:" comments). --exit-code exits 1 when there are differences and 0 when there are none, for CI.

--data compares rows instead (add --schema for both): per table, rows added, removed and changed, matched by primary key, else a unique index on not-null columns, else as whole rows (a multiset). Tables whose columns differ are compared on their shared columns and flagged. Both servers checksum the rows at once, and only key ranges whose checksums differ are read. --output json prints [{"table","schema","name","key","added","removed","changed","examples"}] with up to --limit example keys per kind; --output sql prints the DML that makes the rows of <a> equal those of <b> (see the README for its order), with the settings its values are written in set at its top; it refuses tables on one side only or whose columns differ (apply the schema migration first). --exit-code counts every difference the diff knows of: rows, a table on one side only, a table whose columns differ, and (when no --table is named) a sequence's position, a materialized view's rows and the large objects, which --output json lists as records with a "kind" and the text output names (the script sets sequences and leaves the other two, saying so at its top).`;
  static override examples = [
    '<%= config.bin %> branch diff feature-auth',
    '<%= config.bin %> branch diff main feature-auth --output sql > migration.sql',
    '<%= config.bin %> branch diff feature-a feature-b --json | jq \'map(select(.destructive))\'',
    '<%= config.bin %> branch diff feature-auth --exit-code > /dev/null || echo "the schema changed"',
    '<%= config.bin %> branch diff main feature-auth --owners --privileges --output sql',
    '<%= config.bin %> branch diff backfill --data',
    '<%= config.bin %> branch diff main backfill --data --table public.orders --json --limit 5',
    '<%= config.bin %> branch diff main fixed-data --data --output sql > rows.sql',
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
    data: Flags.boolean({ description: 'compare rows (with --schema: schema and rows)' }),
    schema: Flags.boolean({ description: 'compare schemas (the default without --data)' }),
    table: Flags.string({ description: 'with --data: only this table (schema.table, a part holding a dot quoted: dot."a.b"; repeat for more)', multiple: true }),
    limit: Flags.integer({ description: 'with --data --output json: example keys per kind and table', default: 20, min: 0 }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(BranchDiff);
    this.setOutput(flags);
    if (flags.json && flags.output === 'sql') {
      throw new UsageError('--json and --output sql ask for two different outputs', { hint: 'use one of them' });
    }
    const [from, to] = args.b === undefined ? ['main', args.a] : [args.a, args.b];
    if (!flags.data && flags.table) throw new UsageError('--table chooses tables for --data', { hint: 'add --data to compare rows' });
    const ctx = await this.branchContext(flags);
    if (flags.data) {
      await this.diffData(ctx, from, to, flags);
      return;
    }
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

  /** --data (and --schema --data): rows, with the schema changes first when both are asked for. */
  private async diffData(ctx: Awaited<ReturnType<BranchDiff['branchContext']>>, from: string, to: string, flags: { schema: boolean; table?: string[]; limit: number; output: string; 'exit-code': boolean }): Promise<void> {
    const schema = flags.schema ? (await diffBranches(ctx, from, to)).comparison : undefined;
    const data = await diffBranchData(ctx, from, to, { tables: flags.table, sql: flags.output === 'sql' });
    const changes = data.comparison.tables.map((t) => tableChange(t, this.writer.json ? flags.limit : undefined));
    // A table on one side only is a difference too (a CI gate must not pass it).
    const differs = hasDifferences(data.comparison) || (schema?.changes.length ?? 0) > 0;
    const outside = outsideChanges(data.comparison);
    const records = [...changes, ...onlyOnOneSide(data.comparison), ...outside];
    if (this.writer.json) this.writer.jsonDocument(schema ? { schema: schema.changes, data: records } : records);
    else if (flags.output === 'sql') {
      if (schema) this.writer.data(renderMigration(schema.migration(), `ayb branch diff ${from} ${to}: schema migration from ${from} to ${to}`));
      // Written to a file while the databases were read; streamed out now that their snapshots are released.
      try {
        await pipeline(createReadStream(data.migration!.path), process.stdout, { end: false });
      } finally {
        await data.migration!.remove();
      }
    } else {
      if (schema) this.writer.data(renderChangesText(schema.changes, { from, to }));
      this.writer.data(renderDataChangesText(changes, { from, to, onlyInFrom: data.comparison.onlyInA, onlyInTo: data.comparison.onlyInB, outside }));
    }
    if (flags['exit-code'] && differs) process.exitCode = ExitCode.failure;
  }
}
