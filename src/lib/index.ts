/**
 * ayb as a library: `import { openAyb } from 'ayb'`. The same domain code as the CLI and the admin
 * API (src/branching), called in-process: a Node program (an agent, a test harness, a CI script)
 * creates, lists, resets, diffs, merges, snapshots and deletes branches without starting a process
 * per call. Every method returns the JSON document the matching CLI command prints with `--json`,
 * and fails with the same AybError (stable `code`, `exitCode`, `hint`); `errorJson` gives the
 * document `--json` prints for it.
 *
 * Each call is one command: it works in one session on main that owns the control table, recovery
 * and locks (branching/session.ts), closed when the call returns.
 */
import { branchUrl, inSession, openContext, type OpenedContext, withMaintenancePool } from '../branching/context.js';
import type { CreateOptions } from '../branching/create.js';
import { createFromPausedSource } from '../branching/paused-copy.js';
import { parseSourceRef } from '../copy/source-ref.js';
import { diffBranchData } from '../branching/data-diff.js';
import { deleteBranch } from '../branching/delete.js';
import { diffBranches } from '../branching/diff.js';
import { expiryFromFlags } from '../branching/expiry.js';
import { createBaseSnapshot } from '../branching/keep-base.js';
import { getBranch, listBranches, resolveDatabase } from '../branching/list.js';
import { mergeBranch, type MergeResult, type MergeStrategy } from '../branching/merge.js';
import { resetBranch } from '../branching/reset.js';
import { loadConfig } from '../config/resolve.js';
import type { StrategyChoice } from '../config/schema.js';
import { AybError, ExitCode } from '../core/errors.js';
import type { RecordKind } from '../core/records.js';
import { tableChange, type TableDataChange } from '../datadiff/data-diff.js';
import { branchJson, type BranchJson, deleteJson } from '../output/branch-view.js';

export { AybError, ExitCode };
export type { BranchJson, MergeResult, MergeStrategy, RecordKind, StrategyChoice, TableDataChange };

export interface AybOptions {
  /** The main database (postgres:// URL or key=value), as `--database-url`; else AYB_DATABASE_URL, ayb.toml, or the managed PostgreSQL. */
  readonly databaseUrl?: string;
  /** The config file, as `--config` (relative to `cwd`); default `./ayb.toml` if it exists. */
  readonly config?: string;
  /** Where `ayb.toml` is looked for; default `process.cwd()`. */
  readonly cwd?: string;
  /** The environment read for AYB_DATABASE_URL, AYB_MASKING_SECRET, …; default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** The lines the CLI writes on stderr (progress of a copy, what recovery did); default: dropped. */
  readonly log?: (line: string) => void;
}

/** When a new branch or snapshot expires, as `--ttl`, `--expires-at`, `--never-expires`. */
export interface ExpiryOptions {
  readonly ttl?: string;
  readonly expiresAt?: string;
  readonly neverExpires?: boolean;
}

export interface CreateBranchOptions extends ExpiryOptions {
  /** `main` (default), a branch, a snapshot, a postgres:// URL, or `main@<time>` (`main@-2h`, needs [history]). */
  readonly from?: string;
  readonly strategy?: StrategyChoice;
  readonly masked?: boolean;
  readonly ifNotExists?: boolean;
  /** For a template copy: end the source's sessions (local development only). */
  readonly disconnect?: boolean;
  /** Keep the starting state as snapshot `<name>-base`, the base of a later merge. */
  readonly keepBase?: boolean;
  readonly signal?: AbortSignal;
}

export interface SnapshotOptions extends ExpiryOptions {
  /** What to freeze: `main` (default), a branch, another snapshot, or `main@<time>`. */
  readonly of?: string;
  readonly masked?: boolean;
  readonly ifNotExists?: boolean;
  readonly signal?: AbortSignal;
}

export interface ResetOptions {
  /** Reset to this snapshot instead of the branch's source. */
  readonly to?: string;
  readonly strategy?: StrategyChoice;
  readonly signal?: AbortSignal;
}

export interface DiffOptions {
  /** Compare rows (`--data`); with `schema` too, both (`--schema --data`). Default: the schema only. */
  readonly data?: boolean;
  readonly schema?: boolean;
  /** With `data`: only these tables (`schema.table`). */
  readonly tables?: readonly string[];
  /** With `data`: example keys per kind and table (default 20, as `--limit`). */
  readonly limit?: number;
}

export interface MergeOptions {
  readonly into?: string;
  readonly base?: string;
  readonly strategy?: MergeStrategy;
  readonly dryRun?: boolean;
}

export interface DeleteOptions {
  readonly force?: boolean;
  readonly ifExists?: boolean;
  readonly withChildren?: boolean;
}

/** `ayb branch url --json`. */
export interface UrlJson {
  readonly name: string;
  readonly database: string;
  readonly url: string;
}

/** `ayb branch delete --json`. */
export interface DeleteJson {
  readonly name: string;
  readonly branch_database: string;
  readonly deleted: boolean;
  readonly deleted_children?: readonly string[];
  /** The branch's merge record (snapshot `<branch>-merged-<time>`), deleted with it. */
  readonly deleted_merge_record?: string;
  /** Its merge record, kept because branches were made from it. */
  readonly kept_merge_record?: string;
}

/** The document `--json` prints for an error: `{"error": {code, message, exit_code, hint?, …details}}`. */
export interface ErrorJson {
  readonly error: { readonly code: string; readonly message: string; readonly exit_code: number; readonly hint?: string; readonly [detail: string]: unknown };
}

/** Any failure as an AybError (what the CLI reports for it). */
export function toAybError(error: unknown): AybError {
  if (error instanceof AybError) return error;
  return new AybError('unexpected', ExitCode.failure, error instanceof Error ? error.message : String(error), {
    hint: 'this is a bug in ayb if it persists',
    cause: error,
  });
}

/** The JSON document the CLI prints with `--json` for this error (output/writer.ts, Writer.error). */
export function errorJson(error: unknown): ErrorJson {
  const e = toAybError(error);
  const body: Record<string, unknown> = { code: e.code, message: e.message, exit_code: e.exitCode };
  if (e.hint) body.hint = e.hint;
  if (e.details) Object.assign(body, e.details);
  return { error: body as ErrorJson['error'] };
}

/**
 * Opens ayb on the main database the options (or the environment, or ayb.toml) name, starting the
 * managed PostgreSQL first if that is the one. No session on main stays open between calls (it
 * would keep every template copy of main waiting); up to two sessions on the maintenance database
 * (`postgres`) are kept for the next calls, idle ones never keeping the process alive: `close()`
 * ends them.
 */
export async function openAyb(options: AybOptions = {}): Promise<Ayb> {
  const loaded = await loadConfig({ configPath: options.config, databaseUrl: options.databaseUrl, cwd: options.cwd, env: options.env });
  return new Ayb(withMaintenancePool(await openContext(loaded, options.log, options.log)));
}

/** Branches of one main database. Methods may run concurrently; each is one command. */
export class Ayb {
  constructor(private readonly ctx: OpenedContext) {}

  /** Ends the sessions kept between calls (calls after it connect anew). Optional: idle ones never keep the process alive. */
  async close(): Promise<void> {
    await this.ctx.maintenance?.close();
  }

  /** The main database's name. */
  get mainDatabase(): string {
    return this.ctx.main.database;
  }

  /**
   * `ayb branch list --json` (or `ayb snapshot list --json`); `sizes: true` adds `size_bytes`, as
   * `--sizes` does (a scan of every database's files: slow with many branches; `get` sizes one).
   */
  list(options: { readonly kind?: RecordKind; readonly sizes?: boolean } = {}): Promise<BranchJson[]> {
    return this.command(async (ctx) => (await listBranches(ctx, options.kind ?? 'branch', { sizes: options.sizes })).map((b) => branchJson(b)));
  }

  /** `ayb branch show <name> --json`. */
  get(name: string, options: { readonly kind?: RecordKind } = {}): Promise<BranchJson> {
    return this.command(async (ctx) => branchJson(await getBranch(ctx, name, options.kind ?? 'branch')));
  }

  /** `ayb branch create <name> --json`. */
  create(name: string, options: CreateBranchOptions = {}): Promise<BranchJson> {
    return this.command(async (ctx) => {
      const expiresAt = expiry(options);
      let source = parseSourceRef(options.from);
      if (options.keepBase) source = { kind: 'record', name: await createBaseSnapshot(ctx, name, source, { expiresAt, signal: options.signal }) };
      return copy(ctx, { name, kind: 'branch', source, strategy: options.strategy, masked: options.masked, ifNotExists: options.ifNotExists, disconnect: options.disconnect, expiresAt, signal: options.signal });
    });
  }

  /** `ayb snapshot create <name> --json`. */
  snapshot(name: string, options: SnapshotOptions = {}): Promise<BranchJson> {
    return this.command((ctx) =>
      copy(ctx, { name, kind: 'snapshot', source: parseSourceRef(options.of), masked: options.masked, ifNotExists: options.ifNotExists, expiresAt: expiry(options), signal: options.signal }),
    );
  }

  /** `ayb branch url <name> --json`: the URL with its password, for the program to connect with. */
  url(name: string): Promise<UrlJson> {
    return this.command(async (ctx) => {
      const { database } = await resolveDatabase(ctx, name);
      return { name, database, url: branchUrl(ctx, database, true) };
    });
  }

  /** `ayb branch reset <name> --json`. */
  reset(name: string, options: ResetOptions = {}): Promise<BranchJson> {
    return this.command(async (ctx) => branchJson((await resetBranch(ctx, { name, to: options.to, strategy: options.strategy, signal: options.signal })).branch));
  }

  /**
   * `ayb branch diff <from> <to> --json`: the schema changes (an array), with `data` the row changes
   * per table (an array), with both `{schema, data}`.
   */
  diff(from: string, to: string, options: DiffOptions = {}): Promise<unknown> {
    return this.command(async (ctx) => {
      if (!options.data) return plain((await diffBranches(ctx, from, to)).comparison.changes);
      const schema = options.schema ? (await diffBranches(ctx, from, to)).comparison.changes : undefined;
      const data = await diffBranchData(ctx, from, to, { tables: options.tables ? [...options.tables] : undefined });
      const changes = data.comparison.tables.map((t) => tableChange(t, options.limit ?? 20));
      return plain(schema ? { schema, data: changes } : changes);
    });
  }

  /** `ayb branch merge <branch> --json`; `dryRun` plans and changes nothing. */
  merge(branch: string, options: MergeOptions = {}): Promise<MergeResult> {
    return this.command(async (ctx) => plain(await mergeBranch(ctx, { branch, into: options.into, base: options.base, strategy: options.strategy, dryRun: options.dryRun })));
  }

  /** `ayb branch delete <name> --yes --json`. */
  delete(name: string, options: DeleteOptions = {}): Promise<DeleteJson> {
    return this.deleteRecord('branch', name, options);
  }

  /** `ayb snapshot delete <name> --yes --json`. */
  deleteSnapshot(name: string, options: DeleteOptions = {}): Promise<DeleteJson> {
    return this.deleteRecord('snapshot', name, options);
  }

  private deleteRecord(kind: RecordKind, name: string, options: DeleteOptions): Promise<DeleteJson> {
    return this.command(async (ctx) => {
      const result = await deleteBranch(ctx, { name, kind, force: options.force, ifExists: options.ifExists, withChildren: options.withChildren });
      return deleteJson(result);
    });
  }

  /** One call, one command: one session, closed at the end; any failure as an AybError. */
  private async command<T>(fn: (ctx: OpenedContext) => Promise<T>): Promise<T> {
    try {
      return await inSession(this.ctx, fn);
    } catch (error) {
      throw toAybError(error);
    }
  }
}

async function copy(ctx: OpenedContext, options: CreateOptions): Promise<BranchJson> {
  const { branch } = await createFromPausedSource(ctx, options);
  return branchJson(branch);
}

function expiry(options: ExpiryOptions): Date | null | undefined {
  return expiryFromFlags({ ttl: options.ttl, expiresAt: options.expiresAt, never: options.neverExpires });
}

/** What `--json` prints, parsed back: plain objects only (no Dates, no class instances). */
function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
