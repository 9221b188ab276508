import type { Client } from './client.js';
import { quoteIdent, quoteLiteral } from './quote.js';

/**
 * The session settings that change how a value is written as text or read back from it. A database
 * or role can set any of them (`ALTER DATABASE b SET DateStyle = 'SQL, DMY'`), and then the same row
 * reads differently there, and a literal written in one session means another value in the next
 * (`'03/02/2024'` is 3 February or 2 March). Every session ayb opens to read or write rows pins them,
 * and every script of rows ayb prints sets them at its top: both sides and the script speak one dialect.
 *
 * - DateStyle ISO: dates and timestamps as `2024-02-03 10:00:00`, read back the same under any order.
 * - TimeZone UTC: timestamptz text with a fixed offset, the same on both sides.
 * - IntervalStyle postgres: the style whose signs every other style reads back unchanged.
 * - extra_float_digits 3: floats as their shortest exact text (PostgreSQL 12+), so 0.1 + 0.2 stays itself.
 * - bytea_output hex, standard_conforming_strings on: bytea and backslashes mean one thing.
 * - lc_monetary C: money's currency symbol and separators do not follow a locale.
 * - xmloption content, array_nulls on: xml and array literals are read as they were written.
 * - search_path empty: format_type() names every type with its schema, and no object of the user's
 *   shadows one of pg_catalog's in the SQL ayb writes (pg_dump does the same).
 * - row_security off: not a value's text but which rows there are. A role subject to a row-level
 *   security policy (a table's owner under FORCE ROW LEVEL SECURITY) would read, update or delete only
 *   the rows the policy shows it, silently; with row_security off the statement fails instead (a
 *   superuser or BYPASSRLS role is not affected). pg_dump does the same.
 */
export const VALUE_SETTINGS: readonly (readonly [name: string, value: string])[] = [
  ['DateStyle', 'ISO, MDY'],
  ['TimeZone', 'UTC'],
  ['IntervalStyle', 'postgres'],
  ['extra_float_digits', '3'],
  ['bytea_output', 'hex'],
  ['standard_conforming_strings', 'on'],
  ['lc_monetary', 'C'],
  ['xmloption', 'content'],
  ['array_nulls', 'on'],
  ['search_path', ''],
  ['row_security', 'off'],
];

/**
 * The statements that pin the settings: `SET` for the rest of the session, or with `local` `SET LOCAL`
 * (inside a transaction, undone at its end: what a script applied in someone else's session uses).
 * `keep`: settings left as the session has them (the merge's sessions that read rows pin their own
 * search_path when connecting).
 */
export function valueSettingsSql(options: { local?: boolean; keep?: readonly string[] } = {}): string {
  const set = options.local ? 'SET LOCAL' : 'SET';
  return VALUE_SETTINGS.filter(([name]) => !options.keep?.includes(name)).map(([name, value]) => `${set} ${name} = ${value === '' ? "''" : quoteLiteral(value)};`).join('\n');
}

/**
 * Pins the settings that change a value's text on a session (see VALUE_SETTINGS). Call it right after
 * connecting, in every session that reads or writes rows: data diff, merge, masking, dump and restore,
 * view copies. With `local`, only until the end of the current transaction.
 */
export async function pinValueSettings(client: Client, options: { local?: boolean } = {}): Promise<void> {
  await client.query(valueSettingsSql(options));
}

/**
 * The settings named in `names`, with VALUE_SETTINGS' values, as libpq's startup `options`
 * (`-c name=value …`, spaces escaped): for a connection whose every session must speak the dialect
 * from its first statement, such as merge's, whose sessions are opened by code that knows nothing of it.
 */
export function valueSettingsOptions(names: readonly string[]): string {
  return VALUE_SETTINGS.filter(([name]) => names.includes(name))
    .map(([name, value]) => `-c ${name}=${value.replace(/([\\ ])/g, '\\$1')}`)
    .join(' ');
}

/**
 * A session's search_path as its users get it (what RESET goes back to: the database's or role's
 * setting, or the server's), read in one of ayb's sessions whose own path is pinned empty.
 */
export const OWN_SEARCH_PATH_SQL = "SELECT reset_val AS path FROM pg_catalog.pg_settings WHERE name = 'search_path'";

/** The schemas of a search_path setting's text (`ck, "My Schema", "$user"`), as PostgreSQL splits it. */
export function searchPathSchemas(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  const skip = () => { while (i < text.length && /\s/.test(text[i]!)) i++; };
  for (skip(); i < text.length; skip()) {
    let name = '';
    if (text[i] === '"') {
      for (i++; i < text.length; i++) {
        if (text[i] === '"' && text[i + 1] === '"') { name += '"'; i++; } else if (text[i] === '"') { i++; break; } else name += text[i];
      }
    } else {
      while (i < text.length && text[i] !== ',' && !/\s/.test(text[i]!)) name += text[i++];
      name = name.toLowerCase();
    }
    if (name !== '') out.push(name);
    skip();
    if (text[i] === ',') i++;
  }
  return out;
}

/**
 * `SET [LOCAL] search_path` for SQL that runs the user's own code (a CHECK's or an index expression's
 * function that names a table unqualified, found through the database's path): pg_catalog first, so
 * that no object of the user's shadows one of pg_catalog's that the SQL relies on (everything else it
 * names is schema-qualified), then the database's own path (`own`, as OWN_SEARCH_PATH_SQL reads it).
 */
export function ownSearchPathSql(own: string, options: { local?: boolean } = {}): string {
  return `${options.local ? 'SET LOCAL' : 'SET'} search_path = ${catalogFirst(own)};`;
}

/** A search_path setting's text with pg_catalog first, then the schemas of `own` (each quoted). */
export function catalogFirst(own: string): string {
  return ['pg_catalog', ...searchPathSchemas(own).filter((s) => s !== 'pg_catalog')].map(quoteIdent).join(', ');
}
