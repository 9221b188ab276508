import { quoteIdent } from '../../postgres/quote.js';
import { describeObject } from '../model.js';
import { drops, type KindModule } from './kind.js';

export const schemaKind: KindModule<'schema'> = {
  kind: 'schema',
  createRank: 0,
  catalog: 'pg_namespace',
  owned: true,
  grantable: true,
  holdsData: true,
  neverCascaded: true,
  name: (object) => `SCHEMA ${quoteIdent(object.name)}`,
  create: (object) => [`CREATE SCHEMA ${quoteIdent(object.name)}`],
  drop: (object) => drops(`DROP SCHEMA ${quoteIdent(object.name)}`, `drops ${describeObject(object)}`),
};
