import { quoteIdent } from '../../postgres/quote.js';
import { type CompositeAttribute, describeObject, type ObjectOf } from '../model.js';
import { drops, type KindModule, plain, qname } from './kind.js';
import { z } from 'zod'
import { objectId } from '../model.js'
import { maybeText, reader, SCHEMA_FILTER, text } from './context.js'
import { collationUnlessDefault } from './types-reader.js';

const CompositeRow = z.object({
  oid: text,
  typarray: text,
  relid: text,
  nspname: text,
  typname: text,
  attributes: z.array(z.object({ name: text, num: z.number(), type: text, collation: maybeText })),
});

const compositeReader = reader(
  `
    SELECT t.oid::int8::text AS oid, t.typarray::int8::text AS typarray, t.typrelid::int8::text AS relid, n.nspname, t.typname,
           (SELECT coalesce(json_agg(json_build_object('name', a.attname, 'num', a.attnum, 'type', format_type(a.atttypid, a.atttypmod),
                     'collation', ${collationUnlessDefault('a.attcollation', 'at.typcollation')})
                   ORDER BY a.attnum), '[]')
              FROM pg_attribute a JOIN pg_type at ON at.oid = a.atttypid
             WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) AS attributes
      FROM pg_type t
      JOIN pg_class c ON c.oid = t.typrelid AND c.relkind = 'c'
      JOIN pg_namespace n ON n.oid = t.typnamespace
     WHERE t.typtype = 'c' AND ${SCHEMA_FILTER}`,
  CompositeRow,
  (rows, context) => {
    for (const row of rows) {
      if (context.isMember('pg_type', row.oid)) continue;
      const schema = row.nspname;
      const name = row.typname;
      const id = objectId('composite_type', schema, name);
      context.own('pg_type', row.oid, id);
      if (row.typarray !== '0') context.own('pg_type', row.typarray, id);
      context.own('pg_class', row.relid, id);
      context.attributesByRelid.set(row.relid, { id, attributes: new Map(row.attributes.map((a) => [a.num, a.name])) });
      context.add({
        kind: 'composite_type',
        id,
        schema,
        name,
        definition: {
          attributes: row.attributes.map((a) => ({ name: a.name, type: a.type, collation: a.collation })).sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0)),
        },
        attributeOrder: row.attributes.map((a) => a.name),
        dependsOn: context.schemaDeps(schema),
      });
    }
  },
);

export const compositeTypeKind: KindModule<'composite_type'> = {
  kind: 'composite_type',
  read: compositeReader,
  createRank: 5,
  catalog: 'pg_type',
  owned: true,
  grantable: true,
  holdsData: true,
  neverCascaded: true,
  name: (object) => `TYPE ${qname(object.schema, object.name)}`,
  create: (object) => {
    const byName = new Map(object.definition.attributes.map((a) => [a.name, a]));
    const attributes = object.attributeOrder.flatMap((name) => byName.get(name) ?? []).map(attributeClause);
    return [`CREATE TYPE ${qname(object.schema, object.name)} AS (${attributes.join(', ')})`];
  },
  changeMode: () => 'alter',
  alter: (from, to) => alterComposite(from, to).map(plain),
  drop: (object) => drops(`DROP TYPE ${qname(object.schema, object.name)}`, `drops ${describeObject(object)}`),
};

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
