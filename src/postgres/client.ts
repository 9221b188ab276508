// pg-load must be evaluated right before pg: see there.
import { restoreResponse } from './pg-load.js';
import pg from 'pg';
import { AybError, ExternalError, NotFoundError } from '../core/errors.js';
import { type ConnInfo, describeServer, scrubSecret } from './conninfo.js';

restoreResponse();

export type Client = pg.Client;

/** The SQLSTATEs ayb reacts to, named once. */
export const SqlState = {
  uniqueViolation: '23505',
  duplicateDatabase: '42P04',
  invalidCatalogName: '3D000',
  objectInUse: '55006',
  invalidPassword: '28P01',
  invalidAuthorization: '28000',
  adminShutdown: '57P01',
  insufficientPrivilege: '42501',
  undefinedTable: '42P01',
  queryCanceled: '57014',
} as const;

export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

export function clientConfig(info: ConnInfo): pg.ClientConfig {
  const ssl = info.params.sslmode;
  return {
    host: info.host,
    port: info.port,
    user: info.user,
    password: info.password,
    database: info.database,
    application_name: info.params.application_name ?? 'ayb',
    connectionTimeoutMillis: Number(info.params.connect_timeout ?? 10) * 1000,
    ssl: ssl && ssl !== 'disable' && ssl !== 'allow' && ssl !== 'prefer'
      ? { rejectUnauthorized: ssl === 'verify-full' || ssl === 'verify-ca' }
      : undefined,
  };
}

export async function connect(info: ConnInfo): Promise<Client> {
  const client = new pg.Client(clientConfig(info));
  // An idle client whose server goes away emits 'error'; without a listener that crashes the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw connectionError(error, info);
  }
  return client;
}

/** Runs `fn` with a connection that is always closed afterwards. */
export async function withClient<T>(info: ConnInfo, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = await connect(info);
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

/** Enriches a failed query with PostgreSQL's detail and hint, with any password scrubbed. */
export function queryError(error: unknown, info: ConnInfo): AybError {
  if (error instanceof AybError) return error;
  const code = sqlState(error);
  if (!code) {
    const sysCode = (error as { code?: string } | null)?.code;
    if (sysCode && /^E[A-Z]+$/.test(sysCode)) return connectionError(error, info);
    if (error instanceof Error && /Connection terminated/i.test(error.message)) {
      return new ExternalError('connection_lost', `lost the connection to PostgreSQL at ${describeServer(info)}: ${error.message}`, {
        hint: 'check that the server is still running, then try again',
        cause: error,
      });
    }
    return new AybError('unexpected', 1, scrubSecret(error instanceof Error ? error.message : String(error), info), { cause: error });
  }
  const pgError = error as { message: string; detail?: string; hint?: string };
  const detail = pgError.detail ? ` (${pgError.detail})` : '';
  return new ExternalError('database_error', scrubSecret(`PostgreSQL error ${code}: ${pgError.message}${detail}`, info), {
    hint: pgError.hint ?? 'see the PostgreSQL server log for more',
    cause: error,
    details: { sqlstate: code },
  });
}
