import { sameDefinition } from '../diff.js';
import { drops, type KindModule, plain, qname } from './kind.js';
import { z } from 'zod'
import { objectId } from '../model.js'
import { reader, SCHEMA_FILTER, text } from './context.js';

const statisticsReader = reader(
  `
    SELECT s.oid::int8::text AS oid, s.stxrelid::int8::text AS relid, n.nspname, s.stxname,
           pg_get_statisticsobjdef(s.oid) AS definition, NULLIF(s.stxstattarget, -1) AS target
      FROM pg_statistic_ext s
      JOIN pg_namespace n ON n.oid = s.stxnamespace
     WHERE ${SCHEMA_FILTER}`,
  z.object({ oid: text, relid: text, nspname: text, stxname: text, definition: text, target: z.number().nullable() }),
  (rows, context) => {
    for (const row of rows) {
      const table = context.onTable(row.relid);
      if (!table || context.isMember('pg_statistic_ext', row.oid)) continue;
      const { parent } = table;
      const schema = row.nspname;
      const id = objectId('statistics', schema, table.name, row.stxname);
      context.own('pg_statistic_ext', row.oid, id);
      context.add({
        kind: 'statistics',
        id,
        schema,
        table: table.name,
        parent,
        name: row.stxname,
        definition: { definition: row.definition, target: row.target },
        dependsOn: [parent, ...context.schemaDeps(schema)],
      });
    }
  },
);

export const statisticsKind: KindModule<'statistics'> = {
  kind: 'statistics',
  read: statisticsReader,
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
