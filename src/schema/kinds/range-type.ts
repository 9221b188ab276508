import { describeObject } from '../model.js';
import { drops, type KindModule, qname } from './kind.js';
import { z } from 'zod'
import { objectId } from '../model.js'
import { maybeText, reader, SCHEMA_FILTER, text } from './context.js'
import { collationUnlessDefault } from './types-reader.js';

const RangeRow = z.object({
  oid: text,
  typarray: text,
  nspname: text,
  typname: text,
  subtype: text,
  opclass: maybeText,
  collation: maybeText,
  canonical: maybeText,
  subdiff: maybeText,
  multirange_oid: text,
  multirange_array: text,
  multirange: text,
});

const rangeReader = reader(
  `
    SELECT t.oid::int8::text AS oid, t.typarray::int8::text AS typarray, n.nspname, t.typname,
           format_type(r.rngsubtype, NULL) AS subtype,
           CASE WHEN NOT opc.opcdefault THEN quote_ident(opn.nspname) || '.' || quote_ident(opc.opcname) END AS opclass,
           ${collationUnlessDefault('r.rngcollation', 'st.typcollation')} AS collation,
           CASE WHEN r.rngcanonical <> 0 THEN r.rngcanonical::regproc::text END AS canonical,
           CASE WHEN r.rngsubdiff <> 0 THEN r.rngsubdiff::regproc::text END AS subdiff,
           r.rngmultitypid::int8::text AS multirange_oid, mt.typarray::int8::text AS multirange_array,
           quote_ident(mn.nspname) || '.' || quote_ident(mt.typname) AS multirange
      FROM pg_range r
      JOIN pg_type t ON t.oid = r.rngtypid
      JOIN pg_namespace n ON n.oid = t.typnamespace
      JOIN pg_type st ON st.oid = r.rngsubtype
      JOIN pg_opclass opc ON opc.oid = r.rngsubopc
      JOIN pg_namespace opn ON opn.oid = opc.opcnamespace
      JOIN pg_type mt ON mt.oid = r.rngmultitypid
      JOIN pg_namespace mn ON mn.oid = mt.typnamespace
     WHERE ${SCHEMA_FILTER}`,
  RangeRow,
  (rows, context) => {
    for (const row of rows) {
      if (context.isMember('pg_type', row.oid)) continue;
      const schema = row.nspname;
      const name = row.typname;
      const id = objectId('range_type', schema, name);
      for (const oid of [row.oid, row.typarray, row.multirange_oid, row.multirange_array]) if (oid !== '0') context.own('pg_type', oid, id);
      context.add({
        kind: 'range_type',
        id,
        schema,
        name,
        definition: { subtype: row.subtype, subtype_opclass: row.opclass, collation: row.collation, canonical: row.canonical, subtype_diff: row.subdiff, multirange_type: row.multirange },
        dependsOn: context.schemaDeps(schema),
      });
    }
  },
);

export const rangeTypeKind: KindModule<'range_type'> = {
  kind: 'range_type',
  read: rangeReader,
  createRank: 6,
  catalog: 'pg_type',
  owned: true,
  grantable: true,
  holdsData: true,
  neverCascaded: true,
  name: (object) => `TYPE ${qname(object.schema, object.name)}`,
  create: (object) => {
    const d = object.definition;
    const options = [`SUBTYPE = ${d.subtype}`];
    if (d.subtype_opclass) options.push(`SUBTYPE_OPCLASS = ${d.subtype_opclass}`);
    if (d.collation) options.push(`COLLATION = ${d.collation}`);
    if (d.canonical) options.push(`CANONICAL = ${d.canonical}`);
    if (d.subtype_diff) options.push(`SUBTYPE_DIFF = ${d.subtype_diff}`);
    options.push(`MULTIRANGE_TYPE_NAME = ${d.multirange_type}`);
    return [`CREATE TYPE ${qname(object.schema, object.name)} AS RANGE (${options.join(', ')})`];
  },
  drop: (object) => drops(`DROP TYPE ${qname(object.schema, object.name)}`, `drops ${describeObject(object)}`),
};
