import { quoteIdent } from '../../postgres/quote.js';
import type { ObjectOf } from '../model.js';
import { drops, type KindModule, plain } from './kind.js';

/** The privileges granted on an object or a column (with `--privileges`). */
export const privilegesKind: KindModule<'privileges'> = {
  kind: 'privileges',
  createRank: 29,
  name: () => undefined,
  create: (object) => grantStatements(object, undefined),
  changeMode: () => 'alter',
  alter: (from, to) => grantStatements(to, from.definition.acl).map(plain),
  drop: (object) => {
    // The object stays but grants nothing any more (a column's grants revoked).
    const column = object.column !== undefined ? ` (${quoteIdent(object.column)})` : '';
    const grantees = [...new Set(object.definition.acl.map((item) => item.slice(0, item.lastIndexOf('='))))].map((who) => (who === '' ? 'PUBLIC' : quoteIdent(who)));
    return grantees.length > 0 ? drops(`REVOKE ALL${column} ON ${object.target} FROM ${grantees.join(', ')}`) : [];
  },
};

const PRIVILEGE_NAMES: Record<string, string> = {
  r: 'SELECT', a: 'INSERT', w: 'UPDATE', d: 'DELETE', D: 'TRUNCATE', x: 'REFERENCES', t: 'TRIGGER',
  X: 'EXECUTE', U: 'USAGE', C: 'CREATE', c: 'CONNECT', T: 'TEMPORARY', m: 'MAINTAIN', s: 'SET', A: 'ALTER SYSTEM',
};

/**
 * REVOKE what `before` grants (every grantee of it, all privileges), then GRANT what `object`'s ACL
 * says, grantee by grantee; privileges with grant option separately. A new object (no `before`)
 * starts from PostgreSQL's defaults, which its ACL spells out: revoked from the owner and PUBLIC first.
 */
function grantStatements(object: ObjectOf<'privileges'>, before: readonly string[] | undefined): string[] {
  const grantee = (name: string) => (name === '' ? 'PUBLIC' : quoteIdent(name.replace(/^"(.*)"$/, '$1').replace(/""/g, '"')));
  const split = (item: string) => {
    const at = item.lastIndexOf('=');
    return { who: item.slice(0, at), privileges: item.slice(at + 1) };
  };
  const column = object.column !== undefined ? ` (${quoteIdent(object.column)})` : '';
  const out: string[] = [];
  const previous = before ?? [];
  const owner = object.column === undefined ? ['PUBLIC', ...(object.ownerRole !== undefined ? [quoteIdent(object.ownerRole)] : [])] : [];
  const revokeFrom = [...new Set([...owner, ...previous.map((item) => grantee(split(item).who))])];
  if (revokeFrom.length > 0) out.push(`REVOKE ALL${column} ON ${object.target} FROM ${revokeFrom.join(', ')}`);
  for (const item of object.definition.acl) {
    const { who, privileges } = split(item);
    const plainNames: string[] = [];
    const withOption: string[] = [];
    for (let i = 0; i < privileges.length; i++) {
      const name = PRIVILEGE_NAMES[privileges[i]!];
      if (!name) continue;
      if (privileges[i + 1] === '*') {
        withOption.push(name);
        i++;
      } else plainNames.push(name);
    }
    const list = (names: string[]) => names.map((name) => `${name}${column}`).join(', ');
    if (plainNames.length > 0) out.push(`GRANT ${list(plainNames)} ON ${object.target} TO ${grantee(who)}`);
    if (withOption.length > 0) out.push(`GRANT ${list(withOption)} ON ${object.target} TO ${grantee(who)} WITH GRANT OPTION`);
  }
  return out;
}
