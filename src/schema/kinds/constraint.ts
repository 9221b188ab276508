import { quoteIdent } from '../../postgres/quote.js';
import { reparseable as rx } from '../expressions.js';
import { drops, type KindModule, relationOf } from './kind.js';

export const constraintKind: KindModule<'constraint'> = {
  kind: 'constraint',
  createRank: 17,
  catalog: 'pg_constraint',
  name: (object) => `CONSTRAINT ${quoteIdent(object.name)} ON ${relationOf(object)}`,
  create: (object) => [`ALTER TABLE ${relationOf(object)} ADD CONSTRAINT ${quoteIdent(object.name)} ${rx(object.definition.definition)}`],
  drop: (object) => drops(`ALTER TABLE ${relationOf(object)} DROP CONSTRAINT ${quoteIdent(object.name)}`),
};
