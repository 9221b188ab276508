import { z } from 'zod';
import { quoteIdent, quoteLiteral } from '../../postgres/quote.js';
import { describeObject, objectId } from '../model.js';
import type { MigrationStatement } from '../statement.js';
import { drops, type KindModule, plain } from './kind.js';
import { reader, text } from './context.js';

export const EXTENSIONS_SQL = `
    SELECT e.oid::int8::text AS oid, e.extname, e.extversion, n.nspname
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace`;

export const ExtensionRow = z.object({ oid: text, extname: text, extversion: text, nspname: text });

export const extensionKind: KindModule<'extension'> = {
  kind: 'extension',
  read: reader(EXTENSIONS_SQL, ExtensionRow, (rows, context) => {
    for (const row of rows) {
      const id = objectId('extension', row.extname);
      context.own('pg_extension', row.oid, id);
      const schema = row.nspname;
      context.add({ kind: 'extension', id, schema, name: row.extname, definition: { version: row.extversion, schema }, dependsOn: context.trackedSchema(schema) ? context.schemaDeps(schema) : [] });
    }
  }),
  createRank: 1,
  catalog: 'pg_extension',
  holdsData: true,
  neverCascaded: true,
  name: (object) => `EXTENSION ${quoteIdent(object.name)}`,
  create: (object) => [`CREATE EXTENSION ${quoteIdent(object.name)} WITH SCHEMA ${quoteIdent(object.definition.schema)} VERSION ${quoteLiteral(object.definition.version)}`],
  changeMode: () => 'alter',
  alter: (from, to) => {
    const out: MigrationStatement[] = [];
    if (from.definition.schema !== to.definition.schema) out.push(plain(`ALTER EXTENSION ${quoteIdent(to.name)} SET SCHEMA ${quoteIdent(to.definition.schema)}`));
    if (from.definition.version !== to.definition.version) out.push(plain(`ALTER EXTENSION ${quoteIdent(to.name)} UPDATE TO ${quoteLiteral(to.definition.version)}`));
    return out;
  },
  drop: (object) => drops(`DROP EXTENSION ${quoteIdent(object.name)}`, `drops ${describeObject(object)} and the objects it provides`),
};
