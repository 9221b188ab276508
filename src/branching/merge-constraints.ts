import { ConflictError } from '../core/errors.js';
import { type DataCatalog, type DataTable, tableId } from '../datadiff/catalog.js';
import { STAGE, type StagedTable } from '../datadiff/merge-stage.js';
import { keyCondition } from '../datadiff/sql.js';
import type { Client } from '../postgres/client.js';
import { quoteIdent } from '../postgres/quote.js';
import type { MigrationStatement } from '../schema/sql.js';

/**
 * A statement of the branch's migration that adds or tightens a constraint the target's rows must
 * meet (SET NOT NULL, ADD CONSTRAINT CHECK / UNIQUE / PRIMARY KEY / FOREIGN KEY / EXCLUDE, a domain's
 * ADD CONSTRAINT or SET NOT NULL, CREATE UNIQUE INDEX). The merge runs it after the rows are merged,
 * in the same transaction: the branch's own backfill (a column added, filled, then made NOT NULL;
 * rows fixed, then a CHECK added) makes it true only once the branch's rows are there.
 */
export interface DeferredConstraint {
  readonly sql: string;
  readonly kind: 'not_null' | 'check' | 'unique' | 'foreign_key' | 'domain_check' | 'other';
  /** What it is, as the conflict names it (`nn.x NOT NULL`, `qty_nonneg`). */
  readonly name: string;
  /** The table (quoted, schema-qualified) or, for a domain's constraint, the domain. */
  readonly relation: string;
  /** not_null: the column (quoted); check, domain_check: the expression; unique, foreign_key: the columns (quoted list). */
  readonly what: string;
  /** foreign_key: the referenced table (as the definition writes it: resolved by the server) and its columns. */
  readonly references?: { readonly relation: string; readonly columns: string };
}

const ID = '"(?:[^"]|"")*"';
const REL = `${ID}\\.${ID}`;
const ADD_COLUMN = new RegExp(`^ALTER TABLE (${REL}) ADD COLUMN (${ID}) (.*) NOT NULL$`, 's');
const SET_NOT_NULL = new RegExp(`^ALTER TABLE (${REL}) ALTER COLUMN (${ID}) SET NOT NULL$`, 's');
const ADD_CONSTRAINT = new RegExp(`^ALTER TABLE (${REL}) ADD CONSTRAINT (${ID}) (CHECK|UNIQUE|PRIMARY KEY|FOREIGN KEY|EXCLUDE)\\b(.*)$`, 's');
const DOMAIN = new RegExp(`^ALTER DOMAIN (${REL}) (?:ADD CONSTRAINT (${ID}) (CHECK)\\b(.*)|SET NOT NULL)$`, 's');
const LATER = /^(CREATE UNIQUE INDEX |COMMENT ON (CONSTRAINT|INDEX) )/;

const unquote = (id: string) => id.slice(1, -1).replace(/""/g, '"');
const label = (relation: string) => relation.split(/(?<=")\.(?=")/).map(unquote).join('.');

/** The statements before the rows are merged, and the constraints that follow them (see DeferredConstraint). */
export function deferConstraints(statements: readonly MigrationStatement[]): { before: MigrationStatement[]; after: DeferredConstraint[] } {
  const before: MigrationStatement[] = [];
  const after: DeferredConstraint[] = [];
  for (const s of statements) {
    let m: RegExpExecArray | null;
    if ((m = ADD_COLUMN.exec(s.sql)) && !/ (DEFAULT|GENERATED) /.test(` ${m[3]} `)) {
      // Added nullable, filled by the merged rows, then made NOT NULL.
      before.push({ ...s, sql: `ALTER TABLE ${m[1]} ADD COLUMN ${m[2]} ${m[3]}` });
      after.push({ sql: `ALTER TABLE ${m[1]} ALTER COLUMN ${m[2]} SET NOT NULL`, kind: 'not_null', name: `${label(m[1]!)}.${unquote(m[2]!)} NOT NULL`, relation: m[1]!, what: m[2]! });
    } else if ((m = SET_NOT_NULL.exec(s.sql))) {
      after.push({ sql: s.sql, kind: 'not_null', name: `${label(m[1]!)}.${unquote(m[2]!)} NOT NULL`, relation: m[1]!, what: m[2]! });
    } else if ((m = ADD_CONSTRAINT.exec(s.sql)) && !/ NOT VALID$/.test(s.sql)) {
      const [, relation, name, type, rest] = m as unknown as [string, string, string, string, string];
      const columns = /^\s*\(((?:[^()"]|"(?:[^"]|"")*")*)\)/.exec(rest)?.[1];
      const part = `(?:${ID}|[^\\s(."]+)`;
      const refs = type === 'FOREIGN KEY' ? new RegExp(`REFERENCES (${part}(?:\\.${part})?)\\(((?:[^()"]|"(?:[^"]|"")*")*)\\)`).exec(rest) : null;
      const kind = type === 'CHECK' ? 'check' : type === 'UNIQUE' || type === 'PRIMARY KEY' ? 'unique' : type === 'FOREIGN KEY' && refs ? 'foreign_key' : 'other';
      const what = kind === 'check' ? checkExpression(rest) : (columns ?? '');
      after.push({ sql: s.sql, kind: kind === 'unique' && !columns ? 'other' : kind, name: unquote(name), relation, what, ...(refs ? { references: { relation: refs[1]!, columns: refs[2]! } } : {}) });
    } else if ((m = DOMAIN.exec(s.sql)) && !/ NOT VALID$/.test(s.sql)) {
      const check = m[3] !== undefined;
      after.push({ sql: s.sql, kind: check ? 'domain_check' : 'other', name: check ? unquote(m[2]!) : `${label(m[1]!)} NOT NULL`, relation: m[1]!, what: check ? checkExpression(m[4]!) : '' });
    } else if (LATER.test(s.sql)) {
      after.push({ sql: s.sql, kind: 'other', name: s.sql.slice(0, 80), relation: '', what: '' });
    } else {
      before.push(s);
    }
  }
  return { before: afterTheirs(before, after), after };
}

const INDEX_NAME = new RegExp(`^CREATE UNIQUE INDEX (?:CONCURRENTLY )?(?:IF NOT EXISTS )?(${ID}|[^\\s(."]+) `);
const IDENTITY = new RegExp(`^ALTER TABLE (${REL}) ALTER COLUMN (${ID}) ADD GENERATED `);
/** Statements that name an index: attached to another, a replica identity or CLUSTER using it, a constraint made from it. */
const NAMES_INDEX = /^ALTER INDEX |^COMMENT ON INDEX | REPLICA IDENTITY USING INDEX | CLUSTER ON | USING INDEX /;
const FOREIGN_KEY = new RegExp(`^ALTER TABLE ${REL} ADD CONSTRAINT ${ID} FOREIGN KEY `);

/**
 * The statements of `before` that need what is deferred (an index attached to a deferred partitioned
 * one, a replica identity, CLUSTER or constraint using it; a foreign key, even NOT VALID, when a
 * unique key is deferred: it may be the one it references; an identity on a column made NOT NULL
 * later) go to the end of `after` in their order; the rest stay.
 */
function afterTheirs(before: readonly MigrationStatement[], after: DeferredConstraint[]): MigrationStatement[] {
  const names = after.flatMap((c) => [INDEX_NAME.exec(c.sql)?.[1], ADD_CONSTRAINT.exec(c.sql)?.[2]].filter((n): n is string => n !== undefined).map((n) => (n.startsWith('"') ? unquote(n) : n)));
  const mentions = (sql: string, name: string) => sql.includes(quoteIdent(name)) || new RegExp(`(^|[\\s.(])${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[\\s,;)])`).test(sql);
  const uniqueLater = after.some((c) => c.kind === 'unique' || INDEX_NAME.test(c.sql));
  const notNullLater = new Set(after.filter((c) => c.kind === 'not_null').map((c) => `${c.relation}.${c.what}`));
  const needs = (sql: string) => {
    const identity = IDENTITY.exec(sql);
    return (NAMES_INDEX.test(sql) && names.some((n) => mentions(sql, n)))
      || (uniqueLater && FOREIGN_KEY.test(sql))
      || (identity !== null && notNullLater.has(`${identity[1]}.${identity[2]}`));
  };
  const kept: MigrationStatement[] = [];
  for (const s of before) {
    if (needs(s.sql)) after.push({ sql: s.sql, kind: 'other', name: s.sql.slice(0, 80), relation: '', what: '' });
    else kept.push(s);
  }
  return kept;
}

/** A CHECK's expression, without what follows it (NOT VALID, NO INHERIT). */
function checkExpression(rest: string): string {
  return rest.replace(/( NO INHERIT| NOT VALID)+\s*$/, '').trim();
}

/** `schema.name` as quote_ident writes it, every part quoted (`"public"."t"`), as the migration writes relations. */
const quoted = (relation: string) => (relation.match(/"(?:[^"]|"")*"|[^.]+/g) ?? []).map((p) => (p.startsWith('"') ? p : quoteIdent(p))).join('.');

/** Splits a column list (`a, "b c"`) into its quoted names. */
function columnsOf(list: string): string[] {
  return (list.match(/"(?:[^"]|"")*"|[^,\s]+/g) ?? []).map((c) => (c.startsWith('"') ? c : quoteIdent(c)));
}

/** A row that breaks a deferred constraint: the conflict that refuses the merge (exit 4, nothing applied). */
export function constraintViolation(c: DeferredConstraint, table: string, row: string, dryRun: boolean): ConflictError {
  return new ConflictError('merge_constraint_conflict', `the merged rows break constraint "${c.name}" that the branch adds: row ${row.slice(0, 300)} of ${table}${dryRun ? ' would break it' : ''}; nothing was applied`, {
    hint: 'the target has rows the branch\'s new constraint does not allow (rows it added or changed since the base): change them on the target, or the constraint on the branch, then merge again',
    details: { constraint: c.name, table, row },
  });
}

/**
 * The first row that breaks `c`, with its table; `source(relation)`: the rows of a table as the
 * merge leaves them (the table itself, once merged; a view of the target's rows and the staged ones
 * for a dry run); undefined for a table the source cannot give.
 */
export async function findViolation(client: Client, c: DeferredConstraint, source: (relation: string) => string | undefined): Promise<{ table: string; row: string } | undefined> {
  const first = async (table: string, sql: string) => {
    const { rows } = await client.query<{ r: string }>(`${sql} LIMIT 1`);
    return rows.length > 0 ? { table, row: rows[0]!.r } : undefined;
  };
  const from = source(c.relation);
  if (c.kind === 'not_null' && from) return first(label(c.relation), `SELECT ROW(x.*)::text AS r FROM (${from}) x WHERE x.${c.what} IS NULL`);
  if (c.kind === 'check' && from) return first(label(c.relation), `SELECT ROW(x.*)::text AS r FROM (${from}) x WHERE NOT ${c.what}`);
  if (c.kind === 'unique' && from) {
    const cols = columnsOf(c.what).map((x) => `x.${x}`);
    return first(label(c.relation), `SELECT ROW(${cols.join(', ')})::text AS r FROM (${from}) x WHERE ${cols.map((x) => `${x} IS NOT NULL`).join(' AND ')} GROUP BY ${cols.join(', ')} HAVING count(*) > 1`);
  }
  if (c.kind === 'foreign_key' && from && c.references) {
    const { rows: named } = await client.query<{ r: string }>(`SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS r FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)`, [c.references.relation]);
    const parent = named[0] ? source(quoted(named[0].r)) : undefined;
    if (!parent) return undefined;
    const [mine, theirs] = [columnsOf(c.what), columnsOf(c.references.columns)];
    return first(label(c.relation), `SELECT ROW(x.*)::text AS r FROM (${from}) x WHERE ${mine.map((x) => `x.${x} IS NOT NULL`).join(' AND ')}
      AND NOT EXISTS (SELECT FROM (${parent}) p WHERE ${mine.map((x, i) => `p.${theirs[i]} = x.${x}`).join(' AND ')})`);
  }
  if (c.kind === 'domain_check') {
    // Every column of a table of the target whose type is the domain; VALUE is the column's value.
    const { rows } = await client.query<{ relation: string; col: string }>(
      `SELECT quote_ident(n.nspname) || '.' || quote_ident(cl.relname) AS relation, quote_ident(a.attname) AS col
         FROM pg_attribute a JOIN pg_class cl ON cl.oid = a.attrelid JOIN pg_namespace n ON n.oid = cl.relnamespace
        WHERE a.atttypid = $1::regtype AND a.attnum > 0 AND NOT a.attisdropped AND cl.relkind IN ('r', 'p') AND NOT cl.relispartition
        ORDER BY 1, 2`, [c.relation]);
    for (const r of rows) {
      const relation = quoted(r.relation);
      const rows2 = source(relation);
      if (!rows2) continue;
      const found = await first(label(relation), `SELECT ROW(x.*)::text AS r FROM (${rows2}) x WHERE NOT (SELECT ${c.what} FROM (SELECT x.${r.col} AS value) ayb_v)`);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * For a dry run: a table's rows as the merge would leave them, from the target's rows and the staged
 * ones (`staged`: the table's staged rows, if any), in the branch's columns (`theirs`); a column the
 * target lacks yet is the staged value where the branch set it, else NULL.
 */
export function mergedRows(relation: string, ours: DataCatalog, theirs: DataCatalog, staged: readonly StagedTable[]): string | undefined {
  const id = tableId({ schema: unquote(relation.split(/(?<=")\.(?=")/)[0]!), name: unquote(relation.split(/(?<=")\.(?=")/)[1]!) });
  const target = ours.tables.get(id);
  const branch = theirs.tables.get(id);
  if (!target || !branch) return undefined;
  const s = staged.find((t) => tableId(t.table) === id && t.key.length > 0);
  const own = (c: DataTable['columns'][number]) => (target.columns.some((x) => x.name === c.name) ? `t.${quoteIdent(c.name)}::${c.type}` : `NULL::${c.type}`);
  if (!s) return `SELECT ${branch.columns.map((c) => `${own(c)} AS ${quoteIdent(c.name)}`).join(', ')} FROM ${relation} t`;
  const at = (c: string) => s.writable.indexOf(c) + 1;
  const value = (c: DataTable['columns'][number]) => (at(c.name) > 0 ? `s.v[${at(c.name)}]::${c.type}` : `NULL::${c.type}`);
  const merged = (c: DataTable['columns'][number]) => (at(c.name) > 0 ? `CASE WHEN s.op = 'u' AND s.m[${at(c.name)}] THEN ${value(c)} ELSE ${own(c)} END` : own(c));
  return `SELECT ${branch.columns.map((c) => `${merged(c)} AS ${quoteIdent(c.name)}`).join(', ')}
      FROM ${relation} t LEFT JOIN ${STAGE} s ON s.tab = ${s.tab} AND s.op IN ('u', 'd') AND ${keyCondition(target, s.key, (i) => `s.k[${i + 1}]`, s.table)}
     WHERE s.op IS DISTINCT FROM 'd'
    UNION ALL
    SELECT ${branch.columns.map((c) => `${value(c)} AS ${quoteIdent(c.name)}`).join(', ')} FROM ${STAGE} s WHERE s.tab = ${s.tab} AND s.op = 'i'`;
}

/** The literal of a deferred constraint's statement for a notice. */
