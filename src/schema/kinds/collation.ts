import { quoteLiteral } from '../../postgres/quote.js';
import type { ObjectOf } from '../model.js';
import { drops, type KindModule, qname } from './kind.js';
import { z } from 'zod'
import { objectId } from '../model.js'
import { maybeText, reader, SCHEMA_FILTER, text } from './context.js';

const CollationRow = z.object({
  oid: text,
  nspname: text,
  collname: text,
  /** pg_collation's row as JSON, whatever the server version calls its columns. */
  raw: z.object({
    collprovider: text,
    colllocale: maybeText.optional(),
    colliculocale: maybeText.optional(),
    collcollate: maybeText.optional(),
    collctype: maybeText.optional(),
    collisdeterministic: z.boolean().optional(),
    collicurules: maybeText.optional(),
  }),
});

const PROVIDERS: Record<string, 'libc' | 'icu' | 'builtin'> = { c: 'libc', i: 'icu', b: 'builtin', d: 'libc' };

function collationDefinition(raw: z.infer<typeof CollationRow>['raw']): ObjectOf<'collation'>['definition'] {
  const provider = PROVIDERS[raw.collprovider] ?? 'libc';
  return {
    provider,
    locale: provider === 'libc' ? null : (raw.colllocale ?? raw.colliculocale ?? null),
    lc_collate: provider === 'libc' ? (raw.collcollate ?? null) : null,
    lc_ctype: provider === 'libc' ? (raw.collctype ?? null) : null,
    deterministic: raw.collisdeterministic !== false,
    rules: raw.collicurules ?? null,
  };
}

const collationReader = reader(
  `
    SELECT co.oid::int8::text AS oid, n.nspname, co.collname, to_jsonb(co) AS raw
      FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace
     WHERE ${SCHEMA_FILTER}`,
  CollationRow,
  (rows, context) => {
    for (const row of rows) {
      if (context.isMember('pg_collation', row.oid)) continue;
      const id = objectId('collation', row.nspname, row.collname);
      context.own('pg_collation', row.oid, id);
      context.add({ kind: 'collation', id, schema: row.nspname, name: row.collname, definition: collationDefinition(row.raw), dependsOn: context.schemaDeps(row.nspname) });
    }
  },
);

export const collationKind: KindModule<'collation'> = {
  kind: 'collation',
  read: collationReader,
  createRank: 2,
  catalog: 'pg_collation',
  owned: true,
  neverCascaded: true,
  name: (object) => `COLLATION ${qname(object.schema, object.name)}`,
  create: (object) => [createCollation(object)],
  drop: (object) => drops(`DROP COLLATION ${qname(object.schema, object.name)}`),
};

function createCollation(object: ObjectOf<'collation'>): string {
  const d = object.definition;
  const options = [`provider = ${d.provider}`];
  if (d.locale !== null) options.push(`locale = ${quoteLiteral(d.locale)}`);
  if (d.lc_collate !== null) options.push(`lc_collate = ${quoteLiteral(d.lc_collate)}`);
  if (d.lc_ctype !== null) options.push(`lc_ctype = ${quoteLiteral(d.lc_ctype)}`);
  if (!d.deterministic) options.push('deterministic = false');
  if (d.rules !== null) options.push(`rules = ${quoteLiteral(d.rules)}`);
  return `CREATE COLLATION ${qname(object.schema, object.name)} (${options.join(', ')})`;
}
