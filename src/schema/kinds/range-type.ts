import { describeObject } from '../model.js';
import { drops, type KindModule, qname } from './kind.js';

export const rangeTypeKind: KindModule<'range_type'> = {
  kind: 'range_type',
  createRank: 6,
  catalog: 'pg_type',
  owned: true,
  grantable: true,
  holdsData: true,
  neverCascaded: true,
  name: (object) => `TYPE ${qname(object.schema, object.name)}`,
  create: (object) => {
    const d = object.definition;
    const options = [`SUBTYPE = ${d.subtype}`];
    if (d.subtype_opclass) options.push(`SUBTYPE_OPCLASS = ${d.subtype_opclass}`);
    if (d.collation) options.push(`COLLATION = ${d.collation}`);
    if (d.canonical) options.push(`CANONICAL = ${d.canonical}`);
    if (d.subtype_diff) options.push(`SUBTYPE_DIFF = ${d.subtype_diff}`);
    options.push(`MULTIRANGE_TYPE_NAME = ${d.multirange_type}`);
    return [`CREATE TYPE ${qname(object.schema, object.name)} AS RANGE (${options.join(', ')})`];
  },
  drop: (object) => drops(`DROP TYPE ${qname(object.schema, object.name)}`, `drops ${describeObject(object)}`),
};
