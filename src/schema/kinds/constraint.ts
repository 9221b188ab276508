import { quoteIdent } from '../../postgres/quote.js';
import { reparseable as rx } from '../expressions.js';
import { drops, type KindModule, relationOf } from './kind.js';
import { z } from 'zod'
import { type ConstraintType, objectId } from '../model.js'
import { maybeTexts, reader, SCHEMA_FILTER, text } from './context.js';

const ConstraintRow = z.object({ oid: text, relid: text, conname: text, contype: text, definition: text, conindid: text, index_options: maybeTexts });

const CONSTRAINT_TYPES: Record<string, ConstraintType> = { p: 'primary_key', u: 'unique', c: 'check', f: 'foreign_key', x: 'exclusion' };

/** Table constraints, but the copies partitions get of their parent's (see snapshot.ts: they stand for it). */
const constraintsReader = reader(
  `
    SELECT co.oid::int8::text AS oid, co.conrelid::int8::text AS relid, co.conname, co.contype,
           pg_get_constraintdef(co.oid) AS definition, co.conindid::int8::text AS conindid,
           CASE WHEN co.contype IN ('p', 'u', 'x') THEN (SELECT ic.reloptions FROM pg_class ic WHERE ic.oid = co.conindid) END AS index_options
      FROM pg_constraint co
      JOIN pg_class c ON c.oid = co.conrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE co.contype IN ('p', 'u', 'c', 'f', 'x') AND co.conparentid = 0 AND (co.coninhcount = 0 OR co.conislocal) AND ${SCHEMA_FILTER}`,
  ConstraintRow,
  (rows, context) => {
    for (const row of rows) {
      const table = context.onTable(row.relid);
      if (!table) continue;
      const { parent } = table;
      const id = objectId('constraint', table.schema, table.name, row.conname);
      context.own('pg_constraint', row.oid, id);
      if (row.contype !== 'f' && row.conindid !== '0') context.own('pg_class', row.conindid, id);
      context.add({
        kind: 'constraint',
        id,
        schema: table.schema,
        table: table.name,
        parent,
        name: row.conname,
        definition: { constraint_type: CONSTRAINT_TYPES[row.contype] ?? 'check', definition: withIndexOptions(row.definition, row.index_options) },
        dependsOn: [parent],
      });
    }
  },
);

/**
 * pg_get_constraintdef leaves out the storage parameters of a constraint's index; they go where
 * ADD CONSTRAINT takes them: before WHERE (exclusion) or DEFERRABLE, else at the end.
 */
function withIndexOptions(definition: string, options: readonly string[] | null): string {
  if (!options || options.length === 0) return definition;
  const clause = ` WITH (${options.join(', ')})`;
  const at = [/ WHERE \(/.exec(definition)?.index, / DEFERRABLE\b/.exec(definition)?.index].filter((i): i is number => i !== undefined);
  const index = at.length > 0 ? Math.min(...at) : definition.length;
  return definition.slice(0, index) + clause + definition.slice(index);
}

export const constraintKind: KindModule<'constraint'> = {
  kind: 'constraint',
  read: constraintsReader,
  createRank: 17,
  catalog: 'pg_constraint',
  name: (object) => `CONSTRAINT ${quoteIdent(object.name)} ON ${relationOf(object)}`,
  create: (object) => [`ALTER TABLE ${relationOf(object)} ADD CONSTRAINT ${quoteIdent(object.name)} ${rx(object.definition.definition)}`],
  drop: (object) => drops(`ALTER TABLE ${relationOf(object)} DROP CONSTRAINT ${quoteIdent(object.name)}`),
};
