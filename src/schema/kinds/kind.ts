import { quoteIdent } from '../../postgres/quote.js';
import type { ObjectKind, ObjectOf, SchemaObject, SchemaSnapshot } from '../model.js';
import type { MigrationStatement } from '../statement.js';
import type { CatalogReader } from './context.js';

/**
 * How a change to an object is applied: in place (`alter`), by dropping and creating it again
 * (`rebuild`), or, for a type columns use, by renaming the old one away and converting the columns
 * to a new one (`recreate_type`).
 */
export type ChangeMode = 'alter' | 'rebuild' | 'recreate_type';

/** What an in-place change may need from the migration being planned. */
export interface AlterContext {
  /** The schema the migration goes to. */
  readonly b: SchemaSnapshot;
  /** Statements that must run after every create (attaching partitions, adding parents). */
  readonly late: MigrationStatement[];
  /** ALTER INDEX … ATTACH PARTITION: after the partitions themselves are attached. */
  readonly attachIndexes: MigrationStatement[];
  /** Columns retyped because the type they use is recreated. */
  readonly retypedViaType: ReadonlySet<string>;
  /** Columns whose default is dropped before the drops (and set again by their alter). */
  readonly resetDefault: ReadonlySet<string>;
}

/** A drop statement; the planner adds why it is there. */
export interface DropStatement {
  readonly sql: string;
  readonly destructive?: string;
}

/**
 * Everything ayb knows about one kind of object, in one place: how it is named, created, changed
 * and dropped. The registry (kinds/index.ts) holds one per kind.
 */
export interface KindModule<K extends ObjectKind> {
  readonly kind: K;
  /** How objects of this kind are read from the catalog (absent when another kind's reader makes them). */
  readonly read?: CatalogReader;
  /** The order objects are created in when nothing else decides (drops run in reverse). */
  readonly createRank: number;
  /** The catalog (pg_depend class) of the object's own address; comments and grants are found by it. */
  readonly catalog?: string;
  /** Has an owner (ALTER … OWNER TO) that `--owners` compares. */
  readonly owned?: boolean;
  /** Takes GRANT / REVOKE that `--privileges` compares. */
  readonly grantable?: boolean;
  /** Its removal loses data. */
  readonly holdsData?: boolean;
  /** Never dropped to be rebuilt because something it depends on changes. */
  readonly neverCascaded?: boolean;
  /** How COMMENT ON and ALTER … OWNER TO name the object (`TABLE "public"."t"`); undefined when they do not. */
  readonly name: (object: ObjectOf<K>) => string | undefined;
  /** How GRANT names the object, when not as `name` does. */
  readonly grantName?: (object: ObjectOf<K>) => string | undefined;
  /** The statements that create the object as `snapshot` has it. */
  readonly create: (object: ObjectOf<K>, snapshot: SchemaSnapshot) => string[];
  /** How a change is applied; `rebuild` when absent. */
  readonly changeMode?: (from: ObjectOf<K>, to: ObjectOf<K>) => ChangeMode;
  /** The in-place change from `from` to `to` (for a change mode of `alter`); none when absent. */
  readonly alter?: (from: ObjectOf<K>, to: ObjectOf<K>, context: AlterContext) => MigrationStatement[];
  /** The statements that drop the object; `b` is the schema the migration goes to. */
  readonly drop: (object: ObjectOf<K>, b: SchemaSnapshot) => DropStatement[];
}

/** `"schema"."name"`. */
export const qname = (schema: string, name: string): string => `${quoteIdent(schema)}.${quoteIdent(name)}`;

/** The table (or view) a table-scoped object is on, qualified. */
export const relationOf = (object: Pick<SchemaObject, 'schema' | 'table'>): string => qname(object.schema, object.table ?? '');

/** `drops column public.t.c`: the usual warning on a drop that loses data. */
export const drops = (sql: string, destructive?: string): DropStatement[] => [{ sql, ...(destructive ? { destructive } : {}) }];

/** A statement without comments. */
export const plain = (sql: string): MigrationStatement => ({ sql });
