import { ConflictError } from '../core/errors.js';
import type { Client } from '../postgres/client.js';
import { sqlState, SqlState } from '../postgres/client.js';
import { quoteIdent } from '../postgres/quote.js';
import { sessionTimeouts, timeoutStatements } from '../postgres/timeouts.js';
import { refuseConnections } from '../postgres/connection-guard.js';
import type { ConnInfo } from '../postgres/conninfo.js';
import type { FileCopyMethod } from './file-copy.js';
import { closedClause, closeNewDatabase, isSuperuser } from './access.js';

export interface SourceSession {
  readonly pid: number;
  readonly application_name: string;
  readonly client_addr: string | null;
  readonly usename: string | null;
  readonly state: string | null;
}

/** The query of sessionsOn (`$1`: the database). */
export const SESSIONS_SQL = `SELECT pid, coalesce(application_name, '') AS application_name, host(client_addr) AS client_addr, usename, state
       FROM pg_stat_activity
      WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type IS DISTINCT FROM 'autovacuum worker'
      ORDER BY pid`;

/**
 * Sessions on a database other than the caller's own: each one blocks CREATE DATABASE … TEMPLATE.
 * Autovacuum workers are left out: CREATE DATABASE ends those itself.
 */
export async function sessionsOn(client: Client, database: string): Promise<SourceSession[]> {
  const { rows } = await client.query<SourceSession>(SESSIONS_SQL, [database]);
  return rows;
}

/**
 * How long a copy waits for sessions of ayb itself to leave its source before it counts them as
 * users (auto then dumps, template refuses). ayb's own sessions on a database are a command's
 * bookkeeping (a create, list or url of another ayb process, or of this one, on main's control
 * table): they last milliseconds, and one just closed stays in pg_stat_activity until its backend
 * has exited, which on a loaded machine is long enough to be seen. Counting those as users made a
 * create of an idle main fall back to a dump (seconds instead of a template copy).
 */
export const AYB_SESSIONS_WAIT_MS = 2000;

/** A session of ayb's (its connections say application_name `ayb`; pg_dump's and the guard's say more). */
function aybSession(session: SourceSession): boolean {
  return session.application_name === 'ayb';
}

/**
 * The sessions on `database` that block a template copy, once ayb's own short ones had up to
 * AYB_SESSIONS_WAIT_MS to leave: a session of anything else answers at once (the source is busy);
 * sessions of ayb only are asked again every 20 ms until none is left or the time is up.
 */
export async function sessionsBlocking(client: Client, database: string, found?: readonly SourceSession[]): Promise<SourceSession[]> {
  let sessions = found ? [...found] : await sessionsOn(client, database);
  const deadline = Date.now() + AYB_SESSIONS_WAIT_MS;
  while (sessions.length > 0 && sessions.every(aybSession) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    sessions = await sessionsOn(client, database);
  }
  return sessions;
}

export interface TemplateSourceFacts {
  readonly exists: boolean;
  /** The connected role may use it as a template: a superuser, or CREATEDB and the owner (or a template database). */
  readonly allowed: boolean;
  /** sessionsOn. */
  readonly sessions: SourceSession[];
}

/** Whether `database` exists, may be a template for this role, and who is on it: one round trip. */
export async function templateSourceFacts(client: Client, database: string): Promise<TemplateSourceFacts> {
  const { rows } = await client.query<{ exists: boolean; allowed: boolean | null; sessions: SourceSession[] }>(
    `SELECT d.oid IS NOT NULL AS exists,
            (r.rolsuper OR (r.rolcreatedb AND (d.datistemplate OR pg_has_role(d.datdba, 'USAGE')))) AS allowed,
            (SELECT coalesce(json_agg(s ORDER BY s.pid), '[]'::json) FROM (${SESSIONS_SQL}) s) AS sessions
       FROM (SELECT 1) AS one
       LEFT JOIN pg_database d ON d.datname = $1
       LEFT JOIN pg_roles r ON r.rolname = current_user`,
    [database],
  );
  const row = rows[0]!;
  return { exists: row.exists, allowed: row.exists && row.allowed === true, sessions: row.sessions };
}

function describeSessions(sessions: readonly SourceSession[]): string {
  return sessions
    .map((s) => `pid ${s.pid}${s.application_name ? ` (${s.application_name})` : ''}${s.client_addr ? ` from ${s.client_addr}` : ''}`)
    .join(', ');
}

export function busySourceError(source: string, sessions: readonly SourceSession[]): ConflictError {
  const who = describeSessions(sessions);
  return new ConflictError('source_busy', `source database "${source}" has ${sessions.length} other session(s) connected: ${who || 'unknown'}`, {
    hint: 'close those sessions, use --strategy dump (or auto), which needs no exclusive access, or (local development) pass --disconnect to end them for the copy',
    details: { sessions },
  });
}

/**
 * `CREATE DATABASE target TEMPLATE source STRATEGY FILE_COPY`: a file-level copy, far faster than a
 * dump. FILE_COPY (PostgreSQL 15+) copies files instead of WAL-logging every block; older servers
 * always copy files. With `clone` (PostgreSQL 18+) the session first sets `file_copy_method = clone`
 * so the filesystem shares the blocks copy-on-write instead of copying them.
 */
export async function templateClone(
  client: Client,
  source: string,
  target: string,
  serverMajor: number,
  method: FileCopyMethod = 'copy',
  options: { readonly lifted?: boolean } = {},
): Promise<void> {
  const strategy = serverMajor >= 15 ? ' STRATEGY FILE_COPY' : '';
  // Closed from its first moment: nobody but ayb reaches a copy until it is finished (access.ts).
  const closed = closedClause(await isSuperuser(client));
  if (method === 'clone') await client.query('SET file_copy_method = clone');
  // The copy may rightly take long; a lock it cannot get still ends it (timeouts.ts). The caller may
  // have lifted the statement limit already (in its last round trip before the copy); it comes back
  // in the round trip that closes the new database, or on its own should the copy fail.
  const restore = timeoutStatements({ statement: sessionTimeouts().statement });
  try {
    if (!options.lifted) await client.query(timeoutStatements({ statement: 0 }));
    await client.query(`CREATE DATABASE ${quoteIdent(target)} TEMPLATE ${quoteIdent(source)}${strategy}${closed}`);
  } catch (error) {
    await client.query(restore).catch(() => undefined);
    if (sqlState(error) === SqlState.objectInUse) {
      throw busySourceError(source, await sessionsOn(client, source));
    }
    throw error;
  } finally {
    if (method === 'clone') await client.query('RESET file_copy_method').catch(() => undefined);
  }
  try {
    await closeNewDatabase(client, target, restore);
  } catch (error) {
    // The round trip failed as a whole (one implicit transaction): the limit is put back on its own.
    await client.query(restore).catch(() => undefined);
    throw error;
  }
}

/**
 * `--disconnect`, for local development: refuses new connections to the source, ends its sessions,
 * runs `fn` (the copy), and always allows connections again afterwards, also when `fn` fails or is
 * cancelled (Ctrl-C cancels the statement, so this `finally` runs before the process exits). Should
 * ayb be killed in between (SIGKILL, the OOM killer), a connection guard started before the source
 * refuses anyone allows connections again once ayb's session has ended (connection-guard.ts).
 */
export async function withSourceDisconnected<T>(
  client: Client,
  main: ConnInfo,
  source: string,
  fn: () => Promise<T>,
  log?: (line: string) => void,
): Promise<T> {
  const { rows } = await client.query<{ allowed: boolean }>('SELECT datallowconn AS allowed FROM pg_database WHERE datname = $1', [source]);
  // A source that already refuses connections was made so by someone else, and is left as it is.
  const refusal = rows[0]?.allowed !== false ? await refuseConnections(client, main, source, [source], log) : undefined;
  try {
    const sessions = await sessionsOn(client, source);
    if (sessions.length > 0) {
      log?.(`Ending ${sessions.length} session(s) on "${source}" for the copy (--disconnect): ${describeSessions(sessions)}`);
      await client.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [sessions.map((s) => s.pid)]);
    }
    const left = await sessionsGone(client, source, 5000);
    if (left.length > 0) throw busySourceError(source, left);
    return await fn();
  } finally {
    await refusal?.end(source);
  }
}

/** Polls until no other session is on `database`, for at most `timeoutMs`; returns those left. */
async function sessionsGone(client: Client, database: string, timeoutMs: number): Promise<SourceSession[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = await sessionsOn(client, database);
    if (left.length === 0 || Date.now() >= deadline) return left;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
