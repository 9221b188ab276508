import { z } from 'zod';
import { objectId, type ObjectOf, type SchemaObject } from '../model.js';

/** A catalog address as pg_depend names it: class, object oid, sub-id (column number or 0). */
export function address(catalog: string, oid: string, sub: number = 0): string {
  return `${catalog}:${oid}:${sub}`;
}

/** The pg_depend rows the snapshot reads (deptype n, a, e, i between user objects). */
export const DependRow = z.object({
  class: z.string(),
  objid: z.string(),
  objsubid: z.number(),
  ref_class: z.string(),
  refobjid: z.string(),
  refobjsubid: z.number(),
  deptype: z.string(),
});
export type DependRow = z.infer<typeof DependRow>;

/** What readers of comments, owners and grants ask the registry. */
export interface KindFacts {
  /** How COMMENT ON names the object. */
  readonly commentTarget: (object: SchemaObject) => string | undefined;
  /** How GRANT names the object. */
  readonly grantTarget: (object: SchemaObject) => string | undefined;
  readonly catalog: (kind: SchemaObject['kind']) => string | undefined;
  readonly owned: (kind: SchemaObject['kind']) => boolean;
  readonly grantable: (kind: SchemaObject['kind']) => boolean;
  /** Compare owners, privileges (SnapshotOptions). */
  readonly owners: boolean;
  readonly privileges: boolean;
}

/** A table or view a table-scoped object hangs on: its schema, name and object id. */
export interface OnTable {
  readonly schema: string;
  readonly name: string;
  readonly parent: string;
}

/** Attributes that are not objects of their own, for the comments on them. */
export interface AttributeNames {
  readonly id: string;
  readonly attributes: Map<number, string>;
}

/**
 * What the per-kind readers build a snapshot in: the objects, which catalog address belongs to
 * which object, the dependencies found on the way, and the lookups later kinds need from earlier
 * ones (relations by oid for columns, constraints, indexes …).
 */
export class SnapshotContext {
  readonly objects = new Map<string, SchemaObject>();
  /** Catalog address → the id of the tracked object it belongs to. */
  readonly owner = new Map<string, string>();
  /** Addresses of attrdef rows (defaults, generated expressions) → column id. */
  readonly exprOwner = new Map<string, string>();
  readonly deps = new Map<string, Set<string>>();
  readonly typeDeps = new Map<string, Set<string>>();
  /** Extension members (address → extension id): the extension's business, never diffed one by one. */
  readonly extensionOf = new Map<string, string>();
  readonly relationIdByOid = new Map<string, string>();
  readonly relationNameByOid = new Map<string, { schema: string; name: string }>();
  /** Relations never diffed (ayb's control table), by oid. */
  readonly ignoredRelations = new Set<string>();
  /** Sequences that belong to an identity column (part of that column's definition), by oid. */
  readonly identitySequences = new Set<string>();
  /** Functions and casts that belong to another object (a range type's constructors and casts), by address. */
  readonly internal = new Set<string>();
  /** Attribute names by relation oid: a composite type's, a view's, a table's inherited columns. */
  readonly attributesByRelid = new Map<string, AttributeNames>();
  /** Domain constraints by oid: their domain and name. */
  readonly domainConstraints = new Map<string, { domain: string; name: string }>();
  readonly columnIdByAddress = new Map<string, string>();
  readonly inheritedColumns = new Map<string, ObjectOf<'column'>>();
  /** Parent oids of each relation, in inheritance order. */
  readonly parentOids = new Map<string, readonly string[]>();

  constructor(
    readonly depends: readonly DependRow[],
    extensions: readonly { oid: string; extname: string }[],
    /** What the registry says about kinds (given here: the readers are part of it). */
    readonly facts: KindFacts,
  ) {
    const extensionIdByOid = new Map(extensions.map((row) => [row.oid, objectId('extension', row.extname)]));
    for (const row of depends) {
      if (row.deptype === 'e' && row.ref_class === 'pg_extension') {
        const ext = extensionIdByOid.get(row.refobjid);
        if (ext) this.extensionOf.set(address(row.class, row.objid), ext);
      }
      if (row.deptype === 'i' && row.class === 'pg_class' && row.ref_class === 'pg_class' && row.refobjsubid > 0) this.identitySequences.add(row.objid);
      if (row.deptype === 'i' && (row.class === 'pg_proc' || row.class === 'pg_cast')) this.internal.add(address(row.class, row.objid));
    }
  }

  add(object: SchemaObject): void {
    this.objects.set(object.id, object);
  }

  /** Marks a catalog address as belonging to object `id`. */
  own(catalog: string, oid: string, id: string, sub: number = 0): void {
    this.owner.set(address(catalog, oid, sub), id);
  }

  addDep(from: string, to: string, map: Map<string, Set<string>> = this.deps): void {
    if (from === to) return;
    let set = map.get(from);
    if (!set) map.set(from, (set = new Set()));
    set.add(to);
  }

  isMember(catalog: string, oid: string): boolean {
    return this.extensionOf.has(address(catalog, oid));
  }

  trackedSchema(schema: string): boolean {
    return this.objects.has(objectId('schema', schema));
  }

  schemaDeps(schema: string): string[] {
    return [objectId('schema', schema)];
  }

  /** The tracked table (or view) an object hangs on. */
  onTable(relid: string): OnTable | undefined {
    const name = this.relationNameByOid.get(relid);
    const parent = this.relationIdByOid.get(relid);
    return name && parent ? { ...name, parent } : undefined;
  }

  /** The object of that id when it is of that kind. */
  get<K extends SchemaObject['kind']>(id: string | undefined, kind: K): ObjectOf<K> | undefined {
    const object = id === undefined ? undefined : this.objects.get(id);
    return object !== undefined && isKind(object, kind) ? object : undefined;
  }
}

function isKind<K extends SchemaObject['kind']>(object: SchemaObject | ObjectOf<K>, kind: K): object is ObjectOf<K> {
  return object.kind === kind;
}

/**
 * How a kind reads the catalog: one query, its rows' shape, and how they become objects. A
 * reader may make objects of more than one kind when one catalog holds them (pg_class: tables,
 * views; pg_proc: functions, procedures, aggregates).
 */
export interface CatalogReader {
  /** The query; run with search_path = '' and fixed output settings (see snapshot.ts). */
  readonly sql: string;
  /** The lowest server_version_num the query runs on; its rows are empty below. */
  readonly minVersion?: number;
  /** Parses the rows (throws on an unexpected shape) and adds their objects to `context`. */
  readonly decode: (rows: readonly unknown[], context: SnapshotContext) => void;
}

/** A reader for rows of shape `row`. */
export function reader<T extends z.ZodType>(sql: string, row: T, decode: (rows: readonly z.infer<T>[], context: SnapshotContext) => void, minVersion?: number): CatalogReader {
  return { sql, ...(minVersion !== undefined ? { minVersion } : {}), decode: (rows, context) => decode(z.array(row).parse(rows), context) };
}

/** System schemas: never diffed. */
export const SCHEMA_FILTER = `n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'`;

/** Row field shapes the readers share: text, nullable text, text arrays (pg's text[]), nullable ones. */
export const text = z.string();
export const maybeText = z.string().nullable();
export const texts = z.array(z.string());
export const maybeTexts = z.array(z.string()).nullable();
