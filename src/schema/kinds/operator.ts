import { drops, type KindModule } from './kind.js';

export const operatorKind: KindModule<'operator'> = {
  kind: 'operator',
  createRank: 11,
  catalog: 'pg_operator',
  owned: true,
  name: (object) => `OPERATOR ${object.signature}`,
  create: (object) => [object.definition.definition],
  drop: (object) => drops(`DROP OPERATOR ${object.signature}`),
};
