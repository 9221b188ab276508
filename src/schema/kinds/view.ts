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
