import { drops, type KindModule } from './kind.js';

export const castKind: KindModule<'cast'> = {
  kind: 'cast',
  createRank: 12,
  catalog: 'pg_cast',
  name: (object) => `CAST ${object.signature}`,
  create: (object) => [object.definition.definition],
  drop: (object) => drops(`DROP CAST ${object.signature}`),
};
