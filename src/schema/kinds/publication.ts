import { quoteIdent } from '../../postgres/quote.js';
import { drops, type KindModule } from './kind.js';

export const publicationKind: KindModule<'publication'> = {
  kind: 'publication',
  createRank: 26,
  catalog: 'pg_publication',
  owned: true,
  name: (object) => `PUBLICATION ${quoteIdent(object.name)}`,
  create: (object) => [object.definition.definition],
  drop: (object) => drops(`DROP PUBLICATION ${quoteIdent(object.name)}`),
};
