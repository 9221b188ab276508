import { AsyncLocalStorage } from 'node:async_hooks';
import { existsSync } from 'node:fs';
import type { AybConfig } from '../config/schema.js';
import { configuredDatabase, type DatabaseSource, type LoadedConfig, managedClusterOptions } from '../config/resolve.js';
import type { Client } from '../postgres/client.js';
import { type ConnInfo, formatConnInfo, withDatabase } from '../postgres/conninfo.js';
import { ensureManagedCluster, stopManagedCluster } from '../postgres/managed/index.js';
import { ensureHistory, ensureNoArchiving } from '../history/archive.js';
import { baseDir, historySettings, type HistorySettings } from '../history/store.js';
import { recoverRefusal } from '../postgres/connection-guard.js';
import { connectMaintenance } from '../postgres/maintenance.js';
import { MaintenancePool } from '../postgres/maintenance-pool.js';
import { AybError, ConflictError } from '../core/errors.js';
import { recoveryDone } from './recovery.js';
import { ControlSession } from './session.js';

/** Everything the domain needs: the main database and the validated config. No CLI types here. */
export interface BranchContext {
  readonly main: ConnInfo;
  readonly config: AybConfig;
  /** Log lines (stderr in the CLI). */
  readonly log?: (line: string) => void;
  /**
   * What ayb did on its own that the user did not ask for (finishing an interrupted delete,
   * removing a partial database): said even with `--json`, on stderr. Falls back to `log`.
   */
  readonly notice?: (line: string) => void;
  /** The command's session on main (inSession); without one, each withControl opens its own. */
  readonly session?: ControlSession;
  /**
   * A long-lived process's kept maintenance sessions (the library's Ayb, `ayb start`): a command
   * takes its locks on one of them instead of connecting (postgres/maintenance-pool.ts).
   */
  readonly maintenance?: MaintenancePool;
}

/** Where to say what ayb did on its own: `notice`, else `log`. */
export function noticeOf(ctx: BranchContext): ((line: string) => void) | undefined {
  return ctx.notice ?? ctx.log;
}

export interface OpenedContext extends BranchContext {
  /** Where the main database came from: a flag, the environment, the config file, or the managed PostgreSQL. */
  readonly source: DatabaseSource;
  /** `[history]` of the managed PostgreSQL, when it is the main database and history is enabled. */
  readonly history?: HistorySettings;
  /** With history off: the folder of history kept from when it was on, if there is one. */
  readonly keptHistoryDir?: string;
}

/**
 * The context every command and the server work in: the configured main database, or else the
 * managed PostgreSQL, initialised and started on first use (it keeps running until `ayb stop`).
 */
export async function openContext(loaded: LoadedConfig, log?: (line: string) => void, notice?: (line: string) => void): Promise<OpenedContext> {
  const configured = configuredDatabase(loaded);
  if (configured) return { main: configured.conn, config: loaded.config, log, notice, source: configured.source };
  const cluster = await ensureManagedCluster({ ...managedClusterOptions(loaded), log });
  if (!loaded.config.history.enabled) {
    // Only an ayb.toml turns history off: a command run where there is none (a subfolder of the
    // project, the home folder) reaches the same managed cluster by default, and says nothing about it.
    if (loaded.file !== undefined) await ensureNoArchiving(managedClusterOptions(loaded), cluster.conn, log);
    return { main: cluster.conn, config: loaded.config, log, notice, source: 'managed', keptHistoryDir: keptHistory(loaded) };
  }
  const history = historySettings(loaded);
  await ensureHistory(history, cluster.conn, log);
  return { main: cluster.conn, config: loaded.config, log, notice, source: 'managed', history };
}

/** The history folder that `[history]` names (or would), when history left one behind. */
function keptHistory(loaded: LoadedConfig): string | undefined {
  try {
    const settings = historySettings(loaded);
    return existsSync(baseDir(settings)) ? settings.dir : undefined;
  } catch {
    return undefined; // a [history] dir that could never have been used
  }
}

/** `ayb stop`: stops the managed PostgreSQL; false when it was not running. */
export async function stopManagedDatabase(loaded: LoadedConfig): Promise<{ readonly dataDir: string; readonly stopped: boolean }> {
  const options = managedClusterOptions(loaded);
  return { dataDir: options.dataDir, stopped: await stopManagedCluster(options) };
}

export function branchConn(ctx: BranchContext, database: string): ConnInfo {
  return withDatabase(ctx.main, database);
}

/** The connection URL of a branch (or of main), password masked unless asked for. */
export function branchUrl(ctx: BranchContext, database: string, showPassword = false): string {
  return formatConnInfo(branchConn(ctx, database), { showPassword });
}

/**
 * Runs `fn` on the command's session on main (session.ts): the control table in place at its
 * current schema version and, the first time in a process, what interrupted commands left finished
 * (recovery.ts). The session has ayb's limits (postgres/timeouts.ts): a lock on the control table
 * held elsewhere ends in an error, not a hang. Main found refusing connections because an ayb
 * process was cut off while it had them refused (and its guard could not undo it) is let in again
 * first (see allowMainAgain). Outside a command (`inSession`), a session just for this call.
 */
export async function withControl<T>(ctx: BranchContext, fn: (client: Client) => Promise<T>): Promise<T> {
  const session = sessionOf(ctx);
  if (session) return session.run(fn);
  const once = newSession(ctx);
  try {
    return await once.run(fn);
  } finally {
    await once.close();
  }
}

/** The command running now, for the code that holds the context but not the command (the admin API's routes). */
const running = new AsyncLocalStorage<ControlSession>();

/** The command's session on ctx's main: the context's own, else the one of the command running. */
function sessionOf(ctx: BranchContext): ControlSession | undefined {
  const session = ctx.session ?? running.getStore();
  return session && !session.closed && session.serves(ctx.main) ? session : undefined;
}

/**
 * Runs one command (a CLI command, a library call, an admin API request) in one session on main,
 * closed when it ends; inside a command already, in that one.
 */
export async function inSession<C extends BranchContext, T>(ctx: C, fn: (ctx: C) => Promise<T>): Promise<T> {
  const existing = sessionOf(ctx);
  if (existing) return fn(ctx.session ? ctx : { ...ctx, session: existing });
  const session = newSession(ctx);
  try {
    return await running.run(session, () => fn({ ...ctx, session }));
  } finally {
    await session.close();
  }
}

/** The command's session, opened on first use; `close()` it at the end of the command. */
export function newSession(ctx: BranchContext): ControlSession {
  return new ControlSession(ctx, (refused) => allowMainAgain(ctx, refused));
}

/**
 * Before a copy of main: main must have no session, the command's own included (a template copy
 * refuses, and "auto" would count it as a user and dump instead). The next withControl reconnects.
 */
export async function releaseControl(ctx: BranchContext): Promise<void> {
  // The command's session, also when ctx does not carry it (an admin API route runs in one found by
  // sessionOf): missing it here left ayb's own session on main, and the copy fell back to a dump.
  await sessionOf(ctx)?.release();
}

/**
 * After a copy of main: the command's session (released for the copy) connects again now, in the
 * background, so that its next withControl finds it open. A failure here is left for that call to meet.
 */
export function reconnectControl(ctx: BranchContext): void {
  sessionOf(ctx)?.run(async () => undefined).catch(() => undefined);
}

/**
 * Main refuses connections. When ayb's note says an ayb process made it so and none is still at it,
 * allows them again and says so; while that process still works, a conflict; otherwise the error
 * as it is, which names the ALTER DATABASE to run.
 */
async function allowMainAgain(ctx: BranchContext, refused: AybError): Promise<void> {
  const found = await recoverRefusal(ctx.main, ctx.main.database);
  if (found.outcome === 'not_ayb') throw refused;
  const who = `ayb process ${found.record.pid}, since ${found.record.since}`;
  if (found.outcome === 'in_progress') {
    throw new ConflictError('connections_refused', `database "${ctx.main.database}" refuses connections for now: another ayb process is copying or renaming it (${who})`, {
      hint: 'wait for it to finish (it allows connections again when it is done), then run the command again',
      details: { database: ctx.main.database },
    });
  }
  noticeOf(ctx)?.(`Database "${ctx.main.database}" was left refusing connections by an ayb process that was cut off (${who}); allowed connections again.`);
}

/**
 * The maintenance session a command takes its locks on, once what interrupted commands left is
 * finished (finishInterruptedFirst): both sessions are opened at once, as the two connections
 * cost most of a small command's time. Once this process has finished that on main's server
 * (recovery runs once per process), nothing is left to wait for: the session on main is opened in
 * the background, and the command takes its locks and asks its first questions on the maintenance
 * session meanwhile (a failure to open main is met by the command's first withControl).
 */
export async function maintenanceAfterRecovery(ctx: BranchContext): Promise<Client> {
  if (recoveryDone(ctx.main) && sessionOf(ctx)) {
    reconnectControl(ctx);
    return maintenanceSession(ctx);
  }
  const [maint, recovered] = await Promise.allSettled([maintenanceSession(ctx), finishInterruptedFirst(ctx)]);
  if (recovered.status === 'rejected') {
    if (maint.status === 'fulfilled') await maint.value.end().catch(() => undefined);
    throw recovered.reason;
  }
  if (maint.status === 'rejected') throw maint.reason;
  return maint.value;
}

/**
 * A maintenance session for one command: one of the process's kept sessions when it keeps them
 * (`ctx.maintenance`), else a new connection; `end()` it when done either way.
 */
export function maintenanceSession(ctx: BranchContext): Promise<Client> {
  return ctx.maintenance?.serves(ctx.main) ? ctx.maintenance.acquire() : connectMaintenance(ctx.main);
}

/** A context whose commands keep their maintenance sessions between them: `close()` the pool at the end. */
export function withMaintenancePool<C extends BranchContext>(ctx: C): C & { readonly maintenance: MaintenancePool } {
  return { ...ctx, maintenance: new MaintenancePool(ctx.main) };
}

/**
 * Opens the control table once before a command takes any lock, so that what interrupted commands
 * left is finished first, this command's own record included (recovery.ts leaves alone every record
 * whose lock is held, and a command holds the lock of the record it works on).
 */
export async function finishInterruptedFirst(ctx: BranchContext): Promise<void> {
  await withControl(ctx, async () => undefined);
}
