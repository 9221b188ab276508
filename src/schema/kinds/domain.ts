import { quoteIdent } from '../../postgres/quote.js';
import { domainNeedsRecreate } from '../diff.js';
import { reparseable as rx } from '../expressions.js';
import { describeObject, type ObjectOf } from '../model.js';
import { drops, type KindModule, plain, qname } from './kind.js';

export const domainKind: KindModule<'domain'> = {
  kind: 'domain',
  createRank: 4,
  catalog: 'pg_type',
  owned: true,
  grantable: true,
  holdsData: true,
  neverCascaded: true,
  name: (object) => `DOMAIN ${qname(object.schema, object.name)}`,
  create: (object) => {
    const d = object.definition;
    let sql = `CREATE DOMAIN ${qname(object.schema, object.name)} AS ${d.type}`;
    if (d.collation) sql += ` COLLATE ${d.collation}`;
    if (d.default !== null) sql += ` DEFAULT ${rx(d.default)}`;
    if (d.not_null) sql += ' NOT NULL';
    for (const c of d.constraints) sql += ` CONSTRAINT ${quoteIdent(c.name)} ${rx(c.definition)}`;
    return [sql];
  },
  changeMode: (from, to) => (domainNeedsRecreate(from.definition, to.definition) ? 'recreate_type' : 'alter'),
  alter: (from, to) => alterDomain(from, to).map(plain),
  drop: (object) => drops(`DROP DOMAIN ${qname(object.schema, object.name)}`, `drops ${describeObject(object)}`),
};

function alterDomain(from: ObjectOf<'domain'>, to: ObjectOf<'domain'>): string[] {
  const x = from.definition;
  const y = to.definition;
  const name = qname(to.schema, to.name);
  const out: string[] = [];
  for (const c of x.constraints) {
    if (!y.constraints.some((other) => other.name === c.name && other.definition === c.definition)) out.push(`ALTER DOMAIN ${name} DROP CONSTRAINT ${quoteIdent(c.name)}`);
  }
  if (x.default !== y.default) out.push(y.default === null ? `ALTER DOMAIN ${name} DROP DEFAULT` : `ALTER DOMAIN ${name} SET DEFAULT ${rx(y.default)}`);
  if (x.not_null !== y.not_null) out.push(`ALTER DOMAIN ${name} ${y.not_null ? 'SET' : 'DROP'} NOT NULL`);
  for (const c of y.constraints) {
    if (!x.constraints.some((other) => other.name === c.name && other.definition === c.definition)) out.push(`ALTER DOMAIN ${name} ADD CONSTRAINT ${quoteIdent(c.name)} ${rx(c.definition)}`);
  }
  return out;
}
