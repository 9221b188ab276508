import type { CloneStrategy } from '../branching/control-table.js';
import type { AybConfig, StrategyChoice } from '../config/schema.js';
import { AybError, ExternalError, NotFoundError, UsageError } from '../output/errors.js';
import { type Client, connect, withClient } from '../postgres/client.js';
import { type ConnInfo, withDatabase } from '../postgres/conninfo.js';
import { cancelOnAbort, databaseExists } from '../postgres/maintenance.js';
import { quoteIdent, quoteLiteral } from '../postgres/quote.js';
import { dumpAndRestore, type DumpProgress } from './dump.js';
import { busySourceError, canUseAsTemplate, sessionsOn, templateClone } from './template.js';
import { findTool } from './tools.js';

/** Where the bytes come from. */
export interface CloneSource {
  readonly conn: ConnInfo;
  /** On the target's server, so the template strategy is possible. */
  readonly sameServer: boolean;
}

export type CloneProgress = DumpProgress & { totalBytes?: number };

/**
 * One copy of a database into a new database on the main database's server. Used by create (the
 * branch database) and reset (a temporary database swapped in afterwards).
 */
export interface CloneRequest {
  /** The main database: the server the target is made on, and the credentials to use there. */
  readonly main: ConnInfo;
  readonly config: AybConfig;
  /** A connection to the maintenance database (never to the source: a template copy needs it idle). */
  readonly maint: Client;
  readonly source: CloneSource;
  /** Name of the database to create; it must not exist. */
  readonly target: string;
  readonly strategy: CloneStrategy;
  /** schema.table patterns left out of the copy (the control table). */
  readonly excludeTables: readonly string[];
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: CloneProgress) => void;
}

export async function serverMajor(client: Client): Promise<{ major: number; version: string }> {
  const { rows } = await client.query<{ num: string; version: string }>(
    "SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS version",
  );
  return { major: Math.floor(Number(rows[0]!.num) / 10000), version: rows[0]!.version.split(' ')[0]! };
}

/**
 * Picks the strategy: `template` when the source is on this server, nobody else is connected to it,
 * and this role may use it as a template; `dump` otherwise. Never disconnects anyone.
 */
export async function chooseStrategy(maint: Client, source: CloneSource, requested: StrategyChoice): Promise<CloneStrategy> {
  if (requested === 'dump') return 'dump';
  if (!source.sameServer) {
    if (requested === 'template') {
      throw new UsageError('--strategy template needs a source on the same server as the main database', {
        hint: 'use --strategy dump (or auto) to clone from another server',
      });
    }
    return 'dump';
  }
  if (!(await databaseExists(maint, source.conn.database))) {
    throw sourceNotFound(source.conn.database);
  }
  const allowed = await canUseAsTemplate(maint, source.conn.database);
  if (requested === 'template') {
    if (!allowed) {
      throw new ExternalError('template_not_permitted', `this role may not use "${source.conn.database}" as a template`, {
        hint: 'the role needs CREATEDB and must own the source (or be superuser); use --strategy dump instead',
      });
    }
    return 'template';
  }
  if (!allowed) return 'dump';
  const sessions = await sessionsOn(maint, source.conn.database);
  return sessions.length === 0 ? 'template' : 'dump';
}

function sourceNotFound(database: string): NotFoundError {
  return new NotFoundError('source_not_found', `source database "${database}" does not exist`, {
    hint: 'check the --from value',
  });
}

/**
 * Creates `request.target` as a copy of the source with the given strategy. On failure the target
 * may exist half-made: the caller owns it and drops it (it knows whether the name is registered).
 */
export async function cloneDatabase(request: CloneRequest): Promise<void> {
  if (request.strategy === 'template') await cloneWithTemplate(request);
  else await cloneWithDump(request);
}

async function cloneWithTemplate(request: CloneRequest): Promise<void> {
  const { maint, source, target, signal } = request;
  const { major } = await serverMajor(maint);
  const sessions = await sessionsOn(maint, source.conn.database);
  if (sessions.length > 0) throw busySourceError(source.conn.database, sessions);
  const stopCancel = cancelOnAbort(request.main, maint, signal);
  try {
    await templateClone(maint, source.conn.database, target, major);
  } finally {
    stopCancel();
  }
  signal?.throwIfAborted();
  // A template copy carries every table; drop the excluded ones (a copy of main has the control table).
  if (request.excludeTables.length > 0) {
    await withClient(withDatabase(request.main, target), (client) =>
      client.query(`DROP TABLE IF EXISTS ${request.excludeTables.join(', ')}`),
    );
  }
}

async function cloneWithDump(request: CloneRequest): Promise<void> {
  const { maint, source, target } = request;
  const sourceClient = await connect(source.conn).catch((error: unknown) => {
    if (error instanceof AybError && error.code === 'database_not_found') throw sourceNotFound(source.conn.database);
    throw error;
  });
  let sourceInfo: { encoding: string; collate: string; ctype: string; size: number; major: number; version: string };
  try {
    const { rows } = await sourceClient.query<{ encoding: string; collate: string; ctype: string; size: string }>(
      `SELECT pg_encoding_to_char(encoding) AS encoding, datcollate AS collate, datctype AS ctype, pg_database_size(oid)::text AS size
         FROM pg_database WHERE datname = current_database()`,
    );
    const version = await serverMajor(sourceClient);
    sourceInfo = { ...rows[0]!, size: Number(rows[0]!.size), ...version };
  } finally {
    await sourceClient.end().catch(() => undefined);
  }
  const { rows: roleRows } = await maint.query<{ superuser: boolean }>('SELECT rolsuper AS superuser FROM pg_roles WHERE rolname = current_user');
  const superuser = roleRows[0]?.superuser === true;
  const binDir = request.config.tools.pg_bin_dir;
  const pgDump = await findTool('pg_dump', sourceInfo.major, { binDir, serverVersion: sourceInfo.version });
  // psql speaks to servers of any version; any psql will do.
  const psql = await findTool('psql', 0, { binDir });

  const locale = source.sameServer
    ? ` LC_COLLATE ${quoteLiteral(sourceInfo.collate)} LC_CTYPE ${quoteLiteral(sourceInfo.ctype)}`
    : '';
  await maint.query(
    `CREATE DATABASE ${quoteIdent(target)} TEMPLATE template0 ENCODING ${quoteLiteral(sourceInfo.encoding)}${locale}`,
  );
  request.signal?.throwIfAborted();
  const onProgress = request.onProgress;
  await dumpAndRestore({
    source: source.conn,
    target: withDatabase(request.main, target),
    pgDump,
    psql,
    // Same server: the roles exist, so keep grants; owners only when this role may set any owner.
    keepOwnership: source.sameServer && superuser,
    keepPrivileges: source.sameServer,
    excludeTables: request.excludeTables,
    signal: request.signal,
    onProgress: onProgress ? (p) => onProgress({ ...p, totalBytes: sourceInfo.size }) : undefined,
  });
}
