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
