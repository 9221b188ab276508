import { quoteLiteral } from '../../postgres/quote.js';
import { reparseable as rx } from '../expressions.js';
import type { ObjectOf } from '../model.js';
import { drops, type KindModule, plain, qname, relationOf } from './kind.js';
import { z } from 'zod'
import { objectId } from '../model.js'
import { maybeText, maybeTexts, reader, SCHEMA_FILTER, text } from './context.js';

const IndexRow = z.object({ oid: text, relid: text, relname: text, nspname: text, definition: text, parent_index: maybeText, index_statistics: maybeTexts });

/** Indexes of their own (not a constraint's), on tracked tables and materialized views. */
const indexesReader = reader(
  `
    SELECT i.indexrelid::int8::text AS oid, i.indrelid::int8::text AS relid, ic.relname, n.nspname,
           pg_get_indexdef(i.indexrelid) AS definition,
           (SELECT ih.inhparent::int8::text FROM pg_inherits ih WHERE ih.inhrelid = i.indexrelid) AS parent_index,
           (SELECT array_agg(a.attnum || ' ' || a.attstattarget ORDER BY a.attnum) FROM pg_attribute a
             WHERE a.attrelid = i.indexrelid AND a.attstattarget >= 0) AS index_statistics
      FROM pg_index i
      JOIN pg_class ic ON ic.oid = i.indexrelid
      JOIN pg_namespace n ON n.oid = ic.relnamespace
     WHERE ${SCHEMA_FILTER}
       AND NOT EXISTS (SELECT 1 FROM pg_constraint co WHERE co.conindid = i.indexrelid AND co.contype IN ('p', 'u', 'x'))`,
  IndexRow,
  (rows, context) => {
    const tracked = rows.filter((row) => context.onTable(row.relid) !== undefined && !context.isMember('pg_class', row.oid));
    const indexByOid = new Map(tracked.map((row) => [row.oid, { id: objectId('index', row.nspname, row.relname), qualified: qname(row.nspname, row.relname) }]));
    for (const row of tracked) {
      const table = context.onTable(row.relid);
      if (!table) continue;
      const { parent } = table;
      const schema = row.nspname;
      const id = objectId('index', schema, row.relname);
      context.own('pg_class', row.oid, id);
      // A partition's index attached to its parent's index: attached after both exist.
      const attached = row.parent_index ? indexByOid.get(row.parent_index) : undefined;
      const attachedTo = attached?.id;
      context.add({
        kind: 'index',
        id,
        schema,
        table: table.name,
        parent,
        name: row.relname,
        definition: {
          definition: row.definition,
          ...(attached ? { attached_to: attached.qualified } : {}),
          ...(row.index_statistics ? { statistics: row.index_statistics } : {}),
        },
        ...(attachedTo ? { attachedTo } : {}),
        dependsOn: [parent, ...context.schemaDeps(schema), ...(attachedTo ? [attachedTo] : [])],
      });
    }
  },
);

/** Indexes; the planner decides how one changes (its attachment matters), so there is no `changeMode`. */
export const indexKind: KindModule<'index'> = {
  kind: 'index',
  read: indexesReader,
  createRank: 18,
  catalog: 'pg_class',
  name: (object) => `INDEX ${qname(object.schema, object.name)}`,
  // For a partitioned table pg_get_indexdef says ON ONLY: each partition's index is created and
  // attached as an object of its own (as pg_dump does), under its own name.
  create: (object) => [rx(object.definition.definition), ...indexStatistics(object)],
  alter: (from, to, context) => {
    if (to.definition.attached_to && to.definition.attached_to !== from.definition.attached_to) {
      context.attachIndexes.push(plain(`ALTER INDEX ${to.definition.attached_to} ATTACH PARTITION ${qname(to.schema, to.name)}`));
    }
    return indexStatistics(to, from.definition.statistics).map(plain);
  },
  drop: (object) => drops(`DROP INDEX ${qname(object.schema, object.name)}`),
};

/** ALTER INDEX … ALTER COLUMN n SET STATISTICS for the targets `index` has that `before` has not (-1 for those it drops). */
function indexStatistics(index: ObjectOf<'index'>, before: readonly string[] = []): string[] {
  const after = index.definition.statistics ?? [];
  const column = (entry: string) => entry.slice(0, entry.indexOf(' '));
  const name = qname(index.schema, index.name);
  return [
    ...before.filter((entry) => !after.some((x) => column(x) === column(entry))).map((entry) => `ALTER INDEX ${name} ALTER COLUMN ${column(entry)} SET STATISTICS -1`),
    ...after.filter((entry) => !before.includes(entry)).map((entry) => `ALTER INDEX ${name} ALTER COLUMN ${column(entry)} SET STATISTICS ${entry.slice(entry.indexOf(' ') + 1)}`),
  ];
}

/**
 * A partition created under an existing partitioned index gets its own index from PostgreSQL,
 * under a name PostgreSQL chooses: this block finds it and gives it `index`'s name (and makes it,
 * attached, should PostgreSQL not have).
 */
export function renameAutoIndex(index: ObjectOf<'index'>, parent: string): string {
  const table = relationOf(index);
  const create = indexKind.create(index, { objects: new Map() }).join('; ');
  const attach = `ALTER INDEX ${parent} ATTACH PARTITION ${qname(index.schema, index.name)}`;
  return [
    'DO $ayb$',
    'DECLARE found name;',
    'BEGIN',
    '  SELECT c.relname INTO found FROM pg_catalog.pg_inherits i',
    '    JOIN pg_catalog.pg_index x ON x.indexrelid = i.inhrelid JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid',
    `   WHERE i.inhparent = ${quoteLiteral(parent)}::pg_catalog.regclass AND x.indrelid = ${quoteLiteral(table)}::pg_catalog.regclass;`,
    '  IF found IS NULL THEN',
    `    EXECUTE ${quoteLiteral(create)};`,
    `    EXECUTE ${quoteLiteral(attach)};`,
    `  ELSIF found <> ${quoteLiteral(index.name)} THEN`,
    `    EXECUTE pg_catalog.format('ALTER INDEX %I.%I RENAME TO %I', ${quoteLiteral(index.schema)}, found, ${quoteLiteral(index.name)});`,
    '  END IF;',
    'END',
    '$ayb$',
  ].join('\n');
}
