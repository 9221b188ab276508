import { drops, type KindModule } from './kind.js';
import { z } from 'zod'
import { objectId } from '../model.js'
import { address, maybeText, reader, text } from './context.js';

const castsReader = reader(
  `
    SELECT c.oid::int8::text AS oid, format_type(c.castsource, NULL) AS source, format_type(c.casttarget, NULL) AS target,
           c.castmethod, c.castcontext, CASE WHEN c.castfunc <> 0 THEN c.castfunc::regprocedure::text END AS func
      FROM pg_cast c
     WHERE c.oid >= 16384`,
  z.object({ oid: text, source: text, target: text, castmethod: text, castcontext: text, func: maybeText }),
  (rows, context) => {
    for (const row of rows) {
      // Casts that belong to another object (a range type's cast to its multirange) are created with it.
      if (context.isMember('pg_cast', row.oid) || context.internal.has(address('pg_cast', row.oid))) continue;
      const signature = `(${row.source} AS ${row.target})`;
      const id = objectId('cast', signature);
      context.own('pg_cast', row.oid, id);
      const method = row.castmethod === 'f' ? `WITH FUNCTION ${row.func}` : row.castmethod === 'i' ? 'WITH INOUT' : 'WITHOUT FUNCTION';
      const castContext = row.castcontext === 'a' ? ' AS ASSIGNMENT' : row.castcontext === 'i' ? ' AS IMPLICIT' : '';
      context.add({ kind: 'cast', id, schema: '', name: `cast ${signature}`, signature, definition: { definition: `CREATE CAST ${signature} ${method}${castContext}` }, dependsOn: [] });
    }
  },
);

export const castKind: KindModule<'cast'> = {
  kind: 'cast',
  read: castsReader,
  createRank: 12,
  catalog: 'pg_cast',
  name: (object) => `CAST ${object.signature}`,
  create: (object) => [object.definition.definition],
  drop: (object) => drops(`DROP CAST ${object.signature}`),
};
