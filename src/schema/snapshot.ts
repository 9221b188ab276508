import { z } from 'zod';
import type { Client } from '../postgres/client.js';
import { quoteIdent } from '../postgres/quote.js';
import { commentTarget, grantTarget, kindModule } from './kinds/index.js';
import { address, type CatalogReader, DependRow, type KindFacts, maybeText, maybeTexts, SnapshotContext, text } from './kinds/context.js';
import { ExtensionRow } from './kinds/extension.js';
import { objectId, type ObjectKind, type SchemaObject, type SchemaSnapshot } from './model.js';

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

/**
 * The kinds whose modules read the catalog, in the order they are decoded: a kind comes after
 * those it looks up (columns, constraints, indexes after the relations they are on; comments and
 * grants last). A reader may make objects of more than one kind (see each module).
 */
const READ_ORDER: readonly ObjectKind[] = [
  'schema', 'extension', 'enum', 'collation', 'composite_type', 'range_type', 'table', 'column', 'sequence', 'constraint', 'index',
  'function', 'trigger', 'statistics', 'rule', 'policy', 'cast', 'operator', 'event_trigger', 'foreign_server', 'foreign_table', 'publication',
];

const DEPENDS_SQL = `
    SELECT d.classid::regclass::text AS class, d.objid::int8::text AS objid, d.objsubid,
           d.refclassid::regclass::text AS ref_class, d.refobjid::int8::text AS refobjid, d.refobjsubid, d.deptype
      FROM pg_depend d
     WHERE d.deptype IN ('n', 'a', 'e', 'i') AND d.objid >= 16384 AND d.refobjid >= 16384`;

/** Constraints a partition gets from its parent's (and their indexes): their dependencies are the parent constraint's. */
const CLONES_SQL = `
    SELECT co.oid::int8::text AS oid, co.conparentid::int8::text AS parent, co.conindid::int8::text AS conindid,
           co.conrelid::int8::text AS relid
      FROM pg_constraint co
     WHERE co.conparentid <> 0`;
const CloneRow = z.object({ oid: text, parent: text, conindid: text, relid: text });
type CloneRow = z.infer<typeof CloneRow>;

const DESCRIPTIONS_SQL = `
    SELECT d.classoid::regclass::text AS class, d.objoid::int8::text AS objoid, d.objsubid, d.description
      FROM pg_description d
     WHERE d.objoid >= 16384 OR d.classoid = 'pg_namespace'::regclass`;
const DescriptionRow = z.object({ class: text, objoid: text, objsubid: z.number(), description: text });
type DescriptionRow = z.infer<typeof DescriptionRow>;

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

const AclRow = z.object({ class: text, oid: text, sub: z.number(), owner: maybeText, acl: maybeTexts });
type AclRow = z.infer<typeof AclRow>;

export interface SnapshotOptions {
  /** Compare owners (`ALTER … OWNER TO`): off by default, because roles differ across servers. */
  readonly owners?: boolean;
  /** Compare access privileges (GRANT / REVOKE): off by default, for the same reason. */
  readonly privileges?: boolean;
}

/** The rows a snapshot is built from: each reader's, and those of the catalogs every kind shares. */
interface CatalogRows {
  readonly readers: readonly { readonly reader: CatalogReader; readonly rows: readonly unknown[] }[];
  readonly extensions: readonly unknown[];
  readonly depends: readonly unknown[];
  readonly clones: readonly unknown[];
  readonly descriptions: readonly unknown[];
  readonly acl: readonly unknown[] | undefined;
}

/**
 * Reads the schema of the database `client` is connected to, in one read-only repeatable-read
 * transaction (a consistent picture even while others change it) and a fixed, small number of
 * queries whatever the size of the schema.
 */
export async function snapshotSchema(client: Client, options: SnapshotOptions = {}): Promise<SchemaSnapshot> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    for (const statement of SESSION_SETTINGS) await client.query(statement);
    const rowsOf = async (sql: string): Promise<unknown[]> => (await client.query(sql)).rows;
    const version = Number((await client.query('SHOW server_version_num')).rows[0]?.server_version_num ?? 0);
    const readers: { reader: CatalogReader; rows: unknown[] }[] = [];
    for (const kind of READ_ORDER) {
      const reader = kindModule(kind).read;
      if (!reader) continue;
      readers.push({ reader, rows: reader.minVersion !== undefined && version < reader.minVersion ? [] : await rowsOf(reader.sql) });
    }
    const rows: CatalogRows = {
      readers,
      extensions: readers.find((entry) => entry.reader === kindModule('extension').read)?.rows ?? [],
      depends: await rowsOf(DEPENDS_SQL),
      clones: await rowsOf(CLONES_SQL),
      descriptions: await rowsOf(DESCRIPTIONS_SQL),
      acl: options.owners || options.privileges ? await rowsOf(ACL_QUERY) : undefined,
    };
    await client.query('COMMIT');
    return buildSnapshot(rows, options);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** What the registry says about kinds, for the readers of comments and grants. */
function kindFacts(options: SnapshotOptions): KindFacts {
  return {
    commentTarget: (object) => commentTarget(object),
    grantTarget: (object) => grantTarget(object),
    catalog: (kind) => kindModule(kind).catalog,
    owned: (kind) => kindModule(kind).owned === true,
    grantable: (kind) => kindModule(kind).grantable === true,
    owners: options.owners === true,
    privileges: options.privileges === true,
  };
}

/** Builds the object set from the catalog rows, kind by kind. Pure: separated from I/O for clarity. */
function buildSnapshot(rows: CatalogRows, options: SnapshotOptions): SchemaSnapshot {
  const depends = z.array(DependRow).parse(rows.depends);
  const context = new SnapshotContext(depends, z.array(ExtensionRow).parse(rows.extensions), kindFacts(options));
  for (const { reader, rows: readerRows } of rows.readers) reader.decode(readerRows, context);
  addComments(z.array(DescriptionRow).parse(rows.descriptions), context);
  if (rows.acl) addAccess(z.array(AclRow).parse(rows.acl), context);
  addDependencies(context, z.array(CloneRow).parse(rows.clones));
  return { objects: context.objects, inheritedColumns: context.inheritedColumns };
}

/**
 * A partition's copy of a constraint (a foreign key's copy on each partition, or its copy towards
 * each partition of a referenced table) stands for the constraint it was copied from.
 * Returns the address → root constraint id, and the table each copy is on.
 */
function constraintClones(context: SnapshotContext, clones: readonly CloneRow[]): { cloneOf: Map<string, string>; cloneTable: Map<string, string> } {
  const cloneOf = new Map<string, string>();
  /** The table each copy is on: its dependency on that table (a partition) is its own, not lifted. */
  const cloneTable = new Map<string, string>();
  const cloneParent = new Map(clones.map((row) => [row.oid, row.parent]));
  for (const row of clones) {
    let root = row.oid;
    for (let depth = 0; depth < 100; depth++) {
      const next = cloneParent.get(root);
      if (next === undefined) break;
      root = next;
    }
    const rootId = context.owner.get(address('pg_constraint', root));
    if (!rootId) continue;
    cloneOf.set(address('pg_constraint', row.oid), rootId);
    cloneTable.set(address('pg_constraint', row.oid), row.relid);
    if (row.conindid !== '0' && !context.owner.has(address('pg_class', row.conindid))) {
      cloneOf.set(address('pg_class', row.conindid), rootId);
      cloneTable.set(address('pg_class', row.conindid), row.relid);
    }
  }
  return { cloneOf, cloneTable };
}

/** Dependencies between tracked objects, from pg_depend; sequence ownership; then each object's final dependsOn. */
function addDependencies(context: SnapshotContext, clones: readonly CloneRow[]): void {
  const { objects, owner, extensionOf } = context;
  const { cloneOf, cloneTable } = constraintClones(context, clones);
  const resolve = (catalog: string, oid: string, sub: number): string | undefined =>
    owner.get(address(catalog, oid, sub)) ?? cloneOf.get(address(catalog, oid)) ?? (sub !== 0 ? owner.get(address(catalog, oid)) : undefined) ?? extensionOf.get(address(catalog, oid));
  const ownedBy = new Map<string, string>();
  const ignoredSequences = new Set<string>();
  for (const row of context.depends) {
    if (row.deptype === 'e' || row.deptype === 'i') continue;
    const refCatalog = row.ref_class;
    const catalog = row.class;
    const fromRelation = catalog === 'pg_class' ? objects.get(owner.get(address(catalog, row.objid)) ?? '') : undefined;
    // A sequence that a column owns (serial): ownership, not a creation-order dependency.
    if (fromRelation?.kind === 'sequence' && row.deptype === 'a' && refCatalog === 'pg_class' && row.refobjsubid > 0) {
      const column = context.columnIdByAddress.get(address(refCatalog, row.refobjid, row.refobjsubid));
      if (column && objects.has(column)) ownedBy.set(fromRelation.id, column);
      else if (context.ignoredRelations.has(row.refobjid)) ignoredSequences.add(fromRelation.id);
      continue;
    }
    const to = resolve(refCatalog, row.refobjid, row.refobjsubid);
    if (!to) continue;
    if (catalog === 'pg_attrdef') {
      const column = context.exprOwner.get(address(catalog, row.objid));
      if (column) context.addDep(column, to);
      continue;
    }
    const from = resolve(catalog, row.objid, row.objsubid);
    if (!from || from === to) continue;
    if (refCatalog === 'pg_class' && cloneTable.get(address(catalog, row.objid)) === row.refobjid) continue;
    if (catalog === 'pg_class' && cloneTable.get(address(refCatalog, row.refobjid)) === row.objid) continue;
    context.addDep(from, to);
    if (objects.get(from)?.kind === 'column' && row.objsubid > 0) context.addDep(from, to, context.typeDeps);
  }
  for (const id of ignoredSequences) objects.delete(id);
  for (const [id, object] of objects) objects.set(id, finalObject(context, object, ownedBy));
}

function finalObject(context: SnapshotContext, object: SchemaObject, ownedBy: ReadonlyMap<string, string>): SchemaObject {
  let next: SchemaObject = object;
  const extra = context.deps.get(object.id);
  if (extra) next = { ...next, dependsOn: [...new Set([...next.dependsOn, ...extra])] };
  if (next.kind === 'column') next = { ...next, typeDependsOn: [...(context.typeDeps.get(object.id) ?? [])] };
  if (next.kind === 'sequence') {
    const column = ownedBy.get(object.id);
    const owning = column ? context.objects.get(column) : undefined;
    if (column && owning) next = { ...next, ownedBy: column, definition: { ...next.definition, owned_by: `${owning.table}.${owning.name}` } };
  }
  return next;
}

const q = (schema: string, name: string): string => `${quoteIdent(schema)}.${quoteIdent(name)}`;

/**
 * Comments (pg_description) on tracked objects, each an object of its own that hangs on the object
 * it describes (its `parent`): dropped with it, recreated with it.
 */
function addComments(rows: readonly DescriptionRow[], context: SnapshotContext): void {
  const { objects, owner, domainConstraints } = context;
  const add = (target: SchemaObject, on: string, sql: string, key: string[], text: string, display: { table?: string; name: string }) => {
    const id = objectId('comment', target.id, ...key);
    context.add({
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
    const catalog = row.class;
    const sub = row.objsubid;
    const text = row.description;
    if (context.isMember(catalog, row.objoid)) continue;
    const domainConstraint = catalog === 'pg_constraint' ? domainConstraints.get(row.objoid) : undefined;
    if (domainConstraint) {
      const { domain, name } = domainConstraint;
      const target = objects.get(domain);
      if (target) add(target, 'domain constraint', `CONSTRAINT ${quoteIdent(name)} ON DOMAIN ${q(target.schema, target.name)}`, [name], text, { name: `${target.name}.${name}` });
      continue;
    }
    const composite = catalog === 'pg_class' && sub > 0 ? context.attributesByRelid.get(row.objoid) : undefined;
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
    if (!ownAddress(context.facts, target, catalog, sub)) continue;
    const sql = context.facts.commentTarget(target);
    if (!sql) continue;
    add(target, target.kind.replace(/_/g, ' '), sql, [], text, { ...(target.table !== undefined ? { table: target.table } : {}), name: target.name });
  }
}

/** True when a catalog address (class, sub-id) is the one the object itself has. */
function ownAddress(facts: KindFacts, object: SchemaObject, catalog: string, sub: number): boolean {
  return facts.catalog(object.kind) === catalog && (object.kind === 'column') === sub > 0;
}

/** Owners and privileges, as objects that hang on the object they belong to (like comments). */
function addAccess(rows: readonly AclRow[], context: SnapshotContext): void {
  const { objects, owner, facts } = context;
  for (const row of rows) {
    const catalog = row.class;
    const sub = row.sub;
    const id = owner.get(address(catalog, row.oid, sub));
    const target = id ? objects.get(id) : undefined;
    if (!target || !ownAddress(facts, target, catalog, sub)) continue;
    if (facts.owners && row.owner !== null && facts.owned(target.kind)) {
      const sql = facts.commentTarget(target);
      if (sql) {
        const ownerId = objectId('owner', target.id);
        context.add({
          kind: 'owner', id: ownerId, schema: target.schema, ...(target.table !== undefined ? { table: target.table } : {}), name: target.name,
          parent: target.id, target: sql, definition: { role: row.owner }, dependsOn: [target.id],
        });
      }
    }
    if (facts.privileges && row.acl !== null && facts.grantable(target.kind)) {
      const acl = row.acl.map((item) => item.replace(/\/.*$/, '')).sort();
      if (target.kind === 'column' && acl.length === 0) continue;
      const sql = facts.grantTarget(target);
      if (!sql) continue;
      const privilegesId = objectId('privileges', target.id);
      context.add({
        kind: 'privileges', id: privilegesId, schema: target.schema, ...(target.table !== undefined ? { table: target.table } : {}), name: target.name,
        parent: target.id, target: sql, ...(target.kind === 'column' ? { column: target.name } : { ownerRole: row.owner ?? '' }), definition: { acl }, dependsOn: [target.id],
      });
    }
  }
}
