import type { SnapshotContext } from './context.js';
import type { RelationRow } from './table.js';
import { quoteIdent } from '../../postgres/quote.js';
import { reparseable as rx } from '../expressions.js';
import { viewBody, withOptions } from './clauses.js';
import { drops, type KindModule, qname } from './kind.js';

export const viewKind: KindModule<'view'> = {
  kind: 'view',
  createRank: 20,
  catalog: 'pg_class',
  owned: true,
  grantable: true,
  name: (object) => `VIEW ${qname(object.schema, object.name)}`,
  grantName: (object) => `TABLE ${qname(object.schema, object.name)}`,
  create: (object) => [
    `CREATE VIEW ${qname(object.schema, object.name)}${withOptions(object.definition.options)} AS\n${viewBody(object.definition.definition)}`,
    ...(object.definition.column_defaults ?? []).map((d) => `ALTER VIEW ${qname(object.schema, object.name)} ALTER COLUMN ${quoteIdent(d.column)} SET DEFAULT ${rx(d.default)}`),
  ],
  drop: (object) => drops(`DROP VIEW ${qname(object.schema, object.name)}`),
};

/** A view or materialized view from its pg_class row (read with the tables: see table.ts). */
export function decodeView(row: RelationRow, kind: 'view' | 'materialized_view', id: string, context: SnapshotContext): void {
  const definition = {
    definition: (row.view_definition ?? '').trim(),
    options: (row.reloptions ?? []).slice().sort(),
    ...(row.cluster_index ? { cluster_on: row.cluster_index } : {}),
    ...(row.view_defaults ? { column_defaults: row.view_defaults } : {}),
  };
  const object = { id, schema: row.nspname, name: row.relname, definition, dependsOn: context.schemaDeps(row.nspname) };
  context.add(kind === 'view' ? { kind, ...object } : { kind, ...object });
  // Its columns, for the comments on them (kept as a composite type's attributes are).
  context.attributesByRelid.set(row.oid, { id, attributes: new Map((row.view_columns ?? []).map((column) => [column.num, column.name])) });
}
