import {
  type ColumnDefinition,
  type DomainDefinition,
  type EnumDefinition,
  lookup,
  type ObjectKind,
  type ObjectOf,
  type SchemaObject,
  type SchemaSnapshot,
  type TableDefinition,
} from './model.js';
import { canonicalExpression } from './expressions.js';
import { kindModule, reportRank } from './kinds/index.js';

export type ChangeAction = 'added' | 'removed' | 'changed';

/**
 * One difference between two schemas, as `--output json` prints it (see docs/diff-json.md).
 * `from` is the definition in `a` (null when added), `to` the definition in `b` (null when removed).
 */
export interface SchemaChange {
  readonly kind: ObjectKind;
  readonly schema: string;
  /** The table (or view) a column, constraint, index, trigger or policy belongs to; null otherwise. */
  readonly table: string | null;
  readonly name: string;
  readonly action: ChangeAction;
  /** True when applying the change can lose data (dropping a table, column, schema, sequence; retyping a column …). */
  readonly destructive: boolean;
  /** A short human summary of what differs. */
  readonly detail: string;
  readonly from: object | null;
  readonly to: object | null;
}

/** Where a kind's changes come in a report: the registry's order. */
export function kindOrder(kind: ObjectKind): number {
  return reportRank(kind);
}

/**
 * Deep equality of two JSON-like definitions (key order insensitive). Texts are compared in their
 * canonical form (see expressions.ts): two stored forms of one expression are the same.
 */
export function sameDefinition(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'string' && typeof b === 'string') return canonicalExpression(a) === canonicalExpression(b);
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((value, i) => sameDefinition(value, b[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((key) => sameDefinition((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}

/** True when every value of `a` is still in `b`, in the same order: the enum can grow in place. */
export function enumGrowsInPlace(a: EnumDefinition, b: EnumDefinition): boolean {
  let i = 0;
  for (const value of b.values) if (value === a.values[i]) i++;
  return i === a.values.length;
}

/** A domain whose base type or collation changes must be recreated (its columns retyped). */
export function domainNeedsRecreate(a: DomainDefinition, b: DomainDefinition): boolean {
  return a.type !== b.type || a.collation !== b.collation;
}

/** A table whose partitioning changes cannot be altered: it is dropped and recreated. */
export function tableNeedsRebuild(a: TableDefinition, b: TableDefinition): boolean {
  return a.partitioned !== b.partitioned || a.partition_key !== b.partition_key;
}

export function columnRetyped(a: ColumnDefinition, b: ColumnDefinition): boolean {
  return a.type !== b.type || a.collation !== b.collation;
}

/** A stored generated column cannot get a new expression in place (PostgreSQL 15): drop and add. */
export function columnNeedsRebuild(a: ColumnDefinition, b: ColumnDefinition): boolean {
  return b.generated !== null && a.generated !== b.generated;
}

function isDestructiveChange(a: SchemaObject, b: SchemaObject): boolean {
  if (a.kind === 'column' && b.kind === 'column') return columnRetyped(a.definition, b.definition) || (a.definition.generated === null && b.definition.generated !== null);
  if (a.kind === 'enum' && b.kind === 'enum') return !enumGrowsInPlace(a.definition, b.definition);
  if (a.kind === 'domain' && b.kind === 'domain') return domainNeedsRecreate(a.definition, b.definition);
  if (a.kind === 'table' && b.kind === 'table') return tableNeedsRebuild(a.definition, b.definition);
  return false;
}

/**
 * The changes that turn schema `a` into schema `b`. Objects are matched by identity (kind, schema,
 * table, name; functions by signature) and compared by their whole canonical definition. The
 * columns of an added or removed table are reported inside that table's change, not one by one;
 * so are the constraints, indexes, triggers and policies of a removed table.
 */
export function diffSnapshots(a: SchemaSnapshot, b: SchemaSnapshot): SchemaChange[] {
  const changes: SchemaChange[] = [];
  for (const [id, from] of a.objects) {
    const to = lookup(b, id);
    if (!to) {
      if (from.parent && !b.objects.has(from.parent) && a.objects.has(from.parent)) continue;
      changes.push(change(from, 'removed', kindModule(from.kind).holdsData === true, describe(from), withColumns(a, from), null));
    } else if (b.objects.has(id) && !sameDefinition(from.definition, to.definition)) {
      changes.push(change(to, 'changed', isDestructiveChange(from, to), changedFields(from.definition, to.definition), from.definition, to.definition));
    }
  }
  for (const [id, to] of b.objects) {
    if (a.objects.has(id)) continue;
    // An inherited column that became the table's own (a detached partition): compared, not added.
    const inherited = a.inheritedColumns?.get(id);
    if (inherited) {
      if (!sameDefinition(inherited.definition, to.definition)) {
        changes.push(change(to, 'changed', isDestructiveChange(inherited, to), changedFields(inherited.definition, to.definition), inherited.definition, to.definition));
      }
      continue;
    }
    if (to.kind === 'column' && to.parent && !a.objects.has(to.parent)) continue;
    changes.push(change(to, 'added', false, describe(to), null, withColumns(b, to)));
  }
  return changes.sort(compareChanges);
}

function change(
  object: SchemaObject,
  action: ChangeAction,
  destructive: boolean,
  detail: string,
  from: object | null,
  to: object | null,
): SchemaChange {
  return { kind: object.kind, schema: object.schema, table: object.table ?? null, name: object.name, action, destructive, detail, from, to };
}

/** A table's definition with its columns (in column order), for added and removed tables. */
function withColumns(snapshot: SchemaSnapshot, object: SchemaObject): object {
  if (object.kind !== 'table') return object.definition;
  const columns = columnsOf(snapshot, object.id).map((column) => ({ name: column.name, ...column.definition }));
  return { ...object.definition, columns };
}

const columnIndex = new WeakMap<SchemaSnapshot, Map<string, ObjectOf<'column'>[]>>();

/** The columns of a table, in their physical order. */
export function columnsOf(snapshot: SchemaSnapshot, tableId: string): readonly ObjectOf<'column'>[] {
  let index = columnIndex.get(snapshot);
  if (!index) {
    index = new Map();
    for (const object of snapshot.objects.values()) {
      if (object.kind !== 'column' || !object.parent) continue;
      const list = index.get(object.parent) ?? [];
      list.push(object);
      index.set(object.parent, list);
    }
    for (const list of index.values()) list.sort((x, y) => x.position - y.position);
    columnIndex.set(snapshot, index);
  }
  return index.get(tableId) ?? [];
}

function describe(object: SchemaObject): string {
  switch (object.kind) {
    case 'column': {
      const d = object.definition;
      return [d.type, d.not_null ? 'not null' : '', d.default !== null ? `default ${d.default}` : '', d.identity ? `identity ${d.identity.generation}` : '', d.generated !== null ? `generated as ${d.generated}` : '']
        .filter(Boolean)
        .join(', ');
    }
    case 'constraint':
    case 'index':
    case 'trigger':
      return oneLine(object.definition.definition);
    case 'enum':
      return object.definition.values.join(', ');
    case 'domain':
      return object.definition.type;
    case 'sequence':
      return object.definition.data_type;
    case 'extension':
      return `version ${object.definition.version}`;
    case 'function':
    case 'procedure':
      return object.definition.result ? `returns ${object.definition.result}` : '';
    case 'comment':
      return `on ${object.definition.on}: ${oneLine(object.definition.text)}`;
    case 'collation':
      return `${object.definition.provider} ${object.definition.locale ?? object.definition.lc_collate ?? ''}`.trim();
    case 'range_type':
      return `range of ${object.definition.subtype}`;
    case 'composite_type':
      return object.definition.attributes.map((a) => `${a.name} ${a.type}`).join(', ');
    case 'policy':
      return `for ${object.definition.command}${object.definition.using ? ` using ${oneLine(object.definition.using)}` : ''}`;
    default:
      return '';
  }
}

/** `type: integer → bigint; not_null: false → true`; long values are summarised as "changed". */
function changedFields(from: object, to: object): string {
  const a = from as Record<string, unknown>;
  const b = to as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  const parts: string[] = [];
  for (const key of keys) {
    if (sameDefinition(a[key], b[key])) continue;
    if (key === 'values' && Array.isArray(a[key]) && Array.isArray(b[key])) {
      parts.push(listChange('values', a[key] as string[], b[key] as string[]));
      continue;
    }
    const x = show(a[key]);
    const y = show(b[key]);
    parts.push(x.length + y.length > 240 || x.includes('\n') || y.includes('\n') ? `${key} changed` : `${key}: ${x} → ${y}`);
  }
  return parts.join('; ');
}

function listChange(key: string, a: readonly string[], b: readonly string[]): string {
  const added = b.filter((value) => !a.includes(value));
  const removed = a.filter((value) => !b.includes(value));
  const parts = [...added.map((value) => `+${value}`), ...removed.map((value) => `-${value}`)];
  return `${key}: ${parts.length > 0 ? parts.join(' ') : 'reordered'}`;
}

function show(value: unknown): string {
  if (value === null || value === undefined) return 'none';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function compareChanges(x: SchemaChange, y: SchemaChange): number {
  return (
    kindOrder(x.kind) - kindOrder(y.kind) ||
    compareText(x.schema, y.schema) ||
    compareText(x.table ?? '', y.table ?? '') ||
    compareText(x.name, y.name)
  );
}

function compareText(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}
