import { quoteIdent } from '../../postgres/quote.js';
import { columnsOf, tableNeedsRebuild } from '../diff.js';
import { reparseable as rx } from '../expressions.js';
import { describeObject, type ObjectOf, type SchemaSnapshot } from '../model.js';
import type { MigrationStatement } from '../statement.js';
import { columnClause, columnSettings, optionSettings, withOptions } from './clauses.js';
import { drops, type KindModule, plain, qname } from './kind.js';

export const tableKind: KindModule<'table'> = {
  kind: 'table',
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
