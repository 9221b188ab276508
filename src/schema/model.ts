/**
 * The schema model: a snapshot is a flat set of objects, each with a stable identity (`id`), a
 * canonical `definition` that the diff compares, and the ids of the objects it depends on (from
 * pg_depend) that the migration generator orders by. Definitions hold only what is stable across a
 * clone: no OIDs, no column positions, no generated names of internal objects.
 */


export type SchemaDefinition = Record<string, never>;

export interface ExtensionDefinition {
  readonly version: string;
  readonly schema: string;
}

export interface EnumDefinition {
  readonly values: readonly string[];
}

export interface DomainDefinition {
  readonly type: string;
  readonly collation: string | null;
  readonly default: string | null;
  readonly not_null: boolean;
  readonly constraints: readonly { readonly name: string; readonly definition: string }[];
}

export interface CollationDefinition {
  readonly provider: 'libc' | 'icu' | 'builtin';
  /** The ICU (or builtin) locale; null for libc. */
  readonly locale: string | null;
  readonly lc_collate: string | null;
  readonly lc_ctype: string | null;
  readonly deterministic: boolean;
  /** ICU tailoring rules (PostgreSQL 16 and later), else null. */
  readonly rules: string | null;
}

export interface CompositeAttribute {
  readonly name: string;
  readonly type: string;
  readonly collation: string | null;
}

export interface CompositeTypeDefinition {
  /** By name: like a table's columns, their order is not compared. */
  readonly attributes: readonly CompositeAttribute[];
}

export interface RangeTypeDefinition {
  readonly subtype: string;
  /** Only when not the subtype's default operator class. */
  readonly subtype_opclass: string | null;
  readonly collation: string | null;
  readonly canonical: string | null;
  readonly subtype_diff: string | null;
  readonly multirange_type: string;
}

/** Operators, casts and event triggers: the CREATE statement that makes them, compared whole. */
export interface StatementDefinition {
  readonly definition: string;
}

export interface EventTriggerDefinition {
  readonly definition: string;
  /** `origin` (enabled), `disabled`, `replica` or `always`. */
  readonly enabled: 'origin' | 'disabled' | 'replica' | 'always';
}

export interface OwnerDefinition {
  readonly role: string;
}

export interface PrivilegesDefinition {
  /** `grantee=privileges` (grantee empty for PUBLIC; `*` after a letter: with grant option), sorted; the defaults spelled out. */
  readonly acl: readonly string[];
}

export interface ForeignServerDefinition {
  readonly wrapper: string;
  readonly type: string | null;
  readonly version: string | null;
  /** `key=value`, sorted. */
  readonly options: readonly string[];
}

export interface ForeignTableDefinition {
  readonly server: string;
  readonly options: readonly string[];
  /** In column order: a foreign table is recreated whole when it changes, so order is kept. */
  readonly columns: readonly {
    readonly name: string;
    readonly type: string;
    readonly collation: string | null;
    readonly not_null: boolean;
    readonly default: string | null;
    readonly options: readonly string[];
  }[];
}

export interface CommentDefinition {
  /** What kind of object the comment is on (`table`, `column`, `constraint` …). */
  readonly on: string;
  readonly text: string;
}

export interface SequenceOptions {
  readonly start: string;
  readonly increment: string;
  readonly min_value: string;
  readonly max_value: string;
  readonly cache: string;
  readonly cycle: boolean;
}

export interface SequenceDefinition extends SequenceOptions {
  readonly data_type: string;
  /** `table.column` that owns the sequence (serial columns), or null. */
  readonly owned_by: string | null;
  /** CREATE UNLOGGED SEQUENCE (PostgreSQL 15); absent when logged. */
  readonly unlogged?: true;
}

export interface TableDefinition {
  readonly partitioned: boolean;
  /** `RANGE (col)` etc. for a partitioned table. */
  readonly partition_key: string | null;
  /** Qualified parent of a partition, with its bound. */
  readonly partition_of: string | null;
  readonly partition_bound: string | null;
  /** Qualified parents of legacy (non-partition) inheritance, in order. */
  readonly inherits: readonly string[];
  readonly unlogged: boolean;
  readonly rls_enabled: boolean;
  readonly rls_forced: boolean;
  readonly options: readonly string[];
  /** `default`, `full`, `nothing`, or `using index "name"` (ALTER TABLE … REPLICA IDENTITY). */
  readonly replica_identity: string;
  /**
   * What a partition or inheritance child sets on its inherited columns itself, where it differs
   * from its parents: `"id" not null`, `"id" null`, `"v" default 3`, `"v" no default`; sorted.
   */
  readonly inherited_columns: readonly string[];
  /** The index ALTER TABLE … CLUSTER ON marked (quoted name); absent when none is. */
  readonly cluster_on?: string;
}

export interface IdentityDefinition extends SequenceOptions {
  readonly generation: 'always' | 'by_default';
}

export interface ColumnDefinition {
  readonly type: string;
  readonly collation: string | null;
  readonly not_null: boolean;
  readonly default: string | null;
  readonly identity: IdentityDefinition | null;
  /** Expression of a stored generated column. */
  readonly generated: string | null;
  /** ALTER COLUMN … SET STATISTICS target, or null for the default. */
  readonly statistics: number | null;
  /** ALTER COLUMN … SET STORAGE mode when it is not the type's default, else null. */
  readonly storage: 'plain' | 'external' | 'extended' | 'main' | null;
  /** ALTER COLUMN … SET COMPRESSION method, or null for the default. */
  readonly compression: string | null;
  /** ALTER COLUMN … SET (attribute_option = value), sorted. */
  readonly options: readonly string[];
}

export type ConstraintType = 'primary_key' | 'unique' | 'check' | 'foreign_key' | 'exclusion';

export interface ConstraintDefinition {
  readonly constraint_type: ConstraintType;
  readonly definition: string;
}

export interface IndexDefinition {
  readonly definition: string;
  /** For a partition's index attached to its parent's partitioned index: that index, qualified. */
  readonly attached_to?: string;
  /** Statistics targets set on expression columns (ALTER INDEX … ALTER COLUMN n SET STATISTICS): `n target`; absent when none is. */
  readonly statistics?: readonly string[];
}

export interface ViewDefinition {
  readonly definition: string;
  readonly options: readonly string[];
  /** A materialized view's index marked by CLUSTER ON (quoted name); absent when none is. */
  readonly cluster_on?: string;
  /** Defaults set on a view's columns (ALTER VIEW … ALTER COLUMN … SET DEFAULT), in column order; absent when none is. */
  readonly column_defaults?: readonly { readonly column: string; readonly default: string }[];
}

export interface FunctionDefinition {
  /** Full argument list with names, modes and defaults (pg_get_function_arguments). */
  readonly arguments: string;
  readonly result: string | null;
  /** The complete CREATE OR REPLACE statement (pg_get_functiondef). */
  readonly definition: string;
}

export interface AggregateDefinition {
  readonly definition: string;
}

/** An extended statistics object (CREATE STATISTICS), on the table it is defined on. */
export interface StatisticsDefinition {
  /** pg_get_statisticsobjdef: `CREATE STATISTICS schema.name (kinds) ON a, b FROM schema.table`. */
  readonly definition: string;
  /** ALTER STATISTICS … SET STATISTICS; null = the default. */
  readonly target: number | null;
}

/** A rewrite rule on a table (CREATE RULE; a view's own _RETURN rule is the view). */
export interface RuleDefinition {
  /** pg_get_ruledef, without its final semicolon. */
  readonly definition: string;
  /** `origin` (enabled), `disabled`, `replica` or `always`. */
  readonly enabled: 'origin' | 'disabled' | 'replica' | 'always';
}

export interface TriggerDefinition {
  readonly definition: string;
  /** `origin` (enabled), `disabled`, `replica` or `always`. */
  readonly enabled: 'origin' | 'disabled' | 'replica' | 'always';
}

export interface PolicyDefinition {
  readonly command: 'all' | 'select' | 'insert' | 'update' | 'delete';
  readonly permissive: boolean;
  readonly roles: readonly string[];
  readonly using: string | null;
  readonly with_check: string | null;
}

export interface DefinitionByKind {
  schema: SchemaDefinition;
  extension: ExtensionDefinition;
  collation: CollationDefinition;
  enum: EnumDefinition;
  domain: DomainDefinition;
  composite_type: CompositeTypeDefinition;
  range_type: RangeTypeDefinition;
  sequence: SequenceDefinition;
  table: TableDefinition;
  column: ColumnDefinition;
  constraint: ConstraintDefinition;
  index: IndexDefinition;
  view: ViewDefinition;
  materialized_view: ViewDefinition;
  function: FunctionDefinition;
  procedure: FunctionDefinition;
  aggregate: AggregateDefinition;
  statistics: StatisticsDefinition;
  trigger: TriggerDefinition;
  rule: RuleDefinition;
  policy: PolicyDefinition;
  comment: CommentDefinition;
  owner: OwnerDefinition;
  privileges: PrivilegesDefinition;
  operator: StatementDefinition;
  cast: StatementDefinition;
  event_trigger: EventTriggerDefinition;
  publication: StatementDefinition;
  foreign_server: ForeignServerDefinition;
  foreign_table: ForeignTableDefinition;
}

interface BaseObject {
  /** Unique within a snapshot and equal across snapshots for "the same" object. */
  readonly id: string;
  readonly schema: string;
  /** The object's own name; for functions the signature, e.g. `last_day(timestamp with time zone)`. */
  readonly name: string;
  /** For table-scoped kinds: the table (or view) name, and that relation's id. */
  readonly table?: string;
  readonly parent?: string;
  /** Ids of objects this one needs to exist (from pg_depend, plus schema and parent). */
  readonly dependsOn: readonly string[];
}

/** Every kind of object a snapshot holds; their order and behaviour are in the registry (kinds/index.ts). */
export type ObjectKind = keyof DefinitionByKind;

/** An object of kind `K` (written so that `ObjectOf<K>['kind']` is `K` inside generic code). */
export type ObjectOf<K extends ObjectKind> = BaseObject & { readonly kind: K; readonly definition: DefinitionByKind[K] } & ExtraByKind[K];

export type SchemaObject = { [K in ObjectKind]: ObjectOf<K> }[ObjectKind];

/** Facts the migration needs that are not compared. */
interface ExtraByKind {
  schema: object;
  extension: object;
  collation: object;
  enum: object;
  domain: object;
  composite_type: {
    /** Attribute names in their physical order, to create them in it; never compared. */
    readonly attributeOrder: readonly string[];
  };
  range_type: object;
  sequence: {
    /** Id of the owning column (serial), if any. */
    readonly ownedBy?: string;
  };
  table: object;
  column: {
    /** attnum, to create columns in their original order; never compared. */
    readonly position: number;
    /** The subset of dependsOn that comes from the column's type (enum, domain, extension type). */
    readonly typeDependsOn: readonly string[];
    /** The storage mode of the column's type, to go back to when `storage` becomes null. */
    readonly typeStorage?: string;
  };
  constraint: object;
  index: {
    /** Id of the partitioned index this one is attached to (ALTER INDEX … ATTACH PARTITION). */
    readonly attachedTo?: string;
  };
  view: object;
  materialized_view: object;
  function: { readonly identityArguments: string };
  procedure: { readonly identityArguments: string };
  aggregate: { readonly identityArguments: string };
  statistics: object;
  trigger: object;
  rule: object;
  policy: object;
  comment: {
    /** The object the comment is on, as COMMENT ON names it: `COLUMN "public"."t"."c"`. */
    readonly target: string;
  };
  owner: {
    /** The object as ALTER … OWNER TO names it: `TABLE "public"."t"`. */
    readonly target: string;
  };
  privileges: {
    /** The object as GRANT names it (`TABLE "public"."t"`); for a column, the table, with `column` set. */
    readonly target: string;
    readonly column?: string;
    /** The object's owner, whose default privileges a new object starts with. */
    readonly ownerRole?: string;
  };
  operator: {
    /** `"public".===(integer, integer)`: how DROP OPERATOR and COMMENT ON name it. */
    readonly signature: string;
  };
  /** `(integer AS public.money2)`: how DROP CAST names it. */
  cast: { readonly signature: string };
  event_trigger: object;
  publication: object;
  foreign_server: object;
  foreign_table: object;
}

export interface SchemaSnapshot {
  readonly objects: ReadonlyMap<string, SchemaObject>;
  /**
   * Columns a partition or child table inherits: its parent's business, so not diffed as such, but
   * kept to recognise them when a detach (or NO INHERIT) turns them into the table's own columns.
   */
  readonly inheritedColumns?: ReadonlyMap<string, ObjectOf<'column'>>;
}

/** The object of that id, or the inherited column of that id. */
export function lookup(snapshot: SchemaSnapshot, id: string): SchemaObject | undefined {
  return snapshot.objects.get(id) ?? snapshot.inheritedColumns?.get(id);
}

/** Builds the id of an object from its kind and identifying names. */
export function objectId(kind: ObjectKind, ...names: readonly string[]): string {
  return `${kind}:${JSON.stringify(names)}`;
}


/** An identifier as a reader expects it: bare when it is a plain lowercase name, quoted otherwise. */
export function displayIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/** `public.film.rating`, `public.last_day(timestamp with time zone)`: the object's path for people. */
export function objectPath(object: Pick<SchemaObject, 'kind' | 'schema' | 'table' | 'name'>): string {
  const isRoutine = object.kind === 'function' || object.kind === 'procedure' || object.kind === 'aggregate';
  const name = isRoutine ? object.name.replace(/^[^(]*/, (base) => displayIdent(base)) : displayIdent(object.name);
  const parts = [displayIdent(object.schema), ...(object.table !== undefined && object.table !== null ? [displayIdent(object.table)] : []), name];
  if (object.kind === 'cast') return object.name;
  return object.kind === 'schema' || object.kind === 'extension' || object.kind === 'event_trigger' || object.kind === 'publication' || object.kind === 'foreign_server' ? displayIdent(object.name) : parts.join('.');
}

/** `column public.film.rating`, for notes and messages. */
export function describeObject(object: Pick<SchemaObject, 'kind' | 'schema' | 'table' | 'name'>): string {
  return `${object.kind.replace(/_/g, ' ')} ${objectPath(object)}`;
}

function isKind<K extends ObjectKind>(object: SchemaObject | ObjectOf<K>, kind: K): object is ObjectOf<K> {
  return object.kind === kind;
}

/** The object of that id in `snapshot` when it is of kind `kind`. */
export function objectOfKind<K extends ObjectKind>(snapshot: SchemaSnapshot, id: string, kind: K): ObjectOf<K> | undefined {
  const object = snapshot.objects.get(id);
  return object !== undefined && isKind(object, kind) ? object : undefined;
}
