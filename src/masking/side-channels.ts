import { ExternalError } from '../core/errors.js';
import { type Client, sqlState, SqlState } from '../postgres/client.js';
import { quoteIdent, quoteLiteral } from '../postgres/quote.js';
import type { Masker } from './functions.js';
import type { MaskPlan, PlannedColumn } from './plan.js';

/** What a masked copy may keep from its source besides rows (`[masking] keep_catalog`). */
export type CatalogKeep = 'comments' | 'large_objects' | 'settings';

/** What was removed or rewritten in a masked copy, named for the record and the log. */
export interface SideChannelReport {
  /** e.g. `12 comments`, `1 large object`, `database setting app.admin_email`. */
  readonly dropped: readonly string[];
  /** e.g. `literal in view public.vip`, `literal in default of public.customers.referred_by`. */
  readonly masked: readonly string[];
}

/** Finds which of `literals` are original values of a masked column in the source: literal → that column. */
export type OriginalLookup = (literals: readonly string[]) => Promise<Map<string, PlannedColumn>>;

/** What sampled or literal values look like when they are personal (shared with mask check). */
export const PERSONAL_CONTENT: readonly [RegExp, string][] = [
  [/^[^\s@]+@[^\s@]+\.[a-z]{2,}$/i, 'emails'],
  [/^\+?[\d\s().-]{7,20}$/, 'phone numbers'],
  [/^(\d{1,3}\.){3}\d{1,3}$|^[0-9a-f]{0,4}(:[0-9a-f]{0,4}){2,7}$/i, 'IP addresses'],
];

/** The string literals of an expression or view definition as PostgreSQL deparses it ('…', quotes doubled). */
export function stringLiterals(text: string): string[] {
  return [...text.matchAll(/'((?:[^']|'')*)'/g)].map((m) => m[1]!.replace(/''/g, "'"));
}

/** `text` with every literal `from` replaced by `to` (both unquoted). */
export function replaceLiteral(text: string, from: string, to: string): string {
  return text.split(quoteLiteral(from)).join(quoteLiteral(to));
}

/**
 * Closes what a masked copy would otherwise carry from its source outside the rows: comments, large
 * objects, database and role settings and the database comment (unless `[masking] keep_catalog`
 * keeps them), and personal string literals in view definitions and column defaults. A literal is
 * personal when it is an original value of a masked column of the source (it is replaced by that
 * column's masked value, so a view that picks a row by it still picks the same row) or when it
 * looks like an email, phone number or IP address (masked as one). The catalogs touched are then
 * rewritten (VACUUM FULL), so no old version of a row keeps the original on disk. Needs a superuser.
 */
export async function closeSideChannels(
  client: Client,
  database: string,
  options: { readonly keep: readonly CatalogKeep[]; readonly masker: Masker; readonly originals: OriginalLookup; readonly log?: (line: string) => void },
): Promise<SideChannelReport> {
  const dropped: string[] = [];
  const masked: string[] = [];
  const { keep, masker } = options;

  // Literals in views and defaults.
  const views = (await client.query<{ name: string; def: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS name, pg_get_viewdef(c.oid) AS def
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'v' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`,
  )).rows;
  const defaults = (await client.query<{ tbl: string; col: string; label: string; expr: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS tbl, quote_ident(a.attname) AS col, n.nspname || '.' || c.relname || '.' || a.attname AS label,
            pg_get_expr(d.adbin, d.adrelid) AS expr
       FROM pg_attrdef d JOIN pg_class c ON c.oid = d.adrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`,
  )).rows;
  const literals = [...new Set([...views.map((v) => v.def), ...defaults.map((d) => d.expr)].flatMap(stringLiterals).filter((l) => l.trim().length >= 3))];
  const originals = literals.length > 0 ? await options.originals(literals) : new Map<string, PlannedColumn>();
  const replacement = (literal: string): string | undefined => {
    const column = originals.get(literal);
    if (column) {
      const value = column.mask.kind === 'function' ? masker.apply(column.mask, literal) : null;
      return value ?? masker.apply({ function: 'hash', args: {}, unique: false }, literal)!;
    }
    const look = PERSONAL_CONTENT.find(([pattern]) => pattern.test(literal.trim()));
    if (!look) return undefined;
    return masker.apply({ function: look[1] === 'emails' ? 'email' : look[1] === 'phone numbers' ? 'phone' : 'redact', args: {}, unique: false }, literal)!;
  };
  const rewrite = (text: string): string | undefined => {
    let out = text;
    for (const literal of new Set(stringLiterals(text))) {
      const to = replacement(literal);
      if (to !== undefined) out = replaceLiteral(out, literal, to);
    }
    return out === text ? undefined : out;
  };
  for (const view of views) {
    const def = rewrite(view.def);
    if (def === undefined) continue;
    await client.query(`CREATE OR REPLACE VIEW ${view.name} AS ${def}`);
    masked.push(`literal in view ${view.name}`);
  }
  for (const d of defaults) {
    const expr = rewrite(d.expr);
    if (expr === undefined) continue;
    await client.query(`ALTER TABLE ${d.tbl} ALTER COLUMN ${d.col} SET DEFAULT ${expr}`);
    masked.push(`literal in the default of ${d.label}`);
  }

  if (!keep.includes('comments')) {
    // Comments on the objects of this database (not on the built-in ones, oids below 16384).
    // Only a superuser may delete them: a copy without comments asks nothing of a role that is not one.
    const { rows: counted } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_catalog.pg_description WHERE objoid >= 16384');
    const { rowCount } = (counted[0]?.n ?? 0) === 0 ? { rowCount: 0 } : await client.query('DELETE FROM pg_catalog.pg_description WHERE objoid >= 16384').catch((error: unknown) => {
      if (sqlState(error) !== SqlState.insufficientPrivilege) throw error;
      throw new ExternalError('masking_not_permitted', `closing the side channels of a masked copy needs a superuser: ${(error as Error).message}`, {
        hint: 'run ayb as a superuser on the server that holds the branches, or keep comments ([masking] keep_catalog = ["comments"])',
        cause: error,
      });
    });
    if (rowCount) dropped.push(`${rowCount} comment${rowCount === 1 ? '' : 's'}`);
    const { rows } = await client.query<{ comment: string | null }>(`SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1`, [database]);
    if (rows[0]?.comment) {
      await client.query(`COMMENT ON DATABASE ${quoteIdent(database)} IS NULL`);
      dropped.push('the database comment');
    }
  }
  if (!keep.includes('large_objects')) {
    const { rows } = await client.query<{ n: string }>('SELECT count(lo_unlink(oid)) AS n FROM pg_catalog.pg_largeobject_metadata');
    const n = Number(rows[0]?.n ?? 0);
    if (n > 0) dropped.push(`${n} large object${n === 1 ? '' : 's'}`);
  }
  if (!keep.includes('settings')) {
    const { rows } = await client.query<{ role: string | null; config: string[] }>(
      `SELECT r.rolname AS role, s.setconfig AS config FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
         LEFT JOIN pg_roles r ON r.oid = s.setrole WHERE d.datname = $1`,
      [database],
    );
    for (const { role, config } of rows) {
      await client.query(role === null
        ? `ALTER DATABASE ${quoteIdent(database)} RESET ALL`
        : `ALTER ROLE ${quoteIdent(role)} IN DATABASE ${quoteIdent(database)} RESET ALL`);
      for (const entry of config) dropped.push(`${role === null ? 'database' : `role ${role}`} setting ${entry.slice(0, Math.max(0, entry.indexOf('=')))}`);
    }
  }
  // Old row versions of the catalogs would keep what was removed: rewrite them (only if anything was).
  if (dropped.length > 0 || masked.length > 0) {
    for (const catalog of ['pg_description', 'pg_shdescription', 'pg_largeobject', 'pg_largeobject_metadata', 'pg_db_role_setting', 'pg_rewrite', 'pg_attrdef']) {
      await client.query(`VACUUM FULL pg_catalog.${catalog}`);
    }
  }
  if (dropped.length > 0) options.log?.(`Dropped from the masked copy: ${dropped.join(', ')}`);
  if (masked.length > 0) options.log?.(`Masked: ${masked.join(', ')}`);
  return { dropped, masked };
}

/** Looks literals up among the original values of every masked column of `plan`, on the source. */
export function originalsOn(source: Client, plan: MaskPlan): OriginalLookup {
  return async (literals) => {
    const found = new Map<string, PlannedColumn>();
    for (const table of plan.tables) {
      if (table.relkind === 'p') continue;
      for (const column of table.columns) {
        if (column.mask.kind === 'derived') continue;
        const { rows } = await source.query<{ v: string }>(
          `SELECT DISTINCT ${quoteIdent(column.column)}::text AS v FROM ONLY ${quoteIdent(table.schema)}.${quoteIdent(table.table)} WHERE ${quoteIdent(column.column)}::text = ANY($1::text[])`,
          [literals],
        );
        for (const r of rows) if (!found.has(r.v)) found.set(r.v, column);
      }
    }
    return found;
  };
}
