import { Flags } from '@oclif/core';
import { newSession, openContext, type OpenedContext } from '../branching/context.js';
import type { ControlSession } from '../branching/session.js';
import { createFromPausedSource } from '../branching/paused-copy.js';
import { checkDeletable, deleteBranch } from '../branching/delete.js';
import { expiryFromFlags } from '../branching/expiry.js';
import type { StrategyChoice } from '../config/schema.js';
import type { RecordKind } from '../core/records.js';
import { branchDetailColumns, branchJson, deleteJson } from '../output/branch-view.js';
import { CLEAR_LINE, copyProgressLine } from '../output/progress.js';
import { configuredDatabase, loadConfig, type LoadedConfig } from '../config/resolve.js';
import { ExitCode, UsageError } from '../core/errors.js';
import { passwordInArgvWarning, type SourceRef } from '../copy/source-ref.js';
import { BaseCommand, confirm, invocation, jsonFlag } from './command.js';

interface CopyFlagValues {
  readonly strategy?: string;
  readonly disconnect?: boolean;
  readonly 'if-not-exists'?: boolean;
  readonly ttl?: string;
  readonly 'expires-at'?: string;
  readonly 'never-expires'?: boolean;
  readonly 'allow-past'?: boolean;
  readonly masked?: boolean;
}

/**
 * A command that works on a database: the global database flags (--database-url, --config), config
 * and database resolution, one session on main for the whole command, and the copy and delete flows
 * that `branch` and `snapshot` share. The writer, --json, interrupts and errors come from BaseCommand.
 */
export abstract class DatabaseCommand extends BaseCommand {
  static override baseFlags = {
    'database-url': Flags.string({
      description: 'main database (postgres:// URL or key=value); prefer AYB_DATABASE_URL to keep passwords out of argv',
      helpGroup: 'GLOBAL',
    }),
    config: Flags.string({ description: 'config file [default: ./ayb.toml]', helpGroup: 'GLOBAL' }),
    json: jsonFlag(),
  };

  protected async loadConfig(flags: { config?: string; 'database-url'?: string }): Promise<LoadedConfig> {
    this.warnPasswordInArgv('--database-url', flags['database-url'], 'AYB_DATABASE_URL');
    return loadConfig({ configPath: flags.config, databaseUrl: flags['database-url'] });
  }

  /** A password typed on the command line is visible to every user of the machine (ps) and stays in the shell's history. */
  protected warnPasswordInArgv(flag: string, value: string | undefined, instead: string): void {
    const warning = passwordInArgvWarning(flag, value, instead);
    if (warning) this.writer.log(warning);
  }

  /** The main database (starting the managed PostgreSQL if that is the one) and the config, for the domain. */
  protected async branchContext(flags: { config?: string; 'database-url'?: string }, loaded?: LoadedConfig): Promise<OpenedContext> {
    const ctx = await openContext(loaded ?? (await this.loadConfig(flags)), (line) => this.writer.log(line), (line) => this.writer.notice(line));
    // One session on main for the whole command (branching/session.ts), closed in finally().
    this.session ??= newSession(ctx);
    return { ...ctx, session: this.session };
  }

  private session?: ControlSession;

  override async finally(error: Error | undefined): Promise<unknown> {
    await this.session?.close();
    return super.finally(error);
  }

  /**
   * The context of a command that needs `[history]` (`ayb history`, `ayb history prune`, a copy of
   * `main@<time>`). `[history]` is read from the project's ayb.toml only: run where there is none (a
   * subfolder, the home folder), ayb would reach the same managed cluster with history taken as off,
   * and say so while that cluster still archives. Refused instead, before anything starts.
   */
  protected async historyContext(flags: { config?: string; 'database-url'?: string }): Promise<OpenedContext> {
    const loaded = await this.loadConfig(flags);
    if (loaded.file === undefined && configuredDatabase(loaded) === undefined) {
      throw new UsageError(`there is no ayb.toml in ${loaded.input.cwd ?? process.cwd()}, and [history] is read from the project's ayb.toml`, {
        hint: 'run this in the project folder (where ayb.toml is), or pass --config <project>/ayb.toml',
      }, 'config_needed');
    }
    return this.branchContext(flags, loaded);
  }

  /** `branch create` and `snapshot create`: copy, with progress on a terminal, and print the record. */
  protected async createCopy(kind: RecordKind, name: string, source: SourceRef, flags: CopyFlagValues & { config?: string; 'database-url'?: string }): Promise<void> {
    const expiresAt = expiryFromFlags({ ttl: flags.ttl, expiresAt: flags['expires-at'], never: flags['never-expires'], allowPast: flags['allow-past'] });
    // `main@<time>` is read from the project's history (branching/copy.ts restores it).
    const ctx = source.kind === 'point-in-time' ? await this.historyContext(flags) : await this.branchContext(flags);
    const started = Date.now();
    const { branch, created } = await this.interruptible((signal) =>
      createFromPausedSource(ctx, {
        name,
        kind,
        source,
        strategy: flags.strategy as StrategyChoice | undefined,
        ifNotExists: flags['if-not-exists'],
        expiresAt,
        signal,
        disconnect: flags.disconnect,
        masked: flags.masked,
        // Progress only on a terminal and never with --json: stderr stays clean for scripts.
        onProgress: this.writer.interactive
          ? (p) => this.writer.progress(CLEAR_LINE + copyProgressLine(p, process.stderr.columns))
          : undefined,
      }),
    );
    if (this.writer.interactive) this.writer.progress(CLEAR_LINE);
    const what = kind === 'snapshot' ? 'snapshot' : 'branch';
    this.writer.log(
      created
        ? `Created ${what} "${branch.name}" (${branch.strategy}) in ${((Date.now() - started) / 1000).toFixed(1)}s`
        : `${what === 'snapshot' ? 'Snapshot' : 'Branch'} "${branch.name}" already exists; left as it is`,
    );
    this.writer.record(branch, branchDetailColumns({ kind, mainDatabase: ctx.main.database }), (b) => branchJson(b));
    // What a developer types next. On a terminal only (stderr), so scripts and --json see nothing new.
    if (kind === 'branch' && branch.status === 'ready' && this.writer.interactive) {
      this.writer.log(`Connect with: psql "$(${invocation(this.config.bin)} branch url ${branch.name})"`);
    }
  }

  /** `branch delete` and `snapshot delete`: confirm on a terminal (else --yes), delete, report. */
  protected async deleteRecord(
    kind: RecordKind,
    name: string,
    flags: { yes?: boolean; force?: boolean; 'if-exists'?: boolean; 'with-children'?: boolean; config?: string; 'database-url'?: string },
  ): Promise<void> {
    const ctx = await this.branchContext(flags);
    const options = { name, kind, force: flags.force, ifExists: flags['if-exists'], withChildren: flags['with-children'] };
    if (!flags.yes) {
      if (!process.stdin.isTTY || this.writer.json) {
        throw new UsageError(`refusing to delete ${kind} "${name}" without confirmation`, {
          hint: `pass --yes to delete without a prompt: ayb ${kind} delete ${name} --yes`,
        }, 'confirmation_required');
      }
      const plan = await checkDeletable(ctx, options);
      const also = plan?.descendants.length ? `, and the ${plan.descendants.length} branch(es) made from it (${plan.descendants.map((d) => d.name).reverse().join(', ')})` : '';
      if (plan && !(await confirm(`Delete ${kind} "${plan.row.name}" and its database ${plan.row.branch_database}${also}?`))) {
        // Not an error: the command was right and the user said no. Said plainly; exit 1, as git and apt do.
        this.writer.log('Cancelled, nothing was changed.');
        process.exitCode = ExitCode.failure;
        return;
      }
    }
    // Dropping takes a moment; a Ctrl-C now would split "database dropped" from "row removed",
    // so the delete runs to its end and the interrupt is reported afterwards.
    const result = await this.interruptible(() => deleteBranch(ctx, options));
    if (this.writer.json) {
      this.writer.jsonDocument(deleteJson(result));
    } else {
      const What = kind === 'snapshot' ? 'Snapshot' : 'Branch';
      if (result.deleted_children) this.writer.log(`Deleted ${result.deleted_children.length} branch(es) made from "${result.name}": ${result.deleted_children.join(', ')}`);
      this.writer.log(result.deleted ? `Deleted ${kind} "${result.name}" (${result.branch_database})` : `${What} "${result.name}" does not exist; nothing to delete`);
      if (result.deleted_merge_record) this.writer.log(`Deleted its merge record, snapshot "${result.deleted_merge_record}"`);
      if (result.kept_merge_record) this.writer.log(`Kept its merge record, snapshot "${result.kept_merge_record}": branches were made from it (delete it with: ayb snapshot delete ${result.kept_merge_record})`);
    }
  }
}

/** How a copy is made and when it expires: the same flags for `branch create` and `snapshot create`. */
export const copyFlags = {
  strategy: Flags.string({ description: 'how to copy', options: ['auto', 'template', 'dump'] }),
  disconnect: Flags.boolean({
    description: 'local development: for a template copy, refuse new connections to the source, end its sessions, copy, then allow connections again',
  }),
  'if-not-exists': Flags.boolean({ description: 'succeed and print the existing one if it is already there and ready' }),
  ttl: Flags.string({ description: 'expire this long from now: 30m, 12h, 7d, 2w, 1d12h', exclusive: ['expires-at', 'never-expires'] }),
  'expires-at': Flags.string({ description: 'expire at this ISO 8601 time (e.g. 2030-01-31T18:00Z)', exclusive: ['ttl', 'never-expires'] }),
  'never-expires': Flags.boolean({ description: 'never expire, whatever [branching] default_ttl says', exclusive: ['ttl', 'expires-at'] }),
  'allow-past': Flags.boolean({ description: 'accept an --expires-at in the past (refused otherwise, exit 2): the copy is expired at once and the next prune deletes it', dependsOn: ['expires-at'] }),
  masked: Flags.boolean({ description: 'apply [[masking.rules]] before the copy is ready (always on with [masking] required = true); the secret comes from AYB_MASKING_SECRET or [masking] secret_file' }),
};
