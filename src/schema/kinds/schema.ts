import { z } from 'zod';
import { quoteIdent } from '../../postgres/quote.js';
import { describeObject, objectId } from '../model.js';
import { drops, type KindModule } from './kind.js';
import { reader, SCHEMA_FILTER, text } from './context.js';

export const schemaKind: KindModule<'schema'> = {
  kind: 'schema',
  read: reader(`SELECT n.oid::int8::text AS oid, n.nspname FROM pg_namespace n WHERE ${SCHEMA_FILTER}`, z.object({ oid: text, nspname: text }), (rows, context) => {
    for (const row of rows) {
      if (context.isMember('pg_namespace', row.oid)) continue;
      const id = objectId('schema', row.nspname);
      context.own('pg_namespace', row.oid, id);
      context.add({ kind: 'schema', id, schema: row.nspname, name: row.nspname, definition: {}, dependsOn: [] });
    }
  }),
  createRank: 0,
  catalog: 'pg_namespace',
  owned: true,
  grantable: true,
  holdsData: true,
  neverCascaded: true,
  name: (object) => `SCHEMA ${quoteIdent(object.name)}`,
  create: (object) => [`CREATE SCHEMA ${quoteIdent(object.name)}`],
  drop: (object) => drops(`DROP SCHEMA ${quoteIdent(object.name)}`, `drops ${describeObject(object)}`),
};
