import type { Client } from '../postgres/client.js';
import { quoteIdent } from '../postgres/quote.js';
import type { QueryResult } from 'pg';

/**
 * What the data diff needs to know about one side's tables, read from pg_catalog directly (the
 * schema snapshot is a peer layer and stays independent): columns, the key rows are matched by,
 * the user triggers to hold off while DML is applied, and the foreign keys that order it.
 */
export interface DataColumn {
  readonly name: string;
  /** format_type(): the type as SQL spells it, for casts in generated DML. */
  readonly type: string;
  /** A generated column is compared but never written. */
  readonly generated: boolean;
  /** GENERATED ALWAYS AS IDENTITY: an INSERT needs OVERRIDING SYSTEM VALUE. */
  readonly identityAlways: boolean;
  /**
   * The enum types (format_type) the column's values hold, however deep: the type itself, or through
   * domains, arrays, composite types and ranges (a domain over an enum, an array of a composite of one).
   */
  readonly enums?: readonly string[];
}

export type MatchKind = 'primary_key' | 'unique_index' | 'rows';

export interface DataTable {
  readonly schema: string;
  readonly name: string;
  /** Columns in attnum order. */
  readonly columns: readonly DataColumn[];
  /** The primary key, else the first unique index on not-null columns without expressions or predicate; else null. */
  readonly key: DataKey | null;
  /**
   * Every key rows could be matched by: the primary key, then the unique indexes on not-null columns,
   * oldest first (`[key]` when absent).
   */
  readonly keys?: readonly DataKey[];
  /** Enabled user triggers, disabled by name around generated DML so they cannot rewrite the rows. */
  readonly triggers: readonly string[];
  /**
   * How each of `triggers` is enabled (pg_trigger.tgenabled: O origin, A always, R replica): a script
   * that disables a trigger enables it again in the same mode (a bare ENABLE would make an ALWAYS or
   * REPLICA trigger an ordinary one).
   */
  readonly triggerModes?: Readonly<Record<string, string>>;
  /**
   * Enabled rules of the table (pg_rewrite, not a view's `_RETURN`) with how each is enabled
   * (ev_enabled: O origin, A always, R replica): the merge holds them off while it writes rows (a DO
   * ALSO rule would write again what the branch's rows already hold) and puts each back in its mode.
   */
  readonly rules?: Readonly<Record<string, string>>;
  /**
   * For a partition (a leaf): its partitioned root, schema-qualified and quoted. The merge inserts a
   * leaf's new rows through it, so that each lands in the partition the target routes it to (main may
   * have split a partition since the branch wrote the row).
   */
  readonly root?: string;
  /** Tables this one references by foreign key (leaf tables, as tableId). */
  readonly references: readonly string[];
  /**
   * Some foreign key pointing at this table acts when a row is deleted (CASCADE, SET NULL, SET DEFAULT,
   * RESTRICT): a changed row deleted and inserted again would fire it, so it is updated in place, or
   * the keys are set aside (the diff's script, sql.ts) or lifted (the merge, merge-stage.ts swapPlan).
   */
  readonly deleteActions?: boolean;
  /**
   * The foreign keys with a delete action that point at this table, when each is a plain one (no
   * partitioned table on either end): the child table, its columns, and the columns here they point at.
   * Absent when some such key is not plain.
   */
  readonly actedOnBy?: readonly ActingKey[];
  /**
   * The table has a foreign key added NOT VALID (rows it never checked may break it): its changed rows are
   * updated in place, as the branch's own UPDATE was (unchecked while the key's columns stay), never deleted
   * and inserted again (an INSERT is checked).
   */
  readonly notValidReferences?: boolean;
  /** How many unique indexes and exclusion constraints the table has (a value two rows swap conflicts in each). */
  readonly uniqueIndexes?: number;
  /** pg_class.reltuples, -1 when never analysed. */
  readonly estimatedRows: number;
  /** pg_table_size() when the catalog was read: the table's size now (a table of a few pages is read whole, without checksums). */
  readonly bytes?: number;
}

/** A foreign key that acts when a row it points at is deleted. */
export interface ActingKey {
  /** The child table (tableId). */
  readonly child: string;
  readonly columns: readonly string[];
  readonly refColumns: readonly string[];
  /**
   * Per column, the foreign key's own PK = FK equality operator (conpfeqop), `=` when pg_catalog's, else
   * schema-qualified: the child rows a delete acts on are those it finds equal (citext's, not text's).
   */
  readonly equality?: readonly string[];
}

export interface DataKey {
  readonly kind: Exclude<MatchKind, 'rows'>;
  readonly columns: readonly string[];
  /**
   * Per column, the index's own equality operator: `=` when it is pg_catalog's, else schema-qualified
   * (`OPERATOR(public.=)` for ltree or citext): with search_path pinned empty, a bare `=` finds only
   * pg_catalog's operators.
   */
  readonly equality?: readonly string[];
  /**
   * A partition's key that is its partitioned root's too (the index is a partition of the root's
   * unique index): unique across every partition, so a row is found through the root by it.
   */
  readonly rootWide?: boolean;
}

export interface DataSequence {
  readonly schema: string;
  readonly name: string;
}

export interface DataCatalog {
  readonly tables: ReadonlyMap<string, DataTable>;
  readonly sequences: readonly DataSequence[];
  /** Enum types (format_type, as columns' types are written) → their labels in order. */
  readonly enums?: ReadonlyMap<string, readonly string[]>;
  /**
   * The database's enabled event triggers, name → how each is enabled (evtenabled: O origin, A always,
   * R replica): SQL that writes rows and holds triggers off with DDL (ALTER TABLE … DISABLE TRIGGER, a
   * temporary table, a lifted key) holds them off too, or an audit of DDL would log the script's own.
   */
  readonly eventTriggers?: Readonly<Record<string, string>>;
}

export function keysOf(t: DataTable): readonly DataKey[] {
  return t.keys ?? (t.key ? [t.key] : []);
}

/**
 * Where the merge reads and writes a table's rows by `key`: a partition's partitioned root when the
 * key is the root's too (rootWide), for the target's row of a key may lie in another partition than
 * the branch's (main split or re-partitioned the table since); else the table itself.
 */
export function rowsTable(t: DataTable, key: readonly string[]): string {
  const k = keysOf(t).find((x) => x.columns.length === key.length && x.columns.every((c) => key.includes(c)));
  return t.root !== undefined && k?.rootWide === true ? t.root : tableId(t);
}

/**
 * A table's identity, as the maps and sets of the data diff and the merge key it: its schema and name
 * each quoted (`"dot"."a.b"`), so that no two tables share one (`schema.name` joined as it is would
 * make schema "dot" table "a.b" and schema "dot.a" table "b" one). Also valid SQL for the table.
 */
export function tableId(t: { readonly schema: string; readonly name: string }): string {
  return `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
}

/** The SQL expression that computes tableId from a schema and a name column (`n.nspname`, `c.relname`). */
export function tableIdSql(schema: string, name: string): string {
  return `'"' || pg_catalog.replace(${schema}, '"', '""') || '"."' || pg_catalog.replace(${name}, '"', '""') || '"'`;
}

/**
 * A table as its `schema.name` text, for the `table` field of JSON records (which also carry `schema`
 * and `name` apart: this text alone may be two tables').
 */
export function tableName(t: { readonly schema: string; readonly name: string }): string {
  return `${t.schema}.${t.name}`;
}

/**
 * A table as people read it in text output, SQL comments and messages: `schema.name`, a part quoted
 * when it holds a dot, a double quote or a backslash, or is empty (`dot."a.b"` and `"dot.a".b`), so
 * that the label is one table's.
 */
export function tableLabel(t: { readonly schema: string; readonly name: string }): string {
  const part = (p: string) => (p === '' || /[."\\]/.test(p) ? quoteIdent(p) : p);
  return `${part(t.schema)}.${part(t.name)}`;
}

/**
 * The tables of `ids` (tableId) a user's name for a table means: its `schema.name` text as it is, its
 * label, its identity, or a bare name for `public.name`.
 */
export function tablesNamed(ids: Iterable<string>, tables: (id: string) => { readonly schema: string; readonly name: string } | undefined, text: string): string[] {
  const out: string[] = [];
  for (const id of ids) {
    const t = tables(id);
    if (!t) continue;
    if (tableName(t) === text || tableLabel(t) === text || id === text || (!text.includes('.') && t.schema === 'public' && t.name === text)) out.push(id);
  }
  return out;
}

/** Schemas that are the server's, not the user's. */
const SYSTEM_SCHEMAS = `n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp_%' AND n.nspname NOT LIKE 'pg_toast_temp_%'`;
/** Objects an extension owns come back with the extension; their rows are not the user's data. */
const NOT_EXTENSION = `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')`;
/** The oids of the tables that hold rows (as the first query reads them), for the other queries. */
const TABLE_OIDS = `SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND ${SYSTEM_SCHEMAS} AND ${NOT_EXTENSION}`;

/**
 * pg_catalog's `=` operator `op` is written bare only when it takes a type of its own: a polymorphic one
 * (anyarray's, anyenum's, record's) is written `OPERATOR(pg_catalog.=)`, for a user's `=` of the exact
 * type (text[] = text[]) would be a better match for a bare `=` where public is on the search_path (the
 * merge's sessions).
 */
const MONOMORPHIC = `NOT EXISTS (SELECT FROM pg_type pt WHERE pt.oid = op.oprleft AND pt.typtype = 'p')`;

/** Candidate keys of each table: primary key first, then unique indexes on plain not-null columns, oldest first; with each column's equality operator. */
const KEYS_SQL = `SELECT i.indrelid, i.indisprimary AS primary,
            coalesce((SELECT ri.indrelid FROM pg_catalog.pg_index ri WHERE ri.indexrelid OPERATOR(pg_catalog.=) pg_catalog.pg_partition_root(i.indexrelid))
                     OPERATOR(pg_catalog.=) pg_catalog.pg_partition_root(i.indrelid), false) AS root_wide,
            pg_catalog.array_agg(a.attname::text ORDER BY k.ord) AS columns,
            -- the index's own operator (record_image_ops' *=, not record's =), under the index's own collation when it
            -- is not the column's (written before the operator: the left side is always a column)
            pg_catalog.array_agg(CASE WHEN i.indcollation[(k.ord - 1)::int] NOT IN (0, a.attcollation)
                             THEN pg_catalog.format('COLLATE %I.%I ', icn.nspname, ic.collname) ELSE '' END
                      || CASE WHEN op.oid IS NULL OR (opn.nspname = 'pg_catalog' AND op.oprname = '=' AND ${MONOMORPHIC}) THEN '=' ELSE pg_catalog.format('OPERATOR(%I.%s)', opn.nspname, op.oprname) END ORDER BY k.ord) AS equality
       FROM pg_index i
       CROSS JOIN LATERAL pg_catalog.unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
       LEFT JOIN pg_opclass oc ON oc.oid = i.indclass[(k.ord - 1)::int]
       LEFT JOIN pg_amop ao ON ao.amopfamily = oc.opcfamily AND ao.amopmethod = oc.opcmethod AND ao.amopstrategy = 3
            AND ao.amoplefttype = oc.opcintype AND ao.amoprighttype = oc.opcintype
       LEFT JOIN pg_operator op ON op.oid = ao.amopopr
       LEFT JOIN pg_namespace opn ON opn.oid = op.oprnamespace
       LEFT JOIN pg_collation ic ON ic.oid = i.indcollation[(k.ord - 1)::int]
       LEFT JOIN pg_namespace icn ON icn.oid = ic.collnamespace
      WHERE i.indrelid IN (${TABLE_OIDS}) AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL
        AND k.ord <= i.indnkeyatts
      GROUP BY i.indrelid, i.indexrelid, i.indisprimary
     HAVING bool_and(a.attnotnull)
      ORDER BY i.indrelid, i.indisprimary DESC, i.indexrelid`;

/** Tables (leaves) that a foreign key with a delete action other than NO ACTION points at: whether the child is plain, and the columns. */
const ACTED_ON_SQL = `SELECT p.relid,
            (con.conparentid = 0 OR (cc.relispartition AND parent.conrelid <> con.conrelid AND parent.confrelid = con.confrelid))
              AND cc.relkind = 'r' AND rc.relkind = 'r' AND p.relid = con.confrelid AS plain,
            cn.nspname AS schema, cc.relname AS name,
            ARRAY(SELECT a.attname::text FROM pg_catalog.unnest(con.conkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.o) AS columns,
            ARRAY(SELECT a.attname::text FROM pg_catalog.unnest(con.confkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.o) AS ref_columns,
            ARRAY(SELECT CASE WHEN opn.nspname = 'pg_catalog' AND op.oprname = '=' AND ${MONOMORPHIC} THEN '=' ELSE pg_catalog.format('OPERATOR(%I.%s)', opn.nspname, op.oprname) END
                    FROM pg_catalog.unnest(con.conpfeqop) WITH ORDINALITY k(op, o) JOIN pg_operator op ON op.oid = k.op JOIN pg_namespace opn ON opn.oid = op.oprnamespace ORDER BY k.o) AS equality
       FROM pg_constraint con
       JOIN pg_class cc ON cc.oid = con.conrelid
       JOIN pg_namespace cn ON cn.oid = cc.relnamespace
       JOIN pg_class rc ON rc.oid = con.confrelid
       LEFT JOIN pg_constraint parent ON parent.oid = con.conparentid
       CROSS JOIN LATERAL (SELECT con.confrelid AS relid UNION SELECT relid FROM pg_partition_tree(con.confrelid)) p
      WHERE con.contype = 'f' AND con.confdeltype <> 'a'
        -- a partitioned child's rows are in its leaves, each with its own copy of the foreign key (listed)
        AND cc.relkind <> 'p'`;

/**
 * The enum types each column's type reaches: through a domain's base, an array's element, a composite's
 * attributes, a range's (or multirange's) subtype, down every level.
 */
const COLUMN_ENUMS_SQL = `WITH RECURSIVE reach(root, t) AS (
   SELECT DISTINCT a.atttypid, a.atttypid FROM pg_attribute a WHERE a.attrelid IN (${TABLE_OIDS}) AND a.attnum > 0 AND NOT a.attisdropped
   UNION
   SELECT r.root, x.next FROM reach r JOIN pg_type ty ON ty.oid = r.t
    CROSS JOIN LATERAL (
      SELECT ty.typbasetype WHERE ty.typtype = 'd'
      UNION ALL SELECT ty.typelem WHERE ty.typelem <> 0 AND ty.typsubscript = 'pg_catalog.array_subscript_handler'::pg_catalog.regproc
      UNION ALL SELECT ca.atttypid FROM pg_attribute ca WHERE ty.typtype = 'c' AND ca.attrelid = ty.typrelid AND ca.attnum > 0 AND NOT ca.attisdropped
      UNION ALL SELECT rg.rngsubtype FROM pg_range rg WHERE rg.rngtypid = ty.oid OR rg.rngmultitypid = ty.oid) AS x(next))
 SELECT a.attrelid, a.attname AS name, format_type(r.t, NULL) AS type
   FROM pg_attribute a JOIN reach r ON r.root = a.atttypid JOIN pg_type e ON e.oid = r.t AND e.typtype = 'e'
  WHERE a.attrelid IN (${TABLE_OIDS}) AND a.attnum > 0 AND NOT a.attisdropped`;

/** The database's enabled event triggers, with how each is enabled (a catalog's eventTriggers). */
export const EVENT_TRIGGERS_SQL = "SELECT evtname AS name, evtenabled::text AS enabled FROM pg_event_trigger WHERE evtenabled <> 'D' ORDER BY evtname";

/**
 * Reads the tables that hold rows: plain tables and partitions (relkind r); a partitioned parent
 * holds none of its own, so its rows are compared in its partitions. `exclude` names tables
 * (`schema.name`, a schema without a dot) that are never data, like ayb's control table.
 */
export async function readCatalog(client: Client, exclude: readonly string[] = []): Promise<DataCatalog> {
  const batch: string[] = [];
  const q = <T>(sql: string) => {
    batch.push(sql);
    const i = batch.length - 1;
    return (results: readonly QueryResult[]) => results[i]!.rows as T[];
  };
  const tablesRows = q<{ oid: number; schema: string; name: string; reltuples: number; uniques: number; bytes: number; root: string | null }>(
    `SELECT c.oid, n.nspname AS schema, c.relname AS name, c.reltuples::float8 AS reltuples, pg_catalog.pg_table_size(c.oid)::float8 AS bytes,
            CASE WHEN c.relispartition THEN (SELECT pg_catalog.quote_ident(rn.nspname) OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(rc.relname)
                                               FROM pg_catalog.pg_class rc JOIN pg_catalog.pg_namespace rn ON rn.oid OPERATOR(pg_catalog.=) rc.relnamespace
                                              WHERE rc.oid OPERATOR(pg_catalog.=) pg_catalog.pg_partition_root(c.oid)) END AS root,
            (SELECT count(*)::int FROM pg_index i WHERE i.indrelid = c.oid AND (i.indisunique OR i.indisexclusion)) AS uniques
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND ${SYSTEM_SCHEMAS} AND ${NOT_EXTENSION}
      ORDER BY 2, 3`,
  );
  const columnsRows = q<{ attrelid: number; name: string; type: string; generated: boolean; identity_always: boolean }>(
    `SELECT a.attrelid, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
            a.attgenerated <> '' AS generated, a.attidentity = 'a' AS identity_always
       FROM pg_attribute a
      WHERE a.attrelid IN (${TABLE_OIDS}) AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attrelid, a.attnum`,
  );
  // Primary key first, then unique indexes on plain not-null columns, oldest first.
  const keysRows = q<{ indrelid: number; primary: boolean; root_wide: boolean; columns: string[]; equality: string[] }>(
    KEYS_SQL,
  );
  const triggersRows = q<{ tgrelid: number; name: string; enabled: string }>(
    `SELECT tgrelid, tgname AS name, tgenabled::text AS enabled FROM pg_trigger WHERE tgrelid IN (${TABLE_OIDS}) AND NOT tgisinternal AND tgenabled <> 'D' ORDER BY tgname`,
  );
  const rulesRows = q<{ relid: number; name: string; enabled: string }>(
    `SELECT ev_class AS relid, rulename AS name, ev_enabled::text AS enabled FROM pg_rewrite WHERE ev_class IN (${TABLE_OIDS}) AND rulename <> '_RETURN' AND ev_enabled <> 'D' ORDER BY rulename`,
  );
  // A foreign key to a partitioned table points at its leaves, where the rows are.
  const referencesRows = q<{ conrelid: number; schema: string; name: string; not_valid: boolean }>(
    `SELECT con.conrelid, n.nspname AS schema, c.relname AS name, bool_or(NOT con.convalidated) AS not_valid
       FROM pg_constraint con
       CROSS JOIN LATERAL (SELECT con.confrelid AS relid UNION SELECT relid FROM pg_partition_tree(con.confrelid)) p
       JOIN pg_class c ON c.oid = p.relid AND c.relkind = 'r'
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE con.contype = 'f' AND con.conrelid IN (${TABLE_OIDS})
      GROUP BY 1, 2, 3`,
  );
  // Tables (leaves) that a foreign key with a delete action other than NO ACTION points at.
  // With each, whether it is a plain one (between two plain tables: its own constraint, or a leaf's copy of
  // its partitioned table's, whose rows can be set aside and put back in that leaf), and its columns.
  const actedRows = q<{ relid: number; plain: boolean; schema: string; name: string; columns: string[]; ref_columns: string[]; equality: string[] }>(
    ACTED_ON_SQL,
  );
  const sequencesRows = q<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'S' AND ${SYSTEM_SCHEMAS} AND ${NOT_EXTENSION} ORDER BY 1, 2`,
  );

  const columnEnumsRows = q<{ attrelid: number; name: string; type: string }>(COLUMN_ENUMS_SQL);
  const enumsRows = q<{ type: string; labels: string[] }>(
    `SELECT format_type(t.oid, NULL) AS type, pg_catalog.array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
       FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid GROUP BY t.oid`,
  );

  const eventTriggersRows = q<{ name: string; enabled: string }>(EVENT_TRIGGERS_SQL);

  // One round trip for all of it (a simple query of several statements, one result each).
  const all = (await client.query(batch.join(';\n'))) as unknown as QueryResult[];
  const tables = tablesRows(all);
  const columns = columnsRows(all);
  const keys = keysRows(all);
  const triggers = triggersRows(all);
  const rules = rulesRows(all);
  const references = referencesRows(all);
  const acted = actedRows(all);
  const sequences = sequencesRows(all);
  const enums = new Map(enumsRows(all).map((e) => [e.type, e.labels]));
  const eventTriggers = Object.fromEntries(eventTriggersRows(all).map((e) => [e.name, e.enabled]));
  const columnEnums = new Map<string, string[]>();
  for (const r of columnEnumsRows(all)) {
    const at = `${r.attrelid}/${r.name}`;
    columnEnums.set(at, [...(columnEnums.get(at) ?? []), r.type]);
  }

  const result = new Map<string, DataTable>();
  for (const t of tables) {
    const id = tableId(t);
    // `schema.name`, the schema's name without a dot (ayb's control table).
    if (exclude.some((x) => x.slice(0, x.indexOf('.')) === t.schema && x.slice(x.indexOf('.') + 1) === t.name)) continue;
    const candidates: DataKey[] = keys.filter((k) => k.indrelid === t.oid).map((k) => ({ kind: k.primary ? 'primary_key' : 'unique_index', columns: k.columns, equality: k.equality, ...(k.root_wide ? { rootWide: true } : {}) }));
    result.set(id, {
      schema: t.schema,
      name: t.name,
      columns: columns.filter((c) => c.attrelid === t.oid).map((c) => ({ name: c.name, type: c.type, generated: c.generated, identityAlways: c.identity_always, enums: columnEnums.get(`${t.oid}/${c.name}`) ?? [] })),
      key: candidates[0] ?? null,
      keys: candidates,
      triggers: triggers.filter((g) => g.tgrelid === t.oid).map((g) => g.name),
      triggerModes: Object.fromEntries(triggers.filter((g) => g.tgrelid === t.oid).map((g) => [g.name, g.enabled])),
      rules: Object.fromEntries(rules.filter((r) => r.relid === t.oid).map((r) => [r.name, r.enabled])),
      references: references.filter((r) => r.conrelid === t.oid).map(tableId),
      notValidReferences: references.some((r) => r.conrelid === t.oid && r.not_valid),
      deleteActions: acted.some((r) => r.relid === t.oid),
      ...(acted.every((r) => r.relid !== t.oid || r.plain)
        ? { actedOnBy: acted.filter((r) => r.relid === t.oid).map((r) => ({ child: tableId(r), columns: r.columns, refColumns: r.ref_columns, equality: r.equality })) }
        : {}),
      ...(t.root ? { root: t.root } : {}),
      uniqueIndexes: t.uniques,
      estimatedRows: t.reltuples,
      bytes: t.bytes,
    });
  }
  return { tables: result, sequences, enums, eventTriggers };
}
