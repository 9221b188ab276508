import { sameDefinition } from '../diff.js';
import { drops, type KindModule, plain, qname } from './kind.js';

export const statisticsKind: KindModule<'statistics'> = {
  kind: 'statistics',
  createRank: 19,
  catalog: 'pg_statistic_ext',
  name: (object) => `STATISTICS ${qname(object.schema, object.name)}`,
  create: (object) => [
    object.definition.definition,
    ...(object.definition.target !== null ? [`ALTER STATISTICS ${qname(object.schema, object.name)} SET STATISTICS ${object.definition.target}`] : []),
  ],
  changeMode: (from, to) => (sameDefinition(from.definition.definition, to.definition.definition) ? 'alter' : 'rebuild'),
  alter: (_from, to) => [plain(`ALTER STATISTICS ${qname(to.schema, to.name)} SET STATISTICS ${to.definition.target ?? -1}`)],
  drop: (object) => drops(`DROP STATISTICS ${qname(object.schema, object.name)}`),
};
