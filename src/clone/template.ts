import { ConflictError } from '../output/errors.js';
import type { Client } from '../postgres/client.js';
import { sqlState, SqlState } from '../postgres/client.js';
import { quoteIdent } from '../postgres/quote.js';

export interface SourceSession {
  readonly pid: number;
  readonly application_name: string;
  readonly client_addr: string | null;
  readonly usename: string | null;
  readonly state: string | null;
}

/** Sessions on a database other than the caller's own: each one blocks CREATE DATABASE … TEMPLATE. */
export async function sessionsOn(client: Client, database: string): Promise<SourceSession[]> {
  const { rows } = await client.query<SourceSession>(
    `SELECT pid, coalesce(application_name, '') AS application_name, host(client_addr) AS client_addr, usename, state
       FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() ORDER BY pid`,
    [database],
  );
  return rows;
}

/** Whether the connected role may use `database` as a template (superuser, owner, or datistemplate) and create databases. */
export async function canUseAsTemplate(client: Client, database: string): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>(
    `SELECT (r.rolsuper OR (r.rolcreatedb AND (d.datistemplate OR pg_has_role(d.datdba, 'USAGE')))) AS ok
       FROM pg_database d, pg_roles r WHERE d.datname = $1 AND r.rolname = current_user`,
    [database],
  );
  return rows[0]?.ok === true;
}

export function busySourceError(source: string, sessions: readonly SourceSession[]): ConflictError {
  const who = sessions
    .map((s) => `pid ${s.pid}${s.application_name ? ` (${s.application_name})` : ''}${s.client_addr ? ` from ${s.client_addr}` : ''}`)
    .join(', ');
  return new ConflictError('source_busy', `source database "${source}" has ${sessions.length} other session(s) connected: ${who || 'unknown'}`, {
    hint: 'close those sessions, use --strategy dump (or auto) which needs no exclusive access, or pass --disconnect to end them for the clone',
    details: { sessions },
  });
}

/**
 * `CREATE DATABASE target TEMPLATE source STRATEGY FILE_COPY`: a file-level copy, far faster than a
 * dump. FILE_COPY (PostgreSQL 15+) copies files instead of WAL-logging every block.
 */
export async function templateClone(client: Client, source: string, target: string, serverMajor: number): Promise<void> {
  const strategy = serverMajor >= 15 ? ' STRATEGY FILE_COPY' : '';
  try {
    await client.query(`CREATE DATABASE ${quoteIdent(target)} TEMPLATE ${quoteIdent(source)}${strategy}`);
  } catch (error) {
    if (sqlState(error) === SqlState.objectInUse) {
      throw busySourceError(source, await sessionsOn(client, source));
    }
    throw error;
  }
}
