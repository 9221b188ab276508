import { quoteLiteral } from '../../postgres/quote.js';
import { enumGrowsInPlace } from '../diff.js';
import { describeObject, type ObjectOf } from '../model.js';
import { drops, type KindModule, plain, qname } from './kind.js';
import { typesReader } from './types-reader.js';



export const enumKind: KindModule<'enum'> = {
  kind: 'enum',
  read: typesReader,
  createRank: 3,
  catalog: 'pg_type',
  owned: true,
  grantable: true,
  holdsData: true,
  neverCascaded: true,
  name: (object) => `TYPE ${qname(object.schema, object.name)}`,
  create: (object) => [`CREATE TYPE ${qname(object.schema, object.name)} AS ENUM (${object.definition.values.map(quoteLiteral).join(', ')})`],
  changeMode: (from, to) => (enumGrowsInPlace(from.definition, to.definition) ? 'alter' : 'recreate_type'),
  alter: (from, to) => enumAdditions(from.definition.values, to).map(plain),
  drop: (object) => drops(`DROP TYPE ${qname(object.schema, object.name)}`, `drops ${describeObject(object)}`),
};

/** ADD VALUE statements that grow an enum from `before` to `to`'s values, each at its place. */
function enumAdditions(before: readonly string[], to: ObjectOf<'enum'>): string[] {
  const name = qname(to.schema, to.name);
  const values = to.definition.values;
  const out: string[] = [];
  values.forEach((value, index) => {
    if (before.includes(value)) return;
    if (index > 0) out.push(`ALTER TYPE ${name} ADD VALUE ${quoteLiteral(value)} AFTER ${quoteLiteral(values[index - 1]!)}`);
    else {
      const firstOld = values.find((other) => before.includes(other));
      out.push(`ALTER TYPE ${name} ADD VALUE ${quoteLiteral(value)}${firstOld !== undefined ? ` BEFORE ${quoteLiteral(firstOld)}` : ''}`);
    }
  });
  return out;
}
