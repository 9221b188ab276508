import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { Args, Flags } from '@oclif/core';
import { conflictId, describeConflict, type MergeConflict, mergeBranch, type MergeResult, type MergeStrategy, type Resolution } from '../../branching/merge.js';
import { parseDuration } from '../../core/duration.js';
import { AybError, ExitCode, UsageError } from '../../core/errors.js';
import { renderTable } from '../../output/writer.js';
import { DatabaseCommand } from '../base.js';
import { outputFlag } from '../command.js';

export default class BranchMerge extends DatabaseCommand {
  static override summary = 'Bring a branch\'s schema and row changes into its parent (a three-way, cell-wise merge)';
  static override description = [
    'Compares the branch with its base (the snapshot it was made from: "ayb branch create <name> --keep-base" keeps one;',
    'after a merge, the state merged; or --base <snapshot>) and applies what the branch changed to the target (--into;',
    'default: what the base was taken of): first the schema changes, then the rows added, removed or changed on the branch,',
    'matched by primary key (else a unique not-null index, else whole rows), column by column.',
    '',
    'A conflict is a column of a row both sides set to different values since the base, a row one side removed and the',
    'other changed, a row both added differently, a delete of the branch that would cascade onto rows the target added or',
    'changed, or a schema object both changed differently. Changes to different columns of one row merge.',
    '--strategy fail (the default) applies nothing, lists the conflicts (base, ours and theirs values) and exits 4; ours',
    'keeps the target\'s values, theirs takes the branch\'s. --conflicts <file> writes the conflicts to a JSON file: set each',
    '"resolution" to "ours", "theirs" or an object of column values, and run the same command again (the values must name the',
    'conflict\'s own columns and be valid for their types, checked before anything runs: else exit 2). Schema conflicts are',
    'never settled by --strategy: make the schemas alike by hand. User triggers and rules of the tables written are held off',
    'during the apply and put back in their modes.',
    '',
    'The plan only reads the target (as a SELECT does); --dry-run stops there and changes nothing. A real merge applies it in',
    'one transaction with --lock-timeout and --statement-timeout (exit 4, naming the sessions holding locks, when they run',
    'out); the target is untouched on any failure. An enum value the branch added is committed on the target first.',
    'Afterwards the branch\'s base is a snapshot of what was merged (<branch>-merged-<time>): a second merge says',
    '"Already up to date", a later one brings only newer changes. Not merged: renames (seen as drop and add), large',
    'objects, rows of tables either side dropped, grants and comments.',
  ].join('\n');
  static override examples = [
    '<%= config.bin %> branch create backfill --keep-base',
    '<%= config.bin %> branch merge backfill --dry-run',
    '<%= config.bin %> branch merge backfill',
    '<%= config.bin %> branch merge backfill --conflicts conflicts.json   # then edit the file, and run it again',
    '<%= config.bin %> branch merge backfill --lock-timeout 2s --statement-timeout 1m',
    '<%= config.bin %> branch merge backfill --into staging --base backfill-base --strategy theirs --json',
  ];
  static override args = {
    branch: Args.string({ description: 'the branch whose changes are merged', required: true }),
  };
  static override flags = {
    into: Flags.string({ description: 'target: main or a branch [default: what the base snapshot was taken of]' }),
    base: Flags.string({ description: 'the snapshot the branch started from [default: the one it was made from, or last merged]' }),
    strategy: Flags.string({ description: 'conflicts not resolved in --conflicts: fail (apply nothing, exit 4), ours (keep the target\'s values), theirs (take the branch\'s)', options: ['fail', 'ours', 'theirs'], default: 'fail' }),
    conflicts: Flags.string({ description: 'a JSON file of conflicts: read for resolutions when it exists; the conflicts left are written to it', helpValue: '<file>' }),
    'dry-run': Flags.boolean({ description: 'print the plan (SQL and conflicts); change nothing, lock nothing beyond reads' }),
    'lock-timeout': Flags.string({ description: 'how long the apply transaction waits for a lock on the target (e.g. 5s; 0: no limit) [default: AYB_LOCK_TIMEOUT, 30s]' }),
    'statement-timeout': Flags.string({ description: 'how long one statement of the apply transaction may run (e.g. 2m; 0: no limit) [default: AYB_STATEMENT_TIMEOUT, 2m]' }),
    output: outputFlag(),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(BranchMerge);
    this.setOutput(flags);
    const duration = (text: string | undefined, flag: string) => (text === undefined ? undefined : text.trim() === '0' ? 0 : parseDuration(text, flag));
    const file = flags.conflicts;
    const resolutions = file && existsSync(file) ? await readResolutions(file) : undefined;
    const ctx = await this.branchContext(flags);
    let result: MergeResult;
    try {
      result = await mergeBranch(ctx, {
        branch: args.branch,
        into: flags.into,
        base: flags.base,
        strategy: flags.strategy as MergeStrategy,
        dryRun: flags['dry-run'],
        resolutions,
        lockTimeout: duration(flags['lock-timeout'], '--lock-timeout'),
        statementTimeout: duration(flags['statement-timeout'], '--statement-timeout'),
      });
    } catch (error) {
      const conflicts = error instanceof AybError && error.code === 'merge_conflict' ? (error.details?.conflicts as MergeConflict[] | undefined) : undefined;
      if (file && conflicts) {
        await writeConflicts(file, args.branch, conflicts);
        this.writer.log(`Wrote ${conflicts.length} conflict(s) to ${file}: set each "resolution" to "ours", "theirs" or the column values, then run the same command again.`);
      }
      throw error;
    }
    if (file && result.dry_run && result.conflicts.length > 0) await writeConflicts(file, args.branch, result.conflicts);
    if (this.writer.json) this.writer.jsonDocument(result);
    else this.render(result, file);
    // A dry run that a real merge would refuse says so in its exit code, for scripts.
    if (result.dry_run && result.unresolved > 0) process.exitCode = ExitCode.conflict;
  }

  private render(result: MergeResult, file: string | undefined): void {
    if (result.up_to_date) {
      this.writer.log(`Already up to date: ${result.branch} changed nothing since ${result.base}.`);
      return;
    }
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
    for (const c of result.schema_conflicts) this.writer.log(`schema conflict: ${c.object} (ours: ${c.ours}, theirs: ${c.theirs})`);
    for (const c of result.conflicts.slice(0, 20)) {
      const settled = c.resolution === null ? '' : ` [resolved: ${typeof c.resolution === 'string' ? c.resolution : JSON.stringify(c.resolution)}]`;
      this.writer.log(`conflict: ${describeConflict(c)}${settled}`);
    }
    if (result.conflicts.length > 20) this.writer.log(`… and ${result.conflicts.length - 20} more conflict(s) (--json or --conflicts <file> lists them all)`);
    if (file && result.dry_run && result.conflicts.length > 0) this.writer.log(`Wrote the conflicts to ${file}.`);
    for (const s of result.committed_first) this.writer.log(`committed first: ${s}`);
    const what = `${result.schema_statements} schema statement(s), ${rows.reduce((n, t) => n + t.inserted + t.updated + t.deleted, 0)} row change(s)`;
    this.writer.log(result.applied
      ? `Merged ${result.branch} into ${result.into} (base: ${result.base}): ${what}. Next merge's base: ${result.new_base}.`
      : `Dry run: merging ${result.branch} into ${result.into} (base: ${result.base}) would apply ${what}${result.unresolved > 0 ? `, but ${result.unresolved} conflict(s) are unresolved` : ''}; nothing was changed.`);
  }
}

/** The file a person edits: every conflict with its values and a `resolution` to fill in. */
async function writeConflicts(file: string, branch: string, conflicts: readonly MergeConflict[]): Promise<void> {
  const doc = {
    branch,
    help: 'set "resolution" of each conflict to "ours" (keep the target\'s), "theirs" (take the branch\'s) or an object of column values, then run the same merge with --conflicts <this file>',
    conflicts,
  };
  await writeFile(file, `${JSON.stringify(doc, null, 2)}\n`);
}

async function readResolutions(file: string): Promise<Map<string, Resolution>> {
  let doc: { conflicts?: unknown };
  try {
    doc = JSON.parse(await readFile(file, 'utf8')) as { conflicts?: unknown };
  } catch (error) {
    throw new UsageError(`cannot read conflicts file ${file}: ${(error as Error).message}`, { hint: 'pass the file a previous --conflicts run wrote, edited as JSON' }, 'bad_conflicts_file');
  }
  if (!Array.isArray(doc.conflicts)) throw new UsageError(`conflicts file ${file} has no "conflicts" list`, { hint: 'pass the file a previous --conflicts run wrote' }, 'bad_conflicts_file');
  const out = new Map<string, Resolution>();
  for (const c of doc.conflicts as MergeConflict[]) {
    const r = c.resolution as unknown;
    if (r === null || r === undefined) continue;
    const valid = r === 'ours' || r === 'theirs' || (typeof r === 'object' && !Array.isArray(r) && Object.values(r as object).every((v) => v === null || typeof v === 'string'));
    if (!valid) {
      throw new UsageError(`conflicts file ${file}: the resolution of ${c.table} ${JSON.stringify(c.key)} must be "ours", "theirs" or an object of column values (text or null)`, { hint: 'e.g. "resolution": {"qty": "42"}' }, 'bad_conflicts_file');
    }
    out.set(conflictId(c), r as Resolution);
  }
  return out;
}
