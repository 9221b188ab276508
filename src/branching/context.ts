import { existsSync } from 'node:fs';
import type { AybConfig } from '../config/schema.js';
import { configuredDatabase, type DatabaseSource, type LoadedConfig, managedClusterOptions } from '../config/resolve.js';
import { type Client, withClient } from '../postgres/client.js';
import { type ConnInfo, formatConnInfo, withDatabase } from '../postgres/conninfo.js';
import { ensureManagedCluster, stopManagedCluster } from '../postgres/managed.js';
import { ensureHistory, ensureNoArchiving } from '../history/archive.js';
import { baseDir, historySettings, type HistorySettings } from '../history/store.js';
import { ensureControlTable } from './control-table.js';
import { sessionTimeouts } from '../postgres/timeouts.js';
import { healAbandonedRefusals, recoverRefusal } from '../postgres/connection-guard.js';
import { forgetStaleRefusals } from '../postgres/refusal-record.js';
import { AybError, ConflictError } from '../core/errors.js';
import { finishInterruptedWork } from './recovery.js';

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
 * Runs `fn` on a session on main, with the control table in place and, the first time in a process,
 * what interrupted commands left finished (see recovery.ts). The session has ayb's limits
 * (postgres/timeouts.ts): a lock on the control table held elsewhere ends in an error, not a hang.
 * Main found refusing connections because an ayb process was cut off while it had them refused
 * (and its guard could not undo it) is let in again first (see allowMainAgain).
 */
export async function withControl<T>(ctx: BranchContext, fn: (client: Client) => Promise<T>): Promise<T> {
  const run = () => withClient(ctx.main, async (client) => {
    await ensureControlTable(client);
    await finishInterruptedWork(ctx, client);
    return fn(client);
  }, sessionTimeouts());
  try {
    const result = await run();
    await healAfterCutOffProcesses(ctx);
    return result;
  } catch (error) {
    if (!(error instanceof AybError && error.code === 'connections_refused' && error.details?.database === ctx.main.database)) throw error;
    await allowMainAgain(ctx, error);
    return run();
  }
}

/**
 * Main accepts connections, so a note about it is stale (someone allowed them by hand) and
 * forgotten; a branch that a cut-off rename or reset left refusing connections, with its guard
 * gone, is let in again. Never fails the command: this is housekeeping.
 */
async function healAfterCutOffProcesses(ctx: BranchContext): Promise<void> {
  forgetStaleRefusals(ctx.main, ctx.main.database);
  const healed = await healAbandonedRefusals(ctx.main).catch(() => []);
  for (const database of healed) {
    noticeOf(ctx)?.(`Database "${database}" was left refusing connections by an ayb process that was cut off; allowed connections again.`);
  }
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
 * Opens the control table once before a command takes any lock, so that what interrupted commands
 * left is finished first, this command's own record included (recovery.ts leaves alone every record
 * whose lock is held, and a command holds the lock of the record it works on).
 */
export async function finishInterruptedFirst(ctx: BranchContext): Promise<void> {
  await withControl(ctx, async () => undefined);
}
