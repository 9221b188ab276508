import { quoteIdent } from '../../postgres/quote.js';
import { type CompositeAttribute, describeObject, type ObjectOf } from '../model.js';
import { drops, type KindModule, plain, qname } from './kind.js';

export const compositeTypeKind: KindModule<'composite_type'> = {
  kind: 'composite_type',
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
