import { quoteIdent, quoteLiteral } from '../postgres/quote.js';
import {
  columnNeedsRebuild,
  columnRetyped,
  columnsOf,
  domainNeedsRecreate,
  enumGrowsInPlace,
  sameDefinition,
  tableNeedsRebuild,
} from './diff.js';
import {
  type ColumnDefinition,
  type CompositeAttribute,
  describeObject,
  type IdentityDefinition,
  objectPath,
  lookup,
  objectId,
  type ObjectKind,
  type ObjectOf,
  type SchemaObject,
  type SchemaSnapshot,
  type SequenceOptions,
} from './model.js';
import { reparseable as rx } from './expressions.js';

/** One statement of a migration, without its trailing semicolon. */
export interface MigrationStatement {
  readonly sql: string;
  /** Set when the statement can lose data: says what. Rendered as `-- destructive: …`. */
  readonly destructive?: string;
  /** Why the statement is there when it is not the change itself (a dependent object rebuilt). */
  readonly note?: string;
  /**
   * Set when ayb cannot write the statement that applies: says what to do by hand. Rendered as a
   * `-- manual: …` comment in place of SQL (`sql` is empty); `diff --output sql` then exits 1.
   */
  readonly manual?: string;
}

/** True when the migration has steps only a person can write. */
export function needsManualSteps(statements: readonly MigrationStatement[]): boolean {
  return statements.some((statement) => statement.manual !== undefined);
}

/**
 * The order objects are created in when nothing else decides; dependencies always come first,
 * and drops run in the reverse order.
 */
const CREATE_ORDER: readonly ObjectKind[] = [
  'schema',
  'extension',
  'collation',
  'enum',
  'domain',
  'composite_type',
  'range_type',
  'sequence',
  'function',
  'procedure',
  'aggregate',
  'operator',
  'cast',
  'foreign_server',
  'table',
  'foreign_table',
  'column',
  'constraint',
  'index',
  'statistics',
  'view',
  'materialized_view',
  'trigger',
  'rule',
  'policy',
  'event_trigger',
  'publication',
  'comment',
  'owner',
  'privileges',
];
const CREATE_RANK = new Map(CREATE_ORDER.map((kind, index) => [kind, index]));
const CONSTRAINT_RANK = { primary_key: 0, unique: 1, exclusion: 2, check: 3, foreign_key: 4 } as const;

/** Kinds that are never dropped to be rebuilt because something they depend on changes. */
const NEVER_CASCADED: ReadonlySet<ObjectKind> = new Set(['schema', 'extension', 'collation', 'enum', 'domain', 'composite_type', 'range_type', 'sequence', 'table', 'foreign_server']);

type ChangeMode = 'alter' | 'rebuild' | 'recreate_type';

function changeMode(a: SchemaObject, b: SchemaObject): ChangeMode {
  switch (a.kind) {
    case 'extension':
    case 'sequence':
    case 'composite_type':
    case 'comment':
    case 'owner':
    case 'privileges':
      return 'alter';
    case 'foreign_server':
      return a.definition.type === (b as ObjectOf<'foreign_server'>).definition.type && a.definition.wrapper === (b as ObjectOf<'foreign_server'>).definition.wrapper ? 'alter' : 'rebuild';
    case 'enum':
      return enumGrowsInPlace(a.definition, (b as ObjectOf<'enum'>).definition) ? 'alter' : 'recreate_type';
    case 'domain':
      return domainNeedsRecreate(a.definition, (b as ObjectOf<'domain'>).definition) ? 'recreate_type' : 'alter';
    case 'table':
      return tableNeedsRebuild(a.definition, (b as ObjectOf<'table'>).definition) ? 'rebuild' : 'alter';
    case 'column':
      return columnNeedsRebuild(a.definition, (b as ObjectOf<'column'>).definition) ? 'rebuild' : 'alter';
    case 'statistics':
      return sameDefinition(a.definition.definition, (b as ObjectOf<'statistics'>).definition.definition) ? 'alter' : 'rebuild';
    case 'materialized_view': {
      // Only the index it is clustered on differs: set where the other CLUSTER ON statements are.
      const { cluster_on: _x, ...x } = a.definition;
      const { cluster_on: _y, ...y } = (b as ObjectOf<'materialized_view'>).definition;
      return sameDefinition(x, y) ? 'alter' : 'rebuild';
    }
    case 'function':
    case 'procedure': {
      const to = (b as ObjectOf<'function'>).definition;
      return a.definition.arguments === to.arguments && a.definition.result === to.result ? 'alter' : 'rebuild';
    }
    default:
      return 'rebuild';
  }
}

const qname = (schema: string, name: string): string => `${quoteIdent(schema)}.${quoteIdent(name)}`;
const relationOf = (object: SchemaObject): string => qname(object.schema, object.table ?? '');

/**
 * The statements that turn schema `a` into schema `b`, in an order PostgreSQL accepts:
 *  1. release what blocks drops (partition detach, sequence ownership, column defaults that use
 *     something about to be dropped);
 *  2. drops, dependents first: removed objects, objects that can only change by being recreated,
 *     and every object that depends on one of those or on a column whose type changes (views,
 *     triggers, policies …), found through pg_depend;
 *  3. creates and in-place changes, dependencies first, in the order of `b`'s dependency graph;
 *  4. sequence ownership and the removal of replaced types.
 */
export function planMigration(a: SchemaSnapshot, b: SchemaSnapshot): MigrationStatement[] {
  return new MigrationPlanner(a, b).plan();
}

class MigrationPlanner {
  /** Objects of `a` that are dropped: removed, rebuilt, or dependents of those. */
  private readonly dropped = new Set<string>();
  /** Why a dependent object is dropped and recreated. */
  private readonly cascadeCause = new Map<string, string>();
  private readonly altered = new Set<string>();
  private readonly recreatedTypes = new Set<string>();
  /** Columns whose type changes, by their own change or because their type is recreated. */
  private readonly retyped = new Set<string>();
  private readonly retypedViaType = new Set<string>();
  /** Columns whose default must be dropped before the drops, and set again afterwards. */
  private readonly resetDefault = new Set<string>();
  private readonly created = new Set<string>();
  /** Statements that must run after every create (attaching partitions, adding parents). */
  private readonly late: MigrationStatement[] = [];
  /** ALTER INDEX … ATTACH PARTITION: after the partitions themselves are attached. */
  private readonly attachIndexes: MigrationStatement[] = [];
  /** Changes the migration cannot make, with what to do instead. */
  private readonly manual = new Map<string, string>();
  /**
   * Drops (by drop target) that wait until every create and alter has run: an object that stays
   * still depends on them in `a` (a column retyped off a type, a default that stops calling a
   * function), and everything they depend on that goes too.
   */
  private readonly deferred = new Set<string>();

  constructor(
    private readonly a: SchemaSnapshot,
    private readonly b: SchemaSnapshot,
  ) {}

  plan(): MigrationStatement[] {
    this.classify();
    this.cascade();
    for (const id of this.dropped) if (this.b.objects.has(id)) this.created.add(id);
    for (const id of this.b.objects.keys()) if (!lookup(this.a, id)) this.created.add(id);
    this.deferDrops();
    const statements = [
      ...this.releaseStatements(),
      ...this.dropStatements((target) => !this.deferred.has(target)),
      ...this.createStatements(),
      ...this.finalStatements(),
      ...this.dropStatements((target) => this.deferred.has(target)),
    ];
    return statements;
  }

  private classify(): void {
    for (const [id, from] of this.a.objects) {
      const to = lookup(this.b, id);
      if (!to) {
        this.dropped.add(id);
        continue;
      }
      // A column that becomes inherited (an attach) is the parent's from then on.
      if (!this.b.objects.has(id) || sameDefinition(from.definition, to.definition)) continue;
      const mode = from.kind === 'index' ? this.indexChangeMode(from, to as ObjectOf<'index'>) : changeMode(from, to);
      const blocked = this.blockedByColumns(from, to);
      // A collation columns use is recreated as a type is: renamed away, made anew, the columns recollated.
      if (blocked && from.kind === 'collation') this.recreatedTypes.add(id);
      else if (blocked) this.manual.set(id, blocked);
      else if (mode === 'rebuild') this.dropped.add(id);
      else if (mode === 'recreate_type') this.recreatedTypes.add(id);
      else {
        this.altered.add(id);
        if (from.kind === 'column' && columnRetyped(from.definition, (to as ObjectOf<'column'>).definition)) this.retyped.add(id);
      }
    }
    // A partition's index cannot be dropped (nor detached) while it is attached to its parent's
    // index, and its partition stays: the parent index is dropped (and recreated) with it.
    for (let changed = true; changed; ) {
      changed = false;
      for (const id of this.dropped) {
        const index = this.a.objects.get(id);
        if (index?.kind !== 'index' || !index.attachedTo || this.dropped.has(index.attachedTo) || this.attachmentReleased(index)) continue;
        this.dropped.add(index.attachedTo);
        changed = true;
      }
    }
    // Columns a detach (or NO INHERIT) makes the table's own keep their inherited definition.
    for (const [id, to] of this.b.objects) {
      const from = this.a.inheritedColumns?.get(id);
      if (from && !this.a.objects.has(id) && !sameDefinition(from.definition, to.definition)) this.altered.add(id);
    }
  }

  /**
   * An index whose definition is the same but whose attachment differs is attached in place
   * (ALTER INDEX … ATTACH PARTITION); PostgreSQL cannot detach one, so an attached index that must
   * not be any more is rebuilt, unless its partition is detached or dropped (which releases it).
   */
  private indexChangeMode(from: ObjectOf<'index'>, to: ObjectOf<'index'>): ChangeMode {
    if (!sameDefinition(from.definition.definition, to.definition.definition)) return 'rebuild';
    if (from.definition.attached_to === undefined || from.definition.attached_to === to.definition.attached_to || this.attachmentReleased(from)) return 'alter';
    return 'rebuild';
  }

  /** True when the plan detaches or drops the partition a partition's index is on (which detaches the index). */
  private attachmentReleased(index: ObjectOf<'index'>): boolean {
    if (!index.parent) return false;
    if (this.dropped.has(index.parent)) return true;
    const from = this.a.objects.get(index.parent);
    const to = this.b.objects.get(index.parent);
    return from?.kind === 'table' && (to?.kind !== 'table' || from.definition.partition_of !== to.definition.partition_of || from.definition.partition_bound !== to.definition.partition_bound);
  }

  /**
   * Types and collations PostgreSQL cannot change, nor drop, while a column uses them: a collation or
   * range type redefined, a composite type's attribute retyped or dropped. Says what to do instead.
   */
  private blockedByColumns(from: SchemaObject, to: SchemaObject): string | undefined {
    let what: string | undefined;
    if (from.kind === 'collation' || from.kind === 'range_type') what = `${describeObject(from)} is defined differently`;
    else if (from.kind === 'composite_type' && to.kind === 'composite_type') {
      const after = new Map(to.definition.attributes.map((attribute) => [attribute.name, attribute]));
      // Attributes are added and dropped in place (ALTER TYPE … ADD / DROP ATTRIBUTE) while columns use the type; only a retype is refused.
      const changed = from.definition.attributes.some((attribute) => {
        const other = after.get(attribute.name);
        return other !== undefined && (other.type !== attribute.type || other.collation !== attribute.collation);
      });
      if (changed) what = `attributes of ${describeObject(from)} are retyped`;
    }
    if (!what) return undefined;
    const users = [...this.a.objects.values()].filter((object) => object.kind === 'column' && object.dependsOn.includes(from.id));
    if (users.length === 0) return undefined;
    const columns = users.map((column) => objectPath(column)).join(', ');
    return `${what}, and PostgreSQL cannot change it while columns use it (${columns}): create the new definition under another name, convert those columns to it (ALTER TABLE … ALTER COLUMN … TYPE … USING …), drop the old one and rename the new one`;
  }

  /** Follows `a`'s dependency graph from everything that goes away or changes type. */
  private cascade(): void {
    const dependents = new Map<string, string[]>();
    for (const object of this.a.objects.values()) {
      for (const dep of object.dependsOn) {
        const list = dependents.get(dep);
        if (list) list.push(object.id);
        else dependents.set(dep, [object.id]);
      }
    }
    type Mode = 'drop' | 'retype' | 'type';
    const queue: [string, Mode][] = [
      ...[...this.dropped].map((id): [string, Mode] => [id, 'drop']),
      ...[...this.retyped].map((id): [string, Mode] => [id, 'retype']),
      ...[...this.recreatedTypes].map((id): [string, Mode] => [id, 'type']),
    ];
    const drop = (id: string, cause: string) => {
      this.dropped.add(id);
      const object = this.a.objects.get(id);
      const causeObject = this.a.objects.get(cause);
      if (object && causeObject && object.parent !== cause) this.cascadeCause.set(id, describeObject(causeObject));
      queue.push([id, 'drop']);
    };
    for (let i = 0; i < queue.length; i++) {
      const [cause, mode] = queue[i]!;
      for (const id of dependents.get(cause) ?? []) {
        if (this.dropped.has(id)) continue;
        const object = this.a.objects.get(id)!;
        if (object.parent === cause) {
          // A comment on a type that is recreated must be set again on the new type.
          if (mode === 'drop' || (mode === 'type' && (object.kind === 'comment' || object.kind === 'owner' || object.kind === 'privileges'))) drop(id, cause);
          continue;
        }
        if (object.kind === 'column') {
          if (object.definition.generated !== null) {
            drop(id, cause);
          } else if (mode === 'type' && object.typeDependsOn.includes(cause)) {
            // PostgreSQL cannot retype a partition key column: its table is rebuilt (with its partitions).
            const table = object.parent ? this.a.objects.get(object.parent) : undefined;
            if (table?.kind === 'table' && this.b.objects.has(table.id) && partitionKeyUses(table.definition.partition_key, object.name)) {
              if (!this.dropped.has(table.id)) drop(table.id, cause);
              continue;
            }
            if (!this.retyped.has(id)) {
              this.retyped.add(id);
              this.retypedViaType.add(id);
              queue.push([id, 'retype']);
            }
            if (object.definition.default !== null) this.resetDefault.add(id);
          } else if (object.definition.default !== null) {
            this.resetDefault.add(id);
          }
          continue;
        }
        if (object.kind === 'table') {
          // A partition (or inheritance child) of a table that is dropped to be rebuilt goes with it.
          const to = this.b.objects.get(id);
          if (mode === 'drop' && this.b.objects.has(cause) && to?.kind === 'table' && sameDefinition(to.definition.partition_of, object.definition.partition_of) && object.definition.partition_of !== null) {
            drop(id, cause);
          }
          continue;
        }
        if (mode === 'type' && (object.kind === 'domain' || object.kind === 'composite_type') && this.b.objects.has(id)) {
          // A domain or composite type over a recreated type keeps pointing at the renamed old one:
          // it is recreated too (after it, being made from `b`), and its columns converted in turn.
          if (!this.recreatedTypes.has(id)) {
            this.recreatedTypes.add(id);
            this.altered.delete(id);
            this.cascadeCause.set(id, describeObject(this.a.objects.get(cause)!));
            queue.push([id, 'type']);
          }
          continue;
        }
        if (NEVER_CASCADED.has(object.kind)) continue;
        // PostgreSQL rebuilds indexes and constraints on a retyped column itself.
        if (mode === 'retype' && (object.kind === 'index' || object.kind === 'constraint')) continue;
        drop(id, cause);
      }
    }
  }

  /**
   * Finds the drops that must wait: pg_depend (as `a`'s dependsOn) says an object that is not
   * dropped depends on them, so they can only go once that object has changed. Whatever such a
   * drop depends on and is dropped waits with it (dependents first, still). A drop whose wait would
   * hold back the drop of an object that is recreated (its name needed by the create) stays early.
   */
  private deferDrops(): void {
    const dependents = new Map<string, string[]>();
    for (const object of this.a.objects.values()) {
      for (const dep of object.dependsOn) {
        const list = dependents.get(dep);
        if (list) list.push(object.id);
        else dependents.set(dep, [object.id]);
      }
    }
    const depTargets = (target: string): string[] => {
      const out = new Set<string>();
      for (const id of this.dropped) {
        if (this.dropTarget(id) !== target) continue;
        for (const dep of this.a.objects.get(id)!.dependsOn) if (this.dropped.has(dep) && this.dropTarget(dep) !== target) out.add(this.dropTarget(dep));
      }
      return [...out];
    };
    for (const id of this.dropped) {
      if (this.b.objects.has(id)) continue;
      const target = this.dropTarget(id);
      if (this.deferred.has(target)) continue;
      const held = (dependents.get(id) ?? []).some((dependent) => !this.dropped.has(dependent) && !this.releasedBefore(dependent, id));
      if (!held) continue;
      const closure = new Set<string>([target]);
      const queue = [target];
      let blocked = false;
      while (queue.length > 0 && !blocked) {
        const next = queue.pop()!;
        if (this.b.objects.has(next)) blocked = true;
        for (const dep of depTargets(next)) {
          if (closure.has(dep) || this.deferred.has(dep)) continue;
          closure.add(dep);
          queue.push(dep);
        }
      }
      if (!blocked) for (const member of closure) this.deferred.add(member);
    }
  }

  /**
   * True when the release statements, before the drops, already end `dependent`'s hold on `id`: a
   * column default reset (not the column's type), a partition detached or a parent no longer inherited.
   */
  private releasedBefore(dependent: string, id: string): boolean {
    const object = this.a.objects.get(dependent);
    if (!object) return true;
    if (object.kind === 'column') return this.resetDefault.has(dependent) && !object.typeDependsOn.includes(id);
    return object.kind === 'table' && this.a.objects.get(id)?.kind === 'table';
  }

  /** Where a dropped object's drop happens: inside its table's (or owning column's) drop when that goes too. */
  private dropTarget(id: string): string {
    const object = this.a.objects.get(id)!;
    // A comment on a column goes with the column, which goes with its table.
    if (object.parent && this.dropped.has(object.parent)) return this.dropTarget(object.parent);
    if (object.kind === 'index' && object.attachedTo && this.dropped.has(object.attachedTo)) return this.dropTarget(object.attachedTo);
    if (object.kind === 'sequence' && object.ownedBy && this.dropped.has(object.ownedBy)) return this.dropTarget(object.ownedBy);
    return id;
  }

  private createTarget(id: string): string {
    const object = this.b.objects.get(id);
    if (object?.kind === 'column' && object.parent && this.created.has(object.parent)) return object.parent;
    return id;
  }

  private releaseStatements(): MigrationStatement[] {
    const out: MigrationStatement[] = [];
    for (const id of this.altered) {
      const from = lookup(this.a, id)!;
      const to = this.b.objects.get(id)!;
      if (from.kind !== 'table' || to.kind !== 'table') continue;
      const x = from.definition;
      const y = to.definition;
      if (x.partition_of && (x.partition_of !== y.partition_of || x.partition_bound !== y.partition_bound)) {
        out.push({ sql: `ALTER TABLE ${x.partition_of} DETACH PARTITION ${qname(from.schema, from.name)}` });
      }
      for (const parent of x.inherits) {
        if (!y.inherits.includes(parent)) out.push({ sql: `ALTER TABLE ${qname(from.schema, from.name)} NO INHERIT ${parent}` });
      }
    }
    for (const from of this.a.objects.values()) {
      if (from.kind !== 'sequence' || !from.ownedBy || this.dropped.has(from.id)) continue;
      const to = this.b.objects.get(from.id) as ObjectOf<'sequence'> | undefined;
      if (to && (to.ownedBy !== from.ownedBy || this.ownerDropped(from.ownedBy))) {
        out.push({ sql: `ALTER SEQUENCE ${qname(from.schema, from.name)} OWNED BY NONE` });
      }
    }
    // An identity column's sequence goes with its identity: before the drops and creates, so that a
    // serial sequence of the same name can take its place.
    for (const id of this.altered) {
      const from = lookup(this.a, id)!;
      const to = this.b.objects.get(id)!;
      if (from.kind === 'column' && to.kind === 'column' && from.definition.identity && !to.definition.identity) {
        out.push({ sql: `ALTER TABLE ${relationOf(from)} ALTER COLUMN ${quoteIdent(from.name)} DROP IDENTITY` });
      }
    }
    for (const id of this.resetDefault) {
      const column = this.a.objects.get(id) as ObjectOf<'column'>;
      if (this.dropped.has(id) || (column.parent && this.dropped.has(column.parent))) continue;
      out.push({ sql: `ALTER TABLE ${relationOf(column)} ALTER COLUMN ${quoteIdent(column.name)} DROP DEFAULT` });
    }
    return out;
  }

  /**
   * REPLICA IDENTITY, set once every index exists: on a new table, on a changed one, and again
   * when the index it names is recreated (dropping an index leaves the table without one).
   */
  private replicaIdentityStatements(): MigrationStatement[] {
    const out: MigrationStatement[] = [];
    for (const to of this.b.objects.values()) {
      if (to.kind !== 'table') continue;
      const from = this.a.objects.get(to.id) as ObjectOf<'table'> | undefined;
      const identity = to.definition.replica_identity;
      const index = /^using index (.*)$/.exec(identity)?.[1];
      const indexName = index?.replace(/^"(.*)"$/, '$1').replace(/""/g, '"');
      const indexRecreated =
        indexName !== undefined && (this.created.has(objectId('index', to.schema, indexName)) || this.created.has(objectId('constraint', to.schema, to.name, indexName)));
      const needed = this.created.has(to.id) || !from ? identity !== 'default' : from.definition.replica_identity !== identity || indexRecreated;
      if (needed) out.push({ sql: `ALTER TABLE ${qname(to.schema, to.name)} REPLICA IDENTITY ${identity.toUpperCase().replace(/^USING INDEX .*$/, `USING INDEX ${index}`)}` });
    }
    return out;
  }

  /**
   * CLUSTER ON, once every index exists: on a new table or materialized view, on one whose index
   * changes, and again when that index is recreated; SET WITHOUT CLUSTER when the mark goes.
   */
  private clusterStatements(): MigrationStatement[] {
    const out: MigrationStatement[] = [];
    for (const to of this.b.objects.values()) {
      if (to.kind !== 'table' && to.kind !== 'materialized_view') continue;
      const from = this.a.objects.get(to.id) as ObjectOf<'table' | 'materialized_view'> | undefined;
      const index = to.definition.cluster_on;
      const name = qname(to.schema, to.name);
      if (index === undefined) {
        if (from?.definition.cluster_on !== undefined && !this.created.has(to.id)) out.push({ sql: `ALTER TABLE ${name} SET WITHOUT CLUSTER` });
        continue;
      }
      const indexName = index.replace(/^"(.*)"$/, '$1').replace(/""/g, '"');
      const indexRecreated = this.created.has(objectId('index', to.schema, indexName)) || this.created.has(objectId('constraint', to.schema, to.name, indexName));
      if (this.created.has(to.id) || !from || from.definition.cluster_on !== index || indexRecreated) out.push({ sql: `ALTER TABLE ${name} CLUSTER ON ${index}` });
    }
    return out;
  }

  private ownerDropped(columnId: string): boolean {
    const column = this.a.objects.get(columnId);
    return this.dropped.has(columnId) || (column?.parent !== undefined && this.dropped.has(column.parent));
  }

  private dropStatements(included: (target: string) => boolean): MigrationStatement[] {
    const members = new Map<string, string[]>();
    for (const id of this.dropped) {
      const target = this.dropTarget(id);
      if (!included(target)) continue;
      const list = members.get(target);
      if (list) list.push(id);
      else members.set(target, [id]);
    }
    const depsOf = (node: string) => {
      const deps = new Set<string>();
      for (const member of members.get(node) ?? []) {
        for (const dep of this.a.objects.get(member)!.dependsOn) {
          if (this.dropped.has(dep) && members.has(this.dropTarget(dep))) deps.add(this.dropTarget(dep));
        }
      }
      return deps;
    };
    const order = topologicalOrder([...members.keys()], depsOf, (id) => this.a.objects.get(id)!).reverse();
    return order.flatMap((id) => this.dropStatement(this.a.objects.get(id)!));
  }

  private dropStatement(object: SchemaObject): MigrationStatement[] {
    const rebuilt = this.b.objects.has(object.id);
    const cause = this.cascadeCause.get(object.id);
    const note = cause ? `dropped and recreated below: depends on ${cause}` : rebuilt ? 'changed: dropped and recreated below' : undefined;
    const statement = (sql: string, destructive?: string): MigrationStatement[] => [{ sql, ...(destructive ? { destructive } : {}), ...(note ? { note } : {}) }];
    const what = describeObject(object);
    switch (object.kind) {
      case 'schema':
        return statement(`DROP SCHEMA ${quoteIdent(object.name)}`, `drops ${what}`);
      case 'extension':
        return statement(`DROP EXTENSION ${quoteIdent(object.name)}`, `drops ${what} and the objects it provides`);
      case 'enum':
        return statement(`DROP TYPE ${qname(object.schema, object.name)}`, `drops ${what}`);
      case 'domain':
        return statement(`DROP DOMAIN ${qname(object.schema, object.name)}`, `drops ${what}`);
      case 'sequence':
        return statement(`DROP SEQUENCE ${qname(object.schema, object.name)}`, `drops ${what} and its current value`);
      case 'table':
        return statement(`DROP TABLE ${qname(object.schema, object.name)}`, `drops ${what} and all its rows${rebuilt ? ' (it is recreated empty below)' : ''}`);
      case 'column': {
        const to = this.b.objects.get(object.id) as ObjectOf<'column'> | undefined;
        const computed = object.definition.generated !== null && (!to || to.definition.generated !== null);
        const destructive = computed ? undefined : to ? `replaces the values of ${what} with a generated expression` : `drops ${what} and its data`;
        return statement(`ALTER TABLE ${relationOf(object)} DROP COLUMN ${quoteIdent(object.name)}`, destructive);
      }
      case 'constraint':
        return statement(`ALTER TABLE ${relationOf(object)} DROP CONSTRAINT ${quoteIdent(object.name)}`);
      case 'index':
        return statement(`DROP INDEX ${qname(object.schema, object.name)}`);
      case 'view':
        return statement(`DROP VIEW ${qname(object.schema, object.name)}`);
      case 'materialized_view':
        return statement(`DROP MATERIALIZED VIEW ${qname(object.schema, object.name)}`);
      case 'function':
      case 'procedure':
      case 'aggregate':
        return statement(`DROP ${object.kind.toUpperCase()} ${routineName(object)}(${object.identityArguments || (object.kind === 'aggregate' ? '*' : '')})`);
      case 'trigger':
        return statement(`DROP TRIGGER ${quoteIdent(object.name)} ON ${relationOf(object)}`);
      case 'policy':
        return statement(`DROP POLICY ${quoteIdent(object.name)} ON ${relationOf(object)}`);
      case 'rule':
        return statement(`DROP RULE ${quoteIdent(object.name)} ON ${relationOf(object)}`);
      case 'statistics':
        return statement(`DROP STATISTICS ${qname(object.schema, object.name)}`);
      case 'collation':
        return statement(`DROP COLLATION ${qname(object.schema, object.name)}`);
      case 'composite_type':
      case 'range_type':
        return statement(`DROP TYPE ${qname(object.schema, object.name)}`, `drops ${what}`);
      case 'comment':
        return statement(`COMMENT ON ${object.target} IS NULL`);
      case 'owner':
        // Goes with its object, and an object always has an owner: nothing to undo on its own.
        return [];
      case 'privileges': {
        // The object stays but grants nothing any more (a column's grants revoked).
        const column = object.column !== undefined ? ` (${quoteIdent(object.column)})` : '';
        const grantees = [...new Set(object.definition.acl.map((item) => item.slice(0, item.lastIndexOf('='))))].map((who) => (who === '' ? 'PUBLIC' : quoteIdent(who)));
        return grantees.length > 0 ? statement(`REVOKE ALL${column} ON ${object.target} FROM ${grantees.join(', ')}`) : [];
      }
      case 'operator':
        return statement(`DROP OPERATOR ${object.signature}`);
      case 'cast':
        return statement(`DROP CAST ${object.signature}`);
      case 'event_trigger':
        return statement(`DROP EVENT TRIGGER ${quoteIdent(object.name)}`);
      case 'publication':
        return statement(`DROP PUBLICATION ${quoteIdent(object.name)}`);
      case 'foreign_server':
        return statement(`DROP SERVER ${quoteIdent(object.name)}`);
      case 'foreign_table':
        return statement(`DROP FOREIGN TABLE ${qname(object.schema, object.name)}`);
    }
  }

  private createStatements(): MigrationStatement[] {
    const nodes = new Set<string>();
    for (const id of this.created) nodes.add(this.createTarget(id));
    for (const id of this.altered) if (!this.dropped.has(id)) nodes.add(id);
    for (const id of [...this.resetDefault, ...this.retypedViaType]) {
      if (this.b.objects.has(id) && !this.created.has(id) && !this.ownerDropped(id)) nodes.add(id);
    }
    for (const id of this.recreatedTypes) nodes.add(id);
    for (const id of this.manual.keys()) nodes.add(id);
    const members = new Map<string, string[]>();
    for (const id of this.b.objects.keys()) {
      const target = this.createTarget(id);
      if (!nodes.has(target)) continue;
      const list = members.get(target);
      if (list) list.push(id);
      else members.set(target, [id]);
    }
    const depsOf = (node: string) => {
      const deps = new Set<string>();
      for (const member of members.get(node) ?? [node]) {
        for (const dep of this.b.objects.get(member)?.dependsOn ?? []) {
          const target = this.createTarget(dep);
          if (nodes.has(target)) deps.add(target);
        }
      }
      return deps;
    };
    const order = topologicalOrder([...nodes], depsOf, (id) => this.b.objects.get(id)!);
    return order.flatMap((id) => {
      const manual = this.manual.get(id);
      if (manual) return [{ sql: '', manual }];
      if (this.recreatedTypes.has(id)) return this.recreateType(this.a.objects.get(id)!, this.b.objects.get(id)!);
      if (this.created.has(id)) return this.createStatement(this.b.objects.get(id)!);
      return this.alterStatements(lookup(this.a, id)!, this.b.objects.get(id)!);
    });
  }

  private createStatement(object: SchemaObject): MigrationStatement[] {
    const cause = this.cascadeCause.get(object.id);
    const mustFill = object.kind === 'column' && object.definition.not_null && object.definition.default === null && object.definition.identity === null && object.definition.generated === null;
    const note = cause
      ? `recreated: depends on ${cause}`
      : mustFill
        ? 'NOT NULL without a default: fails if the table has rows (add a default, or add the column nullable and backfill first)'
        : undefined;
    if (object.kind === 'index' && object.attachedTo && object.definition.attached_to) {
      const attach = `ALTER INDEX ${object.definition.attached_to} ATTACH PARTITION ${qname(object.schema, object.name)}`;
      if (this.autoCreated(object)) return [{ sql: renameAutoIndex(object, this.b), note: 'PostgreSQL made this index with the partition: give it its name' }];
      this.attachIndexes.push({ sql: attach });
    }
    const out: MigrationStatement[] = createSql(object, this.b).map((sql) => ({ sql }));
    if (note && out[0]) out[0] = { ...out[0], note };
    // What a new partition or child sets on its inherited columns: once its parents are attached.
    if (object.kind === 'table') this.late.push(...inheritedColumnSettings(object, this.b, []).map((sql) => ({ sql })));
    return out;
  }

  /**
   * True when PostgreSQL makes `index` by itself: its partition is created in the plan (CREATE
   * TABLE … PARTITION OF) while the parent index it is attached to already exists then (it is not
   * created by the plan, which creates indexes after tables, or is made that way itself).
   */
  private autoCreated(index: ObjectOf<'index'>): boolean {
    if (!index.attachedTo || !index.parent || !this.created.has(index.id) || !this.created.has(index.parent)) return false;
    const table = this.b.objects.get(index.parent);
    if (table?.kind !== 'table' || table.definition.partition_of === null) return false;
    if (!this.created.has(index.attachedTo)) return true;
    const parent = this.b.objects.get(index.attachedTo);
    return parent?.kind === 'index' && this.autoCreated(parent);
  }

  private alterStatements(from: SchemaObject, to: SchemaObject): MigrationStatement[] {
    const sql = (text: string): MigrationStatement => ({ sql: text });
    switch (to.kind) {
      case 'index': {
        const x = (from as ObjectOf<'index'>).definition;
        if (to.definition.attached_to && to.definition.attached_to !== x.attached_to) {
          this.attachIndexes.push(sql(`ALTER INDEX ${to.definition.attached_to} ATTACH PARTITION ${qname(to.schema, to.name)}`));
        }
        return indexStatistics(to, x.statistics).map(sql);
      }
      case 'extension': {
        const x = (from as ObjectOf<'extension'>).definition;
        const out: MigrationStatement[] = [];
        if (x.schema !== to.definition.schema) out.push(sql(`ALTER EXTENSION ${quoteIdent(to.name)} SET SCHEMA ${quoteIdent(to.definition.schema)}`));
        if (x.version !== to.definition.version) out.push(sql(`ALTER EXTENSION ${quoteIdent(to.name)} UPDATE TO ${quoteLiteral(to.definition.version)}`));
        return out;
      }
      case 'enum':
        return enumAdditions((from as ObjectOf<'enum'>).definition.values, to).map(sql);
      case 'domain':
        return alterDomain(from as ObjectOf<'domain'>, to).map(sql);
      case 'sequence': {
        const options = sequenceOptionChanges((from as ObjectOf<'sequence'>).definition, to.definition, 'alter');
        const type = (from as ObjectOf<'sequence'>).definition.data_type !== to.definition.data_type ? [`AS ${to.definition.data_type}`] : [];
        const all = [...type, ...options];
        const persistence = (from as ObjectOf<'sequence'>).definition.unlogged !== to.definition.unlogged ? [sql(`ALTER SEQUENCE ${qname(to.schema, to.name)} SET ${to.definition.unlogged ? 'UNLOGGED' : 'LOGGED'}`)] : [];
        return [...(all.length > 0 ? [sql(`ALTER SEQUENCE ${qname(to.schema, to.name)} ${all.join(' ')}`)] : []), ...persistence];
      }
      case 'table':
        return alterTable(from as ObjectOf<'table'>, to, this.late, this.b).map(sql);
      case 'column':
        return this.alterColumn(from as ObjectOf<'column'>, to);
      case 'function':
      case 'procedure':
        return [sql(to.definition.definition)];
      case 'composite_type':
        return alterComposite(from as ObjectOf<'composite_type'>, to).map(sql);
      case 'statistics':
        return [sql(`ALTER STATISTICS ${qname(to.schema, to.name)} SET STATISTICS ${to.definition.target ?? -1}`)];
      case 'comment':
      case 'owner':
        return createSql(to, this.b).map(sql);
      case 'privileges':
        return grantStatements(to, (from as ObjectOf<'privileges'>).definition.acl).map(sql);
      case 'foreign_server': {
        const x = (from as ObjectOf<'foreign_server'>).definition;
        const version = x.version !== to.definition.version ? ` VERSION ${to.definition.version === null ? 'NULL' : quoteLiteral(to.definition.version)}` : '';
        const options = optionChanges(x.options, to.definition.options);
        return version || options ? [sql(`ALTER SERVER ${quoteIdent(to.name)}${version}${options}`)] : [];
      }
      default:
        return [];
    }
  }

  private alterColumn(from: ObjectOf<'column'>, to: ObjectOf<'column'>): MigrationStatement[] {
    const x = from.definition;
    const y = to.definition;
    const prefix = `ALTER TABLE ${relationOf(to)} ALTER COLUMN ${quoteIdent(to.name)}`;
    const out: MigrationStatement[] = [];
    const viaType = this.retypedViaType.has(to.id);
    const retype = columnRetyped(x, y) || viaType;
    if (x.generated !== null && y.generated === null) out.push({ sql: `${prefix} DROP EXPRESSION` });
    let defaultGone = x.default === null || this.resetDefault.has(to.id);
    if (!defaultGone && (retype || x.default !== y.default)) {
      out.push({ sql: `${prefix} DROP DEFAULT` });
      defaultGone = true;
    }
    if (retype) {
      const collate = y.collation ? ` COLLATE ${y.collation}` : '';
      const throughText = (viaType && !columnRetyped(x, y)) || !directCast(x.type, y.type, from.typeDependsOn, to.typeDependsOn);
      const using = throughText ? textCast(to.name, y.type) : `${quoteIdent(to.name)}::${y.type}`;
      const destructive = columnRetyped(x, y)
        ? `changes the type of ${describeObject(to)} from ${x.type} to ${y.type}; values that do not convert make it fail`
        : undefined;
      out.push({ sql: `${prefix} TYPE ${y.type}${collate} USING ${using}`, ...(destructive ? { destructive } : {}) });
    }
    // Before ADD … AS IDENTITY, which PostgreSQL refuses on a nullable column.
    if (x.not_null !== y.not_null) {
      out.push({ sql: `${prefix} ${y.not_null ? 'SET' : 'DROP'} NOT NULL` });
    }
    if (y.default !== null && (defaultGone || x.default !== y.default)) out.push({ sql: `${prefix} SET DEFAULT ${rx(y.default)}` });
    if (y.identity && !x.identity) {
      out.push({ sql: `${prefix} ADD ${identityClause(y.identity)}` });
    } else if (x.identity && y.identity) {
      const changes = [
        ...(x.identity.generation !== y.identity.generation ? [`SET GENERATED ${generationKeyword(y.identity)}`] : []),
        ...sequenceOptionChanges(x.identity, y.identity, 'alter').map((option) => `SET ${option}`),
      ];
      if (changes.length > 0) out.push({ sql: `${prefix} ${changes.join(' ')}` });
    }
    out.push(...columnSettings(to, x).map((text) => ({ sql: text })));
    return out;
  }

  private recreateType(from: SchemaObject, to: SchemaObject): MigrationStatement[] {
    const keyword = recreatedKeyword(to);
    const what = describeObject(to);
    const cause = this.cascadeCause.get(to.id);
    return [
      {
        sql: `ALTER ${keyword} ${qname(from.schema, from.name)} RENAME TO ${quoteIdent(replacedTypeName(from.name))}`,
        destructive: cause
          ? `${what} is recreated over the new ${cause}; its columns are converted`
          : to.kind === 'enum'
            ? `${what} is recreated without some of its values (or in another order); rows that hold a removed value make the conversion fail`
            : to.kind === 'collation'
              ? `${what} is recreated with another definition; its columns are recollated (and their indexes rebuilt)`
              : `${what} is recreated with another base type; its columns are converted`,
      },
      ...createSql(to, this.b).map((sql) => ({ sql })),
    ];
  }

  private finalStatements(): MigrationStatement[] {
    const out: MigrationStatement[] = [...this.late, ...this.attachIndexes, ...this.replicaIdentityStatements(), ...this.clusterStatements()];
    for (const to of this.b.objects.values()) {
      if (to.kind !== 'sequence' || !to.ownedBy) continue;
      const from = this.a.objects.get(to.id) as ObjectOf<'sequence'> | undefined;
      const released = from?.ownedBy !== undefined && (from.ownedBy !== to.ownedBy || this.ownerDropped(from.ownedBy));
      if (this.created.has(to.id) || !from || from.ownedBy !== to.ownedBy || released) {
        const column = this.b.objects.get(to.ownedBy)!;
        out.push({ sql: `ALTER SEQUENCE ${qname(to.schema, to.name)} OWNED BY ${relationOf(column)}.${quoteIdent(column.name)}` });
      }
    }
    // Types recreated because of another come later in the set: their old versions go first.
    for (const id of [...this.recreatedTypes].reverse()) {
      const from = this.a.objects.get(id)!;
      out.push({ sql: `DROP ${recreatedKeyword(from)} ${qname(from.schema, replacedTypeName(from.name))}` });
    }
    return out;
  }
}

/** True when a partition key (`LIST (region)`, `RANGE (lower(name), at)`) names the column. */
export function partitionKeyUses(key: string | null, column: string): boolean {
  if (key === null) return false;
  const body = key.slice(key.indexOf('('));
  const quoted = `"${column.replace(/"/g, '""')}"`;
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const word = '[A-Za-z0-9_$"]';
  return new RegExp(`(^|[^A-Za-z0-9_$"])(${escape(column)}|${escape(quoted)})(?!${word})`).test(body);
}

/** The name a recreated type's old version has until it is dropped at the end of the migration. */
function replacedTypeName(name: string): string {
  return `${name.slice(0, 50)}__ayb_old`;
}

const TYPE_FAMILIES: readonly [string, RegExp][] = [
  ['number', /^(smallint|integer|bigint|real|double precision|numeric(\(.*\))?|money)$/],
  ['string', /^(text|character varying(\(\d+\))?|character(\(\d+\))?|"char"|name|bpchar)$/],
  ['datetime', /^(date|timestamp(\(\d\))? with(out)? time zone)$/],
  ['time', /^(time(\(\d\))? with(out)? time zone|interval.*)$/],
  ['bit', /^bit( varying)?(\(\d+\))?$/],
  ['json', /^jsonb?$/],
];

function typeFamily(type: string): string | undefined {
  return TYPE_FAMILIES.find(([, pattern]) => pattern.test(type))?.[0];
}

/**
 * True when `old::new` is a cast PostgreSQL has (built-in casts between types of one family, any
 * type to and from a string type, integer to and from boolean); otherwise the column converts
 * through text (`col::text::new`), which works for every type whose text form the new type reads:
 * an enum to another enum, a domain to another, a type to an extension's type.
 */
export function directCast(from: string, to: string, fromDeps: readonly string[] = [], toDeps: readonly string[] = []): boolean {
  if ([...fromDeps, ...toDeps].some((id) => !id.startsWith('extension:'))) return false;
  const fromArray = from.endsWith('[]');
  if (fromArray !== to.endsWith('[]')) return false;
  const x = from.replace(/(\[\])+$/, '');
  const y = to.replace(/(\[\])+$/, '');
  if (x.replace(/\(.*\)/, '') === y.replace(/\(.*\)/, '')) return true;
  const fx = typeFamily(x);
  const fy = typeFamily(y);
  if (fx !== undefined && fx === fy) return true;
  if (!fromArray && (fx === 'string' || fy === 'string')) return true;
  return (x === 'integer' && y === 'boolean') || (x === 'boolean' && y === 'integer');
}

/** `"col"::text::public.mood` (or `::text[]::public.mood[]` for arrays): converts through text. */
/** The keyword that renames and drops a recreated type (or collation). */
function recreatedKeyword(object: SchemaObject): string {
  return object.kind === 'domain' ? 'DOMAIN' : object.kind === 'collation' ? 'COLLATION' : 'TYPE';
}

function textCast(column: string, type: string): string {
  return type.endsWith('[]') ? `${quoteIdent(column)}::text[]::${type}` : `${quoteIdent(column)}::text::${type}`;
}

function routineName(object: ObjectOf<'function' | 'procedure' | 'aggregate'>): string {
  const base = object.name.slice(0, object.name.length - object.identityArguments.length - 2);
  return qname(object.schema, base);
}

function generationKeyword(identity: IdentityDefinition): string {
  return identity.generation === 'always' ? 'ALWAYS' : 'BY DEFAULT';
}

function identityClause(identity: IdentityDefinition): string {
  return `GENERATED ${generationKeyword(identity)} AS IDENTITY (${sequenceOptionChanges(undefined, identity, 'create').join(' ')})`;
}

/** Sequence options of `to` that differ from `from` (all of them when creating). */
function sequenceOptionChanges(from: SequenceOptions | undefined, to: SequenceOptions, mode: 'create' | 'alter'): string[] {
  const out: string[] = [];
  const differs = (key: keyof SequenceOptions) => mode === 'create' || !from || from[key] !== to[key];
  if (differs('increment')) out.push(`INCREMENT BY ${to.increment}`);
  if (differs('min_value')) out.push(`MINVALUE ${to.min_value}`);
  if (differs('max_value')) out.push(`MAXVALUE ${to.max_value}`);
  if (differs('start')) out.push(`START WITH ${to.start}`);
  if (differs('cache')) out.push(`CACHE ${to.cache}`);
  if (differs('cycle')) out.push(to.cycle ? 'CYCLE' : 'NO CYCLE');
  return out;
}

function columnClause(column: ColumnDefinition & { name: string }): string {
  let clause = `${quoteIdent(column.name)} ${column.type}`;
  if (column.collation) clause += ` COLLATE ${column.collation}`;
  if (column.generated !== null) clause += ` GENERATED ALWAYS AS (${rx(column.generated)}) STORED`;
  if (column.identity) clause += ` ${identityClause(column.identity)}`;
  if (column.default !== null) clause += ` DEFAULT ${rx(column.default)}`;
  if (column.not_null) clause += ' NOT NULL';
  return clause;
}

function policyRoles(roles: readonly string[]): string {
  return roles.map((role) => (role === 'public' ? 'PUBLIC' : quoteIdent(role))).join(', ');
}

function viewBody(definition: string): string {
  return rx(definition.trim().replace(/;$/, ''));
}

function withOptions(options: readonly string[]): string {
  return options.length > 0 ? ` WITH (${options.join(', ')})` : '';
}

/** The statements that create `object` as it is in `snapshot`. */
export function createSql(object: SchemaObject, snapshot: SchemaSnapshot): string[] {
  switch (object.kind) {
    case 'schema':
      return [`CREATE SCHEMA ${quoteIdent(object.name)}`];
    case 'extension':
      return [`CREATE EXTENSION ${quoteIdent(object.name)} WITH SCHEMA ${quoteIdent(object.definition.schema)} VERSION ${quoteLiteral(object.definition.version)}`];
    case 'enum':
      return [`CREATE TYPE ${qname(object.schema, object.name)} AS ENUM (${object.definition.values.map(quoteLiteral).join(', ')})`];
    case 'domain': {
      const d = object.definition;
      let sql = `CREATE DOMAIN ${qname(object.schema, object.name)} AS ${d.type}`;
      if (d.collation) sql += ` COLLATE ${d.collation}`;
      if (d.default !== null) sql += ` DEFAULT ${rx(d.default)}`;
      if (d.not_null) sql += ' NOT NULL';
      for (const c of d.constraints) sql += ` CONSTRAINT ${quoteIdent(c.name)} ${rx(c.definition)}`;
      return [sql];
    }
    case 'sequence':
      return [`CREATE ${object.definition.unlogged ? 'UNLOGGED ' : ''}SEQUENCE ${qname(object.schema, object.name)} AS ${object.definition.data_type} ${sequenceOptionChanges(undefined, object.definition, 'create').join(' ')}`];
    case 'table':
      return createTable(object, snapshot);
    case 'column':
      return [`ALTER TABLE ${relationOf(object)} ADD COLUMN ${columnClause({ name: object.name, ...object.definition })}`, ...columnSettings(object)];
    case 'collation':
      return [createCollation(object)];
    case 'composite_type': {
      const byName = new Map(object.definition.attributes.map((a) => [a.name, a]));
      const attributes = object.attributeOrder.map((name) => byName.get(name)!).filter(Boolean).map(attributeClause);
      return [`CREATE TYPE ${qname(object.schema, object.name)} AS (${attributes.join(', ')})`];
    }
    case 'range_type': {
      const d = object.definition;
      const options = [`SUBTYPE = ${d.subtype}`];
      if (d.subtype_opclass) options.push(`SUBTYPE_OPCLASS = ${d.subtype_opclass}`);
      if (d.collation) options.push(`COLLATION = ${d.collation}`);
      if (d.canonical) options.push(`CANONICAL = ${d.canonical}`);
      if (d.subtype_diff) options.push(`SUBTYPE_DIFF = ${d.subtype_diff}`);
      options.push(`MULTIRANGE_TYPE_NAME = ${d.multirange_type}`);
      return [`CREATE TYPE ${qname(object.schema, object.name)} AS RANGE (${options.join(', ')})`];
    }
    case 'comment':
      return [`COMMENT ON ${object.target} IS ${quoteLiteral(object.definition.text)}`];
    case 'owner':
      return [`ALTER ${object.target} OWNER TO ${quoteIdent(object.definition.role)}`];
    case 'privileges':
      return grantStatements(object, undefined);
    case 'operator':
    case 'cast':
    case 'publication':
      return [object.definition.definition];
    case 'foreign_server': {
      const d = object.definition;
      const type = d.type !== null ? ` TYPE ${quoteLiteral(d.type)}` : '';
      const version = d.version !== null ? ` VERSION ${quoteLiteral(d.version)}` : '';
      return [`CREATE SERVER ${quoteIdent(object.name)}${type}${version} FOREIGN DATA WRAPPER ${quoteIdent(d.wrapper)}${fdwOptions(d.options)}`];
    }
    case 'foreign_table': {
      const d = object.definition;
      const columns = d.columns.map((c) => {
        let clause = `    ${quoteIdent(c.name)} ${c.type}${fdwOptions(c.options)}`;
        if (c.collation) clause += ` COLLATE ${c.collation}`;
        if (c.not_null) clause += ' NOT NULL';
        if (c.default !== null) clause += ` DEFAULT ${rx(c.default)}`;
        return clause;
      });
      return [`CREATE FOREIGN TABLE ${qname(object.schema, object.name)} (${columns.length > 0 ? `\n${columns.join(',\n')}\n` : ''}) SERVER ${quoteIdent(d.server)}${fdwOptions(d.options)}`];
    }
    case 'event_trigger': {
      const out = [object.definition.definition];
      const state = { origin: '', disabled: 'DISABLE', replica: 'ENABLE REPLICA', always: 'ENABLE ALWAYS' }[object.definition.enabled];
      if (state) out.push(`ALTER EVENT TRIGGER ${quoteIdent(object.name)} ${state}`);
      return out;
    }
    case 'constraint':
      return [`ALTER TABLE ${relationOf(object)} ADD CONSTRAINT ${quoteIdent(object.name)} ${rx(object.definition.definition)}`];
    case 'index':
      // For a partitioned table pg_get_indexdef says ON ONLY: each partition's index is created and
      // attached as an object of its own (as pg_dump does), under its own name.
      return [rx(object.definition.definition), ...indexStatistics(object)];
    case 'view':
      return [
        `CREATE VIEW ${qname(object.schema, object.name)}${withOptions(object.definition.options)} AS\n${viewBody(object.definition.definition)}`,
        ...(object.definition.column_defaults ?? []).map((d) => `ALTER VIEW ${qname(object.schema, object.name)} ALTER COLUMN ${quoteIdent(d.column)} SET DEFAULT ${rx(d.default)}`),
      ];
    case 'materialized_view':
      return [`CREATE MATERIALIZED VIEW ${qname(object.schema, object.name)}${withOptions(object.definition.options)} AS\n${viewBody(object.definition.definition)}`];
    case 'function':
    case 'procedure':
    case 'aggregate':
      return [object.definition.definition];
    case 'trigger': {
      const out = [rx(object.definition.definition)];
      const state = { origin: '', disabled: 'DISABLE TRIGGER', replica: 'ENABLE REPLICA TRIGGER', always: 'ENABLE ALWAYS TRIGGER' }[object.definition.enabled];
      if (state) out.push(`ALTER TABLE ${relationOf(object)} ${state} ${quoteIdent(object.name)}`);
      return out;
    }
    case 'statistics':
      return [
        object.definition.definition,
        ...(object.definition.target !== null ? [`ALTER STATISTICS ${qname(object.schema, object.name)} SET STATISTICS ${object.definition.target}`] : []),
      ];
    case 'rule': {
      const state = { origin: '', disabled: 'DISABLE RULE', replica: 'ENABLE REPLICA RULE', always: 'ENABLE ALWAYS RULE' }[object.definition.enabled];
      return [object.definition.definition, ...(state ? [`ALTER TABLE ${relationOf(object)} ${state} ${quoteIdent(object.name)}`] : [])];
    }
    case 'policy': {
      const p = object.definition;
      let sql = `CREATE POLICY ${quoteIdent(object.name)} ON ${relationOf(object)} AS ${p.permissive ? 'PERMISSIVE' : 'RESTRICTIVE'} FOR ${p.command.toUpperCase()} TO ${policyRoles(p.roles)}`;
      if (p.using !== null) sql += ` USING (${rx(p.using)})`;
      if (p.with_check !== null) sql += ` WITH CHECK (${rx(p.with_check)})`;
      return [sql];
    }
  }
}

/** ALTER INDEX … ALTER COLUMN n SET STATISTICS for the targets `index` has that `before` has not (-1 for those it drops). */
function indexStatistics(index: ObjectOf<'index'>, before: readonly string[] = []): string[] {
  const after = index.definition.statistics ?? [];
  const column = (entry: string) => entry.slice(0, entry.indexOf(' '));
  const name = qname(index.schema, index.name);
  return [
    ...before.filter((entry) => !after.some((x) => column(x) === column(entry))).map((entry) => `ALTER INDEX ${name} ALTER COLUMN ${column(entry)} SET STATISTICS -1`),
    ...after.filter((entry) => !before.includes(entry)).map((entry) => `ALTER INDEX ${name} ALTER COLUMN ${column(entry)} SET STATISTICS ${entry.slice(entry.indexOf(' ') + 1)}`),
  ];
}

function createTable(table: ObjectOf<'table'>, snapshot: SchemaSnapshot): string[] {
  const d = table.definition;
  const name = qname(table.schema, table.name);
  const partitionBy = d.partition_key ? ` PARTITION BY ${d.partition_key}` : '';
  let sql: string;
  if (d.partition_of) {
    sql = `CREATE TABLE ${name} PARTITION OF ${d.partition_of} ${d.partition_bound ?? 'DEFAULT'}${partitionBy}`;
  } else {
    const columns = columnsOf(snapshot, table.id).map((column) => `    ${columnClause({ name: column.name, ...column.definition })}`);
    const inherits = d.inherits.length > 0 ? ` INHERITS (${d.inherits.join(', ')})` : '';
    sql = `CREATE ${d.unlogged ? 'UNLOGGED ' : ''}TABLE ${name} (${columns.length > 0 ? `\n${columns.join(',\n')}\n` : ''})${inherits}${partitionBy}`;
  }
  sql += withOptions(d.options);
  const out = [sql];
  if (!d.partition_of) for (const column of columnsOf(snapshot, table.id)) out.push(...columnSettings(column));
  if (d.rls_enabled) out.push(`ALTER TABLE ${name} ENABLE ROW LEVEL SECURITY`);
  if (d.rls_forced) out.push(`ALTER TABLE ${name} FORCE ROW LEVEL SECURITY`);
  return out;
}

/**
 * In-place table changes. Attaching a partition or adding a parent needs the table's columns to be
 * there first (PostgreSQL checks that they match): those statements go to `late`, run after every
 * create.
 */
function alterTable(from: ObjectOf<'table'>, to: ObjectOf<'table'>, late: MigrationStatement[], snapshot: SchemaSnapshot): string[] {
  const x = from.definition;
  const y = to.definition;
  const name = qname(to.schema, to.name);
  const out: string[] = [];
  if (y.partition_of && (x.partition_of !== y.partition_of || x.partition_bound !== y.partition_bound)) {
    late.push({ sql: `ALTER TABLE ${y.partition_of} ATTACH PARTITION ${name} ${y.partition_bound ?? 'DEFAULT'}` });
  }
  for (const parent of y.inherits) if (!x.inherits.includes(parent)) late.push({ sql: `ALTER TABLE ${name} INHERIT ${parent}` });
  late.push(...inheritedColumnSettings(to, snapshot, x.inherited_columns).map((sql) => ({ sql })));
  if (x.unlogged !== y.unlogged) out.push(`ALTER TABLE ${name} SET ${y.unlogged ? 'UNLOGGED' : 'LOGGED'}`);
  if (x.rls_enabled !== y.rls_enabled) out.push(`ALTER TABLE ${name} ${y.rls_enabled ? 'ENABLE' : 'DISABLE'} ROW LEVEL SECURITY`);
  if (x.rls_forced !== y.rls_forced) out.push(`ALTER TABLE ${name} ${y.rls_forced ? 'FORCE' : 'NO FORCE'} ROW LEVEL SECURITY`);
  const optionKey = (option: string) => option.slice(0, option.indexOf('='));
  const removed = x.options.map(optionKey).filter((key) => !y.options.some((option) => optionKey(option) === key));
  if (removed.length > 0) out.push(`ALTER TABLE ${name} RESET (${removed.join(', ')})`);
  const set = y.options.filter((option) => !x.options.includes(option));
  if (set.length > 0) out.push(`ALTER TABLE ${name} SET (${set.join(', ')})`);
  return out;
}

/**
 * SET / DROP NOT NULL and SET / DROP DEFAULT on the inherited columns of `table` whose own settings
 * (`inherited_columns`) are not `before`'s: as `snapshot` has them.
 */
function inheritedColumnSettings(table: ObjectOf<'table'>, snapshot: SchemaSnapshot, before: readonly string[]): string[] {
  const after = table.definition.inherited_columns;
  const out: string[] = [];
  const relation = `ALTER TABLE ${table.definition.partitioned ? '' : 'ONLY '}${qname(table.schema, table.name)}`;
  for (const column of snapshot.inheritedColumns?.values() ?? []) {
    if (column.parent !== table.id) continue;
    const prefix = `${quoteIdent(column.name)} `;
    const mine = (list: readonly string[]) => list.filter((entry) => entry.startsWith(prefix)).join('\n');
    if (mine(before) === mine(after)) continue;
    const d = column.definition;
    const alter = `${relation} ALTER COLUMN ${quoteIdent(column.name)}`;
    out.push(`${alter} ${d.not_null ? 'SET' : 'DROP'} NOT NULL`);
    out.push(d.default === null ? `${alter} DROP DEFAULT` : `${alter} SET DEFAULT ${rx(d.default)}`);
  }
  return out;
}

/**
 * A partition created under an existing partitioned index gets its own index from PostgreSQL,
 * under a name PostgreSQL chooses: this block finds it and gives it `index`'s name (and makes it,
 * attached, should PostgreSQL not have).
 */
function renameAutoIndex(index: ObjectOf<'index'>, snapshot: SchemaSnapshot): string {
  const parent = index.definition.attached_to!;
  const table = relationOf(index);
  const create = createSql(index, snapshot).join('; ');
  const attach = `ALTER INDEX ${parent} ATTACH PARTITION ${qname(index.schema, index.name)}`;
  return [
    'DO $ayb$',
    'DECLARE found name;',
    'BEGIN',
    '  SELECT c.relname INTO found FROM pg_catalog.pg_inherits i',
    '    JOIN pg_catalog.pg_index x ON x.indexrelid = i.inhrelid JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid',
    `   WHERE i.inhparent = ${quoteLiteral(parent)}::pg_catalog.regclass AND x.indrelid = ${quoteLiteral(table)}::pg_catalog.regclass;`,
    '  IF found IS NULL THEN',
    `    EXECUTE ${quoteLiteral(create)};`,
    `    EXECUTE ${quoteLiteral(attach)};`,
    `  ELSIF found <> ${quoteLiteral(index.name)} THEN`,
    `    EXECUTE pg_catalog.format('ALTER INDEX %I.%I RENAME TO %I', ${quoteLiteral(index.schema)}, found, ${quoteLiteral(index.name)});`,
    '  END IF;',
    'END',
    '$ayb$',
  ].join('\n');
}

const PRIVILEGE_NAMES: Record<string, string> = {
  r: 'SELECT', a: 'INSERT', w: 'UPDATE', d: 'DELETE', D: 'TRUNCATE', x: 'REFERENCES', t: 'TRIGGER',
  X: 'EXECUTE', U: 'USAGE', C: 'CREATE', c: 'CONNECT', T: 'TEMPORARY', m: 'MAINTAIN', s: 'SET', A: 'ALTER SYSTEM',
};

/**
 * REVOKE what `before` grants (every grantee of it, all privileges), then GRANT what `object`'s ACL
 * says, grantee by grantee; privileges with grant option separately. A new object (no `before`)
 * starts from PostgreSQL's defaults, which its ACL spells out: revoked from the owner and PUBLIC first.
 */
function grantStatements(object: ObjectOf<'privileges'>, before: readonly string[] | undefined): string[] {
  const grantee = (name: string) => (name === '' ? 'PUBLIC' : quoteIdent(name.replace(/^"(.*)"$/, '$1').replace(/""/g, '"')));
  const split = (item: string) => {
    const at = item.lastIndexOf('=');
    return { who: item.slice(0, at), privileges: item.slice(at + 1) };
  };
  const column = object.column !== undefined ? ` (${quoteIdent(object.column)})` : '';
  const out: string[] = [];
  const previous = before ?? [];
  const owner = object.column === undefined ? ['PUBLIC', ...(object.ownerRole !== undefined ? [quoteIdent(object.ownerRole)] : [])] : [];
  const revokeFrom = [...new Set([...owner, ...previous.map((item) => grantee(split(item).who))])];
  if (revokeFrom.length > 0) out.push(`REVOKE ALL${column} ON ${object.target} FROM ${revokeFrom.join(', ')}`);
  for (const item of object.definition.acl) {
    const { who, privileges } = split(item);
    const plain: string[] = [];
    const withOption: string[] = [];
    for (let i = 0; i < privileges.length; i++) {
      const name = PRIVILEGE_NAMES[privileges[i]!];
      if (!name) continue;
      if (privileges[i + 1] === '*') {
        withOption.push(name);
        i++;
      } else plain.push(name);
    }
    const list = (names: string[]) => names.map((name) => `${name}${column}`).join(', ');
    if (plain.length > 0) out.push(`GRANT ${list(plain)} ON ${object.target} TO ${grantee(who)}`);
    if (withOption.length > 0) out.push(`GRANT ${list(withOption)} ON ${object.target} TO ${grantee(who)} WITH GRANT OPTION`);
  }
  return out;
}

const optionParts = (option: string) => ({ key: option.slice(0, option.indexOf('=')), value: option.slice(option.indexOf('=') + 1) });

/** ` OPTIONS (key 'value', …)` of a foreign server, table or column; empty when there are none. */
function fdwOptions(options: readonly string[]): string {
  if (options.length === 0) return '';
  return ` OPTIONS (${options.map((option) => { const { key, value } = optionParts(option); return `${quoteIdent(key)} ${quoteLiteral(value)}`; }).join(', ')})`;
}

/** ` OPTIONS (DROP k, SET k 'v', ADD k 'v')` that take `from` to `to`. */
function optionChanges(from: readonly string[], to: readonly string[]): string {
  const before = new Map(from.map((option) => [optionParts(option).key, optionParts(option).value]));
  const after = new Map(to.map((option) => [optionParts(option).key, optionParts(option).value]));
  const parts: string[] = [];
  for (const key of before.keys()) if (!after.has(key)) parts.push(`DROP ${quoteIdent(key)}`);
  for (const [key, value] of after) {
    if (!before.has(key)) parts.push(`ADD ${quoteIdent(key)} ${quoteLiteral(value)}`);
    else if (before.get(key) !== value) parts.push(`SET ${quoteIdent(key)} ${quoteLiteral(value)}`);
  }
  return parts.length > 0 ? ` OPTIONS (${parts.join(', ')})` : '';
}

const NO_SETTINGS = { statistics: null, storage: null, compression: null, options: [] as readonly string[] };

/** SET STATISTICS / STORAGE / COMPRESSION / (options) that take `column` from `from` (the defaults when new). */
function columnSettings(column: ObjectOf<'column'>, from: Pick<ColumnDefinition, 'statistics' | 'storage' | 'compression' | 'options'> = NO_SETTINGS): string[] {
  const y = column.definition;
  const prefix = `ALTER TABLE ${relationOf(column)} ALTER COLUMN ${quoteIdent(column.name)}`;
  const out: string[] = [];
  if (from.statistics !== y.statistics) out.push(`${prefix} SET STATISTICS ${y.statistics ?? -1}`);
  if (from.storage !== y.storage) out.push(`${prefix} SET STORAGE ${(y.storage ?? column.typeStorage ?? 'extended').toUpperCase()}`);
  if (from.compression !== y.compression) out.push(`${prefix} SET COMPRESSION ${y.compression ?? 'default'}`);
  const optionKey = (option: string) => option.slice(0, option.indexOf('='));
  const removed = from.options.map(optionKey).filter((key) => !y.options.some((option) => optionKey(option) === key));
  if (removed.length > 0) out.push(`${prefix} RESET (${removed.join(', ')})`);
  const set = y.options.filter((option) => !from.options.includes(option));
  if (set.length > 0) out.push(`${prefix} SET (${set.join(', ')})`);
  return out;
}

function createCollation(object: ObjectOf<'collation'>): string {
  const d = object.definition;
  const options = [`provider = ${d.provider}`];
  if (d.locale !== null) options.push(`locale = ${quoteLiteral(d.locale)}`);
  if (d.lc_collate !== null) options.push(`lc_collate = ${quoteLiteral(d.lc_collate)}`);
  if (d.lc_ctype !== null) options.push(`lc_ctype = ${quoteLiteral(d.lc_ctype)}`);
  if (!d.deterministic) options.push('deterministic = false');
  if (d.rules !== null) options.push(`rules = ${quoteLiteral(d.rules)}`);
  return `CREATE COLLATION ${qname(object.schema, object.name)} (${options.join(', ')})`;
}

function attributeClause(attribute: CompositeAttribute): string {
  return `${quoteIdent(attribute.name)} ${attribute.type}${attribute.collation ? ` COLLATE ${attribute.collation}` : ''}`;
}

/** ALTER TYPE … DROP / ADD / ALTER ATTRIBUTE: attributes matched by name. */
function alterComposite(from: ObjectOf<'composite_type'>, to: ObjectOf<'composite_type'>): string[] {
  const name = qname(to.schema, to.name);
  const before = new Map(from.definition.attributes.map((a) => [a.name, a]));
  const after = new Map(to.definition.attributes.map((a) => [a.name, a]));
  const out: string[] = [];
  for (const attribute of from.definition.attributes) if (!after.has(attribute.name)) out.push(`ALTER TYPE ${name} DROP ATTRIBUTE ${quoteIdent(attribute.name)}`);
  for (const attributeName of to.attributeOrder) {
    const attribute = after.get(attributeName);
    if (!attribute) continue;
    const old = before.get(attributeName);
    if (!old) out.push(`ALTER TYPE ${name} ADD ATTRIBUTE ${attributeClause(attribute)}`);
    else if (old.type !== attribute.type || old.collation !== attribute.collation) {
      out.push(`ALTER TYPE ${name} ALTER ATTRIBUTE ${quoteIdent(attribute.name)} TYPE ${attribute.type}${attribute.collation ? ` COLLATE ${attribute.collation}` : ''}`);
    }
  }
  return out;
}

function alterDomain(from: ObjectOf<'domain'>, to: ObjectOf<'domain'>): string[] {
  const x = from.definition;
  const y = to.definition;
  const name = qname(to.schema, to.name);
  const out: string[] = [];
  for (const c of x.constraints) {
    if (!y.constraints.some((other) => other.name === c.name && other.definition === c.definition)) out.push(`ALTER DOMAIN ${name} DROP CONSTRAINT ${quoteIdent(c.name)}`);
  }
  if (x.default !== y.default) out.push(y.default === null ? `ALTER DOMAIN ${name} DROP DEFAULT` : `ALTER DOMAIN ${name} SET DEFAULT ${rx(y.default)}`);
  if (x.not_null !== y.not_null) out.push(`ALTER DOMAIN ${name} ${y.not_null ? 'SET' : 'DROP'} NOT NULL`);
  for (const c of y.constraints) {
    if (!x.constraints.some((other) => other.name === c.name && other.definition === c.definition)) out.push(`ALTER DOMAIN ${name} ADD CONSTRAINT ${quoteIdent(c.name)} ${rx(c.definition)}`);
  }
  return out;
}

/** ADD VALUE statements that grow an enum from `before` to `to`'s values, each at its place. */
function enumAdditions(before: readonly string[], to: ObjectOf<'enum'>): string[] {
  const name = qname(to.schema, to.name);
  const values = to.definition.values;
  const out: string[] = [];
  values.forEach((value, index) => {
    if (before.includes(value)) return;
    if (index > 0) out.push(`ALTER TYPE ${name} ADD VALUE ${quoteLiteral(value)} AFTER ${quoteLiteral(values[index - 1]!)}`);
    else {
      const firstOld = values.find((other) => before.includes(other));
      out.push(`ALTER TYPE ${name} ADD VALUE ${quoteLiteral(value)}${firstOld !== undefined ? ` BEFORE ${quoteLiteral(firstOld)}` : ''}`);
    }
  });
  return out;
}

/**
 * A dependency-first order of `nodes` (depth-first; ties by kind, then name, so the output is
 * stable). A cycle, which pg_depend should never produce, is broken where it is found.
 */
function topologicalOrder(nodes: readonly string[], depsOf: (id: string) => Iterable<string>, objectOf: (id: string) => SchemaObject): string[] {
  const rank = (id: string): [number, number, string] => {
    const object = objectOf(id);
    const sub = object.kind === 'constraint' ? CONSTRAINT_RANK[object.definition.constraint_type] : 0;
    return [CREATE_RANK.get(object.kind) ?? CREATE_ORDER.length, sub, id];
  };
  const ranks = new Map(nodes.map((id) => [id, rank(id)]));
  const compare = (x: string, y: string) => {
    const [a1, a2, a3] = ranks.get(x)!;
    const [b1, b2, b3] = ranks.get(y)!;
    return a1 - b1 || a2 - b2 || (a3 < b3 ? -1 : a3 > b3 ? 1 : 0);
  };
  const state = new Map<string, 'visiting' | 'done'>();
  const out: string[] = [];
  const visit = (id: string) => {
    if (state.has(id)) return;
    state.set(id, 'visiting');
    for (const dep of [...depsOf(id)].filter((dep) => ranks.has(dep) && dep !== id).sort(compare)) visit(dep);
    state.set(id, 'done');
    out.push(id);
  };
  for (const id of [...nodes].sort(compare)) visit(id);
  return out;
}

/** The migration as a psql-ready script: one statement per paragraph, comments above the ones that need them. */
export function renderMigration(statements: readonly MigrationStatement[], header?: string): string {
  if (statements.length === 0) return `${header ? `-- ${header}\n` : ''}-- No schema differences.\n`;
  const lines: string[] = [];
  if (header) lines.push(`-- ${header}`);
  const destructive = statements.filter((s) => s.destructive).length;
  const manual = statements.filter((s) => s.manual !== undefined).length;
  const count = statements.length - manual;
  lines.push(`-- ${count} statement${count === 1 ? '' : 's'}${destructive > 0 ? `, ${destructive} destructive (marked below): review before applying` : ''}.`);
  if (manual > 0) lines.push(`-- ${manual} change${manual === 1 ? '' : 's'} cannot be migrated by this script: see the "-- manual:" comments below.`);
  // Function bodies are checked when they run, not when they are created (as pg_dump does), so
  // a function may mention a table created further down.
  if (statements.some((s) => /^CREATE (OR REPLACE )?(FUNCTION|PROCEDURE)/.test(s.sql))) lines.push('', 'SET check_function_bodies = false;');
  for (const statement of statements) {
    lines.push('');
    if (statement.destructive) lines.push(`-- destructive: ${statement.destructive}`);
    if (statement.note) lines.push(`-- ${statement.note}`);
    if (statement.manual !== undefined) lines.push(`-- manual: ${statement.manual}`);
    else lines.push(`${statement.sql.trimEnd()};`);
  }
  return `${lines.join('\n')}\n`;
}
