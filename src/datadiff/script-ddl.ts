import { quoteIdent, quoteLiteral } from '../postgres/quote.js';
import { type DataTable, tableId } from './catalog.js';
import type { Side } from './compare.js';
import { commentText, noted } from './sql.js';

/**
 * The DDL a script of rows runs around them (and what applying it takes): keys lifted, event triggers
 * held off, the header's note of privileges.
 */

/**
 * `ALTER EVENT TRIGGER … DISABLE` for each of the database's enabled event triggers, or the ENABLE that
 * puts each back in its mode: the SQL ayb writes holds user triggers off with DDL (and sets rows aside
 * in temporary tables), which an event trigger (an audit of DDL) would act on as if it were the user's.
 * Inside the transaction, so no other session sees them off. An event trigger's owner is a superuser:
 * only a superuser may apply it (said in the header, privilegeNote).
 */
export function eventTriggerStatements(eventTriggers: Readonly<Record<string, string>> | undefined, verb: 'DISABLE' | 'ENABLE'): string[] {
  const mode = (m: string) => (verb === 'DISABLE' ? '' : ({ A: ' ALWAYS', R: ' REPLICA' } as Record<string, string>)[m] ?? '');
  return Object.entries(eventTriggers ?? {}).map(([name, m]) => `ALTER EVENT TRIGGER ${quoteIdent(name)} ${verb}${mode(m)};`);
}

/**
 * Statements only a superuser may run (an event trigger held off or put back), in one block that runs
 * them for a superuser and skips them for another role: a table's owner may still apply the script,
 * with the database's event triggers left on (they then see the script's own DDL; the header says so).
 */
export function asSuperuser(statements: readonly string[]): string[] {
  if (statements.length === 0) return [];
  const run = statements.map((sql) => `EXECUTE ${quoteLiteral(sql.replace(/;$/, ''))};`).join(' ');
  return [`DO $ayb$ BEGIN IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER) THEN ${run} END IF; END $ayb$;`];
}

/** A foreign key lifted around the script's rows: dropped, then added again as it was. */
export interface LiftedKey {
  /** The child table, schema-qualified and quoted. */
  readonly child: string;
  readonly name: string;
  /** pg_get_constraintdef(), read under an empty search_path (names qualified). */
  readonly definition: string;
  readonly comment: string | null;
  /**
   * The partitions' copies of the key that have a name other than the parent's or a comment (a partition
   * attached with an equivalent key of its own keeps it): deepest first, added before the parent's key,
   * which adopts them as PostgreSQL does at ATTACH PARTITION.
   */
  readonly parts?: readonly LiftedKey[];
}

interface Part extends LiftedKey {
  readonly top: string;
}

/**
 * The foreign keys with a delete action that point at the tables (or at a partitioned table above them),
 * each once; and the NOT VALID foreign keys of the tables `own` (rows already violating one could not be
 * inserted again under it: it is added again NOT VALID, its definition says so).
 */
export async function liftedKeys(a: Side, tables: readonly DataTable[], own: readonly DataTable[] = []): Promise<LiftedKey[]> {
  const owned = own.length === 0 ? [] : (await a.client.query<LiftedKey>(
    `SELECT pg_catalog.format('%I.%I', cn.nspname, cc.relname) AS child, con.conname AS name,
            pg_catalog.pg_get_constraintdef(con.oid) AS definition, pg_catalog.obj_description(con.oid, 'pg_constraint') AS comment
       FROM pg_catalog.pg_constraint con
       JOIN pg_catalog.pg_class cc ON cc.oid OPERATOR(pg_catalog.=) con.conrelid
       JOIN pg_catalog.pg_namespace cn ON cn.oid OPERATOR(pg_catalog.=) cc.relnamespace
      WHERE con.contype OPERATOR(pg_catalog.=) 'f' AND NOT con.convalidated AND con.conparentid OPERATOR(pg_catalog.=) 0
        AND con.conrelid OPERATOR(pg_catalog.=) ANY ($1::text[]::pg_catalog.regclass[])
      ORDER BY con.oid`,
    [own.map(tableId)],
  )).rows;
  if (tables.length === 0) return owned;
  const { rows } = await a.client.query<LiftedKey & { oid: string }>(
    `SELECT DISTINCT ON (con.oid) con.oid::pg_catalog.text AS oid, pg_catalog.format('%I.%I', cn.nspname, cc.relname) AS child, con.conname AS name,
            pg_catalog.pg_get_constraintdef(con.oid) AS definition, pg_catalog.obj_description(con.oid, 'pg_constraint') AS comment
       FROM pg_catalog.pg_constraint con
       JOIN pg_catalog.pg_class cc ON cc.oid OPERATOR(pg_catalog.=) con.conrelid
       JOIN pg_catalog.pg_namespace cn ON cn.oid OPERATOR(pg_catalog.=) cc.relnamespace
       JOIN pg_catalog.unnest($1::text[]) AS t(id) ON (con.confrelid OPERATOR(pg_catalog.=) t.id::pg_catalog.regclass
            -- (a table that is no partition has no ancestors, not even itself)
            OR con.confrelid IN (SELECT relid FROM pg_catalog.pg_partition_ancestors(t.id::pg_catalog.regclass)))
      WHERE con.contype OPERATOR(pg_catalog.=) 'f' AND con.conparentid OPERATOR(pg_catalog.=) 0 AND con.confdeltype OPERATOR(pg_catalog.<>) 'a'
      ORDER BY con.oid`,
    [tables.map(tableId)],
  );
  const { rows: parts } = await a.client.query<Part>(
    `WITH RECURSIVE part(oid, top, depth) AS (
       SELECT con.oid, top.oid, 1 FROM pg_catalog.pg_constraint con JOIN pg_catalog.pg_constraint top ON top.oid OPERATOR(pg_catalog.=) con.conparentid
        WHERE top.oid OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.oid[]) AND con.confrelid OPERATOR(pg_catalog.=) top.confrelid
       UNION ALL
       SELECT con.oid, part.top, part.depth OPERATOR(pg_catalog.+) 1 FROM pg_catalog.pg_constraint con JOIN part ON con.conparentid OPERATOR(pg_catalog.=) part.oid
        JOIN pg_catalog.pg_constraint top ON top.oid OPERATOR(pg_catalog.=) part.top WHERE con.confrelid OPERATOR(pg_catalog.=) top.confrelid)
     SELECT part.top::pg_catalog.text AS top, pg_catalog.format('%I.%I', cn.nspname, cc.relname) AS child, con.conname AS name,
            pg_catalog.pg_get_constraintdef(con.oid) AS definition, pg_catalog.obj_description(con.oid, 'pg_constraint') AS comment
       FROM part JOIN pg_catalog.pg_constraint con ON con.oid OPERATOR(pg_catalog.=) part.oid
       JOIN pg_catalog.pg_constraint top ON top.oid OPERATOR(pg_catalog.=) part.top
       JOIN pg_catalog.pg_class cc ON cc.oid OPERATOR(pg_catalog.=) con.conrelid
       JOIN pg_catalog.pg_namespace cn ON cn.oid OPERATOR(pg_catalog.=) cc.relnamespace
      WHERE con.conname OPERATOR(pg_catalog.<>) top.conname OR pg_catalog.obj_description(con.oid, 'pg_constraint') IS NOT NULL
      ORDER BY part.depth DESC, con.oid`,
    [rows.map((k) => k.oid)],
  );
  const lifted = rows.filter((k) => !owned.some((o) => o.child === k.child && o.name === k.name)).map(({ oid, ...k }) => {
    const mine = parts.filter((p) => p.top === oid).map(({ top: _top, ...p }) => p);
    return mine.length === 0 ? k : { ...k, parts: mine };
  });
  return [...lifted, ...owned];
}

export const dropKey = (k: LiftedKey): string => `ALTER TABLE ${k.child} DROP CONSTRAINT ${quoteIdent(k.name)};\n`;
export const addKey = (k: LiftedKey): string => `${(k.parts ?? []).map(addKey).join('')}ALTER TABLE ${k.child} ADD CONSTRAINT ${quoteIdent(k.name)} ${k.definition};\n${
  k.comment === null ? '' : `COMMENT ON CONSTRAINT ${quoteIdent(k.name)} ON ${k.child} IS ${quoteLiteral(k.comment)};\n`}`;

/**
 * What applying the script takes beyond writing the rows, said in its header: ALTER TABLE … DISABLE
 * TRIGGER is for a table's owner (or a superuser), setting rows aside takes a temporary table, and
 * holding event triggers off a superuser.
 */
export function privilegeNote(withTriggers: readonly DataTable[], temporary: boolean, eventTriggers: readonly string[] = [], liftedOn: readonly string[] = []): string {
  const lines: string[] = [];
  if (liftedOn.length > 0) {
    lines.push(`-- Applying it takes the ownership of ${liftedOn.map(commentText).join(', ')}: it drops foreign keys of theirs that act on rows it deletes`,
      '-- and inserts again (or NOT VALID ones that rows already violate), and adds them again (validated, or NOT VALID) before COMMIT.');
  }
  if (eventTriggers.length > 0) {
    lines.push(`-- Applied by a superuser, it holds off the event trigger(s) ${eventTriggers.map((e) => commentText(quoteIdent(e))).join(', ')} (ALTER EVENT TRIGGER … DISABLE,`,
      '-- and ENABLE again before COMMIT), which would otherwise log or act on the DDL it runs to hold user triggers off;',
      '-- applied by another role (only a superuser may alter an event trigger), they stay on and see that DDL.');
  }
  if (withTriggers.length > 0) {
    lines.push(`-- Applying it takes the ownership of ${withTriggers.map(noted).join(', ')} (or a superuser): it disables their user`,
      '-- triggers and rules by name (ALTER TABLE … DISABLE TRIGGER / RULE) and enables them again, which only an owner may; a role that',
      '-- may only write the rows gets "must be owner of table" and nothing is applied.');
  }
  if (temporary) lines.push('-- It sets child rows aside in temporary tables (dropped at COMMIT): the TEMPORARY privilege on the database.');
  return lines.map((l) => `${l}\n`).join('');
}
