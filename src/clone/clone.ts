import type { Transform } from 'node:stream';
import type { CloneStrategy, CopyMethod } from '../core/records.js';
import type { AybConfig } from '../config/schema.js';
import { AybError, ConflictError } from '../core/errors.js';
import { type Client, connect, queryError } from '../postgres/client.js';
import { type ConnInfo, withDatabase } from '../postgres/conninfo.js';
import { cancelOnAbort } from '../postgres/maintenance.js';
import { quoteIdent, quoteLiteral } from '../postgres/quote.js';
import { dumpAndRestore, type DumpProgress } from './dump.js';
import { decideFileCopyMethod } from './file-copy.js';
import { applyDatabaseSettings, DATABASE_SETTINGS_SQL, databaseSettingsOf, type DatabaseSettings, type DatabaseSettingsRow, readDatabaseSettings } from './settings.js';
import { type CloneSource, sourceNotFound } from './strategy.js';
import { busySourceError, sessionsBlocking, SESSIONS_SQL, type SourceSession, templateClone, withSourceDisconnected } from './template.js';
import { hasServerFacts, primeServerFacts, SERVER_FACTS_SQL, type ServerFactsRow, serverFacts } from './server-facts.js';
import { findTool } from '../postgres/tools.js';
import { applyDatabaseAccess, closedClause, databaseAccessStatements, closeNewDatabase, DATABASE_ACCESS_SQL, DATABASE_CONNLIMIT_SQL, databaseAccessOf, type DatabaseAccessRow, DEFAULT_ACCESS, type DatabaseAccess, isSuperuser, readDatabaseAccess, refuseMissingRoles, sealCopy } from './access.js';
import { sessionTimeouts, timeoutStatements } from '../postgres/timeouts.js';

export { chooseStrategy, type CloneSource } from './strategy.js';

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
  /** `--disconnect`: end the source's sessions for a template copy, and allow connections again after. */
  readonly disconnect?: boolean;
  /** `auto` chose template: if a session connects to the source before the copy starts, dump instead. */
  readonly fallbackToDump?: boolean;
  /** For a dump: rewrites pg_dump's output before psql reads it (see DumpCloneRequest.rewrite). */
  readonly rewriteDump?: () => Transform;
  /** Notes and warnings (stderr in the CLI). */
  readonly log?: (line: string) => void;
  /**
   * Called once a template copy is made and its source is free again (before the copy is finished):
   * a copy of main lets the command's control session connect again meanwhile.
   */
  readonly onCopied?: () => void;
  /**
   * A template copy that leaves tables out (a copy of main) may open the copy in the same
   * transaction, on the same session of the copy's, as the one that drops them (its source's grants
   * and connection limit, once its settings are given): one commit less. Only for a copy nothing is
   * done in afterwards (no masking) and that opens once made (not a snapshot, not a reset's).
   */
  readonly openInCopy?: boolean;
}

/** What a clone actually did, for the branch record. */
export interface CloneOutcome {
  readonly strategy: CloneStrategy;
  readonly copyMethod: CopyMethod;
  /**
   * The source's database-level grants and connection limit, for finishCopy: the target stays
   * closed to everyone but ayb until then (access.ts).
   */
  readonly access: DatabaseAccess;
  /** The copy was opened with `access` already (openInCopy): finishCopy is not to run again. */
  readonly opened?: boolean;
}

/**
 * The last step of every copy, after anything ayb still does in it (masking): a branch gets its
 * source's database grants and connection limit and opens; a snapshot (`seal`) gets them too, for
 * the branches made of it, but refuses connections, with no session left on it. Returns the
 * grants that could not be carried (a role missing here), also said through `log`.
 */
export async function finishCopy(maint: Client, target: string, access: DatabaseAccess, options: { readonly seal?: boolean; readonly log?: (line: string) => void } = {}): Promise<string[]> {
  if (options.seal) await sealCopy(maint, target);
  return applyDatabaseAccess(maint, target, access, options.log);
}

export async function serverMajor(client: Client): Promise<{ major: number; version: string }> {
  const { major, version } = await serverFacts(client);
  return { major, version };
}

/**
 * Creates `request.target` as a copy of the source with the given strategy. On failure the target
 * may exist half-made: the caller owns it and drops it (it knows whether the name is registered).
 */
export async function cloneDatabase(request: CloneRequest): Promise<CloneOutcome> {
  if (request.strategy === 'dump') return cloneWithDump(request);
  try {
    return await cloneWithTemplate(request);
  } catch (error) {
    // Someone connected to the source between auto's check and the copy: nothing was made yet.
    const busy = error instanceof ConflictError && error.code === 'source_busy';
    if (!busy || !request.fallbackToDump || request.signal?.aborted) throw error;
    request.log?.(`${error.message}; copying with the dump strategy instead`);
    return cloneWithDump(request);
  }
}

/**
 * A bare template copy of `source` into `target` (copy-on-write where the server can), for ayb's own
 * short-lived copies: no settings carried, no tables dropped, no check for sessions (the caller
 * copies a database nobody connects to).
 */
export async function copyDatabaseFiles(maint: Client, main: ConnInfo, config: AybConfig, source: string, target: string): Promise<void> {
  const { major } = await serverMajor(maint);
  const fileCopy = await decideFileCopyMethod(maint, main, config, major);
  await templateClone(maint, source, target, major, fileCopy.method);
}

async function cloneWithTemplate(request: CloneRequest): Promise<CloneOutcome> {
  const { maint, source, target, signal } = request;
  const database = source.conn.database;
  // Without --disconnect, the statement limit is lifted for the copy in the same round trip that
  // reads the source (and the server's facts, on a session's first copy); CREATE DATABASE cannot
  // share a round trip (it refuses to run in the implicit transaction of several statements), and
  // the limit comes back with the first statement after it (templateClone), or here on a failure.
  const lift = !request.disconnect;
  const { settings, access, sessions } = await readTemplateSource(maint, database, lift);
  let lifted = lift;
  try {
    const { major, user } = await serverFacts(maint);
    const fileCopy = await decideFileCopyMethod(maint, request.main, request.config, major);
    const copy = async () => {
      const stopCancel = cancelOnAbort(request.main, maint, signal);
      try {
        lifted = false; // templateClone puts the limit back, whatever happens
        await templateClone(maint, database, target, major, fileCopy.method, { lifted: lift });
      } finally {
        stopCancel();
      }
    };
    if (request.disconnect) {
      await withSourceDisconnected(maint, request.main, database, copy, request.log);
    } else {
      // ayb's own bookkeeping sessions on the source are let leave first (sessionsBlocking).
      const blocking = await sessionsBlocking(maint, database, sessions);
      if (blocking.length > 0) throw busySourceError(database, blocking);
      await copy();
    }
    request.onCopied?.();
    signal?.throwIfAborted();
    // A template copy carries every table; drop the excluded ones (a copy of main has the control
    // table), on a session of the copy's, while the maintenance session gives it its source's
    // settings. With openInCopy, the copy opens in the drop's transaction, once the settings are given.
    const owned = { ...access, owner: user };
    const fuse = request.openInCopy === true && request.excludeTables.length > 0;
    const settingsGiven = applyDatabaseSettings(maint, target, settings, request.log);
    const dropExcluded = request.excludeTables.length > 0
      ? connect(withDatabase(request.main, target)).then(async (client) => {
        try {
          // Without waiting for the WAL flush: nothing is done with the copy until its record says
          // ready, a synchronous commit that flushes this one too (a crash before it leaves the record
          // `creating`, and its copy is dropped).
          const statements = [...(fuse ? ['SET LOCAL synchronous_commit = off'] : []), withoutEventTriggers(`DROP TABLE IF EXISTS ${request.excludeTables.join(', ')}`)];
          if (fuse) {
            await settingsGiven;
            statements.push(...databaseAccessStatements(target, owned, user).statements);
          }
          // One round trip, one implicit transaction (one commit): dropped and opened, or neither.
          await client.query(statements.join(';\n'));
        } catch (error) {
          throw queryError(error, withDatabase(request.main, target));
        } finally {
          // A copy opened here is not waited on to see this session end (nothing needs it gone: a
          // DROP ends it anyway); a reset's copy (renamed next) or a snapshot (sealed) is.
          const ended = client.end().catch(() => undefined);
          if (!fuse) await ended;
        }
      })
      : Promise.resolve();
    const [dropped, applied] = await Promise.allSettled([dropExcluded, settingsGiven]);
    if (dropped.status === 'rejected') throw dropped.reason;
    if (applied.status === 'rejected') throw applied.reason;
    // The same server's grants name roles that exist (a role with a privilege on the source cannot be
    // dropped), and the copy's owner is this session's role: finishCopy need not read either.
    if (fuse) return { strategy: 'template', copyMethod: fileCopy.method === 'clone' ? 'clone' : 'file_copy', access: owned, opened: true };
    return { strategy: 'template', copyMethod: fileCopy.method === 'clone' ? 'clone' : 'file_copy', access: { ...access, owner: user } };
  } catch (error) {
    if (lifted) await maint.query(timeoutStatements({ statement: sessionTimeouts().statement })).catch(() => undefined);
    throw error;
  }
}

/**
 * What a template copy reads of its source before it starts, in one round trip: settings, grants,
 * sessions; the server's facts when this session has not read them yet; and, with `lift`, the
 * statement limit lifted for the copy.
 */
async function readTemplateSource(maint: Client, database: string, lift: boolean): Promise<{ settings: DatabaseSettings; access: DatabaseAccess; sessions: SourceSession[] }> {
  const literal = quoteLiteral(database);
  const inline = (sql: string) => sql.replaceAll('$1', literal);
  const withFacts = !hasServerFacts(maint);
  const statements = [DATABASE_SETTINGS_SQL, DATABASE_ACCESS_SQL, DATABASE_CONNLIMIT_SQL, SESSIONS_SQL].map(inline);
  if (withFacts) statements.push(SERVER_FACTS_SQL);
  if (lift) statements.push(timeoutStatements({ statement: 0 }));
  const results = (await maint.query(statements.join(';\n'))) as unknown as [
    { rows: DatabaseSettingsRow[] },
    { rows: DatabaseAccessRow[] },
    { rows: { connlimit: number }[] },
    { rows: SourceSession[] },
    { rows: ServerFactsRow[] } | undefined,
  ];
  if (withFacts) primeServerFacts(maint, results[4]!.rows[0]!);
  return {
    settings: databaseSettingsOf(results[0].rows[0]),
    access: databaseAccessOf(results[1].rows, results[2].rows[0]?.connlimit),
    sessions: results[3].rows,
  };
}

/**
 * Session settings for psql's restore into the new branch: synchronous_commit = off, so the dump's
 * few hundred commits (one per COPY and per DDL statement) don't each wait for a WAL flush. Safe
 * here: a crash while the branch is being made leaves a branch that is not ready anyway, and is made
 * again. It changes how fast the restore runs, never what it writes.
 *
 * maintenance_work_mem is left as the server has it. Raising it to 256 MB, as pg_restore's
 * documentation suggests, made the index and foreign-key phase of the 1 GB benchmark dataset slower
 * here, not faster (10.3 s against 8.0 to 10.0 s, three runs each on 2 cores): the larger budget
 * lets each CREATE INDEX start a second parallel worker, and three sorting processes on two cores
 * lose more than the in-memory sort gains.
 */
export function restoreSessionSettings(): Record<string, string> {
  return { synchronous_commit: 'off' };
}

async function cloneWithDump(request: CloneRequest): Promise<CloneOutcome> {
  const { maint, source, target } = request;
  const sourceClient = await connect(source.conn).catch((error: unknown) => {
    if (error instanceof AybError && error.code === 'database_not_found') throw sourceNotFound(source.conn.database);
    throw error;
  });
  let sourceInfo: { encoding: string; collate: string; ctype: string; size: number; major: number; version: string };
  let settings: DatabaseSettings;
  let access: DatabaseAccess;
  try {
    const { rows } = await sourceClient.query<{ encoding: string; collate: string; ctype: string; size: string }>(
      `SELECT pg_encoding_to_char(encoding) AS encoding, datcollate AS collate, datctype AS ctype, pg_database_size(oid)::text AS size
         FROM pg_database WHERE datname = current_database()`,
    );
    const version = await serverMajor(sourceClient);
    sourceInfo = { ...rows[0]!, size: Number(rows[0]!.size), ...version };
    settings = await readDatabaseSettings(sourceClient, source.conn.database);
    if (source.sameRoles && !source.sameServer) {
      await refuseMissingRoles(sourceClient, maint, await isSuperuser(maint), source.conn.database === request.main.database ? 'main at that moment' : `"${source.conn.database}"`);
    }
    // Grants name roles: they mean the same only where the roles are these (same server, or main restored to a moment).
    access = source.sameServer || source.sameRoles ? await readDatabaseAccess(sourceClient, source.conn.database) : DEFAULT_ACCESS;
  } finally {
    await sourceClient.end().catch(() => undefined);
  }
  const superuser = await isSuperuser(maint);
  const sameRoles = source.sameServer || source.sameRoles === true;
  const binDir = request.config.tools.pg_bin_dir;
  const pgDump = await findTool('pg_dump', sourceInfo.major, { binDir, serverVersion: sourceInfo.version });
  // psql speaks to servers of any version; any psql will do.
  const psql = await findTool('psql', 0, { binDir });

  const locale = source.sameServer
    ? ` LC_COLLATE ${quoteLiteral(sourceInfo.collate)} LC_CTYPE ${quoteLiteral(sourceInfo.ctype)}`
    : '';
  await maint.query(
    `CREATE DATABASE ${quoteIdent(target)} TEMPLATE template0 ENCODING ${quoteLiteral(sourceInfo.encoding)}${locale}${closedClause(superuser)}`,
  );
  await closeNewDatabase(maint, target);
  request.signal?.throwIfAborted();
  const onProgress = request.onProgress;
  await dumpAndRestore({
    source: source.conn,
    target: withDatabase(request.main, target),
    pgDump,
    psql,
    // The same roles (same server, or main restored to a moment): keep grants; owners only when
    // this role may set any owner. A copy from another server gets no grants of that server's roles.
    keepOwnership: sameRoles && superuser,
    keepPrivileges: sameRoles,
    excludeTables: request.excludeTables,
    lockWaitTimeoutMs: sessionTimeouts().lock,
    signal: request.signal,
    onProgress: onProgress ? (p) => onProgress({ ...p, totalBytes: sourceInfo.size }) : undefined,
    restoreSettings: restoreSessionSettings(),
    rewrite: request.rewriteDump,
  });
  request.signal?.throwIfAborted();
  await applyDatabaseSettings(maint, target, settings, request.log);
  return { strategy: 'dump', copyMethod: 'pg_dump', access };
}

/**
 * `sql` (ayb's own DDL in a copy it just made: the excluded tables dropped) with the copy's event
 * triggers held off, so that an audit of DDL (an sql_drop trigger, ENABLE ALWAYS as replication-aware
 * ones are) logs nothing of ayb's into the user's tables: a branch holds main's rows the moment it is
 * made. Disabled by name and enabled again in the mode each had, all in one statement (one round
 * trip, inside the caller's transaction); only a superuser may alter an event trigger, so for another
 * role they stay as they are. A PL/pgSQL block: main has the language (its control table needs it).
 */
export function withoutEventTriggers(sql: string): string {
  return `DO $ayb$ DECLARE e record; held text[] := '{}'; modes text[] := '{}'; BEGIN
  IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER) THEN
    FOR e IN SELECT t.evtname::text AS name, t.evtenabled::text AS mode FROM pg_catalog.pg_event_trigger t WHERE t.evtenabled OPERATOR(pg_catalog.<>) 'D' LOOP
      EXECUTE pg_catalog.format('ALTER EVENT TRIGGER %I DISABLE', e.name);
      held := held OPERATOR(pg_catalog.||) e.name; modes := modes OPERATOR(pg_catalog.||) e.mode;
    END LOOP;
  END IF;
  EXECUTE ${quoteLiteral(sql)};
  FOR i IN 1 .. coalesce(pg_catalog.array_length(held, 1), 0) LOOP
    EXECUTE pg_catalog.format('ALTER EVENT TRIGGER %I ENABLE %s', held[i], CASE modes[i] WHEN 'A' THEN 'ALWAYS' WHEN 'R' THEN 'REPLICA' ELSE '' END);
  END LOOP;
END $ayb$`;
}
