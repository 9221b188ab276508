import type { MaskingRule } from '../config/schema.js';
import { ExternalError } from '../core/errors.js';
import { type Client } from '../postgres/client.js';
import { quoteIdent, quoteLiteral } from '../postgres/quote.js';
import { timeoutStatements } from '../postgres/timeouts.js';
import { sqlKey } from './functions.js';
import { type MaskPlan, type PlannedColumn, type PlannedTable, planMasking, readCatalog } from './plan.js';
import { rulesError } from './problems.js';
import { MASK_FUNCTIONS_SQL, MASK_SCHEMA, MASK_SESSION_SQL } from './sql-functions.js';

export interface MaskSummary {
  /** Relations rewritten, as schema.table. */
  readonly tables: readonly string[];
  readonly columns: number;
}

const relationSql = (t: { schema: string; table: string }) => `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`;

/** The new value of one column, in SQL; the key is $1. */
export function maskExpression(column: PlannedColumn): string {
  const col = quoteIdent(column.column);
  if (column.mask.kind === 'sql') return `(${column.mask.expression})`;
  if (column.mask.kind === 'derived') return col;
  const { function: fn, args, unique } = column.mask;
  const call = `${MASK_SCHEMA}.apply(${quoteLiteral(fn)}, ${col}::text, $1, ${quoteLiteral(JSON.stringify(args))}::jsonb, ${unique})`;
  // A string column takes the text as an assignment, so a value too long fails rather than being cut (as COPY does).
  return column.stringType ? call : `${call}::${column.type}`;
}

export function updateStatement(table: PlannedTable): string {
  // A derived column is left to its trigger, which fires on the UPDATE (see derivedTriggers).
  const sets = table.columns.filter((c) => c.mask.kind !== 'derived').map((c) => `${quoteIdent(c.column)} = ${maskExpression(c)}`);
  return `UPDATE ONLY ${relationSql(table)} SET ${sets.join(', ')}`;
}

/**
 * The triggers that fill derived columns of `table`, with the statements that let them fire under
 * session_replication_role = replica (ENABLE ALWAYS) and put them back as they were.
 */
export function derivedTriggers(table: PlannedTable): { enable: string[]; restore: string[] } {
  const triggers = new Map<string, string>();
  for (const c of table.columns) if (c.mask.kind === 'derived') triggers.set(c.mask.trigger, c.mask.enabled);
  const enable: string[] = [];
  const restore: string[] = [];
  for (const [name, enabled] of triggers) {
    if (enabled === 'A') continue;
    enable.push(`ALTER TABLE ONLY ${relationSql(table)} ENABLE ALWAYS TRIGGER ${quoteIdent(name)}`);
    // Back to the mode it had (pg_trigger.tgenabled): origin, replica or disabled.
    const mode = enabled === 'R' ? 'ENABLE REPLICA' : enabled === 'D' ? 'DISABLE' : 'ENABLE';
    restore.push(`ALTER TABLE ONLY ${relationSql(table)} ${mode} TRIGGER ${quoteIdent(name)}`);
  }
  return { enable, restore };
}

/**
 * After a copy masked in the stream: fills the derived columns (which arrived empty) by firing their
 * triggers on the masked rows, the other triggers off. Needs a superuser, as masking in place does.
 */
export async function recomputeDerived(client: Client, plan: MaskPlan, log?: (line: string) => void): Promise<void> {
  const tables = plan.tables.filter((t) => t.relkind !== 'p' && t.columns.some((c) => c.mask.kind === 'derived'));
  if (tables.length === 0) return;
  await client.query(timeoutStatements({ statement: 0, lock: 0, idleInTransaction: 0 }));
  await client.query('BEGIN');
  try {
    await replicaRole(client);
    for (const table of tables) {
      const derived = table.columns.filter((c) => c.mask.kind === 'derived');
      log?.(`Recomputing ${table.schema}.${table.table} (${derived.map((c) => c.column).join(', ')}) from the masked values …`);
      const { enable, restore } = derivedTriggers(table);
      for (const statement of enable) await client.query(statement);
      // Setting a masked column to itself fires the triggers (UPDATE OF included) on the masked row.
      const sets = table.columns.filter((c) => c.mask.kind !== 'derived').map((c) => `${quoteIdent(c.column)} = ${quoteIdent(c.column)}`);
      await client.query(`UPDATE ONLY ${relationSql(table)} SET ${sets.join(', ')}`);
      for (const statement of restore) await client.query(statement);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  await client.query(`VACUUM (FULL, ANALYZE) ${tables.map(relationSql).join(', ')}`);
}

async function replicaRole(client: Client): Promise<void> {
  await client.query('SET LOCAL session_replication_role = replica').catch((error: unknown) => {
    throw new ExternalError('masking_not_permitted', `masking needs a superuser (to turn triggers off): ${(error as Error).message}`, {
      hint: 'run ayb as a superuser on the server that holds the branches',
      cause: error,
    });
  });
}

/**
 * Masks a database in place (a same-server copy, just made): every rule's column, the columns whose
 * foreign keys point at one, and partitions, in one transaction with triggers and foreign-key checks
 * off (session_replication_role = replica). Then nothing of the original values may survive in the
 * database's files: the masked tables are rewritten (VACUUM FULL: no dead tuples, fresh indexes and
 * TOAST), materialized views refreshed, statistics (which sample values) gathered anew, and the
 * statistics catalogs rewritten too. The functions are dropped; the key was only ever a parameter.
 */
export async function maskInPlace(client: Client, rules: readonly MaskingRule[], secret: string, log?: (line: string) => void): Promise<MaskSummary> {
  // The copy carries its source database's settings (and the role may have its own): a
  // statement_timeout meant for the application must not cut short an UPDATE or VACUUM FULL of a
  // large table, which makes the create fail.
  await client.query(timeoutStatements({ statement: 0, lock: 0, idleInTransaction: 0 }));
  await client.query(MASK_SESSION_SQL);
  const plan = await planInPlace(client, rules);
  const rows = plan.tables.filter((t) => t.relkind !== 'p');
  await client.query('BEGIN');
  try {
    await replicaRole(client);
    await client.query(MASK_FUNCTIONS_SQL);
    const key = sqlKey(secret);
    for (const table of rows) {
      log?.(`Masking ${table.schema}.${table.table} (${table.columns.map((c) => c.column).join(', ')}) …`);
      const update = updateStatement(table);
      const { enable, restore } = derivedTriggers(table);
      for (const statement of enable) await client.query(statement);
      // A table whose rules need no key (only `sql` expressions) has no $1 to bind it to.
      await client.query(update, table.columns.some((c) => c.mask.kind === 'function') ? [key] : []);
      for (const statement of restore) await client.query(statement);
    }
    await client.query(`DROP SCHEMA ${MASK_SCHEMA} CASCADE`);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  await scrubOriginals(client, plan);
  return { tables: plan.tables.map((t) => `${t.schema}.${t.table}`), columns: plan.tables.reduce((n, t) => n + t.columns.length, 0) };
}

export async function planInPlace(client: Client, rules: readonly MaskingRule[]): Promise<MaskPlan> {
  const plan = planMasking(await readCatalog(client), rules);
  if (plan.problems.length > 0) throw rulesError(plan.problems);
  return plan;
}

/** Rewrites what still holds original values after the UPDATE: old row versions, index entries, TOAST, statistics. */
async function scrubOriginals(client: Client, plan: MaskPlan): Promise<void> {
  const leaves = plan.tables.filter((t) => t.relkind !== 'p').map(relationSql);
  const partitioned = plan.tables.filter((t) => t.relkind === 'p').map(relationSql);
  const { rows: views } = await client.query<{ name: string }>(
    `SELECT format('%I.%I', schemaname, matviewname) AS name FROM pg_matviews WHERE ispopulated ORDER BY (schemaname || '.' || matviewname)::regclass::oid`,
  );
  for (const view of views) await client.query(`REFRESH MATERIALIZED VIEW ${view.name}`);
  if (leaves.length > 0) await client.query(`VACUUM (FULL, ANALYZE) ${leaves.join(', ')}`);
  const analyse = [...partitioned, ...views.map((v) => v.name)];
  if (analyse.length > 0) await client.query(`ANALYZE ${analyse.join(', ')}`);
  await client.query('VACUUM FULL pg_catalog.pg_statistic, pg_catalog.pg_statistic_ext_data');
}
