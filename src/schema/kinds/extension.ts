import { quoteIdent, quoteLiteral } from '../../postgres/quote.js';
import { describeObject } from '../model.js';
import type { MigrationStatement } from '../statement.js';
import { drops, type KindModule, plain } from './kind.js';

export const extensionKind: KindModule<'extension'> = {
  kind: 'extension',
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
