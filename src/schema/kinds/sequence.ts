import { describeObject } from '../model.js';
import { sequenceOptionChanges } from './clauses.js';
import { drops, type KindModule, plain, qname } from './kind.js';

export const sequenceKind: KindModule<'sequence'> = {
  kind: 'sequence',
  createRank: 7,
  catalog: 'pg_class',
  owned: true,
  grantable: true,
  holdsData: true,
  neverCascaded: true,
  name: (object) => `SEQUENCE ${qname(object.schema, object.name)}`,
  create: (object) => [
    `CREATE ${object.definition.unlogged ? 'UNLOGGED ' : ''}SEQUENCE ${qname(object.schema, object.name)} AS ${object.definition.data_type} ${sequenceOptionChanges(undefined, object.definition, 'create').join(' ')}`,
  ],
  changeMode: () => 'alter',
  alter: (from, to) => {
    const name = qname(to.schema, to.name);
    const type = from.definition.data_type !== to.definition.data_type ? [`AS ${to.definition.data_type}`] : [];
    const all = [...type, ...sequenceOptionChanges(from.definition, to.definition, 'alter')];
    const persistence = from.definition.unlogged !== to.definition.unlogged ? [plain(`ALTER SEQUENCE ${name} SET ${to.definition.unlogged ? 'UNLOGGED' : 'LOGGED'}`)] : [];
    return [...(all.length > 0 ? [plain(`ALTER SEQUENCE ${name} ${all.join(' ')}`)] : []), ...persistence];
  },
  drop: (object) => drops(`DROP SEQUENCE ${qname(object.schema, object.name)}`, `drops ${describeObject(object)} and its current value`),
};
