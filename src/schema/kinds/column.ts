import { quoteIdent } from '../../postgres/quote.js';
import { columnNeedsRebuild, columnRetyped } from '../diff.js';
import { reparseable as rx } from '../expressions.js';
import { describeObject, type ObjectOf } from '../model.js';
import type { MigrationStatement } from '../statement.js';
import { columnClause, columnSettings, generationKeyword, identityClause, sequenceOptionChanges } from './clauses.js';
import { type AlterContext, drops, type KindModule, relationOf } from './kind.js';
import { z } from 'zod'
import type { IdentityDefinition } from '../model.js'
import { address, maybeText, maybeTexts, reader, SCHEMA_FILTER, type SnapshotContext, text } from './context.js'
import { SequenceOptionsRow, sequenceOptions } from './sequence-row.js'
import { collationUnlessDefault } from './types-reader.js'
import { objectId } from '../model.js';

const ColumnRow = SequenceOptionsRow.extend({
  relid: text,
  attnum: z.number(),
  attname: text,
  type: text,
  collation: maybeText,
  attnotnull: z.boolean(),
  attidentity: text,
  attgenerated: text,
  attinhcount: z.number(),
  attislocal: z.boolean(),
  statistics: z.number().nullable(),
  attstorage: text,
  typstorage: text,
  attcompression: maybeText,
  attoptions: maybeTexts,
  attrdef_oid: maybeText,
  default_expr: maybeText,
});
type ColumnRow = z.infer<typeof ColumnRow>;

const STORAGE_MODES: Record<string, 'plain' | 'external' | 'extended' | 'main'> = { p: 'plain', e: 'external', x: 'extended', m: 'main' };
const COMPRESSION_METHODS: Record<string, string> = { p: 'pglz', l: 'lz4' };

/** Columns of tables (inherited columns are their parent's: not diffed on the child, but kept). */
const columnsReader = reader(
  `
    SELECT a.attrelid::int8::text AS relid, a.attnum, a.attname,
           format_type(a.atttypid, a.atttypmod) AS type,
           ${collationUnlessDefault('a.attcollation', 't.typcollation')} AS collation,
           a.attnotnull, a.attidentity, a.attgenerated, a.attinhcount, a.attislocal,
           NULLIF(a.attstattarget, -1) AS statistics, a.attstorage, t.typstorage, a.attcompression, a.attoptions,
           d.oid::int8::text AS attrdef_oid, pg_get_expr(d.adbin, d.adrelid) AS default_expr,
           s.seqrelid::int8::text AS identity_seq, s.seqstart::text, s.seqincrement::text, s.seqmin::text,
           s.seqmax::text, s.seqcache::text, s.seqcycle
      FROM pg_attribute a
      JOIN pg_class c ON c.oid = a.attrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_type t ON t.oid = a.atttypid
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      LEFT JOIN pg_depend sd ON a.attidentity <> '' AND sd.refclassid = 'pg_class'::regclass AND sd.refobjid = a.attrelid
            AND sd.refobjsubid = a.attnum AND sd.classid = 'pg_class'::regclass AND sd.deptype = 'i'
      LEFT JOIN pg_sequence s ON s.seqrelid = sd.objid
     WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped AND ${SCHEMA_FILTER}`,
  ColumnRow,
  (rows, context) => {
    for (const row of rows) decodeColumn(row, context);
    inheritedColumnSettings(rows, context);
  },
);

function isInherited(row: ColumnRow): boolean {
  // A column both inherited and declared on the table itself (merged) is the table's own too.
  return row.attinhcount > 0 && !row.attislocal;
}

function decodeColumn(row: ColumnRow, context: SnapshotContext): void {
  const table = context.onTable(row.relid);
  if (!table) return;
  const { parent } = table;
  const id = objectId('column', table.schema, table.name, row.attname);
  context.columnIdByAddress.set(address('pg_class', row.relid, row.attnum), id);
  const inherited = isInherited(row);
  if (!inherited) {
    context.own('pg_class', row.relid, id, row.attnum);
    if (row.attrdef_oid) context.exprOwner.set(address('pg_attrdef', row.attrdef_oid), id);
  }
  const generated = row.attgenerated === 's';
  const identity: IdentityDefinition | null =
    row.attidentity === 'a' || row.attidentity === 'd' ? { generation: row.attidentity === 'a' ? 'always' : 'by_default', ...sequenceOptions(row) } : null;
  const column: ObjectOf<'column'> = {
    kind: 'column',
    id,
    schema: table.schema,
    table: table.name,
    parent,
    name: row.attname,
    position: row.attnum,
    definition: {
      type: row.type,
      collation: row.collation,
      not_null: row.attnotnull,
      default: generated ? null : row.default_expr,
      identity,
      generated: generated ? row.default_expr : null,
      statistics: row.statistics,
      storage: row.attstorage === row.typstorage ? null : (STORAGE_MODES[row.attstorage] ?? null),
      compression: row.attcompression ? (COMPRESSION_METHODS[row.attcompression] ?? null) : null,
      options: (row.attoptions ?? []).slice().sort(),
    },
    dependsOn: [parent],
    typeDependsOn: [],
    typeStorage: STORAGE_MODES[row.typstorage] ?? 'extended',
  };
  if (!inherited) {
    context.add(column);
    return;
  }
  context.inheritedColumns.set(id, column);
  const entry = context.attributesByRelid.get(row.relid) ?? { id: parent, attributes: new Map<number, string>() };
  entry.attributes.set(row.attnum, row.attname);
  context.attributesByRelid.set(row.relid, entry);
}

/** What children set on inherited columns themselves (NOT NULL, defaults): compared on the table. */
function inheritedColumnSettings(rows: readonly ColumnRow[], context: SnapshotContext): void {
  const columnOf = (tableId: string | undefined, name: string): ObjectOf<'column'> | undefined => {
    const table = tableId === undefined ? undefined : context.objects.get(tableId);
    if (!table) return undefined;
    const id = objectId('column', table.schema, table.name, name);
    return context.get(id, 'column') ?? context.inheritedColumns.get(id);
  };
  const ownSettings = new Map<string, string[]>();
  for (const row of rows) {
    const table = context.onTable(row.relid);
    if (!table || !isInherited(row)) continue;
    const column = context.inheritedColumns.get(objectId('column', table.schema, table.name, row.attname));
    if (!column) continue;
    const parents = (context.parentOids.get(row.relid) ?? []).flatMap((oid) => columnOf(context.relationIdByOid.get(oid), column.name) ?? []);
    const first = parents[0];
    if (first === undefined) continue;
    const settings: string[] = [];
    const parentNotNull = parents.some((p) => p.definition.not_null);
    if (column.definition.not_null !== parentNotNull) settings.push(`${quoteIdent(column.name)} ${column.definition.not_null ? 'not null' : 'null'}`);
    const parentDefault = first.definition.default;
    if (column.definition.default !== parentDefault) settings.push(`${quoteIdent(column.name)} ${column.definition.default === null ? 'no default' : `default ${column.definition.default}`}`);
    if (settings.length > 0) ownSettings.set(table.parent, [...(ownSettings.get(table.parent) ?? []), ...settings]);
  }
  for (const [id, settings] of ownSettings) {
    const table = context.get(id, 'table');
    if (table) context.add({ ...table, definition: { ...table.definition, inherited_columns: settings.sort() } });
  }
}

export const columnKind: KindModule<'column'> = {
  kind: 'column',
  read: columnsReader,
  createRank: 16,
  catalog: 'pg_class',
  grantable: true,
  holdsData: true,
  name: (object) => `COLUMN ${relationOf(object)}.${quoteIdent(object.name)}`,
  grantName: (object) => `TABLE ${relationOf(object)}`,
  create: (object) => [`ALTER TABLE ${relationOf(object)} ADD COLUMN ${columnClause({ name: object.name, ...object.definition })}`, ...columnSettings(object)],
  changeMode: (from, to) => (columnNeedsRebuild(from.definition, to.definition) ? 'rebuild' : 'alter'),
  alter: alterColumn,
  drop: (object, b) => {
    const to = b.objects.get(object.id);
    const what = describeObject(object);
    const computed = object.definition.generated !== null && (to?.kind !== 'column' || to.definition.generated !== null);
    const destructive = computed ? undefined : to ? `replaces the values of ${what} with a generated expression` : `drops ${what} and its data`;
    return drops(`ALTER TABLE ${relationOf(object)} DROP COLUMN ${quoteIdent(object.name)}`, destructive);
  },
};

function alterColumn(from: ObjectOf<'column'>, to: ObjectOf<'column'>, context: AlterContext): MigrationStatement[] {
  const x = from.definition;
  const y = to.definition;
  const prefix = `ALTER TABLE ${relationOf(to)} ALTER COLUMN ${quoteIdent(to.name)}`;
  const out: MigrationStatement[] = [];
  const viaType = context.retypedViaType.has(to.id);
  const retype = columnRetyped(x, y) || viaType;
  if (x.generated !== null && y.generated === null) out.push({ sql: `${prefix} DROP EXPRESSION` });
  let defaultGone = x.default === null || context.resetDefault.has(to.id);
  if (!defaultGone && (retype || x.default !== y.default)) {
    out.push({ sql: `${prefix} DROP DEFAULT` });
    defaultGone = true;
  }
  if (retype) {
    const collate = y.collation ? ` COLLATE ${y.collation}` : '';
    const throughText = (viaType && !columnRetyped(x, y)) || !directCast(x.type, y.type, from.typeDependsOn, to.typeDependsOn);
    const using = throughText ? textCast(to.name, y.type) : `${quoteIdent(to.name)}::${y.type}`;
    const destructive = columnRetyped(x, y) ? `changes the type of ${describeObject(to)} from ${x.type} to ${y.type}; values that do not convert make it fail` : undefined;
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
function textCast(column: string, type: string): string {
  return type.endsWith('[]') ? `${quoteIdent(column)}::text[]::${type}` : `${quoteIdent(column)}::text::${type}`;
}
