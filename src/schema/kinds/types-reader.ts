import { z } from 'zod';
import { objectId } from '../model.js';
import { type CatalogReader, maybeText, maybeTexts, reader, SCHEMA_FILTER, text } from './context.js';

/** A collation, qualified, when it is not the default of the type it applies to (a SQL fragment; `coll` is the collation oid, `base` the type's). */
export const collationUnlessDefault = (coll: string, base: string): string => `CASE WHEN ${coll} <> 0 AND ${coll} <> ${base} THEN
             (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname)
                FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = ${coll})
           END`;

const TypeRow = z.object({
  oid: text,
  typarray: text,
  nspname: text,
  typname: text,
  typtype: text,
  labels: maybeTexts,
  base_type: maybeText,
  typnotnull: z.boolean(),
  default_expr: maybeText,
  collation: maybeText,
  constraints: z.array(z.object({ oid: text, name: text, definition: text })),
});

/** Enums and domains (pg_type rows of type `e` and `d`), in the catalog's order. */
export const typesReader: CatalogReader = reader(
  `
    SELECT t.oid::int8::text AS oid, t.typarray::int8::text AS typarray, n.nspname, t.typname, t.typtype,
           CASE WHEN t.typtype = 'e' THEN
             (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid)
           END AS labels,
           format_type(t.typbasetype, t.typtypmod) AS base_type,
           t.typnotnull,
           pg_get_expr(t.typdefaultbin, 0) AS default_expr,
           ${collationUnlessDefault('t.typcollation', 'bt.typcollation')} AS collation,
           (SELECT coalesce(json_agg(json_build_object('oid', c.oid::int8::text, 'name', c.conname,
                                                        'definition', pg_get_constraintdef(c.oid)) ORDER BY c.conname), '[]')
              FROM pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c') AS constraints
      FROM pg_type t
      JOIN pg_namespace n ON n.oid = t.typnamespace
      LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
     WHERE t.typtype IN ('e', 'd') AND ${SCHEMA_FILTER}`,
  TypeRow,
  (rows, context) => {
    for (const row of rows) {
      if (context.isMember('pg_type', row.oid)) continue;
      const schema = row.nspname;
      const name = row.typname;
      const id = row.typtype === 'e' ? objectId('enum', schema, name) : objectId('domain', schema, name);
      context.own('pg_type', row.oid, id);
      if (row.typarray !== '0') context.own('pg_type', row.typarray, id);
      if (row.typtype === 'e') {
        context.add({ kind: 'enum', id, schema, name, definition: { values: row.labels ?? [] }, dependsOn: context.schemaDeps(schema) });
        continue;
      }
      for (const c of row.constraints) {
        context.own('pg_constraint', c.oid, id);
        context.domainConstraints.set(c.oid, { domain: id, name: c.name });
      }
      context.add({
        kind: 'domain',
        id,
        schema,
        name,
        definition: {
          type: row.base_type ?? '',
          collation: row.collation,
          default: row.default_expr,
          not_null: row.typnotnull,
          constraints: row.constraints.map((c) => ({ name: c.name, definition: c.definition })),
        },
        dependsOn: context.schemaDeps(schema),
      });
    }
  },
);
