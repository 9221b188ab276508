import { quoteIdent } from '../postgres/quote.js';
import { columnRetyped, sameDefinition } from './diff.js';
import { type AlterContext, alterSql, type ChangeMode, changeMode, createSql, dropSql, kindModule } from './kinds/index.js';
import { qname, relationOf } from './kinds/kind.js';
import { renameAutoIndex } from './kinds/index-kind.js';
import { inheritedColumnSettings } from './kinds/table.js';
import { describeObject, lookup, objectId, type ObjectOf, objectOfKind, objectPath, type SchemaObject, type SchemaSnapshot } from './model.js';
import { topologicalOrder } from './plan-order.js';
import type { MigrationStatement } from './statement.js';

export { type MigrationStatement, needsManualSteps } from './statement.js';
export { createSql } from './kinds/index.js';
export { directCast } from './kinds/column.js';
export { renderMigration } from './migration-script.js';

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

  /** What in-place changes read and add to (see AlterContext). */
  private readonly alterContext: AlterContext;

  constructor(
    private readonly a: SchemaSnapshot,
    private readonly b: SchemaSnapshot,
  ) {
    this.alterContext = { b, late: this.late, attachIndexes: this.attachIndexes, retypedViaType: this.retypedViaType, resetDefault: this.resetDefault };
  }

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
      const mode = from.kind === 'index' && to.kind === 'index' ? this.indexChangeMode(from, to) : changeMode(from, to);
      const blocked = this.blockedByColumns(from, to);
      // A collation columns use is recreated as a type is: renamed away, made anew, the columns recollated.
      if (blocked && from.kind === 'collation') this.recreatedTypes.add(id);
      else if (blocked) this.manual.set(id, blocked);
      else if (mode === 'rebuild') this.dropped.add(id);
      else if (mode === 'recreate_type') this.recreatedTypes.add(id);
      else {
        this.altered.add(id);
        if (from.kind === 'column' && to.kind === 'column' && columnRetyped(from.definition, to.definition)) this.retyped.add(id);
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
        if (kindModule(object.kind).neverCascaded) continue;
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
      const to = objectOfKind(this.b, from.id, 'sequence');
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
      const column = objectOfKind(this.a, id, 'column');
      if (!column || this.dropped.has(id) || (column.parent && this.dropped.has(column.parent))) continue;
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
      const from = objectOfKind(this.a, to.id, 'table');
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
      const from = to.kind === 'table' ? objectOfKind(this.a, to.id, 'table') : objectOfKind(this.a, to.id, 'materialized_view');
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
    return dropSql(object, this.b).map((drop) => ({ ...drop, ...(note ? { note } : {}) }));
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
      return alterSql(lookup(this.a, id)!, this.b.objects.get(id)!, this.alterContext);
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
      if (this.autoCreated(object)) return [{ sql: renameAutoIndex(object, object.definition.attached_to), note: 'PostgreSQL made this index with the partition: give it its name' }];
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
      const from = objectOfKind(this.a, to.id, 'sequence');
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

/** The keyword that renames and drops a recreated type (or collation). */
function recreatedKeyword(object: SchemaObject): string {
  return object.kind === 'domain' ? 'DOMAIN' : object.kind === 'collation' ? 'COLLATION' : 'TYPE';
}

