import { describeObject } from '../model.js';
import { sequenceOptionChanges } from './clauses.js';
import { drops, type KindModule, plain, qname } from './kind.js';
import { objectId } from '../model.js'
import { reader, SCHEMA_FILTER, text } from './context.js'
import { SequenceOptionsRow, sequenceOptions } from './sequence-row.js';

const SequenceRow = SequenceOptionsRow.extend({ oid: text, reltype: text, nspname: text, relname: text, relpersistence: text, seq_type: text });

/** Sequences (pg_class of kind S), but those of identity columns, which are part of the column. */
const sequencesReader = reader(
  `
    SELECT c.oid::int8::text AS oid, c.reltype::int8::text AS reltype, n.nspname, c.relname, c.relpersistence,
           format_type(s.seqtypid, NULL) AS seq_type, s.seqstart::text, s.seqincrement::text,
           s.seqmin::text, s.seqmax::text, s.seqcache::text, s.seqcycle
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_sequence s ON s.seqrelid = c.oid
     WHERE c.relkind = 'S' AND ${SCHEMA_FILTER}`,
  SequenceRow,
  (rows, context) => {
    for (const row of rows) {
      const { nspname: schema, relname: name, oid } = row;
      if (context.isMember('pg_class', oid) || context.identitySequences.has(oid)) continue;
      const id = objectId('sequence', schema, name);
      context.relationNameByOid.set(oid, { schema, name });
      context.relationIdByOid.set(oid, id);
      context.own('pg_class', oid, id);
      if (row.reltype !== '0') context.own('pg_type', row.reltype, id);
      context.add({
        kind: 'sequence',
        id,
        schema,
        name,
        definition: { data_type: row.seq_type, ...sequenceOptions(row), owned_by: null, ...(row.relpersistence === 'u' ? { unlogged: true as const } : {}) },
        dependsOn: context.schemaDeps(schema),
      });
    }
  },
);

export const sequenceKind: KindModule<'sequence'> = {
  kind: 'sequence',
  read: sequencesReader,
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
