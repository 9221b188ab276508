import { quoteIdent } from '../../postgres/quote.js';
import { reparseable as rx } from '../expressions.js';
import { fdwOptions } from './clauses.js';
import { drops, type KindModule, qname } from './kind.js';

export const foreignTableKind: KindModule<'foreign_table'> = {
  kind: 'foreign_table',
  createRank: 15,
  catalog: 'pg_class',
  owned: true,
  name: (object) => `FOREIGN TABLE ${qname(object.schema, object.name)}`,
  create: (object) => {
    const d = object.definition;
    const columns = d.columns.map((c) => {
      let clause = `    ${quoteIdent(c.name)} ${c.type}${fdwOptions(c.options)}`;
      if (c.collation) clause += ` COLLATE ${c.collation}`;
      if (c.not_null) clause += ' NOT NULL';
      if (c.default !== null) clause += ` DEFAULT ${rx(c.default)}`;
      return clause;
    });
    return [`CREATE FOREIGN TABLE ${qname(object.schema, object.name)} (${columns.length > 0 ? `\n${columns.join(',\n')}\n` : ''}) SERVER ${quoteIdent(d.server)}${fdwOptions(d.options)}`];
  },
  drop: (object) => drops(`DROP FOREIGN TABLE ${qname(object.schema, object.name)}`),
};
