import { drops, type KindModule } from './kind.js';
import { z } from 'zod'
import { quoteIdent } from '../../postgres/quote.js'
import { objectId } from '../model.js'
import { maybeText, reader, SCHEMA_FILTER, text } from './context.js'
import { operatorName } from './routine.js';

const OperatorRow = z.object({
  oid: text,
  nspname: text,
  oprname: text,
  lefttype: maybeText,
  righttype: maybeText,
  func: text,
  commutator: maybeText,
  negator: maybeText,
  restrict: maybeText,
  joinsel: maybeText,
  oprcanhash: z.boolean(),
  oprcanmerge: z.boolean(),
});

const operatorsReader = reader(
  `
    SELECT o.oid::int8::text AS oid, n.nspname, o.oprname,
           CASE WHEN o.oprleft <> 0 THEN format_type(o.oprleft, NULL) END AS lefttype,
           CASE WHEN o.oprright <> 0 THEN format_type(o.oprright, NULL) END AS righttype,
           o.oprcode::regproc::text AS func,
           CASE WHEN o.oprcom <> 0 THEN o.oprcom::regoperator::text END AS commutator,
           CASE WHEN o.oprnegate <> 0 THEN o.oprnegate::regoperator::text END AS negator,
           CASE WHEN o.oprrest <> 0 THEN o.oprrest::regproc::text END AS restrict,
           CASE WHEN o.oprjoin <> 0 THEN o.oprjoin::regproc::text END AS joinsel,
           o.oprcanhash, o.oprcanmerge
      FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
     WHERE ${SCHEMA_FILTER}`,
  OperatorRow,
  (rows, context) => {
    for (const row of rows) {
      const schema = row.nspname;
      if (!context.trackedSchema(schema) || context.isMember('pg_operator', row.oid)) continue;
      const args = `${row.lefttype ?? 'NONE'}, ${row.righttype ?? 'NONE'}`;
      const name = `${row.oprname}(${args})`;
      const id = objectId('operator', schema, name);
      context.own('pg_operator', row.oid, id);
      const options = [`FUNCTION = ${row.func}`];
      if (row.lefttype) options.push(`LEFTARG = ${row.lefttype}`);
      if (row.righttype) options.push(`RIGHTARG = ${row.righttype}`);
      if (row.commutator) options.push(`COMMUTATOR = ${operatorName(row.commutator)}`);
      if (row.negator) options.push(`NEGATOR = ${operatorName(row.negator)}`);
      if (row.restrict) options.push(`RESTRICT = ${row.restrict}`);
      if (row.joinsel) options.push(`JOIN = ${row.joinsel}`);
      if (row.oprcanhash) options.push('HASHES');
      if (row.oprcanmerge) options.push('MERGES');
      const qualified = `${quoteIdent(schema)}.${row.oprname}`;
      context.add({
        kind: 'operator',
        id,
        schema,
        name,
        signature: `${qualified} (${args})`,
        definition: { definition: `CREATE OPERATOR ${qualified} (${options.join(', ')})` },
        dependsOn: context.schemaDeps(schema),
      });
    }
  },
);

export const operatorKind: KindModule<'operator'> = {
  kind: 'operator',
  read: operatorsReader,
  createRank: 11,
  catalog: 'pg_operator',
  owned: true,
  name: (object) => `OPERATOR ${object.signature}`,
  create: (object) => [object.definition.definition],
  drop: (object) => drops(`DROP OPERATOR ${object.signature}`),
};
