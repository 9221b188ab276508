import { quoteIdent } from '../../postgres/quote.js';
import { columnNeedsRebuild, columnRetyped } from '../diff.js';
import { reparseable as rx } from '../expressions.js';
import { describeObject, type ObjectOf } from '../model.js';
import type { MigrationStatement } from '../statement.js';
import { columnClause, columnSettings, generationKeyword, identityClause, sequenceOptionChanges } from './clauses.js';
import { type AlterContext, drops, type KindModule, relationOf } from './kind.js';

export const columnKind: KindModule<'column'> = {
  kind: 'column',
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
