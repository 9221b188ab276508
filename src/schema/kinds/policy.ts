import { quoteIdent } from '../../postgres/quote.js';
import { reparseable as rx } from '../expressions.js';
import { drops, type KindModule, relationOf } from './kind.js';
import { z } from 'zod'
import { objectId, type PolicyDefinition } from '../model.js'
import { maybeText, maybeTexts, reader, text } from './context.js';

const COMMANDS: Record<string, PolicyDefinition['command']> = { '*': 'all', r: 'select', a: 'insert', w: 'update', d: 'delete' };

const policiesReader = reader(
  `
    SELECT p.oid::int8::text AS oid, p.polrelid::int8::text AS relid, p.polname, p.polcmd, p.polpermissive,
           CASE WHEN p.polroles = '{0}' THEN ARRAY['public']
                ELSE (SELECT array_agg(r.rolname::text ORDER BY r.rolname) FROM pg_roles r WHERE r.oid = ANY (p.polroles)) END AS roles,
           pg_get_expr(p.polqual, p.polrelid) AS using_expr, pg_get_expr(p.polwithcheck, p.polrelid) AS check_expr
      FROM pg_policy p`,
  z.object({ oid: text, relid: text, polname: text, polcmd: text, polpermissive: z.boolean(), roles: maybeTexts, using_expr: maybeText, check_expr: maybeText }),
  (rows, context) => {
    for (const row of rows) {
      const table = context.onTable(row.relid);
      if (!table) continue;
      const { parent } = table;
      const id = objectId('policy', table.schema, table.name, row.polname);
      context.own('pg_policy', row.oid, id);
      context.add({
        kind: 'policy',
        id,
        schema: table.schema,
        table: table.name,
        parent,
        name: row.polname,
        definition: { command: COMMANDS[row.polcmd] ?? 'all', permissive: row.polpermissive, roles: row.roles ?? [], using: row.using_expr, with_check: row.check_expr },
        dependsOn: [parent],
      });
    }
  },
);

export const policyKind: KindModule<'policy'> = {
  kind: 'policy',
  read: policiesReader,
  createRank: 24,
  catalog: 'pg_policy',
  name: (object) => `POLICY ${quoteIdent(object.name)} ON ${relationOf(object)}`,
  create: (object) => {
    const p = object.definition;
    const roles = p.roles.map((role) => (role === 'public' ? 'PUBLIC' : quoteIdent(role))).join(', ');
    let sql = `CREATE POLICY ${quoteIdent(object.name)} ON ${relationOf(object)} AS ${p.permissive ? 'PERMISSIVE' : 'RESTRICTIVE'} FOR ${p.command.toUpperCase()} TO ${roles}`;
    if (p.using !== null) sql += ` USING (${rx(p.using)})`;
    if (p.with_check !== null) sql += ` WITH CHECK (${rx(p.with_check)})`;
    return [sql];
  },
  drop: (object) => drops(`DROP POLICY ${quoteIdent(object.name)} ON ${relationOf(object)}`),
};
