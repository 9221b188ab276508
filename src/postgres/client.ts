// pg-load must be evaluated right before pg: see there.
import { restoreResponse } from './pg-load.js';
import pg from 'pg';
import { AybError, ConflictError, ExternalError, NotFoundError } from '../core/errors.js';
import { type ConnInfo, describeServer, scrubSecret } from './conninfo.js';
import { quoteIdent } from './quote.js';
import { describeLimit, FIND_LOCK_HOLDERS_SQL, type SessionTimeouts, timeoutOptions } from './timeouts.js';
import { valueSettingsOptions } from './value-settings.js';

restoreResponse();

export type Client = pg.Client;

/** The SQLSTATEs ayb reacts to, named once. */
export const SqlState = {
  uniqueViolation: '23505',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
  undefinedObject: '42704',
  duplicateDatabase: '42P04',
  invalidCatalogName: '3D000',
  objectInUse: '55006',
  invalidPassword: '28P01',
  invalidAuthorization: '28000',
  adminShutdown: '57P01',
  insufficientPrivilege: '42501',
  undefinedTable: '42P01',
  queryCanceled: '57014',
  lockNotAvailable: '55P03',
  idleInTransactionTimeout: '25P03',
  objectNotInPrerequisiteState: '55000',
} as const;

export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * Settings every session of ayb's starts with, in its start-up packet (no round trip): the two of the
 * pinned value settings that node-pg's parsers rely on, at the values value-settings.ts pins them to.
 */
const AYB_SESSION_OPTIONS = valueSettingsOptions(['DateStyle', 'IntervalStyle']);

export function clientConfig(info: ConnInfo): pg.ClientConfig {
  const ssl = info.params.sslmode;
  return {
    host: info.host,
    port: info.port,
    user: info.user,
    password: info.password,
    database: info.database,
    application_name: info.params.application_name ?? 'ayb',
    // Server settings for the session (`-c name=value …`), as libpq's `options`; then ayb's own, last
    // so that they win: DateStyle and IntervalStyle as node-pg parses them (a database or role set
    // to `SQL, DMY` would otherwise make every date ayb reads, its own records' included, unreadable).
    options: [info.params.options, AYB_SESSION_OPTIONS].filter(Boolean).join(' '),
    connectionTimeoutMillis: Number(info.params.connect_timeout ?? 10) * 1000,
    ssl: ssl && ssl !== 'disable' && ssl !== 'allow' && ssl !== 'prefer'
      ? { rejectUnauthorized: ssl === 'verify-full' || ssl === 'verify-ca' }
      : undefined,
  };
}

/**
 * Servers (host and port) known to be older than PostgreSQL 14, which has no idle_session_timeout:
 * learnt from the one connection refused for naming it (or from the `server_version` a connection
 * reports), after which their sessions are opened without it.
 */
const noIdleTimeout = new Set<string>();

function serverKey(info: ConnInfo): string {
  return `${info.host ?? ''}:${info.port ?? ''}`;
}

/**
 * Opens a session. With `timeouts` (ayb's own bookkeeping sessions, see timeouts.ts) the session
 * has those limits from its first statement, so a stuck lock ends in an error rather than a hang:
 * they ride in the start-up packet, with idle_session_timeout = 0 (no round trip of their own). A
 * server older than 14 refuses that setting: it is then connected to again without it, once per
 * process and server.
 */
export async function connect(info: ConnInfo, timeouts?: SessionTimeouts): Promise<Client> {
  const key = serverKey(info);
  const open = async (withIdle: boolean): Promise<Client> => {
    const config = clientConfig(info);
    if (timeouts) config.options = [config.options, timeoutOptions(timeouts, withIdle)].filter(Boolean).join(' ');
    const client = new pg.Client(config);
    // An idle client whose server goes away emits 'error'; without a listener that crashes the process.
    client.on('error', () => undefined);
    const connection = (client as unknown as { connection: NodeJS.EventEmitter }).connection;
    connection.on('parameterStatus', (message: { parameterName: string; parameterValue: string }) => {
      if (message.parameterName === 'server_version' && Number.parseInt(message.parameterValue, 10) < 14) noIdleTimeout.add(key);
    });
    try {
      await client.connect();
      return client;
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
  };
  const withIdle = timeouts !== undefined && !noIdleTimeout.has(key);
  try {
    return await open(withIdle);
  } catch (error) {
    const unknownSetting = sqlState(error) === SqlState.undefinedObject && /idle_session_timeout/.test(String((error as Error).message));
    if (!withIdle || !unknownSetting) throw connectionError(error, info);
    noIdleTimeout.add(key);
    try {
      return await open(false);
    } catch (again) {
      throw connectionError(again, info);
    }
  }
}

/**
 * The values `names` take in a session of the database as its users get one: the database's and the
 * role's own settings (ALTER DATABASE/ROLE … SET), not the ones ayb pins at start-up (a user's DDL,
 * such as a migration's USING conversions, must run as it would in their own session).
 */
export async function sessionDefaults(info: ConnInfo, names: readonly string[]): Promise<Map<string, string>> {
  const client = new pg.Client({ ...clientConfig(info), options: info.params.options || undefined });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw connectionError(error, info);
  }
  try {
    const { rows } = await client.query<{ name: string; value: string }>('SELECT n AS name, current_setting(n) AS value FROM unnest($1::text[]) n', [names]);
    return new Map(rows.map((r) => [r.name, r.value]));
  } catch (error) {
    throw queryError(error, info);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Runs `fn` with a connection that is always closed afterwards. */
export async function withClient<T>(info: ConnInfo, fn: (client: Client) => Promise<T>, timeouts?: SessionTimeouts): Promise<T> {
  const client = await connect(info, timeouts);
  try {
    return await fn(client);
  } catch (error) {
    throw queryError(error, info);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function withTransaction<T>(client: Client, fn: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await fn();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** Turns a failure to connect into an error that names the server and says what to check. */
export function connectionError(error: unknown, info: ConnInfo): AybError {
  if (error instanceof AybError) return error;
  const server = describeServer(info);
  const code = sqlState(error);
  const sysCode = (error as { code?: string } | null)?.code;
  const message = scrubSecret(error instanceof Error ? error.message : String(error), info);
  if (code === SqlState.invalidPassword || code === SqlState.invalidAuthorization) {
    return new ExternalError('authentication_failed', `cannot log in to PostgreSQL at ${server} as "${info.user ?? ''}": ${message}`, {
      hint: 'check the user and password in the database URL (AYB_DATABASE_URL, --database-url or [database] url)',
      cause: error,
    });
  }
  if (/client password must be a string/i.test(message)) {
    // node-postgres's words for "the server wants a password and none was given".
    return new ExternalError('authentication_failed', `cannot log in to PostgreSQL at ${server} as "${info.user ?? ''}": the server asks for a password and none was given`, {
      hint: 'put the password in the database URL (postgres://user:password@host/db), in PGPASSWORD, or in ~/.pgpass',
      cause: error,
    });
  }
  if (code === SqlState.objectNotInPrerequisiteState && /not currently accepting connections/i.test(message)) {
    return refusingConnectionsError(info, error);
  }
  if (code === SqlState.invalidCatalogName) {
    return new NotFoundError('database_not_found', `database "${info.database}" does not exist on ${server}`, {
      hint: `create it first (createdb ${info.database}) or point the database URL at an existing database`,
      cause: error,
    });
  }
  if (sysCode === 'ECONNREFUSED' || sysCode === 'ENOTFOUND' || sysCode === 'EHOSTUNREACH' || sysCode === 'ETIMEDOUT' || /timeout/i.test(message)) {
    return new ExternalError('connection_failed', `cannot connect to PostgreSQL at ${server}: ${message}`, {
      hint: 'check that the server is running and the host and port in the database URL are right',
      cause: error,
    });
  }
  return new ExternalError('connection_failed', `cannot connect to PostgreSQL at ${server}: ${message}`, {
    hint: 'check the database URL and that the server accepts connections',
    cause: error,
  });
}

/**
 * The database exists but refuses connections (`ALTER DATABASE … ALLOW_CONNECTIONS false`, which an
 * interrupted `--disconnect` copy, rename or reset can leave behind): says exactly how to undo it.
 */
export function refusingConnectionsError(info: ConnInfo, cause?: unknown): ExternalError {
  const alter = `ALTER DATABASE ${quoteIdent(info.database)} WITH ALLOW_CONNECTIONS true`;
  return new ExternalError('connections_refused', `database "${info.database}" on ${describeServer(info)} refuses connections (ALLOW_CONNECTIONS is false)`, {
    hint: `if nobody meant it to (an ayb --disconnect copy, rename or reset that was cut off can leave it so), allow them again from another database as its owner or a superuser: psql -d postgres -c '${alter.replace(/'/g, "'\\''")}'`,
    cause,
    details: { database: info.database, sql: alter },
  });
}

/** Enriches a failed query with PostgreSQL's detail and hint, with any password scrubbed. */
export function queryError(error: unknown, info: ConnInfo): AybError {
  if (error instanceof AybError) return error;
  const code = sqlState(error);
  if (!code) {
    const sysCode = (error as { code?: string } | null)?.code;
    if (sysCode && /^E[A-Z]+$/.test(sysCode)) return connectionError(error, info);
    // node-pg's words for a session the server ended while it sat between queries (its FATAL came as an
    // 'error' event, and the next query finds the client closed): a lost session, not an unknown failure
    // (exit 1 is what --exit-code means by "rows differ").
    if (error instanceof Error && /Connection terminated|not queryable/i.test(error.message)) {
      return new ExternalError('connection_lost', `lost the connection to PostgreSQL at ${describeServer(info)}: ${error.message}`, {
        hint: 'check that the server is still running, then try again',
        cause: error,
      });
    }
    return new AybError('unexpected', 1, scrubSecret(error instanceof Error ? error.message : String(error), info), { cause: error });
  }
  const pgError = error as { message: string; detail?: string; hint?: string };
  const limited = timeoutError(code, pgError.message, info, error);
  if (limited) return limited;
  // The server ended the session (pg_terminate_backend, a shutdown, idle_session_timeout): named, exit 5.
  if (code === SqlState.adminShutdown || code === '57P02' || code === '57P05') {
    return new ExternalError('connection_lost', `the server ended ayb's session on ${describeServer(info)}, database "${info.database}" (${pgError.message})`, {
      hint: 'check the server log for who ended it (pg_terminate_backend, a restart, idle_session_timeout), then run the command again',
      cause: error,
      details: { sqlstate: code },
    });
  }
  const detail = pgError.detail ? ` (${pgError.detail})` : '';
  return new ExternalError('database_error', scrubSecret(`PostgreSQL error ${code}: ${pgError.message}${detail}`, info), {
    hint: pgError.hint ?? 'see the PostgreSQL server log for more',
    cause: error,
    details: { sqlstate: code },
  });
}

/**
 * A limit of timeouts.ts reached: a lock someone else holds (a conflict, exit 4), a statement that
 * ran too long or a transaction left idle (exit 5). Says which limit and how to find the holder.
 */
function timeoutError(code: string, message: string, info: ConnInfo, cause: unknown): AybError | undefined {
  const server = describeServer(info);
  if (code === SqlState.lockNotAvailable) {
    return new ConflictError('lock_timeout', `gave up waiting for a lock on ${server}, database "${info.database}": another session holds it (${message})`, {
      hint: `find the session holding it (${FIND_LOCK_HOLDERS_SQL}), end its transaction, then run the command again; the wait is ${describeLimit('lock')}`,
      cause,
      details: { sqlstate: code },
    });
  }
  if (code === SqlState.queryCanceled && /statement timeout/i.test(message)) {
    return new ExternalError('statement_timeout', `a statement on ${server}, database "${info.database}", ran longer than its statement_timeout (${message})`, {
      hint: `check the server's load and pg_stat_activity, then run the command again; ayb's own bookkeeping limit is ${describeLimit('statement')}, and a statement_timeout set on the database or role (SHOW statement_timeout) applies to the rest`,
      cause,
      details: { sqlstate: code },
    });
  }
  if (code === SqlState.idleInTransactionTimeout) {
    return new ExternalError('idle_in_transaction_timeout', `the server ended ayb's session on ${server}: it stayed idle in a transaction too long (${message})`, {
      hint: `run the command again; the limit is ${describeLimit('idleInTransaction')}`,
      cause,
      details: { sqlstate: code },
    });
  }
  return undefined;
}
