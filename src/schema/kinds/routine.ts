import { z } from 'zod';
import { quoteIdent, quoteLiteral } from '../../postgres/quote.js';
import { objectId } from '../model.js';
import { address, maybeText, reader, SCHEMA_FILTER, text } from './context.js';
import type { ObjectOf } from '../model.js';
import { drops, type DropStatement, qname } from './kind.js';

/** What functions, procedures and aggregates share: named by signature. */
type Routine = ObjectOf<'function'> | ObjectOf<'procedure'> | ObjectOf<'aggregate'>;

/** `"public"."last_day"`: the routine's qualified name without its arguments. */
export function routineName(object: Routine): string {
  const base = object.name.slice(0, object.name.length - object.identityArguments.length - 2);
  return qname(object.schema, base);
}

/** `FUNCTION "public"."f"(integer)`: how COMMENT ON names it (an aggregate without arguments takes `*`). */
export function routineTarget(object: Routine): string {
  return `${object.kind.toUpperCase()} ${routineName(object)}(${routineArguments(object)})`;
}

export function dropRoutine(object: Routine): DropStatement[] {
  return drops(`DROP ${object.kind.toUpperCase()} ${routineName(object)}(${routineArguments(object)})`);
}

function routineArguments(object: Routine): string {
  return object.identityArguments || (object.kind === 'aggregate' ? '*' : '');
}

const RoutineRow = z.object({
  oid: text,
  nspname: text,
  proname: text,
  prokind: text,
  identity_arguments: text,
  arguments: text,
  result: maybeText,
  definition: maybeText,
  sfunc: maybeText,
  stype: maybeText,
  finalfunc: maybeText,
  combinefunc: maybeText,
  sortop: maybeText,
  agginitval: maybeText,
});
type RoutineRow = z.infer<typeof RoutineRow>;

/** Functions, procedures and aggregates (pg_proc), in the catalog's order: the function module reads them all. */
export const routinesReader = reader(
  `
    SELECT p.oid::int8::text AS oid, n.nspname, p.proname, p.prokind,
           pg_get_function_identity_arguments(p.oid) AS identity_arguments,
           pg_get_function_arguments(p.oid) AS arguments,
           pg_get_function_result(p.oid) AS result,
           CASE WHEN p.prokind <> 'a' THEN pg_get_functiondef(p.oid) END AS definition,
           a.aggtransfn::regproc::text AS sfunc, format_type(a.aggtranstype, NULL) AS stype,
           CASE WHEN a.aggfinalfn <> 0 THEN a.aggfinalfn::regproc::text END AS finalfunc,
           CASE WHEN a.aggcombinefn <> 0 THEN a.aggcombinefn::regproc::text END AS combinefunc,
           CASE WHEN a.aggsortop <> 0 THEN a.aggsortop::regoperator::text END AS sortop,
           a.agginitval, a.aggkind
      FROM pg_proc p
      JOIN pg_namespace n ON n.oid = p.pronamespace
      LEFT JOIN pg_aggregate a ON a.aggfnoid = p.oid
     WHERE ${SCHEMA_FILTER}`,
  RoutineRow,
  (rows, context) => {
    for (const row of rows) {
      const schema = row.nspname;
      // Functions that belong to another object (a range type's constructors) are created with it.
      if (!context.trackedSchema(schema) || context.isMember('pg_proc', row.oid) || context.internal.has(address('pg_proc', row.oid))) continue;
      const identityArguments = row.identity_arguments;
      const name = `${row.proname}(${identityArguments})`;
      const common = { schema, name, identityArguments, dependsOn: context.schemaDeps(schema) };
      if (row.prokind === 'a') {
        const id = objectId('aggregate', schema, name);
        context.own('pg_proc', row.oid, id);
        context.add({ kind: 'aggregate', id, ...common, definition: { definition: aggregateDefinition(schema, row) } });
        continue;
      }
      const kind = row.prokind === 'p' ? 'procedure' : 'function';
      const id = objectId(kind, schema, name);
      context.own('pg_proc', row.oid, id);
      const definition = { arguments: row.arguments, result: row.result, definition: (row.definition ?? '').trim() };
      context.add(kind === 'procedure' ? { kind, id, ...common, definition } : { kind, id, ...common, definition });
    }
  },
);

/** A CREATE AGGREGATE statement for an ordinary aggregate (the common options). */
function aggregateDefinition(schema: string, row: RoutineRow): string {
  const options = [`SFUNC = ${row.sfunc}`, `STYPE = ${row.stype}`];
  if (row.finalfunc) options.push(`FINALFUNC = ${row.finalfunc}`);
  if (row.combinefunc) options.push(`COMBINEFUNC = ${row.combinefunc}`);
  if (row.agginitval !== null) options.push(`INITCOND = ${quoteLiteral(row.agginitval)}`);
  if (row.sortop) options.push(`SORTOP = ${operatorName(row.sortop)}`);
  return `CREATE AGGREGATE ${quoteIdent(schema)}.${quoteIdent(row.proname)}(${row.identity_arguments || '*'}) (${options.join(', ')})`;
}

/** `pg_catalog.<(integer,integer)` → `OPERATOR(pg_catalog.<)`. */
export function operatorName(regoperator: string): string {
  return `OPERATOR(${regoperator.replace(/\(.*\)$/, '')})`;
}
