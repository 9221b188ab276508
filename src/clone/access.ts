import { ConflictError } from '../core/errors.js';
import type { Client } from '../postgres/client.js';
import { setAllowConnections, TERMINATE_OTHER_SESSIONS_SQL, terminateSessions } from '../postgres/maintenance.js';
import { quoteIdent, quoteLiteral } from '../postgres/quote.js';
import { serverFacts } from './server-facts.js';

/**
 * Who may reach a copy, at the database level. A new database gets PostgreSQL's default ACL
 * (CONNECT and TEMPORARY for PUBLIC), neither `CREATE DATABASE … TEMPLATE` nor pg_dump without
 * --create carries the source's, so a copy would be more open than its source. So every copy is
 *   - closed from the moment it exists: `CONNECTION LIMIT 0` in its CREATE DATABASE (when ayb is a
 *     superuser, whom the limit does not bind) and PUBLIC's privileges revoked straight after, with
 *     any session that got in before ended (closeNewDatabase);
 *   - opened once complete with exactly the source's grants and connection limit (openCopy); a
 *     snapshot (and ayb's own short-lived copies) never opens: ALLOW_CONNECTIONS false, every
 *     session ended and none left before it is called ready.
 */
export interface DatabaseAccess {
  /** One row per privilege granted on the source database; `grantee` null is PUBLIC. */
  readonly grants: readonly DatabaseGrant[];
  /** The source's CONNECTION LIMIT (-1: none). */
  readonly connectionLimit: number;
  /**
   * The copy's owner, when the grants were read on the copy's own server (a template copy): every
   * grantee is then a role there (one holding a privilege on the source cannot be dropped), and
   * applyDatabaseAccess need not read the owner and roles again.
   */
  readonly owner?: string;
}

export interface DatabaseGrant {
  readonly grantee: string | null;
  readonly privilege: string;
  readonly grantable: boolean;
}

/** PostgreSQL's default for a new database: what a copy from another server gets (its roles are not these). */
export const DEFAULT_ACCESS: DatabaseAccess = {
  grants: [
    { grantee: null, privilege: 'CONNECT', grantable: false },
    { grantee: null, privilege: 'TEMPORARY', grantable: false },
  ],
  connectionLimit: -1,
};

/** The query of readDatabaseAccess (`$1`: the database), for a caller that batches it with others. */
export const DATABASE_ACCESS_SQL = `SELECT r.rolname AS grantee, a.grantee = 0 AS public, a.privilege_type AS privilege, a.is_grantable AS grantable, d.datconnlimit AS connlimit
       FROM pg_database d
       CROSS JOIN LATERAL aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
       LEFT JOIN pg_roles r ON r.oid = a.grantee
      WHERE d.datname = $1
      ORDER BY a.grantee, a.privilege_type`;

/** The connection limit alone, for a database whose ACL grants nothing (DATABASE_ACCESS_SQL has no row then). */
export const DATABASE_CONNLIMIT_SQL = 'SELECT datconnlimit AS connlimit FROM pg_database WHERE datname = $1';

export type DatabaseAccessRow = { grantee: string | null; public: boolean; privilege: string; grantable: boolean; connlimit: number };

/** DatabaseAccess from the rows of DATABASE_ACCESS_SQL, and the limit of DATABASE_CONNLIMIT_SQL when there are none. */
export function databaseAccessOf(rows: readonly DatabaseAccessRow[], connlimit: number | undefined): DatabaseAccess {
  if (rows.length === 0) return { grants: [], connectionLimit: connlimit ?? -1 };
  return {
    // A grantee whose role was dropped meanwhile (no name, not PUBLIC) grants nothing.
    grants: rows.filter((r) => r.public || r.grantee !== null).map((r) => ({ grantee: r.public ? null : r.grantee, privilege: r.privilege, grantable: r.grantable })),
    connectionLimit: Math.max(-1, rows[0]!.connlimit),
  };
}

/** Reads the grants and connection limit of `database` (on the server `client` is connected to). */
export async function readDatabaseAccess(client: Client, database: string): Promise<DatabaseAccess> {
  const { rows } = await client.query<DatabaseAccessRow>(DATABASE_ACCESS_SQL, [database]);
  if (rows.length > 0) return databaseAccessOf(rows, undefined);
  const { rows: limit } = await client.query<{ connlimit: number }>(DATABASE_CONNLIMIT_SQL, [database]);
  return databaseAccessOf([], limit[0]?.connlimit);
}

export async function isSuperuser(client: Client): Promise<boolean> {
  return (await serverFacts(client)).superuser;
}

/**
 * The clause of CREATE DATABASE that keeps every other role out from the first moment. A superuser
 * ayb uses CONNECTION LIMIT 0 (superusers, ayb included, are not bound by it). A limit would bind a
 * non-superuser ayb too, so it creates the database refusing every connection (ALLOW_CONNECTIONS
 * false, which its owner may change), and closeNewDatabase allows them once PUBLIC has lost CONNECT.
 */
export function closedClause(superuser: boolean): string {
  return superuser ? ' CONNECTION LIMIT 0' : ' ALLOW_CONNECTIONS false';
}

/**
 * Straight after CREATE DATABASE: PUBLIC loses CONNECT/TEMPORARY (so only the owner, ayb, and
 * superusers get in) and any session that got in before that is ended; returns once none is left.
 * A database created refusing connections (closedClause, non-superuser ayb) allows them only then.
 */
export async function closeNewDatabase(client: Client, database: string, before = ''): Promise<void> {
  // One round trip: the revoke, whether it was made refusing connections, and the end of any session
  // that got in before the revoke (terminateSessions then waits for those to be gone); `before`
  // (statements without results: templateClone's statement limit put back) rides along first.
  const prefix = before ? `${before};\n` : '';
  const shift = before ? before.split(';').length : 0;
  const all = (await client.query(
    `${prefix}REVOKE ALL ON DATABASE ${quoteIdent(database)} FROM PUBLIC;
     SELECT NOT datallowconn AS refused FROM pg_database WHERE datname = ${quoteLiteral(database)};
     ${TERMINATE_OTHER_SESSIONS_SQL.replace('$1', quoteLiteral(database))}`,
  )) as unknown as { rows: { refused?: boolean }[]; rowCount: number | null }[];
  const results = all.slice(shift);
  if (results[1]?.rows[0]?.refused) await setAllowConnections(client, database, true);
  if (results[1]?.rows[0]?.refused || (results[2]?.rowCount ?? 0) > 0) await terminateSessions(client, database);
}

/** A copy nobody but ayb ever reaches again (a snapshot): refuses connections, and no session is left on it. */
export async function sealCopy(client: Client, database: string): Promise<void> {
  await setAllowConnections(client, database, false);
  await terminateSessions(client, database);
}

/**
 * Gives a finished copy its source's grants and connection limit (a snapshot keeps them, for the
 * branches made of it, but stays sealed). A grant to a role that does not exist here cannot be
 * carried: it is left out and named in a warning, never replaced by anything wider.
 */
export async function applyDatabaseAccess(client: Client, target: string, access: DatabaseAccess, warn?: (line: string) => void): Promise<string[]> {
  const { rows } = access.owner !== undefined
    ? { rows: [] }
    : await client.query<{ owner: string | null; roles: string[] }>(
      'SELECT (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1) AS owner, ARRAY(SELECT rolname::text FROM pg_roles) AS roles',
      [target],
    );
  const owner = access.owner ?? rows[0]?.owner ?? undefined;
  const roles = access.owner !== undefined ? undefined : new Set(rows[0]?.roles ?? []);
  const { statements, notCarried } = databaseAccessStatements(target, access, owner, roles);
  // One round trip, one implicit transaction: the copy opens with all of its grants or none.
  await client.query(statements.join(';\n'));
  warnNotCarried(target, notCarried, warn);
  return notCarried;
}

/**
 * The statements that give `target` its source's grants and connection limit (one implicit
 * transaction when sent together), leaving out the owner's own and those to roles not in `roles`
 * (when given); what was left out, for warnNotCarried.
 */
export function databaseAccessStatements(target: string, access: DatabaseAccess, owner: string | undefined, roles?: ReadonlySet<string>): { statements: string[]; notCarried: string[] } {
  const database = quoteIdent(target);
  const notCarried: string[] = [];
  const statements = [`REVOKE ALL ON DATABASE ${database} FROM PUBLIC`];
  for (const grant of access.grants) {
    // The owner (ayb, which made the copy) holds every privilege anyway.
    if (grant.grantee !== null && grant.grantee === owner) continue;
    if (grant.grantee !== null && roles && !roles.has(grant.grantee)) {
      notCarried.push(`${grant.privilege} for role "${grant.grantee}"`);
      continue;
    }
    const to = grant.grantee === null ? 'PUBLIC' : quoteIdent(grant.grantee);
    statements.push(`GRANT ${grant.privilege} ON DATABASE ${database} TO ${to}${grant.grantable ? ' WITH GRANT OPTION' : ''}`);
  }
  statements.push(`ALTER DATABASE ${database} CONNECTION LIMIT ${Number(access.connectionLimit)}`);
  return { statements, notCarried };
}

function warnNotCarried(target: string, notCarried: readonly string[], warn?: (line: string) => void): void {
  if (notCarried.length > 0) {
    warn?.(`warning: database "${target}" does not carry these grants of its source (no such role on this server): ${notCarried.join(', ')}`);
  }
}

/**
 * The roles a database's objects are granted to (and owned by, with `owners`), by name: what a dump
 * that keeps privileges will name in GRANT (and ALTER … OWNER TO) statements.
 */
export async function rolesNamedBy(client: Client, owners: boolean): Promise<string[]> {
  const { rows } = await client.query<{ rolname: string }>(
    `WITH o(owner, acl) AS (
       SELECT relowner, relacl FROM pg_class
       UNION ALL SELECT nspowner, nspacl FROM pg_namespace
       UNION ALL SELECT proowner, proacl FROM pg_proc
       UNION ALL SELECT typowner, typacl FROM pg_type
       UNION ALL SELECT defaclrole, defaclacl FROM pg_default_acl
       UNION ALL SELECT lomowner, lomacl FROM pg_largeobject_metadata
       UNION ALL SELECT srvowner, srvacl FROM pg_foreign_server
       UNION ALL SELECT fdwowner, fdwacl FROM pg_foreign_data_wrapper
       UNION ALL SELECT lanowner, lanacl FROM pg_language
       UNION ALL SELECT NULL::oid, attacl FROM pg_attribute WHERE attacl IS NOT NULL
     ), ids AS (
       SELECT owner AS id FROM o WHERE $1 AND owner IS NOT NULL
       UNION SELECT (aclexplode(acl)).grantee FROM o WHERE acl IS NOT NULL
       UNION SELECT (aclexplode(acl)).grantor FROM o WHERE acl IS NOT NULL
       UNION SELECT unnest(polroles) FROM pg_policy
     )
     SELECT DISTINCT r.rolname FROM ids JOIN pg_roles r ON r.oid = ids.id ORDER BY 1`,
    [owners],
  );
  return rows.map((r) => r.rolname);
}

/**
 * A copy of main restored to a moment names main's roles of that moment; one dropped since cannot
 * be granted to here. Rather than copy without grants (wider than the source) or fail halfway in
 * psql, say which roles are missing before anything is copied.
 */
export async function refuseMissingRoles(source: Client, target: Client, owners: boolean, sourceLabel: string): Promise<void> {
  const named = await rolesNamedBy(source, owners);
  const here = new Set((await target.query<{ rolname: string }>('SELECT rolname FROM pg_roles')).rows.map((r) => r.rolname));
  const missing = named.filter((role) => !here.has(role));
  if (missing.length === 0) return;
  throw new ConflictError('roles_missing', `${sourceLabel} grants privileges to role(s) that no longer exist on this server: ${missing.map((r) => `"${r}"`).join(', ')}`, {
    hint: `a copy never grants more than its source, and these grants cannot be carried; create the role(s) again (CREATE ROLE ${missing.map((r) => `"${r}"`).join(', ')}) and run the command again, then drop them with DROP OWNED BY … ; DROP ROLE …`,
    details: { roles: missing },
  });
}
