import type { CloneSource } from '../clone/clone.js';
import type { StrategyChoice } from '../config/schema.js';
import { AybError, ConflictError, ExternalError, NotFoundError, UsageError } from '../core/errors.js';
import { type Client, connect, connectionError, queryError, sqlState, SqlState } from '../postgres/client.js';
import { sourceNotFound } from '../clone/strategy.js';
import { type ConnInfo, withDatabase } from '../postgres/conninfo.js';
import type { SourceRef } from '../copy/source-ref.js';
import type { PointInTime } from '../history/point-in-time.js';
import type { BranchContext } from './context.js';
import { findRow } from './control-table.js';
import { validateBranchName } from './names.js';

/** Where a branch is cloned from, resolved. */
export interface ResolvedSource extends CloneSource {
  /** Recorded in the control table: a database name, or a URL without its password. */
  readonly label: string;
  /** The branch or snapshot copied, when the source is one. */
  readonly parent: string | null;
  /** The snapshot copied, when the source is one: nobody ever connects to it, so it is always a template copy. */
  readonly snapshot: string | null;
  /** The source is a masked branch or snapshot: a copy of it is masked already. */
  readonly masked: boolean;
  /** `main@<time>`: `conn` is main's, and the copy reads a temporary cluster restored to that moment instead. */
  readonly pointInTime?: PointInTime;
}

/**
 * The source a copy reads, looked up: main, a ready branch or snapshot, a URL logged in with its own
 * credentials. `main@<time>` is described only (`pointInTime`): its cluster is made by the copy, once
 * the name is reserved (see copyDatabase).
 */
export async function resolveSource(ctx: BranchContext, client: Client, ref: SourceRef): Promise<ResolvedSource> {
  switch (ref.kind) {
    case 'main':
      return { conn: ctx.main, label: ctx.main.database, sameServer: true, parent: null, snapshot: null, masked: false };
    case 'url': {
      const { conn, sameServer } = await urlSource(ctx, client, ref.conn);
      return { conn, label: ref.label, sameServer, parent: null, snapshot: null, masked: false };
    }
    case 'point-in-time':
      // Main's roles, so grants and owners are carried (it is not "another server").
      return { conn: ctx.main, label: ref.at.label, sameServer: false, sameRoles: true, parent: null, snapshot: null, masked: false, pointInTime: ref.at };
    case 'record':
      return recordSource(ctx, client, ref.name);
  }
}

/** A ready branch or snapshot, by name. */
async function recordSource(ctx: BranchContext, client: Client, from: string): Promise<ResolvedSource> {
  validateBranchName(from);
  const row = await findRow(client, from);
  if (!row) {
    throw new NotFoundError('source_not_found', `source branch "${from}" does not exist`, {
      hint: 'use main, an existing branch (ayb branch list), a snapshot (ayb snapshot list), or a postgres:// URL',
    });
  }
  if (row.status !== 'ready') {
    throw new ConflictError('source_not_ready', `source ${row.kind} "${from}" is not ready (status: ${row.status})`, {
      hint: `pick a ready one; check it with: ayb ${row.kind} show ${from}`,
    });
  }
  return {
    conn: withDatabase(ctx.main, row.branch_database),
    label: row.branch_database,
    sameServer: true,
    parent: row.name,
    snapshot: row.kind === 'snapshot' ? row.name : null,
    masked: row.masked,
  };
}

/** A snapshot is only ever copied by template: a dump would have to connect to it. */
export function strategyFor(source: ResolvedSource, requested: StrategyChoice): StrategyChoice {
  if (source.snapshot === null) return requested;
  if (requested === 'dump') {
    throw new UsageError(`snapshot "${source.snapshot}" is copied with the template strategy only (nobody connects to a snapshot)`, {
      hint: 'drop --strategy dump; a copy from a snapshot never needs it, since nobody is ever connected to one',
    });
  }
  return 'template';
}

/**
 * A source given as a URL (`--from`, or the one a branch records for its reset), checked with its
 * own credentials (checkSourceAccess). A URL without a password for main's own role on main's
 * server gets main's password (it is the same login); any other role's password comes from the
 * URL, PGPASSWORD or ~/.pgpass.
 */
export async function urlSource(ctx: BranchContext, client: Client, given: ConnInfo): Promise<{ readonly conn: ConnInfo; readonly sameServer: boolean }> {
  const sameServer = given.host === ctx.main.host && given.port === ctx.main.port;
  const sameRole = sameServer && (given.user ?? ctx.main.user) === ctx.main.user;
  const conn = sameRole && !given.password && ctx.main.password ? { ...given, password: ctx.main.password } : given;
  await checkSourceAccess(client, conn, sameServer);
  return { conn, sameServer };
}

/**
 * A source given as a URL is read with the URL's credentials, whatever the strategy: a dump runs as
 * that role, but a template copy runs as main's role, which may read far more. So ayb logs in with
 * them (password, CONNECT), and when that role is not main's, refuses a copy of a database it
 * cannot read in full (a table or sequence without SELECT, a schema without USAGE, rows hidden by
 * row-level security): the copy would hand it what it may not see. Errors name --from, not the
 * main database URL.
 */
async function checkSourceAccess(mainClient: Client, source: ConnInfo, sameServer: boolean): Promise<void> {
  let client: Client;
  try {
    client = await connect(source);
  } catch (error) {
    throw sourceConnectionError(error, source);
  }
  try {
    if (!sameServer) return; // Logged in; a dump from another server reads as this role anyway.
    const { rows } = await client.query<{ role: string }>('SELECT current_user AS role');
    const role = rows[0]!.role;
    const { rows: mainRows } = await mainClient.query<{ role: string }>('SELECT current_user AS role');
    if (mainRows[0]!.role === role) return;
    const { rows: hidden } = await client.query<{ name: string }>(UNREADABLE_SQL);
    if (hidden.length > 0) {
      const names = hidden.slice(0, 5).map((r) => r.name).join(', ');
      throw new ExternalError('source_not_readable', `role "${role}" of the --from URL cannot read all of database "${source.database}" (${names}${hidden.length > 5 ? ', …' : ''})`, {
        hint: `a copy carries every table; grant "${role}" SELECT on them (and USAGE on their schemas, BYPASSRLS for tables with row-level security), or give --from a role that can read them`,
        details: { role, unreadable: hidden.map((r) => r.name) },
      });
    }
  } catch (error) {
    throw queryError(error, source);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Tables, views' materialisations and sequences the session's role cannot read in full. */
const UNREADABLE_SQL = `
  SELECT format('%I.%I', n.nspname, c.relname) AS name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'm', 'S')
     AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
     AND NOT (
       has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT')
       AND (NOT c.relrowsecurity
            OR (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user)
            OR (pg_has_role(c.relowner, 'USAGE') AND NOT c.relforcerowsecurity))
     )
   ORDER BY 1
   LIMIT 50`;

/** A failed login or connection to a --from URL says so, and points at --from. */
function sourceConnectionError(error: unknown, source: ConnInfo): AybError {
  const failure = connectionError(error, source);
  if (failure.code === 'database_not_found') return sourceNotFound(source.database);
  const hint = failure.code === 'authentication_failed'
    ? 'check the user and password in the --from URL (a password can also come from PGPASSWORD or ~/.pgpass)'
    : sqlState(failure.cause) === SqlState.insufficientPrivilege
      ? `the --from role needs CONNECT on database "${source.database}" (GRANT CONNECT ON DATABASE …), or give --from a role that has it`
      : 'check the host, port and database in the --from URL and that the server accepts connections';
  return new AybError(failure.code, failure.exitCode, `source (--from): ${failure.message}`, { hint, cause: error, details: failure.details });
}

/**
 * A source read in place (`ayb mask check`, `ayb mask init`): never a snapshot (nobody connects to
 * one) nor a past moment (there is no database to read until one is restored).
 */
export async function resolveReadableSource(ctx: BranchContext, client: Client, ref: SourceRef, instead: string): Promise<ResolvedSource> {
  if (ref.kind === 'point-in-time') {
    throw new UsageError(`"${ref.at.label}" is a past moment of main, which is read only through a copy`, {
      hint: `make a branch of it first (ayb branch create <name> --from ${ref.at.label}) and ${instead}`,
    }, 'invalid_point_in_time');
  }
  const source = await resolveSource(ctx, client, ref);
  if (source.snapshot !== null) {
    throw new ConflictError('snapshot_refuses_connections', `"${source.snapshot}" is a snapshot, and nobody connects to a snapshot`, {
      hint: `${instead}: the database it was taken of, or a branch made from it`,
    });
  }
  return source;
}
