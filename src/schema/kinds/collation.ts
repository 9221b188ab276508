import { quoteLiteral } from '../../postgres/quote.js';
import type { ObjectOf } from '../model.js';
import { drops, type KindModule, qname } from './kind.js';

export const collationKind: KindModule<'collation'> = {
  kind: 'collation',
  createRank: 2,
  catalog: 'pg_collation',
  owned: true,
  neverCascaded: true,
  name: (object) => `COLLATION ${qname(object.schema, object.name)}`,
  create: (object) => [createCollation(object)],
  drop: (object) => drops(`DROP COLLATION ${qname(object.schema, object.name)}`),
};

function createCollation(object: ObjectOf<'collation'>): string {
  const d = object.definition;
  const options = [`provider = ${d.provider}`];
  if (d.locale !== null) options.push(`locale = ${quoteLiteral(d.locale)}`);
  if (d.lc_collate !== null) options.push(`lc_collate = ${quoteLiteral(d.lc_collate)}`);
  if (d.lc_ctype !== null) options.push(`lc_ctype = ${quoteLiteral(d.lc_ctype)}`);
  if (!d.deterministic) options.push('deterministic = false');
  if (d.rules !== null) options.push(`rules = ${quoteLiteral(d.rules)}`);
  return `CREATE COLLATION ${qname(object.schema, object.name)} (${options.join(', ')})`;
}
