import { CONTROL_SCHEMA, CONTROL_TABLE } from '../core/records.js';
import type { Client } from '../postgres/client.js';
import { quoteIdent, quoteLiteral } from '../postgres/quote.js';
import { commentTarget, grantTarget, kindModule } from './kinds/index.js';
import {
  type ConstraintType,
  type IdentityDefinition,
  objectId,
  type ObjectOf,
  type PolicyDefinition,
  type SchemaObject,
  type SchemaSnapshot,
  type SequenceOptions,
  type TriggerDefinition,
} from './model.js';


/** System schemas: never diffed. */
const SCHEMA_FILTER = `n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'`;

/**
 * Every query runs with search_path = '' and fixed output settings, so that pg_get_*def and
 * format_type print fully qualified names and constants (timestamps in partition bounds) print
 * the same whatever the database's or role's own settings are.
 */
const SESSION_SETTINGS = [
  "SELECT pg_catalog.set_config('search_path', '', true)",
  "SET LOCAL TimeZone = 'UTC'",
  "SET LOCAL DateStyle = 'ISO, MDY'",
  "SET LOCAL IntervalStyle = 'postgres'",
  'SET LOCAL extra_float_digits = 3',
];

const QUERIES = {
  depends: `
    SELECT d.classid::regclass::text AS class, d.objid::int8::text AS objid, d.objsubid,
           d.refclassid::regclass::text AS ref_class, d.refobjid::int8::text AS refobjid, d.refobjsubid, d.deptype
      FROM pg_depend d
     WHERE d.deptype IN ('n', 'a', 'e', 'i') AND d.objid >= 16384 AND d.refobjid >= 16384`,
  schemas: `
    SELECT n.oid::int8::text AS oid, n.nspname FROM pg_namespace n WHERE ${SCHEMA_FILTER}`,
  extensions: `
    SELECT e.oid::int8::text AS oid, e.extname, e.extversion, n.nspname
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace`,
  types: `
    SELECT t.oid::int8::text AS oid, t.typarray::int8::text AS typarray, n.nspname, t.typname, t.typtype,
           CASE WHEN t.typtype = 'e' THEN
             (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid)
           END AS labels,
           format_type(t.typbasetype, t.typtypmod) AS base_type,
           t.typnotnull,
           pg_get_expr(t.typdefaultbin, 0) AS default_expr,
           CASE WHEN t.typcollation <> 0 AND t.typcollation <> bt.typcollation THEN
             (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname)
                FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = t.typcollation)
           END AS collation,
           (SELECT coalesce(json_agg(json_build_object('oid', c.oid::int8::text, 'name', c.conname,
                                                        'definition', pg_get_constraintdef(c.oid)) ORDER BY c.conname), '[]')
              FROM pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c') AS constraints
      FROM pg_type t
      JOIN pg_namespace n ON n.oid = t.typnamespace
      LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
     WHERE t.typtype IN ('e', 'd') AND ${SCHEMA_FILTER}`,
  relations: `
    SELECT c.oid::int8::text AS oid, c.reltype::int8::text AS reltype, n.nspname, c.relname, c.relkind,
           c.relpersistence, c.relrowsecurity, c.relforcerowsecurity, c.reloptions,
           CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
           CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS partition_bound,
           (SELECT coalesce(array_agg(quote_ident(pn.nspname) || '.' || quote_ident(p.relname) ORDER BY i.inhseqno), '{}')
              FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
             WHERE i.inhrelid = c.oid) AS parents,
           (SELECT coalesce(array_agg(p.oid::int8::text ORDER BY i.inhseqno), '{}')
              FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent WHERE i.inhrelid = c.oid) AS parent_oids,
           c.relispartition, c.relreplident,
           (SELECT quote_ident(ri.relname) FROM pg_index i JOIN pg_class ri ON ri.oid = i.indexrelid
             WHERE i.indrelid = c.oid AND i.indisreplident) AS replident_index,
           CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END AS view_definition,
           (SELECT quote_ident(ci.relname) FROM pg_index i JOIN pg_class ci ON ci.oid = i.indexrelid
             WHERE i.indrelid = c.oid AND i.indisclustered) AS cluster_index,
           CASE WHEN c.relkind IN ('v', 'm') THEN
             (SELECT json_agg(json_build_object('num', a.attnum, 'name', a.attname) ORDER BY a.attnum)
                FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
           END AS view_columns,
           CASE WHEN c.relkind = 'v' THEN
             (SELECT json_agg(json_build_object('column', a.attname, 'default', pg_get_expr(d.adbin, d.adrelid)) ORDER BY a.attnum)
                FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE d.adrelid = c.oid)
           END AS view_defaults,
           (SELECT r.oid::int8::text FROM pg_rewrite r WHERE r.ev_class = c.oid AND r.rulename = '_RETURN') AS rule_oid,
           s.seqtypid, format_type(s.seqtypid, NULL) AS seq_type, s.seqstart::text, s.seqincrement::text,
           s.seqmin::text, s.seqmax::text, s.seqcache::text, s.seqcycle
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_sequence s ON s.seqrelid = c.oid
     WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND ${SCHEMA_FILTER}`,
  columns: `
    SELECT a.attrelid::int8::text AS relid, a.attnum, a.attname,
           format_type(a.atttypid, a.atttypmod) AS type,
           CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN
             (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname)
                FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation)
           END AS collation,
           a.attnotnull, a.attidentity, a.attgenerated, a.attinhcount, a.attislocal,
           NULLIF(a.attstattarget, -1) AS statistics, a.attstorage, t.typstorage, a.attcompression, a.attoptions,
           d.oid::int8::text AS attrdef_oid, pg_get_expr(d.adbin, d.adrelid) AS default_expr,
           s.seqrelid::int8::text AS identity_seq, s.seqstart::text, s.seqincrement::text, s.seqmin::text,
           s.seqmax::text, s.seqcache::text, s.seqcycle
      FROM pg_attribute a
      JOIN pg_class c ON c.oid = a.attrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_type t ON t.oid = a.atttypid
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      LEFT JOIN pg_depend sd ON a.attidentity <> '' AND sd.refclassid = 'pg_class'::regclass AND sd.refobjid = a.attrelid
            AND sd.refobjsubid = a.attnum AND sd.classid = 'pg_class'::regclass AND sd.deptype = 'i'
      LEFT JOIN pg_sequence s ON s.seqrelid = sd.objid
     WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped AND ${SCHEMA_FILTER}`,
  constraints: `
    SELECT co.oid::int8::text AS oid, co.conrelid::int8::text AS relid, co.conname, co.contype,
           pg_get_constraintdef(co.oid) AS definition, co.conindid::int8::text AS conindid,
           CASE WHEN co.contype IN ('p', 'u', 'x') THEN (SELECT ic.reloptions FROM pg_class ic WHERE ic.oid = co.conindid) END AS index_options
      FROM pg_constraint co
      JOIN pg_class c ON c.oid = co.conrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE co.contype IN ('p', 'u', 'c', 'f', 'x') AND co.conparentid = 0 AND (co.coninhcount = 0 OR co.conislocal) AND ${SCHEMA_FILTER}`,
  /** Constraints a partition gets from its parent's (and their indexes): their dependencies are the parent constraint's. */
  constraint_clones: `
    SELECT co.oid::int8::text AS oid, co.conparentid::int8::text AS parent, co.conindid::int8::text AS conindid,
           co.conrelid::int8::text AS relid
      FROM pg_constraint co
     WHERE co.conparentid <> 0`,
  indexes: `
    SELECT i.indexrelid::int8::text AS oid, i.indrelid::int8::text AS relid, ic.relname, n.nspname,
           pg_get_indexdef(i.indexrelid) AS definition,
           (SELECT ih.inhparent::int8::text FROM pg_inherits ih WHERE ih.inhrelid = i.indexrelid) AS parent_index,
           (SELECT array_agg(a.attnum || ' ' || a.attstattarget ORDER BY a.attnum) FROM pg_attribute a
             WHERE a.attrelid = i.indexrelid AND a.attstattarget >= 0) AS index_statistics
      FROM pg_index i
      JOIN pg_class ic ON ic.oid = i.indexrelid
      JOIN pg_namespace n ON n.oid = ic.relnamespace
     WHERE ${SCHEMA_FILTER}
       AND NOT EXISTS (SELECT 1 FROM pg_constraint co WHERE co.conindid = i.indexrelid AND co.contype IN ('p', 'u', 'x'))`,
  functions: `
    SELECT p.oid::int8::text AS oid, n.nspname, p.proname, p.prokind,
           pg_get_function_identity_arguments(p.oid) AS identity_arguments,
           pg_get_function_arguments(p.oid) AS arguments,
           pg_get_function_result(p.oid) AS result,
           CASE WHEN p.prokind <> 'a' THEN pg_get_functiondef(p.oid) END AS definition,
           a.aggtransfn::regproc::text AS sfunc, format_type(a.aggtranstype, NULL) AS stype,
           CASE WHEN a.aggfinalfn <> 0 THEN a.aggfinalfn::regproc::text END AS finalfunc,
           CASE WHEN a.aggcombinefn <> 0 THEN a.aggcombinefn::regproc::text END AS combinefunc,
           CASE WHEN a.aggsortop <> 0 THEN a.aggsortop::regoperator::text END AS sortop,
           a.agginitval, a.aggkind
      FROM pg_proc p
      JOIN pg_namespace n ON n.oid = p.pronamespace
      LEFT JOIN pg_aggregate a ON a.aggfnoid = p.oid
     WHERE ${SCHEMA_FILTER}`,
  collations: `
    SELECT co.oid::int8::text AS oid, n.nspname, co.collname, to_jsonb(co) AS raw
      FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace
     WHERE ${SCHEMA_FILTER}`,
  composites: `
    SELECT t.oid::int8::text AS oid, t.typarray::int8::text AS typarray, t.typrelid::int8::text AS relid, n.nspname, t.typname,
           (SELECT coalesce(json_agg(json_build_object('name', a.attname, 'num', a.attnum, 'type', format_type(a.atttypid, a.atttypmod),
                     'collation', CASE WHEN a.attcollation <> 0 AND a.attcollation <> at.typcollation THEN
                       (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname)
                          FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation) END)
                   ORDER BY a.attnum), '[]')
              FROM pg_attribute a JOIN pg_type at ON at.oid = a.atttypid
             WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) AS attributes
      FROM pg_type t
      JOIN pg_class c ON c.oid = t.typrelid AND c.relkind = 'c'
      JOIN pg_namespace n ON n.oid = t.typnamespace
     WHERE t.typtype = 'c' AND ${SCHEMA_FILTER}`,
  ranges: `
    SELECT t.oid::int8::text AS oid, t.typarray::int8::text AS typarray, n.nspname, t.typname,
           format_type(r.rngsubtype, NULL) AS subtype,
           CASE WHEN NOT opc.opcdefault THEN quote_ident(opn.nspname) || '.' || quote_ident(opc.opcname) END AS opclass,
           CASE WHEN r.rngcollation <> 0 AND r.rngcollation <> st.typcollation THEN
             (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname)
                FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = r.rngcollation)
           END AS collation,
           CASE WHEN r.rngcanonical <> 0 THEN r.rngcanonical::regproc::text END AS canonical,
           CASE WHEN r.rngsubdiff <> 0 THEN r.rngsubdiff::regproc::text END AS subdiff,
           r.rngmultitypid::int8::text AS multirange_oid, mt.typarray::int8::text AS multirange_array,
           quote_ident(mn.nspname) || '.' || quote_ident(mt.typname) AS multirange
      FROM pg_range r
      JOIN pg_type t ON t.oid = r.rngtypid
      JOIN pg_namespace n ON n.oid = t.typnamespace
      JOIN pg_type st ON st.oid = r.rngsubtype
      JOIN pg_opclass opc ON opc.oid = r.rngsubopc
      JOIN pg_namespace opn ON opn.oid = opc.opcnamespace
      JOIN pg_type mt ON mt.oid = r.rngmultitypid
      JOIN pg_namespace mn ON mn.oid = mt.typnamespace
     WHERE ${SCHEMA_FILTER}`,
  casts: `
    SELECT c.oid::int8::text AS oid, format_type(c.castsource, NULL) AS source, format_type(c.casttarget, NULL) AS target,
           c.castmethod, c.castcontext, CASE WHEN c.castfunc <> 0 THEN c.castfunc::regprocedure::text END AS func
      FROM pg_cast c
     WHERE c.oid >= 16384`,
  operators: `
    SELECT o.oid::int8::text AS oid, n.nspname, o.oprname,
           CASE WHEN o.oprleft <> 0 THEN format_type(o.oprleft, NULL) END AS lefttype,
           CASE WHEN o.oprright <> 0 THEN format_type(o.oprright, NULL) END AS righttype,
           o.oprcode::regproc::text AS func,
           CASE WHEN o.oprcom <> 0 THEN o.oprcom::regoperator::text END AS commutator,
           CASE WHEN o.oprnegate <> 0 THEN o.oprnegate::regoperator::text END AS negator,
           CASE WHEN o.oprrest <> 0 THEN o.oprrest::regproc::text END AS restrict,
           CASE WHEN o.oprjoin <> 0 THEN o.oprjoin::regproc::text END AS joinsel,
           o.oprcanhash, o.oprcanmerge
      FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
     WHERE ${SCHEMA_FILTER}`,
  event_triggers: `
    SELECT e.oid::int8::text AS oid, e.evtname, e.evtevent, e.evtfoid::regproc::text AS func, e.evtenabled, e.evttags
      FROM pg_event_trigger e`,
  foreign_servers: `
    SELECT s.oid::int8::text AS oid, s.srvname, w.fdwname, s.srvtype, s.srvversion, s.srvoptions
      FROM pg_foreign_server s JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw`,
  foreign_tables: `
    SELECT c.oid::int8::text AS oid, n.nspname, c.relname, s.srvname, ft.ftoptions,
           (SELECT coalesce(json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
                     'collation', CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN
                       (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname)
                          FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation) END,
                     'not_null', a.attnotnull, 'default', pg_get_expr(d.adbin, d.adrelid), 'options', coalesce(a.attfdwoptions, '{}'))
                   ORDER BY a.attnum), '[]')
              FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
              LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns
      FROM pg_foreign_table ft
      JOIN pg_class c ON c.oid = ft.ftrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_foreign_server s ON s.oid = ft.ftserver
     WHERE ${SCHEMA_FILTER}`,
  descriptions: `
    SELECT d.classoid::regclass::text AS class, d.objoid::int8::text AS objoid, d.objsubid, d.description
      FROM pg_description d
     WHERE d.objoid >= 16384 OR d.classoid = 'pg_namespace'::regclass`,
  statistics: `
    SELECT s.oid::int8::text AS oid, s.stxrelid::int8::text AS relid, n.nspname, s.stxname,
           pg_get_statisticsobjdef(s.oid) AS definition, NULLIF(s.stxstattarget, -1) AS target
      FROM pg_statistic_ext s
      JOIN pg_namespace n ON n.oid = s.stxnamespace
     WHERE ${SCHEMA_FILTER}`,
  rules: `
    SELECT r.oid::int8::text AS oid, r.ev_class::int8::text AS relid, r.rulename, pg_get_ruledef(r.oid) AS definition, r.ev_enabled
      FROM pg_rewrite r
     WHERE r.rulename <> '_RETURN'`,
  triggers: `
    SELECT t.oid::int8::text AS oid, t.tgrelid::int8::text AS relid, t.tgname, pg_get_triggerdef(t.oid) AS definition, t.tgenabled
      FROM pg_trigger t
     WHERE NOT t.tgisinternal AND t.tgparentid = 0`,
  policies: `
    SELECT p.oid::int8::text AS oid, p.polrelid::int8::text AS relid, p.polname, p.polcmd, p.polpermissive,
           CASE WHEN p.polroles = '{0}' THEN ARRAY['public']
                ELSE (SELECT array_agg(r.rolname::text ORDER BY r.rolname) FROM pg_roles r WHERE r.oid = ANY (p.polroles)) END AS roles,
           pg_get_expr(p.polqual, p.polrelid) AS using_expr, pg_get_expr(p.polwithcheck, p.polrelid) AS check_expr
      FROM pg_policy p`,
} as const;

/** Owners and access privileges: read only when `--owners` or `--privileges` asks for them. */
const ACL_QUERY = `
  SELECT 'pg_class' AS class, c.oid::int8::text AS oid, 0 AS sub, pg_get_userbyid(c.relowner) AS owner,
         coalesce(c.relacl, acldefault((CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END)::"char", c.relowner))::text[] AS acl
    FROM pg_class c WHERE c.oid >= 16384
  UNION ALL
  SELECT 'pg_class', a.attrelid::int8::text, a.attnum, NULL, coalesce(a.attacl, '{}')::text[]
    FROM pg_attribute a WHERE a.attrelid >= 16384 AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT 'pg_namespace', n.oid::int8::text, 0, pg_get_userbyid(n.nspowner), coalesce(n.nspacl, acldefault('n', n.nspowner))::text[]
    FROM pg_namespace n
  UNION ALL
  SELECT 'pg_proc', p.oid::int8::text, 0, pg_get_userbyid(p.proowner), coalesce(p.proacl, acldefault('f', p.proowner))::text[]
    FROM pg_proc p WHERE p.oid >= 16384
  UNION ALL
  SELECT 'pg_type', t.oid::int8::text, 0, pg_get_userbyid(t.typowner), coalesce(t.typacl, acldefault('T', t.typowner))::text[]
    FROM pg_type t WHERE t.oid >= 16384
  UNION ALL
  SELECT 'pg_collation', co.oid::int8::text, 0, pg_get_userbyid(co.collowner), NULL FROM pg_collation co WHERE co.oid >= 16384
  UNION ALL
  SELECT 'pg_operator', o.oid::int8::text, 0, pg_get_userbyid(o.oprowner), NULL FROM pg_operator o WHERE o.oid >= 16384
  UNION ALL
  SELECT 'pg_event_trigger', e.oid::int8::text, 0, pg_get_userbyid(e.evtowner), NULL FROM pg_event_trigger e
  UNION ALL
  SELECT 'pg_publication', p.oid::int8::text, 0, pg_get_userbyid(p.pubowner), NULL FROM pg_publication p
  UNION ALL
  SELECT 'pg_foreign_server', s.oid::int8::text, 0, pg_get_userbyid(s.srvowner), NULL FROM pg_foreign_server s`;

export interface SnapshotOptions {
  /** Compare owners (`ALTER … OWNER TO`): off by default, because roles differ across servers. */
  readonly owners?: boolean;
  /** Compare access privileges (GRANT / REVOKE): off by default, for the same reason. */
  readonly privileges?: boolean;
}

/** Publications (PostgreSQL 15 and later: row filters, column lists, whole schemas). */
const PUBLICATIONS_QUERY = `
  SELECT p.oid::int8::text AS oid, p.pubname, p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate, p.pubviaroot,
         (SELECT coalesce(array_agg(pr.prrelid::int8::text), '{}') FROM pg_publication_rel pr WHERE pr.prpubid = p.oid) AS relids,
         (SELECT coalesce(array_agg(quote_ident(n.nspname) || '.' || quote_ident(c.relname)
                   || CASE WHEN pr.prattrs IS NOT NULL THEN ' (' || (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
                        FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum = ANY (pr.prattrs)) || ')' ELSE '' END
                   || CASE WHEN pr.prqual IS NOT NULL THEN ' WHERE (' || pg_get_expr(pr.prqual, c.oid) || ')' ELSE '' END
                   ORDER BY n.nspname, c.relname), '{}')
            FROM pg_publication_rel pr JOIN pg_class c ON c.oid = pr.prrelid JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE pr.prpubid = p.oid) AS tables,
         (SELECT coalesce(array_agg(n.nspname::text ORDER BY n.nspname), '{}')
            FROM pg_publication_namespace pn JOIN pg_namespace n ON n.oid = pn.pnnspid WHERE pn.pnpubid = p.oid) AS schemas
    FROM pg_publication p`;

type Row = Record<string, unknown>;
type Rows = { -readonly [K in keyof typeof QUERIES]: Row[] } & { acl?: Row[]; publications?: Row[] };

/**
 * Reads the schema of the database `client` is connected to, in one read-only repeatable-read
 * transaction (a consistent picture even while others change it) and a fixed, small number of
 * queries whatever the size of the schema.
 */
export async function snapshotSchema(client: Client, options: SnapshotOptions = {}): Promise<SchemaSnapshot> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    for (const statement of SESSION_SETTINGS) await client.query(statement);
    const rows = {} as Rows;
    for (const [name, sql] of Object.entries(QUERIES) as [keyof typeof QUERIES, string][]) {
      rows[name] = (await client.query(sql)).rows as Row[];
    }
    const version = Number((await client.query('SHOW server_version_num')).rows[0]?.server_version_num ?? 0);
    if (version >= 150000) rows.publications = (await client.query(PUBLICATIONS_QUERY)).rows as Row[];
    if (options.owners || options.privileges) rows.acl = (await client.query(ACL_QUERY)).rows as Row[];
    await client.query('COMMIT');
    return buildSnapshot(rows, options);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** A catalog address as pg_depend names it: class, object oid, sub-id (column number or 0). */
function address(catalog: string, oid: unknown, sub: unknown = 0): string {
  return `${catalog}:${String(oid)}:${String(sub)}`;
}

const str = (value: unknown): string => String(value);
const strOrNull = (value: unknown): string | null => (value === null || value === undefined ? null : String(value));

/** Builds the object set from the raw catalog rows. Pure: separated from I/O for clarity. */
function buildSnapshot(rows: Rows, options: SnapshotOptions = {}): SchemaSnapshot {
  const objects = new Map<string, SchemaObject>();
  /** Catalog address → the id of the tracked object it belongs to. */
  const owner = new Map<string, string>();
  /** Addresses of attrdef rows (defaults, generated expressions) → column id. */
  const exprOwner = new Map<string, string>();
  const deps = new Map<string, Set<string>>();
  const typeDeps = new Map<string, Set<string>>();
  const addDep = (map: Map<string, Set<string>>, from: string, to: string) => {
    if (from === to) return;
    let set = map.get(from);
    if (!set) map.set(from, (set = new Set()));
    set.add(to);
  };

  // Extension members are the extension's business: they are never diffed one by one.
  const extensionOf = new Map<string, string>();
  const extensionIdByOid = new Map<string, string>();
  for (const row of rows.extensions) extensionIdByOid.set(str(row.oid), objectId('extension', str(row.extname)));
  for (const row of rows.depends) {
    if (row.deptype !== 'e' || row.ref_class !== 'pg_extension') continue;
    const ext = extensionIdByOid.get(str(row.refobjid));
    if (ext) extensionOf.set(address(str(row.class), row.objid), ext);
  }
  const isMember = (catalog: string, oid: unknown) => extensionOf.has(address(catalog, oid));

  const schemaIdByOid = new Map<string, string>();
  for (const row of rows.schemas) {
    if (isMember('pg_namespace', row.oid)) continue;
    const id = objectId('schema', str(row.nspname));
    schemaIdByOid.set(str(row.oid), id);
    owner.set(address('pg_namespace', row.oid), id);
    objects.set(id, { kind: 'schema', id, schema: str(row.nspname), name: str(row.nspname), definition: {}, dependsOn: [] });
  }
  const trackedSchema = (schema: string) => objects.has(objectId('schema', schema));
  const schemaDeps = (schema: string): string[] => [objectId('schema', schema)];

  for (const row of rows.extensions) {
    const id = objectId('extension', str(row.extname));
    owner.set(address('pg_extension', row.oid), id);
    const schema = str(row.nspname);
    objects.set(id, {
      kind: 'extension',
      id,
      schema,
      name: str(row.extname),
      definition: { version: str(row.extversion), schema },
      dependsOn: trackedSchema(schema) ? schemaDeps(schema) : [],
    });
  }

  const domainConstraints = new Map<string, { domain: string; name: string }>();
  for (const row of rows.types) {
    if (isMember('pg_type', row.oid)) continue;
    const schema = str(row.nspname);
    const name = str(row.typname);
    const id = row.typtype === 'e' ? objectId('enum', schema, name) : objectId('domain', schema, name);
    owner.set(address('pg_type', row.oid), id);
    if (row.typarray !== '0') owner.set(address('pg_type', row.typarray), id);
    if (row.typtype === 'e') {
      objects.set(id, { kind: 'enum', id, schema, name, definition: { values: (row.labels as string[] | null) ?? [] }, dependsOn: schemaDeps(schema) });
    } else {
      const constraints = row.constraints as { oid: string; name: string; definition: string }[];
      for (const c of constraints) {
        owner.set(address('pg_constraint', c.oid), id);
        domainConstraints.set(str(c.oid), { domain: id, name: c.name });
      }
      objects.set(id, {
        kind: 'domain',
        id,
        schema,
        name,
        definition: {
          type: str(row.base_type),
          collation: strOrNull(row.collation),
          default: strOrNull(row.default_expr),
          not_null: row.typnotnull === true,
          constraints: constraints.map((c) => ({ name: c.name, definition: c.definition })),
        },
        dependsOn: schemaDeps(schema),
      });
    }
  }

  for (const row of rows.collations) {
    if (isMember('pg_collation', row.oid)) continue;
    const schema = str(row.nspname);
    const name = str(row.collname);
    const id = objectId('collation', schema, name);
    owner.set(address('pg_collation', row.oid), id);
    objects.set(id, { kind: 'collation', id, schema, name, definition: collationDefinition(row.raw as Row), dependsOn: schemaDeps(schema) });
  }

  /** Attributes that are not objects of their own, for the comments on them: a composite type's, a view's columns, a table's inherited columns. */
  const compositeByRelid = new Map<string, { id: string; attributes: Map<number, string> }>();
  for (const row of rows.composites) {
    if (isMember('pg_type', row.oid)) continue;
    const schema = str(row.nspname);
    const name = str(row.typname);
    const id = objectId('composite_type', schema, name);
    owner.set(address('pg_type', row.oid), id);
    if (row.typarray !== '0') owner.set(address('pg_type', row.typarray), id);
    owner.set(address('pg_class', row.relid), id);
    const attributes = row.attributes as { name: string; num: number; type: string; collation: string | null }[];
    compositeByRelid.set(str(row.relid), { id, attributes: new Map(attributes.map((a) => [Number(a.num), a.name])) });
    objects.set(id, {
      kind: 'composite_type',
      id,
      schema,
      name,
      definition: {
        attributes: attributes.map((a) => ({ name: a.name, type: a.type, collation: a.collation })).sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0)),
      },
      attributeOrder: attributes.map((a) => a.name),
      dependsOn: schemaDeps(schema),
    });
  }

  for (const row of rows.ranges) {
    if (isMember('pg_type', row.oid)) continue;
    const schema = str(row.nspname);
    const name = str(row.typname);
    const id = objectId('range_type', schema, name);
    for (const oid of [row.oid, row.typarray, row.multirange_oid, row.multirange_array]) if (oid !== '0') owner.set(address('pg_type', oid), id);
    objects.set(id, {
      kind: 'range_type',
      id,
      schema,
      name,
      definition: {
        subtype: str(row.subtype),
        subtype_opclass: strOrNull(row.opclass),
        collation: strOrNull(row.collation),
        canonical: strOrNull(row.canonical),
        subtype_diff: strOrNull(row.subdiff),
        multirange_type: str(row.multirange),
      },
      dependsOn: schemaDeps(schema),
    });
  }

  // Relations.
  const relationIdByOid = new Map<string, string>();
  const relationNameByOid = new Map<string, { schema: string; name: string }>();
  const ignoredRelations = new Set<string>();
  const sequences: Row[] = [];
  // Sequences that belong to an identity column are part of that column's definition.
  const identitySequences = new Set<string>();
  for (const row of rows.depends) {
    if (row.deptype === 'i' && row.class === 'pg_class' && row.ref_class === 'pg_class' && Number(row.refobjsubid) > 0) {
      identitySequences.add(str(row.objid));
    }
  }
  for (const row of rows.relations) {
    const schema = str(row.nspname);
    const name = str(row.relname);
    const oid = str(row.oid);
    if (isMember('pg_class', oid) || identitySequences.has(oid)) continue;
    // The control table (ayb's own bookkeeping), and everything on it, is never part of a diff.
    if (schema === CONTROL_SCHEMA && name === CONTROL_TABLE) {
      ignoredRelations.add(oid);
      continue;
    }
    relationNameByOid.set(oid, { schema, name });
    const kind = relationKind(str(row.relkind));
    const id = objectId(kind, schema, name);
    relationIdByOid.set(oid, id);
    owner.set(address('pg_class', oid), id);
    if (row.reltype !== '0') owner.set(address('pg_type', row.reltype), id);
    if (row.rule_oid) owner.set(address('pg_rewrite', row.rule_oid), id);
    const dependsOn = schemaDeps(schema);
    if (kind === 'sequence') {
      sequences.push(row);
    } else if (kind === 'table') {
      const parents = row.parents as string[];
      objects.set(id, {
        kind,
        id,
        schema,
        name,
        definition: {
          partitioned: row.relkind === 'p',
          partition_key: strOrNull(row.partition_key),
          partition_of: row.relispartition ? (parents[0] ?? null) : null,
          partition_bound: strOrNull(row.partition_bound),
          inherits: row.relispartition ? [] : parents,
          unlogged: row.relpersistence === 'u',
          rls_enabled: row.relrowsecurity === true,
          rls_forced: row.relforcerowsecurity === true,
          options: ((row.reloptions as string[] | null) ?? []).slice().sort(),
          replica_identity: replicaIdentity(row),
          inherited_columns: [],
          ...(row.cluster_index ? { cluster_on: str(row.cluster_index) } : {}),
        },
        dependsOn,
      });
    } else if (kind === 'view' || kind === 'materialized_view') {
      objects.set(id, {
        kind,
        id,
        schema,
        name,
        definition: {
          definition: str(row.view_definition).trim(),
          options: ((row.reloptions as string[] | null) ?? []).slice().sort(),
          ...(row.cluster_index ? { cluster_on: str(row.cluster_index) } : {}),
          ...(row.view_defaults ? { column_defaults: row.view_defaults as { column: string; default: string }[] } : {}),
        },
        dependsOn,
      });
      // Its columns, for the comments on them (kept as a composite type's attributes are).
      const columns = (row.view_columns as { num: number; name: string }[] | null) ?? [];
      compositeByRelid.set(oid, { id, attributes: new Map(columns.map((column) => [Number(column.num), column.name])) });
    }
  }
  // Partition parents and inheritance parents come before their children.
  for (const row of rows.relations) {
    const id = relationIdByOid.get(str(row.oid));
    const object = id ? objects.get(id) : undefined;
    if (!object || object.kind !== 'table') continue;
    for (const parentOid of row.parent_oids as string[]) {
      const parent = relationIdByOid.get(parentOid);
      if (parent) addDep(deps, object.id, parent);
    }
  }

  /** The tracked table (or view) an object hangs on: its schema, name and object id. */
  const onTable = (relid: unknown): { schema: string; name: string; parent: string } | undefined => {
    const name = relationNameByOid.get(str(relid));
    const parent = relationIdByOid.get(str(relid));
    return name && parent ? { ...name, parent } : undefined;
  };

  // Columns of tables (inherited columns are their parent's: not diffed on the child).
  const columnIdByAddress = new Map<string, string>();
  const inheritedColumns = new Map<string, ObjectOf<'column'>>();
  for (const row of rows.columns) {
    const table = onTable(row.relid);
    if (!table) continue;
    const { parent } = table;
    const id = objectId('column', table.schema, table.name, str(row.attname));
    columnIdByAddress.set(address('pg_class', row.relid, row.attnum), id);
    // A column both inherited and declared on the table itself (merged) is the table's own too.
    const inherited = Number(row.attinhcount) > 0 && row.attislocal !== true;
    if (!inherited) {
      owner.set(address('pg_class', row.relid, row.attnum), id);
      if (row.attrdef_oid) exprOwner.set(address('pg_attrdef', row.attrdef_oid), id);
    }
    const generated = row.attgenerated === 's';
    const identity: IdentityDefinition | null =
      row.attidentity === 'a' || row.attidentity === 'd'
        ? { generation: row.attidentity === 'a' ? 'always' : 'by_default', ...sequenceOptions(row) }
        : null;
    const column: ObjectOf<'column'> = {
      kind: 'column',
      id,
      schema: table.schema,
      table: table.name,
      parent,
      name: str(row.attname),
      position: Number(row.attnum),
      definition: {
        type: str(row.type),
        collation: strOrNull(row.collation),
        not_null: row.attnotnull === true,
        default: generated ? null : strOrNull(row.default_expr),
        identity,
        generated: generated ? strOrNull(row.default_expr) : null,
        statistics: row.statistics === null || row.statistics === undefined ? null : Number(row.statistics),
        storage: row.attstorage === row.typstorage ? null : storageMode(str(row.attstorage)),
        compression: compressionMethod(strOrNull(row.attcompression)),
        options: ((row.attoptions as string[] | null) ?? []).slice().sort(),
      },
      dependsOn: [parent],
      typeDependsOn: [],
      typeStorage: storageMode(str(row.typstorage)) ?? 'extended',
    };
    if (inherited) {
      inheritedColumns.set(id, column);
      const entry = compositeByRelid.get(str(row.relid)) ?? { id: parent, attributes: new Map<number, string>() };
      entry.attributes.set(Number(row.attnum), str(row.attname));
      compositeByRelid.set(str(row.relid), entry);
    } else objects.set(id, column);
  }

  // What children set on inherited columns themselves (NOT NULL, defaults): compared on the table.
  const parentOids = new Map(rows.relations.map((row) => [str(row.oid), row.parent_oids as string[]]));
  const columnOf = (tableId: string | undefined, name: string): ObjectOf<'column'> | undefined => {
    const table = tableId ? objects.get(tableId) : undefined;
    if (!table) return undefined;
    const id = objectId('column', table.schema, table.name, name);
    return (objects.get(id) as ObjectOf<'column'> | undefined) ?? inheritedColumns.get(id);
  };
  const ownSettings = new Map<string, string[]>();
  for (const row of rows.columns) {
    const table = onTable(row.relid);
    if (!table || !(Number(row.attinhcount) > 0 && row.attislocal !== true)) continue;
    const column = inheritedColumns.get(objectId('column', table.schema, table.name, str(row.attname)));
    if (!column) continue;
    const parents = (parentOids.get(str(row.relid)) ?? []).map((oid) => columnOf(relationIdByOid.get(oid), column.name)).filter((x): x is ObjectOf<'column'> => x !== undefined);
    if (parents.length === 0) continue;
    const settings: string[] = [];
    const parentNotNull = parents.some((p) => p.definition.not_null);
    if (column.definition.not_null !== parentNotNull) settings.push(`${quoteIdent(column.name)} ${column.definition.not_null ? 'not null' : 'null'}`);
    const parentDefault = parents[0]!.definition.default;
    if (column.definition.default !== parentDefault) settings.push(`${quoteIdent(column.name)} ${column.definition.default === null ? 'no default' : `default ${column.definition.default}`}`);
    if (settings.length > 0) ownSettings.set(table.parent, [...(ownSettings.get(table.parent) ?? []), ...settings]);
  }
  for (const [id, settings] of ownSettings) {
    const table = objects.get(id) as ObjectOf<'table'>;
    objects.set(id, { ...table, definition: { ...table.definition, inherited_columns: settings.sort() } });
  }

  for (const row of sequences) {
    const schema = str(row.nspname);
    const name = str(row.relname);
    const id = objectId('sequence', schema, name);
    objects.set(id, {
      kind: 'sequence',
      id,
      schema,
      name,
      definition: { data_type: str(row.seq_type), ...sequenceOptions(row), owned_by: null, ...(row.relpersistence === 'u' ? { unlogged: true as const } : {}) },
      dependsOn: schemaDeps(schema),
    });
  }

  for (const row of rows.constraints) {
    const table = onTable(row.relid);
    if (!table) continue;
    const { parent } = table;
    const id = objectId('constraint', table.schema, table.name, str(row.conname));
    owner.set(address('pg_constraint', row.oid), id);
    if (row.contype !== 'f' && row.conindid !== '0') owner.set(address('pg_class', row.conindid), id);
    objects.set(id, {
      kind: 'constraint',
      id,
      schema: table.schema,
      table: table.name,
      parent,
      name: str(row.conname),
      definition: { constraint_type: constraintType(str(row.contype)), definition: withIndexOptions(str(row.definition), row.index_options as string[] | null) },
      dependsOn: [parent],
    });
  }

  const indexByOid = new Map<string, { id: string; qualified: string }>();
  for (const row of rows.indexes) {
    if (!onTable(row.relid) || isMember('pg_class', row.oid)) continue;
    indexByOid.set(str(row.oid), { id: objectId('index', str(row.nspname), str(row.relname)), qualified: q(str(row.nspname), str(row.relname)) });
  }
  for (const row of rows.indexes) {
    const table = onTable(row.relid);
    if (!table || isMember('pg_class', row.oid)) continue;
    const { parent } = table;
    const schema = str(row.nspname);
    const id = objectId('index', schema, str(row.relname));
    owner.set(address('pg_class', row.oid), id);
    // A partition's index attached to its parent's index: attached after both exist.
    const attached = row.parent_index ? indexByOid.get(str(row.parent_index)) : undefined;
    const attachedTo = attached?.id;
    objects.set(id, {
      kind: 'index',
      id,
      schema,
      table: table.name,
      parent,
      name: str(row.relname),
      definition: {
        definition: str(row.definition),
        ...(attached ? { attached_to: attached.qualified } : {}),
        ...(row.index_statistics ? { statistics: row.index_statistics as string[] } : {}),
      },
      ...(attachedTo ? { attachedTo } : {}),
      dependsOn: [parent, ...schemaDeps(schema), ...(attachedTo ? [attachedTo] : [])],
    });
  }

  // Functions that belong to another object (a range type's constructors): created with it.
  const internalProcs = new Set<string>();
  for (const row of rows.depends) if (row.deptype === 'i' && row.class === 'pg_proc') internalProcs.add(str(row.objid));
  for (const row of rows.functions) {
    const schema = str(row.nspname);
    if (!trackedSchema(schema) || isMember('pg_proc', row.oid) || internalProcs.has(str(row.oid))) continue;
    const identityArguments = str(row.identity_arguments);
    const name = `${str(row.proname)}(${identityArguments})`;
    const kind: 'function' | 'procedure' | 'aggregate' = row.prokind === 'a' ? 'aggregate' : row.prokind === 'p' ? 'procedure' : 'function';
    const id = objectId(kind, schema, name);
    owner.set(address('pg_proc', row.oid), id);
    if (kind === 'aggregate') {
      objects.set(id, {
        kind,
        id,
        schema,
        name,
        identityArguments,
        definition: { definition: aggregateDefinition(schema, str(row.proname), row) },
        dependsOn: schemaDeps(schema),
      });
    } else {
      objects.set(id, {
        kind,
        id,
        schema,
        name,
        identityArguments,
        definition: { arguments: str(row.arguments), result: strOrNull(row.result), definition: str(row.definition).trim() },
        dependsOn: schemaDeps(schema),
      });
    }
  }

  for (const row of rows.triggers) {
    const table = onTable(row.relid);
    if (!table) continue;
    const { parent } = table;
    const id = objectId('trigger', table.schema, table.name, str(row.tgname));
    owner.set(address('pg_trigger', row.oid), id);
    objects.set(id, {
      kind: 'trigger',
      id,
      schema: table.schema,
      table: table.name,
      parent,
      name: str(row.tgname),
      definition: { definition: str(row.definition), enabled: triggerState(str(row.tgenabled)) },
      dependsOn: [parent],
    });
  }

  for (const row of rows.statistics) {
    const table = onTable(row.relid);
    if (!table || isMember('pg_statistic_ext', row.oid)) continue;
    const { parent } = table;
    const schema = str(row.nspname);
    const id = objectId('statistics', schema, table.name, str(row.stxname));
    owner.set(address('pg_statistic_ext', row.oid), id);
    objects.set(id, {
      kind: 'statistics',
      id,
      schema,
      table: table.name,
      parent,
      name: str(row.stxname),
      definition: { definition: str(row.definition), target: row.target === null || row.target === undefined ? null : Number(row.target) },
      dependsOn: [parent, ...schemaDeps(schema)],
    });
  }

  for (const row of rows.rules) {
    const table = onTable(row.relid);
    if (!table || isMember('pg_rewrite', row.oid)) continue;
    const { parent } = table;
    const id = objectId('rule', table.schema, table.name, str(row.rulename));
    owner.set(address('pg_rewrite', row.oid), id);
    objects.set(id, {
      kind: 'rule',
      id,
      schema: table.schema,
      table: table.name,
      parent,
      name: str(row.rulename),
      definition: { definition: str(row.definition).trim().replace(/;$/, ''), enabled: triggerState(str(row.ev_enabled)) },
      dependsOn: [parent],
    });
  }

  for (const row of rows.policies) {
    const table = onTable(row.relid);
    if (!table) continue;
    const { parent } = table;
    const id = objectId('policy', table.schema, table.name, str(row.polname));
    owner.set(address('pg_policy', row.oid), id);
    objects.set(id, {
      kind: 'policy',
      id,
      schema: table.schema,
      table: table.name,
      parent,
      name: str(row.polname),
      definition: {
        command: policyCommand(str(row.polcmd)),
        permissive: row.polpermissive === true,
        roles: (row.roles as string[] | null) ?? [],
        using: strOrNull(row.using_expr),
        with_check: strOrNull(row.check_expr),
      },
      dependsOn: [parent],
    });
  }

  // Casts that belong to another object (a range type's cast to its multirange): created with it.
  const internalCasts = new Set<string>();
  for (const row of rows.depends) if (row.deptype === 'i' && row.class === 'pg_cast') internalCasts.add(str(row.objid));
  for (const row of rows.casts) {
    if (isMember('pg_cast', row.oid) || internalCasts.has(str(row.oid))) continue;
    const signature = `(${str(row.source)} AS ${str(row.target)})`;
    const id = objectId('cast', signature);
    owner.set(address('pg_cast', row.oid), id);
    const method = row.castmethod === 'f' ? `WITH FUNCTION ${str(row.func)}` : row.castmethod === 'i' ? 'WITH INOUT' : 'WITHOUT FUNCTION';
    const context = row.castcontext === 'a' ? ' AS ASSIGNMENT' : row.castcontext === 'i' ? ' AS IMPLICIT' : '';
    objects.set(id, { kind: 'cast', id, schema: '', name: `cast ${signature}`, signature, definition: { definition: `CREATE CAST ${signature} ${method}${context}` }, dependsOn: [] });
  }

  for (const row of rows.operators) {
    const schema = str(row.nspname);
    if (!trackedSchema(schema) || isMember('pg_operator', row.oid)) continue;
    const args = `${strOrNull(row.lefttype) ?? 'NONE'}, ${strOrNull(row.righttype) ?? 'NONE'}`;
    const name = `${str(row.oprname)}(${args})`;
    const id = objectId('operator', schema, name);
    owner.set(address('pg_operator', row.oid), id);
    const operatorName = (regoperator: string) => `OPERATOR(${regoperator.replace(/\(.*\)$/, '')})`;
    const options = [`FUNCTION = ${str(row.func)}`];
    if (row.lefttype) options.push(`LEFTARG = ${str(row.lefttype)}`);
    if (row.righttype) options.push(`RIGHTARG = ${str(row.righttype)}`);
    if (row.commutator) options.push(`COMMUTATOR = ${operatorName(str(row.commutator))}`);
    if (row.negator) options.push(`NEGATOR = ${operatorName(str(row.negator))}`);
    if (row.restrict) options.push(`RESTRICT = ${str(row.restrict)}`);
    if (row.joinsel) options.push(`JOIN = ${str(row.joinsel)}`);
    if (row.oprcanhash === true) options.push('HASHES');
    if (row.oprcanmerge === true) options.push('MERGES');
    const qualified = `${quoteIdent(schema)}.${str(row.oprname)}`;
    objects.set(id, {
      kind: 'operator',
      id,
      schema,
      name,
      signature: `${qualified} (${args})`,
      definition: { definition: `CREATE OPERATOR ${qualified} (${options.join(', ')})` },
      dependsOn: schemaDeps(schema),
    });
  }

  for (const row of rows.event_triggers) {
    if (isMember('pg_event_trigger', row.oid)) continue;
    const name = str(row.evtname);
    const id = objectId('event_trigger', name);
    owner.set(address('pg_event_trigger', row.oid), id);
    const tags = (row.evttags as string[] | null) ?? [];
    const when = tags.length > 0 ? ` WHEN TAG IN (${tags.map(quoteLiteral).join(', ')})` : '';
    objects.set(id, {
      kind: 'event_trigger',
      id,
      schema: '',
      name,
      definition: { definition: `CREATE EVENT TRIGGER ${quoteIdent(name)} ON ${str(row.evtevent)}${when} EXECUTE FUNCTION ${str(row.func)}()`, enabled: triggerState(str(row.evtenabled)) },
      dependsOn: [],
    });
  }

  for (const row of rows.foreign_servers) {
    if (isMember('pg_foreign_server', row.oid)) continue;
    const name = str(row.srvname);
    const id = objectId('foreign_server', name);
    owner.set(address('pg_foreign_server', row.oid), id);
    objects.set(id, {
      kind: 'foreign_server',
      id,
      schema: '',
      name,
      definition: { wrapper: str(row.fdwname), type: strOrNull(row.srvtype), version: strOrNull(row.srvversion), options: ((row.srvoptions as string[] | null) ?? []).slice().sort() },
      dependsOn: [],
    });
  }

  for (const row of rows.foreign_tables) {
    if (isMember('pg_class', row.oid)) continue;
    const schema = str(row.nspname);
    const name = str(row.relname);
    const id = objectId('foreign_table', schema, name);
    owner.set(address('pg_class', row.oid), id);
    const columns = row.columns as { name: string; type: string; collation: string | null; not_null: boolean; default: string | null; options: string[] }[];
    objects.set(id, {
      kind: 'foreign_table',
      id,
      schema,
      name,
      definition: {
        server: str(row.srvname),
        options: ((row.ftoptions as string[] | null) ?? []).slice().sort(),
        columns: columns.map((column) => ({ ...column, options: column.options.slice().sort() })),
      },
      dependsOn: [...schemaDeps(schema), objectId('foreign_server', str(row.srvname))],
    });
  }

  for (const row of rows.publications ?? []) {
    const name = str(row.pubname);
    const id = objectId('publication', name);
    owner.set(address('pg_publication', row.oid), id);
    const targets = [
      ...(row.puballtables === true ? ['ALL TABLES'] : []),
      ...((row.tables as string[]).length > 0 ? [`TABLE ${(row.tables as string[]).join(', ')}`] : []),
      ...((row.schemas as string[]).length > 0 ? [`TABLES IN SCHEMA ${(row.schemas as string[]).map(quoteIdent).join(', ')}`] : []),
    ];
    const publish = (['insert', 'update', 'delete', 'truncate'] as const).filter((action) => row[`pub${action}`] === true);
    const definition = `CREATE PUBLICATION ${quoteIdent(name)}${targets.length > 0 ? ` FOR ${targets.join(', ')}` : ''} WITH (publish = ${quoteLiteral(publish.join(', '))}, publish_via_partition_root = ${row.pubviaroot === true})`;
    const dependsOn = [
      ...(row.relids as string[]).map((oid) => relationIdByOid.get(oid)).filter((x): x is string => x !== undefined),
      ...(row.schemas as string[]).map((schema) => objectId('schema', schema)).filter((x) => objects.has(x)),
    ];
    objects.set(id, { kind: 'publication', id, schema: '', name, definition: { definition }, dependsOn });
  }

  addComments(rows.descriptions, objects, owner, domainConstraints, compositeByRelid, isMember);
  if (rows.acl) addAccess(rows.acl, objects, owner, options);

  // A partition's copy of a constraint (a foreign key's copy on each partition, or its copy towards
  // each partition of a referenced table) stands for the constraint it was copied from.
  const cloneOf = new Map<string, string>();
  /** The table each copy is on: its dependency on that table (a partition) is its own, not lifted. */
  const cloneTable = new Map<string, string>();
  const cloneParent = new Map(rows.constraint_clones.map((row) => [str(row.oid), str(row.parent)]));
  for (const row of rows.constraint_clones) {
    let root = str(row.oid);
    for (let depth = 0; cloneParent.has(root) && depth < 100; depth++) root = cloneParent.get(root)!;
    const rootId = owner.get(address('pg_constraint', root));
    if (!rootId) continue;
    cloneOf.set(address('pg_constraint', row.oid), rootId);
    cloneTable.set(address('pg_constraint', row.oid), str(row.relid));
    if (row.conindid !== '0' && !owner.has(address('pg_class', row.conindid))) {
      cloneOf.set(address('pg_class', row.conindid), rootId);
      cloneTable.set(address('pg_class', row.conindid), str(row.relid));
    }
  }

  // Dependencies between tracked objects, from pg_depend.
  const resolve = (catalog: string, oid: unknown, sub: unknown): string | undefined =>
    owner.get(address(catalog, oid, sub)) ??
    cloneOf.get(address(catalog, oid)) ??
    (Number(sub) !== 0 ? (owner.get(address(catalog, oid)) ?? undefined) : undefined) ??
    extensionOf.get(address(catalog, oid));
  const ownedBy = new Map<string, string>();
  const ignoredSequences = new Set<string>();
  for (const row of rows.depends) {
    if (row.deptype === 'e' || row.deptype === 'i') continue;
    const refCatalog = str(row.ref_class);
    const catalog = str(row.class);
    const fromRelation = catalog === 'pg_class' ? objects.get(owner.get(address(catalog, row.objid)) ?? '') : undefined;
    // A sequence that a column owns (serial): ownership, not a creation-order dependency.
    if (fromRelation?.kind === 'sequence' && row.deptype === 'a' && refCatalog === 'pg_class' && Number(row.refobjsubid) > 0) {
      const column = columnIdByAddress.get(address(refCatalog, row.refobjid, row.refobjsubid));
      if (column && objects.has(column)) ownedBy.set(fromRelation.id, column);
      else if (ignoredRelations.has(str(row.refobjid))) ignoredSequences.add(fromRelation.id);
      continue;
    }
    const to = resolve(refCatalog, row.refobjid, row.refobjsubid);
    if (!to) continue;
    if (catalog === 'pg_attrdef') {
      const column = exprOwner.get(address(catalog, row.objid));
      if (column) addDep(deps, column, to);
      continue;
    }
    const from = resolve(catalog, row.objid, row.objsubid);
    if (!from || from === to) continue;
    if (refCatalog === 'pg_class' && cloneTable.get(address(catalog, row.objid)) === str(row.refobjid)) continue;
    if (catalog === 'pg_class' && cloneTable.get(address(refCatalog, row.refobjid)) === str(row.objid)) continue;
    const fromObject = objects.get(from);
    addDep(deps, from, to);
    if (fromObject?.kind === 'column' && Number(row.objsubid) > 0) addDep(typeDeps, from, to);
  }

  for (const id of ignoredSequences) objects.delete(id);
  for (const [id, object] of objects) {
    let next: SchemaObject = object;
    const extra = deps.get(id);
    if (extra) next = { ...next, dependsOn: [...new Set([...next.dependsOn, ...extra])] };
    if (next.kind === 'column') next = { ...next, typeDependsOn: [...(typeDeps.get(id) ?? [])] };
    if (next.kind === 'sequence') {
      const column = ownedBy.get(id);
      const owning = column ? objects.get(column) : undefined;
      if (column && owning) {
        next = { ...next, ownedBy: column, definition: { ...next.definition, owned_by: `${owning.table}.${owning.name}` } };
      }
    }
    objects.set(id, next);
  }
  return { objects, inheritedColumns };
}

function relationKind(relkind: string): 'table' | 'view' | 'materialized_view' | 'sequence' {
  switch (relkind) {
    case 'v':
      return 'view';
    case 'm':
      return 'materialized_view';
    case 'S':
      return 'sequence';
    default:
      return 'table';
  }
}

/** relreplident as ALTER TABLE … REPLICA IDENTITY says it; an index identity whose index is gone is the default (as pg_dump restores it). */
function replicaIdentity(row: Row): string {
  if (row.relreplident === 'f') return 'full';
  if (row.relreplident === 'n') return 'nothing';
  if (row.relreplident === 'i' && row.replident_index) return `using index ${str(row.replident_index)}`;
  return 'default';
}

function sequenceOptions(row: Row): SequenceOptions {
  return {
    start: str(row.seqstart),
    increment: str(row.seqincrement),
    min_value: str(row.seqmin),
    max_value: str(row.seqmax),
    cache: str(row.seqcache),
    cycle: row.seqcycle === true,
  };
}

function constraintType(contype: string): ConstraintType {
  const types: Record<string, ConstraintType> = { p: 'primary_key', u: 'unique', c: 'check', f: 'foreign_key', x: 'exclusion' };
  return types[contype] ?? 'check';
}

function triggerState(tgenabled: string): TriggerDefinition['enabled'] {
  const states: Record<string, TriggerDefinition['enabled']> = { O: 'origin', D: 'disabled', R: 'replica', A: 'always' };
  return states[tgenabled] ?? 'origin';
}

function policyCommand(polcmd: string): PolicyDefinition['command'] {
  const commands: Record<string, PolicyDefinition['command']> = { '*': 'all', r: 'select', a: 'insert', w: 'update', d: 'delete' };
  return commands[polcmd] ?? 'all';
}

/** A CREATE AGGREGATE statement for an ordinary aggregate (the common options). */
function aggregateDefinition(schema: string, name: string, row: Row): string {
  const options = [`SFUNC = ${str(row.sfunc)}`, `STYPE = ${str(row.stype)}`];
  if (row.finalfunc) options.push(`FINALFUNC = ${str(row.finalfunc)}`);
  if (row.combinefunc) options.push(`COMBINEFUNC = ${str(row.combinefunc)}`);
  if (row.agginitval !== null && row.agginitval !== undefined) options.push(`INITCOND = ${quoteLiteral(str(row.agginitval))}`);
  if (row.sortop) options.push(`SORTOP = ${operatorName(str(row.sortop))}`);
  return `CREATE AGGREGATE ${quoteIdent(schema)}.${quoteIdent(name)}(${str(row.identity_arguments) || '*'}) (${options.join(', ')})`;
}

/** `pg_catalog.<(integer,integer)` → `OPERATOR(pg_catalog.<)`. */
function operatorName(regoperator: string): string {
  return `OPERATOR(${regoperator.replace(/\(.*\)$/, '')})`;
}

function storageMode(attstorage: string): 'plain' | 'external' | 'extended' | 'main' | null {
  const modes: Record<string, 'plain' | 'external' | 'extended' | 'main'> = { p: 'plain', e: 'external', x: 'extended', m: 'main' };
  return modes[attstorage] ?? null;
}

function compressionMethod(attcompression: string | null): string | null {
  const methods: Record<string, string> = { p: 'pglz', l: 'lz4' };
  return attcompression ? (methods[attcompression] ?? null) : null;
}

/** pg_collation's row (as JSON, whatever the server version calls its columns) → the definition. */
function collationDefinition(raw: Row): ObjectOf<'collation'>['definition'] {
  const providers: Record<string, 'libc' | 'icu' | 'builtin'> = { c: 'libc', i: 'icu', b: 'builtin', d: 'libc' };
  const provider = providers[str(raw.collprovider)] ?? 'libc';
  return {
    provider,
    locale: provider === 'libc' ? null : strOrNull(raw.colllocale ?? raw.colliculocale),
    lc_collate: provider === 'libc' ? strOrNull(raw.collcollate) : null,
    lc_ctype: provider === 'libc' ? strOrNull(raw.collctype) : null,
    deterministic: raw.collisdeterministic !== false,
    rules: strOrNull(raw.collicurules),
  };
}

const q = (schema: string, name: string): string => `${quoteIdent(schema)}.${quoteIdent(name)}`;

/**
 * Comments (pg_description) on tracked objects, each an object of its own that hangs on the object
 * it describes (its `parent`): dropped with it, recreated with it.
 */
function addComments(
  rows: Row[],
  objects: Map<string, SchemaObject>,
  owner: ReadonlyMap<string, string>,
  domainConstraints: ReadonlyMap<string, { domain: string; name: string }>,
  compositeByRelid: ReadonlyMap<string, { id: string; attributes: ReadonlyMap<number, string> }>,
  isMember: (catalog: string, oid: unknown) => boolean,
): void {
  const add = (target: SchemaObject, on: string, sql: string, key: string[], text: string, display: { table?: string; name: string }) => {
    const id = objectId('comment', target.id, ...key);
    objects.set(id, {
      kind: 'comment',
      id,
      schema: target.schema,
      ...(display.table !== undefined ? { table: display.table } : {}),
      name: display.name,
      parent: target.id,
      target: sql,
      definition: { on, text },
      dependsOn: [target.id],
    });
  };
  for (const row of rows) {
    const catalog = str(row.class);
    const sub = Number(row.objsubid);
    const text = str(row.description);
    if (isMember(catalog, row.objoid)) continue;
    if (catalog === 'pg_constraint' && domainConstraints.has(str(row.objoid))) {
      const { domain, name } = domainConstraints.get(str(row.objoid))!;
      const target = objects.get(domain);
      if (target) add(target, 'domain constraint', `CONSTRAINT ${quoteIdent(name)} ON DOMAIN ${q(target.schema, target.name)}`, [name], text, { name: `${target.name}.${name}` });
      continue;
    }
    const composite = catalog === 'pg_class' && sub > 0 ? compositeByRelid.get(str(row.objoid)) : undefined;
    const attribute = composite?.attributes.get(sub);
    if (composite && attribute !== undefined) {
      const target = objects.get(composite.id);
      if (!target) continue;
      const on = target.kind === 'composite_type' ? 'attribute' : target.kind === 'table' ? 'inherited column' : `${target.kind.replace(/_/g, ' ')} column`;
      add(target, on, `COLUMN ${q(target.schema, target.name)}.${quoteIdent(attribute)}`, [attribute], text, { table: target.name, name: attribute });
      continue;
    }
    const id = owner.get(address(catalog, row.objoid, sub));
    const target = id ? objects.get(id) : undefined;
    if (!target || target.kind === 'comment') continue;
    // Only the object's own address: a comment on a constraint's index is not one on the constraint.
    if (!ownAddress(target, catalog, sub)) continue;
    const sql = commentTarget(target);
    if (!sql) continue;
    add(target, target.kind.replace(/_/g, ' '), sql, [], text, { ...(target.table !== undefined ? { table: target.table } : {}), name: target.name });
  }
}

/** True when a catalog address (class, sub-id) is the one the object itself has. */
function ownAddress(object: SchemaObject, catalog: string, sub: number): boolean {
  return kindModule(object.kind).catalog === catalog && (object.kind === 'column') === sub > 0;
}

/**
 * pg_get_constraintdef leaves out the storage parameters of a constraint's index; they go where
 * ADD CONSTRAINT takes them: before WHERE (exclusion) or DEFERRABLE, else at the end.
 */
function withIndexOptions(definition: string, options: readonly string[] | null): string {
  if (!options || options.length === 0) return definition;
  const clause = ` WITH (${options.join(', ')})`;
  const at = [/ WHERE \(/.exec(definition)?.index, / DEFERRABLE\b/.exec(definition)?.index].filter((i): i is number => i !== undefined);
  const index = at.length > 0 ? Math.min(...at) : definition.length;
  return definition.slice(0, index) + clause + definition.slice(index);
}

/** Owners and privileges, as objects that hang on the object they belong to (like comments). */
function addAccess(rows: Row[], objects: Map<string, SchemaObject>, owner: ReadonlyMap<string, string>, options: SnapshotOptions): void {
  for (const row of rows) {
    const catalog = str(row.class);
    const sub = Number(row.sub);
    const id = owner.get(address(catalog, row.oid, sub));
    const target = id ? objects.get(id) : undefined;
    if (!target || !ownAddress(target, catalog, sub)) continue;
    if (options.owners && row.owner !== null && kindModule(target.kind).owned) {
      const sql = commentTarget(target);
      if (sql) {
        const ownerId = objectId('owner', target.id);
        objects.set(ownerId, {
          kind: 'owner', id: ownerId, schema: target.schema, ...(target.table !== undefined ? { table: target.table } : {}), name: target.name,
          parent: target.id, target: sql, definition: { role: str(row.owner) }, dependsOn: [target.id],
        });
      }
    }
    if (options.privileges && row.acl !== null && kindModule(target.kind).grantable) {
      const acl = (row.acl as string[]).map((item) => item.replace(/\/.*$/, '')).sort();
      if (target.kind === 'column' && acl.length === 0) continue;
      const sql = grantTarget(target);
      if (!sql) continue;
      const privilegesId = objectId('privileges', target.id);
      objects.set(privilegesId, {
        kind: 'privileges', id: privilegesId, schema: target.schema, ...(target.table !== undefined ? { table: target.table } : {}), name: target.name,
        parent: target.id, target: sql, ...(target.kind === 'column' ? { column: target.name } : { ownerRole: str(row.owner) }), definition: { acl }, dependsOn: [target.id],
      });
    }
  }
}
