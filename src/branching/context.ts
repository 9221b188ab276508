import type { AybConfig } from '../config/schema.js';
import { configuredDatabase, type DatabaseSource, type LoadedConfig, managedClusterOptions } from '../config/resolve.js';
import { type Client, withClient } from '../postgres/client.js';
import { type ConnInfo, formatConnInfo, withDatabase } from '../postgres/conninfo.js';
import { ensureManagedCluster, stopManagedCluster } from '../postgres/managed.js';
import { ensureHistory, ensureNoArchiving } from '../history/archive.js';
import { historySettings, type HistorySettings } from '../history/store.js';
import { ensureControlTable } from './control-table.js';

/** Everything the domain needs: the main database and the validated config. No CLI types here. */
export interface BranchContext {
  readonly main: ConnInfo;
  readonly config: AybConfig;
  /** Log lines (stderr in the CLI). */
  readonly log?: (line: string) => void;
}

export interface OpenedContext extends BranchContext {
  /** Where the main database came from: a flag, the environment, the config file, or the managed PostgreSQL. */
  readonly source: DatabaseSource;
  /** `[history]` of the managed PostgreSQL, when it is the main database and history is enabled. */
  readonly history?: HistorySettings;
}

/**
 * The context every command and the server work in: the configured main database, or else the
 * managed PostgreSQL, initialised and started on first use (it keeps running until `ayb stop`).
 */
export async function openContext(loaded: LoadedConfig, log?: (line: string) => void): Promise<OpenedContext> {
  const configured = configuredDatabase(loaded);
  if (configured) return { main: configured.conn, config: loaded.config, log, source: configured.source };
  const cluster = await ensureManagedCluster({ ...managedClusterOptions(loaded), log });
  if (!loaded.config.history.enabled) {
    await ensureNoArchiving(managedClusterOptions(loaded), cluster.conn, log);
    return { main: cluster.conn, config: loaded.config, log, source: 'managed' };
  }
  const history = historySettings(loaded);
  await ensureHistory(history, cluster.conn, log);
  return { main: cluster.conn, config: loaded.config, log, source: 'managed', history };
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

/** Runs `fn` on a session on main, with the control table in place. */
export async function withControl<T>(ctx: BranchContext, fn: (client: Client) => Promise<T>): Promise<T> {
  return withClient(ctx.main, async (client) => {
    await ensureControlTable(client);
    return fn(client);
  });
}
