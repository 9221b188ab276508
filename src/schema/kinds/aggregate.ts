import type { KindModule } from './kind.js';
import { dropRoutine, routineTarget } from './routine.js';

export const aggregateKind: KindModule<'aggregate'> = {
  kind: 'aggregate',
  createRank: 10,
  catalog: 'pg_proc',
  owned: true,
  grantable: true,
  name: routineTarget,
  // GRANT knows aggregates as functions.
  grantName: (object) => routineTarget(object).replace(/^AGGREGATE /, 'FUNCTION '),
  create: (object) => [object.definition.definition],
  drop: dropRoutine,
};
