import type { ObjectKind, ObjectOf, SchemaObject, SchemaSnapshot } from '../model.js';
import type { MigrationStatement } from '../statement.js';
import { aggregateKind } from './aggregate.js';
import { castKind } from './cast.js';
import { collationKind } from './collation.js';
import { columnKind } from './column.js';
import { commentKind } from './comment.js';
import { compositeTypeKind } from './composite-type.js';
import { constraintKind } from './constraint.js';
import { domainKind } from './domain.js';
import { enumKind } from './enum.js';
import { eventTriggerKind } from './event-trigger.js';
import { extensionKind } from './extension.js';
import { foreignServerKind } from './foreign-server.js';
import { foreignTableKind } from './foreign-table.js';
import { functionKind } from './function.js';
import { indexKind } from './index-kind.js';
import type { AlterContext, ChangeMode, DropStatement, KindModule } from './kind.js';
import { materializedViewKind } from './materialized-view.js';
import { operatorKind } from './operator.js';
import { ownerKind } from './owner.js';
import { policyKind } from './policy.js';
import { privilegesKind } from './privileges.js';
import { procedureKind } from './procedure.js';
import { publicationKind } from './publication.js';
import { rangeTypeKind } from './range-type.js';
import { ruleKind } from './rule.js';
import { schemaKind } from './schema.js';
import { sequenceKind } from './sequence.js';
import { statisticsKind } from './statistics.js';
import { tableKind } from './table.js';
import { triggerKind } from './trigger.js';
import { viewKind } from './view.js';

export type KindRegistry = { readonly [K in ObjectKind]: KindModule<K> };

/**
 * The registry: one module per kind of object, in the order a diff reports them (the order they
 * are created in is each module's `createRank`).
 */
export const KINDS: KindRegistry = {
  schema: schemaKind,
  extension: extensionKind,
  collation: collationKind,
  enum: enumKind,
  domain: domainKind,
  composite_type: compositeTypeKind,
  range_type: rangeTypeKind,
  sequence: sequenceKind,
  foreign_server: foreignServerKind,
  table: tableKind,
  foreign_table: foreignTableKind,
  column: columnKind,
  constraint: constraintKind,
  index: indexKind,
  statistics: statisticsKind,
  view: viewKind,
  materialized_view: materializedViewKind,
  function: functionKind,
  procedure: procedureKind,
  aggregate: aggregateKind,
  operator: operatorKind,
  cast: castKind,
  trigger: triggerKind,
  rule: ruleKind,
  policy: policyKind,
  event_trigger: eventTriggerKind,
  publication: publicationKind,
  comment: commentKind,
  owner: ownerKind,
  privileges: privilegesKind,
};

/** A module of any kind. */
export type AnyKindModule = KindRegistry[ObjectKind];

/** Every module, in report order. */
export const KIND_MODULES: readonly AnyKindModule[] = Object.values(KINDS);

const REPORT_RANK = new Map<ObjectKind, number>(KIND_MODULES.map((module, index) => [module.kind, index]));

/** Where a kind comes in a report (the registry's order). */
export function reportRank(kind: ObjectKind): number {
  return REPORT_RANK.get(kind) ?? KIND_MODULES.length;
}

export function kindModule<K extends ObjectKind>(kind: K): KindModule<K> {
  return KINDS[kind];
}

/** The statements that create `object` as it is in `snapshot`. */
export function createSql<K extends ObjectKind>(object: ObjectOf<K>, snapshot: SchemaSnapshot): string[] {
  return kindModule(object.kind).create(object, snapshot);
}

export function dropSql<K extends ObjectKind>(object: ObjectOf<K>, b: SchemaSnapshot): DropStatement[] {
  return kindModule(object.kind).drop(object, b);
}

/** How COMMENT ON (and ALTER … OWNER TO) names an object, or undefined for kinds that take no comment. */
export function commentTarget<K extends ObjectKind>(object: ObjectOf<K>): string | undefined {
  return kindModule(object.kind).name(object);
}

/** How GRANT names an object. */
export function grantTarget<K extends ObjectKind>(object: ObjectOf<K>): string | undefined {
  const module = kindModule(object.kind);
  return (module.grantName ?? module.name)(object);
}

function isKind<K extends ObjectKind>(object: SchemaObject | ObjectOf<K>, kind: K): object is ObjectOf<K> {
  return object.kind === kind;
}

/** `to` when it is an object of `from`'s kind. */
function sameKind<K extends ObjectKind>(from: ObjectOf<K>, to: SchemaObject): ObjectOf<K> | undefined {
  return isKind(to, from.kind) ? to : undefined;
}

/** How the change from `from` to `to` is applied. */
export function changeMode<K extends ObjectKind>(from: ObjectOf<K>, to: SchemaObject): ChangeMode {
  const module = kindModule(from.kind);
  const other = sameKind(from, to);
  if (!other || !module.changeMode) return 'rebuild';
  return module.changeMode(from, other);
}

/** The in-place change from `from` to `to`. */
export function alterSql<K extends ObjectKind>(from: ObjectOf<K>, to: SchemaObject, context: AlterContext): MigrationStatement[] {
  const module = kindModule(from.kind);
  const other = sameKind(from, to);
  if (!other || !module.alter) return [];
  return module.alter(from, other, context);
}


export type { AlterContext, ChangeMode, DropStatement, KindModule } from './kind.js';
