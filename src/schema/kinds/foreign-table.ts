import { quoteIdent } from '../../postgres/quote.js';
import { reparseable as rx } from '../expressions.js';
import { fdwOptions } from './clauses.js';
import { drops, type KindModule, qname } from './kind.js';
import { z } from 'zod'
import { objectId } from '../model.js'
import { maybeText, maybeTexts, reader, SCHEMA_FILTER, text, texts } from './context.js'
import { collationUnlessDefault } from './types-reader.js';

const ForeignTableRow = z.object({
  oid: text,
  nspname: text,
  relname: text,
  srvname: text,
  ftoptions: maybeTexts,
  columns: z.array(z.object({ name: text, type: text, collation: maybeText, not_null: z.boolean(), default: maybeText, options: texts })),
});

const foreignTablesReader = reader(
  `
    SELECT c.oid::int8::text AS oid, n.nspname, c.relname, s.srvname, ft.ftoptions,
           (SELECT coalesce(json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
                     'collation', ${collationUnlessDefault('a.attcollation', 't.typcollation')},
                     'not_null', a.attnotnull, 'default', pg_get_expr(d.adbin, d.adrelid), 'options', coalesce(a.attfdwoptions, '{}'))
                   ORDER BY a.attnum), '[]')
              FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
              LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns
      FROM pg_foreign_table ft
      JOIN pg_class c ON c.oid = ft.ftrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_foreign_server s ON s.oid = ft.ftserver
     WHERE ${SCHEMA_FILTER}`,
  ForeignTableRow,
  (rows, context) => {
    for (const row of rows) {
      if (context.isMember('pg_class', row.oid)) continue;
      const schema = row.nspname;
      const id = objectId('foreign_table', schema, row.relname);
      context.own('pg_class', row.oid, id);
      context.add({
        kind: 'foreign_table',
        id,
        schema,
        name: row.relname,
        definition: {
          server: row.srvname,
          options: (row.ftoptions ?? []).slice().sort(),
          columns: row.columns.map((column) => ({ ...column, options: column.options.slice().sort() })),
        },
        dependsOn: [...context.schemaDeps(schema), objectId('foreign_server', row.srvname)],
      });
    }
  },
);

export const foreignTableKind: KindModule<'foreign_table'> = {
  kind: 'foreign_table',
  read: foreignTablesReader,
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
