import { type KindModule, plain } from './kind.js';
import { dropRoutine, routineTarget } from './routine.js';

export const procedureKind: KindModule<'procedure'> = {
  kind: 'procedure',
  createRank: 9,
  catalog: 'pg_proc',
  owned: true,
  grantable: true,
  name: routineTarget,
  create: (object) => [object.definition.definition],
  changeMode: (from, to) => (from.definition.arguments === to.definition.arguments && from.definition.result === to.definition.result ? 'alter' : 'rebuild'),
  alter: (_from, to) => [plain(to.definition.definition)],
  drop: dropRoutine,
};
