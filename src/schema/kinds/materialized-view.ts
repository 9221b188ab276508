import { sameDefinition } from '../diff.js';
import { viewBody, withOptions } from './clauses.js';
import { drops, type KindModule, qname } from './kind.js';

export const materializedViewKind: KindModule<'materialized_view'> = {
  kind: 'materialized_view',
  createRank: 21,
  catalog: 'pg_class',
  owned: true,
  grantable: true,
  name: (object) => `MATERIALIZED VIEW ${qname(object.schema, object.name)}`,
  grantName: (object) => `TABLE ${qname(object.schema, object.name)}`,
  create: (object) => [`CREATE MATERIALIZED VIEW ${qname(object.schema, object.name)}${withOptions(object.definition.options)} AS\n${viewBody(object.definition.definition)}`],
  changeMode: (from, to) => {
    // Only the index it is clustered on differs: set where the other CLUSTER ON statements are.
    const { cluster_on: _x, ...x } = from.definition;
    const { cluster_on: _y, ...y } = to.definition;
    return sameDefinition(x, y) ? 'alter' : 'rebuild';
  },
  drop: (object) => drops(`DROP MATERIALIZED VIEW ${qname(object.schema, object.name)}`),
};
