import type { Client } from '../postgres/client.js';
import { sqlState, SqlState } from '../postgres/client.js';
import { quoteIdent, quoteLiteral } from '../postgres/quote.js';

/**
 * What a copy of a database should carry besides its contents, and that neither strategy brings
 * along: `CREATE DATABASE … TEMPLATE` copies files but not the rows of the shared catalogs
 * (pg_db_role_setting, pg_shdescription), and pg_dump without --create does not emit them.
 * So ayb reads them from the source and applies them to the branch itself:
 *   - settings made with `ALTER DATABASE … SET` (for every role),
 *   - settings made with `ALTER ROLE r IN DATABASE … SET` (when role r exists on the branch's server),
 *   - the database comment (`COMMENT ON DATABASE`).
 */
export interface DatabaseSettings {
  /** `name=value` entries as stored in pg_db_role_setting, per role (`null` = every role). */
  readonly settings: readonly { readonly role: string | null; readonly config: readonly string[] }[];
  readonly comment: string | null;
}

/** The query of readDatabaseSettings (`$1`: the database), for a caller that batches it with others. */
export const DATABASE_SETTINGS_SQL = `SELECT shobj_description(d.oid, 'pg_database') AS comment,
            (SELECT json_agg(json_build_object('role', r.rolname, 'config', s.setconfig) ORDER BY r.rolname NULLS FIRST)
               FROM pg_db_role_setting s LEFT JOIN pg_roles r ON r.oid = s.setrole
              WHERE s.setdatabase = d.oid AND (s.setrole = 0 OR r.rolname IS NOT NULL)) AS settings
       FROM pg_database d WHERE d.datname = $1`;

export type DatabaseSettingsRow = { comment: string | null; settings: { role: string | null; config: string[] | null }[] | null };

/** DatabaseSettings from the row of DATABASE_SETTINGS_SQL (none: the database has neither). */
export function databaseSettingsOf(row: DatabaseSettingsRow | undefined): DatabaseSettings {
  return {
    settings: (row?.settings ?? []).map((r) => ({ role: r.role, config: r.config ?? [] })),
    comment: row?.comment ?? null,
  };
}

/** Reads the settings and comment of `database` on the server `client` is connected to (one round trip). */
export async function readDatabaseSettings(client: Client, database: string): Promise<DatabaseSettings> {
  const { rows } = await client.query<DatabaseSettingsRow>(DATABASE_SETTINGS_SQL, [database]);
  return databaseSettingsOf(rows[0]);
}

/**
 * Settings whose value is a list of quoted items: their stored form must be split and each item
 * quoted on its own, or the list turns into one item (pg_dump's variable_is_guc_list_quote).
 */
const LIST_QUOTED = new Set([
  'local_preload_libraries',
  'search_path',
  'session_preload_libraries',
  'shared_preload_libraries',
  'temp_tablespaces',
  'unix_socket_directories',
]);

/** Splits a flattened GUC list (`"$user", public`) into its items, as the server's SplitGUCList does. */
export function splitGucList(value: string): string[] {
  const items: string[] = [];
  let i = 0;
  const skipSpace = () => {
    while (i < value.length && /\s/.test(value[i]!)) i++;
  };
  skipSpace();
  if (i >= value.length) return items;
  for (;;) {
    let item = '';
    if (value[i] === '"') {
      i++;
      for (;;) {
        if (i >= value.length) return items.concat(item); // unterminated: take what there is
        if (value[i] === '"') {
          if (value[i + 1] === '"') {
            item += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        item += value[i++];
      }
    } else {
      while (i < value.length && value[i] !== ',' && !/\s/.test(value[i]!)) item += value[i++];
    }
    items.push(item);
    skipSpace();
    if (value[i] === ',') {
      i++;
      skipSpace();
      continue;
    }
    return items;
  }
}

/** The SQL text after `SET name = `, for one stored `name=value` entry. */
export function settingValueSql(name: string, value: string): string {
  if (LIST_QUOTED.has(name.toLowerCase())) {
    const items = splitGucList(value);
    return items.length === 0 ? "''" : items.map(quoteLiteral).join(', ');
  }
  return quoteLiteral(value);
}

/** `ALTER DATABASE/ROLE … SET` statements that give `target` the settings and comment read from the source. */
export function settingsSql(target: string, settings: DatabaseSettings, roleExists: (role: string) => boolean = () => true): { sql: string[]; skipped: string[] } {
  const sql: string[] = [];
  const skipped: string[] = [];
  for (const { role, config } of settings.settings) {
    if (role !== null && !roleExists(role)) {
      skipped.push(`settings for role "${role}" (no such role here)`);
      continue;
    }
    for (const entry of config) {
      const at = entry.indexOf('=');
      if (at <= 0) continue;
      const name = entry.slice(0, at);
      const set = `SET ${quoteIdent(name)} = ${settingValueSql(name, entry.slice(at + 1))}`;
      sql.push(role === null ? `ALTER DATABASE ${quoteIdent(target)} ${set}` : `ALTER ROLE ${quoteIdent(role)} IN DATABASE ${quoteIdent(target)} ${set}`);
    }
  }
  if (settings.comment !== null) sql.push(`COMMENT ON DATABASE ${quoteIdent(target)} IS ${quoteLiteral(settings.comment)}`);
  return { sql, skipped };
}

/**
 * Applies the source's settings and comment to `target` through `client` (connected anywhere on the
 * target's server). Run it last: a setting such as default_transaction_read_only would otherwise
 * get in the way of the copy itself. A setting this role may not make is skipped with a warning
 * rather than failing a branch whose data is complete.
 */
export async function applyDatabaseSettings(client: Client, target: string, settings: DatabaseSettings, warn?: (line: string) => void): Promise<void> {
  if (settings.settings.length === 0 && settings.comment === null) return;
  const roles = settings.settings.some((s) => s.role !== null)
    ? new Set((await client.query<{ rolname: string }>('SELECT rolname FROM pg_roles')).rows.map((r) => r.rolname))
    : new Set<string>();
  const { sql, skipped } = settingsSql(target, settings, (role) => roles.has(role));
  for (const what of skipped) warn?.(`warning: the branch does not carry ${what}`);
  for (const statement of sql) {
    try {
      await client.query(statement);
    } catch (error) {
      if (sqlState(error) !== SqlState.insufficientPrivilege) throw error;
      warn?.(`warning: not copied (${(error as Error).message}): ${statement}`);
    }
  }
}
