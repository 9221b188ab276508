import { quoteIdent } from '../../postgres/quote.js';
import { columnsOf, tableNeedsRebuild } from '../diff.js';
import { reparseable as rx } from '../expressions.js';
import { describeObject, type ObjectOf, type SchemaSnapshot } from '../model.js';
import type { MigrationStatement } from '../statement.js';
import { columnClause, columnSettings, optionSettings, withOptions } from './clauses.js';
import { drops, type KindModule, plain, qname } from './kind.js';
import { z } from 'zod'
import { CONTROL_SCHEMA, CONTROL_TABLE } from '../../core/records.js'
import { objectId } from '../model.js'
import { maybeText, maybeTexts, reader, SCHEMA_FILTER, type SnapshotContext, text, texts } from './context.js'
import { decodeView } from './view.js';

export const RelationRow = z.object({
  oid: text,
  reltype: text,
  nspname: text,
  relname: text,
  relkind: text,
  relpersistence: text,
  relrowsecurity: z.boolean(),
  relforcerowsecurity: z.boolean(),
  reloptions: maybeTexts,
  partition_key: maybeText,
  partition_bound: maybeText,
  parents: texts,
  parent_oids: texts,
  relispartition: z.boolean(),
  relreplident: text,
  replident_index: maybeText,
  view_definition: maybeText,
  cluster_index: maybeText,
  view_columns: z.array(z.object({ num: z.number(), name: text })).nullable(),
  view_defaults: z.array(z.object({ column: text, default: text })).nullable(),
  rule_oid: maybeText,
});
export type RelationRow = z.infer<typeof RelationRow>;

/** Tables, views and materialized views (pg_class), in the catalog's order; sequences have a reader of their own. */
const relationsReader = reader(
  `
    SELECT c.oid::int8::text AS oid, c.reltype::int8::text AS reltype, n.nspname, c.relname, c.relkind,
           c.relpersistence, c.relrowsecurity, c.relforcerowsecurity, c.reloptions,
           CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
           CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS partition_bound,
           (SELECT coalesce(array_agg(quote_ident(pn.nspname) || '.' || quote_ident(p.relname) ORDER BY i.inhseqno), '{}')
              FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
             WHERE i.inhrelid = c.oid) AS parents,
           (SELECT coalesce(array_agg(p.oid::int8::text ORDER BY i.inhseqno), '{}')
              FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent WHERE i.inhrelid = c.oid) AS parent_oids,
           c.relispartition, c.relreplident,
           (SELECT quote_ident(ri.relname) FROM pg_index i JOIN pg_class ri ON ri.oid = i.indexrelid
             WHERE i.indrelid = c.oid AND i.indisreplident) AS replident_index,
           CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END AS view_definition,
           (SELECT quote_ident(ci.relname) FROM pg_index i JOIN pg_class ci ON ci.oid = i.indexrelid
             WHERE i.indrelid = c.oid AND i.indisclustered) AS cluster_index,
           CASE WHEN c.relkind IN ('v', 'm') THEN
             (SELECT json_agg(json_build_object('num', a.attnum, 'name', a.attname) ORDER BY a.attnum)
                FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
           END AS view_columns,
           CASE WHEN c.relkind = 'v' THEN
             (SELECT json_agg(json_build_object('column', a.attname, 'default', pg_get_expr(d.adbin, d.adrelid)) ORDER BY a.attnum)
                FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE d.adrelid = c.oid)
           END AS view_defaults,
           (SELECT r.oid::int8::text FROM pg_rewrite r WHERE r.ev_class = c.oid AND r.rulename = '_RETURN') AS rule_oid
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p', 'v', 'm') AND ${SCHEMA_FILTER}`,
  RelationRow,
  (rows, context) => {
    for (const row of rows) decodeRelation(row, context);
    // Partition parents and inheritance parents come before their children.
    for (const row of rows) {
      context.parentOids.set(row.oid, row.parent_oids);
      const id = context.relationIdByOid.get(row.oid);
      if (!context.get(id, 'table') || id === undefined) continue;
      for (const parentOid of row.parent_oids) {
        const parent = context.relationIdByOid.get(parentOid);
        if (parent) context.addDep(id, parent);
      }
    }
  },
);

function decodeRelation(row: RelationRow, context: SnapshotContext): void {
  const { nspname: schema, relname: name, oid } = row;
  if (context.isMember('pg_class', oid)) return;
  // The control table (ayb's own bookkeeping), and everything on it, is never part of a diff.
  if (schema === CONTROL_SCHEMA && name === CONTROL_TABLE) {
    context.ignoredRelations.add(oid);
    return;
  }
  const kind = row.relkind === 'v' ? 'view' : row.relkind === 'm' ? 'materialized_view' : 'table';
  const id = objectId(kind, schema, name);
  context.relationNameByOid.set(oid, { schema, name });
  context.relationIdByOid.set(oid, id);
  context.own('pg_class', oid, id);
  if (row.reltype !== '0') context.own('pg_type', row.reltype, id);
  if (row.rule_oid) context.own('pg_rewrite', row.rule_oid, id);
  if (kind !== 'table') {
    decodeView(row, kind, id, context);
    return;
  }
  context.add({
    kind,
    id,
    schema,
    name,
    definition: {
      partitioned: row.relkind === 'p',
      partition_key: row.partition_key,
      partition_of: row.relispartition ? (row.parents[0] ?? null) : null,
      partition_bound: row.partition_bound,
      inherits: row.relispartition ? [] : row.parents,
      unlogged: row.relpersistence === 'u',
      rls_enabled: row.relrowsecurity,
      rls_forced: row.relforcerowsecurity,
      options: (row.reloptions ?? []).slice().sort(),
      replica_identity: replicaIdentity(row),
      inherited_columns: [],
      ...(row.cluster_index ? { cluster_on: row.cluster_index } : {}),
    },
    dependsOn: context.schemaDeps(schema),
  });
}

/** relreplident as ALTER TABLE … REPLICA IDENTITY says it; an index identity whose index is gone is the default (as pg_dump restores it). */
function replicaIdentity(row: RelationRow): string {
  if (row.relreplident === 'f') return 'full';
  if (row.relreplident === 'n') return 'nothing';
  if (row.relreplident === 'i' && row.replident_index) return `using index ${row.replident_index}`;
  return 'default';
}

export const tableKind: KindModule<'table'> = {
  kind: 'table',
  read: relationsReader,
  createRank: 14,
  catalog: 'pg_class',
  owned: true,
  grantable: true,
  holdsData: true,
  neverCascaded: true,
  name: (object) => `TABLE ${qname(object.schema, object.name)}`,
  create: createTable,
  changeMode: (from, to) => (tableNeedsRebuild(from.definition, to.definition) ? 'rebuild' : 'alter'),
  alter: (from, to, context) => alterTable(from, to, context.late, context.b).map(plain),
  drop: (object, b) =>
    drops(`DROP TABLE ${qname(object.schema, object.name)}`, `drops ${describeObject(object)} and all its rows${b.objects.has(object.id) ? ' (it is recreated empty below)' : ''}`),
};

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
  late.push(...inheritedColumnSettings(to, snapshot, x.inherited_columns).map(plain));
  if (x.unlogged !== y.unlogged) out.push(`ALTER TABLE ${name} SET ${y.unlogged ? 'UNLOGGED' : 'LOGGED'}`);
  if (x.rls_enabled !== y.rls_enabled) out.push(`ALTER TABLE ${name} ${y.rls_enabled ? 'ENABLE' : 'DISABLE'} ROW LEVEL SECURITY`);
  if (x.rls_forced !== y.rls_forced) out.push(`ALTER TABLE ${name} ${y.rls_forced ? 'FORCE' : 'NO FORCE'} ROW LEVEL SECURITY`);
  out.push(...optionSettings(`ALTER TABLE ${name}`, x.options, y.options));
  return out;
}

/**
 * SET / DROP NOT NULL and SET / DROP DEFAULT on the inherited columns of `table` whose own settings
 * (`inherited_columns`) are not `before`'s: as `snapshot` has them.
 */
export function inheritedColumnSettings(table: ObjectOf<'table'>, snapshot: SchemaSnapshot, before: readonly string[]): string[] {
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
