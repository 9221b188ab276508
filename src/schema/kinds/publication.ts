import { quoteIdent } from '../../postgres/quote.js';
import { drops, type KindModule } from './kind.js';
import { z } from 'zod'
import { quoteLiteral } from '../../postgres/quote.js'
import { objectId } from '../model.js'
import { reader, text, texts } from './context.js';

const PublicationRow = z.object({
  oid: text,
  pubname: text,
  puballtables: z.boolean(),
  pubinsert: z.boolean(),
  pubupdate: z.boolean(),
  pubdelete: z.boolean(),
  pubtruncate: z.boolean(),
  pubviaroot: z.boolean(),
  relids: texts,
  tables: texts,
  schemas: texts,
});

/** Publications (PostgreSQL 15 and later: row filters, column lists, whole schemas). */
const publicationsReader = reader(
  `
  SELECT p.oid::int8::text AS oid, p.pubname, p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete, p.pubtruncate, p.pubviaroot,
         (SELECT coalesce(array_agg(pr.prrelid::int8::text), '{}') FROM pg_publication_rel pr WHERE pr.prpubid = p.oid) AS relids,
         (SELECT coalesce(array_agg(quote_ident(n.nspname) || '.' || quote_ident(c.relname)
                   || CASE WHEN pr.prattrs IS NOT NULL THEN ' (' || (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
                        FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum = ANY (pr.prattrs)) || ')' ELSE '' END
                   || CASE WHEN pr.prqual IS NOT NULL THEN ' WHERE (' || pg_get_expr(pr.prqual, c.oid) || ')' ELSE '' END
                   ORDER BY n.nspname, c.relname), '{}')
            FROM pg_publication_rel pr JOIN pg_class c ON c.oid = pr.prrelid JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE pr.prpubid = p.oid) AS tables,
         (SELECT coalesce(array_agg(n.nspname::text ORDER BY n.nspname), '{}')
            FROM pg_publication_namespace pn JOIN pg_namespace n ON n.oid = pn.pnnspid WHERE pn.pnpubid = p.oid) AS schemas
    FROM pg_publication p`,
  PublicationRow,
  (rows, context) => {
    for (const row of rows) {
      const name = row.pubname;
      const id = objectId('publication', name);
      context.own('pg_publication', row.oid, id);
      const targets = [
        ...(row.puballtables ? ['ALL TABLES'] : []),
        ...(row.tables.length > 0 ? [`TABLE ${row.tables.join(', ')}`] : []),
        ...(row.schemas.length > 0 ? [`TABLES IN SCHEMA ${row.schemas.map(quoteIdent).join(', ')}`] : []),
      ];
      const flags = { insert: row.pubinsert, update: row.pubupdate, delete: row.pubdelete, truncate: row.pubtruncate };
      const publish = (['insert', 'update', 'delete', 'truncate'] as const).filter((action) => flags[action]);
      const definition = `CREATE PUBLICATION ${quoteIdent(name)}${targets.length > 0 ? ` FOR ${targets.join(', ')}` : ''} WITH (publish = ${quoteLiteral(publish.join(', '))}, publish_via_partition_root = ${row.pubviaroot})`;
      const dependsOn = [
        ...row.relids.flatMap((oid) => context.relationIdByOid.get(oid) ?? []),
        ...row.schemas.map((schema) => objectId('schema', schema)).filter((x) => context.objects.has(x)),
      ];
      context.add({ kind: 'publication', id, schema: '', name, definition: { definition }, dependsOn });
    }
  },
  150000,
);

export const publicationKind: KindModule<'publication'> = {
  kind: 'publication',
  read: publicationsReader,
  createRank: 26,
  catalog: 'pg_publication',
  owned: true,
  name: (object) => `PUBLICATION ${quoteIdent(object.name)}`,
  create: (object) => [object.definition.definition],
  drop: (object) => drops(`DROP PUBLICATION ${quoteIdent(object.name)}`),
};
