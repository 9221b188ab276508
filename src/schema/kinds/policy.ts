import { quoteIdent } from '../../postgres/quote.js';
import { reparseable as rx } from '../expressions.js';
import { drops, type KindModule, relationOf } from './kind.js';

export const policyKind: KindModule<'policy'> = {
  kind: 'policy',
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
