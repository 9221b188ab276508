import { accessSync, constants as fsConstants } from 'node:fs';
import path from 'node:path';
import { Command, Flags, type Interfaces } from '@oclif/core';
import { newSession, openContext, type OpenedContext } from '../branching/context.js';
import type { ControlSession } from '../branching/session.js';
import { createBranch } from '../branching/create.js';
import { createAtPointInTime, isPointInTime } from '../branching/point-in-time.js';
import { checkDeletable, deleteBranch } from '../branching/delete.js';
import { expiryFromFlags } from '../branching/expiry.js';
import type { StrategyChoice } from '../config/schema.js';
import type { RecordKind } from '../core/records.js';
import { branchDetailColumns, branchJson } from '../output/branch-view.js';
import { CLEAR_LINE, copyProgressLine } from '../output/progress.js';
import { configuredDatabase, loadConfig, type LoadedConfig } from '../config/resolve.js';
import { AybError, ExitCode, InterruptedError, UsageError } from '../core/errors.js';
import { closest } from '../core/suggest.js';
import { argvWantsJson, type OutputFormat, Writer } from '../output/writer.js';
import { debugTrace, knownSecrets, scrubError } from '../output/debug.js';
import { passwordInArgvWarning } from '../branching/source.js';

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
 * The shared shape of every command: the global flags, config and database resolution, one writer
 * for stdout/stderr, and one place where errors become a message, a JSON document and an exit code.
 * Commands stay thin: parse, call one domain function, render.
 */
export abstract class AybCommand extends Command {
  static override baseFlags = {
    'database-url': Flags.string({
      description: 'main database (postgres:// URL or key=value); prefer AYB_DATABASE_URL to keep passwords out of argv',
      helpGroup: 'GLOBAL',
    }),
    config: Flags.string({ description: 'config file [default: ./ayb.toml]', helpGroup: 'GLOBAL' }),
    json: Flags.boolean({ description: 'print exactly one JSON document on stdout (same as --output json)', helpGroup: 'GLOBAL' }),
  };

  /** Output formats the command accepts; the default is table. */
  protected outputFormat: OutputFormat = 'table';
  private writerInstance?: Writer;

  protected get writer(): Writer {
    this.writerInstance ??= new Writer(this.outputFormat);
    return this.writerInstance;
  }

  /** Call from run() after parsing, so errors before parsing still know whether JSON was wanted. */
  protected setOutput(flags: { json?: boolean; output?: string }): void {
    this.outputFormat = flags.json || flags.output === 'json' ? 'json' : 'table';
    this.writerInstance = undefined;
  }

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
  protected async createCopy(kind: RecordKind, name: string, from: string, flags: CopyFlagValues & { config?: string; 'database-url'?: string }): Promise<void> {
    const expiresAt = expiryFromFlags({ ttl: flags.ttl, expiresAt: flags['expires-at'], never: flags['never-expires'], allowPast: flags['allow-past'] });
    this.warnPasswordInArgv('--from', from, 'PGPASSWORD');
    const ctx = isPointInTime(from) ? await this.historyContext(flags) : await this.branchContext(flags);
    const started = Date.now();
    // `main@<time>` goes through a temporary cluster restored to that moment (branching/point-in-time.ts).
    const copy = isPointInTime(from) ? createAtPointInTime : createBranch;
    const { branch, created } = await this.interruptible((signal) =>
      copy(ctx, {
        name,
        kind,
        from,
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
      const record = { ...(result.deleted_merge_record ? { deleted_merge_record: result.deleted_merge_record } : {}), ...(result.kept_merge_record ? { kept_merge_record: result.kept_merge_record } : {}) };
      this.writer.jsonDocument({ name: result.name, branch_database: result.branch_database, deleted: result.deleted, ...(result.deleted_children ? { deleted_children: result.deleted_children } : {}), ...record });
    } else {
      const What = kind === 'snapshot' ? 'Snapshot' : 'Branch';
      if (result.deleted_children) this.writer.log(`Deleted ${result.deleted_children.length} branch(es) made from "${result.name}": ${result.deleted_children.join(', ')}`);
      this.writer.log(result.deleted ? `Deleted ${kind} "${result.name}" (${result.branch_database})` : `${What} "${result.name}" does not exist; nothing to delete`);
      if (result.deleted_merge_record) this.writer.log(`Deleted its merge record, snapshot "${result.deleted_merge_record}"`);
      if (result.kept_merge_record) this.writer.log(`Kept its merge record, snapshot "${result.kept_merge_record}": branches were made from it (delete it with: ayb snapshot delete ${result.kept_merge_record})`);
    }
  }

  /**
   * Runs `fn` with an AbortSignal that fires on SIGINT/SIGTERM, so long work can stop its children
   * and clean up before the process exits with 130 (SIGINT) or 143 (SIGTERM).
   */
  protected async interruptible<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const handler = (sig: 'SIGINT' | 'SIGTERM') => () => {
      if (controller.signal.aborted) {
        this.writer.log('Still cleaning up; please wait …');
        return;
      }
      this.writer.log(`\nInterrupted (${sig}); stopping and cleaning up …`);
      controller.abort(new InterruptedError(sig, 'run the command again to retry; ayb branch list shows what is there now'));
    };
    const onInt = handler('SIGINT');
    const onTerm = handler('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    try {
      const result = await fn(controller.signal);
      // The domain throws at its checkpoints when aborted; work that got past the last one is done
      // and consistent, so report it as done rather than as interrupted.
      if (controller.signal.aborted) this.writer.log('The work had already finished when the interrupt arrived.');
      return result;
    } finally {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    }
  }

  /** Every failure ends here: one message (or one JSON document) and the contract's exit code. */
  override async catch(error: Interfaces.CommandError): Promise<void> {
    // oclif's own exit (this.exit) and help/version requests pass through untouched.
    const exitRequest = error as { code?: unknown };
    if (!(error instanceof AybError) && /^EEXIT/.test(String(exitRequest.code ?? ''))) throw error;
    // A password typed into a mistyped flag or a stray argument would be quoted back: masked here.
    const aybError = scrubError(toAybError(error, this.id ?? "", this.ctor), knownSecrets([...process.argv.slice(2), ...this.argv]));
    if (!this.writerInstance && argvWantsJson(this.argv)) this.outputFormat = 'json';
    this.writer.error(aybError);
    if (process.env.AYB_DEBUG && aybError.cause) process.stderr.write(`${debugTrace(aybError.cause, [...process.argv.slice(2), ...this.argv])}\n`);
    process.exitCode = aybError.exitCode;
  }
}

interface CommandShape {
  readonly flags?: Record<string, { char?: string; aliases?: string[] }>;
  readonly baseFlags?: Record<string, { char?: string; aliases?: string[] }>;
}

/** oclif's parse errors (unknown flag, unexpected argument, exclusive flags …) become usage errors with a hint. */
function toAybError(error: unknown, id: string, command: CommandShape = {}): AybError {
  if (error instanceof AybError) return error;
  const err = error as Error & { oclif?: { exit?: number }; parse?: unknown; flags?: string[]; args?: unknown[] };
  const usage = `see: ${['ayb', ...id.split(':').filter(Boolean)].join(' ')} --help`;
  const text = stripAnsi(err?.message ?? '');
  if (err?.oclif?.exit === 2 || err?.parse !== undefined || /Unexpected argument|Missing \d+ required arg|Expected --|Nonexistent flag|is not one of/.test(text)) {
    // oclif lists missing arguments on the lines after "Missing 1 required arg:"; name them in the one line.
    const missing = /Missing \d+ required arg/.test(text) ? (err.args as { name?: string }[] | undefined)?.map((a) => a.name).filter(Boolean) ?? [] : [];
    if (missing.length > 0) {
      return new UsageError(`missing required argument${missing.length === 1 ? '' : 's'}: ${missing.map((n) => `<${n}>`).join(' ')}`, { hint: usage });
    }
    if (/^Nonexistent flags?:/.test(text) && Array.isArray(err.flags)) {
      const known = Object.entries({ ...command.baseFlags, ...command.flags }).flatMap(([name, f]) => [name, ...(f.aliases ?? [])]);
      const unknown = err.flags.map(String);
      const guesses = unknown.map((flag) => closest(flag.replace(/^-+/, '').replace(/=.*$/, ''), known)).filter((g): g is string => g !== undefined);
      return new UsageError(`unknown flag${unknown.length === 1 ? '' : 's'}: ${unknown.join(', ')}`, {
        hint: guesses.length > 0 ? `did you mean ${guesses.map((g) => `--${g}`).join(', ')}? (${usage})` : usage,
      }, 'unknown_flag');
    }
    if (/^Unexpected arguments?:/.test(text)) {
      return new UsageError(`unexpected argument${(err.args?.length ?? 0) === 1 ? '' : 's'}: ${(err.args ?? []).map(String).join(' ')}`, { hint: usage }, 'unexpected_argument');
    }
    // "The following errors occurred:" is only a heading: the reasons are on the lines below it
    // (exclusive flags, dependent flags, …). Name them all in the one line.
    const lines = text.split('\n').map((line) => line.trim()).filter((line) => line !== '' && !/^See more help with/.test(line));
    const reasons = /^The following errors? occurred:$/.test(lines[0] ?? '') ? lines.slice(1) : lines;
    const message = [...new Set((reasons.length > 0 ? reasons : lines).map(exclusivePair))].join('; ');
    return new UsageError(message || 'invalid flags or arguments', { hint: usage });
  }
  return new AybError('unexpected', 1, text ? firstLine(text) : String(error), {
    hint: 'this is a bug in ayb if it persists; rerun with AYB_DEBUG=1 for the stack trace',
    cause: error,
  });
}

/** oclif says each clash twice (`--a=x cannot also be provided when using --b`, then b with a): say it once. */
function exclusivePair(reason: string): string {
  const match = /^--([\w-]+)(?:=.*)? cannot also be provided when using --([\w-]+)$/.exec(reason);
  if (!match) return reason;
  const [a, b] = [match[1]!, match[2]!].sort();
  return `--${a} and --${b} cannot be used together`;
}

function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, '');
}

function firstLine(text: string): string {
  return text.split('\n').find((line) => line.trim() !== '')?.trim() ?? text;
}

export const outputFlag = (options: readonly string[] = ['table', 'json']) =>
  Flags.string({ char: 'o', description: 'output format', options: [...options], default: 'table' });

/**
 * How to run ayb again from here, for a line the user copies: the command's name when that is on
 * PATH, else the path of the script that is running (`./bin/run.js` in a clone that was not linked,
 * as `npm link` needs root for a system-wide Node).
 */
export function invocation(bin: string, env: NodeJS.ProcessEnv = process.env, script = process.argv[1], cwd = process.cwd()): string {
  const onPath = (env.PATH ?? '').split(path.delimiter).some((dir) => {
    if (dir === '') return false;
    try {
      accessSync(path.join(dir, bin), fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (onPath || !script) return bin;
  const relative = path.relative(cwd, script);
  const shown = relative.startsWith('..') || path.isAbsolute(relative) ? script : `./${relative}`;
  return /^[\w./@+-]+$/.test(shown) ? shown : `'${shown.replace(/'/g, `'\\''`)}'`;
}

/** Reads a yes/no answer from the terminal; Ctrl-C at the prompt is an interrupt (exit 130), not a "no". */
export async function confirm(question: string): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const interrupted = new Promise<never>((_, reject) => {
      rl.on('SIGINT', () => {
        process.stderr.write('\n');
        reject(new InterruptedError('SIGINT', 'nothing was changed'));
      });
    });
    const answer = await Promise.race([rl.question(`${question} [y/N] `), interrupted]);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
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
