import { quoteIdent, quoteLiteral } from '../../postgres/quote.js';
import { fdwOptions, optionChanges } from './clauses.js';
import { drops, type KindModule, plain } from './kind.js';

export const foreignServerKind: KindModule<'foreign_server'> = {
  kind: 'foreign_server',
  createRank: 13,
  catalog: 'pg_foreign_server',
  owned: true,
  neverCascaded: true,
  name: (object) => `SERVER ${quoteIdent(object.name)}`,
  create: (object) => {
    const d = object.definition;
    const type = d.type !== null ? ` TYPE ${quoteLiteral(d.type)}` : '';
    const version = d.version !== null ? ` VERSION ${quoteLiteral(d.version)}` : '';
    return [`CREATE SERVER ${quoteIdent(object.name)}${type}${version} FOREIGN DATA WRAPPER ${quoteIdent(d.wrapper)}${fdwOptions(d.options)}`];
  },
  changeMode: (from, to) => (from.definition.type === to.definition.type && from.definition.wrapper === to.definition.wrapper ? 'alter' : 'rebuild'),
  alter: (from, to) => {
    const x = from.definition;
    const version = x.version !== to.definition.version ? ` VERSION ${to.definition.version === null ? 'NULL' : quoteLiteral(to.definition.version)}` : '';
    const options = optionChanges(x.options, to.definition.options);
    return version || options ? [plain(`ALTER SERVER ${quoteIdent(to.name)}${version}${options}`)] : [];
  },
  drop: (object) => drops(`DROP SERVER ${quoteIdent(object.name)}`),
};
