import {
  type ColumnDefinition,
  type ConstraintType,
  objectId,
  type ObjectOf,
  type SchemaObject,
  type SchemaSnapshot,
  type TableDefinition,
} from '../../src/schema/model.js';

/** Hand-built schema objects for the pure diff and SQL tests: the shapes snapshotSchema produces. */

export function snapshot(...objects: SchemaObject[]): SchemaSnapshot {
  return { objects: new Map(objects.map((object) => [object.id, object])) };
}

export function schema(name: string): ObjectOf<'schema'> {
  return { kind: 'schema', id: objectId('schema', name), schema: name, name, definition: {}, dependsOn: [] };
}

export function table(name: string, definition: Partial<TableDefinition> = {}, schemaName = 'public'): ObjectOf<'table'> {
  return {
    kind: 'table',
    id: objectId('table', schemaName, name),
    schema: schemaName,
    name,
    definition: {
      partitioned: false,
      partition_key: null,
      partition_of: null,
      partition_bound: null,
      inherits: [],
      unlogged: false,
      rls_enabled: false,
      rls_forced: false,
      options: [],
      replica_identity: 'default',
      inherited_columns: [],
      ...definition,
    },
    dependsOn: [objectId('schema', schemaName)],
  };
}

export function column(
  tableName: string,
  name: string,
  type: string,
  definition: Partial<ColumnDefinition> = {},
  options: { position?: number; dependsOn?: string[]; typeDependsOn?: string[]; schema?: string } = {},
): ObjectOf<'column'> {
  const schemaName = options.schema ?? 'public';
  const parent = objectId('table', schemaName, tableName);
  return {
    kind: 'column',
    id: objectId('column', schemaName, tableName, name),
    schema: schemaName,
    table: tableName,
    parent,
    name,
    position: options.position ?? 1,
    definition: { type, collation: null, not_null: false, default: null, identity: null, generated: null, statistics: null, storage: null, compression: null, options: [], ...definition },
    dependsOn: [parent, ...(options.dependsOn ?? [])],
    typeDependsOn: options.typeDependsOn ?? [],
  };
}

export function constraint(tableName: string, name: string, type: ConstraintType, definition: string, dependsOn: string[] = []): ObjectOf<'constraint'> {
  const parent = objectId('table', 'public', tableName);
  return {
    kind: 'constraint',
    id: objectId('constraint', 'public', tableName, name),
    schema: 'public',
    table: tableName,
    parent,
    name,
    definition: { constraint_type: type, definition },
    dependsOn: [parent, ...dependsOn],
  };
}

export function index(tableName: string, name: string, definition: string, dependsOn: string[] = []): ObjectOf<'index'> {
  const parent = objectId('table', 'public', tableName);
  return {
    kind: 'index',
    id: objectId('index', 'public', name),
    schema: 'public',
    table: tableName,
    parent,
    name,
    definition: { definition },
    dependsOn: [parent, objectId('schema', 'public'), ...dependsOn],
  };
}

export function view(name: string, definition: string, dependsOn: string[] = []): ObjectOf<'view'> {
  return {
    kind: 'view',
    id: objectId('view', 'public', name),
    schema: 'public',
    name,
    definition: { definition, options: [] },
    dependsOn: [objectId('schema', 'public'), ...dependsOn],
  };
}

export function enumType(name: string, values: string[]): ObjectOf<'enum'> {
  return { kind: 'enum', id: objectId('enum', 'public', name), schema: 'public', name, definition: { values }, dependsOn: [objectId('schema', 'public')] };
}

export function sequence(name: string, ownedBy?: { table: string; column: string }): ObjectOf<'sequence'> {
  return {
    kind: 'sequence',
    id: objectId('sequence', 'public', name),
    schema: 'public',
    name,
    definition: {
      data_type: 'bigint',
      start: '1',
      increment: '1',
      min_value: '1',
      max_value: '9223372036854775807',
      cache: '1',
      cycle: false,
      owned_by: ownedBy ? `${ownedBy.table}.${ownedBy.column}` : null,
    },
    dependsOn: [objectId('schema', 'public')],
    ...(ownedBy ? { ownedBy: objectId('column', 'public', ownedBy.table, ownedBy.column) } : {}),
  };
}

export function fn(name: string, args: string, result: string, body: string): ObjectOf<'function'> {
  return {
    kind: 'function',
    id: objectId('function', 'public', `${name}(${args})`),
    schema: 'public',
    name: `${name}(${args})`,
    identityArguments: args,
    definition: {
      arguments: args,
      result,
      definition: `CREATE OR REPLACE FUNCTION public.${name}(${args})\n RETURNS ${result}\n LANGUAGE sql\nAS $function$${body}$function$`,
    },
    dependsOn: [objectId('schema', 'public')],
  };
}
