import { type BranchRow, type BranchStatus, type RecordKind, type CloneStrategy, CONTROL_TABLE_SQL, type CopyMethod } from '../core/records.js';
import { type Client, withTransaction } from '../postgres/client.js';
import type { ConnInfo } from '../postgres/conninfo.js';
import { quoteLiteral } from '../postgres/quote.js';
import { BRANCH_DATABASE_PREFIX, MAX_NAME_LENGTH, NAME_PATTERN, RESERVED_NAMES, SNAPSHOT_DATABASE_PREFIX } from './names.js';

/** The name rules of names.ts, as the table's CHECK: one definition, so the two never disagree. */
const NAME_CHECK = [
  `name ~ ${quoteLiteral(NAME_PATTERN.source)}`,
  `length(name) <= ${MAX_NAME_LENGTH}`,
  `name NOT IN (${RESERVED_NAMES.map(quoteLiteral).join(', ')})`,
].join(' AND ');

/** A branch's database is ayb_branch_<name>, a snapshot's ayb_snap_<name> (hyphens as underscores). */
const DATABASE_CHECK = `branch_database = CASE kind WHEN 'snapshot' THEN ${quoteLiteral(SNAPSHOT_DATABASE_PREFIX)} ELSE ${quoteLiteral(BRANCH_DATABASE_PREFIX)} END || replace(name, '-', '_')`;

/** Every status of records.ts; a new one needs the upgrade below to replace the CHECK of older tables. */
const STATUSES = ['creating', 'ready', 'failed', 'deleting'] as const satisfies readonly BranchStatus[];
const STATUS_CHECK = `status IN (${STATUSES.map(quoteLiteral).join(', ')})`;

const CREATE_SQL = `
CREATE TABLE IF NOT EXISTS ${CONTROL_TABLE_SQL} (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL UNIQUE
    CHECK (${NAME_CHECK}),
  source_database text NOT NULL,
  branch_database text NOT NULL UNIQUE,
  status text NOT NULL,
  strategy text CHECK (strategy IN ('template', 'dump')),
  parent text,
  expires_at timestamptz,
  error_message text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  creator_pid integer,
  creator_host text,
  copy_method text,
  kind text NOT NULL DEFAULT 'branch' CHECK (kind IN ('branch', 'snapshot')),
  snapshot text,
  masked boolean NOT NULL DEFAULT false,
  masking jsonb,
  temp_databases text[] NOT NULL DEFAULT '{}',
  CONSTRAINT _ayb_branches_database_name CHECK (${DATABASE_CHECK}),
  CONSTRAINT _ayb_branches_status CHECK (${STATUS_CHECK})
);
`;

/** Columns added after the first release, for control tables made by an older ayb. */
const UPGRADE_SQL = `
ALTER TABLE ${CONTROL_TABLE_SQL}
  ADD COLUMN IF NOT EXISTS strategy text,
  ADD COLUMN IF NOT EXISTS parent text,
  ADD COLUMN IF NOT EXISTS expires_at timestamptz,
  ADD COLUMN IF NOT EXISTS creator_pid integer,
  ADD COLUMN IF NOT EXISTS creator_host text,
  ADD COLUMN IF NOT EXISTS copy_method text,
  ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'branch' CHECK (kind IN ('branch', 'snapshot')),
  ADD COLUMN IF NOT EXISTS snapshot text,
  ADD COLUMN IF NOT EXISTS masked boolean NOT NULL DEFAULT false,
  ADD COLUMN IF NOT EXISTS masking jsonb,
  ADD COLUMN IF NOT EXISTS temp_databases text[] NOT NULL DEFAULT '{}';
`;

/**
 * Tables made before `deleting` have an unnamed CHECK of the three first statuses (or, made since,
 * the named one): it is replaced by the named one listing every status, so an ayb that knows fewer
 * statuses never blocks one that knows more. A no-op when the named one is current.
 */
const UPGRADE_STATUS_CHECK_SQL = `
DO $$
DECLARE old text;
BEGIN
  IF EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = '${CONTROL_TABLE_SQL}'::regclass AND conname = '_ayb_branches_status'
               AND pg_get_constraintdef(oid) LIKE '%''deleting''%') THEN
    RETURN;
  END IF;
  FOR old IN SELECT conname FROM pg_constraint
              WHERE conrelid = '${CONTROL_TABLE_SQL}'::regclass AND contype = 'c'
                AND pg_get_constraintdef(oid) LIKE '%status%''creating''%'
  LOOP
    EXECUTE format('ALTER TABLE ${CONTROL_TABLE_SQL} DROP CONSTRAINT %I', old);
  END LOOP;
  ALTER TABLE ${CONTROL_TABLE_SQL} ADD CONSTRAINT _ayb_branches_status CHECK (${STATUS_CHECK});
END $$;
`;

/**
 * Before snapshots, the database name's CHECK allowed only ayb_branch_<name>. It is replaced by the
 * named one that knows both prefixes (the old one was unnamed: found by its definition).
 */
const UPGRADE_DATABASE_CHECK_SQL = `
DO $$
DECLARE old text;
BEGIN
  IF EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = '${CONTROL_TABLE_SQL}'::regclass AND conname = '_ayb_branches_database_name') THEN
    RETURN;
  END IF;
  FOR old IN SELECT conname FROM pg_constraint
              WHERE conrelid = '${CONTROL_TABLE_SQL}'::regclass AND contype = 'c'
                AND pg_get_constraintdef(oid) LIKE '%branch_database%ayb_branch_%'
  LOOP
    EXECUTE format('ALTER TABLE ${CONTROL_TABLE_SQL} DROP CONSTRAINT %I', old);
  END LOOP;
  ALTER TABLE ${CONTROL_TABLE_SQL} ADD CONSTRAINT _ayb_branches_database_name CHECK (${DATABASE_CHECK});
END $$;
`;

/**
 * The control table's schema version, kept in its comment (`ayb control table, schema version N`):
 * read with the table's existence in one query, and stored on the table itself, so that no other
 * object of ayb's sits in main (and in every copy of it). A table without a version predates
 * versioning: the first migration brings any such table to version 1.
 *
 * A new version appends a migration below (never edits one): `up` runs in one transaction with
 * the others still due, in order, under an advisory lock, then the comment is set. A table of a
 * newer ayb (a higher version) is used as it is: migrations only add, so an older ayb keeps working.
 */
export const CONTROL_TABLE_VERSION = 2;

interface Migration {
  readonly version: number;
  readonly what: string;
  readonly up: readonly string[];
}

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    what: 'the table as of versioning: made, or a table of an older ayb given the columns and named CHECKs it lacks',
    up: [CREATE_SQL, UPGRADE_SQL, UPGRADE_DATABASE_CHECK_SQL, UPGRADE_STATUS_CHECK_SQL],
  },
  {
    version: 2,
    what: 'what a masked copy verified (masking jsonb)',
    up: [`ALTER TABLE ${CONTROL_TABLE_SQL} ADD COLUMN IF NOT EXISTS masking jsonb`],
  },
];

const VERSION_PREFIX = 'ayb control table, schema version ';

function versionComment(version: number): string {
  return `${VERSION_PREFIX}${version}. Branches and snapshots made by ayb (one row per database). Managed by ayb; do not edit by hand.`;
}

/** The version a table comment states; 0 for a table made before versioning (or a comment edited by hand). */
export function versionOf(comment: string | null): number {
  if (comment === null || !comment.startsWith(VERSION_PREFIX)) return 0;
  const version = Number.parseInt(comment.slice(VERSION_PREFIX.length), 10);
  return Number.isInteger(version) && version > 0 ? version : 0;
}

/** The servers (main databases) whose control table this process found current: not asked again. */
const current = new Set<string>();

function tableKey(main: ConnInfo): string {
  return `${main.host}:${main.port}/${main.database}`;
}

/** The table went away under this process (dropped by hand): the next command makes it again. */
export function forgetControlTable(main: ConnInfo): void {
  current.delete(tableKey(main));
}

/**
 * Makes sure the control table exists at CONTROL_TABLE_VERSION or later: one query when it does
 * (none when this process found it so before), else the migrations due, in order, in one transaction.
 * Concurrent callers serialise on an advisory lock, and the version is read again under it.
 */
export async function ensureControlTable(client: Client, main?: ConnInfo): Promise<void> {
  const key = main ? tableKey(main) : undefined;
  if (key && current.has(key)) return;
  if ((await installedVersion(client)) < CONTROL_TABLE_VERSION) {
    await withTransaction(client, async () => {
      await client.query("SELECT pg_advisory_xact_lock(hashtext('ayb:control-table'))");
      const installed = await installedVersion(client);
      const due = MIGRATIONS.filter((m) => m.version > installed);
      if (due.length === 0) return;
      for (const migration of due) for (const sql of migration.up) await client.query(sql);
      await client.query(`COMMENT ON TABLE ${CONTROL_TABLE_SQL} IS ${quoteLiteral(versionComment(due.at(-1)!.version))}`);
    });
  }
  if (key) current.add(key);
}

/** The table's schema version: -1 when there is no table, 0 when it predates versioning. */
async function installedVersion(client: Client): Promise<number> {
  const { rows } = await client.query<{ exists: boolean; comment: string | null }>(
    "SELECT to_regclass($1) IS NOT NULL AS exists, obj_description(to_regclass($1), 'pg_class') AS comment",
    [CONTROL_TABLE_SQL],
  );
  return rows[0]?.exists ? versionOf(rows[0].comment) : -1;
}

const COLUMNS = 'id, name, kind, source_database, branch_database, status, strategy, parent, snapshot, expires_at, error_message, created_at, updated_at, creator_pid, creator_host, copy_method, masked, masking, temp_databases';

export async function listRows(client: Client): Promise<BranchRow[]> {
  const { rows } = await client.query<BranchRow>(`SELECT ${COLUMNS} FROM ${CONTROL_TABLE_SQL} ORDER BY created_at, name`);
  return rows;
}

export async function findRow(client: Client, name: string): Promise<BranchRow | undefined> {
  const { rows } = await client.query<BranchRow>(`SELECT ${COLUMNS} FROM ${CONTROL_TABLE_SQL} WHERE name = $1`, [name]);
  return rows[0];
}

export async function findRowByDatabase(client: Client, database: string): Promise<BranchRow | undefined> {
  const { rows } = await client.query<BranchRow>(`SELECT ${COLUMNS} FROM ${CONTROL_TABLE_SQL} WHERE branch_database = $1`, [database]);
  return rows[0];
}

/** The record of `name`, else the one whose database is `database` (one query: a create's check that both are free). */
export async function findRowByNameOrDatabase(client: Client, name: string, database: string): Promise<BranchRow | undefined> {
  const { rows } = await client.query<BranchRow>(
    `SELECT ${COLUMNS} FROM ${CONTROL_TABLE_SQL} WHERE name = $1 OR branch_database = $2 ORDER BY name = $1 DESC LIMIT 1`,
    [name, database],
  );
  return rows[0];
}

/**
 * The record of `name` (findRow) and every record made from it, and from those, and so on, in one
 * recursive query (a delete asks both). UNION ends on records edited into a cycle by hand.
 */
export async function findRowWithDescendants(client: Client, name: string): Promise<{ row: BranchRow | undefined; descendants: BranchRow[] }> {
  const { rows } = await client.query<BranchRow>(
    `WITH RECURSIVE below(name) AS (
       SELECT name FROM ${CONTROL_TABLE_SQL} WHERE parent = $1 AND name <> $1
       UNION
       SELECT b.name FROM ${CONTROL_TABLE_SQL} b JOIN below ON b.parent = below.name
     )
     SELECT ${COLUMNS} FROM ${CONTROL_TABLE_SQL} WHERE name = $1 OR name IN (SELECT name FROM below) ORDER BY created_at, name`,
    [name],
  );
  return { row: rows.find((r) => r.name === name), descendants: rows.filter((r) => r.name !== name) };
}

/** The branches made directly from `parent` (`create … --from <parent>`). */
export async function findChildren(client: Client, parent: string): Promise<BranchRow[]> {
  const { rows } = await client.query<BranchRow>(`SELECT ${COLUMNS} FROM ${CONTROL_TABLE_SQL} WHERE parent = $1 ORDER BY created_at, name`, [parent]);
  return rows;
}

export interface NewRow {
  readonly name: string;
  readonly kind: RecordKind;
  /** For a branch made from a snapshot: that snapshot. */
  readonly snapshot: string | null;
  readonly source_database: string;
  readonly branch_database: string;
  readonly strategy: CloneStrategy | null;
  readonly parent: string | null;
  readonly expires_at: Date | null;
  readonly masked: boolean;
}

export async function insertCreatingRow(client: Client, row: NewRow, creatorHost: string): Promise<BranchRow> {
  const { rows } = await client.query<BranchRow>(
    `INSERT INTO ${CONTROL_TABLE_SQL} (name, kind, source_database, branch_database, status, strategy, parent, snapshot, expires_at, creator_pid, creator_host, masked)
     VALUES ($1, $2, $3, $4, 'creating', $5, $6, $7, $8, $9, $10, $11) RETURNING ${COLUMNS}`,
    [row.name, row.kind, row.source_database, row.branch_database, row.strategy, row.parent, row.snapshot, row.expires_at, process.pid, creatorHost, row.masked],
  );
  return rows[0]!;
}

/**
 * insertCreatingRow when no record has this name or database (one round trip); undefined when one
 * has, for the caller to look at it (findRowByNameOrDatabase) and decide. Committed without waiting
 * for the WAL flush (ASYNC_COMMIT): the copy's CREATE DATABASE, a synchronous commit, follows it.
 */
export async function insertCreatingRowIfFree(client: Client, row: NewRow, creatorHost: string): Promise<BranchRow | undefined> {
  const { rows } = await client.query<BranchRow>(
    `INSERT INTO ${CONTROL_TABLE_SQL} (name, kind, source_database, branch_database, status, strategy, parent, snapshot, expires_at, creator_pid, creator_host, masked)
     SELECT $1::text, $2::text, $3::text, $4::text, 'creating', $5::text, $6::text, $7::text, $8::timestamptz, $9::integer, $10::text, $11::boolean
       FROM ${ASYNC_COMMIT}
      WHERE NOT EXISTS (SELECT 1 FROM ${CONTROL_TABLE_SQL} WHERE name = $1 OR branch_database = $4) RETURNING ${COLUMNS}`,
    [row.name, row.kind, row.source_database, row.branch_database, row.strategy, row.parent, row.snapshot, row.expires_at, process.pid, creatorHost, row.masked],
  );
  return rows[0];
}

/**
 * A one-row subquery that turns `synchronous_commit` off for the transaction of the statement it is
 * joined into (set_config(…, true): SET LOCAL), so that its commit does not wait for the WAL flush.
 * Only for a record that a later synchronous commit on the same server always follows before ayb
 * calls anything done (a copy's `CREATE DATABASE` or `ready`, a delete's `DROP DATABASE`): that
 * commit's flush covers every earlier commit record, and a server crash before it loses the record
 * together with what it announced (a copy or a DROP that never committed), never one without the other.
 */
const ASYNC_COMMIT = "(SELECT set_config('synchronous_commit', 'off', true)) AS async_commit";

export async function updateRow(
  client: Client,
  id: string,
  changes: { status?: BranchStatus; snapshot?: string | null; strategy?: CloneStrategy | null; copy_method?: CopyMethod | null; error_message?: string | null; expires_at?: Date | null; name?: string; branch_database?: string; masked?: boolean; masking?: Readonly<Record<string, unknown>> | null },
  options: { readonly asyncCommit?: boolean } = {},
): Promise<BranchRow | undefined> {
  const sets: string[] = [];
  const values: unknown[] = [];
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) continue;
    values.push(value);
    sets.push(`${key} = $${values.length}`);
  }
  values.push(id);
  const { rows } = await client.query<BranchRow>(
    `UPDATE ${CONTROL_TABLE_SQL} SET ${sets.join(', ')}, updated_at = now()${options.asyncCommit ? ` FROM ${ASYNC_COMMIT}` : ''} WHERE id = $${values.length} RETURNING ${COLUMNS}`,
    values,
  );
  return rows[0];
}

/**
 * Renames a branch's row and points the branches made from it at the new name and database, in one
 * transaction. Name and database change together (a constraint ties them). `alsoInTransaction` runs
 * in that transaction too (rename passes the rename of the database itself, which PostgreSQL allows
 * in a transaction), so that the row and the database change together or not at all.
 */
export async function renameRow(
  client: Client,
  row: Pick<BranchRow, 'id' | 'name' | 'branch_database'>,
  to: { readonly name: string; readonly branch_database: string },
  alsoInTransaction?: () => Promise<unknown>,
): Promise<BranchRow | undefined> {
  return withTransaction(client, async () => {
    const { rows } = await client.query<BranchRow>(
      `UPDATE ${CONTROL_TABLE_SQL} SET name = $2, branch_database = $3, updated_at = now() WHERE id = $1 RETURNING ${COLUMNS}`,
      [row.id, to.name, to.branch_database],
    );
    await client.query(
      `UPDATE ${CONTROL_TABLE_SQL}
          SET parent = $2, source_database = CASE WHEN source_database = $3 THEN $4 ELSE source_database END, updated_at = now()
        WHERE parent = $1`,
      [row.name, to.name, row.branch_database, to.branch_database],
    );
    await alsoInTransaction?.();
    return rows[0];
  });
}

/**
 * The records an interrupted command left work for: a create or delete whose process is gone, or
 * temporary databases still written down. The caller tells the gone from the running by the lock.
 */
export async function findUnfinishedRows(client: Client): Promise<BranchRow[]> {
  const { rows } = await client.query<BranchRow>(
    `SELECT ${COLUMNS} FROM ${CONTROL_TABLE_SQL} WHERE status IN ('creating', 'deleting') OR cardinality(temp_databases) > 0 ORDER BY created_at, name`,
  );
  return rows;
}

/** Writes down temporary databases of a record before they are made (see BranchRow.temp_databases). */
export async function addTempDatabases(client: Client, id: string, databases: readonly string[]): Promise<void> {
  await client.query(`UPDATE ${CONTROL_TABLE_SQL} SET temp_databases = temp_databases || $2::text[] WHERE id = $1`, [id, databases]);
}

/** Forgets temporary databases once they are gone (or, for a reset's fresh copy, became the branch). */
export async function removeTempDatabases(client: Client, id: string, databases: readonly string[]): Promise<void> {
  await client.query(
    `UPDATE ${CONTROL_TABLE_SQL} SET temp_databases = ARRAY(SELECT d FROM unnest(temp_databases) d WHERE d <> ALL($2::text[])) WHERE id = $1`,
    [id, databases],
  );
}

export async function deleteRow(client: Client, id: string): Promise<void> {
  await client.query(`DELETE FROM ${CONTROL_TABLE_SQL} WHERE id = $1`, [id]);
}
